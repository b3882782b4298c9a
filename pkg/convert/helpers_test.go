package convert

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// testSize is the virtual size of generated test images.
const testSize = 64 << 20

// writePattern makes a sparse raw file of size bytes mixing random, compressible and zero
// regions, holes, and data that is not aligned to 4 KiB.
func writePattern(t testing.TB, path string, size int64) {
	t.Helper()
	formattest.WriteMixed(t, path, size, formattest.Mixed{Piece: 256 << 10, Seed: 1})
}

// sameFiles fails the test when the two files differ in size or content.
func sameFiles(t testing.TB, want, got string) {
	t.Helper()
	a, b := formattest.ReadFile(t, want), formattest.ReadFile(t, got)
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
	formattest.QemuImg(t, "convert", "-f", fmt, "-O", "raw", src, out)
	return out
}

var _ = io.EOF
