package tasks

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/goldimage/goldimage/pkg/tasks/datasource"
	"github.com/goldimage/goldimage/pkg/tasks/vm"
)

const installerManifest = `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  generateName: win11-installer-
spec:
  runStrategy: RerunOnFailure
  template:
    spec:
      domain:
        devices: {}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata:
  name: win11-root
spec:
  source:
    blank: {}
  storage:
    resources:
      requests:
        storage: 64Gi
`

// TestInstallerVMLifecycle creates the manifest, plays KubeVirt's part in the status, waits for the
// power-off, and deletes the VM while keeping the DataVolume it owned.
func TestInstallerVMLifecycle(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	refs, err := vm.Create(ctx, dyn, mapper, ns, strings.NewReader(installerManifest))
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 2 || refs[0].Kind != "VirtualMachine" || !strings.HasPrefix(refs[0].Name, "win11-installer-") ||
		refs[1] != (vm.Ref{Kind: "DataVolume", Namespace: ns, Name: "win11-root"}) {
		t.Fatalf("created %+v", refs)
	}
	name := refs[0].Name
	vms := dyn.Resource(vm.VirtualMachines).Namespace(ns)
	obj, err := vms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	own(t, ns, "win11-root", obj)

	waiter, gets := observedClient(t, "/virtualmachines/"+name)
	waitDone := make(chan error, 1)
	go func() {
		waitDone <- vm.WaitStopped(ctx, waiter, ns, name, vm.WaitOptions{Interval: 50 * time.Millisecond, Timeout: 2 * time.Minute})
	}()
	for _, status := range []string{"Provisioning", "Running", "Stopped"} {
		setStatus(t, ns, name, map[string]any{"printableStatus": status, "created": status != "Provisioning"})
		if status != "Stopped" {
			gets.awaitLookAfterNow(t, waitDone, "the VM "+status)
		}
	}
	if err := <-waitDone; err != nil {
		t.Fatal(err)
	}
	if err := vm.DeleteKeepingDataVolumes(ctx, dyn, ns, name, []string{"win11-root"}); err != nil {
		t.Fatal(err)
	}
	if _, err := vms.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("VM still there after delete: %v", err)
	}
	dv, err := dyn.Resource(vm.DataVolumes).Namespace(ns).Get(ctx, "win11-root", metav1.GetOptions{})
	if err != nil || len(dv.GetOwnerReferences()) != 0 {
		t.Fatalf("kept DataVolume: %v, owners %v; want it without owner references", err, dv.GetOwnerReferences())
	}
	if err := vm.DeleteKeepingDataVolumes(ctx, dyn, ns, name, nil); err != nil {
		t.Fatalf("deleting a VM that is gone: %v", err)
	}
}

func TestWaitFailsFast(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	refs, err := vm.Create(ctx, dyn, mapper, ns, strings.NewReader(installerManifest))
	if err != nil {
		t.Fatal(err)
	}
	// A guest that never powers off: the wait's own timeout names itself and what it last saw.
	setStatus(t, ns, refs[0].Name, map[string]any{"printableStatus": "Running", "created": true})
	err = vm.WaitStopped(ctx, dyn, ns, refs[0].Name, vm.WaitOptions{Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out after 300ms; last seen printableStatus Running") {
		t.Fatalf("wait error %v, want the timeout and the last status named", err)
	}
	setStatus(t, ns, refs[0].Name, map[string]any{"printableStatus": "ErrorUnschedulable"})
	err = vm.WaitStopped(ctx, dyn, ns, refs[0].Name, vm.WaitOptions{Interval: 50 * time.Millisecond, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "cannot start: status ErrorUnschedulable") {
		t.Fatalf("wait error %v, want the unschedulable status named", err)
	}
	// Give up (cancel) once the wait has seen the DataVolume missing: the error names that answer.
	waiter, gets := observedClient(t, "/datavolumes/missing")
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	waitDone := make(chan error, 1)
	go func() {
		waitDone <- vm.WaitDataVolume(waitCtx, waiter, ns, "missing", vm.WaitOptions{Interval: 50 * time.Millisecond})
	}()
	gets.awaitLookAfterNow(t, waitDone, "the DataVolume missing")
	cancel()
	err = <-waitDone
	if err == nil || !strings.Contains(err.Error(), "gave up waiting") ||
		!strings.Contains(err.Error(), `datavolumes.cdi.kubevirt.io "missing" not found`) {
		t.Fatalf("wait for a missing DataVolume: %v, want the last not-found error", err)
	}
}

func TestCreateRejectsBadManifests(t *testing.T) {
	ns := namespace(t)
	tests := []struct {
		manifest, want string
	}{
		{"", "manifest holds no objects"},
		{"apiVersion: v1\nkind: Nonsense\nmetadata: {name: x}\n", "resolve /v1, Kind=Nonsense"},
		{"kind: ConfigMap\n", "lacks apiVersion or kind"},
		{"{not yaml", "decode manifest document 1"},
	}
	for _, tt := range tests {
		_, err := vm.Create(context.Background(), dyn, mapper, ns, strings.NewReader(tt.manifest))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Create(%q) error %v, want %q", tt.manifest, err, tt.want)
		}
	}
}

func TestPointDataSource(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	steps := []struct {
		pvc         string
		wantChanged bool
	}{{"win11-a", true}, {"win11-a", false}, {"win11-b", true}}
	for _, s := range steps {
		changed, err := datasource.Point(ctx, dyn, ns, "win11", datasource.PVC{Namespace: ns, Name: s.pvc})
		if err != nil || changed != s.wantChanged {
			t.Fatalf("Point(%s) = %v, %v; want changed %v", s.pvc, changed, err, s.wantChanged)
		}
		ds, err := dyn.Resource(datasource.DataSources).Namespace(ns).Get(ctx, "win11", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got, _, _ := unstructured.NestedString(ds.Object, "spec", "source", "pvc", "name"); got != s.pvc {
			t.Fatalf("DataSource points at %q, want %q", got, s.pvc)
		}
	}
	if _, err := datasource.Point(ctx, dyn, ns, "win11", datasource.PVC{Namespace: ns}); err == nil {
		t.Fatal("Point accepted an empty PVC name")
	}
}

func own(t *testing.T, ns, dvName string, owner *unstructured.Unstructured) {
	t.Helper()
	dvs := dyn.Resource(vm.DataVolumes).Namespace(ns)
	dv, err := dvs.Get(context.Background(), dvName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dv.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "kubevirt.io/v1", Kind: "VirtualMachine",
		Name: owner.GetName(), UID: owner.GetUID()}})
	if _, err := dvs.Update(context.Background(), dv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func setStatus(t *testing.T, ns, name string, status map[string]any) {
	t.Helper()
	vms := dyn.Resource(vm.VirtualMachines).Namespace(ns)
	obj, err := vms.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	obj.Object["status"] = status
	if _, err := vms.UpdateStatus(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// getCounter counts the GET requests a client sends for one object, so that a test can wait until a
// poller has looked at the object again instead of sleeping.
type getCounter struct {
	path    string // suffix of the object's URL path
	mu      sync.Mutex
	n       int
	changed chan struct{} // closed and replaced on every count
}

func (g *getCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, g.path) {
			g.mu.Lock()
			g.n++
			close(g.changed)
			g.changed = make(chan struct{})
			g.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (g *getCounter) count() (int, <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n, g.changed
}

// awaitLookAfterNow returns once the poller has judged the object as it is now and kept waiting:
// a GET sent after this call sees the current state, and the poller sends the next GET only after
// judging that answer "not done". It fails when the wait returns first, or after a safety net of
// two minutes that only a stuck poller reaches.
func (g *getCounter) awaitLookAfterNow(t *testing.T, waitDone <-chan error, state string) {
	t.Helper()
	start, _ := g.count()
	safety := time.NewTimer(2 * time.Minute)
	defer safety.Stop()
	for {
		n, changed := g.count()
		if n >= start+2 {
			return
		}
		select {
		case <-changed:
		case err := <-waitDone:
			t.Fatalf("wait returned %v after seeing %s", err, state)
		case <-safety.C:
			t.Fatalf("stuck: the wait sent no GET in 2 minutes after %s", state)
		}
	}
}

// observedClient returns a dynamic client whose GETs of the object at path are counted.
func observedClient(t *testing.T, path string) (dynamic.Interface, *getCounter) {
	t.Helper()
	g := &getCounter{path: path, changed: make(chan struct{})}
	cfg := rest.CopyConfig(restConfig)
	cfg.Wrap(g.wrap)
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestDeleteKeepsDataVolumesKubeVirtAdopts plays KubeVirt's VM controller, which adopts every DataVolume a VM's
// dataVolumeTemplates name: the kept DataVolume leaves the templates before it is released, and an adoption that
// lands after the release (while the VM is still being deleted, here held by a finalizer) is undone.
func TestDeleteKeepsDataVolumesKubeVirtAdopts(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	const manifest = `
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: installer, finalizers: [goldimage.test/hold]}
spec:
  dataVolumeTemplates:
    - metadata: {name: root}
      spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 1Gi}}}}
    - metadata: {name: scratch}
      spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 1Gi}}}}
  template: {spec: {domain: {devices: {}}}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: root}
spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 1Gi}}}}
`
	if _, err := vm.Create(ctx, dyn, mapper, ns, strings.NewReader(manifest)); err != nil {
		t.Fatal(err)
	}
	vms := dyn.Resource(vm.VirtualMachines).Namespace(ns)
	obj, err := vms.Get(ctx, "installer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	own(t, ns, "root", obj)

	done := make(chan error, 1)
	go func() { done <- vm.DeleteKeepingDataVolumes(ctx, dyn, ns, "installer", []string{"root"}) }()
	var deleting *unstructured.Unstructured
	waitUntil(t, "the VM marked deleted", func() bool {
		deleting, err = vms.Get(ctx, "installer", metav1.GetOptions{})
		return err == nil && deleting.GetDeletionTimestamp() != nil
	})
	templates, _, _ := unstructured.NestedSlice(deleting.Object, "spec", "dataVolumeTemplates")
	if len(templates) != 1 || !strings.Contains(fmt.Sprint(templates[0]), "scratch") {
		t.Errorf("dataVolumeTemplates of the deleted VM: %v; want only scratch's", templates)
	}
	own(t, ns, "root", obj) // the adoption that raced with the release
	dvs := dyn.Resource(vm.DataVolumes).Namespace(ns)
	waitUntil(t, "the late adoption undone", func() bool {
		dv, err := dvs.Get(ctx, "root", metav1.GetOptions{})
		return err == nil && len(dv.GetOwnerReferences()) == 0
	})
	deleting.SetFinalizers(nil)
	if _, err := vms.Update(ctx, deleting, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if dv, err := dvs.Get(ctx, "root", metav1.GetOptions{}); err != nil || len(dv.GetOwnerReferences()) != 0 {
		t.Fatalf("kept DataVolume after the VM went: %v, owners %v", err, dv.GetOwnerReferences())
	}
}

// waitUntil polls cond every 50 ms for up to a minute (a bound on a hung test, not a speed assertion).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}
