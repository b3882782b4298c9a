package datasource

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

func TestReadiness(t *testing.T) {
	dv := func(p cdiv1.DataVolumePhase) *cdiv1.DataVolume {
		return &cdiv1.DataVolume{Status: cdiv1.DataVolumeStatus{Phase: p}}
	}
	pvc := &corev1.PersistentVolumeClaim{}
	deleting := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: ptrNow()}}
	for _, tc := range []struct {
		name   string
		st     Source
		status corev1.ConditionStatus
		reason string
	}{
		{"no source", Source{}, corev1.ConditionFalse, cdiconst.ReasonNoSource},
		{"missing", Source{HasPVCSource: true}, corev1.ConditionFalse, cdiconst.ReasonNotFound},
		{"plain PVC", Source{HasPVCSource: true, PVC: pvc}, corev1.ConditionTrue, cdiconst.ReasonDataSourceReady},
		{"PVC being deleted", Source{HasPVCSource: true, PVC: deleting}, corev1.ConditionFalse, cdiconst.ReasonNotFound},
		{"import done", Source{HasPVCSource: true, PVC: pvc, DataVolume: dv(cdiv1.Succeeded)}, corev1.ConditionTrue, cdiconst.ReasonDataSourceReady},
		{"import running", Source{HasPVCSource: true, PVC: pvc, DataVolume: dv(cdiv1.ImportInProgress)}, corev1.ConditionFalse, cdiconst.ReasonSourceInProgress},
		{"import failed", Source{HasPVCSource: true, PVC: pvc, DataVolume: dv(cdiv1.Failed)}, corev1.ConditionFalse, string(cdiv1.Failed)},
	} {
		ds := &cdiv1.DataSource{}
		SetReady(ds, tc.st)
		if len(ds.Status.Conditions) != 1 {
			t.Fatalf("%s: %d conditions", tc.name, len(ds.Status.Conditions))
		}
		c := ds.Status.Conditions[0]
		if c.Type != cdiv1.DataSourceReady || c.Status != tc.status || c.Reason != tc.reason || c.Message == "" {
			t.Errorf("%s: Ready = %+v, want %s %s with a message", tc.name, c, tc.status, tc.reason)
		}
	}
}

func TestSetReadyKeepsTransitionTime(t *testing.T) {
	ds := &cdiv1.DataSource{}
	SetReady(ds, Source{})
	first := ds.Status.Conditions[0].LastTransitionTime
	ds.Status.Conditions[0].LastTransitionTime = metav1.Time{}
	SetReady(ds, Source{HasPVCSource: true}) // still False: no transition
	if !ds.Status.Conditions[0].LastTransitionTime.IsZero() || first.IsZero() {
		t.Errorf("transition time moved without a status change")
	}
}

func ptrNow() *metav1.Time { t := metav1.Now(); return &t }
