package convert

import (
	"bytes"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
)

func TestBlockCacheMatchesSource(t *testing.T) {
	src := make([]byte, 5*cacheBlockSize+1234)
	for i := range src {
		src[i] = byte(i * 7 / 3)
	}
	c := newBlockCache(bytes.NewReader(src), int64(len(src)), 2)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for range 2000 {
				off := rng.Int64N(int64(len(src)) + 100)
				p := make([]byte, rng.IntN(300<<10))
				n, err := c.ReadAt(p, off)
				want := max(0, min(int64(len(p)), int64(len(src))-off))
				if int64(n) != want || !bytes.Equal(p[:n], src[min(off, int64(len(src))):min(off, int64(len(src)))+int64(n)]) {
					t.Errorf("ReadAt(%d bytes at %d) = %d bytes, want %d matching bytes", len(p), off, n, want)
					return
				}
				if int64(n) < int64(len(p)) && err != io.EOF {
					t.Errorf("short read at %d without io.EOF: %v", off, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
