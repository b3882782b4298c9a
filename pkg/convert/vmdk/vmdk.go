package vmdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/blockmap"
)

// Type is the image type Image reports.
const Type = image.Type("vmdk")

var errWrongType = image.ErrWrongType

// Image is an opened hosted sparse VMDK extent; it implements image.Image and is safe for
// concurrent ReadAt and Extent calls.
type Image struct {
	ra         io.ReaderAt
	fileSize   int64
	size       int64
	grainBytes int64
	gtEntries  int64
	gd         []uint32 // grain table sector offsets, 0 = unallocated
	compressed bool
	zeroed     bool // grain table entry 1 means a zero grain
	gts        *gtCache
	grains     *grainCache
	m          blockmap.Map
}

var _ image.Image = (*Image)(nil)

// Open reads the header, descriptor and grain directory of a hosted sparse VMDK of size bytes.
// Descriptor files and multi-extent images fail with ErrExternalExtent; other refusals wrap
// ErrUnsupported and files of another format wrap image.ErrWrongType.
func Open(ra io.ReaderAt, size int64, opts ...Option) (*Image, error) {
	c := newConfig(opts)
	b := make([]byte, sectorSize)
	n, err := ra.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return nil, fmt.Errorf("vmdk: read header: %w", err)
	}
	h, err := parseHeader(b[:n])
	if err != nil {
		return nil, err
	}
	if h.gdOffset == gdAtEnd {
		if h, err = readFooter(ra, size); err != nil {
			return nil, err
		}
	}
	if err := h.validate(c); err != nil {
		return nil, err
	}
	if err := readDescriptor(ra, size, h); err != nil {
		return nil, err
	}
	img := &Image{
		ra: ra, fileSize: size, size: h.size(), grainBytes: h.grainBytes(), gtEntries: int64(h.gtEntries),
		compressed: h.flags&flagCompressed != 0, zeroed: h.flags&flagZeroedGrain != 0,
	}
	if err := img.loadGD(h, c); err != nil {
		return nil, err
	}
	img.gts = newGTCache(img.gtEntries)
	img.grains = newGrainCache(img.grainBytes)
	img.m = blockmap.Map{Format: "vmdk", Unit: "grain", RA: ra, Size: img.size, Locate: img.locate, Decode: img.readCompressed}
	return img, nil
}

// readFooter returns the footer header of a streamOptimized image written with the grain
// directory at the end (footer marker, footer, end-of-stream marker in the last 1536 bytes).
func readFooter(ra io.ReaderAt, size int64) (header, error) {
	if size < 4*sectorSize {
		return header{}, fmt.Errorf("vmdk: grain directory at end but file of %d bytes has no footer", size)
	}
	b := make([]byte, 2*sectorSize)
	if _, err := ra.ReadAt(b, size-3*sectorSize); err != nil {
		return header{}, fmt.Errorf("vmdk: read footer: %w", err)
	}
	if binary.LittleEndian.Uint32(b[12:]) != markerFooter {
		return header{}, errors.New("vmdk: grain directory at end but no footer marker before the last two sectors")
	}
	h, err := parseHeader(b[sectorSize:])
	if err != nil {
		return header{}, fmt.Errorf("vmdk: footer: %w", err)
	}
	if h.gdOffset == gdAtEnd {
		return header{}, errors.New("vmdk: footer does not locate the grain directory")
	}
	return h, nil
}

func (img *Image) loadGD(h header, c config) error {
	if h.gtEntries == 0 || h.gtEntries > maxGTEntries {
		return fmt.Errorf("vmdk: %d entries per grain table, want 1 to %d", h.gtEntries, maxGTEntries)
	}
	span := uint64(img.grainBytes) * uint64(h.gtEntries)
	n := (uint64(img.size) + span - 1) / span
	if n*4 > uint64(c.maxTableBytes) {
		return fmt.Errorf("vmdk: grain directory of %d bytes exceeds the table limit of %d bytes: %w", n*4, c.maxTableBytes, ErrUnsupported)
	}
	gdOffset := h.gdOffset
	if gdOffset == 0 && h.flags&flagRedundantGT != 0 {
		gdOffset = h.rgdOffset
	}
	if gdOffset == 0 && n > 0 {
		return errors.New("vmdk: header has no grain directory")
	}
	if gdOffset > uint64(img.fileSize)/sectorSize || gdOffset*sectorSize+n*4 > uint64(img.fileSize) {
		return fmt.Errorf("vmdk: grain directory at sector %d (%d entries) lies past end of file", gdOffset, n)
	}
	raw := make([]byte, n*4)
	if _, err := img.ra.ReadAt(raw, int64(gdOffset)*sectorSize); err != nil {
		return fmt.Errorf("vmdk: read grain directory: %w", err)
	}
	img.gd = make([]uint32, n)
	for i := range img.gd {
		img.gd[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return nil
}

// Type returns "vmdk".
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
