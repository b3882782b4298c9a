package vhdx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// smallVHDX returns a 1 MiB-virtual VHDX with 1 MiB blocks made by qemu-img.
func smallVHDX(t *testing.T) []byte {
	dir := t.TempDir()
	raw, img := filepath.Join(dir, "in.raw"), filepath.Join(dir, "disk.vhdx")
	if err := os.WriteFile(raw, bytes.Repeat([]byte{7}, mib), 0o644); err != nil {
		t.Fatal(err)
	}
	formattest.QemuImg(t, "convert", "-f", "raw", "-O", "vhdx", "-o", "block_size=1M", raw, img)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setCRC(b []byte) {
	binary.LittleEndian.PutUint32(b[checksumOffset:], 0)
	binary.LittleEndian.PutUint32(b[checksumOffset:], crc32.Checksum(b, castagnoli))
}

// edit returns a copy of file changed by f.
func edit(file []byte, f func(b []byte)) []byte {
	b := bytes.Clone(file)
	f(b)
	return b
}

// regionOffset returns where the first region table puts region id.
func regionOffset(b []byte, id guid) int64 {
	t := b[region1Offset:]
	for i := range int(binary.LittleEndian.Uint32(t[8:])) {
		if bytes.Equal(t[16+32*i:32+32*i], id[:]) {
			return int64(binary.LittleEndian.Uint64(t[32+32*i:]))
		}
	}
	return -1
}

// metaItem returns the file offset of metadata item id.
func metaItem(b []byte, id guid) int64 {
	m := regionOffset(b, regionMetadata)
	for i := range int(binary.LittleEndian.Uint16(b[m+10:])) {
		e := b[m+32+32*int64(i):]
		if bytes.Equal(e[:16], id[:]) {
			return m + int64(binary.LittleEndian.Uint32(e[16:]))
		}
	}
	return -1
}

func withDirtyLog(b []byte) {
	logGUID := mustGUID("01234567-89AB-CDEF-0123-456789ABCDEF")
	for _, off := range []int{header1Offset, header2Offset} {
		h := b[off : off+headerSize]
		copy(h[48:], logGUID[:])
		setCRC(h)
	}
	logOff := binary.LittleEndian.Uint64(b[header1Offset+72:])
	copy(b[logOff:], "loge")
	copy(b[logOff+32:], logGUID[:])
}

func TestOpenRefuses(t *testing.T) {
	formattest.NeedQemuImg(t)
	file := smallVHDX(t)
	tests := []struct {
		name string
		data []byte
		opts []Option
		want error
		msg  string
	}{
		{"dirty log", edit(file, withDirtyLog), nil, ErrUnsupported, "log needs replay"},
		{"has parent", edit(file, func(b []byte) { b[metaItem(b, metaFileParameters)+4] |= flagHasParent }), nil, ErrUnsupported, "parent (backing file)"},
		{"parent locator", edit(file, func(b []byte) { copy(b[regionOffset(b, regionMetadata)+32:], metaParentLocator[:]) }), nil, ErrUnsupported, "parent (backing file)"},
		{"bad headers", edit(file, func(b []byte) { b[header1Offset+8]++; b[header2Offset+8]++ }), nil, nil, "neither header"},
		{"bad region tables", edit(file, func(b []byte) { b[region1Offset+20]++; b[region2Offset+20]++ }), nil, nil, "neither region table"},
		{"block size", edit(file, func(b []byte) { b[metaItem(b, metaFileParameters)+1] = 1 }), nil, nil, "block size"},
		{"too large", file, []Option{WithMaxSize(4096)}, ErrUnsupported, "exceeds the limit"},
		{"table limit", file, []Option{WithMaxTableBytes(4)}, ErrUnsupported, "table limit"},
		{"truncated", file[:512<<10], nil, nil, "truncated"},
		{"not a VHDX", make([]byte, 4096), nil, image.ErrWrongType, "bad magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, err := Open(bytes.NewReader(tc.data), int64(len(tc.data)), tc.opts...)
			if err == nil {
				img.Close()
				t.Fatal("Open succeeded")
			}
			if (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Open error %q, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestOneValidHeaderSuffices(t *testing.T) {
	formattest.NeedQemuImg(t)
	file := edit(smallVHDX(t), func(b []byte) { b[header2Offset+8]++; b[region1Offset+20]++ })
	img, err := Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, mib)
	if _, err := img.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, bytes.Repeat([]byte{7}, mib)) {
		t.Fatalf("ReadAt with one good header and region table: %v", err)
	}
}

func TestReadRefusesBadBlocks(t *testing.T) {
	formattest.NeedQemuImg(t)
	file := smallVHDX(t)
	bat := regionOffset(file, regionBAT)
	tests := []struct {
		name  string
		entry uint64
		want  string
	}{
		{"partially present", binary.LittleEndian.Uint64(file[bat:])&^7 | statePartiallyPresent, "partially present"},
		{"past end of file", 1<<40 | stateFullyPresent, "outside the file"},
		{"header area", stateFullyPresent, "outside the file"},
		{"unknown state", 4, "unknown state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := edit(file, func(b []byte) { binary.LittleEndian.PutUint64(b[bat:], tc.entry) })
			img, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := img.ReadAt(make([]byte, 4096), 0); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadAt error %v, want %q", err, tc.want)
			}
			if _, err := img.Extent(0, img.Size()); err == nil {
				t.Fatal("Extent succeeded")
			}
		})
	}
}
