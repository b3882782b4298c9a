package qcow2stream

import (
	"encoding/binary"
	"fmt"
)

// layout builds small uncompressed qcow2 v3 images (4 KiB clusters) with their parts in any order,
// to test what streaming accepts and refuses.
type layout struct {
	clusters int      // virtual size in clusters
	order    []string // host order after the header: "L1", "L2", "D<i>" for guest cluster i's data
	// l2 overrides L2 entries: guest cluster -> raw entry (e.g. pointing past the end).
	l2 map[int]uint64
	// l1 overrides the L1 entry.
	l1 uint64
}

const tcs = 4096

// build returns the image and the raw disk it holds: cluster i filled with byte i+1.
func (l layout) build() ([]byte, []byte) {
	at := map[string]int64{}
	for i, part := range l.order {
		at[part] = int64(i+1) * tcs
	}
	img := make([]byte, int64(len(l.order)+1)*tcs)
	be := binary.BigEndian
	copy(img, "QFI\xfb")
	be.PutUint32(img[4:], 3)
	be.PutUint32(img[20:], 12)
	be.PutUint64(img[24:], uint64(l.clusters)*tcs)
	be.PutUint32(img[36:], 1)
	be.PutUint64(img[40:], uint64(at["L1"]))
	be.PutUint32(img[96:], 4)
	be.PutUint32(img[100:], 104)
	l1 := uint64(at["L2"]) | 1<<63
	if l.l1 != 0 {
		l1 = l.l1
	}
	be.PutUint64(img[at["L1"]:], l1)
	raw := make([]byte, l.clusters*tcs)
	for i := range l.clusters {
		d, ok := at[fmt.Sprintf("D%d", i)]
		e := uint64(d) | 1<<63
		if !ok {
			e = 0
		}
		if v, ok := l.l2[i]; ok {
			e = v
		}
		if at["L2"] > 0 {
			be.PutUint64(img[at["L2"]+int64(i)*8:], e)
		}
		if ok {
			for k := range tcs {
				img[d+int64(k)] = byte(i + 1)
				raw[i*tcs+k] = byte(i + 1)
			}
		}
	}
	if l1&offsetMask == 0 {
		clear(raw) // no L2 table: all zeros
	}
	return img, raw
}
