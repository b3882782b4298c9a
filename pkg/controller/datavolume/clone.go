package datavolume

import (
	"context"
	"errors"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/controller/datasource"
	"github.com/goldimage/goldimage/pkg/controller/internal/storageclass"
)

// errBadCloneSpec marks clone specs no retry can fix.
var errBadCloneSpec = errors.New("bad clone spec")

// isClone reports whether dv copies a volume: sourceRef to a DataSource, source.pvc or source.snapshot.
func isClone(dv *cdiv1.DataVolume) bool {
	return dv.Spec.SourceRef != nil || (dv.Spec.Source != nil && (dv.Spec.Source.PVC != nil || dv.Spec.Source.Snapshot != nil))
}

// cloneSourceName names what dv clones, as "DataSource ns/name" or "PVC ns/name", for events.
func cloneSourceName(dv *cdiv1.DataVolume) string {
	kind, ns, name := "PVC", dv.Namespace, ""
	if ref := dv.Spec.SourceRef; ref != nil {
		kind, name = ref.Kind, ref.Name
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = *ref.Namespace
		}
	} else if dv.Spec.Source != nil && dv.Spec.Source.PVC != nil {
		pvc := dv.Spec.Source.PVC
		name = pvc.Name
		if pvc.Namespace != "" {
			ns = pvc.Namespace
		}
	} else if dv.Spec.Source != nil && dv.Spec.Source.Snapshot != nil {
		kind, name = "VolumeSnapshot", dv.Spec.Source.Snapshot.Name
		ns = defaultString(dv.Spec.Source.Snapshot.Namespace, ns)
	}
	return kind + " " + ns + "/" + name
}

// reconcileClone resolves and authorizes the source, picks the strategy and drives it.
func (r *Reconciler) reconcileClone(ctx context.Context, dv *cdiv1.DataVolume) (ctrl.Result, error) {
	if dv.Status.Phase == cdiv1.Succeeded || dv.Status.Phase == cdiv1.Failed {
		return ctrl.Result{}, r.cleanupClone(ctx, dv)
	}
	if stale, err := r.stale(ctx, dv); err != nil || stale {
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, err
	}
	if dv.Status.Progress == "" {
		dv.Status.Progress = "N/A"
	}
	src, reason, why, err := r.cloneSource(ctx, dv)
	if errors.Is(err, errBadCloneSpec) {
		fail(dv, cdiconst.ReasonUnsupported, err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if src == nil {
		waitForSource(dv, reason, why)
		return ctrl.Result{RequeueAfter: r.sourceWait}, nil
	}
	if denied, err := r.permit(ctx, dv, src.Namespace); err != nil || denied != "" {
		if denied != "" {
			fail(dv, cdiconst.ReasonCloneUnauthorized, denied)
			err = joinErr(err, r.cleanupClone(ctx, dv))
		}
		return ctrl.Result{}, err
	}
	spec, strategy, reason, err := r.plan(ctx, dv, src)
	if reason != "" {
		fail(dv, reason, err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if strategy == clone.StrategyCSI {
		return r.csiClone(ctx, dv, src, spec)
	}
	if isSnapshot(src) {
		if src, err = r.ensureRestoredSource(ctx, dv, src); err != nil || src == nil {
			return ctrl.Result{RequeueAfter: r.sourceWait}, err
		}
	}
	return r.hostClone(ctx, dv, src, spec)
}

// permit returns why dv may not clone from srcNamespace ("" when it may). The review runs until the clone
// starts: the finalizer, added afterwards, records the source namespace, and a source that moves to another
// namespace mid-clone is refused rather than copied from a namespace the review never covered.
func (r *Reconciler) permit(ctx context.Context, dv *cdiv1.DataVolume, srcNamespace string) (string, error) {
	if !controllerutil.ContainsFinalizer(dv, cdiconst.FinalizerCloneCleanup) {
		return r.authorizeClone(ctx, dv, srcNamespace)
	}
	if was := dv.Annotations[cdiconst.AnnCloneSourceNS]; was != srcNamespace {
		return fmt.Sprintf("clone source moved from namespace %s to %s during the clone", was, srcNamespace), nil
	}
	return "", nil
}

// plan derives the target PVC spec and the strategy. A non-empty reason marks a spec no retry can fix,
// with err saying why.
func (r *Reconciler) plan(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim) (corev1.PersistentVolumeClaimSpec, clone.Strategy, string, error) {
	prof, err := r.storageProfile(ctx, dv)
	if err != nil {
		return corev1.PersistentVolumeClaimSpec{}, "", "", err
	}
	spec, err := cloneClaimSpec(dv, src, prof)
	if err == nil && cloneNeedsOverhead(dv, src) {
		err = withFilesystemOverhead(dv, &spec, r.pod.fsOverhead)
	}
	if err != nil {
		return spec, "", cdiconst.ReasonUnsupported, err
	}
	facts, err := r.cloneFacts(ctx, dv, src, spec)
	if err != nil {
		return spec, "", "", err
	}
	if err := clone.CheckSize(facts); err != nil {
		return spec, "", cdiconst.ReasonCloneTooSmall, err
	}
	strategy, why := clone.Choose(facts)
	log.FromContext(ctx).V(1).Info("clone strategy", "strategy", strategy, "reason", why)
	strategy, err = r.keepStrategy(ctx, dv, strategy)
	return spec, strategy, "", err
}

// stale reports whether the cache lags behind the API server for dv. A clone creates objects in other
// namespaces and removes them when it ends; acting on an old copy of a finished clone would start it again.
func (r *Reconciler) stale(ctx context.Context, dv *cdiv1.DataVolume) (bool, error) {
	fresh := &cdiv1.DataVolume{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(dv), fresh); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return fresh.ResourceVersion != dv.ResourceVersion, nil
}

// waitForSource leaves dv Pending with a condition saying what it waits for.
func waitForSource(dv *cdiv1.DataVolume, reason, why string) {
	dv.Status.Phase = cdiv1.Pending
	setCondition(dv, cdiv1.DataVolumeBound, corev1.ConditionFalse, reason, why)
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, reason, why)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, reason, why)
}

// cloneSource finds the source PVC, or for a VolumeSnapshot source a stand-in claim describing the snapshot
// (see snapshotSource). A nil PVC without error means wait: reason and why say for what.
func (r *Reconciler) cloneSource(ctx context.Context, dv *cdiv1.DataVolume) (*corev1.PersistentVolumeClaim, string, string, error) {
	ref, reason, why, err := r.sourceKey(ctx, dv)
	if err != nil || why != "" {
		return nil, reason, why, err
	}
	if ref.snapshot {
		return r.snapshotSource(ctx, ref.ObjectKey)
	}
	key := ref.ObjectKey
	pvc := &corev1.PersistentVolumeClaim{}
	if err := r.client.Get(ctx, key, pvc); apierrors.IsNotFound(err) {
		return nil, cdiconst.ReasonCloneWithoutSource, fmt.Sprintf("source PVC %s does not exist", key), nil
	} else if err != nil {
		return nil, "", "", fmt.Errorf("get source PVC %s: %w", key, err)
	}
	if !pvc.DeletionTimestamp.IsZero() {
		return nil, cdiconst.ReasonCloneWithoutSource, fmt.Sprintf("source PVC %s is being deleted", key), nil
	}
	if why, err := r.sourcePopulated(ctx, pvc); err != nil || why != "" {
		return nil, cdiconst.ReasonSourceNotReady, why, err
	}
	return pvc, "", "", nil
}

// sourceRef names what a clone copies: a PVC, or a VolumeSnapshot when snapshot is set.
type sourceRef struct {
	client.ObjectKey
	snapshot bool
}

// sourceKey reads source.pvc or source.snapshot, or follows sourceRef to its DataSource, which must be Ready,
// and on through that DataSource's spec.source.dataSource to the DataSource it names.
func (r *Reconciler) sourceKey(ctx context.Context, dv *cdiv1.DataVolume) (sourceRef, string, string, error) {
	if ref := dv.Spec.SourceRef; ref != nil {
		if ref.Kind != cdiv1.DataVolumeDataSource {
			return sourceRef{}, "", "", fmt.Errorf("%w: sourceRef kind %q is not DataSource", errBadCloneSpec, ref.Kind)
		}
		key := client.ObjectKey{Namespace: ptr.Deref(ref.Namespace, dv.Namespace), Name: ref.Name}
		ds := &cdiv1.DataSource{}
		if err := r.client.Get(ctx, key, ds); apierrors.IsNotFound(err) {
			return sourceRef{ObjectKey: key}, cdiconst.ReasonSourceNotReady, fmt.Sprintf("DataSource %s does not exist", key), nil
		} else if err != nil {
			return sourceRef{ObjectKey: key}, "", "", fmt.Errorf("get DataSource %s: %w", key, err)
		}
		if c := dataSourceReady(ds); c == nil || c.Status != corev1.ConditionTrue {
			return sourceRef{ObjectKey: key}, cdiconst.ReasonSourceNotReady, fmt.Sprintf("DataSource %s is not Ready%s", key, conditionText(c)), nil
		}
		if ds.Spec.Source.DataSource != nil {
			// A reference to another DataSource: clone what that one names, as CDI does (one level, same namespace).
			target, err := datasource.Resolve(ctx, r.client, ds)
			if datasource.RefReason(err) != "" {
				return sourceRef{ObjectKey: key}, cdiconst.ReasonSourceNotReady, fmt.Sprintf("DataSource %s: %v", key, err), nil
			} else if err != nil {
				return sourceRef{ObjectKey: key}, "", "", err
			}
			ds, key = target, client.ObjectKeyFromObject(target)
		}
		if vs := ds.Spec.Source.Snapshot; vs != nil {
			return sourceRef{ObjectKey: client.ObjectKey{Namespace: defaultString(vs.Namespace, ds.Namespace), Name: vs.Name}, snapshot: true}, "", "", nil
		}
		pvc := ds.Spec.Source.PVC
		if pvc == nil {
			return sourceRef{ObjectKey: key}, "", "", fmt.Errorf("%w: DataSource %s has neither a PVC nor a VolumeSnapshot source", errBadCloneSpec, key)
		}
		return sourceRef{ObjectKey: client.ObjectKey{Namespace: defaultString(pvc.Namespace, ds.Namespace), Name: pvc.Name}}, "", "", nil
	}
	if vs := dv.Spec.Source.Snapshot; vs != nil {
		if vs.Name == "" {
			return sourceRef{}, "", "", fmt.Errorf("%w: spec.source.snapshot.name is empty", errBadCloneSpec)
		}
		return sourceRef{ObjectKey: client.ObjectKey{Namespace: defaultString(vs.Namespace, dv.Namespace), Name: vs.Name}, snapshot: true}, "", "", nil
	}
	pvc := dv.Spec.Source.PVC
	if pvc.Name == "" {
		return sourceRef{}, "", "", fmt.Errorf("%w: spec.source.pvc.name is empty", errBadCloneSpec)
	}
	return sourceRef{ObjectKey: client.ObjectKey{Namespace: defaultString(pvc.Namespace, dv.Namespace), Name: pvc.Name}}, "", "", nil
}

// sourcePopulated returns why a source PVC written by a DataVolume cannot be copied yet ("" when it can).
func (r *Reconciler) sourcePopulated(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (string, error) {
	for _, o := range pvc.OwnerReferences {
		if o.Kind != "DataVolume" || !ptr.Deref(o.Controller, false) {
			continue
		}
		owner := &cdiv1.DataVolume{}
		if err := r.client.Get(ctx, client.ObjectKey{Namespace: pvc.Namespace, Name: o.Name}, owner); err != nil {
			return "", client.IgnoreNotFound(err)
		}
		if owner.Status.Phase != cdiv1.Succeeded {
			return fmt.Sprintf("source DataVolume %s/%s is %s, not Succeeded", pvc.Namespace, o.Name, phaseText(owner.Status.Phase)), nil
		}
	}
	return "", nil
}

// authorizeClone asks the API server whether the requester may create datavolumes/source in the source
// namespace, as CDI does. goldimage has no admission webhook to record who created the DataVolume, so the
// requester is a service account of the DataVolume's own namespace: the one named by AnnCloneServiceAccount,
// default "default". Whoever can create the DataVolume there can already run pods as those accounts, so this
// grants nothing they did not have. Same-namespace clones need no review. A non-empty result is the denial.
func (r *Reconciler) authorizeClone(ctx context.Context, dv *cdiv1.DataVolume, srcNamespace string) (string, error) {
	if srcNamespace == dv.Namespace {
		return "", nil
	}
	sa := defaultString(dv.Annotations[cdiconst.AnnCloneServiceAccount], "default")
	if errs := validation.IsDNS1123Subdomain(sa); len(errs) > 0 {
		return fmt.Sprintf("annotation %s=%q is not a service account name", cdiconst.AnnCloneServiceAccount, sa), nil
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + dv.Namespace + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + dv.Namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: srcNamespace, Verb: "create",
			Group: cdiv1.SchemeGroupVersion.Group, Resource: "datavolumes", Subresource: "source"},
	}}
	if err := r.client.Create(ctx, sar); err != nil {
		return "", fmt.Errorf("review clone permission of %s: %w", sar.Spec.User, err)
	}
	if sar.Status.Allowed {
		return "", nil
	}
	msg := fmt.Sprintf("service account %s/%s may not clone from namespace %s: it needs create on datavolumes/source there",
		dv.Namespace, sa, srcNamespace)
	if sar.Status.Reason != "" {
		msg += " (" + sar.Status.Reason + ")"
	}
	return msg, nil
}

// cloneClaimSpec is claimSpec with the size and volume mode taken from the source when the DataVolume leaves them out.
func cloneClaimSpec(dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim, prof *cdiv1.StorageProfileStatus) (corev1.PersistentVolumeClaimSpec, error) {
	d := dv.DeepCopy()
	if st := d.Spec.Storage; st != nil {
		if _, ok := st.Resources.Requests[corev1.ResourceStorage]; !ok {
			if st.Resources.Requests == nil {
				st.Resources.Requests = corev1.ResourceList{}
			}
			st.Resources.Requests[corev1.ResourceStorage] = boundSize(src)
		}
		if st.VolumeMode == nil || *st.VolumeMode == cdiv1.PersistentVolumeFromStorageProfile {
			st.VolumeMode = ptr.To(ptr.Deref(src.Spec.VolumeMode, corev1.PersistentVolumeFilesystem))
		}
	}
	spec, err := claimSpec(d, prof)
	spec.DataSource, spec.DataSourceRef = nil, nil
	return spec, err
}

// cloneNeedsOverhead tells whether a clone's filesystem claim grows by the filesystem overhead: when the
// DataVolume states its size (as an import's does, so a clone of the same stated size fits its source), or
// when a whole block device becomes a file. A size taken from a filesystem source already includes it.
func cloneNeedsOverhead(dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim) bool {
	if st := dv.Spec.Storage; st != nil {
		if _, stated := st.Resources.Requests[corev1.ResourceStorage]; stated {
			return true
		}
	}
	return ptr.Deref(src.Spec.VolumeMode, corev1.PersistentVolumeFilesystem) == corev1.PersistentVolumeBlock
}

// cloneFacts gathers what the strategy choice needs.
func (r *Reconciler) cloneFacts(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim, spec corev1.PersistentVolumeClaimSpec) (clone.Facts, error) {
	target := spec.Resources.Requests[corev1.ResourceStorage]
	size, capacity := sourceSize(src), src.Status.Capacity[corev1.ResourceStorage]
	f := clone.Facts{SourceNamespace: src.Namespace, TargetNamespace: dv.Namespace,
		SourceClass: ptr.Deref(src.Spec.StorageClassName, ""), TargetClass: ptr.Deref(spec.StorageClassName, ""),
		SourceMode: ptr.Deref(src.Spec.VolumeMode, ""), TargetMode: ptr.Deref(spec.VolumeMode, ""),
		SourceSize: size.Value(), TargetSize: target.Value(), SourceCapacity: capacity.Value()}
	var err error
	if f.TargetClass == "" {
		if f.TargetClass, err = storageclass.Default(ctx, r.client); err != nil {
			return f, err
		}
	}
	if isSnapshot(src) && f.SourceNamespace == f.TargetNamespace && f.TargetClass != "" {
		// A snapshot restores through the CSI driver into a class of the driver that cut it.
		if f.SourceClass, err = r.restoreClass(ctx, src, f.TargetClass); err != nil {
			return f, err
		}
	}
	if f.SourceNamespace == f.TargetNamespace && f.TargetClass != "" && f.TargetClass == f.SourceClass {
		f.CSIDriver, err = r.hasCSIDriver(ctx, f.TargetClass)
	}
	return f, err
}

// boundSize is the source PVC's capacity when bound, else its request: the default size of a clone, so that
// it holds all the source volume holds.
func boundSize(src *corev1.PersistentVolumeClaim) resource.Quantity {
	if c, ok := src.Status.Capacity[corev1.ResourceStorage]; ok {
		return c
	}
	return src.Spec.Resources.Requests[corev1.ResourceStorage]
}

// sourceSize is the source PVC's requested size, or its capacity when it requests none.
func sourceSize(src *corev1.PersistentVolumeClaim) resource.Quantity {
	if r, ok := src.Spec.Resources.Requests[corev1.ResourceStorage]; ok {
		return r
	}
	return src.Status.Capacity[corev1.ResourceStorage]
}

// hasCSIDriver reports whether the class's provisioner is a CSI driver registered with a CSIDriver object.
func (r *Reconciler) hasCSIDriver(ctx context.Context, class string) (bool, error) {
	sc := &storagev1.StorageClass{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: class}, sc); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	err := r.client.Get(ctx, client.ObjectKey{Name: sc.Provisioner}, &storagev1.CSIDriver{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, client.IgnoreNotFound(err)
}

// keepStrategy sticks with the strategy an existing target PVC shows, so changing facts never mix the two.
func (r *Reconciler) keepStrategy(ctx context.Context, dv *cdiv1.DataVolume, chosen clone.Strategy) (clone.Strategy, error) {
	claim := &corev1.PersistentVolumeClaim{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: dv.Namespace, Name: dv.Name}, claim)
	if apierrors.IsNotFound(err) {
		return chosen, nil
	}
	if err != nil {
		return chosen, fmt.Errorf("get PVC %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	if ds := claim.Spec.DataSource; ds != nil && (ds.Kind == "PersistentVolumeClaim" || ds.Kind == "VolumeSnapshot") {
		return clone.StrategyCSI, nil
	}
	return clone.StrategyHostAssisted, nil
}

func dataSourceReady(ds *cdiv1.DataSource) *cdiv1.DataSourceCondition {
	for i := range ds.Status.Conditions {
		if ds.Status.Conditions[i].Type == cdiv1.DataSourceReady {
			return &ds.Status.Conditions[i]
		}
	}
	return nil
}

func conditionText(c *cdiv1.DataSourceCondition) string {
	switch {
	case c == nil:
		return ""
	case c.Message != "":
		return ": " + c.Reason + ": " + c.Message
	case c.Reason != "":
		return ": " + c.Reason
	}
	return ""
}

func phaseText(p cdiv1.DataVolumePhase) string {
	if p == "" {
		return "new"
	}
	return string(p)
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// cloneCredentialValidity bounds how long a clone's certificate is accepted.
const cloneCredentialValidity = 7 * 24 * time.Hour
