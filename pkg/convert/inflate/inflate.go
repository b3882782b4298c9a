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
	// storedLeft is how many bytes of the current stored block are still unread.
	storedLeft int
	ended      bool // the final block's end was read
	lit        [litTable]uint32
	dist       [distTable]uint32
	clen       [1 << clenBits]uint32
}

// Decode decodes the DEFLATE stream read from r into dst until dst is full or the stream's final
// block ends. It returns the bytes written and nil when dst is full (the rest of the stream is not
// read), io.EOF when the stream ended first, io.ErrUnexpectedEOF when the input ended inside the
// stream, an error wrapping ErrCorrupt for invalid data, or r's error.
func (d *Decoder) Decode(dst []byte, r io.Reader) (int, error) {
	if d.buf == nil {
		d.buf = make([]byte, inputSize)
	}
	d.r, d.in, d.eof = r, d.buf[:0], false
	defer func() { d.r = nil }()
	return d.decode(dst[:len(dst):len(dst)])
}

// DecodeBytes is Decode for a stream held in memory: it reads src in place, without copying.
func (d *Decoder) DecodeBytes(dst, src []byte) (int, error) {
	d.r, d.in, d.eof = nil, src, true
	n, err := d.decode(dst[:len(dst):len(dst)])
	d.in = nil
	return n, err
}

func (d *Decoder) decode(dst []byte) (int, error) {
	d.pos, d.rerr, d.bb, d.nb, d.pad, d.ended = 0, nil, 0, 0, 0, false
	o := 0
	for {
		d.refill()
		// Once dst is full, a following block is read only to see an empty final block end the
		// stream; anything else, even an error, leaves the stream unfinished.
		lookahead := o == len(dst)
		if lookahead && d.nb-d.pad < 3 {
			return o, nil
		}
		final := d.bb & 1
		var blockEnd bool
		var err error
		o, blockEnd, err = d.block(dst, o)
		if d.nb < d.pad { // decoded past the end of the input: that explains any error
			err, blockEnd = d.truncated(), false
		}
		d.ended = err == nil && blockEnd && final == 1
		switch {
		case lookahead && !d.ended:
			return o, nil
		case err != nil:
			return o, err
		case d.ended && o < len(dst):
			return o, io.EOF
		case d.ended:
			return o, nil
		}
	}
}

// block decodes one block from its header on and reports whether it read the block's end.
func (d *Decoder) block(dst []byte, o int) (int, bool, error) {
	typ := d.bb >> 1 & 3
	d.consume(3)
	switch typ {
	case 0:
		if err := d.storedHeader(); err != nil {
			return o, false, err
		}
		o, err := d.stored(dst, o)
		return o, err == nil && d.storedLeft == 0, err
	case 1:
		return d.huffman(dst, o, &fixedLit, &fixedDist)
	case 2:
		if err := d.readTables(); err != nil {
			return o, false, err
		}
		return d.huffman(dst, o, &d.lit, &d.dist)
	}
	return o, false, fmt.Errorf("%w: reserved block type 3", ErrCorrupt)
}

// Ended reports whether the last Decode or DecodeBytes read the end of the stream's final block.
// Used is then how many bytes of DecodeBytes' input the stream occupied (what follows, such as a
// zlib checksum, starts there).
func (d *Decoder) Ended() (ended bool, used int) {
	if !d.ended || d.nb < d.pad {
		return false, 0
	}
	return true, d.pos - int((d.nb-d.pad)/8)
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

// storedHeader reads a stored block's length and its complement.
func (d *Decoder) storedHeader() error {
	d.consume(d.nb & 7)
	d.refill()
	n, inv := int(d.bb&0xffff), int(d.bb>>16&0xffff)
	d.consume(32)
	if n != ^inv&0xffff {
		return fmt.Errorf("%w: stored block length %d does not match its complement", ErrCorrupt, n)
	}
	d.storedLeft = n
	return nil
}

// stored copies what is left of a stored block's bytes, as far as dst holds them.
func (d *Decoder) stored(dst []byte, o int) (int, error) {
	n := d.storedLeft
	for ; n > 0 && d.nb >= d.pad+8 && o < len(dst); n-- { // input bytes already in the bit buffer
		dst[o] = byte(d.bb)
		o++
		d.consume(8)
	}
	d.storedLeft = n
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
	d.storedLeft = n
	return o, nil
}
