package dataimportcron

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/controller/internal/storageclass"
	"github.com/goldimage/goldimage/pkg/cron"
)

// format is how the cron keeps its imports: CDI's DataImportCron source format and, for snapshots, the
// VolumeSnapshotClass to take them with.
type format struct {
	snapshot      bool
	snapshotClass string
}

// storageFormat reads the StorageProfile of the class the cron's imports land in (the template's, else the
// default class): snapshot when it says dataImportCronSourceFormat snapshot and names a VolumeSnapshotClass.
func (r *Reconciler) storageFormat(ctx context.Context, c *cdiv1.DataImportCron) (format, error) {
	class, err := r.templateClass(ctx, c)
	if err != nil || class == "" {
		return format{}, err
	}
	p := &cdiv1.StorageProfile{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: class}, p); apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return format{}, nil
	} else if err != nil {
		return format{}, fmt.Errorf("get StorageProfile %s: %w", class, err)
	}
	if ptr.Deref(p.Status.DataImportCronSourceFormat, "") != cdiv1.DataImportCronSourceFormatSnapshot || p.Status.SnapshotClass == nil {
		return format{}, nil
	}
	return format{snapshot: true, snapshotClass: *p.Status.SnapshotClass}, nil
}

func (r *Reconciler) templateClass(ctx context.Context, c *cdiv1.DataImportCron) (string, error) {
	spec := c.Spec.Template.Spec
	switch {
	case spec.Storage != nil && spec.Storage.StorageClassName != nil:
		return *spec.Storage.StorageClassName, nil
	case spec.PVC != nil && spec.PVC.StorageClassName != nil:
		return *spec.PVC.StorageClassName, nil
	}
	return storageclass.Default(ctx, r.client)
}

// observeSnapshots lists the VolumeSnapshots labelled with the cron; none when the cluster has no snapshot CRDs.
func (r *Reconciler) observeSnapshots(ctx context.Context, c *cdiv1.DataImportCron, st *state) error {
	var list snapshotv1.VolumeSnapshotList
	err := r.client.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels{cdiconst.LabelDataImportCron: c.Name})
	if meta.IsNoMatchError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list VolumeSnapshots of DataImportCron %s: %w", c.Name, err)
	}
	st.snapshots = make(map[string]*snapshotv1.VolumeSnapshot, len(list.Items))
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			st.snapshots[list.Items[i].Name] = &list.Items[i]
		}
	}
	return nil
}

// snapshotImport describes an import kept as a VolumeSnapshot for the decision core: succeeded once the
// snapshot is ready to use, failed when the snapshotter reports an error, running before.
func snapshotImport(vs *snapshotv1.VolumeSnapshot) cron.Import {
	im := cron.Import{Name: vs.Name, Digest: vs.Annotations[cdiconst.AnnDigest], Phase: cron.PhaseRunning}
	switch {
	case ready(vs):
		im.Phase = cron.PhaseSucceeded
		if t, err := time.Parse(time.RFC3339Nano, vs.Annotations[cdiconst.AnnImportTime]); err == nil {
			im.ImportTime = t
		}
	case vs.Status != nil && vs.Status.Error != nil && vs.Status.Error.Message != nil:
		im.Phase, im.Message = cron.PhaseFailed, "snapshot: "+*vs.Status.Error.Message
	}
	return im
}

func ready(vs *snapshotv1.VolumeSnapshot) bool {
	return vs != nil && vs.Status != nil && ptr.Deref(vs.Status.ReadyToUse, false)
}

// snapshotImports turns each succeeded import into a VolumeSnapshot of its PVC and, once the snapshot is
// ready, deletes the DataVolume and its PVC, as CDI does. It reports whether a snapshot is still being taken.
func (r *Reconciler) snapshotImports(ctx context.Context, c *cdiv1.DataImportCron, st *state) (bool, error) {
	pending := false
	for name, dv := range st.imports {
		if dv.Status.Phase != cdiv1.Succeeded {
			continue
		}
		vs, ok := st.snapshots[name]
		switch {
		case !ok:
			if err := r.createSnapshot(ctx, c, dv, st.format.snapshotClass); err != nil {
				return false, err
			}
			pending = true
		case ready(vs):
			if err := r.deleteDataVolume(ctx, c, name); err != nil {
				return false, err
			}
			delete(st.imports, name)
		default:
			pending = true
		}
	}
	return pending, nil
}

// createSnapshot snapshots the PVC of import dv under the same name, carrying its digest and import time.
func (r *Reconciler) createSnapshot(ctx context.Context, c *cdiv1.DataImportCron, dv *cdiv1.DataVolume, class string) error {
	vs := &snapshotv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: dv.Name, Namespace: c.Namespace,
			Labels: map[string]string{cdiconst.LabelDataImportCron: c.Name},
			Annotations: map[string]string{cdiconst.AnnDigest: dv.Annotations[cdiconst.AnnDigest],
				cdiconst.AnnImportTime: dv.Annotations[cdiconst.AnnImportTime]}},
		Spec: snapshotv1.VolumeSnapshotSpec{Source: snapshotv1.VolumeSnapshotSource{PersistentVolumeClaimName: ptr.To(dv.Name)},
			VolumeSnapshotClassName: ptr.To(class)},
	}
	if err := r.client.Create(ctx, vs); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create VolumeSnapshot %s: %w", vs.Name, err)
	}
	r.recorder.Eventf(c, corev1.EventTypeNormal, cdiconst.EventSnapshotCreated, "Taking VolumeSnapshot %s of the imported PVC", dv.Name)
	return nil
}

func (r *Reconciler) deleteSnapshot(ctx context.Context, c *cdiv1.DataImportCron, name string) error {
	vs := &snapshotv1.VolumeSnapshot{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace}}
	if err := r.client.Delete(ctx, vs); client.IgnoreNotFound(err) != nil && !meta.IsNoMatchError(err) {
		return fmt.Errorf("delete VolumeSnapshot %s: %w", name, err)
	}
	return nil
}
