package controller

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// zapLevel is the controller log level: errors only unless GOLDIMAGE_TEST_LOG=debug.
func zapLevel() zapcore.Level {
	if os.Getenv("GOLDIMAGE_TEST_LOG") == "debug" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// waitLimit bounds each wait for the controller; it is a safety net, not a timing assertion.
const waitLimit = 60 * time.Second

// eventually polls check until it reports done, failing the test with the last state after waitLimit.
func eventually(t *testing.T, what string, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	var state string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, state = check(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s; last state: %s", what, state)
}

// namespace creates a namespace with the default ServiceAccount (no controller-manager creates it here).
func namespace(t *testing.T, prefix string) string {
	t.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns.Name}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatalf("create default ServiceAccount: %v", err)
	}
	return ns.Name
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// pushDisk pushes a small random containerDisk to repoAndTag and returns its digest.
func pushDisk(t *testing.T, reg *registrytest.Server, repoAndTag string) string {
	t.Helper()
	disk := make([]byte, 64<<10)
	if _, err := rand.Read(disk); err != nil {
		t.Fatal(err)
	}
	return reg.PushDisk(t, repoAndTag, disk)
}

// newCron is a DataImportCron polling url into DataSource source, with no schedule (initial and forced polls only).
func newCron(ns, source, url string, keep int32) *cdiv1.DataImportCron {
	return &cdiv1.DataImportCron{
		ObjectMeta: metav1.ObjectMeta{Name: source + "-cron", Namespace: ns},
		Spec: cdiv1.DataImportCronSpec{
			ManagedDataSource: source,
			ImportsToKeep:     ptr.To(keep),
			Template: cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url}},
				Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse("64Mi")}}},
			}},
		},
	}
}

// forcePoll sets the reconcile-request annotation to a new value.
func forcePoll(t *testing.T, ns, name string) {
	t.Helper()
	c := &cdiv1.DataImportCron{}
	key := client.ObjectKey{Namespace: ns, Name: name}
	for attempt := 0; ; attempt++ {
		if err := k8s.Get(context.Background(), key, c); err != nil {
			t.Fatalf("get DataImportCron: %v", err)
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[cdiconst.AnnReconcileRequest] = time.Now().Format(time.RFC3339Nano)
		err := k8s.Update(context.Background(), c)
		if err == nil {
			return
		}
		if attempt > 20 {
			t.Fatalf("annotate DataImportCron: %v", err)
		}
	}
}

// waitDataVolume waits until the DataVolume exists and returns it.
func waitDataVolume(t *testing.T, ns, name string) *cdiv1.DataVolume {
	t.Helper()
	dv := &cdiv1.DataVolume{}
	eventually(t, "DataVolume "+name, func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv)
		return err == nil, fmt.Sprint(err)
	})
	return dv
}

// waitPod waits for the importer pod of DataVolume dv.
func waitPod(t *testing.T, ns, dv string) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{}
	eventually(t, "importer pod of "+dv, func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: cdiconst.ImporterPodPrefix + dv}, pod)
		return err == nil && pod.DeletionTimestamp.IsZero(), fmt.Sprint(err)
	})
	return pod
}

// finishPod plays the kubelet: the importer container terminated with exit code and termination message.
func finishPod(t *testing.T, pod *corev1.Pod, exit int32, term contract.Termination) {
	t.Helper()
	msg, err := term.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pod.Status.Phase = corev1.PodSucceeded
	reason := "Completed"
	if exit != 0 {
		pod.Status.Phase, reason = corev1.PodFailed, "Error"
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: cdiconst.ImporterContainer, Image: importerImage,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: reason, Message: string(msg)}}}}
	if err := k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatalf("update pod %s status: %v", pod.Name, err)
	}
}

// runPod plays the kubelet starting the importer container.
func runPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: cdiconst.ImporterContainer, Image: importerImage, Ready: true,
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}}
	if err := k8s.Status().Update(context.Background(), pod); err != nil {
		t.Fatalf("update pod %s status: %v", pod.Name, err)
	}
}

// waitPhase waits for the DataVolume to reach phase.
func waitPhase(t *testing.T, ns, name string, phase cdiv1.DataVolumePhase) *cdiv1.DataVolume {
	t.Helper()
	dv := &cdiv1.DataVolume{}
	eventually(t, "DataVolume "+name+" "+string(phase), func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			return false, err.Error()
		}
		return dv.Status.Phase == phase, fmt.Sprintf("phase %q conditions %+v", dv.Status.Phase, dv.Status.Conditions)
	})
	return dv
}

// importOK completes the import of DataVolume name successfully, as the kubelet and importer would.
func importOK(t *testing.T, ns, name string) {
	t.Helper()
	waitDataVolume(t, ns, name)
	finishPod(t, waitPod(t, ns, name), 0, contract.Termination{Result: contract.ResultSuccess, Format: "qcow2", VirtualSize: 64 << 20})
	waitPhase(t, ns, name, cdiv1.Succeeded)
}

// waitDataSource waits until DataSource source is Ready and points at PVC pvc.
func waitDataSource(t *testing.T, ns, source, pvc string) {
	t.Helper()
	waitDataSourceOn(t, ns, source, pvc, func(s cdiv1.DataSourceSource) bool { return s.PVC != nil && s.PVC.Name == pvc })
}

// waitDataSourceOn waits until DataSource source is Ready and its spec.source satisfies on (what names it), and
// returns it.
func waitDataSourceOn(t *testing.T, ns, source, what string, on func(cdiv1.DataSourceSource) bool) *cdiv1.DataSource {
	t.Helper()
	ds := &cdiv1.DataSource{}
	eventually(t, "DataSource "+source+" Ready on "+what, func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: source}, ds); err != nil {
			return false, err.Error()
		}
		ready := false
		for _, c := range ds.Status.Conditions {
			ready = ready || (c.Type == cdiv1.DataSourceReady && c.Status == corev1.ConditionTrue)
		}
		return ready && on(ds.Spec.Source), fmt.Sprintf("source %+v conditions %+v", ds.Spec.Source, ds.Status.Conditions)
	})
	return ds
}

// cronCondition returns the cron's condition of type typ (zero if missing).
func cronCondition(c *cdiv1.DataImportCron, typ cdiv1.DataImportCronConditionType) cdiv1.DataImportCronCondition {
	for _, cond := range c.Status.Conditions {
		if cond.Type == typ {
			return cond
		}
	}
	return cdiv1.DataImportCronCondition{}
}

// waitCron waits until check accepts the cron.
func waitCron(t *testing.T, ns, name, what string, check func(*cdiv1.DataImportCron) bool) *cdiv1.DataImportCron {
	t.Helper()
	c := &cdiv1.DataImportCron{}
	eventually(t, what, func() (bool, string) {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return false, err.Error()
		}
		return check(c), fmt.Sprintf("annotations %v status %+v", c.Annotations, c.Status)
	})
	return c
}

// waitEvent waits for an event of type typ about kind/name whose message contains substr.
func waitEvent(t *testing.T, ns, kind, name, typ, substr string) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s event on %s %s containing %q", typ, kind, name, substr), func() (bool, string) {
		list, err := clients.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
				if e.Type == typ && strings.Contains(e.Message, substr) {
					return true, ""
				}
				seen = append(seen, e.Type+" "+e.Reason+": "+e.Message)
			}
		}
		return false, fmt.Sprintf("events %q", seen)
	})
}

func dvName(source, digest string) string { return cron.ImportName(source, digest) }
