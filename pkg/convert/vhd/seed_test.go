package vhd

import (
	"bytes"
	"encoding/binary"
	"flag"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed images in testdata")

// makeFooter returns a checksummed footer for a disk of size bytes.
func makeFooter(diskType uint32, size uint64, dataOffset uint64) []byte {
	f := make([]byte, footerSize)
	be := binary.BigEndian
	copy(f, cookieFooter)
	be.PutUint32(f[8:], 2)
	be.PutUint32(f[12:], 0x10000)
	be.PutUint64(f[16:], dataOffset)
	copy(f[28:], "test")
	be.PutUint64(f[40:], size)
	be.PutUint64(f[48:], size)
	be.PutUint32(f[56:], 0xffff10ff) // maximum CHS: readers trust the current size
	be.PutUint32(f[60:], diskType)
	be.PutUint32(f[checksumOffset:], checksum(f, checksumOffset))
	return f
}

// buildVHD encodes disk as a fixed VHD, or as a dynamic VHD with small blocks (qemu-img's 2 MiB
// blocks make seeds too large for the fuzzer).
func buildVHD(disk []byte, dynamic bool) []byte {
	if !dynamic {
		return append(bytes.Clone(disk), makeFooter(diskFixed, uint64(len(disk)), ^uint64(0))...)
	}
	const blockSize, bitmap = 4096, 512
	blocks := (len(disk) + blockSize - 1) / blockSize
	foot := makeFooter(diskDynamic, uint64(len(disk)), footerSize)
	h := make([]byte, dynHeaderSize)
	be := binary.BigEndian
	copy(h, cookieDynamic)
	be.PutUint64(h[8:], ^uint64(0))
	tableOffset := footerSize + dynHeaderSize
	be.PutUint64(h[16:], uint64(tableOffset))
	be.PutUint32(h[24:], 0x10000)
	be.PutUint32(h[28:], uint32(blocks))
	be.PutUint32(h[32:], blockSize)
	be.PutUint32(h[36:], checksum(h, 36))
	bat := bytes.Repeat([]byte{0xff}, (blocks*4+sectorSize-1)/sectorSize*sectorSize)
	out := append(append(bytes.Clone(foot), h...), bat...)
	for b := 0; b < blocks; b++ {
		data := disk[b*blockSize : min((b+1)*blockSize, len(disk))]
		if formattest.AllZero(data) {
			continue
		}
		be.PutUint32(out[tableOffset+4*b:], uint32(len(out)/sectorSize))
		out = append(out, bytes.Repeat([]byte{0xff}, bitmap)...)
		out = append(out, data...)
		out = append(out, make([]byte, blockSize-len(data))...)
	}
	return append(out, foot...)
}

func seedDisk() []byte {
	disk := make([]byte, 24<<10)
	for i := range 5000 {
		disk[i] = byte(i * 7 / 3)
	}
	copy(disk[16000:], bytes.Repeat([]byte("seed "), 300))
	return disk
}

// TestSeeds checks that the compact seed images read the same through qemu-img and Open, and
// that testdata holds them (go test -run TestSeeds -args -update rewrites them).
func TestSeeds(t *testing.T) {
	formattest.NeedQemuImg(t)
	disk := seedDisk()
	for name, dynamic := range map[string]bool{"fixed.vhd": false, "dynamic.vhd": true} {
		path := filepath.Join("testdata", name)
		formattest.CheckSeed(t, path, buildVHD(disk, dynamic), *update, "vpc", disk)
		r, err := openFile(t, path)
		if err != nil {
			t.Fatal(err)
		}
		formattest.CompareChunks(t, r, disk, 3000)
		r.Close()
	}
}
