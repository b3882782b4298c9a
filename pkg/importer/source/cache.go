package source

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// blockCache is an io.ReaderAt over ranged HTTP requests: fixed-size blocks, a small LRU cache, and
// read-ahead of up to maxAhead blocks when the block before a miss is cached (a sequential reader).
// Concurrent readers fetch different blocks in parallel; a block being fetched is waited for, not refetched.
type blockCache struct {
	s        *httpSource
	ctx      context.Context
	bs       int64
	capacity int
	maxAhead int

	mu       sync.Mutex
	blocks   map[int64][]byte
	inflight map[int64]chan struct{}
	order    []int64 // least recently used first
	requests int     // ranged requests made, for tests
}

func newBlockCache(ctx context.Context, s *httpSource, o *options) *blockCache {
	return &blockCache{s: s, ctx: ctx, bs: o.blockSize, capacity: o.cacheBlocks + 4*o.maxAhead,
		maxAhead: o.maxAhead, blocks: map[int64][]byte{}, inflight: map[int64]chan struct{}{}}
}

// ReadAt reads len(p) bytes at off; it returns io.EOF when the read reaches the end of the source.
func (c *blockCache) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read %s: negative offset %d", c.s.display, off)
	}
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		if pos >= c.s.size {
			return n, io.EOF
		}
		k := pos / c.bs
		b, err := c.block(k)
		if err != nil {
			return n, err
		}
		n += copy(p[n:], b[pos-k*c.bs:])
	}
	return n, nil
}

// block returns block k, fetching it (and read-ahead blocks) on a miss.
func (c *blockCache) block(k int64) ([]byte, error) {
	c.mu.Lock()
	for {
		if b, ok := c.blocks[k]; ok {
			c.touch(k)
			c.mu.Unlock()
			return b, nil
		}
		ch, ok := c.inflight[k]
		if !ok {
			break
		}
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
	}
	count := c.plan(k)
	done := make(chan struct{})
	for i := range count {
		c.inflight[k+i] = done
	}
	c.requests++
	c.mu.Unlock()

	start := k * c.bs
	data, err := c.s.fetchRange(c.ctx, start, min((k+count)*c.bs, c.s.size)-start)

	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range count {
		delete(c.inflight, k+i)
	}
	close(done)
	if err != nil {
		return nil, err
	}
	var first []byte
	for i := range count {
		lo := i * c.bs
		b := append([]byte(nil), data[lo:min(lo+c.bs, int64(len(data)))]...) // own copy: eviction frees it
		if i == 0 {
			first = b
		}
		c.blocks[k+i] = b
		c.touch(k + i)
	}
	c.evict()
	return first, nil
}

// plan returns how many blocks from k to fetch: read-ahead when block k-1 is cached, up to the
// first block already cached or being fetched.
func (c *blockCache) plan(k int64) int64 {
	count := int64(1)
	if _, seq := c.blocks[k-1]; !seq {
		return count
	}
	last := (c.s.size - 1) / c.bs
	for count < int64(c.maxAhead) && k+count <= last {
		_, cached := c.blocks[k+count]
		_, busy := c.inflight[k+count]
		if cached || busy {
			break
		}
		count++
	}
	return count
}

// touch moves k to the most recently used end.
func (c *blockCache) touch(k int64) {
	for i, v := range c.order {
		if v == k {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	c.order = append(c.order, k)
}

// evict drops least recently used blocks beyond capacity.
func (c *blockCache) evict() {
	for len(c.order) > c.capacity {
		delete(c.blocks, c.order[0])
		c.order = c.order[1:]
	}
}
