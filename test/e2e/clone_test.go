//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestCloneAcrossNamespaces imports a golden disk in one namespace, publishes it with a DataSource, and clones
// it (host-assisted: the e2e storage class has no CSI driver) into another namespace as a VM's
// dataVolumeTemplate would, on a filesystem and on a block volume; each copy must hold the golden bytes.
func TestCloneAcrossNamespaces(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	ctx := context.Background()
	golden, vms := c.namespace(t, "e2e-golden"), c.namespace(t, "e2e-vms")
	createCAConfigMap(t, c, golden, reg)
	raw := rawDisk(t, 21)
	url := reg.URL("e2e/golden", "v1")
	reg.Push(t, "e2e/golden", "v1", containerDisk(t, qcow2Of(t, raw), "disk.qcow2"))
	src := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: golden}, Spec: cdiv1.DataVolumeSpec{
		Source:  &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url, CertConfigMap: ptr.To(caConfigMap)}},
		Storage: cloneStorage(c, corev1.PersistentVolumeFilesystem)}}
	ds := &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: golden},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: golden, Name: "golden"}}}}
	allowCloneFrom(t, c, golden, vms)
	for _, obj := range []client.Object{src, ds} {
		if err := c.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	for _, mode := range []corev1.PersistentVolumeMode{corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock} {
		t.Run(string(mode), func(t *testing.T) {
			name := "vm-" + map[corev1.PersistentVolumeMode]string{corev1.PersistentVolumeFilesystem: "fs", corev1.PersistentVolumeBlock: "block"}[mode]
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: vms}, Spec: cdiv1.DataVolumeSpec{
				SourceRef: &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: ptr.To(golden), Name: "golden"},
				Storage:   cloneStorage(c, mode)}}
			if err := c.Client.Create(ctx, dv); err != nil {
				t.Fatalf("create DataVolume: %v", err)
			}
			waitSucceeded(t, c, vms, name)
			verifyTarget(t, volumeTarget(t, c, vms, name), raw)
			expectNoCloneLeftovers(t, c, golden, dv)
		})
	}
}

func cloneStorage(c *cluster, mode corev1.PersistentVolumeMode) *cdiv1.StorageSpec {
	return diskStorage(c.StorageClass, mode)
}

// waitSucceeded waits for DataVolume ns/name to succeed, failing fast when it fails.
func waitSucceeded(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	dv := &cdiv1.DataVolume{}
	waitFor(t, "DataVolume "+name+" to succeed", importTimeout, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			return false, "", err
		}
		if dv.Status.Phase == cdiv1.Failed {
			return false, "", fmt.Errorf("DataVolume %s failed: %s", name, dvConditions(dv))
		}
		return dv.Status.Phase == cdiv1.Succeeded, fmt.Sprintf("phase %q %s", dv.Status.Phase, dvConditions(dv)), nil
	})
}

// expectNoCloneLeftovers checks that the source pod and Secret of dv's clone are gone from the golden namespace.
func expectNoCloneLeftovers(t *testing.T, c *cluster, golden string, dv *cdiv1.DataVolume) {
	t.Helper()
	if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(dv), dv); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{&corev1.Pod{}, &corev1.Secret{}} {
		waitFor(t, fmt.Sprintf("clone source %T of %s removed", obj, dv.Name), importTimeout, func() (bool, string, error) {
			err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: golden, Name: "clone-source-" + string(dv.UID)}, obj)
			return client.IgnoreNotFound(err) == nil && err != nil, fmt.Sprint(err), client.IgnoreNotFound(err)
		})
	}
}
