package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// changingServer serves v1 of an object, cuts the first full download halfway and replaces the
// object with v2 at that moment, as a mirror that publishes a new image mid-import does.
type changingServer struct {
	v1, v2 []byte
	mode   string // how the server validates a resumed request, see the modes in TestHTTPResumeOfChangedObject
	same   bool   // v2 is v1 unchanged: same bytes, same validators

	mu      sync.Mutex
	changed bool
}

func (c *changingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	data, version, changed := c.v1, 1, c.changed
	if changed && !c.same {
		data, version = c.v2, 2
	}
	cut := !changed && r.Header.Get("Range") == ""
	c.changed = c.changed || cut
	c.mu.Unlock()
	modified := time.Date(2025, 1, version, 0, 0, 0, 0, time.UTC)
	switch c.mode {
	case "etag", "etag-no-if-match":
		w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, version))
		if c.mode == "etag-no-if-match" {
			r.Header.Del("If-Match") // a server that honors only If-Range
		}
	case "ignores-validators":
		r.Header.Del("If-Range")
	case "range-from-zero", "ignores-range":
		if rg := r.Header.Get("Range"); rg != "" && rg != "bytes=0-0" {
			if c.mode == "ignores-range" {
				w.Write(data)
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
			return
		}
	}
	if cut {
		cutAfterHalf(w, r, data)
		return
	}
	http.ServeContent(w, r, "disk.img", modified, bytes.NewReader(data))
}

func TestHTTPResumeOfChangedObject(t *testing.T) {
	v1 := randomBytes(t, 1<<20)
	v2 := append(randomBytes(t, 1<<20), 1, 2, 3) // a new image, a little larger
	tests := []struct {
		mode    string
		same    bool // the object does not change: the resume must succeed
		wantErr string
	}{
		{mode: "etag", wantErr: "HTTP 412"},
		{mode: "etag-no-if-match", wantErr: "got the whole object: HTTP 200"},
		{mode: "last-modified", wantErr: "got the whole object: HTTP 200"},
		{mode: "last-modified", same: true},
		{mode: "ignores-validators", wantErr: "size was"},
		{mode: "range-from-zero", same: true, wantErr: "got Content-Range \"bytes 0-"},
		{mode: "ignores-range", same: true, wantErr: "got the whole object: HTTP 200"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s same=%v", tt.mode, tt.same), func(t *testing.T) {
			cs := &changingServer{v1: v1, v2: v2, mode: tt.mode, same: tt.same}
			srv := httptest.NewServer(cs)
			defer srv.Close()
			got, err := readAllFrom(t, srv.URL+"/disk.img")
			if !bytes.HasPrefix(v1, got) {
				t.Fatalf("stream returned %d bytes that are not a prefix of the object first served", len(got))
			}
			if tt.wantErr == "" {
				if err != nil || len(got) != len(v1) {
					t.Fatalf("read %d of %d bytes: %v", len(got), len(v1), err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrSourceChanged) || !strings.Contains(err.Error(), "source changed during download") ||
				!strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want ErrSourceChanged mentioning %q", err, tt.wantErr)
			}
			if IsFatal(err) {
				t.Errorf("a changed source must be retryable by a rerun, got a fatal error: %v", err)
			}
		})
	}
}

// readAllFrom opens url and reads its stream to the end or the first error.
func readAllFrom(t *testing.T, url string) ([]byte, error) {
	t.Helper()
	im, err := Open(context.Background(), url, fastRetries())
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	rc, err := im.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestContentRangeStart(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"bytes 100-199/200", 100, true},
		{"bytes 0-0/1", 0, true},
		{"bytes */200", 0, false},
		{"bytes -5-10/20", 0, false},
		{"items 1-2/3", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := startOfContentRange(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("startOfContentRange(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
