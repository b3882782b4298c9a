package vhd

import (
	"io"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// convertImage makes a VHD from a patterned raw disk and returns its path and the raw bytes
// qemu-img reads back from it.
func convertImage(t *testing.T, opts string) (string, []byte) {
	return formattest.Convert(t, "vpc", opts)
}

func openFile(t *testing.T, path string, opts ...Option) (*Image, error) {
	return formattest.OpenFile(t, path, func(ra io.ReaderAt, size int64) (*Image, error) { return Open(ra, size, opts...) })
}

var formats = []struct {
	name, opts string
	sparse     bool
}{
	{"fixed", "subformat=fixed", false},
	{"dynamic", "subformat=dynamic", true},
	{"dynamic-force-size", "subformat=dynamic,force_size=on", true},
	{"fixed-force-size", "subformat=fixed,force_size=on", false},
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
