package localmode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/cron"
)

// Importer imports source (a docker:// URL pinned to a digest, or an http(s) URL) into the file dest with the
// cron's auth.
type Importer interface {
	Import(ctx context.Context, source, dest string, auth Auth) (contract.Termination, error)
}

// Poller resolves an image reference to its digest and checks http(s) sources; *cron.Poller implements it.
type Poller interface {
	Digest(ctx context.Context, ref string, creds cron.Credentials) (string, error)  // may reuse a poll of this tick
	Refresh(ctx context.Context, ref string, creds cron.Credentials) (string, error) // asks the registry now
	// CheckHTTP polls an http(s) URL conditioned on prev; fresh asks the server now.
	CheckHTTP(ctx context.Context, url string, prev cron.Validator, creds cron.Credentials, fresh bool) (cron.Validator, bool, error)
	Checksum(ctx context.Context, sumsURL, imageURL string, creds cron.Credentials) (string, error) // reads a SHA256SUMS file
}

// Runner runs DataImportCrons against a store directory.
type Runner struct {
	store    string
	poller   Poller
	importer Importer
	objects  Objects
	tmp      string
	force    bool
	now      func() time.Time
	log      io.Writer
}

// Option configures a Runner.
type Option func(*Runner)

// WithForce makes every round poll every cron and retry failed imports of the newest digest, like a forced
// poll in the cluster; default false (poll on schedule only).
func WithForce(force bool) Option { return func(r *Runner) { r.force = force } }

// WithObjects gives the Secrets and ConfigMaps crons may name as secretRef and certConfigMap (see Load);
// default none, so such a cron fails with an error naming the missing object.
func WithObjects(o Objects) Option { return func(r *Runner) { r.objects = o } }

// WithTempDir sets where each import's CA directory (the certConfigMap's keys as files, removed after the
// import) is created; default os.TempDir().
func WithTempDir(dir string) Option { return func(r *Runner) { r.tmp = dir } }

// WithClock replaces time.Now; default time.Now.
func WithClock(now func() time.Time) Option { return func(r *Runner) { r.now = now } }

// WithLog sets where one line per action is written; default io.Discard.
func WithLog(w io.Writer) Option { return func(r *Runner) { r.log = w } }

// New returns a Runner importing into store.
func New(store string, p Poller, imp Importer, opts ...Option) *Runner {
	r := &Runner{store: store, poller: p, importer: imp, now: time.Now, log: io.Discard}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Run runs rounds until ctx ends, sleeping until the earliest next poll between rounds; after a failed
// round it tries again sooner, backing off from retryMin to retryMax. With no schedule among the crons
// it returns after the first round.
func (r *Runner) Run(ctx context.Context, crons []*cdiv1.DataImportCron) error {
	return r.run(ctx, func() []*cdiv1.DataImportCron { return crons }, 0)
}

// Watch is Run over the manifests load returns before every round, so edited crons, Secrets and
// ConfigMaps take effect without a restart. Rounds come at least every interval (a round polls only
// the crons that are due) until ctx ends. A failing load keeps the last good manifests; a failing
// first load is returned.
func (r *Runner) Watch(ctx context.Context, load func() (*Manifests, error), interval time.Duration) error {
	last, err := load()
	if err != nil {
		return err
	}
	r.objects = last.Objects
	loaded := true
	return r.run(ctx, func() []*cdiv1.DataImportCron {
		if !loaded {
			if m, err := load(); err != nil {
				fmt.Fprintf(r.log, "reload manifests: %v (keeping the last good ones)\n", err)
			} else {
				last, r.objects = m, m.Objects
			}
		}
		loaded = false
		return last.Crons
	}, interval)
}

// Retry delays after a failed round (Run, Watch).
const (
	retryMin = 10 * time.Second
	retryMax = 5 * time.Minute
)

// run runs rounds over the crons returns, waiting at most every between them when every > 0.
func (r *Runner) run(ctx context.Context, crons func() []*cdiv1.DataImportCron, every time.Duration) error {
	var backoff time.Duration
	for {
		wait, err := r.Round(ctx, crons())
		if err != nil {
			fmt.Fprintln(r.log, "round failed:", err)
			backoff = min(max(2*backoff, retryMin), retryMax)
			if wait > 0 {
				wait = min(wait, backoff)
			}
		} else {
			backoff = 0
		}
		if every > 0 && (wait <= 0 || wait > every) {
			wait = every
		}
		if wait <= 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Round polls the crons that are due, imports new digests, moves current links and collects garbage. It
// returns the time until the next scheduled poll (0 when none) and the failures of all crons, each named.
func (r *Runner) Round(ctx context.Context, crons []*cdiv1.DataImportCron) (time.Duration, error) {
	var errs []error
	var next time.Duration
	for _, c := range crons {
		wait, err := r.reconcile(ctx, c)
		if err != nil {
			errs = append(errs, fmt.Errorf("DataImportCron %s/%s: %w", c.Namespace, c.Name, err))
		}
		if wait > 0 && (next == 0 || wait < next) {
			next = wait
		}
	}
	return next, errors.Join(errs...)
}

// reconcile handles one cron and returns the time until its next poll.
func (r *Runner) reconcile(ctx context.Context, c *cdiv1.DataImportCron) (time.Duration, error) {
	sched, err := cron.Validate(c)
	if err != nil {
		return 0, err
	}
	dir := sourceDir(filepath.Join(r.store, c.Namespace, c.Spec.ManagedDataSource))
	if err := os.MkdirAll(string(dir), 0o755); err != nil {
		return 0, fmt.Errorf("create store directory: %w", err)
	}
	st, err := dir.load()
	if err != nil {
		return 0, err
	}
	acc, err := r.objects.lookup(c)
	if err != nil {
		return 0, err
	}
	if st.Cron != "" && st.Cron != c.Name {
		return 0, fmt.Errorf("DataSource %s is already managed by DataImportCron %s", c.Spec.ManagedDataSource, st.Cron)
	}
	st.Cron = c.Name
	polled := false
	if cron.PollDue(sched, st.LastPoll, r.now(), r.force) {
		if err := r.poll(ctx, c, acc, &st); err != nil {
			if serr := dir.save(st); serr != nil {
				err = errors.Join(err, serr)
			}
			return cron.RequeueAfter(sched, st.LastPoll, r.now(), c.Name, 0), err
		}
		polled = true
	}
	err = r.converge(ctx, c, acc, dir, &st, r.force && polled)
	if serr := dir.save(st); serr != nil {
		err = errors.Join(err, serr)
	}
	return cron.RequeueAfter(sched, st.LastPoll, r.now(), c.Name, 0), err
}

// poll records the newest digest, or http version and checksum, in st. A server without a usable validator
// is an error naming it, recorded as a poll (the next one comes on schedule, not in a retry loop).
func (r *Runner) poll(ctx context.Context, c *cdiv1.DataImportCron, acc access, st *sourceState) error {
	if !cron.IsHTTP(c) {
		resolve := r.poller.Digest
		if r.force {
			resolve = r.poller.Refresh
		}
		d, err := resolve(ctx, cron.TrimScheme(cron.SourceURL(c)), acc.credentials())
		if err != nil {
			return err
		}
		st.Digest, st.LastPoll = d, r.now()
		return nil
	}
	url := cron.SourceURL(c)
	prev := st.Validator
	if cron.HTTPVersion(url, prev) != st.Digest {
		prev = cron.Validator{}
	}
	v, _, err := r.poller.CheckHTTP(ctx, url, prev, acc.credentials(), r.force)
	if errors.Is(err, cron.ErrNoValidator) || errors.Is(err, cron.ErrUnstableValidator) {
		st.LastPoll = r.now()
		return err
	}
	if err != nil {
		return err
	}
	version, checksum := cron.HTTPVersion(url, v), ""
	if sums := c.Annotations[cdiconst.AnnChecksumURL]; sums != "" {
		checksum = st.Checksum
		if version != st.Digest || checksum == "" || r.force { // a forced poll rereads a checksum file published late
			if checksum, err = r.poller.Checksum(ctx, sums, url, acc.credentials()); err != nil {
				return err
			}
		}
	}
	st.Digest, st.Validator, st.Checksum, st.LastPoll = version, v, checksum, r.now()
	return nil
}

// converge applies plans until nothing is left to do: at most one import per round, then the link and the GC
// a moved link allows.
func (r *Runner) converge(ctx context.Context, c *cdiv1.DataImportCron, acc access, dir sourceDir, st *sourceState, retry bool) error {
	for step := 0; step < 4; step++ {
		plan := cron.Decide(r.input(c, dir, st, retry))
		retry = false
		for _, name := range plan.Delete {
			if err := dir.remove(name); err != nil {
				return err
			}
			st.Imports = slices.DeleteFunc(st.Imports, func(im cron.Import) bool { return im.Name == name })
			fmt.Fprintf(r.log, "%s: deleted import %s\n", c.Spec.ManagedDataSource, name)
		}
		if plan.PointAt != "" && plan.PointAt != dir.current() {
			if err := dir.point(plan.PointAt); err != nil {
				return err
			}
			fmt.Fprintf(r.log, "%s: current -> %s\n", c.Spec.ManagedDataSource, plan.PointAt)
			if plan.Create == nil {
				continue // the old target is no longer protected: collect it now, not a round later
			}
		}
		if plan.Create == nil {
			return nil
		}
		if err := r.importOne(ctx, c, acc, dir, st, *plan.Create); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) input(c *cdiv1.DataImportCron, dir sourceDir, st *sourceState, retry bool) cron.Input {
	in := cron.Input{Source: c.Spec.ManagedDataSource, Digest: st.Digest, Imports: st.Imports, DataSourceAt: dir.current(),
		Keep: 3, GarbageCollect: c.Spec.GarbageCollect == nil || *c.Spec.GarbageCollect != cdiv1.DataImportCronGarbageCollectNever,
		Retry: retry}
	if c.Spec.ImportsToKeep != nil {
		in.Keep = int(*c.Spec.ImportsToKeep)
	}
	return in
}

// importOne imports the digest into <name>.img through a partial file renamed only on success.
func (r *Runner) importOne(ctx context.Context, c *cdiv1.DataImportCron, acc access, dir sourceDir, st *sourceState, im cron.Import) error {
	url := cron.SourceURL(c)
	if !cron.IsHTTP(c) {
		var err error
		if url, err = cron.PinDigest(url, im.Digest); err != nil {
			return err
		}
	}
	auth, cleanup, err := acc.auth(r.tmp)
	if err != nil {
		return err
	}
	defer cleanup()
	if cron.IsHTTP(c) && im.Digest == st.Digest {
		auth.Checksum = st.Checksum
	}
	part := dir.image(im.Name) + partSuffix
	_ = os.Remove(part)
	fmt.Fprintf(r.log, "%s: importing %s into %s\n", c.Spec.ManagedDataSource, cron.RedactURL(url), im.Name)
	term, err := r.importer.Import(ctx, url, part, auth)
	if err == nil && term.Result == contract.ResultSuccess {
		err = os.Rename(part, dir.image(im.Name))
	}
	if ctx.Err() != nil {
		_ = os.Remove(part)
		return fmt.Errorf("import %s: %w", im.Name, ctx.Err())
	}
	im.Phase, im.ImportTime = cron.PhaseSucceeded, r.now()
	if err != nil || term.Result != contract.ResultSuccess {
		_ = os.Remove(part)
		im.Phase, im.ImportTime, im.Message = cron.PhaseFailed, time.Time{}, failure(term, err)
		fmt.Fprintf(r.log, "%s: import %s failed: %s\n", c.Spec.ManagedDataSource, im.Name, im.Message)
	}
	st.Imports = append(slices.DeleteFunc(st.Imports, func(x cron.Import) bool { return x.Name == im.Name }), im)
	if im.Phase == cron.PhaseFailed {
		return fmt.Errorf("import %s: %s", im.Name, im.Message)
	}
	return nil
}

func failure(term contract.Termination, err error) string {
	switch {
	case term.Message != "":
		return term.Message
	case err != nil:
		return err.Error()
	}
	return "importer reported " + term.Result
}
