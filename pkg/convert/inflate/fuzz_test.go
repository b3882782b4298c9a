package inflate

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"
)

// FuzzDecode checks Decode against the standard library's decoder on arbitrary input: whatever
// one accepts the other must accept with the same bytes, up to a 64 KiB output buffer.
func FuzzDecode(f *testing.F) {
	for i, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.HuffmanOnly} {
		f.Add(deflate(f, sample(uint64(i), 3000+i*5000), level))
	}
	f.Add(fixedMatchAtStart())
	var d Decoder
	dst := make([]byte, 64<<10)
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := d.Decode(dst, bytes.NewReader(data))
		want, serr := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), int64(len(dst))))
		ok := err == nil || err == io.EOF
		if ok != (serr == nil) {
			t.Fatalf("Decode: %d bytes, %v; standard library: %d bytes, %v", n, err, len(want), serr)
		}
		if ok && !bytes.Equal(dst[:n], want) {
			t.Fatalf("Decode wrote %d bytes that differ from the standard library's %d", n, len(want))
		}
		if err == io.EOF && n == len(dst) || err == nil && n != len(dst) {
			t.Fatalf("Decode: %d bytes of %d with %v", n, len(dst), err)
		}
		got := bytes.Clone(dst[:n])
		if m, merr := d.DecodeBytes(dst, data); merr != err && (ok || merr == nil || merr == io.EOF) || ok && (m != n || !bytes.Equal(dst[:m], got)) {
			t.Fatalf("DecodeBytes: %d bytes, %v; Decode: %d bytes, %v", m, merr, n, err)
		}
	})
}
