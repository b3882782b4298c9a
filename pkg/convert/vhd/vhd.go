package vhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf16"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/blockmap"
)

// Type is the image type Image reports (qemu calls VHD "vpc").
const Type = image.Type("vhd")

// ErrUnsupported marks a well-formed VHD this package refuses to read (differencing disks,
// unknown disk types, too large).
var ErrUnsupported = errors.New("unsupported VHD")

const (
	footerSize     = 512
	dynHeaderSize  = 1024
	sectorSize     = 512
	cookieFooter   = "conectix"
	cookieDynamic  = "cxsparse"
	diskFixed      = 2
	diskDynamic    = 3
	diskDiff       = 4
	unallocated    = 0xffffffff
	maxBlockSize   = 256 << 20
	checksumOffset = 64
)

// Probe reports whether header (the first bytes of a file) starts with the footer copy of a
// dynamic or differencing VHD. Fixed VHDs carry their footer only at the end: see ProbeFooter.
func Probe(header []byte) bool { return bytes.HasPrefix(header, []byte(cookieFooter)) }

// ProbeFooter reports whether tail (the last 512 bytes of a file) is a VHD footer.
func ProbeFooter(tail []byte) bool {
	return len(tail) == footerSize && bytes.HasPrefix(tail, []byte(cookieFooter))
}

// footer holds the fields of the 512-byte big-endian VHD footer this package uses.
type footer struct {
	dataOffset  uint64
	currentSize uint64
	diskType    uint32
}

func parseFooter(b []byte) (footer, error) {
	be := binary.BigEndian
	if got, want := be.Uint32(b[checksumOffset:]), checksum(b, checksumOffset); got != want {
		return footer{}, fmt.Errorf("vhd: footer checksum %#x, computed %#x", got, want)
	}
	return footer{dataOffset: be.Uint64(b[16:]), currentSize: be.Uint64(b[48:]), diskType: be.Uint32(b[60:])}, nil
}

// checksum is the ones' complement of the byte sum of b, skipping the 4-byte field at skip.
func checksum(b []byte, skip int) uint32 {
	var s uint32
	for i, c := range b {
		if i < skip || i >= skip+4 {
			s += uint32(c)
		}
	}
	return ^s
}

// Image is an opened fixed or dynamic VHD; it implements image.Image and is safe for concurrent use.
type Image struct {
	ra          io.ReaderAt
	fileSize    int64
	size        int64
	fixed       bool
	blockSize   int64
	bitmapBytes int64
	bat         []uint32 // sector offset of each block, unallocated if 0xffffffff
	m           blockmap.Map
}

var _ image.Image = (*Image)(nil)

// Open reads the footer (and for dynamic disks the header and block allocation table) of a VHD
// of size bytes. Differencing disks and other refusals wrap ErrUnsupported; files without a VHD
// footer wrap image.ErrWrongType.
func Open(ra io.ReaderAt, size int64, opts ...Option) (*Image, error) {
	c := newConfig(opts)
	f, atEnd, err := readFooter(ra, size)
	if err != nil {
		return nil, err
	}
	return open(ra, size, f, atEnd, c)
}

// streamSize stands for the unknown length of a stream: the tables' bounds checks pass, and a
// block past the stream's real end fails when it is read.
const streamSize = math.MaxInt64 / 4

// OpenStream opens a dynamic VHD from a reader that is read forward from the start of the file,
// such as pkg/convert/internal/forward's: the footer's copy at offset 0 stands in for the footer
// at the end, whose offset a stream does not know. A fixed disk keeps its only footer at its end
// and is refused (wrapping image.ErrWrongType); stream it as raw data instead.
func OpenStream(ra io.ReaderAt, opts ...Option) (*Image, error) {
	b := make([]byte, footerSize)
	if _, err := ra.ReadAt(b, 0); err != nil {
		return nil, fmt.Errorf("vhd: read the footer copy at offset 0: %w", err)
	}
	if !bytes.HasPrefix(b, []byte(cookieFooter)) {
		return nil, fmt.Errorf("vhd: no %q footer copy at offset 0: %w", cookieFooter, image.ErrWrongType)
	}
	f, err := parseFooter(b)
	if err != nil {
		return nil, err
	}
	if f.diskType == diskFixed {
		return nil, fmt.Errorf("vhd: a fixed disk has no footer copy at its start: %w", image.ErrWrongType)
	}
	return open(ra, streamSize, f, false, newConfig(opts))
}

// InFileOrder returns nil when reading the disk in order reads the file forward from offset from
// (no stored block before from or before the block preceding it), and otherwise names the block.
func (img *Image) InFileOrder(from int64) error { return img.m.InFileOrder(from) }

func open(ra io.ReaderAt, size int64, f footer, atEnd bool, c config) (*Image, error) {
	if f.currentSize > uint64(c.maxSize) {
		return nil, c.checkSize(int64(min(f.currentSize, 1<<62)))
	}
	img := &Image{ra: ra, fileSize: size, size: int64(f.currentSize)}
	img.m = blockmap.Map{Format: "vhd", Unit: "block", RA: ra, Size: img.size, Locate: img.locate}
	switch f.diskType {
	case diskFixed:
		if !atEnd || img.size > size-footerSize {
			return nil, fmt.Errorf("vhd: fixed disk of %d bytes truncated to a %d-byte file", img.size, size)
		}
		img.fixed = true
		return img, nil
	case diskDynamic, diskDiff:
		return img, img.openDynamic(f, c)
	default:
		return nil, fmt.Errorf("vhd: disk type %d: %w", f.diskType, ErrUnsupported)
	}
}

// readFooter returns the footer at the end of the file, or else the copy at its start.
func readFooter(ra io.ReaderAt, size int64) (footer, bool, error) {
	if size < footerSize {
		return footer{}, false, fmt.Errorf("vhd: file of %d bytes is too small for a footer: %w", size, image.ErrWrongType)
	}
	b := make([]byte, footerSize)
	for _, off := range []int64{size - footerSize, 0} {
		if _, err := ra.ReadAt(b, off); err != nil {
			return footer{}, false, fmt.Errorf("vhd: read footer at offset %d: %w", off, err)
		}
		if bytes.HasPrefix(b, []byte(cookieFooter)) {
			f, err := parseFooter(b)
			return f, off != 0 || size == footerSize, err
		}
	}
	return footer{}, false, fmt.Errorf("vhd: no %q footer: %w", cookieFooter, image.ErrWrongType)
}

func (img *Image) openDynamic(f footer, c config) error {
	if f.dataOffset > uint64(img.fileSize-dynHeaderSize) {
		return fmt.Errorf("vhd: dynamic header at offset %d lies past end of file", f.dataOffset)
	}
	h := make([]byte, dynHeaderSize)
	if _, err := img.ra.ReadAt(h, int64(f.dataOffset)); err != nil {
		return fmt.Errorf("vhd: read dynamic header: %w", err)
	}
	be := binary.BigEndian
	if !bytes.HasPrefix(h, []byte(cookieDynamic)) {
		return fmt.Errorf("vhd: no %q dynamic header at offset %d", cookieDynamic, f.dataOffset)
	}
	if got, want := be.Uint32(h[36:]), checksum(h, 36); got != want {
		return fmt.Errorf("vhd: dynamic header checksum %#x, computed %#x", got, want)
	}
	if f.diskType == diskDiff {
		return fmt.Errorf("vhd: differencing disk needs its parent (backing file) %q; convert the parent chain to a single image first: %w",
			parentName(h[64:576]), ErrUnsupported)
	}
	tableOffset, entries, blockSize := be.Uint64(h[16:]), uint64(be.Uint32(h[28:])), uint64(be.Uint32(h[32:]))
	if blockSize < sectorSize || blockSize > maxBlockSize || blockSize&(blockSize-1) != 0 {
		return fmt.Errorf("vhd: block size %d is not a power of two from 512 bytes to 256 MiB", blockSize)
	}
	img.blockSize = int64(blockSize)
	img.bitmapBytes = (int64(blockSize)/sectorSize/8 + sectorSize - 1) / sectorSize * sectorSize
	n := (f.currentSize + blockSize - 1) / blockSize
	if n > entries {
		return fmt.Errorf("vhd: %d table entries of %d-byte blocks cannot hold %d bytes", entries, blockSize, f.currentSize)
	}
	if n*4 > uint64(c.maxTableBytes) {
		return fmt.Errorf("vhd: block allocation table of %d bytes exceeds the table limit of %d bytes: %w", n*4, c.maxTableBytes, ErrUnsupported)
	}
	if tableOffset > uint64(img.fileSize) || n*4 > uint64(img.fileSize)-tableOffset {
		return fmt.Errorf("vhd: block allocation table at offset %d (%d entries) lies past end of file", tableOffset, n)
	}
	raw := make([]byte, n*4)
	if _, err := img.ra.ReadAt(raw, int64(tableOffset)); err != nil {
		return fmt.Errorf("vhd: read block allocation table: %w", err)
	}
	img.bat = make([]uint32, n)
	for i := range img.bat {
		img.bat[i] = be.Uint32(raw[4*i:])
	}
	return nil
}

// parentName decodes the UTF-16BE parent name of a differencing disk's header.
func parentName(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		if c := binary.BigEndian.Uint16(b[i:]); c != 0 {
			u = append(u, c)
		} else {
			break
		}
	}
	return strings.TrimSpace(string(utf16.Decode(u)))
}

// Type returns "vhd".
func (img *Image) Type() image.Type { return Type }

// Size returns the virtual size in bytes: the footer's current size.
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
