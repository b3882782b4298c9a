package datavolume

import (
	"context"
	"fmt"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/controller/internal/storageclass"
)

// annSnapshotDriver marks the stand-in claim snapshotSource returns for a VolumeSnapshot, naming the CSI
// driver that cut it. It is never written to the API server.
const annSnapshotDriver = "goldimage.io/snapshot-driver"

// snapshotGroup is the API group of VolumeSnapshots, as a PVC's dataSource names it.
const snapshotGroup = "snapshot.storage.k8s.io"

// isSnapshot reports whether src stands for a VolumeSnapshot rather than a real PVC.
func isSnapshot(src *corev1.PersistentVolumeClaim) bool {
	_, ok := src.Annotations[annSnapshotDriver]
	return ok
}

// snapshotSource describes a ready VolumeSnapshot as the claim it restores to: its namespace and name, its
// restore size as the request, the volume mode of the volume it was cut from, and its driver in
// annSnapshotDriver. The clone planning treats it like a source PVC. A nil claim means wait: reason and why
// say for what.
func (r *Reconciler) snapshotSource(ctx context.Context, key client.ObjectKey) (*corev1.PersistentVolumeClaim, string, string, error) {
	vs := &snapshotv1.VolumeSnapshot{}
	err := r.client.Get(ctx, key, vs)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return nil, cdiconst.ReasonCloneWithoutSource, fmt.Sprintf("source VolumeSnapshot %s does not exist", key), nil
	case err != nil:
		return nil, "", "", fmt.Errorf("get source VolumeSnapshot %s: %w", key, err)
	case !vs.DeletionTimestamp.IsZero():
		return nil, cdiconst.ReasonCloneWithoutSource, fmt.Sprintf("source VolumeSnapshot %s is being deleted", key), nil
	}
	st := vs.Status
	if st == nil || !ptr.Deref(st.ReadyToUse, false) || st.BoundVolumeSnapshotContentName == nil {
		why := fmt.Sprintf("source VolumeSnapshot %s is not ready to use", key)
		if st != nil && st.Error != nil && st.Error.Message != nil {
			why += ": " + *st.Error.Message
		}
		return nil, cdiconst.ReasonSourceNotReady, why, nil
	}
	content := &snapshotv1.VolumeSnapshotContent{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: *st.BoundVolumeSnapshotContentName}, content); apierrors.IsNotFound(err) {
		return nil, cdiconst.ReasonSourceNotReady, fmt.Sprintf("VolumeSnapshotContent %s of VolumeSnapshot %s does not exist", *st.BoundVolumeSnapshotContentName, key), nil
	} else if err != nil {
		return nil, "", "", fmt.Errorf("get VolumeSnapshotContent of %s: %w", key, err)
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: vs.Namespace, Name: vs.Name, Annotations: map[string]string{annSnapshotDriver: content.Spec.Driver}},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: content.Spec.SourceVolumeMode,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}},
	}
	if size := st.RestoreSize; size != nil && !size.IsZero() {
		claim.Spec.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: *size}
		claim.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: *size}
	}
	return claim, "", "", nil
}

// restoreClass is targetClass when its provisioner is the driver that cut the snapshot src stands for (so a
// CSI restore can serve), else "".
func (r *Reconciler) restoreClass(ctx context.Context, src *corev1.PersistentVolumeClaim, targetClass string) (string, error) {
	sc := &storagev1.StorageClass{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: targetClass}, sc); err != nil {
		return "", client.IgnoreNotFound(err)
	}
	if sc.Provisioner == src.Annotations[annSnapshotDriver] {
		return targetClass, nil
	}
	return "", nil
}

// csiRestore creates the target PVC with the VolumeSnapshot as its dataSource: the CSI driver restores it.
func (r *Reconciler) csiRestore(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim, spec corev1.PersistentVolumeClaimSpec) (ctrl.Result, error) {
	spec.DataSource = &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapshotGroup), Kind: "VolumeSnapshot", Name: src.Name}
	claim, err := r.ensureClaim(ctx, dv, spec)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBound(dv, claim)
	name := "VolumeSnapshot " + src.Namespace + "/" + src.Name
	if claim.Status.Phase == corev1.ClaimBound {
		succeedCSI(dv, "Restored by the CSI driver from "+name)
		return ctrl.Result{}, nil
	}
	dv.Status.Phase = cdiv1.CSICloneInProgress
	msg := "CSI restore of " + name + " in progress"
	if r.waitsForConsumer(ctx, claim) {
		dv.Status.Phase = cdiv1.WaitForFirstConsumer
		msg = "CSI restore of " + name + " waits for the first consumer of PVC " + claim.Name
	}
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionTrue, cdiconst.ReasonCSIClone, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, cdiconst.ReasonCSIClone, msg)
	return ctrl.Result{}, nil
}

// ensureRestoredSource restores the snapshot src stands for into a temporary PVC beside it, in a storage class
// of the driver that cut it, for a host-assisted copy into a target the driver cannot restore into directly
// (another namespace or another driver), as CDI does. cleanupClone deletes it. It returns the temporary PVC;
// nil without error while no storage class of that driver exists.
func (r *Reconciler) ensureRestoredSource(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	if err := r.addCloneFinalizer(ctx, dv); err != nil {
		return nil, err
	}
	key := client.ObjectKey{Namespace: src.Namespace, Name: restoreName(dv)}
	tmp := &corev1.PersistentVolumeClaim{}
	if err := r.client.Get(ctx, key, tmp); err == nil {
		return tmp, nil
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get PVC %s restored from VolumeSnapshot %s: %w", key, src.Name, err)
	}
	driver := src.Annotations[annSnapshotDriver]
	class, err := storageclass.OfProvisioner(ctx, r.client, driver)
	if err != nil || class == "" {
		if err == nil {
			waitForSource(dv, cdiconst.ReasonSourceNotReady, fmt.Sprintf("no StorageClass of CSI driver %s to restore VolumeSnapshot %s/%s into", driver, src.Namespace, src.Name))
		}
		return nil, err
	}
	size := src.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	tmp = &corev1.PersistentVolumeClaim{
		ObjectMeta: cloneMeta(dv, key.Namespace, key.Name),
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To(class), VolumeMode: src.Spec.VolumeMode,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			DataSource:  &corev1.TypedLocalObjectReference{APIGroup: ptr.To(snapshotGroup), Kind: "VolumeSnapshot", Name: src.Name}},
	}
	if err := r.client.Create(ctx, tmp); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create PVC %s restored from VolumeSnapshot %s: %w", key, src.Name, err)
	}
	return tmp, nil
}

// restoreName is the temporary PVC a host-assisted copy from a VolumeSnapshot reads: prefix + DataVolume UID.
func restoreName(dv *cdiv1.DataVolume) string { return cdiconst.RestoreSourcePrefix + string(dv.UID) }
