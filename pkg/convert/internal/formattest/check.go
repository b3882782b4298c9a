package formattest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/forward"
)

// Disk is the part of image.Image the checks use.
type Disk interface {
	io.ReaderAt
	Extent(start, length int64) (image.Extent, error)
	Size() int64
}

// CheckReads fails t unless img, of image type typ, reads as want in chunks of several sizes.
func CheckReads(t testing.TB, img image.Image, want []byte, typ image.Type) {
	t.Helper()
	if img.Size() != int64(len(want)) || img.Type() != typ || img.Readable() != nil {
		t.Fatalf("size %d type %s readable %v, want size %d", img.Size(), img.Type(), img.Readable(), len(want))
	}
	for _, chunk := range []int{MiB, 100003, 4096} {
		CompareChunks(t, img, want, chunk)
	}
}

// CompareChunks fails t unless img reads as want in consecutive reads of chunk bytes.
func CompareChunks(t testing.TB, img io.ReaderAt, want []byte, chunk int) {
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

// CheckExtents walks all extents of a patterned disk: zero extents must read as zeros in
// qemu-img's output want, and the hole at [8 MiB, 10 MiB) must be reported Zero if holeZero.
func CheckExtents(t testing.TB, img Disk, want []byte, holeZero bool) {
	t.Helper()
	for off := int64(0); off < img.Size(); {
		ext, err := img.Extent(off, img.Size()-off)
		if err != nil || ext.Start != off || ext.Length <= 0 {
			t.Fatalf("Extent(%d) = %+v, %v", off, ext, err)
		}
		if ext.Zero && !AllZero(want[off:off+ext.Length]) {
			t.Fatalf("extent %+v reported zero but holds data", ext)
		}
		off += ext.Length
	}
	ext, err := img.Extent(8*MiB, 2*MiB)
	if err != nil || ext.Zero != holeZero || ext.Length != 2*MiB {
		t.Fatalf("Extent of the hole = %+v, %v; want 2 MiB with Zero %v", ext, err, holeZero)
	}
}

// AllZero reports whether b holds only zeros.
func AllZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// AddSeeds adds the files matching pattern (such as "testdata/*.vhd") to f's corpus, failing
// if there are none.
func AddSeeds(f *testing.F, pattern string) {
	f.Helper()
	seeds, err := filepath.Glob(pattern)
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata: %v", err)
	}
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// ReadAll walks every extent of img and reads its first limit bytes in chunks of bufSize; errors
// are fine, panics and extents not following each other are not.
func ReadAll(t testing.TB, img Disk, bufSize int, limit int64) {
	t.Helper()
	for off := int64(0); off < img.Size(); {
		ext, err := img.Extent(off, img.Size()-off)
		if err != nil {
			return
		}
		if ext.Length <= 0 || ext.Start != off {
			t.Fatalf("Extent(%d) = %+v", off, ext)
		}
		off += ext.Length
	}
	buf := make([]byte, bufSize)
	for off := int64(0); off < min(img.Size(), limit); off += int64(len(buf)) {
		if n, err := img.ReadAt(buf, off); err != nil && err != io.EOF || n > len(buf) {
			return
		}
	}
}

// StreamDisk is a disk opened from a forward-only stream (pkg/convert/internal/forward).
type StreamDisk interface {
	io.ReaderAt
	InFileOrder(from int64) error
}

// SameStreamed opens src, read forward once keeping up to keep bytes for the tables, with open
// and, when the blocks follow the disk's order, reads the disk's first size bytes in order and fails
// the test where they differ from want's, the same disk opened with random access. It returns why
// the comparison did not run (nil when it did); a read error of either side ends it early.
func SameStreamed[D StreamDisk](t testing.TB, want io.ReaderAt, size int64, src io.Reader, keep int64, open func(io.ReaderAt) (D, error)) error {
	t.Helper()
	fr := forward.New(src, keep)
	got, err := open(fr)
	if err == nil {
		err = got.InFileOrder(fr.Pos())
	}
	if err != nil {
		return err
	}
	fr.StopKeeping()
	const bufSize = 64 << 10
	a, b := make([]byte, bufSize), make([]byte, bufSize)
	for off := int64(0); off < size; off += bufSize {
		n := int(min(bufSize, size-off))
		if _, err := got.ReadAt(b[:n], off); err != nil && err != io.EOF {
			return nil
		}
		if _, err := want.ReadAt(a[:n], off); err != nil && err != io.EOF {
			return nil
		}
		if !bytes.Equal(a[:n], b[:n]) {
			t.Fatalf("the disk read in order from a stream differs at [%d, +%d) from the disk read at random", off, n)
		}
	}
	return nil
}
