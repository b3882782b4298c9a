package qcow2stream

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// FuzzReader streams mutated qcow2 images: no panic, extents in order covering the virtual size,
// held bytes within the bounds, and one-line errors.
func FuzzReader(f *testing.F) {
	formattest.AddSeeds(f, "testdata/*.qcow2")
	for _, l := range []layout{
		{clusters: 3, order: []string{"L1", "D0", "L2", "D2", "D1"}},
		{clusters: 2, order: []string{"D1", "L2", "L1", "D0"}},
	} {
		img, _ := l.build()
		f.Add(img)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(onlyReader{bytes.NewReader(data)}, WithMaxVirtualSize(8<<20), WithMemoryLimit(64<<10), WithScratchDir(t.TempDir()),
			WithMaxScratch(1<<20), WithWorkers(2))
		if err != nil {
			oneLine(t, err)
			return
		}
		defer r.Close()
		var next int64
		for {
			e, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				oneLine(t, err)
				return
			}
			if e.Off != next || e.Len <= 0 || e.Data != nil && int64(len(e.Data)) != e.Len {
				t.Fatalf("extent %d+%d (%d data bytes) at %d", e.Off, e.Len, len(e.Data), next)
			}
			next += e.Len
			r.Release(e)
		}
		if next != r.Size() {
			t.Fatalf("extents end at %d of %d", next, r.Size())
		}
		if st := r.Stats(); st.ScratchWritten > 1<<20 {
			t.Fatalf("wrote %d bytes to scratch past the 1 MiB bound", st.ScratchWritten)
		}
	})
}

func oneLine(t *testing.T, err error) {
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("error spans lines: %q", err)
	}
}
