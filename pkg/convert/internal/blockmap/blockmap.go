package blockmap

import (
	"fmt"
	"io"

	"github.com/lima-vm/go-qcow2reader/image"
)

// Run is the mapping of a virtual range, from some offset up to the end of its block.
type Run struct {
	Phys       int64 // file offset of the first byte unless Zero; for Compressed runs where Decode finds the block
	Length     int64 // bytes from the offset to the end of the block (or of the disk)
	Block      int64 // index of the block, for Decode
	Zero       bool  // reads as zeros without being stored
	Hole       bool  // stored, but a hole of the source file: Extent reports it Zero and Allocated
	Compressed bool  // stored in a form only Decode reads
}

// Map reads the virtual disk of Size bytes that Locate maps onto RA. The zero Map is not usable:
// Format, Unit, RA, Size and Locate are required.
type Map struct {
	Format string // prefix of errors, such as "vhd"
	Unit   string // what a block is called in errors, such as "block" or "grain"
	RA     io.ReaderAt
	Size   int64
	// Locate maps the virtual offset off, 0 <= off < Size, to its run.
	Locate func(off int64) (Run, error)
	// Decode fills dst with the virtual bytes at off of the Compressed run r. Nil when Locate
	// returns no Compressed runs.
	Decode func(dst []byte, r Run, off int64) error
	// Refine, if set, lets Extent shorten a stored run to its first part that is all data or all
	// hole (Hole) in the source file; ReadAt does not use it.
	Refine func(r Run) Run
}

// ReadAt reads virtual bytes at off as io.ReaderAt does; physically contiguous runs are read
// with one call of RA.ReadAt, Zero runs are cleared without reading.
func (m *Map) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("%s: negative offset %d", m.Format, off)
	}
	if off >= m.Size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), m.Size-off))
	pend := pending{m: m}
	for done := 0; done < n; {
		r, err := m.Locate(off + int64(done))
		if err != nil {
			return done, err
		}
		dst := p[done : done+int(min(r.Length, int64(n-done)))]
		if err := pend.add(dst, r, off+int64(done)); err != nil {
			return done, err
		}
		done += len(dst)
	}
	if err := pend.flush(); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// pending coalesces reads of physically contiguous runs into one ReadAt.
type pending struct {
	m    *Map
	p    []byte
	phys int64
}

// add fills dst, the part of the caller's buffer that r maps, or defers its reading: dst directly
// follows q.p in the buffer, so a stored run continuing q's file range extends q.
func (q *pending) add(dst []byte, r Run, off int64) error {
	stored := !r.Zero && !r.Compressed
	if stored && q.p != nil && r.Phys == q.phys+int64(len(q.p)) {
		q.p = q.p[:len(q.p)+len(dst)]
		return nil
	}
	if err := q.flush(); err != nil {
		return err
	}
	switch {
	case r.Zero:
		clear(dst)
	case r.Compressed:
		return q.m.Decode(dst, r, off)
	default:
		q.p, q.phys = dst, r.Phys
	}
	return nil
}

func (q *pending) flush() error {
	if q.p == nil {
		return nil
	}
	_, err := q.m.RA.ReadAt(q.p, q.phys)
	q.p = nil
	if err != nil {
		return fmt.Errorf("%s: read %s data at offset %d: %w", q.m.Format, q.m.Unit, q.phys, err)
	}
	return nil
}

// Extent returns the longest run starting at start, at most length bytes, of runs sharing one
// status: Zero runs report Zero, stored runs Allocated (and Compressed), holes (Hole) both.
func (m *Map) Extent(start, length int64) (image.Extent, error) {
	ext := image.Extent{Start: start}
	if start < 0 || length < 0 || start > m.Size-length {
		return ext, fmt.Errorf("%s: extent [%d, +%d) out of bounds of virtual size %d", m.Format, start, length, m.Size)
	}
	for first := true; ext.Length < length; first = false {
		r, err := m.Locate(start + ext.Length)
		if err != nil {
			return ext, err
		}
		if !r.Zero && m.Refine != nil {
			r = m.Refine(r)
		}
		zero, allocated := r.Zero || r.Hole, !r.Zero
		if first {
			ext.Zero, ext.Allocated, ext.Compressed = zero, allocated, r.Compressed
		} else if ext.Zero != zero || ext.Allocated != allocated || ext.Compressed != r.Compressed {
			break
		}
		ext.Length += min(r.Length, length-ext.Length)
	}
	return ext, nil
}

// InFileOrder returns nil when reading the disk in virtual order reads the file forward from
// offset from: each stored run starts at or after from and at or after the end of the stored run
// before it. Otherwise it names the first run that does not.
func (m *Map) InFileOrder(from int64) error {
	next := from
	for off := int64(0); off < m.Size; {
		r, err := m.Locate(off)
		if err != nil {
			return err
		}
		if r.Length <= 0 {
			return fmt.Errorf("%s: empty %s at virtual offset %d", m.Format, m.Unit, off)
		}
		if !r.Zero {
			if r.Phys < next {
				return fmt.Errorf("%s: the %s at virtual offset %d is stored at file offset %d, before offset %d that reading in order has passed",
					m.Format, m.Unit, off, r.Phys, next)
			}
			next = r.Phys + r.Length
		}
		off += r.Length
	}
	return nil
}
