package convert

import (
	"encoding/binary"
	"testing"
)

func TestDetect(t *testing.T) {
	iso := make([]byte, HeaderLen)
	copy(iso[32769:], "CD001")
	vmdkStream := make([]byte, 512)
	copy(vmdkStream, "KDMV")
	binary.LittleEndian.PutUint32(vmdkStream[8:], 1<<16|3)
	binary.LittleEndian.PutUint16(vmdkStream[77:], 1)
	vmdkSparse := make([]byte, 512)
	copy(vmdkSparse, "KDMV")
	vhdDyn := make([]byte, 512)
	copy(vhdDyn, "conectix")
	binary.BigEndian.PutUint32(vhdDyn[60:], 3)
	tests := []struct {
		name   string
		header []byte
		want   Detection
	}{
		{"gzip", []byte{0x1f, 0x8b, 0x08, 0}, Detection{Compression: CompressionGzip}},
		{"xz", []byte("\xfd7zXZ\x00\x00"), Detection{Compression: CompressionXz}},
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0}, Detection{Compression: CompressionZstd}},
		{"bzip2", []byte("BZh91AY&SY"), Detection{Compression: CompressionBzip2}},
		{"BZh without level is raw", []byte("BZhx"), Detection{Format: FormatRaw}},
		{"qcow2", []byte("QFI\xfb\x00\x00\x00\x03"), Detection{Format: FormatQcow2}},
		{"vmdk stream", vmdkStream, Detection{Format: FormatVMDK, Subformat: "streamOptimized"}},
		{"vmdk sparse", vmdkSparse, Detection{Format: FormatVMDK, Subformat: "monolithicSparse"}},
		{"vmdk descriptor", []byte("# Disk DescriptorFile\nversion=1\n"), Detection{Format: FormatVMDK, Subformat: "descriptor"}},
		{"vhdx", []byte("vhdxfile\x00"), Detection{Format: FormatVHDX}},
		{"vhd dynamic", vhdDyn, Detection{Format: FormatVHD, Subformat: "dynamic"}},
		{"iso", iso, Detection{Format: FormatISO}},
		{"iso cut short", iso[:32770], Detection{Format: FormatRaw}},
		{"empty", nil, Detection{Format: FormatRaw}},
		{"mbr", append(make([]byte, 510), 0x55, 0xaa), Detection{Format: FormatRaw}},
	}
	for _, tc := range tests {
		if got := Detect(tc.header); got != tc.want {
			t.Errorf("%s: Detect = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestIsVHDFooter(t *testing.T) {
	foot := make([]byte, 512)
	copy(foot, "conectix")
	binary.BigEndian.PutUint32(foot[60:], 2)
	binary.BigEndian.PutUint64(foot[48:], 1<<20)
	if !IsVHDFooter(foot, 1<<20) {
		t.Error("fixed footer for 1 MiB not recognized")
	}
	if IsVHDFooter(foot, 2<<20) {
		t.Error("footer accepted for the wrong data length")
	}
	binary.BigEndian.PutUint32(foot[60:], 3)
	if IsVHDFooter(foot, 1<<20) {
		t.Error("dynamic disk type accepted as fixed footer")
	}
}
