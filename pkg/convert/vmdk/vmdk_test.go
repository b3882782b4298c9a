package vmdk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

const (
	mib      = 1 << 20
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

// convertImage makes a VMDK from a patterned raw disk and returns its path and the raw bytes
// qemu-img reads back from it.
func convertImage(t *testing.T, opts string) (string, []byte) {
	dir := t.TempDir()
	raw, img, back := filepath.Join(dir, "in.raw"), filepath.Join(dir, "disk.vmdk"), filepath.Join(dir, "back.raw")
	writePatterned(t, raw)
	qemuImg(t, "convert", "-f", "raw", "-O", "vmdk", "-o", opts, raw, img)
	qemuImg(t, "convert", "-f", "vmdk", "-O", "raw", img, back)
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
}{
	{"monolithicSparse", "subformat=monolithicSparse"},
	{"monolithicSparse-zeroed-grain", "subformat=monolithicSparse,zeroed_grain=on"},
	{"streamOptimized", "subformat=streamOptimized"},
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
			if img.Size() != int64(len(want)) || img.Type() != "vmdk" || img.Readable() != nil {
				t.Fatalf("size %d type %s readable %v, want size %d", img.Size(), img.Type(), img.Readable(), len(want))
			}
			for _, chunk := range []int{mib, 100003, 4096} {
				compareChunks(t, img, want, chunk)
			}
			checkExtents(t, img, want)
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
// the hole at [8 MiB, 10 MiB) must be reported without reading.
func checkExtents(t *testing.T, img *Image, want []byte) {
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
	if err != nil || !ext.Zero || ext.Length != 2*mib {
		t.Fatalf("Extent of the hole = %+v, %v; want 2 MiB of zeros", ext, err)
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

func TestStreamReaderMatchesQemuImg(t *testing.T) {
	needQemuImg(t)
	path, want := convertImage(t, "subformat=streamOptimized")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := NewStreamReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Size() != int64(len(want)) {
		t.Fatalf("Size() = %d, want %d", s.Size(), len(want))
	}
	got, err := io.ReadAll(io.LimitReader(s, s.Size()+1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stream differs from qemu-img (%d vs %d bytes)", len(got), len(want))
	}
}

// TestConcurrentReads reads a streamOptimized image from several goroutines at unaligned
// offsets, sharing the grain table and grain caches (run with -race).
func TestConcurrentReads(t *testing.T) {
	needQemuImg(t)
	path, want := convertImage(t, "subformat=streamOptimized")
	img, err := openFile(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	errs := make(chan error, 4)
	for w := range 4 {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			buf := make([]byte, 10000)
			for range 300 {
				off := rng.Int64N(int64(len(want) - len(buf)))
				if _, err := img.ReadAt(buf, off); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(buf, want[off:off+int64(len(buf))]) {
					errs <- fmt.Errorf("bytes at %d differ from qemu-img", off)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStreamReaderClose abandons a stream halfway: Close stops the decompressing goroutines.
func TestStreamReaderClose(t *testing.T) {
	needQemuImg(t)
	path, want := convertImage(t, "subformat=streamOptimized")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := NewStreamReader(f, WithWorkers(3))
	if err != nil {
		t.Fatal(err)
	}
	half := make([]byte, len(want)/2)
	if _, err := io.ReadFull(s, half); err != nil || !bytes.Equal(half, want[:len(half)]) {
		t.Fatalf("first half: %v", err)
	}
	s.Close()
	if _, err := s.Read(half); err == nil {
		t.Fatal("Read after Close succeeded")
	}
	s.running.Wait() // hangs if a goroutine outlives Close
}

// TestStreamReaderDropped abandons a stream without Close: its goroutines stop once the garbage
// collector finds the StreamReader unreachable.
func TestStreamReaderDropped(t *testing.T) {
	needQemuImg(t)
	path, _ := convertImage(t, "subformat=streamOptimized")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st := startAndDrop(t, f)
	runtime.GC()
	st.running.Wait() // hangs if the cleanup never stops the goroutines
}

func startAndDrop(t *testing.T, r io.Reader) *stopper {
	s, err := NewStreamReader(r, WithWorkers(2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	return s.stopper
}
