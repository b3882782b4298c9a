package controller

import (
	"context"
	"testing"
	"time"

	"k8s.io/client-go/tools/record"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/controller/dataimportcron"
	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestCronWaitsForSchedule checks that a polled cron does not poll again before its next fire time and asks
// to be requeued at that time plus at most the jitter, by running a reconcile directly against the API server.
func TestCronWaitsForSchedule(t *testing.T) {
	ns := namespace(t, "schedule")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	pushDisk(t, reg, "os/yearly:1")
	c := newCron(ns, "yearly", "docker://"+reg.Ref("os/yearly:1"), 3)
	c.Spec.Schedule = "0 0 1 1 *"
	create(t, c)
	waitCron(t, ns, c.Name, "first poll", func(c *cdiv1.DataImportCron) bool {
		return c.Annotations[cdiconst.AnnSourceDesiredDigest] != "" && c.Status.LastExecutionTimestamp != nil
	})
	reg.Reset()

	const jitter = time.Minute
	r := dataimportcron.New(k8s, record.NewFakeRecorder(100), cron.NewPoller(cron.RegistryResolvers(t.TempDir())), dataimportcron.WithJitter(jitter))
	before := time.Now()
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)})
	after := time.Now()
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	sched, _ := cron.ParseSchedule(c.Spec.Schedule)
	next := sched.Next(after)
	if low, high := next.Sub(after), next.Sub(before)+jitter; res.RequeueAfter < low || res.RequeueAfter > high {
		t.Errorf("RequeueAfter = %v, want between %v and %v (next fire %v plus jitter)", res.RequeueAfter, low, high, next)
	}
	if n := manifestRequests(reg); n != 0 {
		t.Errorf("reconcile before the next fire time polled the registry %d times", n)
	}
}
