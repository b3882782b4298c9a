package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func memBlob(b []byte) blob {
	sum := sha256.Sum256(b)
	return blob{digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}, size: int64(len(b)),
		open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// FuzzWalkLayers feeds two arbitrary layers (top, bottom) to the layer walker: it must never panic,
// must fail with an error naming the cause, and on success deliver exactly Size bytes of a file under /disk/.
func FuzzWalkLayers(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/walk/*.tar")
	var good []byte
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		if strings.HasSuffix(s, "one-disk.tar") {
			good = b
		}
		f.Add(b, []byte(nil))
		f.Add(b, good)
		f.Add(good, b)
	}
	f.Add([]byte("\x1f\x8b garbage"), []byte("\x28\xb5\x2f\xfd garbage"))
	f.Fuzz(func(t *testing.T, top, bottom []byte) {
		w := &walk{ov: newOverlay(), layers: []blob{memBlob(top), memBlob(bottom)}, wrap: func(err error) error { return err }}
		defer w.close()
		hdr, err := w.find()
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if !strings.HasPrefix(w.ov.found, "disk/") {
			t.Fatalf("found %q, not under disk/", w.ov.found)
		}
		if hdr.Size > 16<<20 {
			return // a sparse entry may claim terabytes of holes; reading them is correct but slow
		}
		n, err := io.Copy(io.Discard, readerFunc(w.read))
		if err == nil && n != hdr.Size {
			t.Fatalf("read %d bytes, header says %d", n, hdr.Size)
		}
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// FuzzPullSecret parses arbitrary pull-secret JSON: errors must never quote the input.
func FuzzPullSecret(f *testing.F) {
	f.Add([]byte(`{"auths":{"quay.io":{"auth":"dXNlcjpwYXNzd29yZA=="}}}`))
	f.Add([]byte(`{"https://index.docker.io/v1/":{"username":"u","password":"p"}}`))
	f.Add([]byte(`{"auths":{"x":{"auth":"not-base64-secret"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parsePullSecret(data)
		if err != nil {
			if len(data) > 8 && strings.Contains(err.Error(), string(data)) {
				t.Fatalf("error quotes the secret: %v", err)
			}
			return
		}
		for host := range k.auths {
			if strings.Contains(host, "://") {
				t.Fatalf("host %q not normalised", host)
			}
		}
	})
}

// FuzzRetryAfter parses arbitrary Retry-After values: never negative.
func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"7", "0", "-1", "Mon, 02 Jan 2006 15:04:05 GMT", "99999999999999999999", " 3 "} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if d, ok := parseRetryAfter(v, now); ok && d < 0 {
			t.Fatalf("Retry-After %q gave %v", v, d)
		}
	})
}

// memStore is an OCI layout in memory.
type memStore map[string][]byte

func (m memStore) open(name string) (io.ReadCloser, error) {
	b, ok := m[name]
	if !ok {
		return nil, errors.New("no " + name)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// FuzzLayoutIndex parses arbitrary index.json and manifest bytes of an OCI layout.
func FuzzLayoutIndex(f *testing.F) {
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:` +
		strings.Repeat("a", 64) + `","size":2},"layers":[]}`)
	sum := sha256.Sum256(manifest)
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` +
		hex.EncodeToString(sum[:]) + `","size":` + strconv.Itoa(len(manifest)) + `,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`
	f.Add([]byte(index), manifest, "v1")
	f.Add([]byte(`{"manifests":[]}`), []byte(`{}`), "")
	f.Fuzz(func(t *testing.T, index, manifest []byte, tag string) {
		sum := sha256.Sum256(manifest)
		s := memStore{"index.json": index, "blobs/sha256/" + hex.EncodeToString(sum[:]): manifest,
			"blobs/sha256/" + strings.Repeat("a", 64): []byte("{}")}
		img, err := openLayout(s, tag, v1.Platform{OS: "linux", Architecture: "amd64"})
		if err == nil && img.digest == "" {
			t.Fatal("image without digest")
		}
	})
}
