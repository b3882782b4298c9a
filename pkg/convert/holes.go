package convert

import (
	"errors"
	"io"
	"math"
	"os"
	"syscall"
)

// sourceFile returns the file behind ra (directly or under a blockCache), or nil.
func sourceFile(ra io.ReaderAt) *os.File {
	if c, ok := ra.(*blockCache); ok {
		ra = c.ra
	}
	f, _ := ra.(*os.File)
	return f
}

// holeAt reports whether off lies in a hole of f and how many bytes from off stay in that state,
// using SEEK_DATA/SEEK_HOLE; n is 0 when the file system cannot tell. Seeking moves only the file
// offset, which ReadAt does not use, so concurrent callers are safe.
func holeAt(f *os.File, off int64) (hole bool, n int64) {
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
