package vmdk

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zlib"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed images in testdata")

// layout selects how buildSparse arranges an image.
type layout int

const (
	plainSparse  layout = iota // monolithicSparse: tables first, raw grains
	zeroedGrains               // monolithicSparse with zeroed-grain entries for all-zero grains
	streamTables               // streamOptimized as qemu-img writes it: tables first, compressed grains
	streamFooter               // streamOptimized as VMware writes it: grains, then tables and footer
)

const (
	seedGrainSectors = 8 // 4 KiB grains keep seeds small
	seedGTEntries    = 512
	seedGTSectors    = seedGTEntries * 4 / sectorSize
)

// buildSparse encodes disk as a compact hosted sparse extent with 4 KiB grains (qemu-img pads
// its images to 64 KiB grains, mostly zeros the fuzzer would waste its mutations on).
func buildSparse(disk []byte, l layout) []byte {
	compressed := l == streamTables || l == streamFooter
	firstGrain := uint64(3 + 1 + seedGTSectors) // header, descriptor, GD, GT
	if l == streamFooter {
		firstGrain = 3
	}
	out := make([]byte, firstGrain*sectorSize)
	copy(out[sectorSize:], descriptor(len(disk), compressed))
	gt := encodeGrains(&out, disk, l)
	h := makeHeader(len(disk), l, firstGrain)
	copy(out, h)
	if l != streamFooter {
		binary.LittleEndian.PutUint32(out[3*sectorSize:], 4)
		copy(out[4*sectorSize:], gt)
		if compressed {
			out = append(out, make([]byte, sectorSize)...) // end-of-stream marker
		}
		return out
	}
	gtSector := uint32(len(out)/sectorSize + 1)
	out = appendMarker(out, seedGTSectors, markerGT)
	out = append(out, gt...)
	gdSector := uint64(len(out)/sectorSize + 1)
	out = appendMarker(out, 1, markerGD)
	out = append(out, make([]byte, sectorSize)...)
	binary.LittleEndian.PutUint32(out[gdSector*sectorSize:], gtSector)
	out = appendMarker(out, 1, markerFooter)
	binary.LittleEndian.PutUint64(h[56:], gdSector)
	out = append(out, h...)
	return append(out, make([]byte, sectorSize)...) // end-of-stream marker
}

func descriptor(size int, compressed bool) string {
	createType := "monolithicSparse"
	if compressed {
		createType = "streamOptimized"
	}
	return fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=%q\n\nRW %d SPARSE \"seed.vmdk\"\n",
		createType, size/sectorSize)
}

func appendMarker(out []byte, sectors uint64, typ uint32) []byte {
	m := make([]byte, sectorSize)
	binary.LittleEndian.PutUint64(m, sectors)
	binary.LittleEndian.PutUint32(m[12:], typ)
	return append(out, m...)
}

// encodeGrains appends the non-zero grains of disk to out and returns the grain table.
func encodeGrains(out *[]byte, disk []byte, l layout) []byte {
	grain := seedGrainSectors * sectorSize
	gt := make([]byte, seedGTEntries*4)
	for g := 0; g*grain < len(disk); g++ {
		data := disk[g*grain : min((g+1)*grain, len(disk))]
		switch {
		case formattest.AllZero(data) && l == zeroedGrains:
			binary.LittleEndian.PutUint32(gt[4*g:], 1)
			continue
		case formattest.AllZero(data):
			continue
		}
		binary.LittleEndian.PutUint32(gt[4*g:], uint32(len(*out)/sectorSize))
		if l == plainSparse || l == zeroedGrains {
			*out = append(*out, data...)
			continue
		}
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(data)
		zw.Close()
		m := binary.LittleEndian.AppendUint64(nil, uint64(g*seedGrainSectors))
		m = binary.LittleEndian.AppendUint32(m, uint32(z.Len()))
		*out = append(append(*out, m...), z.Bytes()...)
		*out = append(*out, make([]byte, (sectorSize-len(*out)%sectorSize)%sectorSize)...)
	}
	return gt
}

func makeHeader(size int, l layout, firstGrain uint64) []byte {
	h := make([]byte, sectorSize)
	le := binary.LittleEndian
	flags := map[layout]uint32{plainSparse: 1, zeroedGrains: 1 | flagZeroedGrain,
		streamTables: 1 | flagCompressed | flagMarkers, streamFooter: 1 | flagCompressed | flagMarkers}[l]
	copy(h, magicSparse)
	le.PutUint32(h[4:], 3)
	le.PutUint32(h[8:], flags)
	le.PutUint64(h[12:], uint64(size/sectorSize))
	le.PutUint64(h[20:], seedGrainSectors)
	le.PutUint64(h[28:], 1)
	le.PutUint64(h[36:], 2)
	le.PutUint32(h[44:], seedGTEntries)
	le.PutUint64(h[56:], map[bool]uint64{false: 3, true: gdAtEnd}[l == streamFooter])
	le.PutUint64(h[64:], firstGrain)
	copy(h[73:], "\n \r\n")
	if flags&flagCompressed != 0 {
		le.PutUint16(h[77:], compressDeflate)
	}
	return h
}

func seedDisk() []byte {
	disk := make([]byte, 64<<10)
	for i := range 5000 {
		disk[i] = byte(i * 7 / 3)
	}
	copy(disk[40000:], bytes.Repeat([]byte("seed "), 300))
	return disk
}

var seeds = map[string]layout{
	"monolithicSparse.vmdk": plainSparse, "zeroedGrains.vmdk": zeroedGrains,
	"streamOptimized.vmdk": streamTables, "streamOptimizedFooter.vmdk": streamFooter,
}

// TestSeeds checks that each layout reads the same through qemu-img, Open and (when compressed)
// NewStreamReader, and that testdata holds the seeds (go test -run TestSeeds -args -update).
func TestSeeds(t *testing.T) {
	formattest.NeedQemuImg(t)
	disk := seedDisk()
	for name, l := range seeds {
		t.Run(name, func(t *testing.T) {
			img := buildSparse(disk, l)
			formattest.CheckSeed(t, filepath.Join("testdata", name), img, *update, "vmdk", disk)
			r, err := Open(bytes.NewReader(img), int64(len(img)))
			if err != nil {
				t.Fatal(err)
			}
			formattest.CompareChunks(t, r, disk, 3000)
			if ext, err := r.Extent(8<<10, 8<<10); err != nil || !ext.Zero || ext.Length != 8<<10 {
				t.Fatalf("Extent of zero grains = %+v, %v", ext, err)
			}
			if l == streamTables || l == streamFooter {
				s, err := NewStreamReader(bytes.NewReader(img))
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if _, err := got.ReadFrom(s); err != nil || !bytes.Equal(got.Bytes(), disk) {
					t.Fatalf("stream of %s differs (%v)", name, err)
				}
			}
		})
	}
}
