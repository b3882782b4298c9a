package main

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	goldscheme "github.com/goldimage/goldimage/internal/scheme"
	"github.com/goldimage/goldimage/pkg/controller/dataimportcron"
	"github.com/goldimage/goldimage/pkg/controller/datasource"
	"github.com/goldimage/goldimage/pkg/controller/datavolume"
	"github.com/goldimage/goldimage/pkg/controller/storageprofile"
)

func runCluster(ctx context.Context, o options) error {
	// A failed poll (registry down, tag gone) is expected and retried with backoff; its condition and
	// event name the cause, so its log line needs no stack trace (only panics keep one).
	ctrl.SetLogger(zap.New(zap.StacktraceLevel(zapcore.DPanicLevel)))
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("load Kubernetes client configuration: %w", err)
	}
	scheme, err := goldscheme.New()
	if err != nil {
		return err
	}
	importerPods := labels.SelectorFromSet(labels.Set{"app.kubernetes.io/managed-by": "goldimage"})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.probeAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       "cron-controller.goldimage.io",
		// Only importer pods are cached, so memory follows goldimage's pods, not the cluster's.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: importerPods}}},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := Setup(mgr, o); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return fmt.Errorf("ready check: %w", err)
	}
	return mgr.Start(ctx)
}

// Setup registers the reconcilers with mgr.
func Setup(mgr ctrl.Manager, o options) error {
	crons := dataimportcron.New(mgr.GetClient(), mgr.GetEventRecorderFor("dataimportcron-controller"), newPoller(o),
		dataimportcron.WithJitter(o.jitter), dataimportcron.WithReader(mgr.GetAPIReader()))
	if err := crons.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up DataImportCron controller: %w", err)
	}
	dvs := datavolume.New(mgr.GetClient(), mgr.GetEventRecorderFor("datavolume-controller"), o.importerImage,
		datavolume.WithMaxRestarts(int32(o.maxRestarts)), datavolume.WithPullPolicy(corev1.PullPolicy(o.pullPolicy)),
		datavolume.WithAPIReader(mgr.GetAPIReader()), datavolume.WithImporterResources(o.resources),
		datavolume.WithFilesystemOverhead(o.fsOverhead), datavolume.WithInsecureRegistries(strings.Split(o.insecure, ",")...))
	if err := dvs.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up DataVolume controller: %w", err)
	}
	if err := datasource.New(mgr.GetClient()).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up DataSource controller: %w", err)
	}
	if err := storageprofile.New(mgr.GetClient()).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up StorageProfile controller: %w", err)
	}
	return nil
}
