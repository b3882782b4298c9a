package clone

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxData is the largest data frame; readers reject larger ones, which bounds their memory.
const MaxData = 1 << 20

const (
	magic     = "GICLONE1"
	frameData = 'D'
	frameHole = 'H'
	frameEnd  = 'E'
	headerLen = 17 // type, offset, length
)

// Frame is one piece of the disk: Len bytes at Off, either Data or a hole reading as zeros.
type Frame struct {
	Hole bool
	Off  int64
	Len  int64
	Data []byte // valid until the next call of Reader.Next; nil for holes
}

// Writer encodes a disk of known size as contiguous frames.
type Writer struct {
	w    io.Writer
	size int64
	next int64
	hdr  [headerLen]byte
}

// NewWriter writes the stream header announcing size bytes.
func NewWriter(w io.Writer, size int64) (*Writer, error) {
	if size < 0 {
		return nil, fmt.Errorf("clone stream size %d is negative", size)
	}
	var h [16]byte
	copy(h[:8], magic)
	binary.BigEndian.PutUint64(h[8:], uint64(size))
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("write clone stream header: %w", err)
	}
	return &Writer{w: w, size: size}, nil
}

// Data writes p (at most MaxData bytes) at the current offset.
func (w *Writer) Data(p []byte) error {
	if len(p) > MaxData {
		return fmt.Errorf("clone data frame of %d bytes exceeds %d", len(p), MaxData)
	}
	if err := w.frame(frameData, int64(len(p))); err != nil {
		return err
	}
	if _, err := w.w.Write(p); err != nil {
		return fmt.Errorf("write clone data at byte %d: %w", w.next-int64(len(p)), err)
	}
	return nil
}

// Hole writes n zero bytes as a hole at the current offset.
func (w *Writer) Hole(n int64) error { return w.frame(frameHole, n) }

// End closes the stream; every byte up to the announced size must have been written.
func (w *Writer) End() error {
	if w.next != w.size {
		return fmt.Errorf("clone stream ends at byte %d of %d", w.next, w.size)
	}
	return w.frame(frameEnd, 0)
}

func (w *Writer) frame(typ byte, n int64) error {
	if n < 0 || n > w.size-w.next {
		return fmt.Errorf("clone frame of %d bytes at %d passes the disk size %d", n, w.next, w.size)
	}
	w.hdr[0] = typ
	binary.BigEndian.PutUint64(w.hdr[1:9], uint64(w.next))
	binary.BigEndian.PutUint64(w.hdr[9:], uint64(n))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return fmt.Errorf("write clone frame at byte %d: %w", w.next, err)
	}
	w.next += n
	return nil
}

// ErrTruncated is wrapped by Reader.Next when the stream stops before its end frame.
var ErrTruncated = errors.New("clone stream truncated")

// Reader decodes a clone stream, checking that frames are contiguous, within the size, and closed by an end frame.
type Reader struct {
	r    *bufio.Reader
	size int64
	next int64
	done bool
	buf  []byte
	hdr  [headerLen]byte
}

// NewReader reads the stream header.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var h [16]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, fmt.Errorf("read clone stream header: %w", truncated(err))
	}
	if string(h[:8]) != magic {
		return nil, fmt.Errorf("not a clone stream (magic %q)", h[:8])
	}
	size := binary.BigEndian.Uint64(h[8:])
	if size > 1<<62 {
		return nil, fmt.Errorf("clone stream announces an impossible size %d", size)
	}
	return &Reader{r: br, size: int64(size)}, nil
}

// Size is the disk size the stream announced.
func (r *Reader) Size() int64 { return r.size }

// Next returns the next frame, io.EOF after the end frame, or an error naming what is wrong with the stream.
func (r *Reader) Next() (Frame, error) {
	if r.done {
		return Frame{}, io.EOF
	}
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Frame{}, fmt.Errorf("read clone frame at byte %d of %d: %w", r.next, r.size, truncated(err))
	}
	typ := r.hdr[0]
	off, n := binary.BigEndian.Uint64(r.hdr[1:9]), binary.BigEndian.Uint64(r.hdr[9:])
	switch {
	case off != uint64(r.next):
		return Frame{}, fmt.Errorf("clone frame at byte %d, expected %d", off, r.next)
	case n > uint64(r.size-r.next):
		return Frame{}, fmt.Errorf("clone frame of %d bytes at %d passes the disk size %d", n, off, r.size)
	}
	f := Frame{Off: r.next, Len: int64(n)}
	switch typ {
	case frameEnd:
		if r.next != r.size || n != 0 {
			return Frame{}, fmt.Errorf("clone stream ends at byte %d of %d", r.next, r.size)
		}
		r.done = true
		return Frame{}, io.EOF
	case frameHole:
		f.Hole = true
	case frameData:
		if n > MaxData {
			return Frame{}, fmt.Errorf("clone data frame of %d bytes exceeds %d", n, MaxData)
		}
		if cap(r.buf) < int(n) {
			r.buf = make([]byte, MaxData)
		}
		f.Data = r.buf[:n]
		if _, err := io.ReadFull(r.r, f.Data); err != nil {
			return Frame{}, fmt.Errorf("read clone data at byte %d of %d: %w", r.next, r.size, truncated(err))
		}
	default:
		return Frame{}, fmt.Errorf("unknown clone frame type %#x at byte %d", typ, r.next)
	}
	r.next += f.Len
	return f, nil
}

// truncated turns an early end of the stream into ErrTruncated, keeping other read failures.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrTruncated
	}
	return err
}
