package controller

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/goldimage/goldimage/internal/testenv"
	"github.com/goldimage/goldimage/pkg/controller/dataimportcron"
	"github.com/goldimage/goldimage/pkg/controller/datasource"
	"github.com/goldimage/goldimage/pkg/controller/datavolume"
	"github.com/goldimage/goldimage/pkg/controller/storageprofile"
	"github.com/goldimage/goldimage/pkg/cron"
)

const importerImage = "goldimage.local/importer:test"

var (
	k8s     client.Client         // admin client, uncached
	clients *kubernetes.Clientset // for events
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	env, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test control plane:", err)
		}
	}()
	fast := rest.CopyConfig(env.Config)
	fast.QPS, fast.Burst = 500, 1000
	if k8s, err = client.New(fast, client.Options{Scheme: env.Scheme}); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	if clients, err = kubernetes.NewForConfig(env.Config); err != nil {
		fmt.Fprintln(os.Stderr, "clientset:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done, err := startManager(ctx, env)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	cancel()
	<-done
	return code
}

// startManager runs the reconcilers as cmd/cron-controller wires them.
func startManager(ctx context.Context, env *testenv.Env) (<-chan struct{}, error) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 500, 1000 // the scale test makes thousands of requests
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return nil, fmt.Errorf("manager: %w", err)
	}
	caDir, err := os.MkdirTemp("", "controller-test-ca-")
	if err != nil {
		return nil, err
	}
	// One share window ("tick") spans the scale test's creation burst; forced polls bypass it.
	poller := cron.NewPoller(cron.RegistryResolvers(caDir), cron.WithShareWindow(5*time.Minute))
	crons := dataimportcron.New(mgr.GetClient(), mgr.GetEventRecorderFor("dataimportcron-controller"), poller,
		dataimportcron.WithJitter(time.Second), dataimportcron.WithReader(mgr.GetAPIReader()))
	dvs := datavolume.New(mgr.GetClient(), mgr.GetEventRecorderFor("datavolume-controller"), importerImage,
		datavolume.WithMaxRestarts(2), datavolume.WithProgressReader(nil), datavolume.WithAPIReader(mgr.GetAPIReader()))
	for _, r := range []interface{ SetupWithManager(ctrl.Manager) error }{crons, dvs, datasource.New(mgr.GetClient()), storageprofile.New(mgr.GetClient())} {
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("set up reconciler: %w", err)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer os.RemoveAll(caDir)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	return done, nil
}
