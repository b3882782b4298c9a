package decompress

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/goldimage/goldimage/pkg/convert/internal/imgerr"
)

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	t.Helper()
	e, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	return e.EncodeAll(b, nil)
}

func TestNewReader(t *testing.T) {
	data := bytes.Repeat([]byte("goldimage"), 1000)
	for _, tc := range []struct {
		name  string
		in    []byte
		c     Compression
		limit int64
		want  error // nil: data comes out whole
	}{
		{"gzip", gz(t, data), Gzip, 0, nil},
		{"zstd", zst(t, data), Zstd, int64(len(data)), nil},
		{"none", data, None, 0, nil},
		{"gzip past the limit", gz(t, data), Gzip, int64(len(data)) - 1, imgerr.ErrTooLarge},
		{"zstd past the limit", zst(t, data), Zstd, 100, imgerr.ErrTooLarge},
		{"truncated zstd", zst(t, data)[:20], Zstd, 0, imgerr.ErrCorrupt},
		{"damaged gzip", append(gz(t, data)[:30], make([]byte, 40)...), Gzip, 0, imgerr.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Detect(tc.in); got != tc.c {
				t.Fatalf("Detect = %q, want %q", got, tc.c)
			}
			r, err := NewReader(bytes.NewReader(tc.in), tc.c, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			out, err := io.ReadAll(r)
			if tc.want == nil {
				if err != nil || !bytes.Equal(out, data) {
					t.Fatalf("read %d bytes, %v; want %d bytes", len(out), err, len(data))
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, imgerr.ErrBadInput) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewReaderRefusesUnknownCompression(t *testing.T) {
	if _, err := NewReader(bytes.NewReader(nil), "lz4", 0); !errors.Is(err, imgerr.ErrUnsupported) {
		t.Fatalf("error %v, want ErrUnsupported", err)
	}
}

// FuzzNewReader feeds arbitrary data to every decompressor with a 1 MiB output limit.
func FuzzNewReader(f *testing.F) {
	f.Add(gz(f, []byte("goldimage")))
	f.Add(gz(f, make([]byte, 4<<20)))
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x58, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []Compression{Gzip, Xz, Zstd, Bzip2} {
			zr, err := NewReader(bytes.NewReader(data), c, 1<<20)
			if err != nil {
				continue
			}
			n, err := io.Copy(io.Discard, zr)
			_ = zr.Close()
			if n > 1<<20+1 {
				t.Fatalf("%s produced %d bytes past the 1 MiB limit", c, n)
			}
			if n > 1<<20 && !errors.Is(err, imgerr.ErrTooLarge) {
				t.Fatalf("%s went past the limit with error %v", c, err)
			}
		}
	})
}
