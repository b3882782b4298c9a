package convert

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// TestQcow2StreamsWithoutScratch streams the qcow2 layouts of qemu-img and of WriteQcow2, gzip-wrapped,
// without a scratch directory: output identical to qemu-img's, no byte held in scratch.
func TestQcow2StreamsWithoutScratch(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "src.raw")
	writePattern(t, raw, testSize+12345*512)
	img := func(name string, write func(string)) string {
		p := filepath.Join(dir, name)
		write(p)
		return p
	}
	ours := func(c QcowCompression) func(string) {
		return func(p string) {
			f, size := openFile(t, raw)
			src, _, err := Open(f, size)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := WriteQcow2(context.Background(), src, p, WithQcow2Compression(c)); err != nil {
				t.Fatal(err)
			}
		}
	}
	qemu := func(args ...string) func(string) {
		return func(p string) {
			formattest.QemuImg(t, append(append([]string{"convert", "-f", "raw", "-O", "qcow2"}, args...), raw, p)...)
		}
	}
	images := map[string]string{
		"qemu-img":         img("q.qcow2", qemu()),
		"qemu-img -c":      img("qc.qcow2", qemu("-c")),
		"qemu-img -c zstd": img("qz.qcow2", qemu("-c", "-o", "compression_type=zstd")),
		"WriteQcow2":       img("o.qcow2", ours(QcowUncompressed)),
		"WriteQcow2 zlib":  img("oc.qcow2", ours(QcowZlib)),
		"WriteQcow2 zstd":  img("oz.qcow2", ours(QcowZstd)),
	}
	for name, p := range images {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.raw")
			res, err := WriteRawFromStream(context.Background(), bytes.NewReader(gz(t, formattest.ReadFile(t, p))), out)
			if err != nil {
				t.Fatal(err)
			}
			sameFiles(t, raw, out)
			if res.ScratchWritten != 0 || res.HeldPeak > 1<<20 || res.Format != FormatQcow2 || res.Compression != CompressionGzip {
				t.Fatalf("result %+v: want qcow2 in gzip, nothing in scratch, at most 1 MiB held", res)
			}
		})
	}
	if left, _ := os.ReadDir(dir); len(left) != len(images)+1 {
		t.Fatalf("%d files left in %s", len(left), dir)
	}
}
