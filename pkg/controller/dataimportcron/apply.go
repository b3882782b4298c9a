package dataimportcron

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

// apply carries out a plan; waiting reports a create postponed until an old DataVolume of the same name is gone.
func (r *Reconciler) apply(ctx context.Context, c *cdiv1.DataImportCron, st *state, plan cron.Plan) (waiting bool, err error) {
	for _, name := range plan.Delete {
		if err := r.deleteImport(ctx, c, name); err != nil {
			return false, err
		}
		st.dying[name] = true
		if plan.Create != nil && plan.Create.Name == name {
			r.recorder.Eventf(c, corev1.EventTypeNormal, cdiconst.EventGarbageCollected, "Deleted failed import %s to retry it", name)
		} else {
			r.recorder.Eventf(c, corev1.EventTypeNormal, cdiconst.EventGarbageCollected, "Deleted old import %s", name)
		}
	}
	if plan.Create != nil {
		if waiting, err = r.createImport(ctx, c, *plan.Create, st.dying[plan.Create.Name]); err != nil {
			return false, err
		}
	}
	if !waiting && forced(c) {
		setAnnotation(c, cdiconst.AnnHandledRequest, trigger(c))
	}
	if st.foreign && st.polled {
		owner := st.ds.Labels[cdiconst.LabelDataImportCron]
		r.recorder.Eventf(c, corev1.EventTypeWarning, cdiconst.EventForeignSource,
			"DataSource %s is already managed by DataImportCron %s; leaving it alone", st.ds.Name, owner)
	}
	if plan.PointAt != "" {
		return waiting, r.pointDataSource(ctx, c, st, plan.PointAt)
	}
	return waiting, nil
}

func (r *Reconciler) deleteDataVolume(ctx context.Context, c *cdiv1.DataImportCron, name string) error {
	dv := &cdiv1.DataVolume{}
	dv.Name, dv.Namespace = name, c.Namespace
	if err := r.client.Delete(ctx, dv, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete DataVolume %s: %w", name, err)
	}
	return nil
}

// deleteImport removes an import whatever keeps it: its DataVolume (and PVC) and its VolumeSnapshot.
func (r *Reconciler) deleteImport(ctx context.Context, c *cdiv1.DataImportCron, name string) error {
	if err := r.deleteDataVolume(ctx, c, name); err != nil {
		return err
	}
	return r.deleteSnapshot(ctx, c, name)
}

// createImport creates the DataVolume of a new import, or reports waiting while its name is still taken.
func (r *Reconciler) createImport(ctx context.Context, c *cdiv1.DataImportCron, im cron.Import, dying bool) (bool, error) {
	if dying {
		return true, nil
	}
	dv, err := newImportDataVolume(c, im)
	if err != nil {
		return false, err
	}
	if err := r.client.Create(ctx, dv); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return true, nil
		}
		return false, fmt.Errorf("create DataVolume %s: %w", dv.Name, err)
	}
	what := im.Digest
	if cron.IsHTTP(c) {
		v := cron.Validator{ETag: c.Annotations[cdiconst.AnnSourceETag], LastModified: c.Annotations[cdiconst.AnnSourceLastModified]}
		what = cron.RedactURL(cron.SourceURL(c)) + " (" + v.String() + ")"
	}
	r.recorder.Eventf(c, corev1.EventTypeNormal, cdiconst.EventImportCreated, "Importing %s into DataVolume %s", what, dv.Name)
	return false, nil
}

// pointDataSource creates the managed DataSource or moves it to PVC target.
func (r *Reconciler) pointDataSource(ctx context.Context, c *cdiv1.DataImportCron, st *state, target string) error {
	ds := st.ds
	if ds == nil {
		ds = &cdiv1.DataSource{}
		ds.Name, ds.Namespace = c.Spec.ManagedDataSource, c.Namespace
	}
	labels := cron.DataSourceLabels(c.Labels, ds.Labels)
	labels[cdiconst.LabelDataImportCron] = c.Name
	source, kind := cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: c.Namespace, Name: target}}, "PVC"
	if ready(st.snapshots[target]) {
		source, kind = cdiv1.DataSourceSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Namespace: c.Namespace, Name: target}}, "VolumeSnapshot"
	}
	if equality.Semantic.DeepEqual(ds.Spec.Source, source) && equality.Semantic.DeepEqual(labels, ds.Labels) {
		return nil
	}
	ds.Labels = labels
	ds.Spec.Source = source
	var err error
	if st.ds == nil {
		err = r.client.Create(ctx, ds)
	} else {
		err = r.client.Update(ctx, ds)
	}
	if err != nil {
		return fmt.Errorf("point DataSource %s at %s: %w", ds.Name, target, err)
	}
	st.ds = ds
	r.recorder.Eventf(c, corev1.EventTypeNormal, cdiconst.EventDataSourceMoved, "DataSource %s now points at %s %s", ds.Name, kind, target)
	return nil
}

// writeStatus fills CDI's status fields and conditions from the plan.
func (r *Reconciler) writeStatus(c *cdiv1.DataImportCron, st *state, plan cron.Plan) {
	c.Status.SourceFormat = ptrTo(cdiv1.DataImportCronSourceFormatPvc)
	if st.format.snapshot {
		c.Status.SourceFormat = ptrTo(cdiv1.DataImportCronSourceFormatSnapshot)
	}
	c.Status.CurrentImports = nil
	if d := c.Annotations[cdiconst.AnnSourceDesiredDigest]; d != "" {
		c.Status.CurrentImports = []cdiv1.ImportStatus{{DataVolumeName: cron.ImportName(c.Spec.ManagedDataSource, d), Digest: d}}
	}
	if plan.Current != nil && plan.Current.Phase == cron.PhaseSucceeded {
		c.Status.LastImportedPVC = &cdiv1.DataVolumeSourcePVC{Namespace: c.Namespace, Name: plan.Current.Name}
		at := plan.Current.ImportTime
		switch {
		case at.IsZero() && c.Status.LastImportTimestamp == nil:
			c.Status.LastImportTimestamp = ptrTime(r.now()) // once: an unknown time must not rewrite the cron on every pass
		case !at.IsZero() && (c.Status.LastImportTimestamp == nil || c.Status.LastImportTimestamp.Time.Before(at.Truncate(time.Second))):
			c.Status.LastImportTimestamp = ptrTime(at)
		}
	}
	setCondition(c, cdiv1.DataImportCronUpToDate, plan.UpToDate)
	setCondition(c, cdiv1.DataImportCronProgressing, plan.Progressing)
}

// conditionEvents records condition transitions as events.
func (r *Reconciler) conditionEvents(before, after *cdiv1.DataImportCron) {
	if up, changed := transitioned(before, after, cdiv1.DataImportCronUpToDate); changed {
		switch {
		case up.Status == corev1.ConditionTrue:
			r.recorder.Event(after, corev1.EventTypeNormal, cdiconst.ReasonUpToDate, up.Message)
		case up.Reason == cdiconst.ReasonPollFailed:
			r.recorder.Event(after, corev1.EventTypeWarning, cdiconst.EventPollFailed, up.Message)
		case up.Reason == cdiconst.ReasonInvalidSpec:
			r.recorder.Event(after, corev1.EventTypeWarning, cdiconst.EventInvalidSpec, up.Message)
		case up.Reason == cdiconst.ReasonNoValidator, up.Reason == cdiconst.ReasonUnstableValidator:
			r.recorder.Event(after, corev1.EventTypeWarning, up.Reason, up.Message)
		}
	}
	if p, changed := transitioned(before, after, cdiv1.DataImportCronProgressing); changed && p.Reason == cdiconst.ReasonImportFailed {
		r.recorder.Event(after, corev1.EventTypeWarning, cdiconst.EventImportFailed, p.Message)
	}
}

// finalize applies the retention policy when the cron is deleted and releases it.
func (r *Reconciler) finalize(ctx context.Context, c *cdiv1.DataImportCron) error {
	if !controllerutil.ContainsFinalizer(c, cdiconst.FinalizerDataImportCron) {
		return nil
	}
	if c.Spec.RetentionPolicy != nil && *c.Spec.RetentionPolicy == cdiv1.DataImportCronRetainNone {
		if err := r.deleteAll(ctx, c); err != nil {
			return err
		}
	}
	forgetOutdated(c)
	controllerutil.RemoveFinalizer(c, cdiconst.FinalizerDataImportCron)
	if err := r.client.Update(ctx, c); err != nil {
		return fmt.Errorf("remove finalizer of DataImportCron %s: %w", c.Name, err)
	}
	return nil
}

// deleteAll removes the cron's DataVolumes, VolumeSnapshots and its DataSource (retentionPolicy None).
func (r *Reconciler) deleteAll(ctx context.Context, c *cdiv1.DataImportCron) error {
	sel := []client.DeleteAllOfOption{client.InNamespace(c.Namespace), client.MatchingLabels{cdiconst.LabelDataImportCron: c.Name},
		client.PropagationPolicy(metav1.DeletePropagationBackground)}
	if err := r.client.DeleteAllOf(ctx, &cdiv1.DataVolume{}, sel...); err != nil {
		return fmt.Errorf("delete DataVolumes of DataImportCron %s: %w", c.Name, err)
	}
	if err := r.client.DeleteAllOf(ctx, &snapshotv1.VolumeSnapshot{}, sel[:2]...); err != nil && !meta.IsNoMatchError(err) {
		return fmt.Errorf("delete VolumeSnapshots of DataImportCron %s: %w", c.Name, err)
	}
	ds := &cdiv1.DataSource{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.ManagedDataSource}, ds)
	if err != nil {
		return client.IgnoreNotFound(err)
	}
	if ds.Labels[cdiconst.LabelDataImportCron] != c.Name {
		return nil
	}
	if err := r.client.Delete(ctx, ds); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete DataSource %s: %w", ds.Name, err)
	}
	return nil
}

func setAnnotation(c *cdiv1.DataImportCron, key, value string) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[key] = value
}

func ptrTime(t time.Time) *metav1.Time { mt := metav1.NewTime(t); return &mt }

func ptrTo[T any](v T) *T { return &v }
