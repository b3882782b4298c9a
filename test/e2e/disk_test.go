//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// diskSize is the virtual size of every test disk: small enough for a quick run, big enough to have holes.
const diskSize = 32 << 20

// rawDisk writes a sparse raw disk whose data chunks depend on seed and returns its path.
func rawDisk(t *testing.T, seed uint64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("disk-%d.raw", seed))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(diskSize); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}))
	chunk := make([]byte, 1<<20)
	// Data at the start (a fake boot sector area), in the middle, unaligned, and in the last MiB.
	for _, off := range []int64{0, 7 << 20, 20<<20 + 4096 + 512, diskSize - 1<<20} {
		for i := range chunk {
			chunk[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(chunk[:min(len(chunk), int(diskSize-off))], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// qcow2Of converts a raw disk to qcow2 with qemu-img and returns the new path.
func qcow2Of(t *testing.T, raw string) string {
	t.Helper()
	out := raw + ".qcow2"
	cmd := exec.Command("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v: %s", err, b)
	}
	return out
}

// containerDisk builds a KubeVirt containerDisk image: one layer with the file at /disk/<name>, owned by 107.
func containerDisk(t *testing.T, file, name string) v1.Image {
	t.Helper()
	return imageWithFile(t, file, "disk/"+name)
}

// imageWithFile builds a single-layer linux image holding file at dest (a relative path in the image).
func imageWithFile(t *testing.T, file, dest string) v1.Image {
	t.Helper()
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return layerStream(file, dest, st.Size()) })
	if err != nil {
		t.Fatalf("layer of %s: %v", file, err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// layerStream produces the layer tar on the fly so the disk is never held in memory.
func layerStream(file, dest string, size int64) (io.ReadCloser, error) {
	src, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer src.Close()
		tw := tar.NewWriter(pw)
		dir := filepath.Dir(dest)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o555, Uid: 107, Gid: 107})
		if err == nil {
			err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: 0o440, Uid: 107, Gid: 107, Size: size})
		}
		if err == nil {
			_, err = io.Copy(tw, src)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

// verifyTarget checks that target (a disk.img file or a block device) starts with exactly the bytes of raw and
// holds only zeros after them (the importer may grow the disk to the volume size, never change its content).
func verifyTarget(t *testing.T, target, raw string) {
	t.Helper()
	want, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	got, err := os.Open(target)
	if err != nil {
		t.Fatalf("open imported disk: %v", err)
	}
	defer got.Close()
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for {
		n, err := io.ReadFull(want, a)
		if n == 0 {
			break
		}
		if m, err := io.ReadFull(got, b[:n]); err != nil {
			t.Fatalf("%s ends at %d bytes, before the image's %d: %v", target, off+int64(m), diskSize, err)
		}
		if !bytes.Equal(a[:n], b[:n]) {
			t.Fatalf("%s differs from the image in the MiB at offset %d", target, off)
		}
		off += int64(n)
		if err != nil {
			break
		}
	}
	for {
		n, err := got.Read(b)
		if !allZero(b[:n]) {
			t.Fatalf("%s holds non-zero bytes after the image's end, near offset %d", target, off)
		}
		off += int64(n)
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatalf("read %s: %v", target, err)
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
