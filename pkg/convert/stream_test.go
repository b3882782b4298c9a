package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// failingReader yields data, then an error that wraps io.EOF, as decoders do for truncated input.
type failingReader struct{ data io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.data.Read(p)
	if err == io.EOF {
		return n, fmt.Errorf("decoder: stream ended early: %w", io.EOF)
	}
	return n, err
}

func TestStreamWrappedEOFIsAnError(t *testing.T) {
	r := &failingReader{data: strings.NewReader(strings.Repeat("x", 5<<20))}
	_, err := WriteRawFromStream(context.Background(), r, filepath.Join(t.TempDir(), "out"))
	if err == nil || !errors.Is(err, io.EOF) {
		t.Fatalf("error %v, want the decoder's wrapped EOF", err)
	}
}

// vhdFooter builds a fixed-VHD footer for dataLen bytes of data.
func vhdFooter(dataLen int64) []byte {
	f := make([]byte, 512)
	copy(f, "conectix")
	binary.BigEndian.PutUint64(f[48:], uint64(dataLen))
	binary.BigEndian.PutUint32(f[60:], 2)
	return f
}

func TestStreamVHDFooterAcrossChunks(t *testing.T) {
	const chunk = 64 << 10
	for _, dataLen := range []int64{512, chunk - 512, chunk - 100, chunk, chunk + 100, 2*chunk - 1, 3 * chunk} {
		for _, footer := range []bool{true, false} {
			data := bytes.Repeat([]byte{0, 0, 0, 0, 'v', 'h', 'd', 1}, int(dataLen/8)+1)[:dataLen]
			in := data
			if footer {
				in = append(bytes.Clone(data), vhdFooter(dataLen)...)
			}
			out := filepath.Join(t.TempDir(), "out")
			res, err := WriteRawFromStream(context.Background(), bytes.NewReader(in), out, withChunkSize(chunk), WithWorkers(3))
			if err != nil {
				t.Fatalf("%d bytes, footer %v: %v", dataLen, footer, err)
			}
			want, wantFormat := in, FormatRaw
			if footer {
				want, wantFormat = data, FormatVHD
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) || res.Format != wantFormat || res.VirtualSize != int64(len(want)) {
				t.Errorf("%d bytes, footer %v: got %d bytes as %q (size %d), want %d bytes as %q",
					dataLen, footer, len(got), res.Format, res.VirtualSize, len(want), wantFormat)
			}
		}
	}
}
