package sparse

import (
	"errors"
	"math"
	"os"
	"syscall"
)

// HoleAt reports whether off lies in a hole of f and how many bytes from off stay in that state,
// using SEEK_DATA/SEEK_HOLE; n is 0 when the file system cannot tell. Seeking moves only the file
// offset, which ReadAt does not use, so concurrent callers are safe.
func HoleAt(f *os.File, off int64) (hole bool, n int64) {
	const seekData, seekHole = 3, 4
	next, err := f.Seek(off, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO): // no data after off
		return true, math.MaxInt64
	case err != nil:
		return false, 0
	case next > off:
		return true, next - off
	}
	end, err := f.Seek(off, seekHole)
	if err != nil || end <= off {
		return false, 0
	}
	return false, end - off
}
