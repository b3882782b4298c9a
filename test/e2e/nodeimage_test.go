//go:build e2e

package e2e

import (
	"archive/tar"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// containerdAddress is the node's containerd socket (hack/cluster/env.sh's containerd_sock).
func containerdAddress() string {
	return envOr("GOLDIMAGE_CONTAINERD_ADDRESS", filepath.Join(envOr("GOLDIMAGE_CLUSTER_DIR", "/tmp/goldimage-e2e"), "run", "containerd.sock"))
}

// loadIntoNode puts img into the node's image store as ref, as an earlier pull by the kubelet would have: an OCI
// archive keeps the manifest bytes, and the image is also named REPOSITORY@DIGEST, the second name a CRI pull
// records, through which the kubelet finds a digest-pinned image (ctr import alone records only ref).
func loadIntoNode(t *testing.T, img v1.Image, ref string) {
	t.Helper()
	sock := containerdAddress()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("node containerd socket %s (set GOLDIMAGE_CONTAINERD_ADDRESS): %v", sock, err)
	}
	dir := t.TempDir()
	p, err := layout.Write(filepath.Join(dir, "layout"), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref})); err != nil {
		t.Fatalf("write OCI layout of %s: %v", ref, err)
	}
	archive := filepath.Join(dir, "image.tar")
	if err := tarDir(filepath.Join(dir, "layout"), archive); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ctr", "--address", sock, "-n", "k8s.io", "images", "import", archive).CombinedOutput()
	if err != nil {
		t.Fatalf("ctr images import %s: %v: %s", ref, err, out)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		t.Fatalf("loadIntoNode wants REPOSITORY:TAG, got %q: %v", ref, err)
	}
	pinned := tag.Context().Name() + "@" + d.String()
	if out, err := exec.Command("ctr", "--address", sock, "-n", "k8s.io", "images", "tag", "--force", ref, pinned).CombinedOutput(); err != nil {
		t.Fatalf("ctr images tag %s %s: %v: %s", ref, pinned, err, out)
	}
	t.Logf("loaded %s (%s) into the node's image store", ref, d)
}

// tarDir writes the files under dir into the tar file out, with paths relative to dir.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		h, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
