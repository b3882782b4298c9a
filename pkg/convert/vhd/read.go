package vhd

import (
	"fmt"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/blockmap"
)

// locate maps off to its run, up to the end of its block.
func (img *Image) locate(off int64) (blockmap.Run, error) {
	if img.fixed {
		return blockmap.Run{Length: img.size - off, Phys: off}, nil
	}
	block := off / img.blockSize
	within := off - block*img.blockSize
	r := blockmap.Run{Length: min(img.blockSize-within, img.size-off)}
	e := img.bat[block]
	if e == unallocated {
		r.Zero = true
		return r, nil
	}
	r.Phys = int64(e)*sectorSize + img.bitmapBytes + within
	if r.Phys+r.Length > img.fileSize {
		return blockmap.Run{}, fmt.Errorf("vhd: block %d at sector %d lies past end of file", block, e)
	}
	return r, nil
}

// ReadAt reads virtual bytes at off; physically contiguous blocks are read with one call.
func (img *Image) ReadAt(p []byte, off int64) (int, error) { return img.m.ReadAt(p, off) }

// Extent returns the longest run starting at start, at most length bytes, of blocks sharing one
// status: unallocated blocks report Zero, stored blocks (and all of a fixed disk) Allocated.
func (img *Image) Extent(start, length int64) (image.Extent, error) {
	return img.m.Extent(start, length)
}
