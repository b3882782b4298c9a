package decompress

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// parseFrameHeader reads a frame's magic and header, or a skippable frame, at the start of the
// stream or after a frame's end; the clean end of the stream there is io.EOF.
func (f *runFilter) parseFrameHeader() error {
	m, err := f.src.Peek(4)
	if len(m) == 0 && err == io.EOF {
		return io.EOF
	}
	if err != nil {
		return unexpected(err)
	}
	magic := binary.LittleEndian.Uint32(m)
	if magic&0xFFFFFFF0 == skippableMagic {
		return f.skipFrame()
	}
	if magic != zstdMagic {
		return fmt.Errorf("zstd: no frame magic number (%#08x) where a frame starts", magic)
	}
	if _, err := f.src.Discard(4); err != nil {
		return unexpected(err)
	}
	d, err := f.src.ReadByte()
	if err != nil {
		return unexpected(err)
	}
	if d&0x08 != 0 {
		return errors.New("zstd: reserved bit set in a frame header")
	}
	fcsFlag, single, hasSum, dictFlag := d>>6, d&0x20 != 0, d&0x04 != 0, d&3
	fcsBytes := [4]int{0, 2, 4, 8}[fcsFlag]
	if single && fcsFlag == 0 {
		fcsBytes = 1
	}
	windowBytes := 1
	if single {
		windowBytes = 0
	}
	rest, err := f.readFull(windowBytes + [4]int{0, 1, 2, 4}[dictFlag] + fcsBytes)
	if err != nil {
		return err
	}
	info := &frameInfo{hasSum: hasSum, fcs: contentSize(rest[len(rest)-fcsBytes:])}
	f.frame, f.last, f.window = info, false, 0 // window 0: no run is dropped
	f.queue = append(f.queue, item{event: func() { f.events.frameStart(info) }})
	if single || !hasSum {
		f.emit(append([]byte{0x28, 0xb5, 0x2f, 0xfd, d}, rest...))
		return nil
	}
	f.window = windowSize(rest[0])
	// The content size goes: the decoder would compare it with its output, which the dropped runs shorten.
	f.emit(append([]byte{0x28, 0xb5, 0x2f, 0xfd, d & 0x3f}, rest[:len(rest)-fcsBytes]...))
	return nil
}

// contentSize decodes a Frame_Content_Size field of 0, 1, 2, 4 or 8 bytes.
func contentSize(b []byte) int64 {
	switch len(b) {
	case 1:
		return int64(b[0])
	case 2:
		return int64(binary.LittleEndian.Uint16(b)) + 256
	case 4:
		return int64(binary.LittleEndian.Uint32(b))
	case 8:
		if v := binary.LittleEndian.Uint64(b); v < 1<<62 {
			return int64(v)
		}
	}
	return fcsUnknown
}

// windowSize decodes a Window_Descriptor.
func windowSize(b byte) int64 {
	base := int64(1) << (10 + b>>3)
	return base + base/8*int64(b&7)
}

// skipFrame passes a skippable frame on whole.
func (f *runFilter) skipFrame() error {
	h, err := f.readFull(8)
	if err != nil {
		return err
	}
	f.emit(h)
	f.queue = append(f.queue, item{direct: int64(binary.LittleEndian.Uint32(h[4:]))})
	return nil
}

// parseFrameEnd passes the frame's checksum, noting its value for runReader.
func (f *runFilter) parseFrameEnd() error {
	if f.frame.hasSum {
		b, err := f.readFull(4)
		if err != nil {
			return err
		}
		f.frame.sum = binary.LittleEndian.Uint32(b)
		f.emit(b)
	}
	f.frame = nil
	return nil
}

// parseBlock reads a block header: RLE blocks join the pending run, any other block ends it.
func (f *runFilter) parseBlock() error {
	h, err := f.readFull(blockHeaderSize)
	if err != nil {
		return err
	}
	v := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
	last, typ, size := v&1 != 0, (v>>1)&3, int64(v>>3)
	if typ == blockReserved {
		return errors.New("zstd: reserved block type")
	}
	if typ == blockRLE && !last && size <= maxZstdBlock {
		b, err := f.src.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		f.addRLE(b, size)
		return nil
	}
	f.endRun()
	f.last = last
	f.emit(h)
	if typ == blockRLE {
		size = 1
	}
	if size > 0 {
		f.queue = append(f.queue, item{direct: size})
	}
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// addRLE adds an RLE block to the pending run, dropping its oldest blocks once the newer ones
// cover the window and one block more.
func (f *runFilter) addRLE(v byte, size int64) {
	r := &f.run
	if len(r.sizes) > 0 && v != r.v {
		f.endRun()
	}
	r.v = v
	r.sizes = append(r.sizes, size)
	r.total += size
	for keep := f.window + min(f.window, maxZstdBlock); f.window > 0 && len(r.sizes) > 1 && r.total-r.sizes[0] >= keep; {
		r.dropped += r.sizes[0]
		r.total -= r.sizes[0]
		r.sizes = r.sizes[1:]
	}
	if len(r.sizes) > maxRunBlocks { // tiny blocks: pass the oldest on rather than hold them all
		f.emitInsert()
		f.emitRLE(r.sizes[0])
		r.total -= r.sizes[0]
		r.sizes = r.sizes[1:]
	}
}

// endRun hands on the pending run: the insertion of what was dropped, then the kept blocks.
func (f *runFilter) endRun() {
	f.emitInsert()
	for _, s := range f.run.sizes {
		f.emitRLE(s)
	}
	f.run = rleRun{sizes: f.run.sizes[:0]}
}

func (f *runFilter) emitInsert() {
	if n, v := f.run.dropped, f.run.v; n > 0 {
		f.queue = append(f.queue, item{event: func() { f.events.insert(n, v) }})
		f.run.dropped = 0
	}
}

// emitRLE hands on a kept RLE block as the raw block of the same bytes, which the decoder copies
// rather than fills a byte at a time.
func (f *runFilter) emitRLE(size int64) {
	h := uint32(size) << 3 // Last_Block 0, Block_Type 0 (raw)
	f.emit([]byte{byte(h), byte(h >> 8), byte(h >> 16)})
	f.queue = append(f.queue, item{fill: size, v: f.run.v})
}
