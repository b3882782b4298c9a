package dataimportcron

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/record"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

// Poller resolves digests and checks http(s) sources, sharing identical polls; *cron.Poller implements it.
type Poller interface {
	Digest(ctx context.Context, ref string, creds cron.Credentials) (string, error)  // may reuse a poll of this tick
	Refresh(ctx context.Context, ref string, creds cron.Credentials) (string, error) // asks the registry now
	// CheckHTTP polls an http(s) URL conditioned on prev; fresh asks the server now.
	CheckHTTP(ctx context.Context, url string, prev cron.Validator, creds cron.Credentials, fresh bool) (cron.Validator, bool, error)
	Checksum(ctx context.Context, sumsURL, imageURL string, creds cron.Credentials) (string, error) // reads a SHA256SUMS file
}

// Reconciler reconciles DataImportCrons.
type Reconciler struct {
	client      client.Client
	reader      client.Reader
	recorder    record.EventRecorder
	poller      Poller
	jitter      time.Duration
	pollTimeout time.Duration
	workers     int
	now         func() time.Time
}

// Option configures a Reconciler.
type Option func(*Reconciler)

// WithJitter sets the maximum jitter added to the next scheduled poll; default 10s. Keep it below the
// poller's share window so crons on one schedule still share their polls.
func WithJitter(d time.Duration) Option { return func(r *Reconciler) { r.jitter = d } }

// WithReader sets the reader for Secrets and ConfigMaps (registry credentials and CA bundles); default the
// client. Pass the manager's API reader so the cache does not watch every Secret in the cluster.
func WithReader(rd client.Reader) Option { return func(r *Reconciler) { r.reader = rd } }

// WithWorkers sets how many crons are reconciled concurrently; default 4.
func WithWorkers(n int) Option { return func(r *Reconciler) { r.workers = n } }

// WithPollTimeout bounds one digest poll; default 30s.
func WithPollTimeout(d time.Duration) Option { return func(r *Reconciler) { r.pollTimeout = d } }

// New returns a Reconciler polling through p.
func New(c client.Client, recorder record.EventRecorder, p Poller, opts ...Option) *Reconciler {
	r := &Reconciler{client: c, reader: c, recorder: recorder, poller: p, jitter: 10 * time.Second, pollTimeout: 30 * time.Second, workers: 4, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	return r
}

// SetupWithManager watches DataImportCrons and the DataVolumes labelled with a cron's name.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	toCron := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name, ok := o.GetLabels()[cdiconst.LabelDataImportCron]
		if !ok {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: name}}}
	})
	return ctrl.NewControllerManagedBy(mgr).Named("dataimportcron").For(&cdiv1.DataImportCron{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.workers}).
		Watches(&cdiv1.DataVolume{}, toCron).Watches(&cdiv1.DataSource{}, toCron).
		Complete(r)
}

// Reconcile fetches the cron, handles deletion, runs the phases and writes the cron once at the end (the
// DataImportCron CRD has no status subresource, as in CDI).
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &cdiv1.DataImportCron{}
	if err := r.client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, c)
	}
	if controllerutil.AddFinalizer(c, cdiconst.FinalizerDataImportCron) {
		if err := r.client.Update(ctx, c); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer to DataImportCron %s: %w", req, err)
		}
	}
	before := c.DeepCopy()
	res, err := r.reconcile(ctx, c)
	if !equality.Semantic.DeepEqual(before.Status, c.Status) || !equality.Semantic.DeepEqual(before.Annotations, c.Annotations) {
		if uerr := r.client.Update(ctx, c); uerr != nil {
			return ctrl.Result{}, errors.Join(err, fmt.Errorf("update DataImportCron %s: %w", req, uerr))
		}
	}
	r.conditionEvents(before, c)
	if up := condition(c, cdiv1.DataImportCronUpToDate); up != nil {
		setOutdated(c, up.Status == corev1.ConditionTrue)
	}
	return res, err
}

// state is what one reconcile observed and decided.
type state struct {
	schedule  cron.Schedule
	imports   map[string]*cdiv1.DataVolume
	snapshots map[string]*snapshotv1.VolumeSnapshot // imports kept as VolumeSnapshots, by name
	format    format
	dying     map[string]bool   // DataVolumes being deleted
	ds        *cdiv1.DataSource // nil when missing
	foreign   bool              // ds is managed by another cron
	polled    bool
	problem   *cron.Condition // the http source has no usable validator (this poll or the last)
}

func (r *Reconciler) reconcile(ctx context.Context, c *cdiv1.DataImportCron) (ctrl.Result, error) {
	var st state
	var err error
	if st.schedule, err = cron.Validate(c); err != nil {
		stall := cron.Condition{Reason: cdiconst.ReasonInvalidSpec, Message: err.Error()}
		setCondition(c, cdiv1.DataImportCronUpToDate, stall)
		setCondition(c, cdiv1.DataImportCronProgressing, stall)
		return ctrl.Result{}, nil // only an edit fixes it; the edit triggers a reconcile
	}
	if err := r.observe(ctx, c, &st); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.poll(ctx, c, &st); err != nil {
		return ctrl.Result{}, err
	}
	snapshotting := false
	if st.format.snapshot {
		if snapshotting, err = r.snapshotImports(ctx, c, &st); err != nil {
			return ctrl.Result{}, err
		}
	}
	plan := cron.Decide(r.input(c, &st))
	waiting, err := r.apply(ctx, c, &st, plan)
	if err != nil {
		return ctrl.Result{}, err
	}
	waiting = waiting || snapshotting
	r.writeStatus(c, &st, plan)
	if waiting {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if after := cron.RequeueAfter(st.schedule, lastPoll(c), r.now(), c.Namespace+"/"+c.Name, r.jitter); after > 0 {
		return ctrl.Result{RequeueAfter: after}, nil
	}
	return ctrl.Result{}, nil
}

// observe lists the cron's DataVolumes and reads its DataSource.
func (r *Reconciler) observe(ctx context.Context, c *cdiv1.DataImportCron, st *state) error {
	var dvs cdiv1.DataVolumeList
	if err := r.client.List(ctx, &dvs, client.InNamespace(c.Namespace), client.MatchingLabels{cdiconst.LabelDataImportCron: c.Name}); err != nil {
		return fmt.Errorf("list DataVolumes of DataImportCron %s: %w", c.Name, err)
	}
	st.imports = make(map[string]*cdiv1.DataVolume, len(dvs.Items))
	st.dying = map[string]bool{}
	for i := range dvs.Items {
		if dvs.Items[i].DeletionTimestamp.IsZero() {
			st.imports[dvs.Items[i].Name] = &dvs.Items[i]
		} else {
			st.dying[dvs.Items[i].Name] = true
		}
	}
	if err := r.observeSnapshots(ctx, c, st); err != nil {
		return err
	}
	var err error
	if st.format, err = r.storageFormat(ctx, c); err != nil {
		return err
	}
	ds := &cdiv1.DataSource{}
	err = r.client.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.ManagedDataSource}, ds)
	switch {
	case err == nil:
		st.ds = ds
		owner, labelled := ds.Labels[cdiconst.LabelDataImportCron]
		st.foreign = labelled && owner != c.Name
	case client.IgnoreNotFound(err) != nil:
		return fmt.Errorf("get DataSource %s: %w", c.Spec.ManagedDataSource, err)
	}
	return nil
}

// trigger is the value of the forcing annotations; a change from the handled value forces a poll.
func trigger(c *cdiv1.DataImportCron) string {
	return c.Annotations[cdiconst.AnnReconcileRequest] + "|" + c.Annotations[cdiconst.AnnLastCronTime]
}

func forced(c *cdiv1.DataImportCron) bool {
	handled, ok := c.Annotations[cdiconst.AnnHandledRequest]
	return trigger(c) != "|" && (!ok || handled != trigger(c))
}

func lastPoll(c *cdiv1.DataImportCron) time.Time {
	if c.Status.LastExecutionTimestamp == nil {
		return time.Time{}
	}
	return c.Status.LastExecutionTimestamp.Time
}

// poll resolves the digest (or checks the http source) when the schedule or a trigger says so and records it on the cron.
func (r *Reconciler) poll(ctx context.Context, c *cdiv1.DataImportCron, st *state) error {
	force := forced(c)
	if !cron.PollDue(st.schedule, lastPoll(c), r.now(), force) {
		st.problem = lastProblem(c)
		return nil
	}
	creds, err := credentials(ctx, r.reader, c)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, r.pollTimeout)
		if cron.IsHTTP(c) {
			err = r.pollHTTP(pctx, c, st, creds, force)
		} else {
			err = r.pollRegistry(pctx, c, creds, force)
		}
		cancel()
		if err == nil {
			pollsTotal.WithLabelValues("ok").Inc()
			c.Status.LastExecutionTimestamp = ptrTime(r.now())
			st.polled = true
			return nil
		}
	}
	pollsTotal.WithLabelValues("error").Inc()
	setCondition(c, cdiv1.DataImportCronUpToDate, cron.Condition{Reason: cdiconst.ReasonPollFailed, Message: err.Error()})
	return err
}

func (r *Reconciler) pollRegistry(ctx context.Context, c *cdiv1.DataImportCron, creds cron.Credentials, force bool) error {
	resolve := r.poller.Digest
	if force {
		resolve = r.poller.Refresh
	}
	digest, err := resolve(ctx, cron.TrimScheme(cron.SourceURL(c)), creds)
	if err != nil {
		return err
	}
	setAnnotation(c, cdiconst.AnnSourceDesiredDigest, digest)
	return nil
}

// pollHTTP asks the server whether the source changed since the recorded validator and, on a change, reads its
// checksum file; the new version and its checksum are recorded together. A server without a usable validator
// is a problem the conditions report, not an error to retry.
func (r *Reconciler) pollHTTP(ctx context.Context, c *cdiv1.DataImportCron, st *state, creds cron.Credentials, force bool) error {
	url, old := cron.SourceURL(c), c.Annotations[cdiconst.AnnSourceDesiredDigest]
	prev := cron.Validator{ETag: c.Annotations[cdiconst.AnnSourceETag], LastModified: c.Annotations[cdiconst.AnnSourceLastModified]}
	if cron.HTTPVersion(url, prev) != old {
		prev = cron.Validator{} // recorded for another URL, or nothing recorded
	}
	v, _, err := r.poller.CheckHTTP(ctx, url, prev, creds, force)
	if reason := problemReason(err); reason != "" {
		st.problem = &cron.Condition{Reason: reason, Message: err.Error()}
		return nil
	}
	if err != nil {
		return err
	}
	version, checksum := cron.HTTPVersion(url, v), ""
	if sums := c.Annotations[cdiconst.AnnChecksumURL]; sums != "" {
		checksum = c.Annotations[cdiconst.AnnSourceChecksum]
		if version != old || checksum == "" || force { // a forced poll rereads a checksum file published late
			if checksum, err = r.poller.Checksum(ctx, sums, url, creds); err != nil {
				return err
			}
		}
	}
	setAnnotation(c, cdiconst.AnnSourceDesiredDigest, version)
	setAnnotation(c, cdiconst.AnnSourceETag, v.ETag)
	setAnnotation(c, cdiconst.AnnSourceLastModified, v.LastModified)
	setAnnotation(c, cdiconst.AnnSourceChecksum, checksum)
	for _, k := range []string{cdiconst.AnnSourceETag, cdiconst.AnnSourceLastModified, cdiconst.AnnSourceChecksum} {
		if c.Annotations[k] == "" {
			delete(c.Annotations, k)
		}
	}
	return nil
}

// problemReason is the condition reason of a bad-validator poll error, "" for any other.
func problemReason(err error) string {
	switch {
	case errors.Is(err, cron.ErrNoValidator):
		return cdiconst.ReasonNoValidator
	case errors.Is(err, cron.ErrUnstableValidator):
		return cdiconst.ReasonUnstableValidator
	}
	return ""
}

// lastProblem is the bad-validator condition the last poll left, which holds until the next poll.
func lastProblem(c *cdiv1.DataImportCron) *cron.Condition {
	up := condition(c, cdiv1.DataImportCronUpToDate)
	if up == nil || (up.Reason != cdiconst.ReasonNoValidator && up.Reason != cdiconst.ReasonUnstableValidator) {
		return nil
	}
	return &cron.Condition{Reason: up.Reason, Message: up.Message}
}

func (r *Reconciler) input(c *cdiv1.DataImportCron, st *state) cron.Input {
	in := cron.Input{
		Source:            c.Spec.ManagedDataSource,
		Digest:            c.Annotations[cdiconst.AnnSourceDesiredDigest],
		ForeignDataSource: st.foreign,
		Keep:              cdiconst.DefaultImportsKeep,
		GarbageCollect:    c.Spec.GarbageCollect == nil || *c.Spec.GarbageCollect != cdiv1.DataImportCronGarbageCollectNever,
		Retry:             forced(c) && st.polled,
		Unpollable:        st.problem,
	}
	if c.Spec.ImportsToKeep != nil {
		in.Keep = int(*c.Spec.ImportsToKeep)
	}
	if st.ds != nil {
		in.DataSourceAt = dataSourceTarget(st.ds, c.Namespace)
	}
	for name, dv := range st.imports {
		im := importOf(dv)
		if vs, ok := st.snapshots[name]; ok {
			im = snapshotImport(vs)
		} else if st.format.snapshot && im.Phase == cron.PhaseSucceeded {
			im.Phase = cron.PhaseRunning // imported; the DataSource moves once its snapshot is ready
		}
		in.Imports = append(in.Imports, im)
	}
	for name, vs := range st.snapshots {
		if _, ok := st.imports[name]; !ok {
			in.Imports = append(in.Imports, snapshotImport(vs))
		}
	}
	return in
}
