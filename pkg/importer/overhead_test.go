package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/goldimage/goldimage/pkg/convert"
)

func TestUsableSpace(t *testing.T) {
	tests := []struct {
		free     int64
		overhead float64
		want     int64
	}{
		{16 << 20, 0.055, 15854080}, // 0.945 * 16 MiB = 15854469.12, down to a sector
		{16 << 20, 0, 16 << 20},
		{1000, 0, 512},
		{10 << 30, 0.5, 5 << 30},
		{0, 0.055, 0},
	}
	for _, tt := range tests {
		if got := usableSpace(tt.free, tt.overhead); got != tt.want {
			t.Errorf("usableSpace(%d, %v) = %d, want %d", tt.free, tt.overhead, got, tt.want)
		}
	}
}

// smallFS mounts a size-byte tmpfs, a real filesystem with little free space; it needs root.
func smallFS(t *testing.T, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("mount a %d-byte tmpfs (needs root): %v", size, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || int64(st.Bavail)*st.Bsize != size {
		t.Fatalf("tmpfs of %d bytes has %d free: %v", size, int64(st.Bavail)*st.Bsize, err)
	}
	return dir
}

// overheadSources writes a 1 MiB raw disk, a 16 MiB raw disk (plain and gzipped, which is streamed) and a
// qcow2 of 16 MiB virtual size holding 1 MiB.
func overheadSources(t *testing.T) (small, big, qcow string) {
	t.Helper()
	dir := t.TempDir()
	data := make([]byte, 1<<20)
	rand.Read(data)
	small, big, qcow = filepath.Join(dir, "small.raw"), filepath.Join(dir, "big.raw"), filepath.Join(dir, "big.qcow2")
	bigData := make([]byte, 16<<20)
	rand.Read(bigData)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bigData)
	zw.Close()
	for path, b := range map[string][]byte{small: data, big: bigData, big + ".gz": gz.Bytes()} {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sparse := filepath.Join(dir, "sparse.raw")
	if err := os.WriteFile(sparse, data, 0o644); err != nil || os.Truncate(sparse, 16<<20) != nil {
		t.Fatal("write sparse raw disk")
	}
	f, err := os.Open(sparse)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := convert.Open(f, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := convert.WriteQcow2(context.Background(), img, qcow); err != nil {
		t.Fatal(err)
	}
	return small, big, qcow
}

func TestFilesystemOverhead(t *testing.T) {
	const fsSize, usable = 16 << 20, 15854080 // usable: 94.5% of the free 16 MiB, in whole sectors
	small, big, qcow := overheadSources(t)
	tests := []struct {
		name     string
		source   string
		size     int64
		overhead float64
		want     int64  // disk size
		wantErr  string // "" for success
	}{
		{"grows to the usable space, not the requested size", "file://" + small, 64 << 20, 0.055, usable, ""},
		{"without overhead grows to the free space", "file://" + small, 64 << 20, 0, fsSize, ""},
		{"requested size below the usable space", "file://" + small, 8 << 20, 0.055, 8 << 20, ""},
		{"qcow2 larger than the usable space", "file://" + qcow, 0, 0.055, 0,
			"needs at least 16.0 MiB (virtual size 16777216 bytes) but DEST has only 15.1 MiB usable (16.0 MiB free less 5.5% filesystem overhead)"},
		{"qcow2 fits without overhead", "file://" + qcow, 0, 0, fsSize, ""},
		{"raw file larger than the usable space", "file://" + big, 0, 0.055, 0, "needs at least 16.0 MiB (virtual size 16777216 bytes) but DEST has only 15.1 MiB usable"},
		{"raw stream larger than the usable space", "file://" + big + ".gz", 0, 0.055, 0, "needs at least 16.0 MiB but DEST has only 15.1 MiB usable"},
		{"blank disk of the usable space", "blank:", 64 << 20, 0.055, usable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(smallFS(t, fsSize), "disk.img")
			term, err := Run(context.Background(), Config{Source: tt.source, Dest: dest, Size: tt.size, FilesystemOverhead: tt.overhead})
			if tt.wantErr != "" {
				want := strings.ReplaceAll(tt.wantErr, "DEST", dest)
				if err == nil || !strings.Contains(term.Message, want) || ExitCode(err) != 2 {
					t.Fatalf("Run = %v (exit %d), want a fatal error containing %q", err, ExitCode(err), want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(dest)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != tt.want || term.VirtualSize != tt.want {
				t.Fatalf("disk of %d bytes (reported %d), want %d", st.Size(), term.VirtualSize, tt.want)
			}
		})
	}
}

func TestConfigRejectsOverhead(t *testing.T) {
	for _, o := range []float64{-0.1, 1, 2} {
		_, err := Run(context.Background(), Config{Source: "blank:", Size: 1 << 20, Dest: filepath.Join(t.TempDir(), "d"), FilesystemOverhead: o})
		if err == nil || ExitCode(err) != 3 || !strings.Contains(err.Error(), "not a fraction in [0, 1)") {
			t.Errorf("overhead %v: %v (exit %d), want a usage error", o, err, ExitCode(err))
		}
	}
}
