package convert

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

func TestWriteQcow2(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	big, odd := filepath.Join(dir, "big.raw"), filepath.Join(dir, "odd.raw")
	writePattern(t, big, testSize)
	writePattern(t, odd, 8<<20+3*512) // ends inside a cluster
	tests := []struct {
		name string
		src  string
		opts []Option
	}{
		{"plain", big, nil},
		{"zlib", big, []Option{WithQcow2Compression(QcowZlib)}},
		{"zstd", big, []Option{WithQcow2Compression(QcowZstd)}},
		{"zlib 4K clusters odd size", odd, []Option{WithQcow2Compression(QcowZlib), WithQcow2ClusterBits(12)}},
		{"plain 512 clusters odd size", odd, []Option{WithQcow2ClusterBits(9)}},
		{"zstd 2M clusters one worker", odd, []Option{WithQcow2Compression(QcowZstd), WithQcow2ClusterBits(21), WithWorkers(1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, size := openFile(t, tc.src)
			img, _, err := Open(f, size)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.qcow2")
			if _, err := WriteQcow2(context.Background(), img, out, tc.opts...); err != nil {
				t.Fatalf("WriteQcow2: %v", err)
			}
			check, err := exec.Command("qemu-img", "check", "-f", "qcow2", out).CombinedOutput()
			if err != nil || !strings.Contains(string(check), "No errors were found") {
				t.Fatalf("qemu-img check: %v\n%s", err, check)
			}
			sameFiles(t, tc.src, oracle(t, out, "qcow2"))
			g, gsize := openFile(t, out)
			back, _, err := Open(g, gsize)
			if err != nil {
				t.Fatal(err)
			}
			raw := filepath.Join(t.TempDir(), "back.raw")
			if _, err := WriteRaw(context.Background(), back, raw); err != nil {
				t.Fatal(err)
			}
			sameFiles(t, tc.src, raw)
		})
	}
}
