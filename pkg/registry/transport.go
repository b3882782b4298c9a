package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/time/rate"
)

// baseTransport returns an HTTP transport trusting the system pool plus the PEM files in caDir.
func baseTransport(caDir string, insecure bool) (*http.Transport, error) {
	t := remote.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // only for registries the caller named insecure
	if caDir == "" {
		return t, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	entries, err := os.ReadDir(caDir)
	if err != nil {
		return nil, fmt.Errorf("read CA directory: %w", err)
	}
	added := 0
	for _, e := range entries {
		// Every key of a mounted CA ConfigMap counts, whatever its name (CDI's importer reads them all);
		// the kubelet's own ..data and ..<timestamp> entries start with a dot.
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(caDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read CA certificate: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s: no PEM certificate in it", e.Name())
		}
		added++
	}
	if added == 0 {
		return nil, fmt.Errorf("CA directory %s: no certificate file", caDir)
	}
	t.TLSClientConfig.RootCAs = pool
	return t, nil
}

// schemeGuard sends requests for the hosts the caller listed insecure through a transport that skips
// TLS verification and may speak plain HTTP. Every other host gets verified TLS, and plain HTTP only
// when it is loopback (127.0.0.0/8, ::1, localhost), as Docker allows. go-containerregistry on its own
// falls back to plain HTTP for private (RFC 1918) addresses, which would send credentials in clear.
// Redirects are checked too: they pass through here with the redirect target's host.
type schemeGuard struct {
	secure, insecure http.RoundTripper
	listed           map[string]bool // "host" or "host:port", as in the image reference
}

func (g *schemeGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if g.listed[req.URL.Host] {
		return g.insecure.RoundTrip(req)
	}
	if req.URL.Scheme == "http" && !isLoopback(req.URL.Hostname()) {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body even when it fails
		}
		return nil, &plainHTTPError{host: req.URL.Host}
	}
	return g.secure.RoundTrip(req)
}

// isLoopback reports whether host (without port) is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// plainHTTPError is a refused plain-HTTP request to a host not listed insecure; no retry fixes it.
type plainHTTPError struct{ host string }

func (e *plainHTTPError) Error() string {
	return fmt.Sprintf("registry %s answered only over plain HTTP; list it as insecure to allow that", e.host)
}

// retrying is an http.RoundTripper that waits for the per-host rate limit before each request and
// retries 408, 429 and 5xx answers (and network errors of GET and HEAD) with backoff.
type retrying struct {
	inner    http.RoundTripper
	limits   *hostLimits
	attempts int
	base     time.Duration
	maxWait  time.Duration
	sleep    func(ctx context.Context, d time.Duration) error
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	for attempt := 1; ; attempt++ {
		if err := t.limits.wait(ctx, req.URL.Host); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for request-rate limit of %s: %w", req.URL.Host, err)
			}
			return nil, fmt.Errorf("%w: request-rate limit of %s: %v", ErrRetryable, req.URL.Host, err)
		}
		resp, err := t.inner.RoundTrip(req)
		if attempt >= t.attempts || !retryableAnswer(req, resp, err) || !replayable(req) {
			return resp, err
		}
		wait := t.delay(attempt, resp)
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := t.sleep(ctx, wait); err != nil {
			return nil, err
		}
		if req.Body != nil && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replay request body: %w", err)
			}
			req = req.Clone(ctx)
			req.Body = body
		}
	}
}

func retryableAnswer(req *http.Request, resp *http.Response, err error) bool {
	if err != nil {
		idempotent := req.Method == http.MethodGet || req.Method == http.MethodHead
		return idempotent && req.Context().Err() == nil && !isTLSError(err)
	}
	c := resp.StatusCode
	return c == http.StatusTooManyRequests || c == http.StatusRequestTimeout || c == http.StatusBadGateway ||
		c == http.StatusServiceUnavailable || c == http.StatusGatewayTimeout || c == http.StatusInternalServerError
}

// isTLSError reports certificate and handshake failures, which no retry fixes.
func isTLSError(err error) bool {
	var rec tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &rec) || errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) ||
		errors.As(err, &invalid)
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// delay honours Retry-After (seconds or an HTTP date), else backs off exponentially with jitter.
func (t *retrying) delay(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, t.maxWait)
		}
	}
	d := t.base << min(attempt-1, 30)
	if d < 0 || d > t.maxWait {
		d = t.maxWait
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // jitter needs no cryptographic randomness
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<20)) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait before retry: %w", ctx.Err())
	}
}

// hostLimits holds one token-bucket limiter per registry host.
type hostLimits struct {
	perSecond float64
	burst     int
	mu        sync.Mutex
	byHost    map[string]*rate.Limiter
}

func (h *hostLimits) wait(ctx context.Context, host string) error {
	if h.perSecond <= 0 {
		return nil
	}
	h.mu.Lock()
	l, ok := h.byHost[host]
	if !ok {
		l = rate.NewLimiter(rate.Limit(h.perSecond), h.burst)
		h.byHost[host] = l
	}
	h.mu.Unlock()
	return l.Wait(ctx)
}
