package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
)

// goldenPVC creates a source PVC of size in ns.
func goldenPVC(t *testing.T, ns, name, size string, mode corev1.PersistentVolumeMode, class *string) {
	t.Helper()
	create(t, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			VolumeMode: &mode, StorageClassName: class, Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}})
}

// cloneDV is a DataVolume in ns cloning through DataSource srcNS/ds (sourceRef), or PVC srcNS/pvc when pvc is set.
func cloneDV(ns, name, srcNS, ds, pvc, size string, mode *corev1.PersistentVolumeMode) *cdiv1.DataVolume {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cdiv1.DataVolumeSpec{
		Storage: &cdiv1.StorageSpec{VolumeMode: mode}}}
	if size != "" {
		dv.Spec.Storage.Resources.Requests = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}
	}
	if pvc != "" {
		dv.Spec.Source = &cdiv1.DataVolumeSource{PVC: &cdiv1.DataVolumeSourcePVC{Namespace: srcNS, Name: pvc}}
	} else {
		dv.Spec.SourceRef = &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: ptr.To(srcNS), Name: ds}
	}
	return dv
}

// allowClone lets service account targetNS/sa clone from srcNS, as a CDI admin would.
func allowClone(t *testing.T, srcNS, targetNS, sa string) {
	t.Helper()
	create(t, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cloner-" + sa, Namespace: srcNS},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"cdi.kubevirt.io"}, Resources: []string{"datavolumes/source"}, Verbs: []string{"create"}}}})
	create(t, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cloner-" + sa + "-" + targetNS, Namespace: srcNS},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cloner-" + sa},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: targetNS}}})
}

// waitReason waits until the DataVolume's Ready condition has reason and returns it.
func waitReason(t *testing.T, ns, name, reason string) *cdiv1.DataVolume {
	t.Helper()
	dv := &cdiv1.DataVolume{}
	eventually(t, "DataVolume "+name+" Ready reason "+reason, func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			return false, err.Error()
		}
		c := readyCondition(dv)
		return c.Reason == reason, fmt.Sprintf("phase %q Ready %+v", dv.Status.Phase, c)
	})
	return dv
}

func readyCondition(dv *cdiv1.DataVolume) cdiv1.DataVolumeCondition {
	for _, c := range dv.Status.Conditions {
		if c.Type == cdiv1.DataVolumeReady {
			return c
		}
	}
	return cdiv1.DataVolumeCondition{}
}

// waitObject waits until obj exists and returns it filled in.
func waitObject[T client.Object](t *testing.T, ns, name string, obj T) T {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s/%s", obj, ns, name), func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj)
		return err == nil, fmt.Sprint(err)
	})
	return obj
}

// waitGone waits until obj is deleted.
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s deleted", obj, obj.GetName()), func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}

// TestCloneWaitsForSource follows a sourceRef through a missing DataSource, a DataSource whose PVC is missing,
// and a Ready DataSource; each wait says why in the Ready condition.
func TestCloneWaitsForSource(t *testing.T) {
	ns := namespace(t, "clone-wait")
	create(t, cloneDV(ns, "vm-disk", ns, "golden", "", "1Gi", nil))
	dv := waitReason(t, ns, "vm-disk", cdiconst.ReasonSourceNotReady)
	if msg := readyCondition(dv).Message; dv.Status.Phase != cdiv1.Pending || !strings.Contains(msg, "DataSource "+ns+"/golden does not exist") {
		t.Errorf("phase %q message %q, want Pending naming the missing DataSource", dv.Status.Phase, msg)
	}
	create(t, &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: ns},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: "golden-disk"}}}})
	eventually(t, "wait message naming the DataSource's reason", func() (bool, string) {
		dv = waitDataVolume(t, ns, "vm-disk")
		msg := readyCondition(dv).Message
		return strings.Contains(msg, "is not Ready: NotFound"), msg
	})
	goldenPVC(t, ns, "golden-disk", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	pod := waitObject(t, ns, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})
	if got := pod.Spec.Volumes[0].PersistentVolumeClaim; got == nil || got.ClaimName != "golden-disk" || !got.ReadOnly {
		t.Errorf("source pod volume %+v, want golden-disk read-only", got)
	}
	waitPhase(t, ns, "vm-disk", cdiv1.CloneScheduled)
}

// TestCloneAcrossNamespaces drives a host-assisted clone from a golden namespace into a VM namespace,
// filesystem to block, playing the kubelet for the source and importer pods, and checks the cleanup.
func TestCloneAcrossNamespaces(t *testing.T) {
	ctx := context.Background()
	golden, vms := namespace(t, "golden"), namespace(t, "vms")
	goldenPVC(t, golden, "fedora", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	create(t, &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "fedora", Namespace: golden},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: "fedora"}}}})
	allowClone(t, golden, vms, "default")
	create(t, cloneDV(vms, "vm1-root", golden, "fedora", "", "2Gi", ptr.To(corev1.PersistentVolumeBlock)))
	dv := waitPhase(t, vms, "vm1-root", cdiv1.CloneScheduled)
	name := cdiconst.CloneSourcePrefix + string(dv.UID)

	claim := waitObject(t, vms, "vm1-root", &corev1.PersistentVolumeClaim{})
	if claim.Spec.DataSource != nil || ptr.Deref(claim.Spec.VolumeMode, "") != corev1.PersistentVolumeBlock {
		t.Errorf("target PVC dataSource %+v mode %v, want none and Block", claim.Spec.DataSource, claim.Spec.VolumeMode)
	}
	srcSecret := waitObject(t, golden, name, &corev1.Secret{})
	tgtSecret := waitObject(t, vms, cdiconst.CloneTargetPrefix+string(dv.UID), &corev1.Secret{})
	if len(srcSecret.Data[clone.KeyKey]) == 0 || len(srcSecret.Data[clone.KeyToken]) < 32 {
		t.Errorf("source Secret keys %v, want certificate, key and token", keys(srcSecret.Data))
	}
	if _, hasKey := tgtSecret.Data[clone.KeyKey]; hasKey || string(tgtSecret.Data[clone.KeyToken]) != string(srcSecret.Data[clone.KeyToken]) ||
		string(tgtSecret.Data[clone.KeyCert]) != string(srcSecret.Data[clone.KeyCert]) {
		t.Errorf("target Secret keys %v: want the source's certificate and token and never its key", keys(tgtSecret.Data))
	}
	src := waitObject(t, golden, name, &corev1.Pod{})
	if args := strings.Join(src.Spec.Containers[0].Args, " "); !strings.HasPrefix(args, "serve --file "+contract.FilesystemTarget) {
		t.Errorf("source pod args %q", args)
	}
	if _, err := clients.CoreV1().Pods(vms).Get(ctx, cdiconst.ImporterPodPrefix+"vm1-root", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("importer pod exists before the source pod runs (err %v)", err)
	}
	src.Status.Phase, src.Status.PodIP = corev1.PodRunning, "192.0.2.10" // documentation address: nothing connects in this test
	if err := k8s.Status().Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	imp := waitPod(t, vms, "vm1-root")
	env := map[string]corev1.EnvVar{}
	for _, e := range imp.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	if got := env[contract.EnvEndpoint].Value; got != "clone+https://192.0.2.10:8444/disk" {
		t.Errorf("importer endpoint %q", got)
	}
	if ref := env[contract.EnvSecretKey].ValueFrom; ref == nil || ref.SecretKeyRef.Name != tgtSecret.Name || ref.SecretKeyRef.Key != clone.KeyToken {
		t.Errorf("importer token from %+v, want Secret %s key %s", ref, tgtSecret.Name, clone.KeyToken)
	}
	if len(imp.Spec.Containers[0].VolumeDevices) != 1 || env[contract.EnvDestination].Value != contract.BlockTarget {
		t.Errorf("importer writes %q with devices %+v, want the block device", env[contract.EnvDestination].Value, imp.Spec.Containers[0].VolumeDevices)
	}
	runPod(t, imp)
	waitPhase(t, vms, "vm1-root", cdiv1.CloneInProgress)
	finishPod(t, imp, 0, contract.Termination{Result: contract.ResultSuccess, Format: "raw", VirtualSize: 1 << 30})
	waitPhase(t, vms, "vm1-root", cdiv1.Succeeded)
	waitEvent(t, vms, "DataVolume", "vm1-root", corev1.EventTypeNormal, "Clone into PVC vm1-root: CloneScheduled")
	waitEvent(t, vms, "DataVolume", "vm1-root", corev1.EventTypeNormal, "Clone into PVC vm1-root: CloneInProgress")
	waitEvent(t, vms, "DataVolume", "vm1-root", corev1.EventTypeNormal, "Successfully cloned from DataSource "+golden+"/fedora into PVC vm1-root")
	for _, obj := range []client.Object{src, srcSecret, tgtSecret} {
		waitGone(t, obj)
	}
	eventually(t, "clone finalizer removed", func() (bool, string) {
		dv = waitDataVolume(t, vms, "vm1-root")
		return len(dv.Finalizers) == 0, fmt.Sprint(dv.Finalizers)
	})
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCloneAuthorization checks the SubjectAccessReview: denied without a RoleBinding (Failed, naming the
// service account), allowed for the account named by the annotation; deleting a DataVolume mid-clone removes
// the source pod and Secret from the source namespace.
func TestCloneAuthorization(t *testing.T) {
	golden, vms := namespace(t, "golden-auth"), namespace(t, "vms-auth")
	goldenPVC(t, golden, "win", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	create(t, cloneDV(vms, "denied", golden, "", "win", "1Gi", nil))
	dv := waitPhase(t, vms, "denied", cdiv1.Failed)
	if c := readyCondition(dv); c.Reason != cdiconst.ReasonCloneUnauthorized || !strings.Contains(c.Message, vms+"/default may not clone from namespace "+golden) {
		t.Errorf("Ready %+v, want %s naming the service account", c, cdiconst.ReasonCloneUnauthorized)
	}
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: vms}})
	allowClone(t, golden, vms, "builder")
	ok := cloneDV(vms, "allowed", golden, "", "win", "", nil) // size taken from the source
	ok.Annotations = map[string]string{cdiconst.AnnCloneServiceAccount: "builder"}
	create(t, ok)
	dv = waitPhase(t, vms, "allowed", cdiv1.CloneScheduled)
	if got := waitObject(t, vms, "allowed", &corev1.PersistentVolumeClaim{}).Spec.Resources.Requests[corev1.ResourceStorage]; got.String() != "1Gi" {
		t.Errorf("target PVC size %s, want the source's 1Gi", got.String())
	}
	pod := waitObject(t, golden, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})
	secret := waitObject(t, golden, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Secret{})
	if err := k8s.Delete(context.Background(), dv); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pod)
	waitGone(t, secret)
	waitGone(t, dv)
}

// TestCloneCSI checks the offloaded clone: same namespace, class and mode on a CSI driver gives a PVC with
// dataSource and no pods; the DataVolume succeeds when the PVC binds.
func TestCloneCSI(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "clone-csi")
	driver := "csi." + ns + ".example.com"
	create(t, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driver}})
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ns + "-csi"}, Provisioner: driver})
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ns + "-local"}, Provisioner: "kubernetes.io/no-provisioner"})
	goldenPVC(t, ns, "golden", "1Gi", corev1.PersistentVolumeBlock, ptr.To(ns+"-csi"))
	block := ptr.To(corev1.PersistentVolumeBlock)
	csi := cloneDV(ns, "fast", ns, "", "golden", "1Gi", block)
	csi.Spec.Storage.StorageClassName = ptr.To(ns + "-csi")
	create(t, csi)
	dv := waitPhase(t, ns, "fast", cdiv1.CSICloneInProgress)
	claim := waitObject(t, ns, "fast", &corev1.PersistentVolumeClaim{})
	if ds := claim.Spec.DataSource; ds == nil || ds.Kind != "PersistentVolumeClaim" || ds.Name != "golden" {
		t.Fatalf("target PVC dataSource %+v, want PVC golden", ds)
	}
	claim.Status.Phase = corev1.ClaimBound
	if err := k8s.Status().Update(ctx, claim); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, ns, "fast", cdiv1.Succeeded)
	if _, err := clients.CoreV1().Pods(ns).Get(ctx, cdiconst.CloneSourcePrefix+string(dv.UID), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a CSI clone started a source pod (err %v)", err)
	}
	other := cloneDV(ns, "other-class", ns, "", "golden", "1Gi", block)
	other.Spec.Storage.StorageClassName = ptr.To(ns + "-local")
	create(t, other)
	dv = waitPhase(t, ns, "other-class", cdiv1.CloneScheduled)
	if claim := waitObject(t, ns, "other-class", &corev1.PersistentVolumeClaim{}); claim.Spec.DataSource != nil {
		t.Errorf("host-assisted target has dataSource %+v", claim.Spec.DataSource)
	}
	waitObject(t, ns, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})

	wffc := ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: ns + "-wffc"}, Provisioner: driver, VolumeBindingMode: wffc})
	goldenPVC(t, ns, "golden-wffc", "1Gi", corev1.PersistentVolumeBlock, ptr.To(ns+"-wffc"))
	late := cloneDV(ns, "late", ns, "", "golden-wffc", "1Gi", block)
	late.Spec.Storage.StorageClassName = ptr.To(ns + "-wffc")
	create(t, late)
	dv = waitPhase(t, ns, "late", cdiv1.WaitForFirstConsumer)
	if c := readyCondition(dv); !strings.Contains(c.Message, "first consumer") {
		t.Errorf("Ready %+v, want the wait for a consumer named", c)
	}
}

// TestCloneTooSmall checks that a target smaller than its source fails with a message giving both sizes
// (the target's 1Gi grown by the default filesystem overhead is 1084Mi).
func TestCloneTooSmall(t *testing.T) {
	ns := namespace(t, "clone-small")
	goldenPVC(t, ns, "big", "2Gi", corev1.PersistentVolumeFilesystem, nil)
	create(t, cloneDV(ns, "small", ns, "", "big", "1Gi", nil))
	dv := waitPhase(t, ns, "small", cdiv1.Failed)
	if c := readyCondition(dv); c.Reason != cdiconst.ReasonCloneTooSmall || !strings.Contains(c.Message, "target size 1084Mi is smaller than the source PVC's 2Gi") {
		t.Errorf("Ready %+v, want %s with both sizes", c, cdiconst.ReasonCloneTooSmall)
	}
	waitEvent(t, ns, "DataVolume", "small", corev1.EventTypeWarning, "Clone failed: target size 1084Mi")
}

// TestCloneWaitsForImport checks a source.pvc clone: Pending while the PVC is missing, then while the
// DataVolume writing it imports, and under way once that import succeeded.
func TestCloneWaitsForImport(t *testing.T) {
	ns := namespace(t, "clone-import")
	create(t, cloneDV(ns, "copy", ns, "", "golden", "1Gi", nil))
	dv := waitReason(t, ns, "copy", cdiconst.ReasonCloneWithoutSource)
	if msg := readyCondition(dv).Message; !strings.Contains(msg, "source PVC "+ns+"/golden does not exist") {
		t.Errorf("Ready message %q does not name the missing PVC", msg)
	}
	create(t, &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: ns}, Spec: cdiv1.DataVolumeSpec{
		Source: &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}},
		Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceStorage: resource.MustParse("1Gi")}}}}})
	eventually(t, "clone waiting for the import", func() (bool, string) {
		dv = waitDataVolume(t, ns, "copy")
		msg := readyCondition(dv).Message
		return strings.Contains(msg, "source DataVolume "+ns+"/golden is") && strings.Contains(msg, "not Succeeded"), msg
	})
	if _, err := clients.CoreV1().Pods(ns).Get(context.Background(), cdiconst.CloneSourcePrefix+string(dv.UID), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("source pod created before the source was imported (err %v)", err)
	}
	importOK(t, ns, "golden")
	waitPhase(t, ns, "copy", cdiv1.CloneScheduled)
}

// TestCloneSourceServesAgain checks that when the importer fails (retryably) after the source pod served its one
// stream and exited, the source pod is replaced so the next importer has something to read.
func TestCloneSourceServesAgain(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "clone-again")
	goldenPVC(t, ns, "golden", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	create(t, cloneDV(ns, "copy", ns, "", "golden", "1Gi", nil))
	dv := waitPhase(t, ns, "copy", cdiv1.CloneScheduled)
	src := waitObject(t, ns, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})
	src.Status.Phase, src.Status.PodIP = corev1.PodRunning, "192.0.2.11"
	if err := k8s.Status().Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	imp := waitPod(t, ns, "copy")
	src.Status.Phase = corev1.PodSucceeded
	if err := k8s.Status().Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	finishPod(t, imp, contract.ExitRetryable, contract.Termination{Result: contract.ResultFailure, Retryable: true, Message: "sync failed"})
	again := &corev1.Pod{}
	eventually(t, "a new source pod", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(src), again)
		return err == nil && again.UID != src.UID, fmt.Sprint(err)
	})
	again.Status.Phase, again.Status.PodIP = corev1.PodRunning, "192.0.2.12"
	if err := k8s.Status().Update(ctx, again); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the importer retried against the new source pod", func() (bool, string) {
		dv = waitDataVolume(t, ns, "copy")
		pod := &corev1.Pod{}
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cdiconst.ImporterPodPrefix + "copy"}, pod)
		endpoint := ""
		if err == nil {
			endpoint = pod.Spec.Containers[0].Env[0].Value
		}
		return dv.Status.RestartCount == 1 && pod.UID != imp.UID && strings.Contains(endpoint, "192.0.2.12"),
			fmt.Sprintf("phase %s restarts %d importer %v endpoint %q", dv.Status.Phase, dv.Status.RestartCount, err, endpoint)
	})
}

// TestCloneSourceMoved checks that a DataSource repointed into another namespace mid-clone fails the clone
// instead of copying from a namespace the review never covered, and removes the source pod.
func TestCloneSourceMoved(t *testing.T) {
	ctx := context.Background()
	golden, other, vms := namespace(t, "golden-moved"), namespace(t, "other-moved"), namespace(t, "vms-moved")
	goldenPVC(t, golden, "disk", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	goldenPVC(t, other, "secret-disk", "1Gi", corev1.PersistentVolumeFilesystem, nil)
	ds := &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Name: "os", Namespace: golden},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: "disk"}}}}
	create(t, ds)
	allowClone(t, golden, vms, "default")
	create(t, cloneDV(vms, "root", golden, "os", "", "1Gi", nil))
	dv := waitPhase(t, vms, "root", cdiv1.CloneScheduled)
	pod := waitObject(t, golden, cdiconst.CloneSourcePrefix+string(dv.UID), &corev1.Pod{})
	patch := client.MergeFrom(ds.DeepCopy())
	ds.Spec.Source.PVC = &cdiv1.DataVolumeSourcePVC{Namespace: other, Name: "secret-disk"}
	if err := k8s.Patch(ctx, ds, patch); err != nil {
		t.Fatal(err)
	}
	dv = waitPhase(t, vms, "root", cdiv1.Failed)
	if c := readyCondition(dv); c.Reason != cdiconst.ReasonCloneUnauthorized || !strings.Contains(c.Message, "moved from namespace "+golden+" to "+other) {
		t.Errorf("Ready %+v, want the move named", c)
	}
	waitGone(t, pod)
	if _, err := clients.CoreV1().Pods(other).Get(ctx, cdiconst.CloneSourcePrefix+string(dv.UID), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("source pod started in the unreviewed namespace (err %v)", err)
	}
}
