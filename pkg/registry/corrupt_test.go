package registry_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldimage/goldimage/pkg/registry"
)

// flipWriter flips one byte of a response body at offset at.
type flipWriter struct {
	http.ResponseWriter
	at, n int64
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if i := f.at - f.n; i >= 0 && i < int64(len(p)) {
		p = append([]byte(nil), p...)
		p[i] ^= 0xff
	}
	f.n += int64(len(p))
	return f.ResponseWriter.Write(p)
}

// TestPullDetectsCorruptRemoteLayer: a registry serving a layer whose bytes differ from its digest
// fails the read with ErrDigestMismatch, checked once (by go-containerregistry) and classified by us.
func TestPullDetectsCorruptRemoteLayer(t *testing.T) {
	var corrupt atomic.Bool
	reg := ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if corrupt.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			w = &flipWriter{ResponseWriter: w, at: 100 << 10}
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := registry.New(registry.WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/corrupt/disk:v1"
	// An uncompressed layer, so that nothing but the digest notices the flipped byte.
	img := imageOf(t, plain(t, tarOf(t, file("disk/disk.img", string(diskBytes(5, 1<<20))))))
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, img); err != nil {
		t.Fatal(err)
	}
	corrupt.Store(true) // the config blob is shorter than the flipped offset and stays intact
	d, err := c.Pull(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	_, readErr := io.ReadAll(d)
	closeErr := d.Close()
	for _, err := range []error{readErr, closeErr} {
		if !errors.Is(err, registry.ErrDigestMismatch) || strings.Contains(err.Error(), "\n") {
			t.Errorf("err = %v, want ErrDigestMismatch in one line", err)
		}
	}
}
