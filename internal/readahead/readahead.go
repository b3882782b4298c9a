package registry

import (
	"io"
	"sync"
)

// readAheadChunk and readAheadDepth size the buffers a readAhead fills ahead of its reader.
const (
	readAheadChunk = 1 << 20
	readAheadDepth = 4
)

// readAhead reads its source (a layer body and its digest check) on a goroutine of its own, so that
// receiving and hashing the bytes overlaps with decompressing and converting them on another core.
type readAhead struct {
	src    io.ReadCloser
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

func newReadAhead(src io.ReadCloser) *readAhead {
	r := &readAhead{src: src, chunks: make(chan raChunk, readAheadDepth), free: make(chan []byte, readAheadDepth+1),
		quit: make(chan struct{})}
	for range readAheadDepth + 1 {
		r.free <- make([]byte, readAheadChunk)
	}
	go r.fill()
	return r
}

func (r *readAhead) fill() {
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
func (r *readAhead) Read(p []byte) (int, error) {
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

// Close stops the goroutine and closes the source, which ends a read it is blocked in.
func (r *readAhead) Close() error {
	r.once.Do(func() { close(r.quit) })
	return r.src.Close()
}
