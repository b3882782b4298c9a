//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

// TestHTTPCron follows a DataImportCron with an http source served by a pod (test/e2e/httpserver): the first
// import, named after the ETag and verified against SHA256SUMS; a forced poll of the unchanged file that imports
// nothing; the file replaced on the server, imported on the next poll, the DataSource moved and the old import
// collected (importsToKeep 1).
func TestHTTPCron(t *testing.T) {
	c := connect(t)
	ns := c.namespace(t, "e2e-httpcron")
	base := startHTTPServerPod(t, c, ns)
	url := base + "/disk.qcow2"
	const source = "httpdisk"

	raw1 := rawDisk(t, 41)
	etag1 := putFile(t, url, qcow2Of(t, raw1))
	cr := newCron(ns, source, "docker://unused", corev1.PersistentVolumeFilesystem, c.StorageClass)
	cr.Spec.ImportsToKeep = ptr.To[int32](1)
	cr.Spec.Template.Spec.Source = &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: url}}
	cr.Annotations = map[string]string{cdiconst.AnnChecksumURL: base + "/SHA256SUMS"}
	if err := c.Client.Create(context.Background(), cr); err != nil {
		t.Fatalf("create DataImportCron: %v", err)
	}
	dv1 := expectHTTPImport(t, c, ns, source, url, etag1, raw1)

	triggerPoll(t, c, cr)
	waitFor(t, "the forced poll of the unchanged file to be handled", importTimeout, func() (bool, string, error) {
		got := &cdiv1.DataImportCron{}
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(cr), got); err != nil {
			return false, "", err
		}
		a := got.Annotations
		return a[cdiconst.AnnHandledRequest] == a[cdiconst.AnnReconcileRequest]+"|"+a[cdiconst.AnnLastCronTime], fmt.Sprintf("annotations %v", a), nil
	})
	var dvs cdiv1.DataVolumeList
	if err := c.Client.List(context.Background(), &dvs, client.InNamespace(ns)); err != nil || len(dvs.Items) != 1 {
		t.Errorf("%d DataVolumes after polling an unchanged file (err %v), want 1", len(dvs.Items), err)
	}

	raw2 := rawDisk(t, 42)
	etag2 := putFile(t, url, qcow2Of(t, raw2))
	triggerPoll(t, c, cr)
	expectHTTPImport(t, c, ns, source, url, etag2, raw2)
	expectGone(t, c, ns, dv1)
}

// expectHTTPImport waits for the import of the version with etag, checks its checksum annotation and bytes, and
// that the DataSource points at it; it returns the DataVolume name.
func expectHTTPImport(t *testing.T, c *cluster, ns, source, url, etag, raw string) string {
	t.Helper()
	name := cron.ImportName(source, cron.HTTPVersion(url, cron.Validator{ETag: etag}))
	dv := &cdiv1.DataVolume{}
	waitFor(t, "DataVolume "+name+" to succeed", importTimeout, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			return false, "not created yet; " + cronState(c, ns, source), client.IgnoreNotFound(err)
		}
		if dv.Status.Phase == cdiv1.Failed {
			return false, "", fmt.Errorf("DataVolume %s failed: %s", name, dvConditions(dv))
		}
		return dv.Status.Phase == cdiv1.Succeeded, fmt.Sprintf("phase %q %s", dv.Status.Phase, dvConditions(dv)), nil
	})
	if dv.Annotations[cdiconst.AnnChecksum] == "" {
		t.Errorf("DataVolume %s has no %s from SHA256SUMS", name, cdiconst.AnnChecksum)
	}
	verifyTarget(t, volumeTarget(t, c, ns, name), raw)
	expectDataSource(t, c, ns, source, name)
	expectCronStatus(t, c, ns, source, name)
	return name
}

// putFile uploads the file at path to url on the test server and returns the ETag the server gives it.
func putFile(t *testing.T, url, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("upload to %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload to %s: %s", url, resp.Status)
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

// startHTTPServerPod builds test/e2e/httpserver into an image, loads it into the node, runs it in a restricted pod
// and returns its base URL (the pod IP, which the host on the pod bridge reaches too).
func startHTTPServerPod(t *testing.T, c *cluster, ns string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "httpserver")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./httpserver")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the http server: %v: %s", err, out)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return fileLayer(bin, "usr/bin/httpserver", 0o755) })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtimeArch()
	cfg.Config.Entrypoint, cfg.Config.User = []string{"/usr/bin/httpserver"}, "65532"
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	ref := "goldimage.local/e2e-httpserver:" + randomTag()
	loadIntoNode(t, img, ref)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "httpserver", Namespace: ns},
		Spec: corev1.PodSpec{
			SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532),
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
			Containers: []corev1.Container{{Name: "httpserver", Image: ref, ImagePullPolicy: corev1.PullIfNotPresent,
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}}},
		}}
	if err := c.Client.Create(context.Background(), pod); err != nil {
		t.Fatalf("create http server pod: %v", err)
	}
	var base string
	waitFor(t, "http server pod serving", 2*time.Minute, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, "", err
		}
		if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
			return false, fmt.Sprintf("phase %s %+v", pod.Status.Phase, pod.Status.ContainerStatuses), nil
		}
		base = "http://" + net.JoinHostPort(pod.Status.PodIP, "8080")
		resp, err := http.Get(base + "/SHA256SUMS")
		if err != nil {
			return false, err.Error(), nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status, nil
	})
	return base
}

func runtimeArch() string { return runtime.GOARCH }

// fileLayer is a layer tar holding the file at path as dest (relative) with mode, its directories made.
func fileLayer(path, dest string, mode int64) (io.ReadCloser, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := ""
	for _, part := range strings.Split(filepath.Dir(dest), "/") {
		dir += part + "/"
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: mode, Size: int64(len(b))}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&buf), nil
}
