package clone

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

// encode builds a stream of size bytes from frames given as data ("D:bytes") or holes ("H" with n).
func encode(t testing.TB, size int64, parts ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, size)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		switch p := p.(type) {
		case []byte:
			err = w.Data(p)
		case int64:
			err = w.Hole(p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// decode reads a stream back into a flat disk image.
func decode(r io.Reader) ([]byte, error) {
	fr, err := NewReader(r)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, min(fr.Size(), 1<<24))
	for {
		f, err := fr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if f.Hole {
			if f.Len > 1<<24 {
				return nil, errors.New("hole too large for a test")
			}
			out = append(out, make([]byte, f.Len)...)
			continue
		}
		out = append(out, f.Data...)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	stream := encode(t, 12, []byte("abc"), int64(5), []byte("wxyz"))
	got, err := decode(bytes.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte("abc\x00\x00\x00\x00\x00wxyz"); !bytes.Equal(got, want) {
		t.Errorf("decoded %q, want %q", got, want)
	}
}

func TestWriterRefusesBadFrames(t *testing.T) {
	w, _ := NewWriter(io.Discard, 4)
	if err := w.Data(make([]byte, 5)); err == nil || !strings.Contains(err.Error(), "passes the disk size") {
		t.Errorf("oversized data frame: %v", err)
	}
	if err := w.End(); err == nil || !strings.Contains(err.Error(), "ends at byte 0 of 4") {
		t.Errorf("early end: %v", err)
	}
}

func TestReaderRejects(t *testing.T) {
	good := encode(t, 8, []byte("abcd"), int64(4))
	header := func(typ byte, off, n uint64) []byte {
		b := make([]byte, headerLen)
		b[0] = typ
		binary.BigEndian.PutUint64(b[1:9], off)
		binary.BigEndian.PutUint64(b[9:], n)
		return b
	}
	withFrames := func(size uint64, frames ...[]byte) []byte {
		b := append([]byte(magic), make([]byte, 8)...)
		binary.BigEndian.PutUint64(b[8:], size)
		for _, f := range frames {
			b = append(b, f...)
		}
		return b
	}
	for _, tc := range []struct {
		name   string
		stream []byte
		want   string
	}{
		{"empty", nil, "truncated"},
		{"bad magic", append([]byte("NOTCLONE"), good[8:]...), "not a clone stream"},
		{"truncated in data", good[:16+headerLen+2], "truncated"},
		{"no end frame", good[:len(good)-headerLen], "truncated"},
		{"gap", withFrames(8, header(frameHole, 2, 2)), "expected 0"},
		{"past size", withFrames(8, header(frameHole, 0, 9)), "passes the disk size"},
		{"huge data", withFrames(MaxData+1, header(frameData, 0, MaxData+1)), "exceeds"},
		{"early end", withFrames(8, header(frameHole, 0, 4), header(frameEnd, 4, 0)), "ends at byte 4 of 8"},
		{"unknown type", withFrames(8, header('X', 0, 1)), "unknown clone frame type"},
		{"impossible size", withFrames(1 << 63), "impossible size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decode(bytes.NewReader(tc.stream))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := decode(bytes.NewReader(good[:len(good)-1])); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated end frame: %v is not ErrTruncated", err)
	}
}

// FuzzReader feeds arbitrary streams to the reader: it must never panic, never return more bytes than the
// announced size, and never a data frame longer than MaxData.
func FuzzReader(f *testing.F) {
	f.Add(encode(f, 12, []byte("abc"), int64(5), []byte("wxyz")))
	f.Add(encode(f, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		var total int64
		for i := 0; i < 1<<16; i++ {
			fr, err := r.Next()
			if err != nil {
				return
			}
			if len(fr.Data) > MaxData || (!fr.Hole && int64(len(fr.Data)) != fr.Len) {
				t.Fatalf("frame %+v has %d data bytes", fr, len(fr.Data))
			}
			if total += fr.Len; total > r.Size() {
				t.Fatalf("frames cover %d bytes of a %d-byte disk", total, r.Size())
			}
		}
	})
}
