package iso

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxDirBytes bounds how much of one directory is read; real directories are a few sectors.
const maxDirBytes = 16 << 20

// iso9660 walks the primary volume's directory tree, using Rock Ridge NM names when present.
type iso9660 struct {
	r       io.ReaderAt
	rootRec dirEntry
}

func newISO9660(r io.ReaderAt) (*iso9660, error) {
	sec := make([]byte, SectorSize)
	for i := range maxDescriptors {
		if _, err := r.ReadAt(sec, int64(firstDescriptorSector+i)*SectorSize); err != nil {
			return nil, fmt.Errorf("read volume descriptor %d: %w", i, err)
		}
		if string(sec[1:6]) != "CD001" || sec[0] == 255 {
			break
		}
		if sec[0] == 1 {
			rec := sec[156 : 156+34]
			root := dirEntry{name: "", dir: true, lba: binary.LittleEndian.Uint32(rec[2:6]),
				size: int64(binary.LittleEndian.Uint32(rec[10:14]))}
			return &iso9660{r: r, rootRec: root}, nil
		}
	}
	return nil, errors.New("no ISO 9660 primary volume descriptor")
}

func (t *iso9660) root() (dirEntry, error) { return t.rootRec, nil }

func (t *iso9660) list(d dirEntry) ([]dirEntry, error) {
	if d.size > maxDirBytes || d.size < 0 {
		return nil, fmt.Errorf("directory at sector %d claims %d bytes", d.lba, d.size)
	}
	buf := make([]byte, d.size)
	if _, err := t.r.ReadAt(buf, int64(d.lba)*SectorSize); err != nil {
		return nil, fmt.Errorf("read directory at sector %d: %w", d.lba, err)
	}
	var out []dirEntry
	multi := false // previous record continues in the next one (files over 4 GiB)
	for off := 0; off < len(buf); {
		n := int(buf[off])
		if n == 0 { // records never cross sectors; skip the padding
			off = (off/SectorSize + 1) * SectorSize
			continue
		}
		if n < 34 || off+n > len(buf) {
			return nil, fmt.Errorf("directory at sector %d: bad record length %d at byte %d", d.lba, n, off)
		}
		e, ok := parseDirRecord(buf[off : off+n])
		off += n
		if !ok {
			continue
		}
		if multi && len(out) > 0 && out[len(out)-1].name == e.name {
			out[len(out)-1].size += e.size
		} else {
			out = append(out, e)
		}
		multi = buf[off-n+25]&0x80 != 0
	}
	return out, nil
}

// parseDirRecord decodes one directory record; ok is false for the "." and ".." records.
func parseDirRecord(rec []byte) (dirEntry, bool) {
	nameLen := int(rec[32])
	if 33+nameLen > len(rec) {
		return dirEntry{}, false
	}
	id := rec[33 : 33+nameLen]
	if nameLen == 1 && (id[0] == 0 || id[0] == 1) {
		return dirEntry{}, false
	}
	e := dirEntry{
		dir:  rec[25]&0x02 != 0,
		lba:  binary.LittleEndian.Uint32(rec[2:6]),
		size: int64(binary.LittleEndian.Uint32(rec[10:14])),
	}
	su := 33 + nameLen
	if nameLen%2 == 0 {
		su++ // padding byte after an even-length identifier
	}
	if su <= len(rec) {
		if nm, ok := rockRidgeName(rec[su:]); ok {
			e.name = nm
			return e, true
		}
	}
	name := string(id)
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	e.name = strings.TrimSuffix(name, ".")
	return e, true
}

// rockRidgeName joins the NM entries of a System Use area.
func rockRidgeName(su []byte) (string, bool) {
	var name []byte
	found := false
	for off := 0; off+4 <= len(su); {
		n := int(su[off+2])
		if n < 4 || off+n > len(su) {
			break
		}
		sig := string(su[off : off+2])
		if sig == "ST" {
			break
		}
		if sig == "NM" && n >= 5 && su[off+4]&0x06 == 0 { // not "." or ".."
			name = append(name, su[off+5:off+n]...)
			found = true
		}
		off += n
	}
	return string(name), found && len(name) > 0
}
