package vhd

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func FuzzOpen(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.vhd")
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
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := []Option{WithMaxSize(8 << 20), WithMaxTableBytes(1 << 20)}
		if img, err := Open(bytes.NewReader(data), int64(len(data)), opts...); err == nil {
			readAll(t, img)
		}
	})
}

// readAll reads every extent of img; errors are fine, panics and overlong reads are not.
func readAll(t *testing.T, img *Image) {
	buf := make([]byte, 256<<10)
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
	for off := int64(0); off < img.Size(); off += int64(len(buf)) {
		if n, err := img.ReadAt(buf, off); err != nil && err != io.EOF || n > len(buf) {
			return
		}
	}
}
