package formattest

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	// MiB is a mebibyte.
	MiB = 1 << 20
	// DiskSize is the size of the patterned disk; no format's block or grain divides it.
	DiskSize = 12*MiB + 64<<10 + 512
)

// WritePatterned writes a raw disk of DiskSize bytes with incompressible data, a constant run,
// and holes; [8 MiB, 10 MiB) is always a hole.
func WritePatterned(t testing.TB, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(DiskSize); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	for _, w := range []struct {
		off  int64
		data []byte
	}{
		{0, random(64 << 10)},
		{MiB, random(100000)},
		{3*MiB + 512, bytes.Repeat([]byte{0x5a}, 3584)},
		{5 * MiB, random(2 * MiB)},
		{DiskSize - 1000, bytes.Repeat([]byte{0x11}, 1000)},
	} {
		if _, err := f.WriteAt(w.data, w.off); err != nil {
			t.Fatal(err)
		}
	}
}

// QemuImg runs qemu-img with args and fails t with its output if it fails.
func QemuImg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

// NeedQemuImg skips t unless qemu-img is installed.
func NeedQemuImg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (apt-get install qemu-utils)")
	}
}

// Convert makes an image of qemu-img's format (such as "vpc") with creation options opts from a
// patterned raw disk, and returns its path and the raw bytes qemu-img reads back from it.
func Convert(t testing.TB, format, opts string) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	raw, img, back := filepath.Join(dir, "in.raw"), filepath.Join(dir, "disk."+format), filepath.Join(dir, "back.raw")
	WritePatterned(t, raw)
	QemuImg(t, "convert", "-f", "raw", "-O", format, "-o", opts, raw, img)
	QemuImg(t, "convert", "-f", format, "-O", "raw", img, back)
	want, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	return img, want
}

// OpenFile opens the file at path with open, closing it again if open fails.
func OpenFile[I any](t testing.TB, path string, open func(ra io.ReaderAt, size int64) (I, error)) (I, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	img, err := open(f, fi.Size())
	if err != nil {
		f.Close()
	}
	return img, err
}

// CheckSeed fails t unless the seed file at path holds built (with update it writes it first)
// and qemu-img reads it, as qemu's format, as disk.
func CheckSeed(t testing.TB, path string, built []byte, update bool, format string, disk []byte) {
	t.Helper()
	if update {
		if err := os.WriteFile(path, built, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if stored, err := os.ReadFile(path); err != nil || !bytes.Equal(stored, built) {
		t.Fatalf("%s is stale (%v); run go test -run TestSeeds -args -update", path, err)
	}
	back := filepath.Join(t.TempDir(), "back.raw")
	QemuImg(t, "convert", "-f", format, "-O", "raw", path, back)
	if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, disk) {
		t.Fatalf("qemu-img reads %s differently (%v)", path, err)
	}
}
