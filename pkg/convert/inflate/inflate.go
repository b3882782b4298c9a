package inflate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrCorrupt marks a stream that is not valid DEFLATE.
var ErrCorrupt = errors.New("corrupt deflate stream")

// inputSize is how much compressed input one Read from the source asks for.
const inputSize = 32 << 10

// Decoder decodes raw DEFLATE streams; the zero value is ready to use.
type Decoder struct {
	r    io.Reader
	buf  []byte // input buffer; in aliases it
	in   []byte
	pos  int    // next unread byte of in
	eof  bool   // r has no more input
	rerr error  // r's error other than io.EOF
	bb   uint64 // bit buffer, least significant bit next; bits above nb repeat in[pos:] or are zero
	nb   uint   // valid bits in bb
	pad  uint   // zero bits appended to bb past the end of the input
	lit  [litTable]uint32
	dist [distTable]uint32
	clen [1 << clenBits]uint32
}

// Decode decodes the DEFLATE stream read from r into dst until dst is full or the stream's final
// block ends. It returns the bytes written and nil when dst is full (the rest of the stream is not
// read), io.EOF when the stream ended first, io.ErrUnexpectedEOF when the input ended inside the
// stream, an error wrapping ErrCorrupt for invalid data, or r's error.
func (d *Decoder) Decode(dst []byte, r io.Reader) (int, error) {
	if d.buf == nil {
		d.buf = make([]byte, inputSize)
	}
	d.r, d.in, d.pos, d.eof, d.rerr, d.bb, d.nb, d.pad = r, d.buf[:0], 0, false, nil, 0, 0, 0
	defer func() { d.r = nil }()
	o := 0
	for {
		d.refill()
		final, typ := d.bb&1, d.bb>>1&3
		d.consume(3)
		var err error
		switch typ {
		case 0:
			o, err = d.stored(dst, o)
		case 1:
			o, err = d.huffman(dst, o, &fixedLit, &fixedDist)
		case 2:
			if err = d.readTables(); err == nil {
				o, err = d.huffman(dst, o, &d.lit, &d.dist)
			}
		default:
			err = fmt.Errorf("%w: reserved block type 3", ErrCorrupt)
		}
		if d.nb < d.pad { // decoded past the end of the input: that explains any error
			err = d.truncated()
		}
		switch {
		case err != nil:
			return o, err
		case o == len(dst):
			return o, nil
		case final == 1:
			return o, io.EOF
		}
	}
}

func (d *Decoder) truncated() error {
	if d.rerr != nil {
		return d.rerr
	}
	return io.ErrUnexpectedEOF
}

func (d *Decoder) consume(n uint) { d.bb >>= n; d.nb -= n }

// refill tops the bit buffer up to at least 56 bits, with zero bits past the end of the input.
func (d *Decoder) refill() {
	if d.nb >= 56 {
		return
	}
	if d.pos+8 <= len(d.in) {
		d.bb |= binary.LittleEndian.Uint64(d.in[d.pos:]) << d.nb
		d.pos += int(63-d.nb) >> 3
		d.nb |= 56
		return
	}
	for d.nb <= 56 {
		if d.pos == len(d.in) && !d.fill() {
			d.nb += 8
			d.pad += 8
			continue
		}
		d.bb |= uint64(d.in[d.pos]) << d.nb
		d.pos++
		d.nb += 8
	}
}

// fill moves the unread input to the front of the buffer and reads more; false when none came.
func (d *Decoder) fill() bool {
	if d.eof {
		return false
	}
	n := copy(d.buf, d.in[d.pos:])
	k := 0
	for k == 0 && !d.eof {
		var err error
		k, err = d.r.Read(d.buf[n:])
		if err != nil {
			d.eof = true
			if err != io.EOF {
				d.rerr = err
			}
		}
	}
	d.in, d.pos = d.buf[:n+k], 0
	return k > 0
}

// stored copies a stored block's bytes.
func (d *Decoder) stored(dst []byte, o int) (int, error) {
	d.consume(d.nb & 7)
	d.refill()
	n, inv := int(d.bb&0xffff), int(d.bb>>16&0xffff)
	d.consume(32)
	if n != ^inv&0xffff {
		return o, fmt.Errorf("%w: stored block length %d does not match its complement", ErrCorrupt, n)
	}
	for ; n > 0 && d.nb >= 8 && o < len(dst); n-- { // bytes already in the bit buffer
		dst[o] = byte(d.bb)
		o++
		d.consume(8)
	}
	if d.nb < d.pad {
		return o, d.truncated()
	}
	if n == 0 || o == len(dst) {
		return o, nil
	}
	d.bb, d.nb, d.pad = 0, 0, 0 // the buffer is empty: read bytes directly
	for n > 0 && o < len(dst) {
		if d.pos == len(d.in) && !d.fill() {
			return o, d.truncated()
		}
		k := copy(dst[o:min(o+n, len(dst))], d.in[d.pos:])
		o, n, d.pos = o+k, n-k, d.pos+k
	}
	return o, nil
}
