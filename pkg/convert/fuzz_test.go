package convert

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// addSeeds adds every testdata file matching glob to the fuzz corpus.
func addSeeds(f *testing.F, glob string) { formattest.AddSeeds(f, filepath.Join("testdata", glob)) }

func FuzzDetect(f *testing.F) {
	addSeeds(f, "*.qcow2")
	f.Add([]byte{0x1f, 0x8b, 0x08})
	f.Add([]byte("KDMV\x01\x00\x00\x00\x03\x00\x01\x00"))
	f.Add([]byte("conectix"))
	f.Fuzz(func(t *testing.T, h []byte) {
		d := Detect(h)
		if d.Compression != CompressionNone && d.Format != FormatUnknown {
			t.Fatalf("both compression %q and format %q detected", d.Compression, d.Format)
		}
		if d.Compression == CompressionNone && d.Format == FormatUnknown {
			t.Fatal("no format for uncompressed data")
		}
		if len(h) >= 512 {
			_ = IsVHDFooter(h[len(h)-512:], int64(len(h)-512))
		}
	})
}

// FuzzOpenQcow2 opens mutated qcow2 images and reads every byte through the extent map.
func FuzzOpenQcow2(f *testing.F) {
	addSeeds(f, "*.qcow2")
	f.Fuzz(func(t *testing.T, data []byte) {
		img, _, err := Open(bytes.NewReader(data), int64(len(data)), WithMaxVirtualSize(4<<20))
		if err != nil {
			return
		}
		defer img.Close()
		buf := make([]byte, 64<<10)
		for off := int64(0); off < img.Size(); {
			ext, err := img.Extent(off, min(img.Size()-off, int64(len(buf))))
			if err != nil {
				return
			}
			if ext.Length <= 0 {
				t.Fatalf("extent at %d has length %d", off, ext.Length)
			}
			n := min(ext.Length, int64(len(buf)), img.Size()-off)
			if _, err := img.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
				if !IsBadInput(err) {
					t.Fatalf("read error not marked as bad input: %v", err)
				}
				return
			}
			off += n
		}
	})
}

// FuzzWriteRawFromStream streams arbitrary data (often compressed or an image header) to a file
// with small limits and chunks; it must end in a result or an error, never a panic.
func FuzzWriteRawFromStream(f *testing.F) {
	addSeeds(f, "*.qcow2")
	addSeeds(f, "../vhd/testdata/*.vhd") // dynamic: streamed from its tables (tablestream.go)
	f.Add(gz(f, []byte("goldimage")))
	f.Add(append(make([]byte, 1024), vhdFooter(1024)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := filepath.Join(t.TempDir(), "out")
		res, err := WriteRawFromStream(context.Background(), bytes.NewReader(data), out, WithScratchDir(t.TempDir()),
			WithMaxVirtualSize(4<<20), WithMaxDecompressedSize(8<<20), withChunkSize(64<<10), WithSync(false))
		if err == nil && res.VirtualSize > 4<<20 {
			t.Fatalf("wrote %d bytes past the 4 MiB limit", res.VirtualSize)
		}
	})
}
