package decompress

import (
	"bufio"
	"io"
)

// A zstd stream stores a run of equal bytes (the zeros of a disk image, as the zstd command
// writes them) as RLE blocks of at most 128 KiB, which klauspost/compress expands a byte at a time
// and then copies into its history. runFilter sits between the compressed stream and the decoder
// and keeps long runs from reaching it: of a run of RLE blocks of one byte value, only the last
// blocks covering the frame's window (plus one block) go on to the decoder, as raw blocks of the
// same bytes, which it copies instead of filling, so that every later
// back-reference still finds the same bytes in its history; the blocks before them are dropped and
// their length handed to runReader, which inserts that many bytes of the value into the decoded
// output at the point the decoder reaches the kept blocks. The frame's checksum, which covers the
// whole content, is then checked by runReader instead of the decoder, and a frame content size,
// which the decoder would compare with its shorter output, is taken out of the frame header and
// checked by runReader too. Frames without a checksum, or of a single segment, drop nothing; their
// RLE blocks become raw blocks too.

const (
	zstdMagic       = 0xFD2FB528
	skippableMagic  = 0x184D2A50 // to 0x184D2A5F
	blockRLE        = 1
	blockReserved   = 3
	maxRunBlocks    = 1 << 16 // pending RLE blocks held before the oldest passes on undropped
	maxZstdBlock    = 128 << 10
	fcsUnknown      = -1
	blockHeaderSize = 3
)

// frameInfo is what runFilter learns about a frame for runReader's checks.
type frameInfo struct {
	hasSum bool
	sum    uint32 // set once the filter passes the frame's end
	fcs    int64  // frame content size, fcsUnknown if absent
}

// item is the next thing runFilter hands the decoder: bytes, payload bytes read straight from
// the source, fill bytes of value v, or an event that runs when the decoder asks for what follows it.
type item struct {
	b      []byte
	direct int64
	fill   int64
	v      byte
	event  func()
}

// runFilter rewrites a zstd stream for the decoder as described above.
type runFilter struct {
	src    *bufio.Reader
	queue  []item
	events runEvents
	err    error
	frame  *frameInfo
	window int64 // of the current frame; 0 when its runs pass unchanged
	run    rleRun
	last   bool // the current frame's last block was parsed
}

// runEvents receives the filter's events in stream order, each when the decoder reaches it.
type runEvents interface {
	frameStart(f *frameInfo)
	insert(n int64, v byte)
}

// rleRun is a run of RLE blocks of one value not yet handed on.
type rleRun struct {
	v       byte
	sizes   []int64 // of the pending blocks, oldest first
	total   int64   // sum of sizes
	dropped int64
}

func newRunFilter(src io.Reader, ev runEvents) *runFilter {
	return &runFilter{src: bufio.NewReaderSize(src, 64<<10), events: ev}
}

// Read hands the decoder the rewritten stream. An event runs when the decoder asks for the bytes
// after it, and a read ends before an event, so that it runs no earlier.
func (f *runFilter) Read(p []byte) (int, error) {
	for {
		for len(f.queue) == 0 {
			if f.err != nil {
				return 0, f.err
			}
			f.err = f.parse()
		}
		it := &f.queue[0]
		if it.event == nil {
			break
		}
		it.event()
		f.queue = f.queue[1:]
	}
	it := &f.queue[0]
	if it.fill > 0 {
		n := int(min(int64(len(p)), it.fill))
		fillBytes(p[:n], it.v)
		if it.fill -= int64(n); it.fill == 0 {
			f.queue = f.queue[1:]
		}
		return n, nil
	}
	if it.direct > 0 {
		n, err := f.src.Read(p[:min(int64(len(p)), it.direct)])
		it.direct -= int64(n)
		if it.direct == 0 {
			f.queue = f.queue[1:]
		}
		return n, unexpected(err)
	}
	n := copy(p, it.b)
	it.b = it.b[n:]
	if len(it.b) == 0 {
		f.queue = f.queue[1:]
	}
	return n, nil
}

// parse reads the next structure of the stream and queues what the decoder gets of it.
func (f *runFilter) parse() error {
	if f.frame == nil {
		return f.parseFrameHeader()
	}
	if f.last {
		return f.parseFrameEnd()
	}
	return f.parseBlock()
}

func (f *runFilter) emit(b []byte) { f.queue = append(f.queue, item{b: b}) }

// readFull reads n bytes of the source; the stream ending first is an unexpected EOF.
func (f *runFilter) readFull(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(f.src, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// fillBytes sets every byte of p to v.
func fillBytes(p []byte, v byte) {
	if v == 0 {
		clear(p)
		return
	}
	if len(p) > 0 {
		p[0] = v
		for n := 1; n < len(p); n *= 2 {
			copy(p[n:], p[:n])
		}
	}
}
