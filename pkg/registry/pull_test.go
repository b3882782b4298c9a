package registry_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// entry is one tar entry of a crafted layer: a file (with body), directory, symlink, hardlink or device.
type entry struct {
	name string
	typ  byte
	body string
	link string
}

func file(name, body string) entry { return entry{name: name, typ: tar.TypeReg, body: body} }

func tarOf(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && h.Size > 0 {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t testing.TB, b []byte) v1.Layer {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return static.NewLayer(buf.Bytes(), types.OCILayer)
}

func zstded(t testing.TB, b []byte) v1.Layer {
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return static.NewLayer(buf.Bytes(), types.OCILayerZStd)
}

func plain(t testing.TB, b []byte) v1.Layer { return static.NewLayer(b, types.OCIUncompressedLayer) }

// imageOf stacks layers bottom first.
func imageOf(t testing.TB, layers ...v1.Layer) v1.Image {
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullWalksLayers(t *testing.T) {
	s := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	dir := entry{name: "disk/", typ: tar.TypeDir}
	tests := []struct {
		name     string
		layers   [][]entry // bottom first
		compress func(testing.TB, []byte) v1.Layer
		want     string // disk content, or the error text expected from Pull or Read
		wantName string
	}{
		{"one file", [][]entry{{dir, file("disk/a.img", "A")}}, gzipped, "A", "disk/a.img"},
		{"absolute and dotted names", [][]entry{{file("/./disk/a.img", "A")}}, plain, "A", "disk/a.img"},
		{"zstd layer", [][]entry{{file("disk/a.img", "Z")}}, zstded, "Z", "disk/a.img"},
		{"nested file counts", [][]entry{{file("disk/sub/a.img", "N")}}, plain, "N", "disk/sub/a.img"},
		{"no disk", [][]entry{{file("etc/hostname", "x")}}, gzipped, "no regular file under /disk/", ""},
		{"empty image", nil, gzipped, "no regular file under /disk/", ""},
		{"two files in one layer", [][]entry{{file("disk/a.img", "A"), file("disk/b.img", "B")}}, gzipped, "several files under /disk/: /disk/a.img and /disk/b.img", ""},
		{"second file in a lower layer", [][]entry{{file("disk/b.img", "B")}, {file("disk/a.img", "A")}}, gzipped, "several files under /disk/: /disk/a.img and /disk/b.img", ""},
		{"same file twice in a layer", [][]entry{{file("disk/a.img", "A"), file("disk/a.img", "B")}}, plain, "appears twice in one layer", ""},
		{"symlink", [][]entry{{{name: "disk/a.img", typ: tar.TypeSymlink, link: "/etc/passwd"}}}, gzipped, "/disk/a.img is a symlink", ""},
		{"symlinked disk dir", [][]entry{{{name: "disk", typ: tar.TypeSymlink, link: "/data"}}}, gzipped, "/disk is a symlink", ""},
		{"hardlink", [][]entry{{file("data", "x"), {name: "disk/a.img", typ: tar.TypeLink, link: "data"}}}, gzipped, "/disk/a.img is a hardlink", ""},
		{"device", [][]entry{{{name: "disk/sda", typ: tar.TypeBlock}}}, gzipped, "unsupported tar type", ""},
		{"path traversal", [][]entry{{file("disk/../../etc/a.img", "x")}}, gzipped, "escapes the image root", ""},
		{"whiteout hides the only disk", [][]entry{{file("disk/a.img", "A")}, {file("disk/.wh.a.img", "")}}, gzipped, "no regular file under /disk/", ""},
		{"whiteout hides a second file", [][]entry{{file("disk/a.img", "A"), file("disk/b.img", "B")}, {file("disk/.wh.b.img", "")}}, gzipped, "A", "disk/a.img"},
		{"whiteout of the directory", [][]entry{{file("disk/old.img", "O")}, {file(".wh.disk", "")}, {file("disk/new.img", "N")}}, gzipped, "N", "disk/new.img"},
		{"opaque directory", [][]entry{{file("disk/old.img", "O")}, {file("disk/.wh..wh..opq", ""), file("disk/new.img", "N")}}, plain, "N", "disk/new.img"},
		{"upper file replaces lower", [][]entry{{file("disk/a.img", "old")}, {file("disk/a.img", "new")}}, gzipped, "new", "disk/a.img"},
		{"file named disk hides lower files", [][]entry{{file("disk/a.img", "A")}, {file("disk", "not a dir")}}, gzipped, "no regular file under /disk/", ""},
		{"whiteout in the same layer does not apply", [][]entry{{file("disk/.wh.a.img", ""), file("disk/a.img", "A")}}, gzipped, "A", "disk/a.img"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var layers []v1.Layer
			for _, l := range tt.layers {
				layers = append(layers, tt.compress(t, tarOf(t, l...)))
			}
			ref := s.Ref("walk/case:" + string(rune('a'+i)))
			r, _ := name.ParseReference(ref)
			if err := remote.Write(r, imageOf(t, layers...)); err != nil {
				t.Fatal(err)
			}
			got, err := pullAll(t, registrytest.NewClient(t), ref)
			if tt.wantName == "" {
				if !errors.Is(err, registry.ErrInvalidDisk) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want ErrInvalidDisk mentioning %q", err, tt.want)
				}
				return
			}
			if err != nil || got.content != tt.want || got.name != tt.wantName {
				t.Errorf("pulled %q from %s, err %v; want %q from %s", got.content, got.name, err, tt.want, tt.wantName)
			}
		})
	}
}

type pulled struct{ name, content string }

// pullAll pulls ref and reads it to the end, returning the first error of Pull, Read or Close.
func pullAll(t testing.TB, c *registry.Client, ref string) (pulled, error) {
	d, err := c.Pull(context.Background(), ref)
	if err != nil {
		return pulled{}, err
	}
	b, err := io.ReadAll(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err == nil && int64(len(b)) != d.Size {
		t.Errorf("read %d bytes, header said %d", len(b), d.Size)
	}
	return pulled{d.Name, string(b)}, err
}

func writeLayout(t *testing.T, img v1.Image, tag string) string {
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tarDir packs dir into an archive the way skopeo's oci-archive: does.
func tarDir(t *testing.T, dir string) string {
	out := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		info, _ := d.Info()
		h, _ := tar.FileInfoHeader(info, "")
		h.Name, _ = filepath.Rel(dir, p)
		if err := tw.WriteHeader(h); err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		_, err = tw.Write(b)
		return err
	})
	if err != nil || tw.Close() != nil {
		t.Fatal(err)
	}
	return out
}

func TestPullFromLayouts(t *testing.T) {
	disk := diskBytes(20, 300<<10)
	img := imageOf(t, gzipped(t, tarOf(t, file("disk/disk.img", string(disk)))))
	want, _ := img.Digest()
	dir := writeLayout(t, img, "v1")
	archive := tarDir(t, dir)
	c := registrytest.NewClient(t)
	for _, ref := range []string{"oci:" + dir, "oci:" + dir + ":v1", "oci-archive:" + archive, "oci-archive:" + archive + ":v1"} {
		d, err := c.Pull(context.Background(), ref)
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		if d.Digest != want.String() {
			t.Errorf("%s: digest %s, want %s", ref, d.Digest, want)
		}
		if b := readDisk(t, d); !bytes.Equal(b, disk) {
			t.Errorf("%s: wrong bytes", ref)
		}
		if got, err := c.Digest(context.Background(), ref); err != nil || got != want.String() {
			t.Errorf("Digest(%s) = %s, %v; want %s", ref, got, err, want)
		}
	}
	for ref, wantErr := range map[string]error{
		"oci:" + dir + ":v2":                      registry.ErrNotFound,
		"oci:" + filepath.Join(dir, "missing"):    registry.ErrNotFound,
		"oci-archive:" + archive + ":v2":          registry.ErrNotFound,
		"oci-archive:" + filepath.Join(dir, "nx"): registry.ErrNotFound,
	} {
		_, err := c.Pull(context.Background(), ref)
		if err == nil || (wantErr != nil && !errors.Is(err, wantErr)) {
			t.Errorf("pull %s: %v, want %v", ref, err, wantErr)
		}
	}
}

func TestPullDetectsCorruptLayer(t *testing.T) {
	disk := diskBytes(21, 200<<10)
	img := imageOf(t, plain(t, tarOf(t, file("disk/disk.img", string(disk)))))
	dir := writeLayout(t, img, "v1")
	layers, _ := img.Layers()
	dg, _ := layers[0].Digest()
	blob := filepath.Join(dir, "blobs", "sha256", dg.Hex)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff // inside the disk data: the tar stays well-formed
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := registrytest.NewClient(t).Pull(context.Background(), "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	_, readErr := io.ReadAll(d)
	closeErr := d.Close()
	for _, err := range []error{readErr, closeErr} {
		if !errors.Is(err, registry.ErrDigestMismatch) {
			t.Errorf("err = %v, want ErrDigestMismatch", err)
		}
	}
}
