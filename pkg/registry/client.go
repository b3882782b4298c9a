package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// Client resolves, pulls and pushes images. It is safe for concurrent use and meant to live as long
// as the process: it caches one authenticated puller and pusher per (registry, credentials).
type Client struct {
	cfg       config
	keychain  authn.Keychain
	secrets   *secrets
	limits    *hostLimits
	transport http.RoundTripper // a schemeGuard over retrying transports

	mu      sync.Mutex
	pullers map[string]*remote.Puller
	pushers map[string]*remote.Pusher
	flight  singleflight.Group
	picks   indexPicks
}

// New builds a Client; see the Option functions for the defaults.
func New(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("configure registry client: %w", err)
		}
	}
	c := &Client{cfg: cfg, keychain: firstMatch(cfg.keychains), secrets: &secrets{},
		limits:  &hostLimits{perSecond: cfg.rate, burst: cfg.burst, byHost: map[string]*rate.Limiter{}},
		pullers: map[string]*remote.Puller{}, pushers: map[string]*remote.Pusher{}}
	c.secrets.add(cfg.secretsSeen...)
	secure, err := baseTransport(cfg.caDir, false)
	if err != nil {
		return nil, fmt.Errorf("configure registry client: %w", err)
	}
	insecure, err := baseTransport(cfg.caDir, true)
	if err != nil {
		return nil, fmt.Errorf("configure registry client: %w", err)
	}
	c.transport = &schemeGuard{secure: c.retrying(secure), insecure: c.retrying(insecure), listed: cfg.insecure}
	return c, nil
}

func (c *Client) retrying(inner http.RoundTripper) http.RoundTripper {
	sleep := sleepCtx
	if c.cfg.sleep != nil {
		hook := c.cfg.sleep
		sleep = func(_ context.Context, d time.Duration) error { hook(d); return nil }
	}
	return &retrying{inner: inner, limits: c.limits, attempts: c.cfg.attempts, base: c.cfg.backoff,
		maxWait: c.cfg.maxBackoff, sleep: sleep}
}

// parseRef parses a registry reference, with or without a docker:// prefix.
func (c *Client) parseRef(ref string) (name.Reference, error) {
	s := strings.TrimPrefix(ref, "docker://")
	var opts []name.Option
	if host, _, _ := strings.Cut(s, "/"); c.cfg.insecure[host] {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(s, opts...)
	if err != nil {
		return nil, &Error{Kind: ErrInvalidReference, msg: fmt.Sprintf("parse image reference %q: %v", ref, err)}
	}
	return r, nil
}

// access is the authenticated view of one registry: its authenticator and the cache key naming it.
type access struct {
	auth authn.Authenticator
	key  string // registry + hash of the credentials; never the credentials themselves
}

func (c *Client) access(r name.Reference) (access, error) {
	auth, err := c.keychain.Resolve(r.Context())
	if err != nil {
		return access{}, err
	}
	ac, err := auth.Authorization()
	if err != nil {
		return access{}, fmt.Errorf("read credentials for %s: %w", r.Context().RegistryStr(), err)
	}
	c.secrets.add(ac.Password, ac.Auth, ac.IdentityToken, ac.RegistryToken, basicToken(ac.Username, ac.Password))
	raw, _ := json.Marshal(ac)
	sum := sha256.Sum256(raw)
	return access{auth: auth, key: r.Context().RegistryStr() + "|" + hex.EncodeToString(sum[:8])}, nil
}

func (c *Client) remoteOptions(r name.Reference, a access) []remote.Option {
	never := func(error) bool { return false } // retries happen in our transport, which honours Retry-After
	return []remote.Option{remote.WithAuth(a.auth), remote.WithTransport(c.transport), remote.WithUserAgent(c.cfg.userAgent),
		remote.WithPlatform(c.cfg.platform), remote.WithRetryPredicate(never), remote.WithRetryStatusCodes()}
}

func (c *Client) puller(r name.Reference) (*remote.Puller, access, error) {
	a, err := c.access(r)
	if err != nil {
		return nil, a, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pullers[a.key]; ok {
		return p, a, nil
	}
	p, err := remote.NewPuller(c.remoteOptions(r, a)...)
	if err != nil {
		return nil, a, fmt.Errorf("create puller for %s: %w", r.Context().RegistryStr(), err)
	}
	c.pullers[a.key] = p
	return p, a, nil
}

func (c *Client) pusher(r name.Reference) (*remote.Pusher, error) {
	a, err := c.access(r)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pushers[a.key]; ok {
		return p, nil
	}
	p, err := remote.NewPusher(c.remoteOptions(r, a)...)
	if err != nil {
		return nil, fmt.Errorf("create pusher for %s: %w", r.Context().RegistryStr(), err)
	}
	c.pushers[a.key] = p
	return p, nil
}

// Digest returns the digest that pins what Pull imports for ref (docker://host/repo:tag, host/repo:tag
// or @digest): for a single-platform image its manifest digest; for an image index the digest of the
// manifest selected for the client's platform (not the index digest, which changes whenever any
// other platform is rebuilt). It sends a HEAD request and falls back to GET when HEAD fails or the
// answer is an index whose platform choice is not cached yet. Identical concurrent calls (same ref,
// credentials and platform) share one request; they share the first caller's context too.
// oci:/dir[:tag] and oci-archive:/file.tar[:tag] references are resolved locally the same way.
func (c *Client) Digest(ctx context.Context, ref string) (string, error) {
	if strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "oci-archive:") {
		img, err := c.resolveImage(ctx, ref)
		if err != nil {
			return "", c.secrets.wrap(fmt.Errorf("resolve digest of %s: %w", ref, err))
		}
		return img.digest, nil
	}
	r, err := c.parseRef(ref)
	if err != nil {
		return "", err
	}
	p, a, err := c.puller(r)
	if err != nil {
		return "", c.secrets.wrap(fmt.Errorf("resolve digest of %s: %w", ref, err))
	}
	key := a.key + "|" + r.Name() + "|" + c.cfg.platform.String()
	if c.cfg.joinFlight != nil {
		c.cfg.joinFlight()
	}
	v, err, _ := c.flight.Do(key, func() (any, error) { return c.digest(ctx, p, r) })
	if err != nil {
		return "", c.secrets.wrap(fmt.Errorf("resolve digest of %s: %w", ref, err))
	}
	return v.(string), nil
}

func (c *Client) digest(ctx context.Context, p *remote.Puller, r name.Reference) (string, error) {
	desc, err := p.Head(ctx, r)
	if err != nil {
		// A GET counts against pull quotas (Docker Hub) and would meet the same throttling or outage,
		// so only answers that hint at a registry mishandling HEAD (405, 404, no digest) fall back.
		if _, kind := kindOf(err); kind == ErrUnauthorized || kind == ErrRetryable || ctx.Err() != nil {
			return "", err
		}
		return c.digestByGet(ctx, p, r)
	}
	switch {
	case desc.MediaType.IsIndex():
		if d, ok := c.picks.get(desc.Digest, c.cfg.platform); ok {
			return d, nil
		}
		return c.digestByGet(ctx, p, r)
	case desc.MediaType.IsImage():
		return desc.Digest.String(), nil
	}
	return "", fmt.Errorf("%w: manifest media type %q is neither an image nor an index", ErrInvalidDisk, desc.MediaType)
}

func (c *Client) digestByGet(ctx context.Context, p *remote.Puller, r name.Reference) (string, error) {
	d, err := p.Get(ctx, r)
	if err != nil {
		return "", err
	}
	switch {
	case d.MediaType.IsImage():
		return d.Digest.String(), nil
	case !d.MediaType.IsIndex():
		return "", fmt.Errorf("%w: manifest media type %q is neither an image nor an index", ErrInvalidDisk, d.MediaType)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &idx); err != nil {
		return "", fmt.Errorf("parse image index: %w", err)
	}
	child, err := pickPlatform(idx.Manifests, c.cfg.platform)
	if err != nil {
		return "", err
	}
	c.picks.put(d.Digest, c.cfg.platform, child.Digest.String())
	return child.Digest.String(), nil
}

// pickPlatform returns the first image manifest in an index matching want.
func pickPlatform(manifests []v1.Descriptor, want v1.Platform) (v1.Descriptor, error) {
	var have []string
	for _, m := range manifests {
		if m.Platform == nil {
			continue
		}
		if m.Platform.Satisfies(want) {
			if !m.MediaType.IsImage() {
				return v1.Descriptor{}, fmt.Errorf("%w: index entry for %s is %q, not an image manifest", ErrInvalidDisk, want, m.MediaType)
			}
			return m, nil
		}
		have = append(have, m.Platform.String())
	}
	if len(have) == 0 {
		have = []string{"no platforms"}
	}
	return v1.Descriptor{}, fmt.Errorf("%w: image index has no manifest for platform %s (it has %s)", ErrNotFound, want,
		strings.Join(have, ", "))
}

// indexPicks remembers which manifest an index digest resolves to per platform; the mapping never
// changes because both sides are content-addressed. It holds at most 4096 entries.
type indexPicks struct {
	mu sync.Mutex
	m  map[string]string
}

func (p *indexPicks) get(index v1.Hash, plat v1.Platform) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, ok := p.m[index.String()+"|"+plat.String()]
	return d, ok
}

func (p *indexPicks) put(index v1.Hash, plat v1.Platform, child string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil || len(p.m) >= 4096 {
		p.m = map[string]string{}
	}
	p.m[index.String()+"|"+plat.String()] = child
}
