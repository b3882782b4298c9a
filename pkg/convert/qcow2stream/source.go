package qcow2stream

import (
	"fmt"
	"io"
)

// skipChunk is the piece size in which passed-over bytes are held.
const skipChunk = 1 << 20

// source reads the stream strictly forward and serves byte ranges from it or from the hold.
type source struct {
	r      io.Reader
	pos    int64 // stream offset of the next byte r yields
	eof    bool  // r ended at pos
	hold   hold
	ignore [][2]int64 // ranges never fetched (header, refcount table): passed over without holding
	// tail is the last sector of the previous compressed cluster read from the stream, which the
	// next compressed cluster may start in.
	tail    []byte
	tailOff int64
}

// fetch copies the stream bytes [off, off+len(p)) into p. A short count with a nil error means the
// stream ended inside the range, which only a compressed cluster (short allowed) may do.
func (s *source) fetch(p []byte, off int64, short bool, keepLast int) (int, error) {
	n := 0
	if off < s.pos {
		k, err := s.fromBehind(p, off, keepLast)
		if err != nil {
			return k, err
		}
		n = k
	}
	if n < len(p) {
		if err := s.skipTo(off + int64(n)); err != nil {
			return n, err
		}
		k, err := s.read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	if n < len(p) && (!short || n == 0) {
		return n, corruptf("%d bytes at offset %d lie past the end of the %d-byte stream", len(p), off, s.pos)
	}
	if keepLast > 0 && n == len(p) {
		s.tail = append(s.tail[:0], p[len(p)-keepLast:]...)
		s.tailOff = off + int64(len(p)-keepLast)
	}
	return n, nil
}

// fromBehind serves the part of [off, ...) that already passed, from the tail and the hold.
func (s *source) fromBehind(p []byte, off int64, keepLast int) (int, error) {
	end := min(off+int64(len(p)), s.pos)
	want := int(end - off)
	var n int
	if len(s.tail) > 0 && off >= s.tailOff && off < s.tailOff+int64(len(s.tail)) {
		n = copy(p[:want], s.tail[off-s.tailOff:])
	}
	if n < want {
		k, err := s.hold.take(p[n:want], off+int64(n), int64(want-n-keepLast))
		if err != nil {
			return n + k, err
		}
		n += k
	}
	if n < want {
		return n, corruptf("offset %d was already used or passed unheld: overlapping clusters, or a table pointing back past what was held", off+int64(n))
	}
	return n, nil
}

// skipTo advances the stream to off, holding the passed bytes that no ignore range covers.
func (s *source) skipTo(off int64) error {
	if off <= s.pos {
		return nil
	}
	if len(s.tail) > 0 && s.tailOff+int64(len(s.tail)) == s.pos {
		if err := s.hold.add(s.tailOff, s.tail); err != nil {
			return err
		}
		s.tail = nil
	}
	for s.pos < off {
		if to, ok := s.ignored(s.pos); ok {
			if err := s.discard(min(to, off) - s.pos); err != nil {
				return err
			}
			continue
		}
		b := make([]byte, min(skipChunk, off-s.pos, s.nextIgnore(s.pos)-s.pos))
		at := s.pos
		k, err := s.read(b)
		if err := s.hold.add(at, b[:k]); err != nil {
			return err
		}
		if err != nil {
			return err
		}
		if k < len(b) {
			return corruptf("a table points to offset %d, past the end of the %d-byte stream", off, s.pos)
		}
	}
	return nil
}

func (s *source) ignored(at int64) (int64, bool) {
	for _, r := range s.ignore {
		if at >= r[0] && at < r[1] {
			return r[1], true
		}
	}
	return 0, false
}

func (s *source) nextIgnore(at int64) int64 {
	next := int64(1 << 62)
	for _, r := range s.ignore {
		if r[0] > at {
			next = min(next, r[0])
		}
	}
	return next
}

func (s *source) discard(n int64) error {
	buf := make([]byte, min(n, skipChunk))
	for n > 0 {
		k, err := s.read(buf[:min(n, int64(len(buf)))])
		if err != nil {
			return err
		}
		if k == 0 {
			return corruptf("stream ends at %d, inside its metadata", s.pos)
		}
		n -= int64(k)
	}
	return nil
}

// read fills p from the stream; at its end it returns the count and a nil error.
func (s *source) read(p []byte) (int, error) {
	if s.eof {
		return 0, nil
	}
	n, err := io.ReadFull(s.r, p)
	s.pos += int64(n)
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF, err == io.ErrUnexpectedEOF: // a wrapped EOF is a decoder's failure, not the end
		s.eof = true
		return n, nil
	}
	return n, fmt.Errorf("read qcow2 stream at %d: %w", s.pos, err)
}
