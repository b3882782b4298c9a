package readahead

import (
	"io"
	"sync"
)

// chunkSize and depth size the buffers a Reader fills ahead of its consumer: at most depth+1
// chunks of chunkSize bytes are held.
const (
	chunkSize = 1 << 20
	depth     = 4
)

// Reader reads its source on a goroutine of its own. Close it to stop that goroutine.
type Reader struct {
	src    io.Reader
	closer io.Closer
	chunks chan raChunk
	free   chan []byte
	quit   chan struct{}
	once   sync.Once
	cur    raChunk
	off    int
}

type raChunk struct {
	b   []byte
	err error
}

// New starts reading src ahead; closer is what Close closes to end a read src is blocked in (src
// itself, or the connection under a reader that wraps it). Each of the source's Reads is passed on
// as it returns, never gathered into a full chunk, so a stalled or slow source never holds back
// bytes it delivered.
func New(src io.Reader, closer io.Closer) *Reader {
	r := &Reader{src: src, closer: closer, chunks: make(chan raChunk, depth), free: make(chan []byte, depth+1),
		quit: make(chan struct{})}
	for range depth + 1 {
		r.free <- make([]byte, chunkSize)
	}
	go r.fill()
	return r
}

func (r *Reader) fill() {
	for {
		var buf []byte
		select {
		case buf = <-r.free:
		case <-r.quit:
			return
		}
		// One Read, not ReadFull: bytes that arrived are passed on at once, so a stalled or slow
		// server never holds back up to a chunk that was already received.
		n, err := r.src.Read(buf)
		if n == 0 && err == nil {
			r.free <- buf
			continue
		}
		select {
		case r.chunks <- raChunk{b: buf[:n], err: err}:
		case <-r.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// Read returns the bytes read ahead, then the source's error (io.EOF at its end).
func (r *Reader) Read(p []byte) (int, error) {
	for r.off == len(r.cur.b) {
		if r.cur.err != nil {
			return 0, r.cur.err
		}
		if r.cur.b != nil {
			r.free <- r.cur.b[:cap(r.cur.b)]
		}
		r.cur, r.off = <-r.chunks, 0
	}
	n := copy(p, r.cur.b[r.off:])
	r.off += n
	return n, nil
}

// Close stops the goroutine and closes the closer, which ends a read the source is blocked in.
func (r *Reader) Close() error {
	r.once.Do(func() { close(r.quit) })
	return r.closer.Close()
}
