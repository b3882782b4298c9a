// Command cron-controller reconciles CDI's DataImportCron, DataVolume and DataSource kinds
// (cdi.kubevirt.io/v1beta1) in a cluster, or with --local DIR runs the DataImportCron manifests in DIR (with the
// Secrets and ConfigMaps there that they name as secretRef and certConfigMap) against a directory store without
// a cluster.
//
// Usage:
//
//	cron-controller [--importer-image IMAGE] [--metrics-bind-address :8080] [--leader-elect]
//	cron-controller --local DIR [--store DIR] [--once]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/controller/datavolume"
	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/localmode"
	"github.com/goldimage/goldimage/pkg/registry"
)

// options are the command-line settings of both modes.
type options struct {
	local, store string
	once         bool

	importerImage string
	pullPolicy    string
	metricsAddr   string
	probeAddr     string
	leaderElect   bool
	maxRestarts   int
	jitter        time.Duration
	shareWindow   time.Duration
	insecure      string
	caRoot        string
	resources     corev1.ResourceRequirements // importer container
	fsOverhead    string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "cron-controller:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.local != "" {
		err = runLocal(ctx, o, stdout)
	} else {
		err = runCluster(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(stderr, "cron-controller:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("cron-controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.local, "local", "", "run without a cluster on the DataImportCron manifests in this directory")
	fs.StringVar(&o.store, "store", "", "local mode: store directory (default <local>/store)")
	fs.BoolVar(&o.once, "once", false, "local mode: run one forced poll/import round and exit")
	fs.StringVar(&o.importerImage, "importer-image", os.Getenv("IMPORTER_IMAGE"), "importer pod image (default $IMPORTER_IMAGE)")
	fs.StringVar(&o.pullPolicy, "importer-pull-policy", "IfNotPresent", "importer image pull policy")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "metrics address; 0 disables")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "health probe address; 0 disables")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader among replicas")
	fs.IntVar(&o.maxRestarts, "max-importer-restarts", 3, "retries of a retryable importer failure")
	fs.DurationVar(&o.jitter, "poll-jitter", 10*time.Second, "maximum jitter added to scheduled polls")
	fs.DurationVar(&o.shareWindow, "poll-share-window", 30*time.Second, "identical polls within this window share one registry request")
	fs.StringVar(&o.insecure, "insecure-registries", "", "comma-separated registry hosts (host[:port]) that polls and importer pods reach over plain HTTP or unverified TLS")
	fs.StringVar(&o.caRoot, "ca-dir", filepath.Join(os.TempDir(), "goldimage-ca"), "directory for registry CA bundles read from ConfigMaps")
	quantities := importerResourceFlags(fs)
	fs.StringVar(&o.fsOverhead, "filesystem-overhead", contract.DefaultFilesystemOverhead,
		"share of a filesystem PVC's free space importers leave to the filesystem (CDI's filesystemOverhead.global)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.resources, err = quantities.requirements(); err != nil {
		return o, err
	}
	if v, err := strconv.ParseFloat(o.fsOverhead, 64); err != nil || !(v >= 0 && v < 1) {
		return o, fmt.Errorf("--filesystem-overhead %q: want a decimal in [0, 1) such as %s", o.fsOverhead, contract.DefaultFilesystemOverhead)
	}
	if o.local == "" && (o.store != "" || o.once) {
		return o, errors.New("--store and --once need --local")
	}
	if o.local == "" && o.importerImage == "" {
		return o, errors.New("no importer image: set --importer-image or $IMPORTER_IMAGE")
	}
	if o.store == "" && o.local != "" {
		o.store = filepath.Join(o.local, "store")
	}
	return o, nil
}

// resourceFlags are the importer container's requests and limits as given on the command line.
type resourceFlags map[string]*string

// importerResourceFlags registers --importer-{cpu,memory}-{request,limit}, defaulting to datavolume.DefaultImporterResources.
func importerResourceFlags(fs *flag.FlagSet) resourceFlags {
	def := datavolume.DefaultImporterResources()
	q := resourceFlags{}
	for _, kind := range []string{"request", "limit"} {
		list := def.Requests
		if kind == "limit" {
			list = def.Limits
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			name := "importer-" + string(res) + "-" + kind
			v := list[res]
			q[name] = fs.String(name, v.String(), fmt.Sprintf("importer pod %s %s, a quantity; 0 sets none", res, kind))
		}
	}
	return q
}

// requirements parses the flags; a request above its limit is an error.
func (q resourceFlags) requirements() (corev1.ResourceRequirements, error) {
	rr := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for name, v := range q {
		quantity, err := resource.ParseQuantity(*v)
		if err != nil || quantity.Sign() < 0 {
			return rr, fmt.Errorf("--%s %q: want a non-negative quantity such as 500m or 1Gi", name, *v)
		}
		if quantity.IsZero() {
			continue
		}
		res := corev1.ResourceName(strings.Split(name, "-")[1])
		if strings.HasSuffix(name, "-limit") {
			rr.Limits[res] = quantity
		} else {
			rr.Requests[res] = quantity
		}
	}
	for res, req := range rr.Requests {
		if lim, ok := rr.Limits[res]; ok && req.Cmp(lim) > 0 {
			return rr, fmt.Errorf("--importer-%s-request %s exceeds --importer-%s-limit %s", res, req.String(), res, lim.String())
		}
	}
	if len(rr.Requests) == 0 {
		rr.Requests = nil
	}
	if len(rr.Limits) == 0 {
		rr.Limits = nil
	}
	return rr, nil
}

// newPoller builds the shared digest poller over pkg/registry.
func newPoller(o options) *cron.Poller {
	var base []registry.Option
	if o.insecure != "" {
		base = append(base, registry.WithInsecureRegistries(strings.Split(o.insecure, ",")...))
	}
	return cron.NewPoller(cron.RegistryResolvers(o.caRoot, base...), cron.WithShareWindow(o.shareWindow))
}

func runLocal(ctx context.Context, o options, stdout io.Writer) error {
	m, err := localmode.Load(o.local)
	if err != nil {
		return err
	}
	if len(m.Crons) == 0 {
		return fmt.Errorf("no DataImportCron manifests in %s", o.local)
	}
	scratch, err := os.MkdirTemp("", "cron-controller-scratch-")
	if err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	r := localmode.New(o.store, newPoller(o), localmode.InProcess(scratch), localmode.WithObjects(m.Objects),
		localmode.WithTempDir(scratch), localmode.WithForce(o.once), localmode.WithLog(stdout))
	if o.once {
		_, err := r.Round(ctx, m.Crons)
		return err
	}
	// Read the manifests anew every round: an edited Secret or a new cron needs no restart.
	return r.Watch(ctx, func() (*localmode.Manifests, error) { return localmode.Load(o.local) }, manifestReload)
}

// manifestReload is the longest a local-mode cron-controller goes without reading its manifests.
const manifestReload = time.Minute
