package vhdx

import (
	"fmt"
	"io"

	"github.com/lima-vm/go-qcow2reader/image"
)

// run is the mapping of a virtual range up to the end of its block.
type run struct {
	zero   bool
	length int64
	phys   int64 // file offset of the first byte unless zero
}

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

func (img *Image) locate(off int64) (run, error) {
	block := off / img.blockSize
	within := off - block*img.blockSize
	r := run{length: min(img.blockSize-within, img.size-off)}
	e := img.bat[block+block/img.chunkRatio]
	switch state := e & 7; state {
	case stateNotPresent, stateUndefined, stateZero, stateUnmapped, stateUnmappedV095:
		r.zero = true
	case stateFullyPresent:
		base := int64(e >> 20 << 20)
		r.phys = base + within
		if base < minFileSize || base > img.fileSize || r.phys > img.fileSize-r.length {
			return run{}, fmt.Errorf("vhdx: block %d at offset %d lies outside the file", block, base)
		}
	case statePartiallyPresent:
		return run{}, fmt.Errorf("vhdx: block %d is partially present, which only differencing disks may be: %w", block, ErrUnsupported)
	default:
		return run{}, fmt.Errorf("vhdx: block %d has unknown state %d", block, state)
	}
	return r, nil
}

// ReadAt reads virtual bytes at off; physically contiguous blocks are read with one call.
func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vhdx: negative offset %d", off)
	}
	if off >= img.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), img.size-off))
	var pend pending
	for done := 0; done < n; {
		r, err := img.locate(off + int64(done))
		if err != nil {
			return done, err
		}
		dst := p[done : done+int(min(r.length, int64(n-done)))]
		if r.zero || !pend.extend(dst, r.phys) {
			if err := pend.flush(img.ra); err != nil {
				return done, err
			}
		}
		if r.zero {
			clear(dst)
		} else if pend.p == nil {
			pend = pending{p: dst, phys: r.phys}
		}
		done += len(dst)
	}
	if err := pend.flush(img.ra); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// pending coalesces reads of physically contiguous blocks into one ReadAt.
type pending struct {
	p    []byte
	phys int64
}

// extend appends dst, which directly follows q.p in the caller's buffer, if phys continues q's range.
func (q *pending) extend(dst []byte, phys int64) bool {
	if q.p == nil || phys != q.phys+int64(len(q.p)) {
		return false
	}
	q.p = q.p[:len(q.p)+len(dst)]
	return true
}

func (q *pending) flush(ra io.ReaderAt) error {
	if q.p == nil {
		return nil
	}
	_, err := ra.ReadAt(q.p, q.phys)
	q.p = nil
	if err != nil {
		return fmt.Errorf("vhdx: read block data at offset %d: %w", q.phys, err)
	}
	return nil
}

// Extent returns the longest run starting at start, at most length bytes, of blocks sharing one
// status: blocks not present, zero or unmapped report Zero, fully present blocks Allocated, and
// holes of the source file inside present blocks (see WithHoles) both.
func (img *Image) Extent(start, length int64) (image.Extent, error) {
	ext := image.Extent{Start: start}
	if start < 0 || length < 0 || start > img.size-length {
		return ext, fmt.Errorf("vhdx: extent [%d, +%d) out of bounds of virtual size %d", start, length, img.size)
	}
	for first := true; ext.Length < length; first = false {
		r, err := img.locate(start + ext.Length)
		if err != nil {
			return ext, err
		}
		allocated := !r.zero
		if allocated {
			r = img.refine(r)
		}
		if first {
			ext.Zero, ext.Allocated = r.zero, allocated
		} else if ext.Zero != r.zero || ext.Allocated != allocated {
			break
		}
		ext.Length += min(r.length, length-ext.Length)
	}
	return ext, nil
}

// refine shortens a present run to its first part that is all data or all hole in the source file.
func (img *Image) refine(r run) run {
	if img.holes == nil {
		return r
	}
	hole, n := img.holes(r.phys)
	if n > 0 {
		r.zero, r.length = hole, min(r.length, n)
	}
	return r
}
