package formattest

import (
	"math/rand/v2"
	"os"
	"testing"
)

// Mixed describes a disk WriteMixed makes: one Piece-byte piece every Stride bytes (contiguous
// pieces when Stride <= Piece), each chosen by Seed.
type Mixed struct {
	Piece  int
	Stride int64
	Seed   uint64
}

// WriteMixed writes a sparse raw disk of size bytes whose pieces are holes, random data,
// compressible text with zero blocks inside, or a few bytes not aligned to 4 KiB in a zero block;
// the same m and size always give the same disk.
func WriteMixed(t testing.TB, path string, size int64, m Mixed) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(m.Seed, 2))
	buf := make([]byte, m.Piece)
	for off := int64(0); off < size; off += max(m.Stride, int64(len(buf))) {
		switch rng.IntN(5) {
		case 0, 1: // hole
			continue
		case 2: // random
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
		case 3: // compressible text with zero blocks inside
			for i := range buf {
				buf[i] = "goldimage "[i%10]
			}
			clear(buf[8192:20480])
		case 4: // a few unaligned bytes in an otherwise zero block
			clear(buf)
			copy(buf[4095:], "unaligned")
		}
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), size-off)], off); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadFile returns the file's contents, failing t if it cannot be read.
func ReadFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
