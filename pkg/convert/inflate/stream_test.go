package inflate

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func gzipped(t testing.TB, data []byte, level int, h gzip.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Header = h
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestReaderMatchesStandardLibrary(t *testing.T) {
	big := diskLike(3 << 20) // several buffer refills, matches reaching across them
	tests := []struct {
		name  string
		data  []byte
		level int
	}{
		{"empty", nil, flate.DefaultCompression},
		{"disk-like", big, flate.DefaultCompression},
		{"stored", big[:1<<20], flate.NoCompression},
		{"fixed codes", bytes.Repeat([]byte("abc"), 200000), flate.BestSpeed},
		{"huffman only", big[:1<<20], flate.HuffmanOnly},
		{"long runs of zeros", make([]byte, 2<<20), flate.BestCompression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			comp := deflate(t, tt.data, tt.level)
			for _, src := range []io.Reader{bytes.NewReader(comp), iotest.OneByteReader(bytes.NewReader(comp))} {
				got, err := io.ReadAll(NewReader(src))
				if err != nil || !bytes.Equal(got, tt.data) {
					t.Fatalf("decoded %d bytes (%v), want the %d input bytes", len(got), err, len(tt.data))
				}
			}
		})
	}
}

func TestGzipReader(t *testing.T) {
	data := diskLike(1 << 20)
	plain := gzipped(t, data, gzip.DefaultCompression, gzip.Header{})
	named := gzipped(t, data[:5000], gzip.BestSpeed, gzip.Header{Name: strings.Repeat("n", 9000), Comment: "c", Extra: []byte("xx")})
	corruptCRC := bytes.Clone(plain)
	corruptCRC[len(corruptCRC)-6] ^= 1
	corruptSize := bytes.Clone(plain)
	corruptSize[len(corruptSize)-1] ^= 1
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr string // "" for success
	}{
		{"one member", plain, data, ""},
		{"name, comment and extra field", named, data[:5000], ""},
		{"two members", append(bytes.Clone(plain), named...), append(bytes.Clone(data), data[:5000]...), ""},
		{"bad CRC", corruptCRC, nil, "CRC-32"},
		{"bad length", corruptSize, nil, "CRC-32"},
		{"truncated trailer", plain[:len(plain)-3], nil, "gzip trailer"},
		{"truncated data", plain[:len(plain)/2], nil, io.ErrUnexpectedEOF.Error()},
		{"garbage after a member", append(bytes.Clone(plain), "junk-junk-junk"...), nil, "not gzip"},
		{"not gzip", []byte("plain text, long enough"), nil, "not gzip"},
		{"header truncated", plain[:5], nil, "gzip header truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []byte
			g, err := NewGzipReader(bytes.NewReader(tt.in))
			if err == nil {
				got, err = io.ReadAll(g)
			}
			if tt.wantErr == "" {
				if err != nil || !bytes.Equal(got, tt.want) {
					t.Fatalf("decoded %d bytes (%v), want %d", len(got), err, len(tt.want))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want ErrCorrupt or io.ErrUnexpectedEOF", err)
			}
		})
	}
}

// FuzzGzipReader checks GzipReader against the standard library on arbitrary input.
func FuzzGzipReader(f *testing.F) {
	f.Add(gzipped(f, sample(1, 70000), gzip.DefaultCompression, gzip.Header{Name: "disk.raw"}))
	f.Add(append(gzipped(f, sample(2, 100), gzip.NoCompression, gzip.Header{}), gzipped(f, sample(3, 300), gzip.BestSpeed, gzip.Header{Comment: "x"})...))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got []byte
		g, err := NewGzipReader(bytes.NewReader(data))
		if err == nil {
			got, err = io.ReadAll(io.LimitReader(g, 4<<20))
		}
		var want []byte
		s, serr := gzip.NewReader(bytes.NewReader(data))
		if serr == nil {
			want, serr = io.ReadAll(io.LimitReader(s, 4<<20))
		}
		if (err == nil) != (serr == nil) || err == nil && !bytes.Equal(got, want) {
			t.Fatalf("GzipReader: %d bytes, %v; standard library: %d bytes, %v", len(got), err, len(want), serr)
		}
	})
}

// TestGzipReaderReadsOnAcrossMembers checks that a Read at a member boundary returns bytes of the
// next member rather than an empty read.
func TestGzipReaderReadsOnAcrossMembers(t *testing.T) {
	in := append(gzipped(t, []byte("first"), gzip.BestSpeed, gzip.Header{}), gzipped(t, []byte("second"), gzip.BestSpeed, gzip.Header{})...)
	g, err := NewGzipReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 64)
	var reads []string
	for {
		n, err := g.Read(p)
		if n == 0 && err == nil {
			t.Fatalf("empty read without an error after %q", reads)
		}
		if n > 0 {
			reads = append(reads, string(p[:n]))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(reads, ""); got != "firstsecond" {
		t.Errorf("read %q, want firstsecond", got)
	}
}
