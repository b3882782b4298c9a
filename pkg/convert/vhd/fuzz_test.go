package vhd

import (
	"bytes"
	"io"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// openStream opens a stream as FuzzOpen's options allow.
func openStream(opts ...Option) func(io.ReaderAt) (*Image, error) {
	return func(ra io.ReaderAt) (*Image, error) { return OpenStream(ra, opts...) }
}

// FuzzOpen opens arbitrary data as a file and as a stream. Where the footer's copy at the start
// matches the footer at the end and the stream's blocks follow the disk's order, the streamed disk
// must read as the file does.
func FuzzOpen(f *testing.F) {
	formattest.AddSeeds(f, "testdata/*.vhd")
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := []Option{WithMaxSize(8 << 20), WithMaxTableBytes(1 << 20)}
		img, err := Open(bytes.NewReader(data), int64(len(data)), opts...)
		if err != nil {
			return
		}
		formattest.ReadAll(t, img, 256<<10, img.Size())
		if len(data) >= 2*footerSize && bytes.Equal(data[:footerSize], data[len(data)-footerSize:]) {
			_ = formattest.SameStreamed(t, img, img.Size(), bytes.NewReader(data), 1<<20, openStream(opts...))
		}
	})
}

// TestStreamSeed: the seed streams in file order, so FuzzOpen's comparison starts from it.
func TestStreamSeed(t *testing.T) {
	data := formattest.ReadFile(t, "testdata/dynamic.vhd")
	img, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := formattest.SameStreamed(t, img, img.Size(), bytes.NewReader(data), 1<<20, openStream()); err != nil {
		t.Fatal(err)
	}
}
