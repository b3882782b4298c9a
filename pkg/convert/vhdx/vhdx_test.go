package vhdx

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const (
	diskSize = 12*mib + 64<<10 + 512 // no format's block or grain divides it
)

// writePatterned writes a raw disk with incompressible data, a constant run, and holes;
// [8 MiB, 10 MiB) is always a hole.
func writePatterned(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(diskSize); err != nil {
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
		{mib, random(100000)},
		{3*mib + 512, bytes.Repeat([]byte{0x5a}, 3584)},
		{5 * mib, random(2 * mib)},
		{diskSize - 1000, bytes.Repeat([]byte{0x11}, 1000)},
	} {
		if _, err := f.WriteAt(w.data, w.off); err != nil {
			t.Fatal(err)
		}
	}
}

func qemuImg(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

func needQemuImg(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed (apt-get install qemu-utils)")
	}
}

// convertImage makes a VHDX from a patterned raw disk and returns its path and the raw bytes
// qemu-img reads back from it.
func convertImage(t *testing.T, opts string) (string, []byte) {
	dir := t.TempDir()
	raw, img, back := filepath.Join(dir, "in.raw"), filepath.Join(dir, "disk.vhdx"), filepath.Join(dir, "back.raw")
	writePatterned(t, raw)
	qemuImg(t, "convert", "-f", "raw", "-O", "vhdx", "-o", opts, raw, img)
	qemuImg(t, "convert", "-f", "vhdx", "-O", "raw", img, back)
	want, err := os.ReadFile(back)
	if err != nil {
		t.Fatal(err)
	}
	return img, want
}

func openFile(t *testing.T, path string, opts ...Option) (*Image, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	img, err := Open(f, fi.Size(), opts...)
	if err != nil {
		f.Close()
	}
	return img, err
}

var formats = []struct {
	name, opts string
	sparse     bool
}{
	{"dynamic-1M-blocks", "block_size=1M", true},
	{"dynamic-default", "subformat=dynamic", false},
	{"dynamic-8M-blocks-1M-log", "block_size=8M,log_size=1M", false},
	{"fixed", "subformat=fixed,block_size=2M", true},
}

func TestReadMatchesQemuImg(t *testing.T) {
	needQemuImg(t)
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			path, want := convertImage(t, tc.opts)
			img, err := openFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			if img.Size() != int64(len(want)) || img.Type() != "vhdx" || img.Readable() != nil {
				t.Fatalf("size %d type %s readable %v, want size %d", img.Size(), img.Type(), img.Readable(), len(want))
			}
			for _, chunk := range []int{mib, 100003, 4096} {
				compareChunks(t, img, want, chunk)
			}
			checkExtents(t, img, want, tc.sparse)
		})
	}
}

func compareChunks(t *testing.T, img *Image, want []byte, chunk int) {
	t.Helper()
	buf := make([]byte, chunk)
	for off := 0; off < len(want); off += chunk {
		n, err := img.ReadAt(buf, int64(off))
		end := min(off+chunk, len(want))
		if n != end-off || (err != nil && !(errors.Is(err, io.EOF) && end == len(want))) {
			t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", chunk, off, n, err)
		}
		if !bytes.Equal(buf[:n], want[off:end]) {
			t.Fatalf("chunk %d at %d differs from qemu-img", chunk, off)
		}
	}
}

// checkExtents walks all extents: zero extents must read as zeros in qemu-img's output, and
// a sparse image must report the hole at [8 MiB, 10 MiB) without reading.
func checkExtents(t *testing.T, img *Image, want []byte, sparse bool) {
	t.Helper()
	for off := int64(0); off < img.Size(); {
		ext, err := img.Extent(off, img.Size()-off)
		if err != nil || ext.Start != off || ext.Length <= 0 {
			t.Fatalf("Extent(%d) = %+v, %v", off, ext, err)
		}
		if ext.Zero && !allZero(want[off:off+ext.Length]) {
			t.Fatalf("extent %+v reported zero but holds data", ext)
		}
		off += ext.Length
	}
	ext, err := img.Extent(8*mib, 2*mib)
	if err != nil || ext.Zero != sparse || ext.Length != 2*mib {
		t.Fatalf("Extent of the hole = %+v, %v; want 2 MiB with Zero %v", ext, err, sparse)
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

// seekHoles is a HoleFunc over f with SEEK_DATA/SEEK_HOLE, as pkg/convert passes one.
func seekHoles(f *os.File) HoleFunc {
	return func(off int64) (bool, int64) {
		const seekData, seekHole = 3, 4
		next, err := f.Seek(off, seekData)
		if err != nil {
			return false, 0
		}
		if next > off {
			return true, next - off
		}
		end, err := f.Seek(off, seekHole)
		if err != nil {
			return false, 0
		}
		return false, end - off
	}
}

// TestHolesInPresentBlocks opens qemu-img's images, whose blocks leave unwritten parts as file
// holes, with WithHoles: extents reported zero must read as zeros, and the hole at [8 MiB, 10 MiB)
// inside a present 8 MiB block must now be reported zero without a read.
func TestHolesInPresentBlocks(t *testing.T) {
	needQemuImg(t)
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			path, want := convertImage(t, tc.opts)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if hole, _ := seekHoles(f)(0); hole {
				t.Fatal("the header region reads as a hole")
			}
			fi, _ := f.Stat()
			img, err := Open(f, fi.Size(), WithHoles(seekHoles(f)))
			if err != nil {
				t.Fatal(err)
			}
			compareChunks(t, img, want, mib)
			checkExtents(t, img, want, tc.sparse || fsHasHoles(t))
		})
	}
}

// fsHasHoles reports whether the test's temporary file system reports holes to SEEK_DATA.
func fsHasHoles(t *testing.T) bool {
	f, err := os.Create(filepath.Join(t.TempDir(), "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{1}, 4*mib); err != nil {
		t.Fatal(err)
	}
	hole, n := seekHoles(f)(0)
	return hole && n >= mib
}
