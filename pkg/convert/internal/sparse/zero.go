package sparse

import (
	"bytes"
	"unsafe"
)

// BlockSize is the granularity of zero detection, holes and O_DIRECT alignment.
const BlockSize = 4096

// zeroBlock is compared against to find zero blocks and written to zero device ranges.
var zeroBlock = AlignedBuf(1 << 20)

// ZerosLen is the most bytes Zeros returns at once.
const ZerosLen = 1 << 20

// Zeros returns n (at most ZerosLen) block-aligned zero bytes shared by all callers, which must not write to them.
func Zeros(n int) []byte { return zeroBlock[:n] }

// IsZero reports whether p holds only zero bytes (compared with zeros a block at a time: vectorized).
func IsZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeroBlock))
		if !bytes.Equal(p[:n], zeroBlock[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}

// ForRuns calls fn(i, j) for each maximal run p[i:j] of BlockSize blocks that are zero (wantZero)
// or not zero (!wantZero), stopping at fn's first error; a short last block counts as a block.
func ForRuns(p []byte, wantZero bool, fn func(i, j int) error) error {
	start := -1
	for i := 0; i < len(p); i += BlockSize {
		end := min(i+BlockSize, len(p))
		match := bytes.Equal(p[i:end], zeroBlock[:end-i]) == wantZero
		switch {
		case match && start < 0:
			start = i
		case !match && start >= 0:
			if err := fn(start, i); err != nil {
				return err
			}
			start = -1
		}
	}
	if start >= 0 {
		return fn(start, len(p))
	}
	return nil
}

// AlignedBuf returns n bytes starting at a BlockSize-aligned address, as O_DIRECT requires.
func AlignedBuf(n int) []byte {
	b := make([]byte, n+BlockSize)
	skip := (BlockSize - int(uintptr(unsafe.Pointer(&b[0]))%BlockSize)) % BlockSize
	return b[skip : skip+n : skip+n]
}
