package cron

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// DigestResolver resolves an image reference to its manifest digest ("sha256:<hex>").
type DigestResolver interface {
	Digest(ctx context.Context, ref string) (string, error)
}

// Credentials is what a poll authenticates and verifies TLS with; polls share only with equal credentials.
type Credentials struct {
	Username string
	Password string
	CACerts  string // PEM bundle added to the system roots
	Headers  string // http(s) sources: extra "Name: value" request headers, one per line (http.extraHeaders)
}

// key identifies a credential set without keeping the secret in map keys readable in dumps.
func (c Credentials) key() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%q\x00%q\x00%q\x00%q", c.Username, c.Password, c.CACerts, c.Headers))
	return hex.EncodeToString(sum[:])
}

// ResolverFactory builds the long-lived resolver for one credential set.
type ResolverFactory func(Credentials) (DigestResolver, error)

// Poller resolves digests for many crons, sharing one registry request among identical polls (same
// reference, same credentials) started within the share window, and keeping one resolver per credential set.
type Poller struct {
	factory ResolverFactory
	checker CheckerFactory
	window  time.Duration
	now     func() time.Time

	mu        sync.Mutex
	resolvers map[string]DigestResolver
	checkers  map[string]Checker
	polls     map[string]*poll
	pruned    time.Time
}

type poll struct {
	done   chan struct{}
	start  time.Time
	result pollResult
	err    error
}

// pollResult is what a shared poll found: a digest, or an http validator and whether it changed.
type pollResult struct {
	digest    string
	validator Validator
	changed   bool
}

// Checker asks an http(s) server whether a URL changed and reads checksum files; *HTTPChecker implements it.
type Checker interface {
	Check(ctx context.Context, url string, prev Validator) (Validator, bool, error)
	Checksum(ctx context.Context, sumsURL, imageURL string) (string, error)
}

// CheckerFactory builds the long-lived http checker for one credential set.
type CheckerFactory func(Credentials) (Checker, error)

// PollerOption configures a Poller.
type PollerOption func(*Poller)

// WithShareWindow sets how long a poll result is reused by identical polls; default 30s. Keep it shorter than
// the shortest schedule period, or a cron could be served a digest from its previous tick.
func WithShareWindow(d time.Duration) PollerOption { return func(p *Poller) { p.window = d } }

// WithClock replaces time.Now; default time.Now.
func WithClock(now func() time.Time) PollerOption { return func(p *Poller) { p.now = now } }

// WithCheckers sets how http(s) sources are polled; default NewHTTPChecker.
func WithCheckers(f CheckerFactory) PollerOption { return func(p *Poller) { p.checker = f } }

// NewPoller returns a Poller that builds resolvers with factory.
func NewPoller(factory ResolverFactory, opts ...PollerOption) *Poller {
	p := &Poller{factory: factory, window: 30 * time.Second, now: time.Now,
		checker:   func(c Credentials) (Checker, error) { return NewHTTPChecker(c) },
		resolvers: map[string]DigestResolver{}, checkers: map[string]Checker{}, polls: map[string]*poll{}}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Digest resolves ref with creds (errors are the resolver's, which name ref), joining an identical poll started less than the share window ago.
// Failed polls are shared too, so a broken registry sees one request per tick, not one per cron.
func (p *Poller) Digest(ctx context.Context, ref string, creds Credentials) (string, error) {
	return p.digest(ctx, ref, creds, false)
}

// Refresh resolves ref with creds without reusing an earlier result (a forced poll); polls started after it
// share its answer. Concurrent refreshes of the same reference still share one request.
func (p *Poller) Refresh(ctx context.Context, ref string, creds Credentials) (string, error) {
	return p.digest(ctx, ref, creds, true)
}

func (p *Poller) digest(ctx context.Context, ref string, creds Credentials, fresh bool) (string, error) {
	ck := creds.key()
	r, err := p.share(ctx, ck+"\x00"+ref, fresh, func() (func(context.Context) (pollResult, error), error) {
		res, err := p.resolver(ck, creds)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (pollResult, error) {
			d, err := res.Digest(ctx, ref)
			return pollResult{digest: d}, err
		}, nil
	})
	return r.digest, err
}

// CheckHTTP polls an http(s) URL conditioned on prev, the validator of the last poll (zero for none): it
// returns the current validator and whether it differs from prev. Identical checks (same URL, same prev, same
// credentials) within the share window share one request, as digest polls do; fresh is Refresh's.
func (p *Poller) CheckHTTP(ctx context.Context, url string, prev Validator, creds Credentials, fresh bool) (Validator, bool, error) {
	ck := creds.key()
	pk := "http\x00" + ck + "\x00" + url + "\x00" + prev.ETag + "\x00" + prev.LastModified
	r, err := p.share(ctx, pk, fresh, func() (func(context.Context) (pollResult, error), error) {
		c, err := p.httpChecker(ck, creds)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (pollResult, error) {
			v, changed, err := c.Check(ctx, url, prev)
			return pollResult{validator: v, changed: changed}, err
		}, nil
	})
	if err != nil {
		return prev, false, err
	}
	return r.validator, r.changed, nil
}

// Checksum reads the "sha256:<hex>" that the checksum file at sumsURL lists for imageURL's file name.
func (p *Poller) Checksum(ctx context.Context, sumsURL, imageURL string, creds Credentials) (string, error) {
	ck := creds.key()
	p.mu.Lock()
	c, err := p.httpChecker(ck, creds)
	p.mu.Unlock()
	if err != nil {
		return "", err
	}
	return c.Checksum(ctx, sumsURL, imageURL)
}

// share runs the poll that start prepares (under p.mu) unless an identical one started within the window.
func (p *Poller) share(ctx context.Context, pk string, fresh bool, start func() (func(context.Context) (pollResult, error), error)) (pollResult, error) {
	p.mu.Lock()
	now := p.now()
	p.prune(now)
	if pl, ok := p.polls[pk]; ok && now.Sub(pl.start) < p.window && (!fresh || !pl.finished()) {
		p.mu.Unlock()
		return pl.wait(ctx)
	}
	run, err := start()
	if err != nil {
		p.mu.Unlock()
		return pollResult{}, err
	}
	pl := &poll{done: make(chan struct{}), start: now}
	p.polls[pk] = pl
	p.mu.Unlock()

	pl.result, pl.err = run(context.WithoutCancel(ctx))
	close(pl.done)
	return pl.result, pl.err
}

func (pl *poll) finished() bool {
	select {
	case <-pl.done:
		return true
	default:
		return false
	}
}

func (pl *poll) wait(ctx context.Context) (pollResult, error) {
	select {
	case <-pl.done:
		return pl.result, pl.err
	case <-ctx.Done():
		return pollResult{}, ctx.Err()
	}
}

// resolver returns the resolver of a credential set, building it once; p.mu is held.
func (p *Poller) resolver(ck string, creds Credentials) (DigestResolver, error) {
	if r, ok := p.resolvers[ck]; ok {
		return r, nil
	}
	r, err := p.factory(creds)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	p.resolvers[ck] = r
	return r, nil
}

// httpChecker returns the http checker of a credential set, building it once; p.mu is held.
func (p *Poller) httpChecker(ck string, creds Credentials) (Checker, error) {
	if c, ok := p.checkers[ck]; ok {
		return c, nil
	}
	c, err := p.checker(creds)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	p.checkers[ck] = c
	return c, nil
}

// prune drops finished polls older than the window, at most once per window; p.mu is held.
func (p *Poller) prune(now time.Time) {
	if now.Sub(p.pruned) < p.window {
		return
	}
	p.pruned = now
	for k, pl := range p.polls {
		select {
		case <-pl.done:
			if now.Sub(pl.start) >= p.window {
				delete(p.polls, k)
			}
		default:
		}
	}
}
