package source

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// addSeeds adds every file in testdata/dir to the corpus.
func addSeeds(f *testing.F, dir string) {
	entries, err := os.ReadDir(filepath.Join("testdata", dir))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata", dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzFindDisk feeds arbitrary (possibly compressed) containerDisk layers to the tar walker.
func FuzzFindDisk(f *testing.F) {
	addSeeds(f, "layers")
	f.Fuzz(func(t *testing.T, layer []byte) {
		disk, closeFn, err := FindDisk(bytes.NewReader(layer))
		if err != nil {
			if !IsFatal(err) {
				t.Fatalf("bad layer gave a retryable error: %v", err)
			}
			return
		}
		defer closeFn()
		io.Copy(io.Discard, io.LimitReader(disk.Reader, min(disk.Size, 64<<20)))
	})
}

// FuzzOCIArchive feeds arbitrary archives to the OCI layout reader.
func FuzzOCIArchive(f *testing.F) {
	addSeeds(f, "archives")
	f.Fuzz(func(t *testing.T, archive []byte) {
		im, err := openOCI(bytes.NewReader(archive), int64(len(archive)))
		if err != nil {
			return
		}
		defer im.Close()
		rc, err := im.Stream(t.Context())
		if err != nil {
			return
		}
		io.Copy(io.Discard, io.LimitReader(rc, 64<<20)) // the importer bounds the size by the target
		rc.Close()
	})
}

// FuzzContentRange checks the Content-Range parser never panics and never invents a size.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1234", "bytes 0-0/*", "", "bytes 1-2/-5", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := totalFromContentRange(s); n < -1 {
			t.Fatalf("total %d from %q", n, s)
		}
	})
}
