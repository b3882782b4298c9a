package decompress

import (
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
)

// runReader is the decoded stream with the runs runFilter dropped put back, each frame's checksum
// and content size checked.
type runReader struct {
	dec     *zstd.Decoder
	filter  *runFilter
	inserts []insertion // due before any more decoded bytes
	held    []byte      // decoded bytes that came after an insertion, in the same read
	pending error       // the decoder's error that came with the held bytes
	err     error
	frame   *frameInfo
	hash    *xxhash.Digest
	n       int64 // content bytes of the frame so far
}

type insertion struct {
	n int64
	v byte
}

// newZstdRunReader decodes r with klauspost/compress and runFilter in front of it.
func newZstdRunReader(r io.Reader, opts ...zstd.DOption) (*runReader, error) {
	rr := &runReader{hash: xxhash.New()}
	rr.filter = newRunFilter(r, rr)
	d, err := zstd.NewReader(rr.filter, append(opts, zstd.IgnoreChecksum(true))...)
	if err != nil {
		return nil, err
	}
	rr.dec = d
	return rr, nil
}

func (r *runReader) Close() { r.dec.Close() }

func (r *runReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(r.inserts) > 0 {
		return r.readInsertion(p), nil
	}
	if len(r.held) > 0 {
		n := copy(p, r.held)
		r.held = r.held[n:]
		r.count(p[:n])
		return n, nil
	}
	if r.pending != nil { // the decoder's error that came with the held bytes
		r.err, r.pending = r.end(r.pending), nil
	}
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.dec.Read(p)
	if r.err != nil { // a frame that ended failed its checks (frameStart)
		return 0, r.err
	}
	if len(r.inserts) > 0 && n > 0 { // the insertion came first: hold these bytes back
		r.held, r.pending = append(r.held[:0], p[:n]...), err
		return r.readInsertion(p), nil
	}
	r.count(p[:n])
	r.err = r.end(err)
	return n, r.err
}

// end checks the last frame when the decoder reports the stream's end, and that the filter saw the
// stream end cleanly too (the decoder takes a stream cut inside a frame's magic for its end).
func (r *runReader) end(err error) error {
	if err == io.EOF && r.filter.err != nil && r.filter.err != io.EOF {
		return r.filter.err
	}
	if err == io.EOF {
		if ferr := r.finishFrame(); ferr != nil {
			return ferr
		}
	}
	return err
}

// readInsertion fills p from the first pending insertion.
func (r *runReader) readInsertion(p []byte) int {
	in := &r.inserts[0]
	n := int(min(int64(len(p)), in.n))
	fillBytes(p[:n], in.v)
	in.n -= int64(n)
	if in.n == 0 {
		r.inserts = r.inserts[1:]
	}
	r.count(p[:n])
	return n
}

func (r *runReader) count(b []byte) {
	if r.frame != nil && r.frame.hasSum {
		_, _ = r.hash.Write(b)
	}
	r.n += int64(len(b))
}

// frameStart (runEvents) checks the frame that ended, whose bytes have all been read.
func (r *runReader) frameStart(f *frameInfo) {
	if err := r.finishFrame(); err != nil && r.err == nil {
		r.err = err
	}
	r.frame, r.n = f, 0
	r.hash.Reset()
}

// insert (runEvents) queues n bytes of v before the decoded bytes that follow.
func (r *runReader) insert(n int64, v byte) { r.inserts = append(r.inserts, insertion{n, v}) }

// finishFrame checks the content size and checksum of the current frame.
func (r *runReader) finishFrame() error {
	f := r.frame
	r.frame = nil
	switch {
	case f == nil:
		return nil
	case f.fcs != fcsUnknown && f.fcs != r.n:
		return fmt.Errorf("zstd: frame decodes to %d bytes, its header says %d", r.n, f.fcs)
	case f.hasSum && uint32(r.hash.Sum64()) != f.sum:
		return fmt.Errorf("zstd: frame checksum %08x does not match its content's %08x", f.sum, uint32(r.hash.Sum64()))
	}
	return nil
}
