package vhdx

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// convertImage makes a VHDX from a patterned raw disk and returns its path and the raw bytes
// qemu-img reads back from it.
func convertImage(t *testing.T, opts string) (string, []byte) {
	return formattest.Convert(t, "vhdx", opts)
}

func openFile(t *testing.T, path string, opts ...Option) (*Image, error) {
	return formattest.OpenFile(t, path, func(ra io.ReaderAt, size int64) (*Image, error) { return Open(ra, size, opts...) })
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
			formattest.CheckExtents(t, img, want, tc.sparse)
		})
	}
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
	formattest.NeedQemuImg(t)
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
			formattest.CompareChunks(t, img, want, mib)
			formattest.CheckExtents(t, img, want, tc.sparse || fsHasHoles(t))
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
