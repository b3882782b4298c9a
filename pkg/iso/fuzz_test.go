package iso

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sparseImage is an ISO whose first 16 sectors (the system area) are zeros, followed by data and
// then zeros up to a fixed length, so that fuzz inputs hold only the metadata sectors.
type sparseImage struct {
	data []byte
	size int64
}

const systemArea = firstDescriptorSector * SectorSize

func newSparseImage(data []byte) *sparseImage {
	return &sparseImage{data: data, size: systemArea + int64(len(data)) + 1<<20}
}

func (s *sparseImage) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= s.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < s.size {
		i := off + int64(n) - systemArea
		switch {
		case i < 0 || i >= int64(len(s.data)):
			p[n] = 0
		default:
			p[n] = s.data[i]
		}
		n++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (s *sparseImage) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > s.size {
		return 0, io.ErrShortWrite
	}
	for i, b := range p {
		if j := off + int64(i) - systemArea; j >= 0 && j < int64(len(s.data)) {
			s.data[j] = b
		}
	}
	return len(p), nil
}

// addSeeds adds the metadata part (past the system area, trailing zeros trimmed) of each testdata image.
func addSeeds(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.iso.gz")
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			f.Fatal(err)
		}
		img, err := io.ReadAll(zr)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(bytes.TrimRight(img[systemArea:], "\x00"))
	}
	f.Add([]byte{})
}

func FuzzReadBootCatalog(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		cat, err := ReadBootCatalog(newSparseImage(data))
		if err == nil {
			_, _ = cat.EFI()
		}
	})
}

func FuzzLookup(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		img := newSparseImage(data)
		if file, err := Lookup(img, WindowsNoPromptImage); err == nil {
			_, _ = FileAt(img, file.LBA)
		}
	})
}

func FuzzReplaceWithWindowsNoPrompt(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		img := newSparseImage(append([]byte(nil), data...))
		p, err := ReplaceWithWindowsNoPrompt(img)
		if err == nil && p.Written > p.Slot {
			t.Fatalf("wrote %d bytes into a %d-byte slot", p.Written, p.Slot)
		}
	})
}

func TestSeedsPatch(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.iso.gz")
	if len(paths) == 0 {
		t.Fatal("no seed images in testdata")
	}
	for _, p := range paths {
		raw, _ := os.ReadFile(p)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		img, _ := io.ReadAll(zr)
		mem := newSparseImage(img[systemArea:])
		patch, err := ReplaceWithWindowsNoPrompt(mem)
		if err != nil || patch.Written != 2048 {
			t.Errorf("%s: patch = %+v, %v; want 2048 bytes written", p, patch, err)
		}
	}
}
