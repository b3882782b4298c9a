package qcow2stream

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxL1Bytes bounds the L1 table (qemu's cap too).
const maxL1Bytes = 32 << 20

// header holds the fields of a qcow2 header the Reader uses.
type header struct {
	clusterBits uint32
	size        int64
	l1Size      uint32
	l1Offset    int64
	rtOffset    int64
	rtClusters  uint32
	zstd        bool
	v3          bool
	extL2       bool // 16-byte L2 entries with a bitmap of 32 subclusters
}

// entryBytes is the size of an L2 entry.
func (h *header) entryBytes() int64 {
	if h.extL2 {
		return 16
	}
	return 8
}

func (h *header) clusterSize() int64 { return 1 << h.clusterBits }

// l1Needed is how many L1 entries the virtual size uses.
func (h *header) l1Needed() int64 {
	perL1 := h.clusterSize() * (h.clusterSize() / h.entryBytes())
	return (h.size + perL1 - 1) / perL1
}

// readHeader reads and checks the fixed part of the header (the first 112 bytes at most).
func readHeader(r io.Reader, c *config) (*header, int, error) {
	b := make([]byte, 104)
	if n, err := io.ReadFull(r, b[:72]); err != nil {
		return nil, 0, corruptf("header truncated at %d bytes", n)
	}
	be := binary.BigEndian
	if string(b[:4]) != "QFI\xfb" {
		return nil, 0, corruptf("no qcow2 magic")
	}
	version := be.Uint32(b[4:])
	if version != 2 && version != 3 {
		return nil, 0, fmt.Errorf("%w: version %d", ErrUnsupported, version)
	}
	h := &header{clusterBits: be.Uint32(b[20:]), l1Size: be.Uint32(b[36:]), l1Offset: int64(be.Uint64(b[40:])),
		rtOffset: int64(be.Uint64(b[48:])), rtClusters: be.Uint32(b[56:]), v3: version == 3}
	size := be.Uint64(b[24:])
	switch {
	case be.Uint64(b[8:]) != 0:
		return nil, 0, fmt.Errorf("%w: backing file", ErrUnsupported)
	case be.Uint32(b[32:]) != 0:
		return nil, 0, fmt.Errorf("%w: encryption", ErrUnsupported)
	case h.clusterBits < 9 || h.clusterBits > 21:
		return nil, 0, corruptf("cluster bits %d outside 9..21", h.clusterBits)
	case size > uint64(c.maxVirtual):
		return nil, 0, fmt.Errorf("%w: virtual size %d exceeds the limit %d", ErrTooLarge, size, c.maxVirtual)
	}
	h.size = int64(size)
	read := 72
	if h.v3 {
		if n, err := io.ReadFull(r, b[72:104]); err != nil {
			return nil, 0, corruptf("v3 header truncated at %d bytes", 72+n)
		}
		read = 104
		hl := be.Uint32(b[100:])
		if hl < 104 || int64(hl) > h.clusterSize() {
			return nil, 0, corruptf("header length %d", hl)
		}
		var ct [1]byte
		if hl > 104 {
			if _, err := io.ReadFull(r, ct[:]); err != nil {
				return nil, 0, corruptf("v3 header truncated at 104 bytes")
			}
			read = 105
		}
		if err := h.features(be.Uint64(b[72:]), ct[0]); err != nil {
			return nil, 0, err
		}
	}
	return h, read, h.checkL1()
}

func (h *header) features(incompatible uint64, compression byte) error {
	const (
		corruptBit  = 1 << 1
		externalBit = 1 << 2
		compressBit = 1 << 3
		extL2Bit    = 1 << 4
		known       = 0x1f
	)
	switch {
	case incompatible&corruptBit != 0:
		return corruptf("header marks the image corrupt")
	case incompatible&externalBit != 0:
		return fmt.Errorf("%w: external data file", ErrUnsupported)
	case incompatible&^known != 0:
		return fmt.Errorf("%w: incompatible feature bits %#x", ErrUnsupported, incompatible&^known)
	case incompatible&compressBit != 0 && compression > 1:
		return fmt.Errorf("%w: compression type %d", ErrUnsupported, compression)
	}
	h.zstd = incompatible&compressBit != 0 && compression == 1
	h.extL2 = incompatible&extL2Bit != 0
	if h.extL2 && h.clusterBits < 14 {
		return corruptf("extended L2 entries need clusters of at least 16 KiB, not %d bytes", h.clusterSize())
	}
	return nil
}

func (h *header) checkL1() error {
	switch cs := h.clusterSize(); {
	case int64(h.l1Size) < h.l1Needed():
		return corruptf("L1 table has %d entries, virtual size needs %d", h.l1Size, h.l1Needed())
	case int64(h.l1Size)*8 > maxL1Bytes:
		return corruptf("L1 table of %d entries exceeds %d bytes", h.l1Size, maxL1Bytes)
	case h.size > 0 && (h.l1Offset <= 0 || h.l1Offset%cs != 0 || h.l1Offset > 1<<56):
		return corruptf("L1 table offset %d is not cluster aligned", h.l1Offset)
	}
	return nil
}
