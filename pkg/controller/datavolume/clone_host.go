package datavolume

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
)

// csiClone creates the target PVC with spec.dataSource naming the source; the CSI driver copies, and the
// DataVolume succeeds once the PVC is bound.
func (r *Reconciler) csiClone(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim, spec corev1.PersistentVolumeClaimSpec) (ctrl.Result, error) {
	spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: src.Name}
	if isSnapshot(src) {
		return r.csiRestore(ctx, dv, src, spec)
	}
	claim, err := r.ensureClaim(ctx, dv, spec)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBound(dv, claim)
	if claim.Status.Phase == corev1.ClaimBound {
		succeedCSI(dv, "Cloned by the CSI driver from PVC "+src.Namespace+"/"+src.Name)
		return ctrl.Result{}, nil
	}
	dv.Status.Phase = cdiv1.CSICloneInProgress
	msg := "CSI clone of PVC " + src.Namespace + "/" + src.Name + " in progress"
	if r.waitsForConsumer(ctx, claim) {
		// KubeVirt starts a VM whose DataVolume waits for its first consumer; the VM's pod then binds the PVC.
		dv.Status.Phase = cdiv1.WaitForFirstConsumer
		msg = "CSI clone of PVC " + src.Namespace + "/" + src.Name + " waits for the first consumer of PVC " + claim.Name
	}
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionTrue, cdiconst.ReasonCSIClone, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, cdiconst.ReasonCSIClone, msg)
	return ctrl.Result{}, nil
}

// succeedCSI marks dv done by its CSI driver, msg saying how.
func succeedCSI(dv *cdiv1.DataVolume, msg string) {
	succeed(dv, contract.Termination{})
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, cdiconst.ReasonCompleted, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionTrue, cdiconst.ReasonCompleted, msg)
}

// waitsForConsumer reports whether claim is unbound in a WaitForFirstConsumer storage class.
func (r *Reconciler) waitsForConsumer(ctx context.Context, claim *corev1.PersistentVolumeClaim) bool {
	if claim.Status.Phase == corev1.ClaimBound || claim.Spec.StorageClassName == nil {
		return false
	}
	sc := &storagev1.StorageClass{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: *claim.Spec.StorageClassName}, sc); err != nil {
		return false
	}
	return ptr.Deref(sc.VolumeBindingMode, storagev1.VolumeBindingImmediate) == storagev1.VolumeBindingWaitForFirstConsumer
}

// hostClone runs a source pod serving the source PVC over TLS and an importer pod writing the target PVC.
func (r *Reconciler) hostClone(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim, spec corev1.PersistentVolumeClaimSpec) (ctrl.Result, error) {
	claim, err := r.ensureClaim(ctx, dv, spec)
	if err != nil {
		return ctrl.Result{}, err
	}
	setBound(dv, claim)
	if !bindsImmediately(dv) && r.waitsForConsumer(ctx, claim) {
		waitForConsumer(dv, claim)
		return ctrl.Result{}, nil // the PVC's binding brings the next reconcile
	}
	if err := r.addCloneFinalizer(ctx, dv); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.ensureCloneSecrets(ctx, dv, src.Namespace); err != nil {
		return ctrl.Result{}, err
	}
	srcPod, err := r.ensureSourcePod(ctx, dv, src)
	if err != nil || srcPod == nil {
		return ctrl.Result{}, err
	}
	if ready, res, err := r.sourceServes(ctx, dv, srcPod); !ready || err != nil {
		return res, err
	}
	return r.runImporter(ctx, dv, claim, srcPod)
}

// sourceServes reports whether the source pod can serve the importer now; otherwise dv says why (Failed,
// or waiting for the pod) and the result says when to look again.
func (r *Reconciler) sourceServes(ctx context.Context, dv *cdiv1.DataVolume, srcPod *corev1.Pod) (bool, ctrl.Result, error) {
	switch {
	case srcPod.Status.Phase == corev1.PodFailed:
		fail(dv, cdiconst.ReasonError, fmt.Sprintf("clone source pod %s/%s failed%s", srcPod.Namespace, srcPod.Name, podMessage(srcPod)))
		return false, ctrl.Result{}, r.cleanupClone(ctx, dv)
	case srcPod.Status.Phase == corev1.PodSucceeded && !r.importerSucceeded(ctx, dv):
		// The source served one complete stream and exited, but the importer did not finish with it: serve again.
		if err := r.client.Delete(ctx, srcPod); client.IgnoreNotFound(err) != nil {
			return false, ctrl.Result{}, fmt.Errorf("delete finished clone source pod %s/%s: %w", srcPod.Namespace, srcPod.Name, err)
		}
		return false, ctrl.Result{RequeueAfter: r.sourceWait}, nil
	case srcPod.Status.Phase == corev1.PodSucceeded, srcPod.Status.Phase == corev1.PodRunning && srcPod.Status.PodIP != "":
		return true, ctrl.Result{}, nil
	}
	dv.Status.Phase = cdiv1.CloneScheduled
	msg := fmt.Sprintf("clone source pod %s/%s is %s", srcPod.Namespace, srcPod.Name, strings.ToLower(string(srcPod.Status.Phase)))
	setCondition(dv, cdiv1.DataVolumeRunning, corev1.ConditionFalse, cdiconst.ReasonCloneScheduled, msg)
	setCondition(dv, cdiv1.DataVolumeReady, corev1.ConditionFalse, cdiconst.ReasonCloneScheduled, msg)
	return false, ctrl.Result{}, nil // the source pod's changes wake dv
}

// runImporter runs the importer pod reading from the source pod and maps its state onto dv with CDI's clone phases.
func (r *Reconciler) runImporter(ctx context.Context, dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim, srcPod *corev1.Pod) (ctrl.Result, error) {
	endpoint := clone.Scheme + "://" + net.JoinHostPort(srcPod.Status.PodIP, strconv.Itoa(contract.ClonePort)) + clone.Path
	pod, err := r.ensurePod(ctx, dv, claim, importSource{kind: "clone", endpoint: endpoint, cloneSecret: targetSecretName(dv)})
	if err != nil || pod == nil {
		return ctrl.Result{RequeueAfter: r.sourceWait}, err
	}
	res, err := r.observePod(ctx, dv, pod)
	switch dv.Status.Phase {
	case cdiv1.ImportScheduled:
		dv.Status.Phase = cdiv1.CloneScheduled
	case cdiv1.ImportInProgress:
		dv.Status.Phase = cdiv1.CloneInProgress
	case cdiv1.Succeeded, cdiv1.Failed:
		err = joinErr(err, r.cleanupClone(ctx, dv))
	}
	return res, err
}

// importerSucceeded reports whether the target importer pod of dv has terminated successfully.
func (r *Reconciler) importerSucceeded(ctx context.Context, dv *cdiv1.DataVolume) bool {
	pod := &corev1.Pod{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: dv.Namespace, Name: podName(dv)}, pod)
	return err == nil && pod.Status.Phase == corev1.PodSucceeded
}

// ensureCloneSecrets creates the source Secret (certificate, key, token) in the source namespace once, and
// keeps the target Secret (certificate, token) in the DataVolume's namespace in step with it.
func (r *Reconciler) ensureCloneSecrets(ctx context.Context, dv *cdiv1.DataVolume, srcNamespace string) error {
	source := &corev1.Secret{}
	key := client.ObjectKey{Namespace: srcNamespace, Name: sourceName(dv)}
	err := r.reader.Get(ctx, key, source)
	if apierrors.IsNotFound(err) {
		creds, cerr := clone.NewCredentials(cloneCredentialValidity)
		if cerr != nil {
			return cerr
		}
		source = cloneSecret(dv, key, map[string][]byte{clone.KeyCert: creds.CertPEM, clone.KeyKey: creds.KeyPEM, clone.KeyToken: []byte(creds.Token)})
		err = r.client.Create(ctx, source)
	}
	if err != nil {
		return fmt.Errorf("clone source Secret %s: %w", key, err)
	}
	want := map[string][]byte{clone.KeyCert: source.Data[clone.KeyCert], clone.KeyToken: source.Data[clone.KeyToken]}
	target := &corev1.Secret{}
	tkey := client.ObjectKey{Namespace: dv.Namespace, Name: targetSecretName(dv)}
	err = r.reader.Get(ctx, tkey, target)
	switch {
	case apierrors.IsNotFound(err):
		target = cloneSecret(dv, tkey, want)
		if err := controllerutil.SetControllerReference(dv, target, r.client.Scheme()); err != nil {
			return fmt.Errorf("own clone Secret %s: %w", tkey, err)
		}
		err = r.client.Create(ctx, target)
	case err == nil && (!bytes.Equal(target.Data[clone.KeyCert], want[clone.KeyCert]) || !bytes.Equal(target.Data[clone.KeyToken], want[clone.KeyToken])):
		target.Data = want
		err = r.client.Update(ctx, target)
	}
	if err != nil {
		return fmt.Errorf("clone target Secret %s: %w", tkey, err)
	}
	return nil
}

// ensureSourcePod gets or creates the source pod; nil without error while an old one is terminating.
func (r *Reconciler) ensureSourcePod(ctx context.Context, dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	key := client.ObjectKey{Namespace: src.Namespace, Name: sourceName(dv)}
	err := r.client.Get(ctx, key, pod)
	switch {
	case err == nil && !pod.DeletionTimestamp.IsZero():
		return nil, nil
	case err == nil:
		return pod, nil
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get clone source pod %s: %w", key, err)
	}
	pod = newSourcePod(dv, src, r.pod)
	if err := r.client.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create clone source pod %s: %w", key, err)
	}
	return pod, nil
}

// cleanupClone deletes the source pod, the PVC restored from a snapshot source and both Secrets, then drops the finalizer; the target importer pod
// goes as for imports (deleted on success, kept for its logs on failure).
func (r *Reconciler) cleanupClone(ctx context.Context, dv *cdiv1.DataVolume) error {
	if !controllerutil.ContainsFinalizer(dv, cdiconst.FinalizerCloneCleanup) {
		return r.cleanupPod(ctx, dv)
	}
	srcNamespace := dv.Annotations[cdiconst.AnnCloneSourceNS]
	objs := []client.Object{
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: srcNamespace, Name: sourceName(dv)}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: srcNamespace, Name: restoreName(dv)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: srcNamespace, Name: sourceName(dv)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: dv.Namespace, Name: targetSecretName(dv)}},
	}
	for _, o := range objs {
		if o.GetNamespace() == "" {
			continue
		}
		if err := r.client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete clone %T %s/%s: %w", o, o.GetNamespace(), o.GetName(), err)
		}
	}
	if err := r.cleanupPod(ctx, dv); err != nil {
		return err
	}
	return r.editFinalizer(ctx, dv, false, "")
}

// addCloneFinalizer records the source namespace and the finalizer before anything is created there.
func (r *Reconciler) addCloneFinalizer(ctx context.Context, dv *cdiv1.DataVolume) error {
	if controllerutil.ContainsFinalizer(dv, cdiconst.FinalizerCloneCleanup) {
		return nil
	}
	src, _, _, err := r.sourceKey(ctx, dv)
	if err != nil {
		return err
	}
	return r.editFinalizer(ctx, dv, true, src.Namespace)
}

// editFinalizer adds (with the source namespace annotation) or removes the clone finalizer, keeping the status computed so far.
func (r *Reconciler) editFinalizer(ctx context.Context, dv *cdiv1.DataVolume, add bool, srcNamespace string) error {
	patch := client.MergeFrom(dv.DeepCopy())
	if add {
		controllerutil.AddFinalizer(dv, cdiconst.FinalizerCloneCleanup)
		if dv.Annotations == nil {
			dv.Annotations = map[string]string{}
		}
		dv.Annotations[cdiconst.AnnCloneSourceNS] = srcNamespace
	} else if !controllerutil.RemoveFinalizer(dv, cdiconst.FinalizerCloneCleanup) {
		return nil
	}
	status := dv.Status.DeepCopy()
	if err := r.client.Patch(ctx, dv, patch); err != nil {
		return fmt.Errorf("update clone finalizer of DataVolume %s/%s: %w", dv.Namespace, dv.Name, err)
	}
	dv.Status = *status
	return nil
}

// finalize cleans up a deleted cloning DataVolume's source side.
func (r *Reconciler) finalize(ctx context.Context, dv *cdiv1.DataVolume) error {
	if !controllerutil.ContainsFinalizer(dv, cdiconst.FinalizerCloneCleanup) {
		return nil
	}
	return r.cleanupClone(ctx, dv)
}

// cloneTargetOf maps a clone source pod (in any namespace) to the DataVolume it serves.
func cloneTargetOf(_ context.Context, obj client.Object) []reconcile.Request {
	ns, name, ok := strings.Cut(obj.GetAnnotations()[cdiconst.AnnCloneTarget], "/")
	if !ok || obj.GetLabels()[cdiconst.LabelCloneOf] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}}
}

func sourceName(dv *cdiv1.DataVolume) string { return cdiconst.CloneSourcePrefix + string(dv.UID) }
func targetSecretName(dv *cdiv1.DataVolume) string {
	return cdiconst.CloneTargetPrefix + string(dv.UID)
}

func podMessage(pod *corev1.Pod) string {
	for _, s := range pod.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil {
			return fmt.Sprintf(": exit code %d (%s) %s", t.ExitCode, t.Reason, t.Message)
		}
	}
	if pod.Status.Message != "" {
		return ": " + pod.Status.Message
	}
	return ""
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	if b == nil {
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}

// cloneSourceField indexes DataVolumes by what their clone waits for: "DataSource/ns/name" or "PVC/ns/name".
const cloneSourceField = "goldimage.clone.source"

// cloneSourceKeys is the index function of cloneSourceField.
func cloneSourceKeys(obj client.Object) []string {
	dv, ok := obj.(*cdiv1.DataVolume)
	if !ok {
		return nil
	}
	if ref := dv.Spec.SourceRef; ref != nil && ref.Kind == cdiv1.DataVolumeDataSource {
		return []string{"DataSource/" + defaultString(ptr.Deref(ref.Namespace, ""), dv.Namespace) + "/" + ref.Name}
	}
	if dv.Spec.Source != nil && dv.Spec.Source.PVC != nil {
		return []string{"PVC/" + defaultString(dv.Spec.Source.PVC.Namespace, dv.Namespace) + "/" + dv.Spec.Source.PVC.Name}
	}
	return nil
}

// clonesOf maps a DataSource, PVC or DataVolume to the unfinished clones that wait for it (a DataVolume
// stands for the PVC it writes), so they move as soon as their source is ready.
func (r *Reconciler) clonesOf(ctx context.Context, obj client.Object) []reconcile.Request {
	kind := "PVC/"
	if _, ok := obj.(*cdiv1.DataSource); ok {
		kind = "DataSource/"
	}
	var list cdiv1.DataVolumeList
	if err := r.client.List(ctx, &list, client.MatchingFields{cloneSourceField: kind + obj.GetNamespace() + "/" + obj.GetName()}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, dv := range list.Items {
		if dv.Status.Phase != cdiv1.Succeeded && dv.Status.Phase != cdiv1.Failed {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: dv.Namespace, Name: dv.Name}})
		}
	}
	return out
}
