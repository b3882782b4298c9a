package iso

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// SectorSize is the logical block size of ISO 9660 images.
const SectorSize = 2048

// Platform IDs of El Torito boot catalog entries.
const (
	PlatformBIOS byte = 0x00 // 80x86 BIOS
	PlatformEFI  byte = 0xEF // UEFI
)

const (
	firstDescriptorSector = 16
	maxDescriptors        = 64 // volume descriptors scanned before giving up
	catalogEntrySize      = 32
	maxCatalogEntries     = SectorSize / catalogEntrySize * 4 // catalogs span at most four sectors here
	elToritoID            = "EL TORITO SPECIFICATION"
)

// BootEntry is one bootable image listed in the El Torito boot catalog.
type BootEntry struct {
	Platform    byte   // PlatformBIOS, PlatformEFI or another platform ID
	Bootable    bool   // boot indicator 0x88
	Media       byte   // emulation type; 0 is no emulation
	SectorCount uint16 // 512-byte sectors loaded by the firmware (0 or 1 often means "the whole file")
	LoadLBA     uint32 // first 2048-byte sector of the image
	offset      int64  // byte offset of this entry in the ISO
}

// BootCatalog is the El Torito boot catalog of an ISO image.
type BootCatalog struct {
	LBA     uint32      // sector holding the catalog
	Entries []BootEntry // default entry first, then section entries in order
}

// EFI returns the first entry for the UEFI platform.
func (c *BootCatalog) EFI() (BootEntry, error) {
	for _, e := range c.Entries {
		if e.Platform == PlatformEFI {
			return e, nil
		}
	}
	return BootEntry{}, errors.New("the El Torito boot catalog has no EFI entry")
}

// ReadBootCatalog finds the El Torito boot record and parses the boot catalog it points to.
func ReadBootCatalog(r io.ReaderAt) (*BootCatalog, error) {
	lba, err := bootCatalogLBA(r)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, maxCatalogEntries*catalogEntrySize)
	n, err := r.ReadAt(buf, int64(lba)*SectorSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read boot catalog at sector %d: %w", lba, err)
	}
	entries, err := parseBootCatalog(buf[:n], int64(lba)*SectorSize)
	if err != nil {
		return nil, fmt.Errorf("boot catalog at sector %d: %w", lba, err)
	}
	return &BootCatalog{LBA: lba, Entries: entries}, nil
}

// bootCatalogLBA scans the volume descriptor set for the El Torito boot record.
func bootCatalogLBA(r io.ReaderAt) (uint32, error) {
	sec := make([]byte, SectorSize)
	for i := range maxDescriptors {
		off := int64(firstDescriptorSector+i) * SectorSize
		if _, err := r.ReadAt(sec, off); err != nil {
			return 0, fmt.Errorf("read volume descriptor %d: %w (not an ISO 9660 image?)", i, err)
		}
		if string(sec[1:6]) != "CD001" {
			return 0, fmt.Errorf("volume descriptor %d lacks the CD001 signature: not an ISO 9660 image", i)
		}
		switch sec[0] {
		case 0: // boot record
			if string(bytes.TrimRight(sec[7:39], "\x00")) == elToritoID {
				return binary.LittleEndian.Uint32(sec[71:75]), nil
			}
		case 255: // terminator
			return 0, errors.New("no El Torito boot record: the ISO is not bootable")
		}
	}
	return 0, fmt.Errorf("no volume descriptor set terminator within %d descriptors", maxDescriptors)
}

// parseBootCatalog decodes the validation entry, the default entry and any section entries.
func parseBootCatalog(b []byte, base int64) ([]BootEntry, error) {
	if len(b) < 2*catalogEntrySize {
		return nil, errors.New("truncated")
	}
	if err := checkValidationEntry(b[:catalogEntrySize]); err != nil {
		return nil, err
	}
	platform := b[1]
	entries := []BootEntry{decodeEntry(b[catalogEntrySize:], platform, base+catalogEntrySize)}
	for off := 2 * catalogEntrySize; off+catalogEntrySize <= len(b); {
		h := b[off : off+catalogEntrySize]
		if h[0] != 0x90 && h[0] != 0x91 {
			break
		}
		platform, count := h[1], int(binary.LittleEndian.Uint16(h[2:4]))
		off += catalogEntrySize
		for range count {
			if off+catalogEntrySize > len(b) {
				return nil, fmt.Errorf("section header promises %d entries beyond the catalog", count)
			}
			entries = append(entries, decodeEntry(b[off:], platform, base+int64(off)))
			off += catalogEntrySize
			for off+catalogEntrySize <= len(b) && b[off] == 0x44 { // extension records
				off += catalogEntrySize
			}
		}
		if h[0] == 0x91 {
			break
		}
	}
	return entries, nil
}

func checkValidationEntry(v []byte) error {
	if v[0] != 0x01 || v[30] != 0x55 || v[31] != 0xAA {
		return errors.New("bad validation entry (want header 0x01 and key 55 AA)")
	}
	var sum uint16
	for i := 0; i < catalogEntrySize; i += 2 {
		sum += binary.LittleEndian.Uint16(v[i:])
	}
	if sum != 0 {
		return fmt.Errorf("validation entry checksum is off by %#04x", sum)
	}
	return nil
}

func decodeEntry(e []byte, platform byte, off int64) BootEntry {
	return BootEntry{
		Platform:    platform,
		Bootable:    e[0] == 0x88,
		Media:       e[1] & 0x0F,
		SectorCount: binary.LittleEndian.Uint16(e[6:8]),
		LoadLBA:     binary.LittleEndian.Uint32(e[8:12]),
		offset:      off,
	}
}
