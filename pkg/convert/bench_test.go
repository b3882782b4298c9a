package convert

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/goldimage/goldimage/test/bench/benchfile"
)

// BenchmarkZstdRawStream streams a zstd-compressed raw image (4 GiB virtual, 1 GiB data, as make
// bench's) to a sparse file, next to `zstd -d` from Debian's zstd package doing the same in the
// same run: compare the sub-benchmarks' ns/op. The image is compressed twice: by the zstd command
// at level 3 (its zero runs become RLE blocks) and by klauspost's encoder, as make bench's is. Run
// it with -run '^$' -bench ZstdRawStream -benchtime 3x; preparing the images takes about two minutes.
func BenchmarkZstdRawStream(b *testing.B) {
	if _, err := exec.LookPath("zstd"); err != nil {
		b.Skip("zstd not installed (hack/install-deps.sh)")
	}
	dir := b.TempDir()
	raw, zst := filepath.Join(dir, "disk.raw"), filepath.Join(dir, "disk.raw.zst")
	if err := benchfile.Generate(raw, 4<<30, 1<<30); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-q", "-3", "-o", zst, raw).CombinedOutput(); err != nil {
		b.Fatalf("zstd: %v: %s", err, out)
	}
	lib := filepath.Join(dir, "lib.raw.zst")
	if err := encodeZstd(raw, lib); err != nil {
		b.Fatal(err)
	}
	if err := os.Remove(raw); err != nil {
		b.Fatal(err)
	}
	for _, enc := range []struct{ name, path string }{{"cli", zst}, {"klauspost", lib}} {
		b.Run(enc.name, func(b *testing.B) { benchZstdDecode(b, enc.path, filepath.Join(dir, "out.raw")) })
	}
}

// encodeZstd compresses src as the importer benchmark's .raw.zst: klauspost's encoder at its default level.
func encodeZstd(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	w, err := zstd.NewWriter(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return out.Close()
}

func benchZstdDecode(b *testing.B, zst, out string) {
	b.Run("goldimage", func(b *testing.B) {
		b.SetBytes(4 << 30)
		for range b.N {
			f, err := os.Open(zst)
			if err != nil {
				b.Fatal(err)
			}
			_, err = WriteRawFromStream(context.Background(), f, out, WithSync(false))
			_ = f.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("zstd-d", func(b *testing.B) {
		b.SetBytes(4 << 30)
		for range b.N {
			if out, err := exec.Command("zstd", "-dqf", "--sparse", "-o", out, zst).CombinedOutput(); err != nil {
				b.Fatalf("zstd -d: %v: %s", err, out)
			}
		}
	})
}
