// Package benchfile holds what the benchmark commands share: the generated test image, the byte-for-byte
// comparison of outputs, and the parsing and printing of sizes and durations.
package benchfile

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// Generate writes a sparse raw image of vsize bytes holding about dsize bytes of data: 1 MiB chunks of
// word-like text mixed with random bytes (about 2-3x compressible), spread evenly, holes everywhere else.
func Generate(path string, vsize, dsize int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(vsize); err != nil {
		return err
	}
	const chunk = 1 << 20
	every := max(vsize/chunk/max(dsize/chunk, 1), 1)
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"kernel ", "systemd ", "\x00\x00\x00\x00", "lib64 ", "usr/share/doc ", "ELF\x02\x01", "\xff\xff\xff\xff", "config "}
	buf := make([]byte, chunk)
	for c := int64(0); c < vsize/chunk; c += every {
		for i := 0; i < len(buf); {
			if rng.IntN(4) == 0 {
				for end := min(i+64, len(buf)); i < end; i++ {
					buf[i] = byte(rng.Uint32())
				}
				continue
			}
			i += copy(buf[i:], words[rng.IntN(len(words))])
		}
		if _, err := f.WriteAt(buf, c*chunk); err != nil {
			return err
		}
	}
	return f.Sync()
}

// SameContent compares two files in 4 MiB blocks and names the first block that differs.
func SameContent(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ba, bb := make([]byte, 4<<20), make([]byte, 4<<20)
	for off := int64(0); ; off += int64(len(ba)) {
		na, ea := io.ReadFull(fa, ba)
		nb, _ := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return fmt.Errorf("first difference in the 4 MiB block at %d", off)
		}
		if ea != nil {
			return nil
		}
	}
}

// ParseSize reads a byte count with an optional M (MiB) or G (GiB) suffix.
func ParseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "G"):
		mult, s = 1<<30, strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n * mult, nil
}

// Round prints d to 10 ms.
func Round(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }

// MiB prints a size given in KiB (as rusage reports peak RSS) in MiB.
func MiB(kib int64) string { return fmt.Sprintf("%d MiB", kib/1024) }
