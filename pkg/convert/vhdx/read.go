package vhdx

import (
	"fmt"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/blockmap"
)

// Payload block states of BAT entries.
const (
	stateNotPresent       = 0
	stateUndefined        = 1
	stateZero             = 2
	stateUnmapped         = 3
	stateUnmappedV095     = 5 // value of "unmapped" in drafts of the format, read as zeros by qemu
	stateFullyPresent     = 6
	statePartiallyPresent = 7
)

// locate maps off to its run, up to the end of its block.
func (img *Image) locate(off int64) (blockmap.Run, error) {
	block := off / img.blockSize
	within := off - block*img.blockSize
	r := blockmap.Run{Length: min(img.blockSize-within, img.size-off)}
	e := img.bat[block+block/img.chunkRatio]
	switch state := e & 7; state {
	case stateNotPresent, stateUndefined, stateZero, stateUnmapped, stateUnmappedV095:
		r.Zero = true
	case stateFullyPresent:
		base := int64(e >> 20 << 20)
		r.Phys = base + within
		if base < minFileSize || base > img.fileSize || r.Phys > img.fileSize-r.Length {
			return blockmap.Run{}, fmt.Errorf("vhdx: block %d at offset %d lies outside the file", block, base)
		}
	case statePartiallyPresent:
		return blockmap.Run{}, fmt.Errorf("vhdx: block %d is partially present, which only differencing disks may be: %w", block, ErrUnsupported)
	default:
		return blockmap.Run{}, fmt.Errorf("vhdx: block %d has unknown state %d", block, state)
	}
	return r, nil
}

// ReadAt reads virtual bytes at off; physically contiguous blocks are read with one call.
func (img *Image) ReadAt(p []byte, off int64) (int, error) { return img.m.ReadAt(p, off) }

// Extent returns the longest run starting at start, at most length bytes, of blocks sharing one
// status: blocks not present, zero or unmapped report Zero, fully present blocks Allocated, and
// holes of the source file inside present blocks (see WithHoles) both.
func (img *Image) Extent(start, length int64) (image.Extent, error) {
	return img.m.Extent(start, length)
}

// refine shortens a present run to its first part that is all data or all hole in the source file.
func (img *Image) refine(r blockmap.Run) blockmap.Run {
	if img.holes == nil {
		return r
	}
	hole, n := img.holes(r.Phys)
	if n > 0 {
		r.Hole, r.Length = hole, min(r.Length, n)
	}
	return r
}
