package datasource

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// sourceIndex indexes DataSources by "namespace/name" of their source PVC; refIndex by that of the DataSource
// their spec.source.dataSource names.
const (
	sourceIndex = "goldimage.spec.source.pvc"
	refIndex    = "goldimage.spec.source.dataSource"
)

// Reconciler keeps DataSource status in line with its source PVC and DataVolume.
type Reconciler struct {
	client client.Client
}

// New returns a Reconciler using c.
func New(c client.Client) *Reconciler { return &Reconciler{client: c} }

// SetupWithManager watches DataSources and the PVCs, DataVolumes and DataSources they name.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	err := mgr.GetFieldIndexer().IndexField(context.Background(), &cdiv1.DataSource{}, sourceIndex, func(o client.Object) []string {
		if key := sourceKey(o.(*cdiv1.DataSource)); key != "" {
			return []string{key}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index DataSources by source PVC: %w", err)
	}
	err = mgr.GetFieldIndexer().IndexField(context.Background(), &cdiv1.DataSource{}, refIndex, func(o client.Object) []string {
		if key, ok := RefKey(o.(*cdiv1.DataSource)); ok {
			return []string{key.String()}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index DataSources by referenced DataSource: %w", err)
	}
	toSources := handler.EnqueueRequestsFromMapFunc(r.sourcesOf)
	// A DataSource's changes reach the DataSources referring to it: their Ready follows its source.
	return ctrl.NewControllerManagedBy(mgr).Named("datasource").For(&cdiv1.DataSource{}).
		Watches(&corev1.PersistentVolumeClaim{}, toSources).Watches(&cdiv1.DataVolume{}, toSources).
		Watches(&cdiv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(r.referrersOf)).
		Complete(r)
}

func sourceKey(ds *cdiv1.DataSource) string {
	pvc := ds.Spec.Source.PVC
	if pvc == nil {
		return ""
	}
	ns := pvc.Namespace
	if ns == "" {
		ns = ds.Namespace
	}
	return ns + "/" + pvc.Name
}

// sourcesOf maps a PVC or DataVolume to the DataSources naming it.
func (r *Reconciler) sourcesOf(ctx context.Context, o client.Object) []reconcile.Request {
	return r.listBy(ctx, sourceIndex, o)
}

// referrersOf maps a DataSource to the DataSources whose spec.source.dataSource names it.
func (r *Reconciler) referrersOf(ctx context.Context, o client.Object) []reconcile.Request {
	return r.listBy(ctx, refIndex, o)
}

func (r *Reconciler) listBy(ctx context.Context, index string, o client.Object) []reconcile.Request {
	var list cdiv1.DataSourceList
	if err := r.client.List(ctx, &list, client.MatchingFields{index: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ds := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ds)})
	}
	return reqs
}

// Reconcile recomputes the Ready condition and status.source and writes the object when they changed (DataSource
// has no status subresource, as in CDI). As in CDI, status.source is the source the DataSource resolves to (through
// spec.source.dataSource, one level) while Ready, and empty otherwise.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ds := &cdiv1.DataSource{}
	if err := r.client.Get(ctx, req.NamespacedName, ds); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ds.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := ds.DeepCopy()
	resolved, st, err := r.observe(ctx, ds)
	if err != nil {
		return ctrl.Result{}, err
	}
	SetReady(ds, st)
	ds.Status.Source = cdiv1.DataSourceSource{}
	if readyStatus(st) == corev1.ConditionTrue {
		ds.Status.Source = *resolved.Spec.Source.DeepCopy()
		if resolved != ds {
			ds.Labels = withInstancetypeLabels(ds.Labels, resolved.Labels)
		}
	}
	var res ctrl.Result
	if st.HasSnapshotSource && !snapshotReady(st.Snapshot) {
		res.RequeueAfter = snapshotRecheck // VolumeSnapshots are not watched: the CRDs may come after the controller
	}
	if equality.Semantic.DeepEqual(before.Status, ds.Status) && equality.Semantic.DeepEqual(before.Labels, ds.Labels) {
		return res, nil
	}
	if err := r.client.Update(ctx, ds); err != nil {
		return ctrl.Result{}, fmt.Errorf("update status of DataSource %s: %w", req, err)
	}
	return res, nil
}

// Source is what Ready depends on.
type Source struct {
	Ref        string // "namespace/name" of the DataSource spec.source.dataSource resolved to; the fields below are its source
	RefReason  string // set when the reference cannot be followed: the Ready reason (see RefReason)
	RefMessage string

	HasPVCSource bool
	PVCName      string
	PVC          *corev1.PersistentVolumeClaim // nil when missing
	DataVolume   *cdiv1.DataVolume             // nil when missing

	HasSnapshotSource bool
	SnapshotName      string
	Snapshot          *snapshotv1.VolumeSnapshot // nil when missing
}

// observe resolves ds (one level of spec.source.dataSource) and reads the PVC, DataVolume or VolumeSnapshot the
// result names. A reference that cannot be followed is reported in Source, not as an error.
func (r *Reconciler) observe(ctx context.Context, ds *cdiv1.DataSource) (*cdiv1.DataSource, Source, error) {
	resolved, err := Resolve(ctx, r.client, ds)
	if err != nil {
		reason := RefReason(err)
		if reason == "" {
			return nil, Source{}, err
		}
		return nil, Source{RefReason: reason, RefMessage: err.Error()}, nil
	}
	st, err := r.observeSource(ctx, resolved)
	if resolved != ds {
		st.Ref = client.ObjectKeyFromObject(resolved).String()
	}
	return resolved, st, err
}

// observeSource reads what ds's own spec.source names (a PVC and its DataVolume, or a VolumeSnapshot).
func (r *Reconciler) observeSource(ctx context.Context, ds *cdiv1.DataSource) (Source, error) {
	if vs := ds.Spec.Source.Snapshot; vs != nil {
		return r.observeSnapshot(ctx, ds, vs)
	}
	pvc := ds.Spec.Source.PVC
	if pvc == nil {
		return Source{}, nil
	}
	ns := pvc.Namespace
	if ns == "" {
		ns = ds.Namespace
	}
	key := client.ObjectKey{Namespace: ns, Name: pvc.Name}
	st := Source{HasPVCSource: true, PVCName: key.String()}
	dv := &cdiv1.DataVolume{}
	if err := r.client.Get(ctx, key, dv); err == nil {
		st.DataVolume = dv
	} else if !apierrors.IsNotFound(err) {
		return st, fmt.Errorf("get DataVolume %s: %w", key, err)
	}
	claim := &corev1.PersistentVolumeClaim{}
	if err := r.client.Get(ctx, key, claim); err == nil {
		st.PVC = claim
	} else if !apierrors.IsNotFound(err) {
		return st, fmt.Errorf("get PVC %s: %w", key, err)
	}
	return st, nil
}

// SetReady sets the Ready condition of ds from its observed source, as CDI does.
func SetReady(ds *cdiv1.DataSource, st Source) {
	status, reason, msg := readiness(st)
	for i := range ds.Status.Conditions {
		c := &ds.Status.Conditions[i]
		if c.Type != cdiv1.DataSourceReady {
			continue
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		c.Status, c.Reason, c.Message = status, reason, msg
		return
	}
	ds.Status.Conditions = append(ds.Status.Conditions, cdiv1.DataSourceCondition{Type: cdiv1.DataSourceReady,
		ConditionState: cdiv1.ConditionState{Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}})
}

func readyStatus(st Source) corev1.ConditionStatus {
	status, _, _ := readiness(st)
	return status
}

// readiness is Ready of a DataSource: its reference's error, else the readiness of the source it resolves to, the
// message naming the referenced DataSource when that one is not ready.
func readiness(st Source) (corev1.ConditionStatus, string, string) {
	if st.RefReason != "" {
		return corev1.ConditionFalse, st.RefReason, st.RefMessage
	}
	status, reason, msg := sourceReadiness(st)
	if st.Ref != "" && status != corev1.ConditionTrue {
		msg = "Referenced DataSource " + st.Ref + ": " + msg
	}
	return status, reason, msg
}

// sourceReadiness is Ready for a PVC or VolumeSnapshot source.
func sourceReadiness(st Source) (corev1.ConditionStatus, string, string) {
	if st.HasSnapshotSource {
		return snapshotReadiness(st)
	}
	switch {
	case !st.HasPVCSource:
		return corev1.ConditionFalse, cdiconst.ReasonNoSource, "No source PVC or VolumeSnapshot set"
	case st.DataVolume != nil && st.DataVolume.Status.Phase == cdiv1.Succeeded:
		return corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "DataSource is ready to be consumed"
	case st.DataVolume != nil && st.DataVolume.Status.Phase == cdiv1.Failed:
		return corev1.ConditionFalse, string(cdiv1.Failed), "Import of " + st.PVCName + " failed"
	case st.DataVolume != nil:
		return corev1.ConditionFalse, cdiconst.ReasonSourceInProgress, "Import of " + st.PVCName + " is in progress"
	case st.PVC != nil && st.PVC.DeletionTimestamp.IsZero():
		return corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "DataSource is ready to be consumed"
	}
	return corev1.ConditionFalse, cdiconst.ReasonNotFound, "Source PVC " + st.PVCName + " not found"
}

// instancetypeLabels are the labels a referring DataSource takes from the DataSource it resolves to while Ready, so
// VMs created from either get the image's defaults (CDI copies them from the source PVC to the DataSource).
var instancetypeLabels = []string{cdiconst.LabelDefaultInstancetype, cdiconst.LabelDefaultInstancetypeKind,
	cdiconst.LabelDefaultPreference, cdiconst.LabelDefaultPreferenceKind}

// withInstancetypeLabels returns labels with the instancetype labels of from set over them (others kept).
func withInstancetypeLabels(labels, from map[string]string) map[string]string {
	for _, k := range instancetypeLabels {
		v, ok := from[k]
		if !ok || labels[k] == v {
			continue
		}
		if labels == nil {
			labels = map[string]string{}
		}
		labels[k] = v
	}
	return labels
}
