package inflate

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// sample returns n bytes that compress like disk data: text, runs, zeros and random stretches.
func sample(seed uint64, n int) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	words := []string{"kernel ", "systemd ", "\x00\x00\x00\x00", "lib64 ", "ELF\x02\x01", "\xff\xff", "a"}
	b := make([]byte, 0, n)
	for len(b) < n {
		switch rng.IntN(6) {
		case 0:
			for range rng.IntN(200) {
				b = append(b, byte(rng.Uint32()))
			}
		case 1:
			b = append(b, bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(300))...)
		default:
			b = append(b, words[rng.IntN(len(words))]...)
		}
	}
	return b[:n]
}

func deflate(t testing.TB, data []byte, level int) []byte {
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oneByteReader hands out one byte per Read, exercising every refill path.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0], r.b = r.b[0], r.b[1:]
	return 1, nil
}

func TestDecodeMatchesStdlib(t *testing.T) {
	var d Decoder
	for _, size := range []int{0, 1, 100, 65536, 300000} {
		data := sample(uint64(size), size)
		for _, level := range []int{flate.NoCompression, flate.BestSpeed, 6, flate.BestCompression, flate.HuffmanOnly} {
			comp := deflate(t, data, level)
			for _, tc := range []struct {
				name string
				dst  int
				r    io.Reader
				want error
			}{
				{"exact", size, bytes.NewReader(comp), nil},
				{"short buffer", size / 2, bytes.NewReader(comp), nil},
				{"long buffer", size + 10, bytes.NewReader(comp), io.EOF},
				{"byte by byte", size + 1, &oneByteReader{comp}, io.EOF},
				{"in memory", size + 1, nil, io.EOF},
			} {
				dst := make([]byte, tc.dst)
				var n int
				var err error
				if tc.r == nil {
					n, err = d.DecodeBytes(dst, comp)
				} else {
					n, err = d.Decode(dst, tc.r)
				}
				want := tc.want
				if size == 0 && tc.dst == 0 {
					want = nil
				}
				if n != min(size, tc.dst) || err != want || !bytes.Equal(dst[:n], data[:n]) {
					t.Fatalf("size %d level %d %s: n %d err %v, want %d bytes and %v (same bytes %v)",
						size, level, tc.name, n, err, min(size, tc.dst), want, bytes.Equal(dst[:n], data[:n]))
				}
				ended, used := d.Ended()
				if wantEnded := tc.dst >= size; ended != wantEnded || tc.r == nil && used != len(comp) {
					t.Fatalf("size %d level %d %s: Ended() = %v, %d; want %v (input %d bytes)", size, level, tc.name, ended, used, wantEnded, len(comp))
				}
			}
		}
	}
}

func TestDecodeRefusesBadStreams(t *testing.T) {
	good := deflate(t, sample(1, 5000), 6)
	var d Decoder
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty input", nil, io.ErrUnexpectedEOF},
		{"truncated", good[:len(good)/2], io.ErrUnexpectedEOF},
		{"reserved block type", []byte{0x07}, ErrCorrupt},
		{"stored length mismatch", []byte{0x01, 0x05, 0x00, 0x00, 0x00}, ErrCorrupt},
		{"truncated stored block", []byte{0x01, 0x05, 0x00, 0xfa, 0xff, 'a', 'b'}, io.ErrUnexpectedEOF},
		{"distance before the start", fixedMatchAtStart(), ErrCorrupt},
	} {
		n, err := d.Decode(make([]byte, 10000), bytes.NewReader(tc.in))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %d bytes, err %v, want %v", tc.name, n, err, tc.want)
		}
	}
}

// fixedMatchAtStart is a fixed-Huffman block that opens with a match of length 3, distance 1.
func fixedMatchAtStart() []byte {
	var acc uint64
	var n uint
	put := func(v uint64, bits uint) { acc |= v << n; n += bits }
	put(1, 1)                     // final
	put(1, 2)                     // fixed Huffman
	put(uint64(reverse(1, 7)), 7) // symbol 257: length 3
	put(0, 5)                     // distance code 0: distance 1
	put(uint64(reverse(0, 7)), 7) // end of block
	return binary.LittleEndian.AppendUint64(nil, acc)[:(n+7)/8]
}
