package qcow2stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/goldimage/goldimage/pkg/convert/inflate"
)

// Extent is a run of the virtual disk: Len bytes at Off, zeros when Data is nil.
type Extent struct {
	Off  int64
	Len  int64
	Data []byte // len(Data) == Len, or nil
}

// Stats tells how much of the stream had to be held because it passed before its table.
type Stats struct {
	HeldPeak       int64 // most bytes held at once (memory and scratch file)
	ScratchWritten int64 // bytes written to the scratch file
}

// Reader yields the virtual disk of a qcow2 stream as extents in increasing order, covering
// [0, Size()) exactly. Call Close when done (it also removes the scratch file).
type Reader struct {
	size    int64
	ordered chan *job
	quit    chan struct{}
	once    sync.Once
	running sync.WaitGroup // producer and workers
	src     *source
	err     error
	// Read's state
	cur  *job
	at   int64 // offset within cur
	pool *sync.Pool
}

// job is one extent on its way from the stream to Next.
type job struct {
	off, n int64
	data   []byte // nil: zeros
	comp   []byte // compressed cluster, decoded into data by a worker
	zstd   bool
	err    error
	done   chan struct{}
}

var errClosed = errors.New("qcow2stream: read from a closed Reader")

// NewReader reads the header of a qcow2 image from r and starts decoding; Size tells the virtual size.
func NewReader(r io.Reader, opts ...Option) (*Reader, error) {
	c := newConfig(opts)
	h, read, err := readHeader(r, c)
	if err != nil {
		return nil, err
	}
	cs := h.clusterSize()
	src := &source{r: r, pos: int64(read), hold: hold{memLimit: c.memLimit, dir: c.scratchDir, maxFile: c.maxScratch, log: c.log}}
	src.ignore = append(src.ignore, [2]int64{src.pos, cs})
	if l1End := (h.l1Offset + int64(h.l1Size)*8 + cs - 1) / cs * cs; h.size > 0 {
		src.ignore = append(src.ignore, [2]int64{h.l1Offset + h.l1Needed()*8, l1End}) // unused L1 entries and padding
	}
	if h.rtOffset > 0 && h.rtOffset%cs == 0 && h.rtClusters > 0 && int64(h.rtClusters) <= maxL1Bytes/cs+1 {
		src.ignore = append(src.ignore, [2]int64{h.rtOffset, h.rtOffset + int64(h.rtClusters)*cs})
	}
	depth := max(2*c.workers, min(64, int((8<<20)/cs)))
	s := &Reader{size: h.size, ordered: make(chan *job, depth), quit: make(chan struct{}), src: src,
		pool: &sync.Pool{New: func() any { return make([]byte, cs) }}}
	// The producer (and the decompression of the stream before it) runs ahead of busy workers.
	work := make(chan *job, depth)
	// A compressed cluster takes at most 2 clusters' bytes.
	comps := &sync.Pool{New: func() any { return make([]byte, 2*cs) }}
	for range c.workers {
		s.running.Go(func() { decodeJobs(work, comps) })
	}
	p := &producer{h: h, src: src, ordered: s.ordered, work: work, quit: s.quit, pool: s.pool, comps: comps}
	s.running.Go(p.run)
	return s, nil
}

// Size returns the virtual size in bytes.
func (s *Reader) Size() int64 { return s.size }

// Next returns the next extent, or io.EOF after the last. Pass data extents to Release when done.
func (s *Reader) Next() (Extent, error) {
	if s.err != nil {
		return Extent{}, s.err
	}
	var j *job
	var ok bool
	select {
	case j, ok = <-s.ordered:
	case <-s.quit:
		return Extent{}, errClosed
	}
	if !ok {
		s.err = io.EOF
		return Extent{}, io.EOF
	}
	<-j.done
	if j.err != nil {
		s.err = j.err
		s.Close()
		return Extent{}, j.err
	}
	return Extent{Off: j.off, Len: j.n, Data: j.data}, nil
}

// Release returns the buffer of a data extent for reuse.
func (s *Reader) Release(e Extent) {
	if e.Data != nil {
		//lint:ignore SA6002 a slice is what the pool hands out; boxing it costs less than the buffer it saves
		s.pool.Put(e.Data[:cap(e.Data)])
	}
}

// Read yields the virtual disk as a byte stream (zeros included).
func (s *Reader) Read(p []byte) (int, error) {
	for s.cur == nil || s.at == s.cur.n {
		if s.cur != nil {
			s.Release(Extent{Data: s.cur.data})
		}
		e, err := s.Next()
		if err != nil {
			s.cur = nil
			return 0, err
		}
		s.cur, s.at = &job{off: e.Off, n: e.Len, data: e.Data}, 0
	}
	n := int(min(int64(len(p)), s.cur.n-s.at))
	if s.cur.data == nil {
		clear(p[:n])
	} else {
		copy(p, s.cur.data[s.at:])
	}
	s.at += int64(n)
	return n, nil
}

// Stats reports what was held; call it after the last extent.
func (s *Reader) Stats() Stats {
	return Stats{HeldPeak: s.src.hold.peak, ScratchWritten: s.src.hold.fileEnd}
}

// Close stops the decoding goroutines, which remove the scratch file as they end (one may first
// finish a blocked read of the stream); it does not close the stream.
func (s *Reader) Close() error {
	s.once.Do(func() { close(s.quit) })
	return nil
}

// decodeJobs decompresses the clusters of jobs and returns their compressed bytes to comps.
func decodeJobs(work <-chan *job, comps *sync.Pool) {
	var dz *zstd.Decoder
	var df inflate.Decoder
	for j := range work {
		j.err = decodeCluster(j, &df, &dz)
		//lint:ignore SA6002 a slice is what the pool hands out; boxing it costs less than the buffer it saves
		comps.Put(j.comp[:cap(j.comp)])
		j.comp = nil
		close(j.done)
	}
	if dz != nil {
		dz.Close()
	}
}

func decodeCluster(j *job, df *inflate.Decoder, dz **zstd.Decoder) error {
	if !j.zstd {
		n, err := df.DecodeBytes(j.data, j.comp)
		if err != nil && err != io.EOF || n < len(j.data) {
			return corruptf("deflate cluster at guest offset %d: %d of %d bytes: %v", j.off, n, len(j.data), err)
		}
		return nil
	}
	if *dz == nil {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(8<<20))
		if err != nil {
			return fmt.Errorf("zstd decoder: %w", err)
		}
		*dz = d
	}
	if err := (*dz).Reset(bytes.NewReader(j.comp)); err != nil {
		return corruptf("zstd cluster at guest offset %d: %v", j.off, err)
	}
	if n, err := io.ReadFull(*dz, j.data); err != nil {
		return corruptf("zstd cluster at guest offset %d: %d of %d bytes: %v", j.off, n, len(j.data), err)
	}
	return nil
}

// producer walks the L1 and L2 tables in guest order, fetching tables and clusters from the source.
type producer struct {
	h       *header
	src     *source
	ordered chan<- *job
	work    chan<- *job
	quit    <-chan struct{}
	pool    *sync.Pool // cluster buffers
	comps   *sync.Pool // compressed-cluster buffers, 2 clusters each
	zeroAt  int64      // start of the pending zero run
	zeroEnd int64
}

const offsetMask = 0x00fffffffffffe00 // bits 9..55 of L1 and standard L2 entries

func (p *producer) run() {
	err := p.walk()
	if err == nil {
		err = p.flushZeros()
	}
	close(p.work)
	p.src.hold.close() // before Next sees the end, so that no scratch file outlives it
	if err == nil {
		close(p.ordered)
		return
	}
	j := &job{err: err, done: make(chan struct{})}
	close(j.done)
	select {
	case p.ordered <- j:
	case <-p.quit:
	}
}

func (p *producer) walk() error {
	h := p.h
	if h.size == 0 {
		return nil
	}
	l1 := make([]byte, h.l1Needed()*8)
	if _, err := p.src.fetch(l1, h.l1Offset, false, 0); err != nil {
		return fmt.Errorf("read L1 table: %w", err)
	}
	cs := h.clusterSize()
	eb := h.entryBytes()
	perL2 := cs / eb
	tbl := make([]byte, cs)
	for k := range h.l1Needed() {
		start := k * perL2 * cs
		end := min(start+perL2*cs, h.size)
		l2 := int64(binary.BigEndian.Uint64(l1[k*8:]) & offsetMask)
		if l2 == 0 {
			p.zeros(start, end)
			continue
		}
		if l2%cs != 0 {
			return corruptf("L2 table offset %d is not cluster aligned", l2)
		}
		if _, err := p.src.fetch(tbl, l2, false, 0); err != nil {
			return fmt.Errorf("read L2 table %d: %w", k, err)
		}
		for j, off := int64(0), start; off < end; j, off = j+1, off+cs {
			var bitmap uint64
			if h.extL2 {
				bitmap = binary.BigEndian.Uint64(tbl[j*eb+8:])
			}
			if err := p.cluster(binary.BigEndian.Uint64(tbl[j*eb:]), bitmap, off, min(cs, end-off)); err != nil {
				return err
			}
		}
	}
	return nil
}

// cluster handles one L2 entry (with its subcluster bitmap for extended L2) for the n guest bytes at off.
func (p *producer) cluster(e, bitmap uint64, off, n int64) error {
	h := p.h
	if e&(1<<62) != 0 {
		return p.compressed(e, off, n)
	}
	host := int64(e & offsetMask)
	if host == 0 || h.v3 && !h.extL2 && e&1 != 0 || h.extL2 && uint32(bitmap) == 0 {
		p.zeros(off, off+n)
		return nil
	}
	if host%h.clusterSize() != 0 {
		return corruptf("cluster at guest offset %d maps to unaligned host offset %d", off, host)
	}
	if err := p.flushZeros(); err != nil {
		return err
	}
	data := p.pool.Get().([]byte)[:n]
	need := n
	if h.extL2 { // the host cluster may end after its last allocated subcluster
		sub := h.clusterSize() / 32
		need = min(n, int64(bits.Len32(uint32(bitmap)))*sub)
	}
	if _, err := p.src.fetch(data[:need], host, false, 0); err != nil {
		return fmt.Errorf("read cluster at guest offset %d: %w", off, err)
	}
	if h.extL2 { // subclusters not allocated read as zeros (there is no backing file)
		clear(data[need:])
		sub := h.clusterSize() / 32
		for i := range int64(32) {
			if bitmap&(1<<i) == 0 && i*sub < n {
				clear(data[i*sub : min(n, (i+1)*sub)])
			}
		}
	}
	j := &job{off: off, n: n, data: data, done: make(chan struct{})}
	close(j.done)
	return p.send(j, false)
}

func (p *producer) compressed(e uint64, off, n int64) error {
	h := p.h
	x := 62 - (h.clusterBits - 8)
	host := int64(e & (1<<x - 1))
	sectors := int64(e>>x&(1<<(h.clusterBits-8)-1)) + 1
	size := sectors*512 - host&511
	if host == 0 || size <= 0 || size > 2*h.clusterSize() {
		return corruptf("compressed cluster at guest offset %d: host offset %d, %d bytes", off, host, size)
	}
	if err := p.flushZeros(); err != nil {
		return err
	}
	comp := p.comps.Get().([]byte)[:size]
	k, err := p.src.fetch(comp, host, true, int(min(size, 512)))
	if err != nil {
		return fmt.Errorf("read compressed cluster at guest offset %d: %w", off, err)
	}
	j := &job{off: off, n: n, data: p.pool.Get().([]byte)[:n], comp: comp[:k], zstd: h.zstd, done: make(chan struct{})}
	return p.send(j, true)
}

// zeros extends the pending zero run, which always ends where [from, to) starts, or starts one.
func (p *producer) zeros(from, to int64) {
	if p.zeroEnd == p.zeroAt {
		p.zeroAt = from
	}
	p.zeroEnd = to
}

// flushZeros sends the pending zero run.
func (p *producer) flushZeros() error {
	if p.zeroEnd <= p.zeroAt {
		return nil
	}
	j := &job{off: p.zeroAt, n: p.zeroEnd - p.zeroAt, done: make(chan struct{})}
	close(j.done)
	p.zeroAt = p.zeroEnd
	return p.send(j, false)
}

func (p *producer) send(j *job, decode bool) error {
	select {
	case p.ordered <- j:
	case <-p.quit:
		return errClosed
	}
	if decode {
		select {
		case p.work <- j:
		case <-p.quit:
			return errClosed
		}
	}
	return nil
}
