package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// sparseRaw writes a size-byte raw file with data only at offsets (len bytes each), holes elsewhere, and
// drops it from the page cache so a later mincore shows what an import read.
func sparseRaw(t *testing.T, path string, size int64, data map[int64]int) []byte {
	t.Helper()
	want := make([]byte, size)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for off, n := range data {
		rand.Read(want[off : off+int64(n)])
		if _, err := f.WriteAt(want[off:off+int64(n)], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	if cached := residentBytes(t, path); cached > 0 {
		t.Fatalf("could not drop the source from the page cache: %d bytes resident", cached)
	}
	return want
}

func TestSparseRawFileIsReadByExtent(t *testing.T) {
	const size = 256 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "sparse.raw")
	want := sparseRaw(t, src, size, map[int64]int{0: 1 << 20, 100 << 20: 64 << 10, size - 4096: 4096})
	dest := filepath.Join(dir, "disk.img")
	var total int64
	term, err := Run(context.Background(), Config{Source: "file://" + src, Dest: dest, Progress: func(_, all int64) { total = all }})
	if err != nil {
		t.Fatal(err)
	}
	// Reading a hole fills the page cache with zero pages; SEEK_DATA skips the holes.
	if read := residentBytes(t, src); read > 8<<20 {
		t.Errorf("the import read %d bytes of a source holding 1.1 MiB of data in %d; its holes should be skipped", read, size)
	}
	if total != size || term.VirtualSize != size || term.Format != "raw" {
		t.Errorf("progress total %d, termination %+v; want the %d-byte raw size known up front", total, term, size)
	}
	var st syscallStat
	if used := allocated(t, dest, &st); used > 4<<20 {
		t.Errorf("target allocates %d bytes; the holes of the source should stay holes", used)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("target differs from the source (read error %v)", err)
	}
}
