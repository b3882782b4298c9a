package diskpush

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldimage/goldimage/pkg/registry"
)

// rawDisk writes a sparse 16 MiB raw disk with data in a few places.
func rawDisk(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(16 << 20); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1 << 20, 9<<20 + 512, 16<<20 - 4096} {
		if _, err := f.WriteAt(bytes.Repeat([]byte("golden!"), 585), off); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// pulledDisk fetches ref with go-containerregistry (not our client) and writes the single file under
// /disk/ to a temporary file, returning its path and name.
func pulledDisk(t *testing.T, ref string) (string, string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no file under disk/: %v", err)
		}
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(strings.TrimPrefix(h.Name, "/"), "disk/") {
			continue
		}
		out := filepath.Join(t.TempDir(), filepath.Base(h.Name))
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, tr); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return out, filepath.Base(h.Name)
	}
}

func TestPublish(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (hack/install-deps.sh installs qemu-utils)")
	}
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	client, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	disk := rawDisk(t)
	tests := []struct {
		name          string
		opts          []Option
		wantFile      string
		wantFormat    string
		wantConverted bool
	}{
		{"qcow2 by default", nil, "disk.qcow2", "qcow2", true},
		{"as is", []Option{WithQcow2(false)}, "disk.img", "raw", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := host + "/golden/standin:" + tt.wantFormat
			res, err := Publish(context.Background(), client, ref, disk, append(tt.opts, WithScratchDir(t.TempDir()))...)
			if err != nil {
				t.Fatal(err)
			}
			if res.Converted != tt.wantConverted || res.URL != host+"/golden/standin@"+res.Digest {
				t.Fatalf("result %+v", res)
			}
			got, fileName := pulledDisk(t, res.URL)
			if fileName != tt.wantFile {
				t.Errorf("containerDisk holds %s, want %s", fileName, tt.wantFile)
			}
			// qemu-img is the oracle: same virtual contents as the raw disk, and the right format.
			if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", tt.wantFormat, disk, got).CombinedOutput(); err != nil {
				t.Fatalf("qemu-img compare: %v\n%s", err, out)
			}
		})
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	client, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ref, disk, want string
	}{
		{"bad reference", "UPPER/case::x", rawDisk(t), `image reference "UPPER/case::x"`},
		{"missing disk", "127.0.0.1:1/a/b:c", filepath.Join(t.TempDir(), "none.img"), "open disk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Publish(context.Background(), client, tt.ref, tt.disk)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}
