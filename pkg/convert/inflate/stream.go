package inflate

import (
	"bytes"
	"fmt"
	"io"
)

const (
	windowSize = 32 << 10  // how far back a DEFLATE match may reach
	chunkSize  = 256 << 10 // output decoded per refill of a Reader's buffer
	maxMatch   = 258       // the longest match: room a Reader leaves past its buffer's length
)

// block kinds a Reader may stop inside.
const (
	noBlock = iota
	storedBlock
	fixedBlock
	dynamicBlock
)

// Reader decodes a raw DEFLATE stream of any length read from an io.Reader, keeping the last
// 32 KiB of output as the window matches reach into. The zero value is not usable; see NewReader.
type Reader struct {
	d     Decoder
	buf   []byte // window, then decoded bytes; its capacity leaves room for one match past its length
	o     int    // decoded up to here
	r     int    // returned up to here
	block int    // the kind of the block being decoded, noBlock between blocks
	final bool   // the block being decoded (or the last one) is the stream's final block
	err   error  // returned once the decoded bytes are
}

// NewReader returns a Reader decoding the DEFLATE stream read from r.
func NewReader(r io.Reader) *Reader {
	z := &Reader{}
	z.Reset(r)
	return z
}

// Reset makes z decode a new stream read from r, reusing its buffers.
func (z *Reader) Reset(r io.Reader) {
	if z.buf == nil {
		z.buf = make([]byte, windowSize+chunkSize, windowSize+chunkSize+maxMatch)
		z.d.buf = make([]byte, inputSize)
	}
	d := &z.d
	d.r, d.in, d.pos, d.eof, d.rerr = r, d.buf[:0], 0, false, nil
	d.bb, d.nb, d.pad, d.storedLeft, d.ended = 0, 0, 0, 0, false
	z.o, z.r, z.block, z.final, z.err = 0, 0, noBlock, false, nil
}

// Read returns decoded bytes; io.EOF follows the end of the final block.
func (z *Reader) Read(p []byte) (int, error) {
	for z.r == z.o {
		if z.err != nil {
			return 0, z.err
		}
		if z.o >= len(z.buf) { // keep the window, drop what was returned before it
			n := copy(z.buf, z.buf[z.o-windowSize:z.o])
			z.o, z.r = n, n
		}
		z.o, z.err = z.decode(z.o)
	}
	n := copy(p, z.buf[z.r:z.o])
	z.r += n
	return n, nil
}

// decode decodes from output position o until the buffer's length is reached or the stream ends.
func (z *Reader) decode(o int) (int, error) {
	d := &z.d
	for o < len(z.buf) {
		if z.block == noBlock {
			if z.final {
				return o, io.EOF
			}
			if err := z.startBlock(); err != nil {
				return o, err
			}
		}
		var ended bool
		var err error
		switch z.block {
		case storedBlock:
			o, err = d.stored(z.buf, o)
			ended = err == nil && d.storedLeft == 0
		case fixedBlock:
			o, ended, err = d.huffman(z.buf, o, &fixedLit, &fixedDist)
		default:
			o, ended, err = d.huffman(z.buf, o, &d.lit, &d.dist)
		}
		if d.nb < d.pad { // decoded past the end of the input: that explains any error
			return o, d.truncated()
		}
		if err != nil {
			return o, err
		}
		if ended {
			z.block = noBlock
		}
	}
	return o, nil
}

// startBlock reads a block header (and a dynamic block's code tables).
func (z *Reader) startBlock() error {
	d := &z.d
	d.refill()
	z.final = d.bb&1 == 1
	typ := d.bb >> 1 & 3
	d.consume(3)
	var err error
	switch typ {
	case 0:
		z.block, err = storedBlock, d.storedHeader()
	case 1:
		z.block = fixedBlock
	case 2:
		z.block, err = dynamicBlock, d.readTables()
	default:
		err = fmt.Errorf("%w: reserved block type 3", ErrCorrupt)
	}
	if d.nb < d.pad {
		return d.truncated()
	}
	return err
}

// rest returns the input that follows the stream, once Read returned io.EOF: the whole bytes left
// in the bit buffer, then the buffered input (both copied), then the rest of the source.
func (z *Reader) rest() io.Reader {
	d := &z.d
	d.consume(d.nb & 7)
	var head []byte
	for d.nb >= d.pad+8 {
		head = append(head, byte(d.bb))
		d.consume(8)
	}
	head = append(head, d.in[d.pos:]...)
	d.in, d.pos = d.in[:0], 0
	if d.eof {
		return bytes.NewReader(head)
	}
	return io.MultiReader(bytes.NewReader(head), d.r)
}
