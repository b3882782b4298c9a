package vmdk

import (
	"encoding/binary"
	"fmt"
	"sync"
)

const (
	gtCacheSlots    = 256     // grain tables kept (2 KiB each for the usual 512 entries)
	grainCacheBytes = 8 << 20 // decompressed grains kept for partial reads
)

// gtCache is a direct-mapped cache of grain tables; cached slices are never modified.
type gtCache struct {
	mu      sync.Mutex
	entries int64
	idx     [gtCacheSlots]int64
	tables  [gtCacheSlots][]uint32
}

func newGTCache(entries int64) *gtCache { return &gtCache{entries: entries} }

func (c *gtCache) get(img *Image, gdi int64) ([]uint32, error) {
	slot := gdi % gtCacheSlots
	c.mu.Lock()
	t := c.tables[slot]
	hit := t != nil && c.idx[slot] == gdi
	c.mu.Unlock()
	if hit {
		return t, nil
	}
	off := int64(img.gd[gdi]) * sectorSize
	raw := make([]byte, c.entries*4)
	if off+int64(len(raw)) > img.fileSize {
		return nil, fmt.Errorf("vmdk: grain table %d at offset %d lies past end of file", gdi, off)
	}
	if _, err := img.ra.ReadAt(raw, off); err != nil {
		return nil, fmt.Errorf("vmdk: read grain table %d at offset %d: %w", gdi, off, err)
	}
	t = make([]uint32, c.entries)
	for i := range t {
		t[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	c.mu.Lock()
	c.idx[slot], c.tables[slot] = gdi, t
	c.mu.Unlock()
	return t, nil
}

// grainCache is a direct-mapped cache of decompressed grains; cached slices are never modified.
type grainCache struct {
	mu     sync.Mutex
	size   int64
	idx    []int64
	grains [][]byte
}

func newGrainCache(grainBytes int64) *grainCache {
	n := max(4, grainCacheBytes/grainBytes)
	return &grainCache{size: grainBytes, idx: make([]int64, n), grains: make([][]byte, n)}
}

func (c *grainCache) get(grain int64, fill func([]byte) error) ([]byte, error) {
	slot := grain % int64(len(c.idx))
	c.mu.Lock()
	g := c.grains[slot]
	hit := g != nil && c.idx[slot] == grain
	c.mu.Unlock()
	if hit {
		return g, nil
	}
	g = make([]byte, c.size)
	if err := fill(g); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.idx[slot], c.grains[slot] = grain, g
	c.mu.Unlock()
	return g, nil
}
