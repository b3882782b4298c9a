package iso

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// WindowsNoPromptImage is where Windows install media keep the EFI boot image that boots without
// waiting for a key press.
const WindowsNoPromptImage = "/efi/microsoft/boot/efisys_noprompt.bin"

// ReadWriterAt is an ISO image opened for patching in place, such as an *os.File.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// Patch reports what ReplaceEFIBootImage did.
type Patch struct {
	LBA            uint32 // sector where the EFI boot image starts
	Slot           int64  // bytes the old image occupied, the most the new one may use
	Written        int64  // bytes of the new image written; 0 when the image was already in place
	OldFile        string // path of the file holding the old image, when a file tree names it
	OldSectorCount uint16 // catalog sector count before the patch
	NewSectorCount uint16 // catalog sector count after the patch
}

// copyBuffer is the unit of all reads and writes; memory use does not grow with the image.
const copyBuffer = 1 << 20

// ReplaceEFIBootImage overwrites the El Torito EFI boot image of iso with size bytes read from img.
// The new image must fit in the old one's space; the rest of that space is zeroed, and the catalog's
// sector count is updated when it described the old image exactly. Nothing else in the ISO moves.
func ReplaceEFIBootImage(iso ReadWriterAt, img io.ReaderAt, size int64) (Patch, error) {
	cat, err := ReadBootCatalog(iso)
	if err != nil {
		return Patch{}, err
	}
	entry, err := cat.EFI()
	if err != nil {
		return Patch{}, err
	}
	p := Patch{LBA: entry.LoadLBA, OldSectorCount: entry.SectorCount, NewSectorCount: entry.SectorCount}
	p.Slot = int64(entry.SectorCount) * 512
	if f, err := FileAt(iso, entry.LoadLBA); err == nil {
		p.OldFile = f.Path
		p.Slot = max(p.Slot, f.Size)
	}
	if p.Slot <= 512 {
		return p, fmt.Errorf("size of the EFI boot image at sector %d is unknown (catalog says %d sectors, no file starts there)",
			entry.LoadLBA, entry.SectorCount)
	}
	if size <= 0 || size > p.Slot {
		return p, fmt.Errorf("new EFI boot image is %d bytes; it must be 1 to %d bytes to replace the old one in place", size, p.Slot)
	}
	if count := (size + 511) / 512; int64(entry.SectorCount)*512 == roundUp(p.Slot, 512) && count <= 0xFFFF {
		p.NewSectorCount = uint16(count)
	}
	same, err := sameBytes(iso, int64(entry.LoadLBA)*SectorSize, img, size)
	if err != nil {
		return p, err
	}
	if same && p.NewSectorCount == p.OldSectorCount {
		return p, nil
	}
	if err := writeImage(iso, int64(entry.LoadLBA)*SectorSize, img, size, p.Slot); err != nil {
		return p, err
	}
	p.Written = size
	if p.NewSectorCount != p.OldSectorCount {
		b := []byte{byte(p.NewSectorCount), byte(p.NewSectorCount >> 8)}
		if _, err := iso.WriteAt(b, entry.offset+6); err != nil {
			return p, fmt.Errorf("update boot catalog sector count: %w", err)
		}
	}
	return p, nil
}

// ReplaceWithWindowsNoPrompt swaps the EFI boot image for the ISO's own efisys_noprompt.bin.
func ReplaceWithWindowsNoPrompt(iso ReadWriterAt) (Patch, error) {
	f, err := Lookup(iso, WindowsNoPromptImage)
	if err != nil {
		return Patch{}, fmt.Errorf("find the no-prompt EFI image: %w", err)
	}
	cat, err := ReadBootCatalog(iso)
	if err != nil {
		return Patch{}, err
	}
	entry, err := cat.EFI()
	if err != nil {
		return Patch{}, err
	}
	if f.LBA == entry.LoadLBA {
		return Patch{LBA: f.LBA, Slot: f.Size, OldFile: f.Path, OldSectorCount: entry.SectorCount,
			NewSectorCount: entry.SectorCount}, nil // the catalog already points at the no-prompt image
	}
	start, end := int64(f.LBA)*SectorSize, int64(f.LBA)*SectorSize+f.Size
	if slotStart := int64(entry.LoadLBA) * SectorSize; start < slotStart+f.Size && slotStart < end {
		return Patch{}, fmt.Errorf("%s overlaps the EFI boot image at sector %d", f.Path, entry.LoadLBA)
	}
	return ReplaceEFIBootImage(iso, io.NewSectionReader(iso, start, f.Size), f.Size)
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// sameBytes reports whether the n bytes at off in a equal the first n bytes of b.
func sameBytes(a io.ReaderAt, off int64, b io.ReaderAt, n int64) (bool, error) {
	bufA, bufB := make([]byte, copyBuffer), make([]byte, copyBuffer)
	for done := int64(0); done < n; {
		k := min(int64(copyBuffer), n-done)
		if _, err := a.ReadAt(bufA[:k], off+done); err != nil {
			return false, fmt.Errorf("read current EFI boot image: %w", err)
		}
		if _, err := b.ReadAt(bufB[:k], done); err != nil {
			return false, fmt.Errorf("read new EFI boot image: %w", err)
		}
		if !bytes.Equal(bufA[:k], bufB[:k]) {
			return false, nil
		}
		done += k
	}
	return true, nil
}

// writeImage copies n bytes of img to off and zeroes the slot beyond them.
func writeImage(w io.WriterAt, off int64, img io.ReaderAt, n, slot int64) error {
	buf := make([]byte, copyBuffer)
	for done := int64(0); done < slot; {
		k := min(int64(copyBuffer), slot-done)
		clear(buf[:k])
		if done < n {
			m := min(k, n-done)
			if _, err := img.ReadAt(buf[:m], done); err != nil && !(errors.Is(err, io.EOF) && done+m == n) {
				return fmt.Errorf("read new EFI boot image at byte %d: %w", done, err)
			}
		}
		if _, err := w.WriteAt(buf[:k], off+done); err != nil {
			return fmt.Errorf("write EFI boot image at byte %d: %w", off+done, err)
		}
		done += k
	}
	return nil
}
