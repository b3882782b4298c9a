package registry_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// sleeps records the waits the client asks for instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) record(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	s := registrytest.New(t)
	pushed := s.PushDisk(t, "retry/disk:v1", diskBytes(10, 64<<10))
	tests := []struct {
		name       string
		kind       string
		status     int
		n          int
		retryAfter string
		wantWaits  []time.Duration // exact waits; nil means any within the backoff bounds
		wantErr    bool
	}{
		{"429 with seconds", registrytest.KindManifest, 429, 2, "7", []time.Duration{7 * time.Second, 7 * time.Second}, false},
		{"503 with a date in the past", registrytest.KindManifest, 503, 1, "Mon, 02 Jan 2006 15:04:05 GMT", []time.Duration{0}, false},
		{"429 capped at the maximum wait", registrytest.KindManifest, 429, 1, "86400", []time.Duration{time.Minute}, false},
		{"429 on the token endpoint", registrytest.KindToken, 429, 1, "3", []time.Duration{3 * time.Second}, false},
		{"502 without Retry-After", registrytest.KindManifest, 502, 2, "", nil, false},
		{"503 outlasting the attempts", registrytest.KindManifest, 503, 10, "1", []time.Duration{time.Second, time.Second, time.Second, time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sl sleeps
			c := s.Client(t, registry.WithSleep(sl.record))
			s.Fail(tt.kind, tt.n, tt.status, tt.retryAfter)
			defer s.Fail(registrytest.KindAny, 0, 0, "")
			got, err := c.Digest(context.Background(), s.Ref("retry/disk:v1"))
			s.Fail(tt.kind, -1, 0, "")
			if tt.wantErr {
				if !registry.IsRetryable(err) || !errors.Is(err, registry.ErrRetryable) {
					t.Fatalf("err = %v, want a retryable error", err)
				}
			} else if err != nil || got != pushed {
				t.Fatalf("digest = %s, %v; want %s", got, err, pushed)
			}
			if tt.wantWaits != nil && fmt.Sprint(sl.d) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits = %v, want %v", sl.d, tt.wantWaits)
			}
			if tt.wantWaits == nil {
				if len(sl.d) != tt.n || sl.d[0] < 250*time.Millisecond || sl.d[0] > 500*time.Millisecond ||
					sl.d[1] < 500*time.Millisecond || sl.d[1] > time.Second {
					t.Errorf("waits = %v, want %d exponential waits starting near 500ms", sl.d, tt.n)
				}
			}
		})
	}
}

func TestErrorsAreClassified(t *testing.T) {
	s := registrytest.New(t)
	s.PushDisk(t, "class/disk:v1", diskBytes(11, 64<<10))
	wrong, err := registry.New(registry.WithBasicAuth(s.Username, "wrong-password"))
	if err != nil {
		t.Fatal(err)
	}
	anon, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client *registry.Client
		ref    string
		want   error
	}{
		{"missing tag", s.Client(t), s.Ref("class/disk:nope"), registry.ErrNotFound},
		{"missing repository", s.Client(t), s.Ref("nothing/here:v1"), registry.ErrNotFound},
		{"wrong password", wrong, s.Ref("class/disk:v1"), registry.ErrUnauthorized},
		{"anonymous", anon, s.Ref("class/disk:v1"), registry.ErrUnauthorized},
		{"bad reference", s.Client(t), "docker://UPPER/Case:tag:x", registry.ErrInvalidReference},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.client.Digest(context.Background(), tt.ref)
			if !errors.Is(err, tt.want) || registry.IsRetryable(err) {
				t.Errorf("Digest: %v; want %v, not retryable", err, tt.want)
			}
			_, err = tt.client.Pull(context.Background(), tt.ref)
			if !errors.Is(err, tt.want) {
				t.Errorf("Pull: %v; want %v", err, tt.want)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c, _ := registry.New(registry.WithRetry(1, 0, 0))
		_, err := c.Digest(context.Background(), strings.TrimPrefix(srv.URL, "http://")+"/x/y:z")
		if !registry.IsRetryable(err) {
			t.Errorf("err = %v, want retryable", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Client(t).Digest(ctx, s.Ref("class/disk:v1"))
		if !errors.Is(err, context.Canceled) || registry.IsRetryable(err) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

// leakyRegistry echoes the Authorization header it receives in every error body, as careless
// registries do, so that any credential reaching an error message shows up in the test.
func leakyRegistry(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="leaky"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(auth, "Basic "))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		msg := fmt.Sprintf("header %s means %s", auth, raw)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "DENIED", "message": msg}}})
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestCredentialsStayOutOfErrors(t *testing.T) {
	host := leakyRegistry(t)
	const user, secret = "robot", "s3cr3t-Pa55word"
	secretJSON := fmt.Sprintf(`{"auths":{"%s":{"auth":"%s"}}}`, host, base64.StdEncoding.EncodeToString([]byte(user+":"+secret)))
	encoded := base64.StdEncoding.EncodeToString([]byte(user + ":" + secret))
	tests := []struct {
		name string
		opt  registry.Option
	}{
		{"basic", registry.WithBasicAuth(user, secret)},
		{"CDI secret", registry.WithCDISecret(user, secret)},
		{"pull secret", registry.WithPullSecret([]byte(secretJSON))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := registry.New(tt.opt, registry.WithRetry(1, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			_, digestErr := c.Digest(context.Background(), host+"/repo/disk:v1")
			_, pullErr := c.Pull(context.Background(), host+"/repo/disk:v1")
			dir := t.TempDir()
			_, pushErr := c.Push(context.Background(), host+"/repo/disk:v1", writeFileIn(t, dir, []byte("disk")))
			for _, err := range []error{digestErr, pullErr, pushErr} {
				if err == nil {
					t.Fatal("expected an error from the leaky registry")
				}
				if msg := err.Error(); strings.Contains(msg, secret) || strings.Contains(msg, encoded) {
					t.Errorf("error leaks the credentials: %s", msg)
				}
			}
			if !errors.Is(digestErr, registry.ErrUnauthorized) {
				t.Errorf("err = %v, want ErrUnauthorized (DENIED)", digestErr)
			}
		})
	}
	_, err := registry.New(registry.WithPullSecret([]byte(`{"auths":{"x":{"auth":"` + secret + `"}}}`)))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("bad pull secret: err = %v; want an error that does not quote it", err)
	}
}

func TestPullSecretShapes(t *testing.T) {
	s := registrytest.New(t)
	pushed := s.PushDisk(t, "secret/disk:v1", diskBytes(12, 64<<10))
	auth := base64.StdEncoding.EncodeToString([]byte(s.Username + ":" + s.Password))
	tests := []struct {
		name, secret string
		want         error
	}{
		{"dockerconfigjson auth", fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, s.Host, auth), nil},
		{"dockerconfigjson username", fmt.Sprintf(`{"auths":{"https://%s/v1/":{"username":%q,"password":%q}}}`, s.Host, s.Username, s.Password), nil},
		{"legacy dockercfg", fmt.Sprintf(`{%q:{"auth":%q}}`, s.Host, auth), nil},
		{"other registry only", fmt.Sprintf(`{"auths":{"quay.io":{"auth":%q}}}`, auth), registry.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := registry.New(registry.WithPullSecret([]byte(tt.secret)))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Digest(context.Background(), s.Ref("secret/disk:v1"))
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil || got != pushed {
				t.Errorf("digest = %s, %v; want %s", got, err, pushed)
			}
		})
	}
}
