package controller

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// describeSets renders claim property sets as "ReadWriteMany/Block ReadWriteOnce/Filesystem".
func describeSets(sets []cdiv1.ClaimPropertySet) string {
	out := ""
	for _, s := range sets {
		if out != "" {
			out += " "
		}
		out += fmt.Sprintf("%s/%s", s.AccessModes[0], ptr.Deref(s.VolumeMode, ""))
	}
	return out
}

// waitProfile waits for the StorageProfile of class to have a status with want as its claim property sets.
func waitProfile(t *testing.T, class, want string) *cdiv1.StorageProfile {
	t.Helper()
	p := &cdiv1.StorageProfile{}
	eventually(t, "StorageProfile "+class+" with "+want, func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Name: class}, p); err != nil {
			return false, err.Error()
		}
		got := describeSets(p.Status.ClaimPropertySets)
		return ptr.Deref(p.Status.StorageClass, "") == class && got == want, fmt.Sprintf("status %+v (%s)", p.Status, got)
	})
	return p
}

// TestStorageProfiles: every StorageClass gets a StorageProfile named after it and owned by it, with CDI's
// defaults for a known provisioner, the modes of its PVs for a no-provisioner class, the admin's
// claimPropertySets when set; DataVolumes whose spec.storage leaves the modes out get them from it.
func TestStorageProfiles(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "profiles")
	ceph, unknown, local := ns+"-ceph", ns+"-unknown", ns+"-local"
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ceph}, Provisioner: "rook-ceph.rbd.csi.ceph.com"})
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: unknown}, Provisioner: "example.com/unknown"})
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: local}, Provisioner: "kubernetes.io/no-provisioner"})

	p := waitProfile(t, ceph, "ReadWriteMany/Block ReadWriteOnce/Block ReadWriteOnce/Filesystem")
	if f := ptr.Deref(p.Status.DataImportCronSourceFormat, ""); f != cdiv1.DataImportCronSourceFormatSnapshot {
		t.Errorf("ceph profile source format %q, want snapshot", f)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "StorageClass" || p.OwnerReferences[0].Name != ceph {
		t.Errorf("ceph profile owners %+v, want its StorageClass", p.OwnerReferences)
	}
	waitProfile(t, unknown, "")
	waitProfile(t, local, "")

	block := corev1.PersistentVolumeBlock
	create(t, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: ns + "-pv"}, Spec: corev1.PersistentVolumeSpec{
		StorageClassName: local, VolumeMode: &block, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns}}}})
	waitProfile(t, local, "ReadWriteOnce/Block")

	// The admin's claimPropertySets win over the known defaults.
	p = waitProfile(t, unknown, "")
	p.Spec.ClaimPropertySets = []cdiv1.ClaimPropertySet{{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, VolumeMode: &block}}
	if err := k8s.Update(ctx, p); err != nil {
		t.Fatalf("set claimPropertySets: %v", err)
	}
	waitProfile(t, unknown, "ReadWriteMany/Block")

	for _, tt := range []struct{ class, access, mode string }{
		{ceph, "ReadWriteMany", "Block"}, {unknown, "ReadWriteMany", "Block"}, {local, "ReadWriteOnce", "Block"},
		{ns + "-no-such-class", "ReadWriteOnce", "Filesystem"},
	} {
		dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "dv-" + tt.class[len(ns)+1:], Namespace: ns},
			Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}},
				Storage: &cdiv1.StorageSpec{StorageClassName: ptr.To(tt.class), Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
		create(t, dv)
		pvc := &corev1.PersistentVolumeClaim{}
		eventually(t, "PVC of "+dv.Name, func() (bool, string) {
			err := k8s.Get(ctx, client.ObjectKeyFromObject(dv), pvc)
			return err == nil, fmt.Sprint(err)
		})
		if got := fmt.Sprintf("%s/%s", pvc.Spec.AccessModes[0], ptr.Deref(pvc.Spec.VolumeMode, "")); got != tt.access+"/"+tt.mode {
			t.Errorf("class %s: PVC %s, want %s/%s", tt.class, got, tt.access, tt.mode)
		}
	}

	// The profile goes with its class.
	if err := k8s.Delete(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ceph}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "StorageProfile "+ceph+" deleted with its class", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: ceph}, &cdiv1.StorageProfile{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
