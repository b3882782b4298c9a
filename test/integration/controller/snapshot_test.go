package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestSnapshotGoldenImages: in a class whose StorageProfile says dataImportCronSourceFormat snapshot (Ceph RBD's
// known default, with its driver's VolumeSnapshotClass), each import becomes a VolumeSnapshot of the imported
// PVC; the DataSource points at the snapshot once it is ready and not before, the import's DataVolume and PVC
// go, status.sourceFormat says snapshot, and garbage collection deletes old snapshots per importsToKeep. The
// test plays the snapshot controller by marking snapshots ready.
func TestSnapshotGoldenImages(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "snapshots")
	class, driver := ns+"-rbd", "rook-ceph.rbd.csi.ceph.com"
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Provisioner: driver})
	create(t, &snapshotv1.VolumeSnapshotClass{ObjectMeta: metav1.ObjectMeta{Name: ns + "-rbd-snap"}, Driver: driver,
		DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete})
	p := &cdiv1.StorageProfile{}
	eventually(t, "StorageProfile "+class+" naming the snapshot class", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Name: class}, p)
		return err == nil && ptr.Deref(p.Status.SnapshotClass, "") == ns+"-rbd-snap", fmt.Sprintf("%v %+v", err, p.Status)
	})

	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	const source, repo = "centos", "os/centos:latest"
	d1 := pushDisk(t, reg, repo)
	c := newCron(ns, source, "docker://"+reg.Ref(repo), 1)
	c.Spec.Template.Spec.Storage.StorageClassName = ptr.To(class)
	create(t, c)

	im1 := dvName(source, d1)
	importOK(t, ns, im1)
	vs1 := waitSnapshot(t, ns, im1)
	if got := ptr.Deref(vs1.Spec.Source.PersistentVolumeClaimName, ""); got != im1 || ptr.Deref(vs1.Spec.VolumeSnapshotClassName, "") != ns+"-rbd-snap" {
		t.Errorf("VolumeSnapshot %s snapshots PVC %q with class %v, want %s and %s-rbd-snap", im1, got, vs1.Spec.VolumeSnapshotClassName, im1, ns)
	}
	ds := &cdiv1.DataSource{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: source}, ds); err == nil && ds.Spec.Source.Snapshot != nil {
		t.Errorf("DataSource points at snapshot %s before it is ready", im1)
	}
	markReady(t, vs1)
	waitSnapshotSource(t, ns, source, im1)
	eventually(t, "the DataVolume of "+im1+" deleted once its snapshot is ready", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: im1}, &cdiv1.DataVolume{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	waitCron(t, ns, c.Name, "status.sourceFormat snapshot and up to date", func(c *cdiv1.DataImportCron) bool {
		return ptr.Deref(c.Status.SourceFormat, "") == cdiv1.DataImportCronSourceFormatSnapshot &&
			cronCondition(c, cdiv1.DataImportCronUpToDate).Status == corev1.ConditionTrue
	})

	d2 := pushDisk(t, reg, repo)
	forcePoll(t, ns, c.Name)
	im2 := dvName(source, d2)
	importOK(t, ns, im2)
	markReady(t, waitSnapshot(t, ns, im2))
	waitSnapshotSource(t, ns, source, im2)
	eventually(t, "garbage collection of snapshot "+im1, func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: im1}, &snapshotv1.VolumeSnapshot{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	waitEvent(t, ns, "DataImportCron", c.Name, corev1.EventTypeNormal, "VolumeSnapshot "+im2)
}

func waitSnapshot(t *testing.T, ns, name string) *snapshotv1.VolumeSnapshot {
	t.Helper()
	vs := &snapshotv1.VolumeSnapshot{}
	eventually(t, "VolumeSnapshot "+name, func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, vs)
		return err == nil, fmt.Sprint(err)
	})
	return vs
}

// markReady plays the snapshot controller: the snapshot is cut and ready to use.
func markReady(t *testing.T, vs *snapshotv1.VolumeSnapshot) {
	t.Helper()
	vs.Status = &snapshotv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(true), BoundVolumeSnapshotContentName: ptr.To("content-" + vs.Name)}
	if err := k8s.Status().Update(context.Background(), vs); err != nil {
		t.Fatalf("mark VolumeSnapshot %s ready: %v", vs.Name, err)
	}
}

// waitSnapshotSource waits until DataSource source is Ready and points at VolumeSnapshot name.
func waitSnapshotSource(t *testing.T, ns, source, name string) {
	t.Helper()
	ds := waitDataSourceOn(t, ns, source, "VolumeSnapshot "+name, func(s cdiv1.DataSourceSource) bool {
		return s.Snapshot != nil && s.Snapshot.Name == name && s.PVC == nil
	})
	if ds.Labels[cdiconst.LabelDataImportCron] == "" {
		t.Errorf("DataSource %s lost its cron label", source)
	}
}

// readySnapshot creates VolumeSnapshot ns/name of a Block volume of driver, cut and ready to use with restoreSize,
// playing the snapshot controller and the CSI snapshotter.
func readySnapshot(t *testing.T, ns, name, driver, restoreSize string) {
	t.Helper()
	ctx := context.Background()
	content := &snapshotv1.VolumeSnapshotContent{ObjectMeta: metav1.ObjectMeta{Name: "content-" + ns + "-" + name},
		Spec: snapshotv1.VolumeSnapshotContentSpec{Driver: driver, DeletionPolicy: snapshotv1.VolumeSnapshotContentDelete,
			SourceVolumeMode:  ptr.To(corev1.PersistentVolumeBlock),
			Source:            snapshotv1.VolumeSnapshotContentSource{SnapshotHandle: ptr.To("handle-" + name)},
			VolumeSnapshotRef: corev1.ObjectReference{Namespace: ns, Name: name}}}
	create(t, content)
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{VolumeSnapshotContentName: ptr.To(content.Name)}}}
	create(t, vs)
	size := resource.MustParse(restoreSize)
	vs.Status = &snapshotv1.VolumeSnapshotStatus{ReadyToUse: ptr.To(true), BoundVolumeSnapshotContentName: ptr.To(content.Name), RestoreSize: &size}
	if err := k8s.Status().Update(ctx, vs); err != nil {
		t.Fatalf("mark VolumeSnapshot %s ready: %v", name, err)
	}
}

// TestRestoreFromSnapshot: a DataVolume whose DataSource points at a VolumeSnapshot, in the snapshot's namespace
// and a class of the driver that cut it, gets a PVC restored by the CSI driver (dataSource VolumeSnapshot, no
// pods); a spec.source.snapshot one in another namespace is copied host-assisted from a temporary PVC restored
// beside the snapshot, which goes when the copy ends; a missing snapshot is waited for with a reason.
func TestRestoreFromSnapshot(t *testing.T) {
	ctx := context.Background()
	golden, vms := namespace(t, "restore-golden"), namespace(t, "restore-vms")
	driver := "csi." + golden + ".example.com"
	create(t, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driver}})
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: golden + "-csi"}, Provisioner: driver})
	readySnapshot(t, golden, "fedora-snap", driver, "1Gi")
	create(t, &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "fedora", Namespace: golden},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Name: "fedora-snap"}}}})

	fast := cloneDV(golden, "fast", golden, "fedora", "", "", nil)
	fast.Spec.Storage.StorageClassName = ptr.To(golden + "-csi")
	create(t, fast)
	dv := waitPhase(t, golden, "fast", cdiv1.CSICloneInProgress)
	claim := waitObject(t, golden, "fast", &corev1.PersistentVolumeClaim{})
	if ds := claim.Spec.DataSource; ds == nil || ds.Kind != "VolumeSnapshot" || ptr.Deref(ds.APIGroup, "") != "snapshot.storage.k8s.io" || ds.Name != "fedora-snap" {
		t.Fatalf("target PVC dataSource %+v, want VolumeSnapshot fedora-snap", ds)
	}
	if got := claim.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("1Gi")) != 0 ||
		ptr.Deref(claim.Spec.VolumeMode, "") != corev1.PersistentVolumeBlock {
		t.Errorf("target PVC requests %s in mode %v, want the snapshot's restore size 1Gi and its source's Block mode", got.String(), claim.Spec.VolumeMode)
	}
	claim.Status.Phase = corev1.ClaimBound
	if err := k8s.Status().Update(ctx, claim); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, golden, "fast", cdiv1.Succeeded)
	if _, err := clients.CoreV1().Pods(golden).Get(ctx, cdiconst.CloneSourcePrefix+string(dv.UID), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a CSI restore started a source pod (err %v)", err)
	}

	allowClone(t, golden, vms, "default")
	far := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "far", Namespace: vms}, Spec: cdiv1.DataVolumeSpec{
		Source:  &cdiv1.DataVolumeSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Namespace: golden, Name: "fedora-snap"}},
		Storage: &cdiv1.StorageSpec{}}}
	create(t, far)
	dv = waitPhase(t, vms, "far", cdiv1.CloneScheduled)
	tmp := waitObject(t, golden, cdiconst.RestoreSourcePrefix+string(dv.UID), &corev1.PersistentVolumeClaim{})
	if ds := tmp.Spec.DataSource; ds == nil || ds.Kind != "VolumeSnapshot" || ds.Name != "fedora-snap" || ptr.Deref(tmp.Spec.StorageClassName, "") != golden+"-csi" {
		t.Fatalf("temporary PVC dataSource %+v class %v, want VolumeSnapshot fedora-snap in %s-csi", ds, tmp.Spec.StorageClassName, golden)
	}
	src := waitObject(t, golden, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})
	if v := src.Spec.Volumes; len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != tmp.Name {
		t.Errorf("source pod volumes %+v, want the temporary PVC %s first", v, tmp.Name)
	}
	if claim := waitObject(t, vms, "far", &corev1.PersistentVolumeClaim{}); claim.Spec.DataSource != nil {
		t.Errorf("host-assisted target has dataSource %+v", claim.Spec.DataSource)
	}
	src.Status.Phase, src.Status.PodIP = corev1.PodRunning, "192.0.2.11" // documentation address: nothing connects
	if err := k8s.Status().Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	imp := waitPod(t, vms, "far")
	runPod(t, imp)
	finishPod(t, imp, 0, contract.Termination{Result: contract.ResultSuccess, Format: "raw", VirtualSize: 1 << 30})
	waitPhase(t, vms, "far", cdiv1.Succeeded)
	waitEvent(t, vms, "DataVolume", "far", corev1.EventTypeNormal, "Successfully cloned from VolumeSnapshot "+golden+"/fedora-snap into PVC far")
	// Deleted: without kube-controller-manager here, the PVC protection finalizer keeps it Terminating.
	eventually(t, "temporary PVC "+tmp.Name+" deleted", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(tmp), tmp)
		return apierrors.IsNotFound(err) || !tmp.DeletionTimestamp.IsZero(), fmt.Sprint(err)
	})

	missing := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "missing", Namespace: golden}, Spec: cdiv1.DataVolumeSpec{
		Source: &cdiv1.DataVolumeSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Name: "nope"}}, Storage: &cdiv1.StorageSpec{}}}
	create(t, missing)
	if c := readyCondition(waitReason(t, golden, "missing", cdiconst.ReasonCloneWithoutSource)); !strings.Contains(c.Message, "VolumeSnapshot "+golden+"/nope does not exist") {
		t.Errorf("Ready %+v, want the missing snapshot named", c)
	}
}
