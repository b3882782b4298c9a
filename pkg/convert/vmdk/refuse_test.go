package vmdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

func TestOpenRefuses(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	in := func(name string) string { return filepath.Join(dir, name) }
	formattest.QemuImg(t, "create", "-q", "-f", "vmdk", in("base.vmdk"), "1M")
	tests := []struct {
		name, file string
		create     []string
		opts       []Option
		want       error
		msg        string
	}{
		{"flat descriptor", "flat.vmdk", []string{"create", "-q", "-f", "vmdk", "-o", "subformat=monolithicFlat", in("flat.vmdk"), "1M"}, nil, ErrExternalExtent, "upload the flat extent as raw"},
		{"split descriptor", "split.vmdk", []string{"create", "-q", "-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", in("split.vmdk"), "1M"}, nil, ErrExternalExtent, "descriptor file"},
		{"split extent alone", "split-s001.vmdk", nil, nil, ErrExternalExtent, "split image"},
		{"delta disk", "delta.vmdk", []string{"create", "-q", "-f", "vmdk", "-b", in("base.vmdk"), "-F", "vmdk", in("delta.vmdk")}, nil, ErrUnsupported, "parent"},
		{"too large", "base.vmdk", nil, []Option{WithMaxSize(512 << 10)}, ErrUnsupported, "exceeds the limit"},
		{"huge directory", "big.vmdk", []string{"create", "-q", "-f", "vmdk", in("big.vmdk"), "2T"}, []Option{WithMaxTableBytes(1024)}, ErrUnsupported, "table limit"},
		{"qcow2", "disk.qcow2", []string{"create", "-q", "-f", "qcow2", in("disk.qcow2"), "1M"}, nil, errWrongType, "bad magic"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.create != nil {
				formattest.QemuImg(t, tc.create...)
			}
			img, err := openFile(t, in(tc.file), tc.opts...)
			if err == nil {
				img.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Open error %q, want %v containing %q", err, tc.want, tc.msg)
			}
		})
	}
}

func TestStreamReaderRefusesOutOfOrderGrains(t *testing.T) {
	formattest.NeedQemuImg(t)
	path, _ := convertImage(t, "subformat=streamOptimized")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := parseHeader(data)
	second := firstGrains(data, int64(h.overhead)*sectorSize)
	binary.LittleEndian.PutUint64(data[second:], 0) // second grain claims LBA 0 again
	s, err := NewStreamReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bytes.NewBuffer(nil).ReadFrom(s)
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("ReadFrom error %v, want out of order", err)
	}
}

// firstGrains returns the file offset of the second grain marker after off.
func firstGrains(data []byte, off int64) int64 {
	size := int64(binary.LittleEndian.Uint32(data[off+8:]))
	return off + (12+size+sectorSize-1)/sectorSize*sectorSize
}

func TestStreamReaderRefusesMonolithicSparse(t *testing.T) {
	formattest.NeedQemuImg(t)
	path, _ := convertImage(t, "subformat=monolithicSparse")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := NewStreamReader(f); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "random access") {
		t.Fatalf("NewStreamReader error %v, want random access needed", err)
	}
}

// TestReadRefusesBadTables damages the tables and grains of seed images: reads fail with an
// error naming the cause.
func TestReadRefusesBadTables(t *testing.T) {
	disk := seedDisk()
	plain, stream := buildSparse(disk, plainSparse), buildSparse(disk, streamTables)
	le := binary.LittleEndian
	gt, gd := 4*sectorSize, 3*sectorSize
	firstGrain := int(le.Uint32(stream[gt:])) * sectorSize
	tests := []struct {
		name string
		img  []byte
		edit func(b []byte)
		want string
	}{
		{"grain past EOF", plain, func(b []byte) { le.PutUint32(b[gt:], 1<<30) }, "past end of file"},
		{"table past EOF", plain, func(b []byte) { le.PutUint32(b[gd:], 1<<30) }, "past end of file"},
		{"truncated grain", plain[:len(plain)-100], func([]byte) {}, "past end of file"},
		{"corrupt deflate", stream, func(b []byte) { b[firstGrain+14] ^= 0xff }, "decompress grain"},
		{"bad checksum", stream, func(b []byte) { b[firstGrain+12+int(le.Uint32(b[firstGrain+8:]))-1] ^= 1 }, "checksum"},
		{"huge compressed size", stream, func(b []byte) { le.PutUint32(b[firstGrain+8:], 1<<30) }, "bad compressed size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(tc.img)
			tc.edit(b)
			img, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := img.ReadAt(make([]byte, len(disk)), 0); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReadAt error %v, want %q", err, tc.want)
			}
			if &tc.img[0] == &stream[0] { // streamOptimized: the sequential reader must fail too
				s, err := NewStreamReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, s); err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("stream error %v, want %q", err, tc.want)
				}
			}
		})
	}
}
