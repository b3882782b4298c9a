package forward

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrNotForward marks a read the stream cannot serve: behind what it has passed and no longer
// kept, or past the keep limit while keeping.
var ErrNotForward = errors.New("not readable from a forward-only stream")

// Reader is an io.ReaderAt over a stream read once. While keeping (from New until StopKeeping),
// every byte passed is kept, so reads may go anywhere below the keep limit; afterwards each read
// must start at or after the position the previous one ended at. Safe for concurrent use, though
// concurrent readers of one stream only make sense while keeping.
type Reader struct {
	mu        sync.Mutex
	r         io.Reader
	pos       int64 // stream bytes consumed
	kept      []byte
	keeping   bool
	keepLimit int64
	err       error // sticky error of r
}

// New returns a Reader over r that keeps up to keepLimit bytes from the start of the stream.
func New(r io.Reader, keepLimit int64) *Reader {
	return &Reader{r: r, keeping: true, keepLimit: keepLimit}
}

// Pos returns how many bytes of the stream have been consumed.
func (f *Reader) Pos() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

// StopKeeping drops the kept bytes; from now on reads must go forward.
func (f *Reader) StopKeeping() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keeping, f.kept = false, nil
}

// Replay returns the whole stream from its start: the kept bytes, then the rest. It fails once
// StopKeeping was called. The Reader must not be used afterwards.
func (f *Reader) Replay() (io.Reader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.keeping {
		return nil, fmt.Errorf("replay after %d bytes were dropped: %w", f.pos, ErrNotForward)
	}
	rest := f.r
	if f.err != nil && !errors.Is(f.err, io.ErrUnexpectedEOF) {
		rest = errReader{f.err}
	} else if f.err != nil {
		rest = bytes.NewReader(nil)
	}
	return io.MultiReader(bytes.NewReader(f.kept), rest), nil
}

// ReadAt reads len(p) bytes at off. Short of the stream's end it returns the bytes there were and
// an error wrapping io.ErrUnexpectedEOF that says where the stream ended.
func (f *Reader) ReadAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	n := 0
	if off < f.pos {
		if !f.keeping {
			return 0, fmt.Errorf("offset %d is behind the stream, already at %d: %w", off, f.pos, ErrNotForward)
		}
		n = copy(p, f.kept[off:])
		if n == len(p) {
			return n, nil
		}
	}
	end := off + int64(len(p))
	if f.keeping && end > f.keepLimit {
		return 0, fmt.Errorf("bytes up to offset %d would be kept, more than the limit of %d: %w", end, f.keepLimit, ErrNotForward)
	}
	if err := f.skip(off + int64(n)); err != nil {
		return n, err
	}
	m, err := f.read(p[n:])
	return n + m, err
}

// skip consumes the stream up to offset to.
func (f *Reader) skip(to int64) error {
	for f.pos < to {
		var buf [32 << 10]byte
		if _, err := f.read(buf[:min(int64(len(buf)), to-f.pos)]); err != nil && f.pos < to {
			return err
		}
	}
	return nil
}

// read consumes len(p) bytes of the stream into p, keeping them if keeping.
func (f *Reader) read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := io.ReadFull(f.r, p)
	f.pos += int64(n)
	if f.keeping {
		f.kept = append(f.kept, p[:n]...)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = fmt.Errorf("the stream ends at offset %d: %w", f.pos, io.ErrUnexpectedEOF)
	}
	if err != nil {
		f.err = err
	}
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
