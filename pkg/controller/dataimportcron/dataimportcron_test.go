package dataimportcron

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestNewImportDataVolume(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"docker://quay.io/containerdisks/fedora:latest", "docker://quay.io/containerdisks/fedora@" + digest},
		{"docker://127.0.0.1:5000/os/debian", "docker://127.0.0.1:5000/os/debian@" + digest},
		{"docker://r.example/x@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "docker://r.example/x@" + digest},
	} {
		c := &cdiv1.DataImportCron{ObjectMeta: metav1.ObjectMeta{Name: "cron", Namespace: "ns"},
			Spec: cdiv1.DataImportCronSpec{ManagedDataSource: "fedora", Template: cdiv1.DataVolume{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"team": "os"}},
				Spec:       cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To(tc.url)}}}}}}
		dv, err := newImportDataVolume(c, cron.Import{Name: cron.ImportName("fedora", digest), Digest: digest})
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if got := *dv.Spec.Source.Registry.URL; got != tc.want {
			t.Errorf("URL of %s = %s, want %s", tc.url, got, tc.want)
		}
		if dv.Name != "fedora-0123456789ab" || dv.Labels[cdiconst.LabelDataImportCron] != "cron" || dv.Labels["team"] != "os" ||
			dv.Annotations[cdiconst.AnnDigest] != digest {
			t.Errorf("DataVolume meta = %s %v %v", dv.Name, dv.Labels, dv.Annotations)
		}
		if *c.Spec.Template.Spec.Source.Registry.URL != tc.url {
			t.Errorf("template modified: %s", *c.Spec.Template.Spec.Source.Registry.URL)
		}
	}
}

func TestImportOf(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(phase cdiv1.DataVolumePhase, ann map[string]string, conds ...cdiv1.DataVolumeCondition) *cdiv1.DataVolume {
		return &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "x", Annotations: ann},
			Status: cdiv1.DataVolumeStatus{Phase: phase, Conditions: conds}}
	}
	for _, tc := range []struct {
		name  string
		dv    *cdiv1.DataVolume
		phase cron.Phase
		time  time.Time
		msg   string
	}{
		{"new", mk("", map[string]string{cdiconst.AnnDigest: digest}), cron.PhasePending, time.Time{}, ""},
		{"scheduled", mk(cdiv1.ImportScheduled, nil), cron.PhasePending, time.Time{}, ""},
		{"running", mk(cdiv1.ImportInProgress, nil), cron.PhaseRunning, time.Time{}, ""},
		{"done", mk(cdiv1.Succeeded, map[string]string{cdiconst.AnnImportTime: at.Format(time.RFC3339Nano)}), cron.PhaseSucceeded, at, ""},
		{"done, garbled time", mk(cdiv1.Succeeded, map[string]string{cdiconst.AnnImportTime: "yesterday"}), cron.PhaseSucceeded, time.Time{}, ""},
		{"failed", mk(cdiv1.Failed, nil, cdiv1.DataVolumeCondition{Type: cdiv1.DataVolumeRunning, Status: corev1.ConditionFalse, Message: "no disk"}),
			cron.PhaseFailed, time.Time{}, "no disk"},
	} {
		got := importOf(tc.dv)
		if got.Phase != tc.phase || !got.ImportTime.Equal(tc.time) || (tc.msg != "" && got.Message != tc.msg) {
			t.Errorf("%s: importOf = %+v, want phase %s time %v message %q", tc.name, got, tc.phase, tc.time, tc.msg)
		}
	}
}

func TestForced(t *testing.T) {
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want bool
	}{
		{"no annotations", nil, false},
		{"reconcile requested", map[string]string{cdiconst.AnnReconcileRequest: "1"}, true},
		{"CDI trigger", map[string]string{cdiconst.AnnLastCronTime: "2026-01-01T00:00:00Z"}, true},
		{"handled", map[string]string{cdiconst.AnnReconcileRequest: "1", cdiconst.AnnHandledRequest: "1|"}, false},
		{"new request after handled", map[string]string{cdiconst.AnnReconcileRequest: "2", cdiconst.AnnHandledRequest: "1|"}, true},
	} {
		c := &cdiv1.DataImportCron{ObjectMeta: metav1.ObjectMeta{Annotations: tc.ann}}
		if got := forced(c); got != tc.want {
			t.Errorf("%s: forced = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNewImportDataVolumeHTTP(t *testing.T) {
	const url = "https://cloud.example/images/disk.qcow2"
	version := cron.HTTPVersion(url, cron.Validator{ETag: `"1"`})
	sum := "sha256:" + strings.Repeat("ab", 32)
	c := &cdiv1.DataImportCron{ObjectMeta: metav1.ObjectMeta{Name: "cron", Namespace: "ns",
		Annotations: map[string]string{cdiconst.AnnSourceDesiredDigest: version, cdiconst.AnnSourceChecksum: sum}},
		Spec: cdiv1.DataImportCronSpec{ManagedDataSource: "debian", Template: cdiv1.DataVolume{
			Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: url}}}}}}
	for _, tc := range []struct {
		version, checksum string
	}{
		{version, sum},
		{cron.HTTPVersion(url, cron.Validator{ETag: `"0"`}), ""}, // an older version: the checksum is not its own
	} {
		dv, err := newImportDataVolume(c, cron.Import{Name: cron.ImportName("debian", tc.version), Digest: tc.version})
		if err != nil {
			t.Fatal(err)
		}
		if dv.Spec.Source.HTTP.URL != url || dv.Annotations[cdiconst.AnnDigest] != tc.version || dv.Annotations[cdiconst.AnnChecksum] != tc.checksum {
			t.Errorf("DataVolume %s: url %s annotations %v, want checksum %q", dv.Name, dv.Spec.Source.HTTP.URL, dv.Annotations, tc.checksum)
		}
	}
}
