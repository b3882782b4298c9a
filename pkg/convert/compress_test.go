package convert

import (
	"io"
	"os"
	"os/exec"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// compressFile wraps src in c and returns the new file's path (src itself for CompressionNone).
func compressFile(t testing.TB, src string, c Compression) string {
	t.Helper()
	if c == CompressionNone {
		return src
	}
	if c == CompressionBzip2 {
		if _, err := exec.LookPath("bzip2"); err != nil {
			t.Skip("bzip2 not installed")
		}
		if out, err := exec.Command("bzip2", "-k", "-1", src).CombinedOutput(); err != nil {
			t.Fatalf("bzip2: %v\n%s", err, out)
		}
		return src + ".bz2"
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := src + "." + string(c)
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	var w io.WriteCloser
	switch c {
	case CompressionGzip:
		w, err = gzip.NewWriterLevel(out, gzip.BestSpeed)
	case CompressionZstd:
		w, err = zstd.NewWriter(out, zstd.WithEncoderLevel(zstd.SpeedFastest))
	case CompressionXz:
		w, err = xz.NewWriter(out)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, in); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}
