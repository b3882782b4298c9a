package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
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
