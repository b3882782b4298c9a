package blockmap

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/lima-vm/go-qcow2reader/image"
)

const (
	blockSize  = 4
	zero       = -1 // a block that reads as zeros
	compressed = -2 // a block that Decode fills with its index + 'A'
)

// countingReader counts ReadAt calls on a file.
type countingReader struct {
	ra    io.ReaderAt
	calls int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.calls++
	return c.ra.ReadAt(p, off)
}

// newMap maps block i of a disk of size bytes to file block blocks[i] (or zero or compressed) of
// the file "abcdefghijklmnopqrstuvwxyz"; holes lists file blocks that are holes of the source.
func newMap(size int64, blocks []int64, holes ...int64) (*Map, *countingReader) {
	ra := &countingReader{ra: strings.NewReader("abcdefghijklmnopqrstuvwxyz")}
	m := &Map{Format: "fmt", Unit: "block", RA: ra, Size: size}
	m.Locate = func(off int64) (Run, error) {
		b, within := off/blockSize, off%blockSize
		r := Run{Length: min(blockSize-within, size-off), Block: b}
		switch e := blocks[b]; e {
		case zero:
			r.Zero = true
		case compressed:
			r.Compressed = true
		default:
			r.Phys = e*blockSize + within
		}
		return r, nil
	}
	m.Decode = func(dst []byte, r Run, off int64) error {
		copy(dst, bytes.Repeat([]byte{byte('A' + r.Block)}, len(dst)))
		return nil
	}
	m.Refine = func(r Run) Run {
		for _, h := range holes {
			if r.Phys/blockSize == h {
				r.Hole = true
			}
		}
		return r
	}
	return m, ra
}

func TestReadAt(t *testing.T) {
	tests := []struct {
		name      string
		size      int64
		blocks    []int64
		off       int64
		n         int
		want      string
		wantErr   error
		wantReads int
	}{
		{"contiguous blocks in one read", 12, []int64{1, 2, 3}, 1, 10, "fghijklmno", nil, 1},
		{"zero block splits reads", 12, []int64{0, zero, 1}, 0, 12, "abcd\x00\x00\x00\x00efgh", nil, 2},
		{"blocks out of file order", 8, []int64{2, 1}, 2, 4, "klef", nil, 2},
		{"compressed block decoded", 12, []int64{0, compressed, 1}, 2, 8, "cdBBBBef", nil, 2},
		{"all zero reads nothing", 8, []int64{zero, zero}, 0, 8, "\x00\x00\x00\x00\x00\x00\x00\x00", nil, 0},
		{"short at end of disk", 6, []int64{0, 1}, 4, 4, "ef", io.EOF, 1},
		{"past end of disk", 6, []int64{0, 1}, 6, 4, "", io.EOF, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ra := newMap(tt.size, tt.blocks)
			p := bytes.Repeat([]byte{'?'}, tt.n)
			n, err := m.ReadAt(p, tt.off)
			if err != tt.wantErr || string(p[:n]) != tt.want {
				t.Fatalf("ReadAt = %q, %v; want %q, %v", p[:n], err, tt.want, tt.wantErr)
			}
			if ra.calls != tt.wantReads {
				t.Errorf("%d reads of the file, want %d", ra.calls, tt.wantReads)
			}
		})
	}
}

func TestReadAtErrors(t *testing.T) {
	m, _ := newMap(40, make([]int64, 10))
	if _, err := m.ReadAt(make([]byte, 1), -1); err == nil || err.Error() != "fmt: negative offset -1" {
		t.Errorf("negative offset: %v", err)
	}
	m.Locate = func(off int64) (Run, error) { return Run{Phys: 30, Length: 4}, nil }
	_, err := m.ReadAt(make([]byte, 4), 0)
	if !errors.Is(err, io.EOF) || !strings.HasPrefix(err.Error(), "fmt: read block data at offset 30: ") {
		t.Errorf("read past end of file: %v", err)
	}
}

func TestExtent(t *testing.T) {
	blocks := []int64{0, 1, zero, zero, 2, 3, compressed, compressed, 4}
	tests := []struct {
		start, length int64
		want          image.Extent
	}{
		{0, 36, image.Extent{Start: 0, Length: 8, Allocated: true}},
		{2, 36 - 2, image.Extent{Start: 2, Length: 6, Allocated: true}},
		{8, 28, image.Extent{Start: 8, Length: 8, Zero: true}},
		{16, 20, image.Extent{Start: 16, Length: 4, Allocated: true}},
		{20, 16, image.Extent{Start: 20, Length: 4, Allocated: true, Zero: true}}, // a hole of the source
		{24, 12, image.Extent{Start: 24, Length: 8, Allocated: true, Compressed: true}},
		{0, 5, image.Extent{Start: 0, Length: 5, Allocated: true}},
	}
	m, _ := newMap(36, blocks, 3)
	for _, tt := range tests {
		got, err := m.Extent(tt.start, tt.length)
		if err != nil || got != tt.want {
			t.Errorf("Extent(%d, %d) = %+v, %v; want %+v", tt.start, tt.length, got, err, tt.want)
		}
	}
	if _, err := m.Extent(30, 7); err == nil || err.Error() != "fmt: extent [30, +7) out of bounds of virtual size 36" {
		t.Errorf("out of bounds: %v", err)
	}
}

func TestReadAtDoesNotAllocate(t *testing.T) {
	m, _ := newMap(36, []int64{0, 1, zero, 2, 3, 5, 4, zero, 1})
	p := make([]byte, 36)
	if _, err := m.ReadAt(p, 0); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10, func() { _, _ = m.ReadAt(p, 0) }); n != 0 {
		t.Errorf("ReadAt allocates %v times per call", n)
	}
}

func TestInFileOrder(t *testing.T) {
	tests := []struct {
		name   string
		blocks []int64
		from   int64
		want   string // substring of the error; "" for none
	}{
		{"increasing with gaps and zeros", []int64{1, zero, 2, 4, zero}, 4, ""},
		{"all zero", []int64{zero, zero}, 100, ""},
		{"before the tables", []int64{0, 1}, 2, "virtual offset 0 is stored at file offset 0, before offset 2"},
		{"backwards", []int64{1, 3, 2}, 0, "virtual offset 8 is stored at file offset 8, before offset 16"},
		{"repeated", []int64{1, 1}, 0, "virtual offset 4 is stored at file offset 4, before offset 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newMap(int64(len(tt.blocks))*blockSize, tt.blocks)
			err := m.InFileOrder(tt.from)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("InFileOrder(%d) = %v, want %q", tt.from, err, tt.want)
			}
		})
	}
}
