package source

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// randomBytes returns n bytes that do not compress.
func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// faultServer serves data with ranges and an ETag; the first drops requests are cut after half
// their body, and the first errors requests fail with 500.
type faultServer struct {
	data     []byte
	drops    atomic.Int32
	errors   atomic.Int32
	requests atomic.Int32
	user     string
	header   string // required header "Name: value", if set
	noRanges bool
}

func (f *faultServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.URL.Path != "/disk.img" {
		http.NotFound(w, r)
		return
	}
	if f.user != "" {
		if u, _, ok := r.BasicAuth(); !ok || u != f.user {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
	}
	if f.header != "" {
		name, value, _ := strings.Cut(f.header, ": ")
		if r.Header.Get(name) != value {
			http.Error(w, "missing header", http.StatusForbidden)
			return
		}
	}
	if f.errors.Add(-1) >= 0 {
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	if f.noRanges {
		w.Write(f.data)
		return
	}
	w.Header().Set("ETag", `"v1"`)
	if f.drops.Add(-1) >= 0 && r.Header.Get("Range") != "bytes=0-0" {
		cutAfterHalf(w, r, f.data)
		return
	}
	http.ServeContent(w, r, "disk.img", time.Time{}, bytes.NewReader(f.data))
}

// cutAfterHalf answers like ServeContent but closes the connection halfway through the body.
func cutAfterHalf(w http.ResponseWriter, r *http.Request, data []byte) {
	rec := httptest.NewRecorder()
	for k, v := range w.Header() { // validators such as the ETag, which ServeContent checks
		rec.Header()[k] = v
	}
	http.ServeContent(rec, r, "disk.img", time.Time{}, bytes.NewReader(data))
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	body := rec.Body.Bytes()
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

func fastRetries() Option { return WithRetries(5, time.Millisecond) }

func TestHTTPStreamResumesAfterDrops(t *testing.T) {
	data := randomBytes(t, 3<<20)
	fs := &faultServer{data: data}
	fs.drops.Store(3)
	fs.errors.Store(1)
	srv := httptest.NewServer(fs)
	defer srv.Close()
	im, err := Open(context.Background(), srv.URL+"/disk.img", fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	rc, err := im.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("stream returned %d bytes that differ from the %d served", len(got), len(data))
	}
	if fs.drops.Load() >= 0 {
		t.Fatalf("server dropped fewer connections than planned (%d left)", fs.drops.Load()+1)
	}
}

func TestHTTPReaderAtCachesAndReadsAhead(t *testing.T) {
	data := randomBytes(t, 5<<20+123)
	fs := &faultServer{data: data}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	im, err := Open(context.Background(), srv.URL+"/disk.img", WithCache(64<<10, 4))
	if err != nil {
		t.Fatal(err)
	}
	if im.At == nil || im.Size != int64(len(data)) {
		t.Fatalf("random access %v, size %d; want random access and %d", im.At != nil, im.Size, len(data))
	}
	before := fs.requests.Load()
	buf := make([]byte, 4096)
	for off := int64(0); off < int64(len(data)); off += int64(len(buf)) {
		n, err := im.At.ReadAt(buf, off)
		if err != nil && !(errors.Is(err, io.EOF) && off+int64(n) == int64(len(data))) {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
		if !bytes.Equal(buf[:n], data[off:off+int64(n)]) {
			t.Fatalf("ReadAt(%d) returned other bytes", off)
		}
	}
	blocks := int32(len(data)/(64<<10) + 1)
	if got := fs.requests.Load() - before; got > blocks/4 {
		t.Errorf("sequential read of %d blocks took %d requests; read-ahead should need at most %d", blocks, got, blocks/4)
	}
	for _, off := range []int64{4 << 20, 17, 3<<20 + 5, 17} { // random order, repeated offset
		if _, err := im.At.ReadAt(buf, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, data[off:off+4096]) {
			t.Fatalf("ReadAt(%d) returned other bytes", off)
		}
	}
}

func TestHTTPErrors(t *testing.T) {
	data := randomBytes(t, 1000)
	tests := []struct {
		name      string
		server    *faultServer
		path      string
		opts      []Option
		wantFatal bool
		wantErr   string
	}{
		{name: "404", server: &faultServer{data: data}, path: "/missing", wantFatal: true, wantErr: "not found"},
		{name: "401 without credentials", server: &faultServer{data: data, user: "alice"}, wantFatal: true, wantErr: "access denied"},
		{name: "401 wrong user", server: &faultServer{data: data, user: "alice"}, opts: []Option{WithBasicAuth("bob", "x")}, wantFatal: true, wantErr: "access denied"},
		{name: "basic auth ok", server: &faultServer{data: data, user: "alice"}, opts: []Option{WithBasicAuth("alice", "x")}},
		{name: "header required", server: &faultServer{data: data, header: "X-Token: 42"}, wantFatal: true, wantErr: "403"},
		{name: "header sent", server: &faultServer{data: data, header: "X-Token: 42"}, opts: []Option{WithHeader("X-Token", "42")}},
		{name: "500 forever", server: func() *faultServer { f := &faultServer{data: data}; f.errors.Store(100); return f }(), wantErr: "HTTP 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.server)
			defer srv.Close()
			path := tt.path
			if path == "" {
				path = "/disk.img"
			}
			_, err := Open(context.Background(), srv.URL+path, append(tt.opts, WithRetries(2, time.Millisecond))...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			if IsFatal(err) != tt.wantFatal {
				t.Errorf("IsFatal = %v, want %v", IsFatal(err), tt.wantFatal)
			}
		})
	}
}

func TestHTTPWithoutRangesStreamsOnly(t *testing.T) {
	data := randomBytes(t, 100<<10)
	srv := httptest.NewServer(&faultServer{data: data, noRanges: true})
	defer srv.Close()
	im, err := Open(context.Background(), srv.URL+"/disk.img")
	if err != nil {
		t.Fatal(err)
	}
	if im.At != nil {
		t.Fatal("server without range support gave random access")
	}
	rc, err := im.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	if !bytes.Equal(got, data) {
		t.Fatal("stream differs")
	}
}

func TestHTTPSWithCADir(t *testing.T) {
	data := randomBytes(t, 1000)
	srv := httptest.NewTLSServer(&faultServer{data: data})
	defer srv.Close()
	if _, err := Open(context.Background(), srv.URL+"/disk.img", WithRetries(0, 0)); err == nil {
		t.Fatal("unknown CA accepted")
	}
	dir := t.TempDir()
	writeCA(t, dir, srv)
	im, err := Open(context.Background(), srv.URL+"/disk.img", WithCADir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if im.Size != int64(len(data)) {
		t.Fatalf("size %d, want %d", im.Size, len(data))
	}
	if _, err := Open(context.Background(), srv.URL+"/disk.img", WithCADir(t.TempDir())); err == nil || !IsFatal(err) {
		t.Fatalf("empty CA directory: error %v, want a fatal one", err)
	}
}

// writeCA stores the test server's certificate as PEM in dir.
func writeCA(t *testing.T, dir string, srv *httptest.Server) {
	t.Helper()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPReaderAtConcurrentReaders(t *testing.T) {
	data := randomBytes(t, 3<<20)
	srv := httptest.NewServer(&faultServer{data: data})
	defer srv.Close()
	im, err := Open(context.Background(), srv.URL+"/disk.img", WithCache(32<<10, 2))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			buf := make([]byte, 10000)
			for off := int64(w * 7919); off+int64(len(buf)) <= int64(len(data)); off += 4 * int64(len(buf)) {
				if _, err := im.At.ReadAt(buf, off); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, data[off:off+int64(len(buf))]) {
					errs <- errors.New("concurrent ReadAt returned other bytes")
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
