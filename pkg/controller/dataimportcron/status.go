package dataimportcron

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

var (
	outdatedGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: cdiconst.MetricCronOutdated,
		Help: "DataImportCron's newest source digest is not imported yet (1) or it is (0)",
	}, []string{"ns", "cron_name", "pending"})
	pollsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "goldimage_dataimportcron_polls_total",
		Help: "Digest polls made by DataImportCron reconciles, by result",
	}, []string{"result"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(outdatedGauge, pollsTotal)
}

// setOutdated publishes the outdated gauge of a cron; pending marks crons that never imported anything.
func setOutdated(c *cdiv1.DataImportCron, upToDate bool) {
	pending := "false"
	if c.Status.LastImportedPVC == nil {
		pending = "true"
	}
	other := map[string]string{"true": "false", "false": "true"}[pending]
	outdatedGauge.DeleteLabelValues(c.Namespace, c.Name, other)
	v := 1.0
	if upToDate {
		v = 0
	}
	outdatedGauge.WithLabelValues(c.Namespace, c.Name, pending).Set(v)
}

func forgetOutdated(c *cdiv1.DataImportCron) {
	outdatedGauge.DeleteLabelValues(c.Namespace, c.Name, "true")
	outdatedGauge.DeleteLabelValues(c.Namespace, c.Name, "false")
}

// setCondition sets a cron condition, moving LastTransitionTime only when the status changes.
func setCondition(c *cdiv1.DataImportCron, typ cdiv1.DataImportCronConditionType, cond cron.Condition) {
	status := corev1.ConditionFalse
	if cond.Status {
		status = corev1.ConditionTrue
	}
	for i := range c.Status.Conditions {
		cc := &c.Status.Conditions[i]
		if cc.Type != typ {
			continue
		}
		if cc.Status != status {
			cc.LastTransitionTime = metav1.Now()
		}
		cc.Status, cc.Reason, cc.Message = status, cond.Reason, cond.Message
		return
	}
	c.Status.Conditions = append(c.Status.Conditions, cdiv1.DataImportCronCondition{Type: typ,
		ConditionState: cdiv1.ConditionState{Status: status, Reason: cond.Reason, Message: cond.Message, LastTransitionTime: metav1.Now()}})
}

// condition returns the cron condition of type typ, or nil.
func condition(c *cdiv1.DataImportCron, typ cdiv1.DataImportCronConditionType) *cdiv1.DataImportCronCondition {
	for i := range c.Status.Conditions {
		if c.Status.Conditions[i].Type == typ {
			return &c.Status.Conditions[i]
		}
	}
	return nil
}

// transitioned reports whether condition typ has a different status or reason in after than in before.
func transitioned(before, after *cdiv1.DataImportCron, typ cdiv1.DataImportCronConditionType) (*cdiv1.DataImportCronCondition, bool) {
	a := condition(after, typ)
	if a == nil {
		return nil, false
	}
	b := condition(before, typ)
	return a, b == nil || b.Status != a.Status || b.Reason != a.Reason
}
