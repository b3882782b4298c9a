package clone

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/goldimage/goldimage/pkg/convert"
)

// Send writes the first size bytes of f to w as frames: the file's holes (SEEK_HOLE) and all-zero chunks as
// hole frames, the rest as data frames of at most MaxData bytes.
func Send(ctx context.Context, w io.Writer, f *os.File, size int64) error {
	fw, err := NewWriter(w, size)
	if err != nil {
		return err
	}
	s := &sender{w: fw, f: f, buf: make([]byte, MaxData)}
	for off := int64(0); off < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		data, hole := extent(f, off, size)
		if data > off {
			if err := s.hole(data - off); err != nil {
				return err
			}
		}
		if err := s.data(ctx, data, hole); err != nil {
			return err
		}
		off = hole
	}
	if err := s.flushHole(); err != nil {
		return err
	}
	return fw.End()
}

// extent returns the next data range [data, hole) at or after off, clamped to size. Files without
// SEEK_DATA support (and block devices) are one data range.
func extent(f *os.File, off, size int64) (int64, int64) {
	data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) {
		return size, size // only a hole remains
	}
	if err != nil || data < off {
		return off, size
	}
	hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
	if err != nil || hole <= data {
		hole = size
	}
	return min(data, size), min(hole, size)
}

// sender merges consecutive holes (from the file and from zero chunks) into one frame.
type sender struct {
	w       *Writer
	f       *os.File
	buf     []byte
	pending int64 // hole bytes not yet written
}

func (s *sender) hole(n int64) error {
	s.pending += n
	return nil
}

func (s *sender) flushHole() error {
	if s.pending == 0 {
		return nil
	}
	n := s.pending
	s.pending = 0
	return s.w.Hole(n)
}

// data sends [off, end) read from the file, chunk by chunk.
func (s *sender) data(ctx context.Context, off, end int64) error {
	for off < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := s.buf[:min(int64(len(s.buf)), end-off)]
		if _, err := s.f.ReadAt(p, off); err != nil {
			return fmt.Errorf("read source disk at byte %d: %w", off, err)
		}
		if convert.IsZero(p) {
			s.pending += int64(len(p))
		} else {
			if err := s.flushHole(); err != nil {
				return err
			}
			if err := s.w.Data(p); err != nil {
				return err
			}
		}
		off += int64(len(p))
	}
	return nil
}
