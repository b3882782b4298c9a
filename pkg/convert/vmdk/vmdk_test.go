package vmdk

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

const mib = formattest.MiB

// convertImage makes a VMDK from a patterned raw disk and returns its path and the raw bytes
// qemu-img reads back from it.
func convertImage(t *testing.T, opts string) (string, []byte) {
	return formattest.Convert(t, "vmdk", opts)
}

func openFile(t *testing.T, path string, opts ...Option) (*Image, error) {
	return formattest.OpenFile(t, path, func(ra io.ReaderAt, size int64) (*Image, error) { return Open(ra, size, opts...) })
}

var formats = []struct {
	name, opts string
}{
	{"monolithicSparse", "subformat=monolithicSparse"},
	{"monolithicSparse-zeroed-grain", "subformat=monolithicSparse,zeroed_grain=on"},
	{"streamOptimized", "subformat=streamOptimized"},
}

func TestReadMatchesQemuImg(t *testing.T) {
	formattest.NeedQemuImg(t)
	for _, tc := range formats {
		t.Run(tc.name, func(t *testing.T) {
			path, want := convertImage(t, tc.opts)
			img, err := openFile(t, path)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			formattest.CheckReads(t, img, want, Type)
			formattest.CheckExtents(t, img, want, true)
		})
	}
}

func TestStreamReaderMatchesQemuImg(t *testing.T) {
	formattest.NeedQemuImg(t)
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
	formattest.NeedQemuImg(t)
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
	formattest.NeedQemuImg(t)
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
	formattest.NeedQemuImg(t)
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
