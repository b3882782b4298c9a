package vhdx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/blockmap"
)

// Type is the image type Image reports.
const Type = image.Type("vhdx")

// Image is an opened VHDX; it implements image.Image and is safe for concurrent use.
type Image struct {
	ra         io.ReaderAt
	fileSize   int64
	size       int64
	blockSize  int64
	chunkRatio int64    // payload blocks per sector bitmap block
	bat        []uint64 // interleaved payload and sector bitmap entries
	holes      HoleFunc // nil: present blocks are data throughout
	m          blockmap.Map
}

var _ image.Image = (*Image)(nil)

// Open reads the headers, region table, metadata and BAT of a VHDX of size bytes. Differencing
// disks, logs needing replay and other refusals wrap ErrUnsupported; files of another format
// wrap image.ErrWrongType.
func Open(ra io.ReaderAt, size int64, opts ...Option) (*Image, error) {
	c := newConfig(opts)
	if err := wrongType(ra, size); err != nil {
		return nil, err
	}
	h, err := readHeader(ra)
	if err != nil {
		return nil, err
	}
	if err := checkLog(ra, size, h); err != nil {
		return nil, err
	}
	batRegion, metaRegion, err := readRegions(ra, size)
	if err != nil {
		return nil, err
	}
	m, err := readMetadata(ra, metaRegion)
	if err != nil {
		return nil, err
	}
	if err := c.checkSize(m.virtualSize); err != nil {
		return nil, err
	}
	img := &Image{ra: ra, fileSize: size, size: m.virtualSize, blockSize: m.blockSize,
		chunkRatio: (1 << 23) * m.sectorSize / m.blockSize, holes: c.holes}
	img.m = blockmap.Map{Format: "vhdx", Unit: "block", RA: ra, Size: img.size, Locate: img.locate, Refine: img.refine}
	return img, img.loadBAT(batRegion, c)
}

// streamSize stands for the unknown length of a stream: the regions' bounds checks pass, and a
// block past the stream's real end fails when it is read.
const streamSize = math.MaxInt64 / 4

// OpenStream opens a VHDX from a reader that is read forward from the start of the file, such as
// pkg/convert/internal/forward's, whose length is not known. WithHoles does not apply.
func OpenStream(ra io.ReaderAt, opts ...Option) (*Image, error) {
	img, err := Open(ra, streamSize, opts...)
	if err == nil {
		img.holes = nil
	}
	return img, err
}

// InFileOrder returns nil when reading the disk in order reads the file forward from offset from
// (no present block before from or before the block preceding it), and otherwise names the block.
func (img *Image) InFileOrder(from int64) error { return img.m.InFileOrder(from) }

func (img *Image) loadBAT(r region, c config) error {
	blocks := (img.size + img.blockSize - 1) / img.blockSize
	n := blocks + (blocks-1)/img.chunkRatio
	if n*8 > r.length {
		return fmt.Errorf("vhdx: BAT region of %d bytes cannot hold %d entries", r.length, n)
	}
	if n*8 > c.maxTableBytes {
		return fmt.Errorf("vhdx: BAT of %d bytes exceeds the table limit of %d bytes: %w", n*8, c.maxTableBytes, ErrUnsupported)
	}
	raw := make([]byte, n*8)
	if _, err := img.ra.ReadAt(raw, r.offset); err != nil {
		return fmt.Errorf("vhdx: read BAT: %w", err)
	}
	img.bat = make([]uint64, n)
	for i := range img.bat {
		img.bat[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return nil
}

// Type returns "vhdx".
func (img *Image) Type() image.Type { return Type }

// Size returns the virtual size in bytes.
func (img *Image) Size() int64 { return img.size }

// Readable returns nil: Open refuses every image this package cannot read.
func (img *Image) Readable() error { return nil }

// Close closes the underlying reader if it is an io.Closer.
func (img *Image) Close() error {
	if c, ok := img.ra.(io.Closer); ok {
		return c.Close()
	}
	return nil
}
