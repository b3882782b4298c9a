package vhdx

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// A VHDX spreads its structures over megabytes of mostly zeros, far more than the fuzzer can
// mutate usefully, so seeds hold only the 4 KiB pages where qemu-img puts them: file type
// identifier, headers, region tables, log, BAT, metadata table and items, first data block.
var pageOffsets = []int64{0, 64 << 10, 128 << 10, 192 << 10, 256 << 10, 1 * mib, 2 * mib, 3 * mib, 3*mib + 64<<10, 8 * mib}

const (
	pageSize  = 4 << 10
	pagedSize = 9 * mib
)

// pagedFile is a 9 MiB file of zeros holding page i of data at pageOffsets[i].
type pagedFile []byte

func (f pagedFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= pagedSize {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), pagedSize-off))
	clear(p[:n])
	for i, po := range pageOffsets {
		page := f[min(len(f), i*pageSize):min(len(f), (i+1)*pageSize)]
		lo, hi := max(off, po), min(off+int64(n), po+int64(len(page)))
		if lo < hi {
			copy(p[lo-off:hi-off], page[lo-po:hi-po])
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// extractPages keeps the pages of a file that pagedFile restores.
func extractPages(file []byte) []byte {
	var out []byte
	for _, po := range pageOffsets {
		out = append(out, file[po:po+pageSize]...)
	}
	return out
}

// openStream opens a stream as FuzzOpen's options allow.
func openStream(opts ...Option) func(io.ReaderAt) (*Image, error) {
	return func(ra io.ReaderAt) (*Image, error) { return OpenStream(ra, opts...) }
}

// FuzzOpen opens arbitrary pages as a file and as a stream. Where the stream's blocks follow the
// disk's order, the streamed disk must read as the file does.
func FuzzOpen(f *testing.F) {
	formattest.AddSeeds(f, "testdata/*.pages")
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := []Option{WithMaxSize(64 << 20), WithMaxTableBytes(1 << 20)}
		img, err := Open(pagedFile(data), pagedSize, opts...)
		if err != nil {
			return
		}
		formattest.ReadAll(t, img, 64<<10, 4*mib)
		_ = formattest.SameStreamed(t, img, min(img.Size(), 4*mib), io.NewSectionReader(pagedFile(data), 0, pagedSize), 4*mib, openStream(opts...))
	})
}

var update = flag.Bool("update", false, "regenerate the fuzz seed pages in testdata with qemu-img")

// TestSeeds checks that the seed pages restore to an image that qemu-img and Open read alike
// (go test -run TestSeeds -args -update makes new ones with qemu-img).
func TestSeeds(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	raw, disk := filepath.Join(dir, "seed.raw"), make([]byte, mib)
	for i := range 3000 {
		disk[i] = byte(i * 7 / 3)
	}
	if err := os.WriteFile(raw, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dynamic"} {
		seed := filepath.Join("testdata", name+".pages")
		if *update {
			img := filepath.Join(dir, name+".vhdx")
			formattest.QemuImg(t, "convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M,subformat="+name, raw, img)
			file, err := os.ReadFile(img)
			if err != nil || len(file) < pagedSize {
				t.Fatalf("qemu-img made a %d-byte image (%v); the page layout needs updating", len(file), err)
			}
			if err := os.WriteFile(seed, extractPages(file), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pages, err := os.ReadFile(seed)
		if err != nil {
			t.Fatal(err)
		}
		file := make([]byte, pagedSize)
		pagedFile(pages).ReadAt(file, 0)
		restored, back := filepath.Join(dir, name+"-restored.vhdx"), filepath.Join(dir, name+"-back.raw")
		if err := os.WriteFile(restored, file, 0o644); err != nil {
			t.Fatal(err)
		}
		formattest.QemuImg(t, "convert", "-f", "vhdx", "-O", "raw", restored, back)
		if got, err := os.ReadFile(back); err != nil || !bytes.Equal(got, disk) {
			t.Fatalf("qemu-img reads restored %s differently (%v)", seed, err)
		}
		img, err := Open(pagedFile(pages), pagedSize)
		if err != nil {
			t.Fatal(err)
		}
		formattest.CompareChunks(t, img, disk, 3000)
	}
}

// TestStreamSeed: the seed streams in file order, so FuzzOpen's comparison starts from it.
func TestStreamSeed(t *testing.T) {
	data := formattest.ReadFile(t, "testdata/dynamic.pages")
	img, err := Open(pagedFile(data), pagedSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := formattest.SameStreamed(t, img, img.Size(), io.NewSectionReader(pagedFile(data), 0, pagedSize), 4*mib, openStream()); err != nil {
		t.Fatal(err)
	}
}
