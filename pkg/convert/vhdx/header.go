package vhdx

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/lima-vm/go-qcow2reader/image"
)

// ErrUnsupported marks a well-formed VHDX this package refuses to read (differencing disks,
// logs needing replay, unknown required regions or metadata, too large).
var ErrUnsupported = errors.New("unsupported VHDX")

const (
	fileMagic      = "vhdxfile"
	headerSize     = 4 << 10
	regionSize     = 64 << 10
	maxRegions     = 2047
	mib            = 1 << 20
	header1Offset  = 64 << 10
	header2Offset  = 128 << 10
	region1Offset  = 192 << 10
	region2Offset  = 256 << 10
	minFileSize    = 1 * mib // file type identifier, headers and region tables
	maxLogLength   = 1 << 32
	checksumOffset = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Probe reports whether header (the first bytes of a file) is a VHDX file type identifier.
func Probe(header []byte) bool { return bytes.HasPrefix(header, []byte(fileMagic)) }

// guid is a GUID in its on-disk byte order (first three fields little-endian).
type guid [16]byte

// mustGUID converts the textual form "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" to on-disk order.
func mustGUID(s string) guid {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("bad GUID literal " + s)
	}
	var g guid
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(b[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(b[6:]))
	copy(g[8:], b[8:])
	return g
}

var (
	regionBAT      = mustGUID("2DC27766-F623-4200-9D64-115E9BFD4A08")
	regionMetadata = mustGUID("8B7CA206-4790-4B9A-B8FE-575F050F886E")
)

// crcValid reports whether the CRC-32C of b, computed with its checksum field zeroed, matches it.
func crcValid(b []byte) bool {
	want := binary.LittleEndian.Uint32(b[checksumOffset:])
	c := crc32.Update(0, castagnoli, b[:checksumOffset])
	c = crc32.Update(c, castagnoli, []byte{0, 0, 0, 0})
	return crc32.Update(c, castagnoli, b[checksumOffset+4:]) == want
}

// header holds the fields of the current (valid, highest sequence) VHDX header.
type header struct {
	seq       uint64
	logGUID   guid
	logLength uint32
	logOffset uint64
}

func readHeader(ra io.ReaderAt) (header, error) {
	var best header
	found := false
	b := make([]byte, headerSize)
	for _, off := range []int64{header1Offset, header2Offset} {
		if _, err := ra.ReadAt(b, off); err != nil {
			return header{}, fmt.Errorf("vhdx: read header at offset %d: %w", off, err)
		}
		if string(b[:4]) != "head" || !crcValid(b) {
			continue
		}
		h := header{seq: binary.LittleEndian.Uint64(b[8:]), logLength: binary.LittleEndian.Uint32(b[68:]),
			logOffset: binary.LittleEndian.Uint64(b[72:])}
		copy(h.logGUID[:], b[48:64])
		if v := binary.LittleEndian.Uint16(b[66:]); v != 1 {
			return header{}, fmt.Errorf("vhdx: header version %d: %w", v, ErrUnsupported)
		}
		if !found || h.seq > best.seq {
			best, found = h, true
		}
	}
	if !found {
		return header{}, errors.New("vhdx: neither header has a valid signature and CRC-32C")
	}
	return best, nil
}

// checkLog refuses an image whose log holds an entry of the current log GUID: it was not
// closed cleanly and its metadata is only consistent after replaying the log.
func checkLog(ra io.ReaderAt, fileSize int64, h header) error {
	if h.logGUID == (guid{}) {
		return nil
	}
	if h.logOffset > uint64(fileSize) || uint64(h.logLength) > uint64(fileSize)-h.logOffset || h.logLength < headerSize {
		return fmt.Errorf("vhdx: log at offset %d (%d bytes) lies past end of file", h.logOffset, h.logLength)
	}
	e := make([]byte, headerSize)
	if _, err := ra.ReadAt(e, int64(h.logOffset)); err != nil {
		return fmt.Errorf("vhdx: read log: %w", err)
	}
	if string(e[:4]) == "loge" && bytes.Equal(e[32:48], h.logGUID[:]) {
		return fmt.Errorf("vhdx: log needs replay (image was not closed cleanly); run qemu-img check -r all on it first: %w", ErrUnsupported)
	}
	return nil
}

// region is a file range named by a region table entry.
type region struct {
	offset, length int64
}

// readRegions returns the BAT and metadata regions of the first valid region table.
func readRegions(ra io.ReaderAt, fileSize int64) (bat, meta region, err error) {
	b := make([]byte, regionSize)
	for _, off := range []int64{region1Offset, region2Offset} {
		if _, err := ra.ReadAt(b, off); err != nil {
			return bat, meta, fmt.Errorf("vhdx: read region table at offset %d: %w", off, err)
		}
		if string(b[:4]) == "regi" && crcValid(b) {
			return parseRegions(b, fileSize)
		}
	}
	return bat, meta, errors.New("vhdx: neither region table has a valid signature and CRC-32C")
}

func parseRegions(b []byte, fileSize int64) (bat, meta region, err error) {
	le := binary.LittleEndian
	n := le.Uint32(b[8:])
	if n > maxRegions {
		return bat, meta, fmt.Errorf("vhdx: region table has %d entries, at most %d allowed", n, maxRegions)
	}
	for i := range int(n) {
		e := b[16+32*i : 48+32*i]
		var id guid
		copy(id[:], e)
		r := region{offset: int64(le.Uint64(e[16:]) & (1<<62 - 1)), length: int64(le.Uint32(e[24:]))}
		if r.offset%mib != 0 || r.offset < minFileSize || r.offset > fileSize-r.length {
			return bat, meta, fmt.Errorf("vhdx: region %x at offset %d (%d bytes) is misaligned or past end of file", id, r.offset, r.length)
		}
		switch {
		case id == regionBAT:
			bat = r
		case id == regionMetadata:
			meta = r
		case le.Uint32(e[28:])&1 != 0:
			return bat, meta, fmt.Errorf("vhdx: unknown required region %x: %w", id, ErrUnsupported)
		}
	}
	if bat.length == 0 || meta.length == 0 {
		return bat, meta, errors.New("vhdx: region table lacks the BAT or metadata region")
	}
	return bat, meta, nil
}

// wrongType checks the file type identifier.
func wrongType(ra io.ReaderAt, size int64) error {
	b := make([]byte, len(fileMagic))
	if size < int64(len(b)) {
		return fmt.Errorf("vhdx: file of %d bytes: %w", size, image.ErrWrongType)
	}
	if _, err := ra.ReadAt(b, 0); err != nil {
		return fmt.Errorf("vhdx: read file type identifier: %w", err)
	}
	if !Probe(b) {
		return fmt.Errorf("vhdx: bad magic %q: %w", b, image.ErrWrongType)
	}
	if size < minFileSize {
		return fmt.Errorf("vhdx: file of %d bytes truncated before its region tables", size)
	}
	return nil
}
