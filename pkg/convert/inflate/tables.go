package inflate

import "math/bits"

// A table entry packs how to decode one code: bits 0-3 the code bits it consumes, bits 4-7 the
// extra bits that follow (or a link's subtable bits), bits 8-9 its kind, bits 16-30 its value, and
// bit 31 marks literals so the hot loop tests one sign. A zero entry is an invalid code.
const (
	kindLiteral = 1<<31 | 0<<8
	kindBase    = 1 << 8 // a match length or distance: value is the base, extra bits follow
	kindEnd     = 2 << 8
	kindLink    = 3 << 8 // value is the offset of a subtable indexed by the next code bits
	kindMask    = 3 << 8
)

const (
	litBits   = 10 // primary table index bits of literal/length codes
	distBits  = 8
	clenBits  = 7 // code-length codes are at most 7 bits long: no subtables
	maxCode   = 15
	litTable  = 1<<litBits + 288<<(maxCode-litBits)
	distTable = 1<<distBits + 32<<(maxCode-distBits)
)

var (
	lengthBase  = [29]uint32{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint32{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint32{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint32{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// clenOrder is the order in which a dynamic block lists its code-length code lengths.
	clenOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	// Entry templates per symbol, without code bits; 0 for reserved symbols.
	litSyms  [288]uint32
	distSyms [32]uint32
	clenSyms [19]uint32

	fixedLit  [litTable]uint32
	fixedDist [distTable]uint32
)

func init() {
	for s := range 256 {
		litSyms[s] = kindLiteral | uint32(s)<<16
	}
	litSyms[256] = kindEnd
	for i := range lengthBase { // 286 and 287 stay invalid
		litSyms[257+i] = kindBase | lengthExtra[i]<<4 | lengthBase[i]<<16
	}
	for i := range distBase { // 30 and 31 stay invalid
		distSyms[i] = kindBase | distExtra[i]<<4 | distBase[i]<<16
	}
	for s := range 19 {
		clenSyms[s] = kindLiteral | uint32(s)<<16
	}
	var lens [288]uint8
	for s := range lens {
		switch {
		case s < 144, s >= 280:
			lens[s] = 8
		case s < 256:
			lens[s] = 9
		default:
			lens[s] = 7
		}
	}
	build(fixedLit[:], lens[:], litSyms[:], litBits)
	for s := range 32 {
		lens[s] = 5
	}
	build(fixedDist[:], lens[:32], distSyms[:], distBits)
}

// build fills tab with the canonical Huffman code of lens (one length per symbol, 0 for unused),
// primary bits wide with subtables for longer codes. It reports false for over-subscribed codes
// and for incomplete ones other than a single 1-bit code; a code without symbols builds a table
// of invalid entries.
func build(tab []uint32, lens []uint8, syms []uint32, primary uint) bool {
	var count [maxCode + 1]int
	maxLen := uint(0)
	for _, l := range lens {
		count[l]++
		maxLen = max(maxLen, uint(l))
	}
	clear(tab[:1<<primary])
	if maxLen == 0 {
		return true
	}
	left := 1
	for l := 1; l <= maxCode; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false
		}
	}
	if left > 0 && !(maxLen == 1 && count[1] == 1) {
		return false
	}
	var next [maxCode + 1]int
	code := 0
	count[0] = 0
	for l := 1; l <= maxCode; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	subBits := uint(0)
	if maxLen > primary {
		subBits = maxLen - primary
	}
	nextSub := uint32(1) << primary
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		r := reverse(uint32(next[l]), uint(l))
		next[l]++
		e := syms[sym]
		if e == 0 { // a symbol the alphabet reserves: its code stays invalid
			continue
		}
		if uint(l) <= primary {
			for i := r; i < 1<<primary; i += 1 << l {
				tab[i] = e | uint32(l)
			}
			continue
		}
		p := r & (1<<primary - 1)
		if tab[p] == 0 {
			tab[p] = kindLink | uint32(subBits)<<4 | uint32(primary) | nextSub<<16
			clear(tab[nextSub : nextSub+1<<subBits])
			nextSub += 1 << subBits
		}
		base, sl := tab[p]>>16, uint(l)-primary
		for i := r >> primary; i < 1<<subBits; i += 1 << sl {
			tab[base+i] = e | uint32(sl)
		}
	}
	return true
}

// reverse returns the low n bits of c in reverse order (DEFLATE sends Huffman codes MSB first).
func reverse(c uint32, n uint) uint32 {
	return uint32(bits.Reverse16(uint16(c))) >> (16 - n)
}
