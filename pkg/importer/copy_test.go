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
