package cron

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestJudgeHTTP(t *testing.T) {
	e1, e2 := Validator{ETag: `"1"`}, Validator{ETag: `"2"`}
	lm := Validator{LastModified: "Mon, 02 Jan 2026 15:04:05 GMT"}
	ok := func(v Validator) HTTPResponse { return HTTPResponse{Status: 200, Validator: v} }
	notMod := HTTPResponse{Status: 304}
	for _, tc := range []struct {
		name    string
		prev    Validator
		first   HTTPResponse
		confirm *HTTPResponse
		want    Validator
		changed bool
		err     string
	}{
		{"first poll, confirmed by 304", Validator{}, ok(e1), &notMod, e1, true, ""},
		{"first poll, server ignores conditions", Validator{}, ok(e1), ptrTo(ok(e1)), e1, true, ""},
		{"last-modified only", Validator{}, ok(lm), &notMod, lm, true, ""},
		{"unchanged: 304", e1, notMod, nil, e1, false, ""},
		{"unchanged: 200 with the same validator", e1, ok(e1), nil, e1, false, ""},
		{"changed", e1, ok(e2), &notMod, e2, true, ""},
		{"no validator", Validator{}, ok(Validator{}), nil, Validator{}, false, "neither ETag nor Last-Modified"},
		{"validator dropped", e1, ok(Validator{}), nil, e1, false, "neither ETag nor Last-Modified"},
		{"unstable", e1, ok(e2), ptrTo(ok(Validator{ETag: `"3"`})), e1, false, "changes its validator"},
		{"unstable then missing", e1, ok(e2), ptrTo(ok(Validator{})), e1, false, "changes its validator"},
		{"not found", e1, HTTPResponse{Status: 404}, nil, e1, false, "status 404 Not Found"},
		{"304 without a condition", Validator{}, notMod, nil, Validator{}, false, "status 304"},
		{"confirm fails", e1, ok(e2), &HTTPResponse{Status: 503}, e1, false, "status 503"},
		{"new validator, no confirmation", e1, ok(e2), nil, e1, false, "confirming request"},
	} {
		v, changed, err := JudgeHTTP(tc.prev, tc.first, tc.confirm)
		if v != tc.want || changed != tc.changed || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: JudgeHTTP = %+v %v %v, want %+v %v %q", tc.name, v, changed, err, tc.want, tc.changed, tc.err)
		}
	}
	if _, _, err := JudgeHTTP(e1, ok(Validator{}), nil); !errors.Is(err, ErrNoValidator) {
		t.Errorf("no validator: %v is not ErrNoValidator", err)
	}
	if _, _, err := JudgeHTTP(e1, ok(e2), ptrTo(ok(lm))); !errors.Is(err, ErrUnstableValidator) {
		t.Errorf("unstable: %v is not ErrUnstableValidator", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestHTTPVersion(t *testing.T) {
	a := HTTPVersion("http://h/a.img", Validator{ETag: `"1"`})
	if !strings.HasPrefix(a, "http:") || len(a) != len("http:")+64 {
		t.Fatalf("HTTPVersion = %q, want http:<64 hex>", a)
	}
	for _, other := range []string{
		HTTPVersion("http://h/b.img", Validator{ETag: `"1"`}),
		HTTPVersion("http://h/a.img", Validator{ETag: `"2"`}),
		HTTPVersion("http://h/a.img", Validator{LastModified: `"1"`}),
	} {
		if other == a {
			t.Errorf("versions of different URL or validator collide: %s", a)
		}
	}
	if name := ImportName("fedora", a); len(name) != len("fedora-")+12 {
		t.Errorf("ImportName of an http version = %q", name)
	}
}

// fileServer serves one file whose content and validators the test replaces, counting requests by method.
type fileServer struct {
	mu           sync.Mutex
	etag, lm     string
	body         string
	noHead       bool
	etagPerHit   bool // a new ETag on every request (a broken server)
	requests     map[string]int
	bodyRequests int
	user, pass   string
}

func (f *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests[r.Method]++
	if f.user != "" {
		if u, p, ok := r.BasicAuth(); !ok || u != f.user || p != f.pass {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	}
	if r.URL.Path == "/SHA256SUMS" {
		fmt.Fprintf(w, "%s  other.img\n%s *disk.img\n", strings.Repeat("0", 64), strings.Repeat("ab", 32))
		return
	}
	if f.noHead && r.Method == http.MethodHead {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	etag := f.etag
	if f.etagPerHit {
		etag = fmt.Sprintf(`"%d"`, f.requests["HEAD"]+f.requests["GET"])
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if f.lm != "" {
		w.Header().Set("Last-Modified", f.lm)
	}
	if (etag != "" && r.Header.Get("If-None-Match") == etag) || (etag == "" && f.lm != "" && r.Header.Get("If-Modified-Since") == f.lm) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodGet {
		f.bodyRequests++
	}
	_, _ = w.Write([]byte(f.body))
}

func newFileServer(t *testing.T, f *fileServer) string {
	f.requests = map[string]int{}
	s := httptest.NewServer(f)
	t.Cleanup(s.Close)
	return s.URL + "/disk.img"
}

func TestHTTPCheckerConditionalPolls(t *testing.T) {
	f := &fileServer{etag: `"a"`, body: "disk one", user: "u", pass: "p"}
	url := newFileServer(t, f)
	h, err := NewHTTPChecker(Credentials{Username: "u", Password: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, changed, err := h.Check(ctx, url, Validator{})
	if err != nil || !changed || v.ETag != `"a"` {
		t.Fatalf("first Check = %+v %v %v", v, changed, err)
	}
	if f.requests["HEAD"] != 2 || f.requests["GET"] != 0 {
		t.Errorf("first poll made %v requests, want 2 HEAD (ask, confirm)", f.requests)
	}
	v, changed, err = h.Check(ctx, url, v)
	if err != nil || changed || v.ETag != `"a"` || f.requests["HEAD"] != 3 {
		t.Errorf("unchanged Check = %+v %v %v after %v requests, want one more HEAD", v, changed, err, f.requests)
	}
	f.etag, f.body = `"b"`, "disk two"
	if v, changed, err = h.Check(ctx, url, v); err != nil || !changed || v.ETag != `"b"` {
		t.Errorf("changed Check = %+v %v %v", v, changed, err)
	}
	if f.bodyRequests != 0 {
		t.Errorf("polls downloaded the body %d times", f.bodyRequests)
	}
	sum, err := h.Checksum(ctx, strings.TrimSuffix(url, "disk.img")+"SHA256SUMS", url)
	if want := "sha256:" + strings.Repeat("ab", 32); err != nil || sum != want {
		t.Errorf("Checksum = %q %v, want %s", sum, err, want)
	}
	bad, _ := NewHTTPChecker(Credentials{Username: "u", Password: "wrong"})
	if _, _, err := bad.Check(ctx, url, v); err == nil || !strings.Contains(err.Error(), "status 401") || !strings.Contains(err.Error(), "disk.img") {
		t.Errorf("Check with a wrong password: %v, want status 401 naming the URL", err)
	}
}

func TestHTTPCheckerServers(t *testing.T) {
	lm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		server *fileServer
		err    error
		get    bool // polls fall back to GET
	}{
		{name: "last-modified only", server: &fileServer{lm: lm}},
		{name: "no HEAD", server: &fileServer{etag: `"x"`, noHead: true}, get: true},
		{name: "no validator", server: &fileServer{}, err: ErrNoValidator},
		{name: "etag per request", server: &fileServer{etagPerHit: true}, err: ErrUnstableValidator},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.server
			f.body = strings.Repeat("x", 1<<20)
			url := newFileServer(t, f)
			h, _ := NewHTTPChecker(Credentials{})
			v, changed, err := h.Check(context.Background(), url, Validator{})
			if !errors.Is(err, tc.err) || (tc.err == nil && (!changed || v.IsZero())) {
				t.Fatalf("Check = %+v %v %v, want error %v", v, changed, err, tc.err)
			}
			if tc.err == nil {
				if _, changed, err := h.Check(context.Background(), url, v); err != nil || changed {
					t.Errorf("second Check = %v %v, want unchanged", changed, err)
				}
			}
			if got := f.requests["GET"] > 0; got != tc.get {
				t.Errorf("requests %v, GET fallback %v, want %v", f.requests, got, tc.get)
			}
		})
	}
}

func TestPollerSharesHTTPChecks(t *testing.T) {
	f := &fileServer{etag: `"a"`}
	url := newFileServer(t, f)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPoller(RegistryResolvers(t.TempDir()), WithClock(func() time.Time { return now }), WithShareWindow(time.Minute))
	ctx := context.Background()
	v, _, err := p.CheckHTTP(ctx, url, Validator{}, Credentials{}, false)
	if err != nil {
		t.Fatal(err)
	}
	before := f.requests["HEAD"]
	for range 3 {
		if _, changed, err := p.CheckHTTP(ctx, url, v, Credentials{}, false); err != nil || changed {
			t.Fatalf("CheckHTTP = %v %v", changed, err)
		}
	}
	if got := f.requests["HEAD"] - before; got != 1 {
		t.Errorf("three identical checks in one tick made %d requests, want 1", got)
	}
	if _, _, err := p.CheckHTTP(ctx, url, v, Credentials{}, true); err != nil || f.requests["HEAD"]-before != 2 {
		t.Errorf("a fresh check shared an earlier one: %v, %d requests", err, f.requests["HEAD"]-before)
	}
}

func TestHTTPCheckerHeaders(t *testing.T) {
	var got []string
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("X-Token")+"|"+r.Header.Get("Accept"))
		w.Header().Set("ETag", `"1"`)
	}))
	t.Cleanup(s.Close)
	h, err := NewHTTPChecker(Credentials{Headers: "X-Token: secret\nAccept: */*"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.Check(context.Background(), s.URL+"/d.img", Validator{}); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0] != "secret|*/*" {
		t.Errorf("server saw headers %q, want the extraHeaders on every poll", got)
	}
	if (Credentials{Headers: "a: 1"}).key() == (Credentials{}).key() {
		t.Error("credentials differing in headers share a key, so their polls would be shared")
	}
}
