// Package importertest builds containerDisk images, OCI archives and disk images for the importer's tests.
package importertest

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Entry is one member of a layer tar; Typeflag 0 means a regular file.
type Entry struct {
	Name     string
	Body     []byte
	Typeflag byte
	Link     string
}

// LayerTar builds a tar stream of entries.
func LayerTar(t testing.TB, entries ...Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.Typeflag
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.Name, Typeflag: typ, Linkname: e.Link, Mode: 0o644, Size: int64(len(e.Body))}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write(e.Body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ContainerDisk builds an image whose single layer is layerTar, gzip-compressed unless uncompressed is set,
// with env in its config (KUBEVIRT_IO_* entries become labels).
func ContainerDisk(t testing.TB, layerTar []byte, uncompressed bool, env ...string) v1.Image {
	t.Helper()
	var layer v1.Layer
	if uncompressed {
		layer = static.NewLayer(layerTar, types.OCIUncompressedLayer)
	} else {
		var err error
		layer, err = tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.Config.Env = env
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// OCILayout writes img as an OCI image layout directory (what `skopeo copy ... oci:` writes) and returns its path.
func OCILayout(t testing.TB, img v1.Image) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// OCIArchive writes img as an OCI image layout tar (what `skopeo copy ... oci-archive:` writes) and returns its path.
func OCIArchive(t testing.TB, img v1.Image) string {
	t.Helper()
	root := OCILayout(t, img)
	archive := filepath.Join(filepath.Dir(root), "image.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(body)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return archive
}

// RegistryHandler returns go-containerregistry's in-process registry, quiet, for tests that wrap it.
func RegistryHandler() http.Handler { return registry.New(registry.Logger(log.New(io.Discard, "", 0))) }

// Registry starts go-containerregistry's in-process registry on loopback and returns its host:port.
func Registry(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(RegistryHandler())
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// RegistryTLS starts go-containerregistry's in-process registry over TLS on loopback; it returns
// its host:port, a directory holding its CA certificate (PEM) and a transport trusting it.
func RegistryTLS(t testing.TB) (host, caDir string, rt http.RoundTripper) {
	t.Helper()
	srv := httptest.NewTLSServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that distrust the certificate are expected
	t.Cleanup(srv.Close)
	caDir = t.TempDir()
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(caDir, "ca.crt"), cert, 0o644); err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(srv.URL, "https://"), caDir, srv.Client().Transport
}

// Push writes img to host/repo:tag and returns the reference.
// Options (a transport, credentials) go to remote.Write.
func Push(t testing.TB, host, repoTag string, img v1.Image, opts ...remote.Option) string {
	t.Helper()
	ref, err := name.ParseReference(host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, opts...); err != nil {
		t.Fatal(err)
	}
	return ref.String()
}

// QemuImg runs qemu-img (the reference implementation) and fails the test on error.
func QemuImg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// RawDisk writes a sparse raw image of size bytes to path with data at a few offsets and returns path.
func RawDisk(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for i, off := range []int64{0, 1 << 20, size / 3, size/2 + 4096, size - 512} {
		block := bytes.Repeat([]byte{byte('a' + i)}, 512)
		copy(block, "goldimage test block")
		if _, err := f.WriteAt(block, off); err != nil {
			t.Fatal(err)
		}
	}
	return path
}
