package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestIsZero(t *testing.T) {
	const n = 64<<10*2 + 5 // more than one comparison block, not a multiple of it
	for _, tc := range []struct {
		name    string
		size    int
		nonZero int // index of a non-zero byte, -1 for none
	}{
		{"empty", 0, -1},
		{"one zero byte", 1, -1},
		{"zeros across blocks", n, -1},
		{"first byte", n, 0},
		{"in the first word", n, 7},
		{"first byte of the second block", n, 64 << 10},
		{"last byte", n, n - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.size)
			if tc.nonZero >= 0 {
				b[tc.nonZero] = 0x80
			}
			if got := isZero(b); got != (tc.nonZero < 0) {
				t.Errorf("isZero = %v with a non-zero byte at %d of %d", got, tc.nonZero, tc.size)
			}
		})
	}
}

// TestStreamImportIsSparse imports a gzip-compressed raw disk (a stream, written chunk by chunk)
// whose only data is 4 KiB inside one 1 MiB chunk: the file target must allocate about that, not the chunk.
func TestStreamImportIsSparse(t *testing.T) {
	dir := t.TempDir()
	want := make([]byte, 4<<20)
	rand.Read(want[1<<20+100000 : 1<<20+100000+4096]) // spans two 4 KiB blocks
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(want)
	w.Close()
	src := filepath.Join(dir, "disk.raw.gz")
	if err := os.WriteFile(src, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "disk.img")
	if _, err := Run(context.Background(), Config{Source: "file://" + src, Dest: dest}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("imported %d bytes (%v), want the %d source bytes", len(got), err, len(want))
	}
	var st unix.Stat_t
	if err := unix.Stat(dest, &st); err != nil {
		t.Fatal(err)
	}
	if allocated := st.Blocks * 512; allocated > 64<<10 {
		t.Errorf("the target allocates %d bytes for 8 KiB of data blocks", allocated)
	}
}
