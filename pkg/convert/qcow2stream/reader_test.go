package qcow2stream

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// TestQemuImgLayouts streams qcow2 images qemu-img writes and compares them with the raw source:
// every layout qemu-img convert makes streams without a scratch file.
func TestQemuImgLayouts(t *testing.T) {
	formattest.NeedQemuImg(t)
	dense := filepath.Join(t.TempDir(), "dense.raw")
	writePattern(t, dense, 24<<20+3<<10, 0, 7) // not cluster aligned
	spread := filepath.Join(t.TempDir(), "spread.raw")
	writePattern(t, spread, 1<<30+5<<20, 24<<20, 8) // three L2 tables at 64 KiB clusters
	tests := []struct {
		name string
		raw  string
		args []string
	}{
		{"uncompressed", dense, nil},
		{"zlib", dense, []string{"-c"}},
		{"zstd", dense, []string{"-c", "-o", "compression_type=zstd"}},
		{"v2 compat 0.10", dense, []string{"-c", "-o", "compat=0.10"}},
		{"4k clusters, many L2 tables", dense, []string{"-c", "-o", "cluster_size=4096"}},
		{"2M clusters", dense, []string{"-o", "cluster_size=2M"}},
		{"512 byte clusters", dense, []string{"-c", "-o", "cluster_size=512"}},
		{"extended L2", dense, []string{"-o", "extended_l2=on"}},
		{"extended L2, zlib", dense, []string{"-c", "-o", "extended_l2=on"}},
		{"zlib, three L2 tables", spread, []string{"-c"}},
		{"uncompressed, three L2 tables", spread, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := os.Open(tc.raw)
			if err != nil {
				t.Fatal(err)
			}
			defer want.Close()
			st, err := decodeAll(t, convertTo(t, tc.raw, tc.args...), want)
			if err != nil {
				t.Fatal(err)
			}
			if st.ScratchWritten != 0 || st.HeldPeak > 4<<20 {
				t.Fatalf("held %d bytes at most, wrote %d to scratch; want < 4 MiB and 0", st.HeldPeak, st.ScratchWritten)
			}
		})
	}
}
