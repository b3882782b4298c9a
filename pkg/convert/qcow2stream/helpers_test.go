package qcow2stream

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// writePattern makes a sparse raw file mixing random, compressible and zero regions and holes,
// with one 192 KiB piece in every stride bytes.
func writePattern(t testing.TB, path string, size, stride int64, seed uint64) {
	t.Helper()
	formattest.WriteMixed(t, path, size, formattest.Mixed{Piece: 192 << 10, Stride: stride, Seed: seed})
}

// onlyReader hides every method but Read, as a pipe or registry layer would.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// decodeAll streams the qcow2 bytes through a Reader, checks each extent against want (nil: no
// check) and returns the stats.
func decodeAll(t testing.TB, qcow []byte, want io.ReaderAt, opts ...Option) (Stats, error) {
	t.Helper()
	r, err := NewReader(onlyReader{bytes.NewReader(qcow)}, opts...)
	if err != nil {
		return Stats{}, err
	}
	defer r.Close()
	var next int64
	buf := make([]byte, 1<<20)
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return r.Stats(), err
		}
		if e.Off != next || e.Len <= 0 || e.Data != nil && int64(len(e.Data)) != e.Len {
			t.Fatalf("extent at %d+%d (%d bytes of data), want it at %d", e.Off, e.Len, len(e.Data), next)
		}
		for at := int64(0); want != nil && at < e.Len; at += int64(len(buf)) {
			p := buf[:min(int64(len(buf)), e.Len-at)]
			if _, err := want.ReadAt(p, e.Off+at); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			if e.Data == nil && !bytes.Equal(p, make([]byte, len(p))) || e.Data != nil && !bytes.Equal(p, e.Data[at:at+int64(len(p))]) {
				t.Fatalf("extent at %d+%d differs from the raw source", e.Off, e.Len)
			}
		}
		next += e.Len
		r.Release(e)
	}
	if next != r.Size() {
		t.Fatalf("extents end at %d, size %d", next, r.Size())
	}
	if f, ok := want.(*os.File); ok {
		if st, err := f.Stat(); err != nil || st.Size() != r.Size() {
			t.Fatalf("virtual size %d, raw source has %d bytes (%v)", r.Size(), st.Size(), err)
		}
	}
	return r.Stats(), nil
}

// convertTo writes raw as qcow2 with qemu-img and the given options, returning the image bytes.
func convertTo(t testing.TB, raw string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "img.qcow2")
	formattest.QemuImg(t, append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, args...), raw, out)...)
	return formattest.ReadFile(t, out)
}
