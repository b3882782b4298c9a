package datavolume

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
)

// Reconciler drives DataVolumes with import sources through PVC and importer pod.
type Reconciler struct {
	client      client.Client
	recorder    record.EventRecorder
	pod         podConfig
	maxRestarts int32
	progress    ProgressReader
	pollRunning time.Duration
	workers     int
	reader      client.Reader // uncached reads (clone Secrets)
	sourceWait  time.Duration
}

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithMaxRestarts sets how many times a retryable importer failure is retried with a new pod; default 3.
func WithMaxRestarts(n int32) Option { return func(r *Reconciler) { r.maxRestarts = n } }

// WithPullPolicy sets the importer image pull policy; default IfNotPresent.
func WithPullPolicy(p corev1.PullPolicy) Option { return func(r *Reconciler) { r.pod.pullPolicy = p } }

// WithProgressReader sets how progress is read from a running importer; default HTTPProgress{}. nil disables it.
func WithProgressReader(p ProgressReader) Option { return func(r *Reconciler) { r.progress = p } }

// WithProgressInterval sets how often a running import is revisited to refresh progress; default 10s.
func WithProgressInterval(d time.Duration) Option { return func(r *Reconciler) { r.pollRunning = d } }

// WithWorkers sets how many DataVolumes are reconciled concurrently; default 4.
func WithWorkers(n int) Option { return func(r *Reconciler) { r.workers = n } }

// WithAPIReader sets the uncached reader used for clone Secrets, so the controller does not cache every Secret
// of the cluster; default the client.
func WithAPIReader(rd client.Reader) Option { return func(r *Reconciler) { r.reader = rd } }

// WithSourceWait sets how often a clone waiting for its DataSource or source PVC looks again; default 5s.
func WithSourceWait(d time.Duration) Option { return func(r *Reconciler) { r.sourceWait = d } }

// New returns a Reconciler creating importer pods from image.
func New(c client.Client, recorder record.EventRecorder, image string, opts ...Option) *Reconciler {
	r := &Reconciler{client: c, recorder: recorder, pod: podConfig{image: image, pullPolicy: corev1.PullIfNotPresent},
		maxRestarts: 3, progress: HTTPProgress{}, pollRunning: 10 * time.Second, workers: 4, reader: c, sourceWait: 5 * time.Second}
	for _, o := range opts {
		o(r)
	}
	return r
}

// SetupWithManager watches DataVolumes and the PVCs and pods they own.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &cdiv1.DataVolume{}, cloneSourceField, cloneSourceKeys); err != nil {
		return fmt.Errorf("index DataVolumes by clone source: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).Named("datavolume").
		For(&cdiv1.DataVolume{}).Owns(&corev1.PersistentVolumeClaim{}).Owns(&corev1.Pod{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(cloneTargetOf)).
		Watches(&cdiv1.DataSource{}, handler.EnqueueRequestsFromMapFunc(r.clonesOf)).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(r.clonesOf)).
		Watches(&cdiv1.DataVolume{}, handler.EnqueueRequestsFromMapFunc(r.clonesOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.workers}).
		Complete(r)
}

// Reconcile fetches the DataVolume, runs the phases and writes the status once, emitting events on phase changes.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	dv := &cdiv1.DataVolume{}
	if err := r.client.Get(ctx, req.NamespacedName, dv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !dv.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, dv) // PVC and pod go with it through owner references
	}
	before := dv.DeepCopy()
	res, err := r.reconcile(ctx, dv)
	if !equality.Semantic.DeepEqual(before.Status, dv.Status) {
		if perr := r.client.Status().Patch(ctx, dv, client.MergeFrom(before)); perr != nil {
			return ctrl.Result{}, errors.Join(err, fmt.Errorf("update status of DataVolume %s: %w", req, perr))
		}
		r.phaseEvent(dv, before.Status.Phase)
	}
	return res, err
}

func (r *Reconciler) reconcile(ctx context.Context, dv *cdiv1.DataVolume) (ctrl.Result, error) {
	if isClone(dv) {
		return r.reconcileClone(ctx, dv)
	}
	if dv.Status.Phase == cdiv1.Succeeded || dv.Status.Phase == cdiv1.Failed {
		return ctrl.Result{}, r.cleanupPod(ctx, dv)
	}
	if dv.Status.Progress == "" {
		dv.Status.Progress = "N/A"
	}
	src, err := sourceOf(dv)
	if err != nil {
		fail(dv, cdiconst.ReasonUnsupported, err.Error())
		return ctrl.Result{}, nil // bad spec: no retry
	}
	prof, err := r.storageProfile(ctx, dv)
	if err != nil {
		return ctrl.Result{}, err
	}
	spec, err := claimSpec(dv, prof)
	if err == nil {
		err = checkContent(dv, spec)
	}
	if err == nil {
		err = withFilesystemOverhead(dv, &spec, r.pod.fsOverhead)
	}
	if err != nil {
		fail(dv, cdiconst.ReasonUnsupported, err.Error())
		return ctrl.Result{}, nil
	}
	claim, err := r.ensureClaim(ctx, dv, spec)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBound(dv, claim)
	if !bindsImmediately(dv) && r.waitsForConsumer(ctx, claim) {
		waitForConsumer(dv, claim)
		return ctrl.Result{}, nil // the PVC's binding brings the next reconcile
	}
	if dv.Status.Phase == "" || dv.Status.Phase == cdiv1.WaitForFirstConsumer {
		dv.Status.Phase = cdiv1.Pending
	}
	pod, err := r.ensurePod(ctx, dv, claim, src)
	if err != nil || pod == nil {
		return ctrl.Result{RequeueAfter: time.Second}, err
	}
	return r.observePod(ctx, dv, pod)
}

// ensureClaim gets or creates the PVC named like dv.
func (r *Reconciler) ensureClaim(ctx context.Context, dv *cdiv1.DataVolume, spec corev1.PersistentVolumeClaimSpec) (*corev1.PersistentVolumeClaim, error) {
	claim := &corev1.PersistentVolumeClaim{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: dv.Namespace, Name: dv.Name}, claim)
	if err == nil {
		return r.adoptClaim(ctx, dv, claim)
	}
	if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get PVC %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	claim = newClaim(dv, spec)
	if err := controllerutil.SetControllerReference(dv, claim, r.client.Scheme()); err != nil {
		return nil, fmt.Errorf("own PVC %s: %w", claim.Name, err)
	}
	if err := r.client.Create(ctx, claim); err != nil {
		return nil, fmt.Errorf("create PVC %s/%s: %w", claim.Namespace, claim.Name, err)
	}
	return claim, nil
}

// adoptClaim accepts an existing PVC: ours, or one left by an earlier DataVolume of the same name (a replaced
// failed import, whose data the new importer overwrites). Any other PVC of that name is a conflict.
func (r *Reconciler) adoptClaim(ctx context.Context, dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	if metav1.IsControlledBy(claim, dv) {
		return claim, nil
	}
	owner := metav1.GetControllerOf(claim)
	if owner == nil || owner.Kind != "DataVolume" || owner.Name != dv.Name {
		return nil, fmt.Errorf("PVC %s/%s exists and is not owned by DataVolume %s", dv.Namespace, dv.Name, dv.Name)
	}
	if !claim.DeletionTimestamp.IsZero() {
		return nil, fmt.Errorf("PVC %s/%s of an earlier DataVolume is still being deleted", dv.Namespace, dv.Name)
	}
	claim.OwnerReferences = nil
	if err := controllerutil.SetControllerReference(dv, claim, r.client.Scheme()); err != nil {
		return nil, fmt.Errorf("own PVC %s: %w", claim.Name, err)
	}
	if err := r.client.Update(ctx, claim); err != nil {
		return nil, fmt.Errorf("adopt PVC %s/%s: %w", claim.Namespace, claim.Name, err)
	}
	return claim, nil
}

// ensurePod gets or creates the importer pod; nil without error while an old pod is still terminating.
func (r *Reconciler) ensurePod(ctx context.Context, dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim, src importSource) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: dv.Namespace, Name: podName(dv)}, pod)
	switch {
	case err == nil && !pod.DeletionTimestamp.IsZero():
		return nil, nil
	case err == nil && !metav1.IsControlledBy(pod, dv):
		// A pod left by an earlier DataVolume of this name (a replaced failed import): its result is not ours.
		if err := r.client.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("delete stale importer pod %s: %w", pod.Name, err)
		}
		return nil, nil
	case err == nil:
		return pod, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get importer pod %s: %w", podName(dv), err)
	}
	pod = newImporterPod(dv, claim, src, r.pod)
	if err := controllerutil.SetControllerReference(dv, pod, r.client.Scheme()); err != nil {
		return nil, fmt.Errorf("own importer pod %s: %w", pod.Name, err)
	}
	if err := r.client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create importer pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return pod, nil
}

// observePod maps the importer pod's state onto the DataVolume.
func (r *Reconciler) observePod(ctx context.Context, dv *cdiv1.DataVolume, pod *corev1.Pod) (ctrl.Result, error) {
	switch pod.Status.Phase {
	case corev1.PodRunning:
		dv.Status.Phase = cdiv1.ImportInProgress
		setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionTrue, cdiconst.ReasonPodRunning, "Import pod "+pod.Name+" is running")
		setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, cdiconst.ReasonPodRunning, "Import in progress")
		r.readProgress(ctx, dv, pod)
		return ctrl.Result{RequeueAfter: r.pollRunning}, nil
	case corev1.PodSucceeded, corev1.PodFailed:
		return r.finished(ctx, dv, pod)
	}
	dv.Status.Phase = cdiv1.ImportScheduled
	reason, msg := cdiconst.ReasonPending, "Import pod "+pod.Name+" is pending"
	if w := waiting(pod); w != nil && w.Reason != "" {
		reason, msg = w.Reason, "Import pod "+pod.Name+" is waiting: "+w.Reason
		if w.Message != "" {
			msg += ": " + w.Message
		}
	}
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, reason, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, cdiconst.ReasonPending, "Import scheduled")
	return ctrl.Result{}, nil
}

// waiting returns the importer container's waiting state (ErrImagePull, CreateContainerConfigError...), or
// the node-pull init container's while it has not completed, or nil.
func waiting(pod *corev1.Pod) *corev1.ContainerStateWaiting {
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == nodeInitContainer && s.State.Waiting != nil {
			return s.State.Waiting
		}
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == cdiconst.ImporterContainer && s.State.Waiting != nil {
			return s.State.Waiting
		}
	}
	return nil
}

func (r *Reconciler) readProgress(ctx context.Context, dv *cdiv1.DataVolume, pod *corev1.Pod) {
	if r.progress == nil {
		return
	}
	p, err := r.progress.Progress(ctx, pod)
	if err != nil {
		log.FromContext(ctx).V(1).Info("progress unavailable", "error", err.Error())
		return
	}
	dv.Status.Progress = cdiv1.DataVolumeProgress(fmt.Sprintf("%.2f%%", p))
}

// finished handles a terminated importer: success, a retry with a new pod, or the Failed phase.
func (r *Reconciler) finished(ctx context.Context, dv *cdiv1.DataVolume, pod *corev1.Pod) (ctrl.Result, error) {
	term := podResult(pod)
	if term.Result == contract.ResultSuccess {
		if err := r.stampImportTime(ctx, dv); err != nil {
			return ctrl.Result{}, err
		}
		succeed(dv, term)
		return ctrl.Result{}, r.cleanupPod(ctx, dv)
	}
	if !term.Retryable || dv.Status.RestartCount >= r.maxRestarts {
		fail(dv, cdiconst.ReasonError, term.Message)
		return ctrl.Result{}, nil
	}
	dv.Status.RestartCount++
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, cdiconst.ReasonError, term.Message)
	r.recorder.Eventf(dv, corev1.EventTypeWarning, cdiconst.EventImporterRestart, "Import attempt %d failed, retrying: %s", dv.Status.RestartCount, term.Message)
	if err := r.client.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("delete failed importer pod %s: %w", pod.Name, err)
	}
	return ctrl.Result{RequeueAfter: time.Duration(dv.Status.RestartCount) * 2 * time.Second}, nil
}

// stampImportTime records when the import succeeded, once, in the AnnImportTime annotation.
func (r *Reconciler) stampImportTime(ctx context.Context, dv *cdiv1.DataVolume) error {
	if _, ok := dv.Annotations[cdiconst.AnnImportTime]; ok {
		return nil
	}
	patch := client.MergeFrom(dv.DeepCopy())
	if dv.Annotations == nil {
		dv.Annotations = map[string]string{}
	}
	dv.Annotations[cdiconst.AnnImportTime] = time.Now().UTC().Format(time.RFC3339Nano)
	status := dv.Status.DeepCopy() // Patch reloads the object; keep the status computed so far
	if err := r.client.Patch(ctx, dv, patch); err != nil {
		return fmt.Errorf("record import time on DataVolume %s: %w", dv.Name, err)
	}
	dv.Status = *status
	return nil
}

// cleanupPod deletes a succeeded importer pod; failed pods stay for their logs.
func (r *Reconciler) cleanupPod(ctx context.Context, dv *cdiv1.DataVolume) error {
	if dv.Status.Phase != cdiv1.Succeeded {
		return nil
	}
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace = podName(dv), dv.Namespace
	if err := r.client.Delete(ctx, pod); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("delete importer pod %s: %w", pod.Name, err)
	}
	return nil
}

// phaseEvent records a phase transition, worded for an import or a clone.
func (r *Reconciler) phaseEvent(dv *cdiv1.DataVolume, from cdiv1.DataVolumePhase) {
	if from == dv.Status.Phase {
		return
	}
	op, succeeded, failed := "Import", cdiconst.EventImportSucceeded, cdiconst.EventImportFailed
	done := "Successfully imported into PVC " + dv.Name
	if isClone(dv) {
		op, succeeded, failed = "Clone", cdiconst.EventCloneSucceeded, cdiconst.EventCloneFailed
		done = "Successfully cloned from " + cloneSourceName(dv) + " into PVC " + dv.Name
	}
	switch dv.Status.Phase {
	case cdiv1.Succeeded:
		r.recorder.Event(dv, corev1.EventTypeNormal, succeeded, done)
	case cdiv1.Failed:
		msg := op + " failed"
		c := condition(dv, cdiv1.DataVolumeRunning)
		if c != nil && c.Message != "" {
			msg += ": " + c.Message
		}
		if c != nil && c.Reason == cdiconst.ReasonUnsupported {
			failed = cdiconst.ReasonUnsupported
		}
		r.recorder.Event(dv, corev1.EventTypeWarning, failed, msg)
	case cdiv1.ImportScheduled, cdiv1.ImportInProgress, cdiv1.CloneScheduled, cdiv1.CloneInProgress, cdiv1.CSICloneInProgress:
		r.recorder.Event(dv, corev1.EventTypeNormal, string(dv.Status.Phase), op+" into PVC "+dv.Name+": "+string(dv.Status.Phase))
	}
}
