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

// sourceIndex indexes DataSources by "namespace/name" of their source PVC.
const sourceIndex = "goldimage.spec.source.pvc"

// Reconciler keeps DataSource status in line with its source PVC and DataVolume.
type Reconciler struct {
	client client.Client
}

// New returns a Reconciler using c.
func New(c client.Client) *Reconciler { return &Reconciler{client: c} }

// SetupWithManager watches DataSources and the PVCs and DataVolumes they name.
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
	toSources := handler.EnqueueRequestsFromMapFunc(r.sourcesOf)
	return ctrl.NewControllerManagedBy(mgr).Named("datasource").For(&cdiv1.DataSource{}).
		Watches(&corev1.PersistentVolumeClaim{}, toSources).Watches(&cdiv1.DataVolume{}, toSources).
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
	var list cdiv1.DataSourceList
	if err := r.client.List(ctx, &list, client.MatchingFields{sourceIndex: o.GetNamespace() + "/" + o.GetName()}); err != nil {
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for _, ds := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ds)})
	}
	return reqs
}

// Reconcile recomputes the Ready condition and writes the object when it changed (DataSource has no status
// subresource, as in CDI).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ds := &cdiv1.DataSource{}
	if err := r.client.Get(ctx, req.NamespacedName, ds); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ds.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := ds.Status.DeepCopy()
	st, err := r.observe(ctx, ds)
	if err != nil {
		return ctrl.Result{}, err
	}
	ds.Status.Source = *ds.Spec.Source.DeepCopy()
	SetReady(ds, st)
	var res ctrl.Result
	if st.HasSnapshotSource && !snapshotReady(st.Snapshot) {
		res.RequeueAfter = snapshotRecheck // VolumeSnapshots are not watched: the CRDs may come after the controller
	}
	if equality.Semantic.DeepEqual(*before, ds.Status) {
		return res, nil
	}
	if err := r.client.Update(ctx, ds); err != nil {
		return ctrl.Result{}, fmt.Errorf("update status of DataSource %s: %w", req, err)
	}
	return res, nil
}

// Source is what Ready depends on.
type Source struct {
	HasPVCSource bool
	PVCName      string
	PVC          *corev1.PersistentVolumeClaim // nil when missing
	DataVolume   *cdiv1.DataVolume             // nil when missing

	HasSnapshotSource bool
	SnapshotName      string
	Snapshot          *snapshotv1.VolumeSnapshot // nil when missing
}

func (r *Reconciler) observe(ctx context.Context, ds *cdiv1.DataSource) (Source, error) {
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

func readiness(st Source) (corev1.ConditionStatus, string, string) {
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
