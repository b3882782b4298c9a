package vhdx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

var (
	metaFileParameters = mustGUID("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
	metaVirtualSize    = mustGUID("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
	metaDiskID         = mustGUID("BECA12AB-B2E6-4523-93EF-C309E000C746")
	metaLogicalSector  = mustGUID("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
	metaPhysicalSector = mustGUID("CDA348C7-445D-4471-9CC9-E9885251C556")
	metaParentLocator  = mustGUID("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
)

const (
	metaTableSize   = 64 << 10
	maxMetaEntries  = 2047
	flagHasParent   = 1 << 1
	flagRequired    = 1 << 2
	minBlockSize    = 1 * mib
	maxBlockSize    = 256 * mib
	maxVirtualSize  = 64 << 40
	itemWithParents = "differencing VHDX needs its parent (backing file); convert the chain to a single image first"
)

// metadata holds the disk parameters from the metadata region.
type metadata struct {
	blockSize   int64
	virtualSize int64
	sectorSize  int64
}

func readMetadata(ra io.ReaderAt, r region) (metadata, error) {
	if r.length < metaTableSize {
		return metadata{}, fmt.Errorf("vhdx: metadata region of %d bytes is smaller than its table", r.length)
	}
	b := make([]byte, metaTableSize)
	if _, err := ra.ReadAt(b, r.offset); err != nil {
		return metadata{}, fmt.Errorf("vhdx: read metadata table: %w", err)
	}
	if string(b[:8]) != "metadata" {
		return metadata{}, errors.New("vhdx: metadata table has a bad signature")
	}
	le := binary.LittleEndian
	n := int(le.Uint16(b[10:]))
	if n > maxMetaEntries {
		return metadata{}, fmt.Errorf("vhdx: metadata table has %d entries, at most %d allowed", n, maxMetaEntries)
	}
	var m metadata
	seen := map[guid]bool{}
	for i := range n {
		e := b[32+32*i : 64+32*i]
		var id guid
		copy(id[:], e)
		off, length, flags := int64(le.Uint32(e[16:])), int64(le.Uint32(e[20:])), le.Uint32(e[24:])
		if off+length > r.length {
			return metadata{}, fmt.Errorf("vhdx: metadata item %x at offset %d (%d bytes) lies outside its region", id, off, length)
		}
		if err := m.item(ra, r.offset+off, length, id, flags); err != nil {
			return metadata{}, err
		}
		seen[id] = true
	}
	if !seen[metaFileParameters] || !seen[metaVirtualSize] || !seen[metaLogicalSector] {
		return metadata{}, errors.New("vhdx: metadata lacks file parameters, virtual disk size or logical sector size")
	}
	return m, m.validate()
}

// item reads one metadata item into m.
func (m *metadata) item(ra io.ReaderAt, off, length int64, id guid, flags uint32) error {
	var want int64
	switch id {
	case metaFileParameters, metaVirtualSize:
		want = 8
	case metaLogicalSector, metaPhysicalSector:
		want = 4
	case metaDiskID:
		return nil
	case metaParentLocator:
		return fmt.Errorf("vhdx: %s: %w", itemWithParents, ErrUnsupported)
	default:
		if flags&flagRequired != 0 {
			return fmt.Errorf("vhdx: unknown required metadata item %x: %w", id, ErrUnsupported)
		}
		return nil
	}
	if length < want {
		return fmt.Errorf("vhdx: metadata item %x of %d bytes, want %d", id, length, want)
	}
	b := make([]byte, want)
	if _, err := ra.ReadAt(b, off); err != nil {
		return fmt.Errorf("vhdx: read metadata item %x: %w", id, err)
	}
	le := binary.LittleEndian
	switch id {
	case metaFileParameters:
		m.blockSize = int64(le.Uint32(b))
		if le.Uint32(b[4:])&flagHasParent != 0 {
			return fmt.Errorf("vhdx: %s: %w", itemWithParents, ErrUnsupported)
		}
	case metaVirtualSize:
		m.virtualSize = int64(min(le.Uint64(b), maxVirtualSize+1))
	case metaLogicalSector:
		m.sectorSize = int64(le.Uint32(b))
	}
	return nil
}

func (m metadata) validate() error {
	if m.blockSize < minBlockSize || m.blockSize > maxBlockSize || m.blockSize&(m.blockSize-1) != 0 {
		return fmt.Errorf("vhdx: block size %d is not a power of two from 1 MiB to 256 MiB", m.blockSize)
	}
	if m.sectorSize != 512 && m.sectorSize != 4096 {
		return fmt.Errorf("vhdx: logical sector size %d, want 512 or 4096", m.sectorSize)
	}
	if m.virtualSize <= 0 || m.virtualSize > maxVirtualSize {
		return fmt.Errorf("vhdx: virtual size %d outside 1 byte to 64 TiB", m.virtualSize)
	}
	return nil
}
