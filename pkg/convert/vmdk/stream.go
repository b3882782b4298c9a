package vmdk

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Metadata marker types of streamOptimized images.
const (
	markerEOS    = 0
	markerGT     = 1
	markerGD     = 2
	markerFooter = 3
)

// StreamReader reads a streamOptimized VMDK strictly sequentially and yields its raw virtual
// disk, zero-filling gaps between grains, so an HTTP or registry stream needs no scratch space.
// Grains are decompressed by a few goroutines ahead of Read; memory stays a few grains per worker.
//
// Streaming is impossible, and Read fails with a clear error, when the image is not
// streamOptimized (no compressed grains with markers), when grains are not stored in
// increasing LBA order, or when the stream ends before its end-of-stream marker. qemu-img (7.2)
// writes no such marker: it keeps the grain directory in front of the grains and ends the file
// after the last grain, sometimes with zero padding that reads as one. So for images whose header
// places the grain directory in front, a stream ending cleanly where a marker would start ends the
// image too (the rest reads as zeros); images with the directory at the end (VMware's layout, with
// footer) must end with the marker.
// Close stops its goroutines when abandoning a StreamReader before io.EOF; otherwise they stop
// once the StreamReader is garbage collected.
type StreamReader struct {
	size       int64
	grainBytes int64
	pos        int64  // next virtual offset Read returns
	next       int64  // virtual offset of buf[0]; zeros are due from pos up to next
	buf        []byte // the current decompressed grain
	err        error
	ordered    chan *grainJob // grains in stream order; closed after the last
	*stopper
}

// stopper ends the goroutines of a StreamReader; it does not refer to the StreamReader, so a
// cleanup can stop the goroutines of a reader dropped without Close.
type stopper struct {
	quit    chan struct{}
	once    sync.Once
	running sync.WaitGroup // producer and workers
}

func (st *stopper) stop() { st.once.Do(func() { close(st.quit) }) }

var errClosed = errors.New("vmdk: read from a closed StreamReader")

// grainJob is one grain on its way from the stream to Read.
type grainJob struct {
	start int64  // virtual offset
	comp  []byte // deflate stream
	data  []byte // decompressed grain, clipped to the virtual size
	err   error
	done  chan struct{} // closed when data or err is ready
}

// NewStreamReader reads the header and descriptor of a streamOptimized VMDK from r and returns
// a reader of its virtual disk; Size tells how many bytes it yields. Options as for Open.
func NewStreamReader(r io.Reader, opts ...Option) (*StreamReader, error) {
	c := newConfig(opts)
	br := bufio.NewReaderSize(r, 256<<10)
	b := make([]byte, sectorSize)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, fmt.Errorf("vmdk: read header: %w", err)
	}
	h, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	if err := h.validate(c); err != nil {
		return nil, err
	}
	if h.flags&flagCompressed == 0 {
		return nil, fmt.Errorf("vmdk: only streamOptimized images can be streamed; this one needs random access: %w", ErrUnsupported)
	}
	if err := skipOverhead(br, h); err != nil {
		return nil, err
	}
	s := &StreamReader{size: h.size(), grainBytes: h.grainBytes(),
		ordered: make(chan *grainJob, 2*c.workers), stopper: &stopper{quit: make(chan struct{})}}
	runtime.AddCleanup(s, (*stopper).stop, s.stopper)
	work := make(chan *grainJob, c.workers)
	for range c.workers {
		s.running.Go(func() { inflateJobs(work) })
	}
	p := &producer{r: br, size: s.size, grainBytes: s.grainBytes, ordered: s.ordered, work: work, quit: s.quit,
		eofEnds: h.gdOffset != gdAtEnd}
	s.running.Go(p.run)
	return s, nil
}

// skipOverhead consumes everything before the first marker, checking the embedded descriptor.
func skipOverhead(br *bufio.Reader, h header) error {
	if h.overhead < 1 || h.overhead > 1<<50 {
		return fmt.Errorf("vmdk: header reports %d sectors of metadata before the first grain", h.overhead)
	}
	if h.descriptorOffset < 1 || h.descriptorSize == 0 || h.descriptorSize > h.overhead || h.descriptorOffset > h.overhead-h.descriptorSize {
		return fmt.Errorf("vmdk: no embedded descriptor before the first grain: %w", ErrExternalExtent)
	}
	if _, err := io.CopyN(io.Discard, br, int64(h.descriptorOffset-1)*sectorSize); err != nil {
		return fmt.Errorf("vmdk: skip to descriptor: %w", err)
	}
	d := make([]byte, min(h.descriptorSize, maxDescriptorLen/sectorSize)*sectorSize)
	if _, err := io.ReadFull(br, d); err != nil {
		return fmt.Errorf("vmdk: read descriptor: %w", err)
	}
	if err := checkDescriptor(string(d[:indexZero(d)]), h.capacity); err != nil {
		return err
	}
	rest := (h.overhead-h.descriptorOffset)*sectorSize - uint64(len(d))
	if _, err := io.CopyN(io.Discard, br, int64(rest)); err != nil {
		return fmt.Errorf("vmdk: skip %d bytes of metadata before the first grain: %w", rest, err)
	}
	return nil
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}

// Size returns the virtual size in bytes.
func (s *StreamReader) Size() int64 { return s.size }

// Read yields the next bytes of the virtual disk.
func (s *StreamReader) Read(p []byte) (int, error) {
	select {
	case <-s.quit:
		return 0, errClosed
	default:
	}
	for s.pos >= s.next+int64(len(s.buf)) {
		if s.pos >= s.size {
			return 0, io.EOF
		}
		if s.err != nil {
			return 0, s.err
		}
		s.err = s.advance()
	}
	var n int
	if s.pos < s.next {
		n = int(min(int64(len(p)), s.next-s.pos))
		clear(p[:n])
	} else {
		n = copy(p, s.buf[s.pos-s.next:])
	}
	s.pos += int64(n)
	return n, nil
}

// advance moves to the next decompressed grain, or past the end after the last one.
func (s *StreamReader) advance() error {
	putGrain(s.buf)
	s.buf = nil
	var job *grainJob
	var ok bool
	select {
	case job, ok = <-s.ordered:
	case <-s.quit:
		return errClosed
	}
	if !ok {
		s.next = s.size
		return nil
	}
	<-job.done
	if job.err != nil {
		s.Close()
		return job.err
	}
	s.next, s.buf = job.start, job.data
	return nil
}

// Close stops the goroutines decompressing ahead of Read (one may finish a blocked read of the
// source first); it does not close the source.
func (s *StreamReader) Close() error {
	s.stop()
	return nil
}

func inflateJobs(work <-chan *grainJob) {
	for job := range work {
		if err := decompress(job.data, job.comp); err != nil {
			job.err = fmt.Errorf("vmdk: decompress grain at LBA %d: %w", job.start/sectorSize, err)
		}
		putBuf(job.comp)
		close(job.done)
	}
}

// producer parses markers sequentially and hands grains to the workers and to Read, in order.
type producer struct {
	r          *bufio.Reader
	size       int64
	grainBytes int64
	end        int64 // virtual end of the last grain
	eofEnds    bool  // a clean end of the stream stands for the end-of-stream marker
	ordered    chan<- *grainJob
	work       chan<- *grainJob
	quit       <-chan struct{}
}

func (p *producer) run() {
	defer close(p.work)
	for {
		job, err := p.nextGrain()
		if job == nil && err == nil {
			close(p.ordered)
			return
		}
		if err != nil {
			job = &grainJob{err: err, done: make(chan struct{})}
			close(job.done)
		}
		select {
		case p.ordered <- job:
		case <-p.quit:
			return
		}
		if err != nil {
			return
		}
		select {
		case p.work <- job:
		case <-p.quit:
			return
		}
	}
}

// nextGrain reads markers up to the next grain; it returns nil, nil at the end-of-stream marker
// (or at a clean end of the stream, see eofEnds).
func (p *producer) nextGrain() (*grainJob, error) {
	var m [sectorSize]byte
	for {
		if _, err := io.ReadFull(p.r, m[:]); err != nil {
			if err == io.EOF && p.eofEnds {
				return nil, nil
			}
			return nil, fmt.Errorf("vmdk: stream ended before its end-of-stream marker: %w", err)
		}
		val := binary.LittleEndian.Uint64(m[:])
		if size := binary.LittleEndian.Uint32(m[8:]); size != 0 {
			return p.readGrain(m[:], val, size)
		}
		switch typ := binary.LittleEndian.Uint32(m[12:]); typ {
		case markerEOS:
			return nil, nil
		case markerGT, markerGD, markerFooter:
			if val > uint64(p.size) {
				return nil, fmt.Errorf("vmdk: metadata marker of type %d claims %d sectors", typ, val)
			}
			if _, err := io.CopyN(io.Discard, p.r, int64(val)*sectorSize); err != nil {
				return nil, fmt.Errorf("vmdk: skip metadata of type %d: %w", typ, err)
			}
		default:
			return nil, fmt.Errorf("vmdk: unknown marker type %d", typ)
		}
	}
}

func (p *producer) readGrain(sector []byte, lba uint64, size uint32) (*grainJob, error) {
	if lba >= uint64(p.size)/sectorSize || int64(lba)*sectorSize < p.end {
		return nil, fmt.Errorf("vmdk: grain at LBA %d out of order or past the end; streaming needs grains in increasing order", lba)
	}
	if int64(size) > maxCompressed(p.grainBytes) {
		return nil, fmt.Errorf("vmdk: grain at LBA %d has bad compressed size %d", lba, size)
	}
	comp := getBuf(int(size))
	n := copy(comp, sector[12:])
	if rest := (12 + int(size) + sectorSize - 1) / sectorSize * sectorSize; rest > sectorSize {
		if _, err := io.ReadFull(p.r, comp[n:]); err != nil {
			return nil, fmt.Errorf("vmdk: read grain at LBA %d: %w", lba, err)
		}
		if _, err := p.r.Discard(rest - sectorSize - (int(size) - n)); err != nil {
			return nil, fmt.Errorf("vmdk: read grain at LBA %d: %w", lba, err)
		}
	}
	start := int64(lba) * sectorSize
	p.end = start + min(p.grainBytes, p.size-start)
	return &grainJob{start: start, comp: comp, data: getGrain(int(p.end - start)), done: make(chan struct{})}, nil
}
