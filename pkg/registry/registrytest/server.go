package registrytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/goldimage/goldimage/pkg/registry"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

// Auth selects how the server authenticates clients.
type Auth int

// Authentication modes.
const (
	Bearer    Auth = iota // Docker token auth: 401 with a realm on the same host:port, basic credentials at /token
	Basic                 // HTTP basic auth on every request
	Anonymous             // no authentication
)

// Kinds of requests, as counted by Count and matched by Fail.
const (
	KindAny      = ""         // every request
	KindPing     = "ping"     // GET /v2/
	KindManifest = "manifest" // /v2/<name>/manifests/<reference>
	KindBlob     = "blob"     // /v2/<name>/blobs/<digest>
	KindUpload   = "upload"   // /v2/<name>/blobs/uploads/...
	KindToken    = "token"    // the bearer token endpoint
)

// Server is a running test registry.
type Server struct {
	Host     string // host:port on 127.0.0.1, to be used in references
	Username string // accepted user name
	Password string // accepted password

	auth     Auth
	registry http.Handler
	mu       sync.Mutex
	counts   map[string]int
	faults   []fault
	tokens   map[string]bool
	hook     func(method, kind string)
}

type fault struct {
	kind       string
	left       int
	status     int
	retryAfter string
}

// Option configures New.
type Option func(*Server)

// WithAuth selects the authentication mode. Default: Bearer.
func WithAuth(a Auth) Option { return func(s *Server) { s.auth = a } }

// WithCredentials sets the accepted user name and password. Default: "tester" and a random password.
func WithCredentials(user, password string) Option {
	return func(s *Server) { s.Username, s.Password = user, password }
}

// WithHook calls hook with every request's method and kind before it is served (tests may block in
// it to hold requests in flight). Default: none.
func WithHook(hook func(method, kind string)) Option { return func(s *Server) { s.hook = hook } }

// New starts a registry on a loopback port, stopped when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{Username: "tester", Password: "pw-" + randomHex(12), registry: ggcr.New(ggcr.Logger(discardLogger())),
		counts: map[string]int{}, tokens: map[string]bool{}}
	for _, o := range opts {
		o(s)
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.Host = strings.TrimPrefix(srv.URL, "http://")
	return s
}

// Ref returns the reference of repoAndTag ("repo:tag" or "repo@sha256:...") on this server.
func (s *Server) Ref(repoAndTag string) string { return s.Host + "/" + repoAndTag }

// Fail answers the next n requests of kind with status (and Retry-After when retryAfter is not empty).
func (s *Server) Fail(kind string, n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{kind: kind, left: n, status: status, retryAfter: retryAfter})
}

// Count returns how many requests with method (e.g. "HEAD") of kind arrived since the last Reset.
func (s *Server) Count(method, kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+kind]
}

// Reset zeroes the request counts.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
}

// Client returns a registry.Client holding this server's credentials (plus opts).
func (s *Server) Client(t testing.TB, opts ...registry.Option) *registry.Client {
	t.Helper()
	c, err := registry.New(append([]registry.Option{registry.WithBasicAuth(s.Username, s.Password)}, opts...)...)
	if err != nil {
		t.Fatalf("registry client: %v", err)
	}
	return c
}

// PushDisk pushes disk as a containerDisk to repoAndTag on this server and returns its digest.
func (s *Server) PushDisk(t testing.TB, repoAndTag string, disk []byte, opts ...registry.PushOption) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, disk, 0o600); err != nil {
		t.Fatalf("write disk: %v", err)
	}
	d, err := s.Client(t).Push(context.Background(), s.Ref(repoAndTag), p, opts...)
	if err != nil {
		t.Fatalf("push containerDisk: %v", err)
	}
	return d
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	kind := kindOf(r.URL.Path)
	if s.hook != nil {
		s.hook(r.Method, kind)
	}
	if s.inject(w, r.Method, kind) {
		return
	}
	switch {
	case kind == KindToken:
		s.token(w, r)
	case s.authorized(r):
		s.registry.ServeHTTP(w, r)
	case s.auth == Basic:
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	default:
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/token",service="registrytest"`, s.Host))
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	}
}

// inject counts the request and answers it with a pending fault, if any.
func (s *Server) inject(w http.ResponseWriter, method, kind string) bool {
	s.mu.Lock()
	s.counts[method+" "+kind]++
	var f *fault
	for i := range s.faults {
		if s.faults[i].left > 0 && (s.faults[i].kind == KindAny || s.faults[i].kind == kind) {
			f = &s.faults[i]
			f.left--
			break
		}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	code := "UNAVAILABLE"
	if f.status == http.StatusTooManyRequests {
		code = "TOOMANYREQUESTS"
	}
	writeError(w, f.status, code, "injected failure")
	return true
}

func (s *Server) authorized(r *http.Request) bool {
	switch s.auth {
	case Anonymous:
		return true
	case Basic:
		u, p, ok := r.BasicAuth()
		return ok && u == s.Username && p == s.Password
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	return ok && s.tokens[tok]
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != s.Username || p != s.Password {
		writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "bad credentials")
		return
	}
	tok := randomHex(16)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 3600})
}

func kindOf(p string) string {
	switch {
	case p == "/token":
		return KindToken
	case p == "/v2/" || p == "/v2":
		return KindPing
	case strings.Contains(p, "/blobs/uploads"):
		return KindUpload
	case strings.Contains(p, "/blobs/"):
		return KindBlob
	case strings.Contains(p, "/manifests/"):
		return KindManifest
	}
	return "other"
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewClient returns a registry.Client without credentials (plus opts), failing the test on error.
func NewClient(t testing.TB, opts ...registry.Option) *registry.Client {
	t.Helper()
	c, err := registry.New(opts...)
	if err != nil {
		t.Fatalf("registry client: %v", err)
	}
	return c
}
