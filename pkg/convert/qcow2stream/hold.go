package qcow2stream

import (
	"bytes"
	"fmt"
	"os"
	"sort"
)

// hold keeps bytes that passed before a table claimed them: in memory up to a limit, then in a
// scratch file. Segments are sorted by offset and do not overlap.
type hold struct {
	segs     []segment
	mem      int64 // bytes held in memory
	memLimit int64
	dir      string
	maxFile  int64 // -1: unbounded
	file     *os.File
	fileEnd  int64 // bytes written to file
	peak     int64 // most bytes held at once, memory and file (zero runs cost nothing)
	held     int64
	log      func(string)
}

// segment is held stream bytes [off, off+n): in b, zeros when zero is set, or else at fileOff of
// the scratch file. Zero runs (padding before aligned clusters, unused table space) cost no memory.
type segment struct {
	off, n  int64
	b       []byte
	zero    bool
	fileOff int64
}

func (s segment) end() int64 { return s.off + s.n }

// zeroBlock is what held blocks are compared with.
var zeroBlock = make([]byte, zeroGrain)

// zeroGrain is the granularity of zero runs in the hold.
const zeroGrain = 512

// add holds b (owned by the hold from now on) at stream offset off, past every held byte; its
// 512-byte zero blocks are kept as zero runs.
func (h *hold) add(off int64, b []byte) error {
	for len(b) > 0 {
		n, zero := run(b)
		seg := segment{off: off, n: int64(n), zero: zero}
		if !zero {
			seg.b = b[:n:n]
			if n < len(b) || len(b) != cap(b) { // keep only what is held, not the whole chunk
				seg.b = append([]byte(nil), b[:n]...)
			}
			h.mem += int64(n)
			h.held += int64(n)
		}
		h.segs = append(h.segs, seg)
		off, b = off+int64(n), b[n:]
	}
	h.peak = max(h.peak, h.held)
	if h.mem > h.memLimit {
		return h.evict()
	}
	return nil
}

// run returns the length of the leading run of b that is all zero blocks or all other blocks.
func run(b []byte) (int, bool) {
	zero := isZero(b[:min(len(b), zeroGrain)])
	n := 0
	for n < len(b) {
		k := min(len(b)-n, zeroGrain)
		if isZero(b[n:n+k]) != zero {
			break
		}
		n += k
	}
	return n, zero
}

func isZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }

// evict moves the oldest memory segments to the scratch file until memory is under half its limit.
func (h *hold) evict() error {
	if h.dir == "" {
		return fmt.Errorf("%w: more than %d bytes arrived before the tables that map them", ErrNeedScratch, h.memLimit)
	}
	if h.file == nil {
		f, err := os.CreateTemp(h.dir, "qcow2stream-*.hold")
		if err != nil {
			return fmt.Errorf("create scratch file: %w", err)
		}
		h.file = f
		if h.log != nil {
			h.log(fmt.Sprintf("qcow2 stream: more than %d bytes arrived before the tables that map them; holding them in %s", h.memLimit, h.dir))
		}
	}
	for i := range h.segs {
		s := &h.segs[i]
		if s.b == nil {
			continue // zeros, or already in the file
		}
		if h.maxFile >= 0 && h.fileEnd+s.n > h.maxFile {
			return fmt.Errorf("%w: more than %d bytes arrived before the tables that map them", ErrNeedScratch, h.memLimit+h.maxFile)
		}
		if _, err := h.file.WriteAt(s.b, h.fileEnd); err != nil {
			return fmt.Errorf("write scratch file: %w", err)
		}
		s.fileOff, h.fileEnd = h.fileEnd, h.fileEnd+s.n
		h.mem -= s.n
		s.b = nil
		if h.mem <= h.memLimit/2 {
			break
		}
	}
	return nil
}

// take copies held bytes from off into p, stopping at the first byte not held, and releases
// [off, off+keepFrom) of what it copied (keepFrom < n keeps a shared last sector).
func (h *hold) take(p []byte, off int64, keepFrom int64) (int, error) {
	i := sort.Search(len(h.segs), func(i int) bool { return h.segs[i].end() > off })
	n := 0
	for j := i; j < len(h.segs) && n < len(p); j++ {
		s := h.segs[j]
		at := off + int64(n)
		if s.off > at {
			break
		}
		k := int(min(int64(len(p)-n), s.end()-at))
		if s.zero {
			clear(p[n : n+k])
		} else if s.b != nil {
			copy(p[n:n+k], s.b[at-s.off:])
		} else if _, err := h.file.ReadAt(p[n:n+k], s.fileOff+at-s.off); err != nil {
			return n, fmt.Errorf("read scratch file: %w", err)
		}
		n += k
	}
	if n > 0 {
		h.release(off, off+min(int64(n), keepFrom))
	}
	return n, nil
}

// release drops held bytes in [from, to).
func (h *hold) release(from, to int64) {
	if to <= from {
		return
	}
	out := h.segs[:0:0]
	for _, s := range h.segs {
		if s.end() <= from || s.off >= to {
			out = append(out, s)
			continue
		}
		if s.off < from {
			out = append(out, h.cut(s, s.off, from))
		}
		if s.end() > to {
			out = append(out, h.cut(s, to, s.end()))
		}
		if !s.zero {
			h.held -= min(s.end(), to) - max(s.off, from)
		}
		if s.b != nil {
			h.mem -= min(s.end(), to) - max(s.off, from)
		}
	}
	h.segs = out
}

// cut returns the part [a, b) of s.
func (h *hold) cut(s segment, a, b int64) segment {
	c := segment{off: a, n: b - a, zero: s.zero, fileOff: s.fileOff + a - s.off}
	if s.b != nil {
		c.b = s.b[a-s.off : b-s.off]
	}
	return c
}

func (h *hold) close() {
	if h.file != nil {
		_ = h.file.Close()
		_ = os.Remove(h.file.Name())
		h.file = nil
	}
	h.segs = nil
}
