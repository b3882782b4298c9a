package tasks

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

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

	waitDone := make(chan error, 1)
	go func() {
		waitDone <- vm.WaitStopped(ctx, dyn, ns, name, vm.WaitOptions{Interval: 50 * time.Millisecond, Timeout: time.Minute})
	}()
	for _, status := range []string{"Provisioning", "Running", "Stopped"} {
		setStatus(t, ns, name, map[string]any{"printableStatus": status, "created": status != "Provisioning"})
		if status != "Stopped" {
			select {
			case err := <-waitDone:
				t.Fatalf("wait returned %v while the VM was %s", err, status)
			case <-time.After(200 * time.Millisecond):
			}
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
	setStatus(t, ns, refs[0].Name, map[string]any{"printableStatus": "ErrorUnschedulable"})
	err = vm.WaitStopped(ctx, dyn, ns, refs[0].Name, vm.WaitOptions{Interval: 50 * time.Millisecond, Timeout: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "cannot start: status ErrorUnschedulable") {
		t.Fatalf("wait error %v, want the unschedulable status named", err)
	}
	err = vm.WaitDataVolume(ctx, dyn, ns, "missing", vm.WaitOptions{Interval: 50 * time.Millisecond, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), `datavolumes.cdi.kubevirt.io "missing" not found`) {
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
