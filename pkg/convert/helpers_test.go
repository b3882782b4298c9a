package convert

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// testSize is the virtual size of generated test images.
const testSize = 64 << 20

// needQemuImg skips the test when qemu-img (Debian qemu-utils) is missing.
func needQemuImg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (apt-get install qemu-utils)")
	}
}

func qemuImg(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

// writePattern makes a sparse raw file of size bytes mixing random, compressible and zero
// regions, holes, and data that is not aligned to 4 KiB.
func writePattern(t testing.TB, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 256<<10)
	for off := int64(0); off < size; off += int64(len(buf)) {
		switch rng.IntN(5) {
		case 0, 1: // hole
			continue
		case 2: // random
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
		case 3: // compressible text with zero blocks inside
			for i := range buf {
				buf[i] = "goldimage "[i%10]
			}
			clear(buf[8192:20480])
		case 4: // a few unaligned bytes in an otherwise zero block
			clear(buf)
			copy(buf[4095:], "unaligned")
		}
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), size-off)], off); err != nil {
			t.Fatal(err)
		}
	}
}

// sameFiles fails the test when the two files differ in size or content.
func sameFiles(t testing.TB, want, got string) {
	t.Helper()
	a, b := readAll(t, want), readAll(t, got)
	if len(a) != len(b) {
		t.Fatalf("%s is %d bytes, want %d", got, len(b), len(a))
	}
	if !bytes.Equal(a, b) {
		for i := range a {
			if a[i] != b[i] {
				t.Fatalf("%s differs from %s first at byte %d", got, want, i)
			}
		}
	}
}

func readAll(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// allocated is the number of bytes the file occupies on disk.
func allocated(t testing.TB, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

func openFile(t testing.TB, path string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

// oracle converts src in qemu format fmt to raw with qemu-img and returns the output path.
// The format is explicit because qemu-img probes a fixed VHD (footer only) as raw.
func oracle(t testing.TB, src, fmt string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "oracle.raw")
	qemuImg(t, "convert", "-f", fmt, "-O", "raw", src, out)
	return out
}

var _ = io.EOF
