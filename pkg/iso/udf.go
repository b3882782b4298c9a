package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unicode/utf16"
)

// UDF descriptor tag identifiers (ECMA-167).
const (
	tagAnchor       = 2
	tagPartition    = 5
	tagLogicalVol   = 6
	tagTerminating  = 8
	tagFileSet      = 256
	tagFileID       = 257
	tagFileEntry    = 261
	tagExtFileEntry = 266
	anchorSector    = 256
	maxVDSSectors   = 64
)

// udf walks a UDF file system with one type 1 partition (what mastering tools write for DVD images).
type udf struct {
	r         io.ReaderAt
	partStart uint32 // absolute sector of logical block 0
	rootICB   uint32 // logical block of the root directory's file entry
}

func newUDF(r io.ReaderAt) (*udf, error) {
	sec := make([]byte, SectorSize)
	if err := readTagged(r, sec, anchorSector, tagAnchor); err != nil {
		return nil, fmt.Errorf("UDF anchor: %w", err)
	}
	vdsLen, vdsLoc := binary.LittleEndian.Uint32(sec[16:20]), binary.LittleEndian.Uint32(sec[20:24])
	t := &udf{r: r}
	var fsdBlock uint32
	havePart, haveLV := false, false
scan:
	for i := range min(vdsLen/SectorSize, maxVDSSectors) {
		if _, err := r.ReadAt(sec, int64(vdsLoc+i)*SectorSize); err != nil {
			return nil, fmt.Errorf("read UDF volume descriptor: %w", err)
		}
		switch binary.LittleEndian.Uint16(sec[0:2]) {
		case tagPartition:
			t.partStart, havePart = binary.LittleEndian.Uint32(sec[188:192]), true
		case tagLogicalVol:
			if bs := binary.LittleEndian.Uint32(sec[212:216]); bs != SectorSize {
				return nil, fmt.Errorf("UDF logical block size %d is not %d", bs, SectorSize)
			}
			if sec[440] != 1 {
				return nil, fmt.Errorf("UDF partition map type %d is not supported (only type 1)", sec[440])
			}
			fsdBlock, haveLV = binary.LittleEndian.Uint32(sec[252:256]), true
		case tagTerminating:
			break scan
		}
	}
	if !havePart || !haveLV {
		return nil, errors.New("UDF volume descriptor sequence lacks a partition or logical volume descriptor")
	}
	if err := readTagged(r, sec, t.partStart+fsdBlock, tagFileSet); err != nil {
		return nil, fmt.Errorf("UDF file set descriptor: %w", err)
	}
	t.rootICB = binary.LittleEndian.Uint32(sec[404:408])
	return t, nil
}

// readTagged reads one sector and checks its descriptor tag identifier.
func readTagged(r io.ReaderAt, sec []byte, lba uint32, want uint16) error {
	if _, err := r.ReadAt(sec, int64(lba)*SectorSize); err != nil {
		return fmt.Errorf("read sector %d: %w", lba, err)
	}
	if got := binary.LittleEndian.Uint16(sec[0:2]); got != want {
		return fmt.Errorf("sector %d holds descriptor tag %d, want %d", lba, got, want)
	}
	return nil
}

func (t *udf) root() (dirEntry, error) {
	return dirEntry{dir: true, lba: t.partStart + t.rootICB}, nil
}

// icb is what a file entry says about a file's data.
type icb struct {
	dir      bool
	size     int64
	extents  [][2]uint32 // (absolute sector, bytes)
	embedded []byte      // data stored inside the file entry itself
}

// readICB decodes the file entry or extended file entry at absolute sector lba.
func (t *udf) readICB(lba uint32) (icb, error) {
	sec := make([]byte, SectorSize)
	if _, err := t.r.ReadAt(sec, int64(lba)*SectorSize); err != nil {
		return icb{}, fmt.Errorf("read UDF file entry at sector %d: %w", lba, err)
	}
	var eaOff, adOff int
	switch binary.LittleEndian.Uint16(sec[0:2]) {
	case tagFileEntry:
		eaOff, adOff = 168, 176
	case tagExtFileEntry:
		eaOff, adOff = 208, 216
	default:
		return icb{}, fmt.Errorf("sector %d is not a UDF file entry", lba)
	}
	f := icb{dir: sec[27] == 4, size: int64(binary.LittleEndian.Uint64(sec[56:64]))}
	lEA, lAD := binary.LittleEndian.Uint32(sec[eaOff:]), binary.LittleEndian.Uint32(sec[eaOff+4:])
	start := uint64(adOff) + uint64(lEA)
	if start+uint64(lAD) > SectorSize {
		return icb{}, fmt.Errorf("UDF file entry at sector %d: descriptors overflow the sector", lba)
	}
	ads := sec[start : start+uint64(lAD)]
	switch adType := binary.LittleEndian.Uint16(sec[34:36]) & 7; adType {
	case 0, 1: // short_ad, long_ad
		step := 8
		if adType == 1 {
			step = 16
		}
		for off := 0; off+step <= len(ads); off += step {
			n := binary.LittleEndian.Uint32(ads[off:]) & 0x3FFFFFFF
			if n == 0 {
				break
			}
			f.extents = append(f.extents, [2]uint32{t.partStart + binary.LittleEndian.Uint32(ads[off+4:]), n})
		}
	case 3:
		f.embedded = ads
	default:
		return icb{}, fmt.Errorf("UDF file entry at sector %d: allocation descriptor type %d not supported", lba, adType)
	}
	return f, nil
}

func (t *udf) list(d dirEntry) ([]dirEntry, error) {
	f, err := t.readICB(d.lba)
	if err != nil {
		return nil, err
	}
	data, err := t.readData(f)
	if err != nil {
		return nil, err
	}
	var out []dirEntry
	for off := 0; off+38 <= len(data); {
		fid := data[off:]
		if binary.LittleEndian.Uint16(fid[0:2]) != tagFileID {
			return nil, fmt.Errorf("UDF directory at sector %d: bad identifier descriptor at byte %d", d.lba, off)
		}
		chars, lFI := fid[18], int(fid[19])
		lIU := int(binary.LittleEndian.Uint16(fid[36:38]))
		total := (38 + lIU + lFI + 3) &^ 3
		if off+38+lIU+lFI > len(data) {
			return nil, fmt.Errorf("UDF directory at sector %d: identifier overruns the directory", d.lba)
		}
		off += total
		if chars&0x0C != 0 { // deleted or parent
			continue
		}
		e, err := t.entry(binary.LittleEndian.Uint32(fid[24:28]), decodeDString(fid[38+lIU:38+lIU+lFI]))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// entry resolves a directory member: directories keep their file entry location, files their data location.
func (t *udf) entry(block uint32, name string) (dirEntry, error) {
	abs := t.partStart + block
	f, err := t.readICB(abs)
	if err != nil {
		return dirEntry{}, err
	}
	if f.dir {
		return dirEntry{name: name, dir: true, lba: abs}, nil
	}
	e := dirEntry{name: name, size: f.size}
	if len(f.extents) > 0 {
		e.lba = f.extents[0][0]
	}
	return e, nil
}

func (t *udf) readData(f icb) ([]byte, error) {
	if f.embedded != nil {
		return f.embedded, nil
	}
	if f.size > maxDirBytes || f.size < 0 {
		return nil, fmt.Errorf("UDF directory claims %d bytes", f.size)
	}
	data := make([]byte, 0, f.size)
	for _, ext := range f.extents {
		n := min(int64(ext[1]), f.size-int64(len(data)))
		if n <= 0 {
			break
		}
		buf := make([]byte, n)
		if _, err := t.r.ReadAt(buf, int64(ext[0])*SectorSize); err != nil {
			return nil, fmt.Errorf("read UDF directory data at sector %d: %w", ext[0], err)
		}
		data = append(data, buf...)
	}
	return data, nil
}

// decodeDString decodes an OSTA compressed unicode name (8-bit Latin-1 or 16-bit big-endian).
func decodeDString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case 8:
		rs := make([]rune, 0, len(b)-1)
		for _, c := range b[1:] {
			rs = append(rs, rune(c))
		}
		return string(rs)
	case 16:
		u := make([]uint16, 0, len(b)/2)
		for i := 1; i+1 < len(b); i += 2 {
			u = append(u, binary.BigEndian.Uint16(b[i:]))
		}
		return string(utf16.Decode(u))
	}
	return string(b[1:])
}
