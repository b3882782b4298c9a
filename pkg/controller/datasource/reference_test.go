package datasource

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// dataSources is a client.Reader serving Get of DataSources from a map; err, when set, is returned for every Get.
type dataSources struct {
	items map[client.ObjectKey]*cdiv1.DataSource
	err   error
}

func (d dataSources) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	if d.err != nil {
		return d.err
	}
	ds, ok := d.items[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{Group: "cdi.kubevirt.io", Resource: "datasources"}, key.Name)
	}
	ds.DeepCopyInto(obj.(*cdiv1.DataSource))
	return nil
}

func (d dataSources) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return errors.New("not implemented")
}

func pvcSource(ns, name, pvc string) *cdiv1.DataSource {
	return &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: pvc}}}}
}

func refSource(ns, name, refNS, ref string) *cdiv1.DataSource {
	return &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cdiv1.DataSourceSpec{Source: cdiv1.DataSourceSource{DataSource: &cdiv1.DataSourceRefSourceDataSource{Namespace: refNS, Name: ref}}}}
}

func TestResolve(t *testing.T) {
	store := dataSources{items: map[client.ObjectKey]*cdiv1.DataSource{
		{Namespace: "os", Name: "fedora-amd64"}: pvcSource("os", "fedora-amd64", "fedora-amd64-0123456789ab"),
		{Namespace: "os", Name: "fedora"}:       refSource("os", "fedora", "", "fedora-amd64"),
	}}
	for _, tc := range []struct {
		name   string
		ds     *cdiv1.DataSource
		reader dataSources
		want   string // name of the resolved DataSource
		reason string // RefReason of the error
		err    bool   // a transient error
	}{
		{"no reference", pvcSource("os", "fedora-amd64", "x"), store, "fedora-amd64", "", false},
		{"one level", refSource("os", "fedora", "", "fedora-amd64"), store, "fedora-amd64", "", false},
		{"namespace given", refSource("os", "fedora", "os", "fedora-amd64"), store, "fedora-amd64", "", false},
		{"missing target", refSource("os", "ubuntu", "", "ubuntu-amd64"), store, "", cdiconst.ReasonNotFound, false},
		{"self", refSource("os", "fedora", "", "fedora"), store, "", cdiconst.ReasonSelfReference, false},
		{"self with namespace", refSource("os", "fedora", "os", "fedora"), store, "", cdiconst.ReasonSelfReference, false},
		{"other namespace", refSource("vms", "fedora", "os", "fedora-amd64"), store, "", cdiconst.ReasonCrossNamespaceRef, false},
		{"two levels", refSource("os", "latest", "", "fedora"), store, "", cdiconst.ReasonMaxReferenceDepth, false},
		{"API error", refSource("os", "fedora", "", "fedora-amd64"), dataSources{err: errors.New("etcd is down")}, "", "", true},
	} {
		got, err := Resolve(context.Background(), tc.reader, tc.ds)
		switch {
		case tc.reason != "" || tc.err:
			if err == nil || RefReason(err) != tc.reason {
				t.Errorf("%s: resolved %v, err %v (reason %q); want reason %q", tc.name, got, err, RefReason(err), tc.reason)
			} else if tc.reason != "" && !strings.Contains(err.Error(), tc.ds.Spec.Source.DataSource.Name) {
				t.Errorf("%s: error %q does not name the referenced DataSource", tc.name, err)
			}
		case err != nil || got == nil || got.Name != tc.want:
			t.Errorf("%s: resolved %v, err %v; want %s", tc.name, got, err, tc.want)
		}
	}
}

func TestReferenceReadiness(t *testing.T) {
	pvc := &corev1.PersistentVolumeClaim{}
	importing := &cdiv1.DataVolume{Status: cdiv1.DataVolumeStatus{Phase: cdiv1.ImportInProgress}}
	for _, tc := range []struct {
		name   string
		st     Source
		status corev1.ConditionStatus
		reason string
		msg    string // a substring of the message
	}{
		{"bad reference", Source{RefReason: cdiconst.ReasonMaxReferenceDepth, RefMessage: "os/fedora is a reference"},
			corev1.ConditionFalse, cdiconst.ReasonMaxReferenceDepth, "os/fedora is a reference"},
		{"target ready", Source{Ref: "os/fedora-amd64", HasPVCSource: true, PVC: pvc}, corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "ready"},
		{"target importing", Source{Ref: "os/fedora-amd64", HasPVCSource: true, PVC: pvc, DataVolume: importing},
			corev1.ConditionFalse, cdiconst.ReasonSourceInProgress, "Referenced DataSource os/fedora-amd64: Import of"},
		{"target's PVC missing", Source{Ref: "os/fedora-amd64", HasPVCSource: true, PVCName: "os/disk"},
			corev1.ConditionFalse, cdiconst.ReasonNotFound, "Referenced DataSource os/fedora-amd64: Source PVC os/disk not found"},
		{"target without source", Source{Ref: "os/fedora-amd64"}, corev1.ConditionFalse, cdiconst.ReasonNoSource, "Referenced DataSource os/fedora-amd64"},
		{"target's snapshot not ready", Source{Ref: "os/fedora-amd64", HasSnapshotSource: true, SnapshotName: "os/snap"},
			corev1.ConditionFalse, cdiconst.ReasonNotFound, "Referenced DataSource os/fedora-amd64: Source VolumeSnapshot os/snap"},
	} {
		status, reason, msg := readiness(tc.st)
		if status != tc.status || reason != tc.reason || !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %s %s %q, want %s %s containing %q", tc.name, status, reason, msg, tc.status, tc.reason, tc.msg)
		}
	}
}

func TestWithInstancetypeLabels(t *testing.T) {
	from := map[string]string{cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora",
		cdiconst.LabelArchitecture: "amd64", cdiconst.LabelDataImportCron: "fedora-image-cron-amd64"}
	got := withInstancetypeLabels(map[string]string{"app": "x", cdiconst.LabelDefaultPreference: "old"}, from)
	want := map[string]string{"app": "x", cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora"}
	if len(got) != len(want) {
		t.Fatalf("labels %v, want %v (architecture and cron labels stay with the referenced DataSource)", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	if got := withInstancetypeLabels(nil, map[string]string{"app": "y"}); got != nil {
		t.Errorf("labels %v from a DataSource without instancetype labels, want nil", got)
	}
}
