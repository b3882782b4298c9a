package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/goldimage/goldimage/internal/scheme"
)

// Env is a running test control plane.
type Env struct {
	Config *rest.Config    // admin access to the API server
	Scheme *runtime.Scheme // client-go kinds plus the CDI kinds
	env    *envtest.Environment
}

// Start runs etcd and kube-apiserver from KUBEBUILDER_ASSETS (default <repo>/.cache/bin) and installs config/crd.
func Start() (*Env, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, ".cache", "bin")
	}
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			return nil, fmt.Errorf("test control plane: %s missing in %s: run `make control-plane`", bin, assets)
		}
	}
	s, err := scheme.New()
	if err != nil {
		return nil, err
	}
	snapshotCRDs, err := snapshotCRDPaths(root)
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     append([]string{filepath.Join(root, "config", "crd", "bases")}, snapshotCRDs...),
		ErrorIfCRDPathMissing: true,
		Scheme:                s,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("start test control plane: %w", err)
	}
	return &Env{Config: cfg, Scheme: s, env: env}, nil
}

// Stop shuts the API server down before etcd.
func (e *Env) Stop() error {
	return e.env.Stop()
}

// RepoRoot finds the directory holding goldimage's go.mod, walking up from the working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isRootModule(b) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("goldimage go.mod not found above the working directory")
		}
		dir = parent
	}
}

func isRootModule(goMod []byte) bool {
	const want = "module github.com/goldimage/goldimage\n"
	return len(goMod) >= len(want) && string(goMod[:len(want)]) == want
}

// snapshotModule holds the CSI snapshot CRDs a cluster with a snapshot controller has (its config/crd).
const snapshotModule = "github.com/kubernetes-csi/external-snapshotter/client/v8"

// snapshotCRDPaths are the VolumeSnapshot, VolumeSnapshotClass and VolumeSnapshotContent CRDs of the module
// version goldimage's go.mod requires, from the module cache.
func snapshotCRDPaths(root string) ([]string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", snapshotModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("find the snapshot CRDs: go list -m %s: %w", snapshotModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd")
	var paths []string
	for _, kind := range []string{"volumesnapshots", "volumesnapshotclasses", "volumesnapshotcontents"} {
		paths = append(paths, filepath.Join(dir, "snapshot.storage.k8s.io_"+kind+".yaml"))
	}
	return paths, nil
}
