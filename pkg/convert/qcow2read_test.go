package convert

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// TestCompressedQcow2Reads reads compressed qcow2 images from qemu-img in pieces that start and
// end inside clusters (the zlib reader then decodes a cluster in several Reads) and whole
// aligned clusters, comparing with qemu-img's raw output.
func TestCompressedQcow2Reads(t *testing.T) {
	formattest.NeedQemuImg(t)
	pattern := filepath.Join(t.TempDir(), "pattern.raw")
	writePattern(t, pattern, 4<<20)
	for _, tc := range []struct {
		name  string
		args  []string
		start int64
		piece int
	}{
		{"zlib unaligned", []string{"-c"}, 777, 100003},
		{"zlib small pieces", []string{"-c"}, 3, 5000},
		{"zlib aligned clusters", []string{"-c"}, 0, 64 << 10},
		{"zlib 4K clusters", []string{"-c", "-o", "cluster_size=4k"}, 1, 70001},
		{"zstd unaligned", []string{"-c", "-o", "compression_type=zstd"}, 777, 100003},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src.qcow2")
			formattest.QemuImg(t, append(append([]string{"convert", "-O", "qcow2"}, tc.args...), pattern, src)...)
			want := formattest.ReadFile(t, oracle(t, src, "qcow2"))
			f, size := openFile(t, src)
			img, _, err := Open(f, size)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			buf := make([]byte, tc.piece)
			for off := tc.start; off < int64(len(want)); off += int64(tc.piece) {
				n, err := img.ReadAt(buf, off)
				end := min(off+int64(tc.piece), int64(len(want)))
				if int64(n) != end-off || (err != nil && end != int64(len(want))) {
					t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", tc.piece, off, n, err)
				}
				if !bytes.Equal(buf[:n], want[off:end]) {
					t.Fatalf("%d bytes at %d differ from qemu-img", n, off)
				}
			}
		})
	}
}
