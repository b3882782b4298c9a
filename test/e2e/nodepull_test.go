//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// TestNodePull imports containerDisks with pullMethod node: the node's container runtime provides the image
// (here from its image store, as a mirror or an earlier pull would), the namespace has no registry Secret or CA,
// and the bytes on the volume must be the disk's. The DataImportCron polls its digest from the test registry
// in-process and pins it; the node, which does not trust that registry's CA, serves the pinned image from its
// store.
func TestNodePull(t *testing.T) {
	c := connect(t)
	t.Run("DataVolume", func(t *testing.T) {
		ns := c.namespace(t, "e2e-nodepull")
		raw := rawDisk(t, 31)
		ref := "goldimage.local/e2e-nodepull:" + randomTag()
		loadIntoNode(t, containerDisk(t, qcow2Of(t, raw), "disk.qcow2"), ref)
		mode, class := corev1.PersistentVolumeFilesystem, c.StorageClass
		dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "node-disk", Namespace: ns},
			Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("docker://" + ref),
					PullMethod: ptr.To(cdiv1.RegistryPullNode)}},
				Storage: &cdiv1.StorageSpec{VolumeMode: &mode, StorageClassName: &class,
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceStorage: *resource.NewQuantity(diskSize*2, resource.BinarySI)}}},
			}}
		if err := c.Client.Create(context.Background(), dv); err != nil {
			t.Fatalf("create DataVolume: %v", err)
		}
		expectNodePod(t, c, ns, dv.Name, ref)
		waitSucceeded(t, c, ns, dv.Name)
		verifyTarget(t, volumeTarget(t, c, ns, dv.Name), raw)
	})
	t.Run("DataImportCron", func(t *testing.T) {
		ns := c.namespace(t, "e2e-nodecron")
		reg := startRegistry(t, c.Gateway)
		createCAConfigMap(t, c, ns, reg) // for the controller's digest poll only
		const repo, source = "e2e/nodepull", "nodepull"
		raw := rawDisk(t, 32)
		img := containerDisk(t, qcow2Of(t, raw), "disk.qcow2")
		d := reg.Push(t, repo, "v1", img)
		loadIntoNode(t, img, fmt.Sprintf("%s/%s:v1", reg.Host, repo))
		cron := newCron(ns, source, reg.URL(repo, "v1"), corev1.PersistentVolumeFilesystem, c.StorageClass)
		cron.Spec.Template.Spec.Source.Registry.PullMethod = ptr.To(cdiv1.RegistryPullNode)
		if err := c.Client.Create(context.Background(), cron); err != nil {
			t.Fatalf("create DataImportCron: %v", err)
		}
		expectNodePod(t, c, ns, dvName(source, d), fmt.Sprintf("%s/%s@%s", reg.Host, repo, d))
		expectImport(t, c, ns, source, d, raw)
	})
}

// expectNodePod waits for the importer pod of DataVolume dv and checks that it runs image (the containerDisk)
// with the importer from its init container, and no registry credentials.
func expectNodePod(t *testing.T, c *cluster, ns, dv, image string) {
	t.Helper()
	pod := &corev1.Pod{}
	waitFor(t, "importer pod of "+dv, importTimeout, func() (bool, string, error) {
		err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: cdiconst.ImporterPodPrefix + dv}, pod)
		if err != nil {
			return false, err.Error(), client.IgnoreNotFound(err)
		}
		return true, "", nil
	})
	ctr := pod.Spec.Containers[0]
	if ctr.Image != image || len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Image == image {
		t.Errorf("importer pod runs %q with init containers %+v, want the containerDisk %s and the importer image", ctr.Image, pod.Spec.InitContainers, image)
	}
	for _, e := range ctr.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			t.Errorf("node-pull importer reads Secret %s", e.ValueFrom.SecretKeyRef.Name)
		}
	}
}

func randomTag() string {
	b := make([]byte, 4)
	rand.Read(b)
	return "t" + hex.EncodeToString(b)
}
