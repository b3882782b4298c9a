package vmdk

import (
	"bytes"
	"io"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

func FuzzOpen(f *testing.F) {
	formattest.AddSeeds(f, "testdata/*.vmdk")
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := []Option{WithMaxSize(8 << 20), WithMaxTableBytes(1 << 20)}
		if img, err := Open(bytes.NewReader(data), int64(len(data)), opts...); err == nil {
			formattest.ReadAll(t, img, 256<<10, img.Size())
		}
		if s, err := NewStreamReader(bytes.NewReader(data), opts...); err == nil {
			n, _ := io.Copy(io.Discard, s)
			s.Close()
			if n > s.Size() {
				t.Fatalf("stream yielded %d bytes of a %d-byte disk", n, s.Size())
			}
		}
	})
}
