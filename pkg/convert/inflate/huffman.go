package inflate

import (
	"encoding/binary"
	"fmt"
)

// readTables reads a dynamic block's code lengths and builds its literal/length and distance tables.
func (d *Decoder) readTables() error {
	d.refill()
	nlit, ndist, nclen := int(d.bb&31)+257, int(d.bb>>5&31)+1, int(d.bb>>10&15)+4
	d.consume(14)
	if nlit > 286 || ndist > 30 {
		return fmt.Errorf("%w: %d literal/length and %d distance codes", ErrCorrupt, nlit, ndist)
	}
	var lens [286 + 30]uint8
	for i := range nclen {
		d.refill()
		lens[clenOrder[i]] = uint8(d.bb & 7)
		d.consume(3)
	}
	if !build(d.clen[:], lens[:19], clenSyms[:], clenBits) {
		return fmt.Errorf("%w: bad code-length code", ErrCorrupt)
	}
	clear(lens[:19])
	for i := 0; i < nlit+ndist; {
		d.refill()
		e := d.clen[d.bb&(1<<clenBits-1)]
		if e&15 == 0 {
			return fmt.Errorf("%w: invalid code-length code", ErrCorrupt)
		}
		d.consume(uint(e & 15))
		sym, rep, val := e>>16&0x7fff, 1, uint8(0)
		switch {
		case sym < 16:
			val = uint8(sym)
		case sym == 16:
			if i == 0 {
				return fmt.Errorf("%w: repeat of a code length before the first", ErrCorrupt)
			}
			rep, val = 3+int(d.bb&3), lens[i-1]
			d.consume(2)
		case sym == 17:
			rep = 3 + int(d.bb&7)
			d.consume(3)
		default:
			rep = 11 + int(d.bb&127)
			d.consume(7)
		}
		if i+rep > nlit+ndist {
			return fmt.Errorf("%w: code lengths overrun their count", ErrCorrupt)
		}
		for range rep {
			lens[i] = val
			i++
		}
	}
	if lens[256] == 0 {
		return fmt.Errorf("%w: no end-of-block code", ErrCorrupt)
	}
	if !build(d.lit[:], lens[:nlit], litSyms[:], litBits) || !build(d.dist[:], lens[nlit:nlit+ndist], distSyms[:], distBits) {
		return fmt.Errorf("%w: bad literal/length or distance code", ErrCorrupt)
	}
	return nil
}

// huffman decodes one Huffman-coded block into dst from o, stopping early when dst is full
// unless the next code ends the block; it reports whether it read the end-of-block code.
// The bit buffer lives in locals (kept in registers: no closure or pointer refers to them); a
// refill (8 bytes at a time while 8 remain) leaves at least 48 bits, enough for a match or for
// three literals from the primary table, and does not change the bits already held.
func (d *Decoder) huffman(dst []byte, o int, lit *[litTable]uint32, dist *[distTable]uint32) (int, bool, error) {
	bb, nb, in, pos := d.bb, d.nb, d.in, d.pos
	var err error
	ended := false
	for {
		if nb < 48 {
			if pos+8 <= len(in) {
				bb |= binary.LittleEndian.Uint64(in[pos:]) << (nb & 63)
				pos += int(63-nb) >> 3
				nb |= 56
			} else {
				d.bb, d.nb, d.pos = bb, nb, pos
				d.refill()
				bb, nb, in, pos = d.bb, d.nb, d.in, d.pos
			}
		}
		e := lit[bb&(1<<litBits-1)]
		if int32(e) < 0 && o+3 <= len(dst) { // up to three literals before the next refill
			w := dst[o : o+3 : o+3]
			bb >>= e & 15
			nb -= uint(e & 15)
			w[0] = byte(e >> 16)
			o++
			e = lit[bb&(1<<litBits-1)]
			if int32(e) < 0 {
				bb >>= e & 15
				nb -= uint(e & 15)
				w[1] = byte(e >> 16)
				o++
				e = lit[bb&(1<<litBits-1)]
				if int32(e) < 0 {
					bb >>= e & 15
					nb -= uint(e & 15)
					w[2] = byte(e >> 16)
					o++
					continue
				}
			}
			if nb < 48 { // a refill keeps the bits e was looked up with
				if pos+8 <= len(in) {
					bb |= binary.LittleEndian.Uint64(in[pos:]) << (nb & 63)
					pos += int(63-nb) >> 3
					nb |= 56
				} else {
					d.bb, d.nb, d.pos = bb, nb, pos
					d.refill()
					bb, nb, in, pos = d.bb, d.nb, d.in, d.pos
				}
			}
		}
		linkBits := uint(0)
		if e&kindMask == kindLink {
			linkBits = litBits
			e = lit[e>>16&0x7fff+uint32(bb>>litBits)&(1<<(e>>4&15)-1)]
		}
		n := e & 15
		if n == 0 {
			err = fmt.Errorf("%w: invalid literal/length code", ErrCorrupt)
			break
		}
		if o >= len(dst) { // full: only an end-of-block code may still be read
			if ended = e&kindMask == kindEnd && int32(e) >= 0; ended {
				bb >>= linkBits + uint(n)
				nb -= linkBits + uint(n)
			}
			break
		}
		bb >>= linkBits + uint(n)
		nb -= linkBits + uint(n)
		if int32(e) < 0 {
			dst[o] = byte(e >> 16)
			o++
			continue
		}
		if e&kindMask == kindEnd {
			ended = true
			break
		}
		var clipped bool
		if o, clipped, bb, nb, err = match(dst, o, e, bb, nb, dist); err != nil || clipped {
			break // a match cut off by the end of dst leaves the stream unfinished
		}
	}
	d.bb, d.nb, d.pos = bb, nb, pos
	return o, ended, err
}

// match decodes the extra length bits of e and a distance, and copies the match; it returns the
// new output position, whether the end of dst's capacity cut the match short, and the bit buffer.
// A stream decoder leaves room for a whole match past len(dst) in dst's capacity, so its matches
// are never cut; Decode's dst has no room past its length.
func match(dst []byte, o int, e uint32, bb uint64, nb uint, dist *[distTable]uint32) (int, bool, uint64, uint, error) {
	x := e >> 4 & 15
	length := int(e>>16 + uint32(bb)&(1<<x-1))
	bb >>= x
	nb -= uint(x)
	e = dist[bb&(1<<distBits-1)]
	if e&kindMask == kindLink {
		bb >>= distBits
		nb -= distBits
		e = dist[e>>16+uint32(bb)&(1<<(e>>4&15)-1)]
	}
	n := e & 15
	if n == 0 || e&kindMask != kindBase {
		return o, false, bb, nb, fmt.Errorf("%w: invalid distance code", ErrCorrupt)
	}
	bb >>= n
	nb -= uint(n)
	x = e >> 4 & 15
	distance := int(e>>16 + uint32(bb)&(1<<x-1))
	bb >>= x
	nb -= uint(x)
	if distance > o {
		return o, false, bb, nb, fmt.Errorf("%w: distance %d reaches before the start of the output at %d", ErrCorrupt, distance, o)
	}
	dst = dst[:cap(dst)]
	end := min(o+length, len(dst))
	if distance >= length {
		copy(dst[o:end], dst[o-distance:])
	} else {
		for at, from := o, o-distance; at < end; { // the source overlaps: copy it in doubling runs
			at += copy(dst[at:end], dst[from:at])
		}
	}
	return end, o+length > end, bb, nb, nil
}
