package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrUnsupported marks a well-formed VMDK that this package refuses to read (external extents,
// parent disks, unknown compression, too large).
var ErrUnsupported = errors.New("unsupported VMDK")

// ErrExternalExtent is returned for descriptor files and split or multi-extent images.
var ErrExternalExtent = fmt.Errorf("VMDK descriptor references external extent files; upload the flat extent as raw: %w", ErrUnsupported)

const (
	sectorSize     = 512
	magicSparse    = "KDMV"
	magicCOWD      = "COWD"
	descriptorHead = "# Disk DescriptorFile"
	gdAtEnd        = ^uint64(0)

	flagRedundantGT  = 1 << 1
	flagZeroedGrain  = 1 << 2
	flagCompressed   = 1 << 16
	flagMarkers      = 1 << 17
	compressDeflate  = 1
	maxGrainSectors  = 2048 // 1 MiB
	maxGTEntries     = 4096
	maxDescriptorLen = 64 << 10
)

// Probe reports whether header (the first bytes of a file) looks like a VMDK: a hosted sparse
// extent, a VMDK3 extent, or a text descriptor (which Open refuses with ErrExternalExtent).
func Probe(header []byte) bool {
	return bytes.HasPrefix(header, []byte(magicSparse)) || bytes.HasPrefix(header, []byte(magicCOWD)) ||
		bytes.HasPrefix(header, []byte(descriptorHead))
}

// header is the 512-byte hosted sparse extent header (all fields little-endian).
type header struct {
	version          uint32
	flags            uint32
	capacity         uint64 // sectors
	grainSectors     uint64
	descriptorOffset uint64 // sectors
	descriptorSize   uint64 // sectors
	gtEntries        uint32
	rgdOffset        uint64 // sectors
	gdOffset         uint64 // sectors
	overhead         uint64 // sectors
	compression      uint16
}

func parseHeader(b []byte) (header, error) {
	switch {
	case bytes.HasPrefix(b, []byte(descriptorHead)):
		return header{}, fmt.Errorf("vmdk: text descriptor file: %w", ErrExternalExtent)
	case bytes.HasPrefix(b, []byte(magicCOWD)):
		return header{}, fmt.Errorf("vmdk: VMDK3 (COWD) extents are not supported: %w", ErrUnsupported)
	case !bytes.HasPrefix(b, []byte(magicSparse)):
		return header{}, fmt.Errorf("vmdk: bad magic %q: %w", b[:min(4, len(b))], errWrongType)
	case len(b) < sectorSize:
		return header{}, fmt.Errorf("vmdk: header truncated to %d bytes", len(b))
	}
	le := binary.LittleEndian
	h := header{
		version:          le.Uint32(b[4:]),
		flags:            le.Uint32(b[8:]),
		capacity:         le.Uint64(b[12:]),
		grainSectors:     le.Uint64(b[20:]),
		descriptorOffset: le.Uint64(b[28:]),
		descriptorSize:   le.Uint64(b[36:]),
		gtEntries:        le.Uint32(b[44:]),
		rgdOffset:        le.Uint64(b[48:]),
		gdOffset:         le.Uint64(b[56:]),
		overhead:         le.Uint64(b[64:]),
		compression:      le.Uint16(b[77:]),
	}
	return h, nil
}

// validate checks the fields every reader needs; gdOffset is checked by Open only.
func (h header) validate(c config) error {
	if h.version < 1 || h.version > 3 {
		return fmt.Errorf("vmdk: sparse extent version %d: %w", h.version, ErrUnsupported)
	}
	if h.grainSectors == 0 || h.grainSectors > maxGrainSectors || h.grainSectors&(h.grainSectors-1) != 0 {
		return fmt.Errorf("vmdk: grain size of %d sectors is not a power of two up to %d", h.grainSectors, maxGrainSectors)
	}
	if h.capacity > uint64(c.maxSize)/sectorSize {
		return c.checkSize(int64(min(h.capacity, 1<<54)) * sectorSize)
	}
	if h.flags&flagCompressed != 0 {
		if h.compression != compressDeflate {
			return fmt.Errorf("vmdk: compression algorithm %d: %w", h.compression, ErrUnsupported)
		}
		if h.flags&flagMarkers == 0 {
			return fmt.Errorf("vmdk: compressed grains without grain markers: %w", ErrUnsupported)
		}
	}
	return nil
}

func (h header) size() int64       { return int64(h.capacity) * sectorSize }
func (h header) grainBytes() int64 { return int64(h.grainSectors) * sectorSize }

// readDescriptor reads the embedded descriptor (if any) and refuses anything but a single
// sparse extent without a parent.
func readDescriptor(ra io.ReaderAt, fileSize int64, h header) error {
	if h.descriptorOffset == 0 || h.descriptorSize == 0 {
		return fmt.Errorf("vmdk: sparse extent without an embedded descriptor is part of a split image: %w", ErrExternalExtent)
	}
	if h.descriptorOffset > uint64(fileSize)/sectorSize {
		return fmt.Errorf("vmdk: descriptor at sector %d lies past end of file", h.descriptorOffset)
	}
	n := min(min(h.descriptorSize, maxDescriptorLen/sectorSize)*sectorSize, uint64(fileSize)-h.descriptorOffset*sectorSize)
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, int64(h.descriptorOffset)*sectorSize); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("vmdk: read descriptor: %w", err)
	}
	if i := bytes.IndexByte(buf, 0); i >= 0 {
		buf = buf[:i]
	}
	return checkDescriptor(string(buf), h.capacity)
}

// checkDescriptor accepts a descriptor with one sparse extent of capacity sectors and no parent.
func checkDescriptor(text string, capacity uint64) error {
	extents := 0
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		key, value, _ := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.Trim(strings.TrimSpace(value), `"`)
		switch {
		case key == "createType" && value != "monolithicSparse" && value != "streamOptimized":
			return fmt.Errorf("vmdk: createType %q: %w", value, ErrExternalExtent)
		case key == "parentCID" && !strings.EqualFold(value, "ffffffff"):
			return fmt.Errorf("vmdk: delta disk with parent (backing file) CID %s: %w", value, ErrUnsupported)
		case key == "parentFileNameHint":
			return fmt.Errorf("vmdk: delta disk with parent (backing file) %q: %w", value, ErrUnsupported)
		}
		if f := strings.Fields(line); len(f) >= 3 && (f[0] == "RW" || f[0] == "RDONLY" || f[0] == "NOACCESS") {
			extents++
			if f[2] != "SPARSE" {
				return fmt.Errorf("vmdk: extent type %s: %w", f[2], ErrExternalExtent)
			}
			if f[1] != strconv.FormatUint(capacity, 10) {
				return fmt.Errorf("vmdk: extent of %s sectors in an image of %d sectors: %w", f[1], capacity, ErrExternalExtent)
			}
		}
	}
	if extents == 0 {
		return fmt.Errorf("vmdk: embedded descriptor lists no extent; this is part of a split image: %w", ErrExternalExtent)
	}
	if extents != 1 {
		return fmt.Errorf("vmdk: descriptor lists %d extents: %w", extents, ErrExternalExtent)
	}
	return nil
}
