package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

func referenceDS(ns, name, refNS, ref string) *cdiv1.DataSource {
	return &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cdiv1.DataSourceSpec{
		Source: cdiv1.DataSourceSource{DataSource: &cdiv1.DataSourceRefSourceDataSource{Namespace: refNS, Name: ref}}}}
}

// waitDataSourceReady waits until DataSource ns/name has Ready status with reason and a message containing msg,
// and returns it.
func waitDataSourceReady(t *testing.T, ns, name string, status corev1.ConditionStatus, reason, msg string) *cdiv1.DataSource {
	t.Helper()
	ds := &cdiv1.DataSource{}
	eventually(t, fmt.Sprintf("DataSource %s Ready %s %s %q", name, status, reason, msg), func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ds); err != nil {
			return false, err.Error()
		}
		for _, c := range ds.Status.Conditions {
			if c.Type == cdiv1.DataSourceReady && c.Status == status && c.Reason == reason && strings.Contains(c.Message, msg) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", ds.Status.Conditions)
	})
	return ds
}

// TestDataSourceReference: a DataSource whose spec.source.dataSource names another (SSP's architecture-agnostic
// DataSource) follows that one's readiness, resolves status.source to its PVC and takes its instancetype labels;
// self, cross-namespace and two-level references are refused with CDI's reasons; a DataVolume cloning through it
// copies the PVC the target names.
func TestDataSourceReference(t *testing.T) {
	ctx := context.Background()
	ns, other := namespace(t, "dsref"), namespace(t, "dsref-other")
	create(t, referenceDS(ns, "fedora", "", "fedora-amd64"))
	ds := waitDataSourceReady(t, ns, "fedora", corev1.ConditionFalse, cdiconst.ReasonNotFound, ns+"/fedora-amd64")
	if ds.Status.Source.DataSource != nil || ds.Status.Source.PVC != nil {
		t.Errorf("status.source %+v while not Ready, want empty as CDI", ds.Status.Source)
	}

	arch := &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "fedora-amd64", Namespace: ns, Labels: map[string]string{
		cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora", cdiconst.LabelArchitecture: "amd64"}},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: "fedora-amd64-disk"}}}}
	create(t, arch)
	waitDataSourceReady(t, ns, "fedora", corev1.ConditionFalse, cdiconst.ReasonNotFound,
		"Referenced DataSource "+ns+"/fedora-amd64: Source PVC "+ns+"/fedora-amd64-disk not found")

	create(t, cloneDV(ns, "vm-disk", ns, "fedora", "", "1Gi", nil))
	dv := waitReason(t, ns, "vm-disk", cdiconst.ReasonSourceNotReady)

	goldenPVC(t, ns, "fedora-amd64-disk", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	ds = waitDataSourceReady(t, ns, "fedora", corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "")
	if pvc := ds.Status.Source.PVC; pvc == nil || pvc.Name != "fedora-amd64-disk" || ds.Status.Source.DataSource != nil {
		t.Errorf("status.source %+v, want the PVC fedora-amd64-disk the reference resolves to", ds.Status.Source)
	}
	waitDataSourceLabels(t, ns, "fedora", map[string]string{cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora"})
	if got := ds.Labels[cdiconst.LabelArchitecture]; got != "" {
		t.Errorf("architecture label %q copied to the architecture-agnostic DataSource", got)
	}

	pod := waitObject(t, ns, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})
	if got := pod.Spec.Volumes[0].PersistentVolumeClaim; got == nil || got.ClaimName != "fedora-amd64-disk" || !got.ReadOnly {
		t.Errorf("source pod volume %+v, want fedora-amd64-disk read-only", got)
	}
	waitPhase(t, ns, "vm-disk", cdiv1.CloneScheduled)

	// The target's readiness carries over: its PVC going away takes the reference down with it.
	if err := k8s.Delete(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fedora-amd64-disk"}}); err != nil {
		t.Fatal(err)
	}
	waitDataSourceReady(t, ns, "fedora", corev1.ConditionFalse, cdiconst.ReasonNotFound, "Referenced DataSource "+ns+"/fedora-amd64")

	create(t, referenceDS(ns, "self", "", "self"))
	waitDataSourceReady(t, ns, "self", corev1.ConditionFalse, cdiconst.ReasonSelfReference, "itself")
	create(t, referenceDS(ns, "latest", "", "fedora"))
	waitDataSourceReady(t, ns, "latest", corev1.ConditionFalse, cdiconst.ReasonMaxReferenceDepth, ns+"/fedora")
	create(t, referenceDS(other, "fedora", ns, "fedora-amd64"))
	waitDataSourceReady(t, other, "fedora", corev1.ConditionFalse, cdiconst.ReasonCrossNamespaceRef, "another namespace")
}

// TestDataSourceReferenceToSnapshot: a DataVolume whose sourceRef names a DataSource referring to a snapshot
// DataSource restores the VolumeSnapshot by the CSI driver, and the reference's status.source is the snapshot.
func TestDataSourceReferenceToSnapshot(t *testing.T) {
	ns := namespace(t, "dsref-snap")
	driver := "csi." + ns + ".example.com"
	create(t, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driver}})
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ns + "-csi"}, Provisioner: driver})
	readySnapshot(t, ns, "fedora-snap", driver, "1Gi")
	create(t, &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "fedora-arm64", Namespace: ns},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Name: "fedora-snap"}}}})
	create(t, referenceDS(ns, "fedora", ns, "fedora-arm64"))
	ds := waitDataSourceReady(t, ns, "fedora", corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "")
	if vs := ds.Status.Source.Snapshot; vs == nil || vs.Name != "fedora-snap" {
		t.Errorf("status.source %+v, want the VolumeSnapshot fedora-snap", ds.Status.Source)
	}

	dv := cloneDV(ns, "vm-disk", ns, "fedora", "", "", nil)
	dv.Spec.Storage.StorageClassName = ptr.To(ns + "-csi")
	create(t, dv)
	waitPhase(t, ns, "vm-disk", cdiv1.CSICloneInProgress)
	claim := waitObject(t, ns, "vm-disk", &corev1.PersistentVolumeClaim{})
	if src := claim.Spec.DataSource; src == nil || src.Kind != "VolumeSnapshot" || src.Name != "fedora-snap" {
		t.Errorf("target PVC dataSource %+v, want VolumeSnapshot fedora-snap", src)
	}
}
