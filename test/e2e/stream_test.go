//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// TestStreamedQcow2ContainerDisk imports a compressed-cluster qcow2 containerDisk (qemu-img convert -c,
// the layout of quay.io/containerdisks) on a filesystem and on a block volume, and checks that the
// importer pods had no scratch at all: no emptyDir and no PVC but their target.
func TestStreamedQcow2ContainerDisk(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	for _, mode := range []corev1.PersistentVolumeMode{corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ns := c.namespace(t, "e2e-stream-"+strings.ToLower(string(mode)))
			createCAConfigMap(t, c, ns, reg)
			raw := rawDisk(t, 21)
			repo, source := "e2e/stream-"+strings.ToLower(string(mode)), "stream"
			d := reg.Push(t, repo, "v1", containerDisk(t, compressedQcow2Of(t, raw), "disk.qcow2"))
			pods := watchImporterPods(t, c, ns)
			if err := c.Client.Create(context.Background(), newCron(ns, source, reg.URL(repo, "v1"), mode, c.StorageClass)); err != nil {
				t.Fatalf("create DataImportCron: %v", err)
			}
			dv := expectImport(t, c, ns, source, d, raw)
			seen := pods.stop()
			if len(seen) == 0 {
				t.Fatal("no importer pod observed")
			}
			for name, vols := range seen {
				for _, v := range vols {
					if v.EmptyDir != nil || v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName != dv {
						t.Errorf("importer pod %s has scratch volume %s %+v", name, v.Name, v.VolumeSource)
					}
				}
			}
			var claims corev1.PersistentVolumeClaimList
			if err := c.Client.List(context.Background(), &claims, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			for _, pvc := range claims.Items {
				if pvc.Name != dv {
					t.Errorf("PVC %s besides the import's %s", pvc.Name, dv)
				}
			}
		})
	}
}

// compressedQcow2Of converts a raw disk to qcow2 with compressed clusters and returns the new path.
func compressedQcow2Of(t *testing.T, raw string) string {
	t.Helper()
	out := raw + ".c.qcow2"
	if b, err := exec.Command("qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", raw, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert -c: %v: %s", err, b)
	}
	return out
}

// podWatch records the volumes of every importer pod it sees in a namespace until stopped.
type podWatch struct {
	mu   sync.Mutex
	seen map[string][]corev1.Volume
	done chan struct{}
	wg   sync.WaitGroup
}

func watchImporterPods(t *testing.T, c *cluster, ns string) *podWatch {
	t.Helper()
	return watchPods(t, c, ns, cdiconst.ImporterPodPrefix)
}

// watchPods records the pods of namespace ns whose names start with prefix, until stop, as "name (uid)" with
// their volumes.
func watchPods(t *testing.T, c *cluster, ns, prefix string) *podWatch {
	t.Helper()
	w := &podWatch{seen: map[string][]corev1.Volume{}, done: make(chan struct{})}
	w.wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var pods corev1.PodList
			if err := c.Client.List(context.Background(), &pods, client.InNamespace(ns)); err == nil {
				w.mu.Lock()
				for _, p := range pods.Items {
					if strings.HasPrefix(p.Name, prefix) {
						w.seen[fmt.Sprintf("%s (%s)", p.Name, p.UID)] = p.Spec.Volumes
					}
				}
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-tick.C:
			}
		}
	})
	t.Cleanup(func() { w.stop() })
	return w
}

func (w *podWatch) stop() map[string][]corev1.Volume {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}
