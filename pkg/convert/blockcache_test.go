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

func TestBlockCacheView(t *testing.T) {
	src := make([]byte, 2*cacheBlockSize+100)
	for i := range src {
		src[i] = byte(i * 5 / 3)
	}
	c := newBlockCache(bytes.NewReader(src), int64(len(src)), 2)
	tests := []struct {
		name    string
		off, n  int64
		want    []byte // nil: no view
		nesting int    // section readers around the cache
	}{
		{"inside a block", 100, 4096, src[100 : 100+4096], 0},
		{"clipped at the end", 2*cacheBlockSize + 50, 4096, src[2*cacheBlockSize+50:], 0},
		{"nested section readers", cacheBlockSize + 7, 300, src[cacheBlockSize+7 : cacheBlockSize+307], 1},
		{"across a block boundary", cacheBlockSize - 10, 20, nil, 0},
		{"past the end", int64(len(src)) + 1, 10, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ra io.ReaderAt = c
			for range tt.nesting {
				ra = io.NewSectionReader(ra, 0, int64(len(src)))
			}
			data, release, ok := viewOf(io.NewSectionReader(ra, tt.off, tt.n))
			if ok != (tt.want != nil) {
				t.Fatalf("view ok = %v, want %v", ok, tt.want != nil)
			}
			if !ok {
				return
			}
			defer release()
			if !bytes.Equal(data, tt.want) {
				t.Errorf("view has %d bytes, want %d matching the source", len(data), len(tt.want))
			}
		})
	}
}
