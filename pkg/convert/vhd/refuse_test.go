package vhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/lima-vm/go-qcow2reader/image"
)

// differencing turns a dynamic VHD into a differencing disk whose parent is base.vhd.
func differencing(img []byte) []byte {
	be := binary.BigEndian
	img = bytes.Clone(img)
	for _, off := range []int{0, len(img) - footerSize} {
		f := img[off : off+footerSize]
		be.PutUint32(f[60:], diskDiff)
		be.PutUint32(f[checksumOffset:], checksum(f, checksumOffset))
	}
	h := img[footerSize : footerSize+dynHeaderSize]
	for i, c := range utf16.Encode([]rune("base.vhd")) {
		be.PutUint16(h[64+2*i:], c)
	}
	be.PutUint32(h[36:], checksum(h, 36))
	return img
}

func TestOpenRefuses(t *testing.T) {
	disk := seedDisk()
	dynamic, fixed := buildVHD(disk, true), buildVHD(disk, false)
	badSum := bytes.Clone(fixed)
	badSum[len(badSum)-footerSize+48]++ // current size
	batPastEOF := bytes.Clone(dynamic)
	binary.BigEndian.PutUint32(batPastEOF[footerSize+dynHeaderSize:], 1<<30)
	badBlock := bytes.Clone(dynamic)
	binary.BigEndian.PutUint32(badBlock[footerSize+32:], 3000)
	binary.BigEndian.PutUint32(badBlock[footerSize+36:], checksum(badBlock[footerSize:footerSize+dynHeaderSize], 36))
	tests := []struct {
		name string
		data []byte
		opts []Option
		want error
		msg  string
	}{
		{"differencing", differencing(dynamic), nil, ErrUnsupported, `parent (backing file) "base.vhd"`},
		{"footer checksum", badSum, nil, nil, "footer checksum"},
		{"too large", dynamic, []Option{WithMaxSize(4096)}, ErrUnsupported, "exceeds the limit"},
		{"table limit", dynamic, []Option{WithMaxTableBytes(8)}, ErrUnsupported, "table limit"},
		{"truncated fixed", fixed[:len(fixed)-footerSize-1], nil, image.ErrWrongType, "footer"},
		{"truncated dynamic", dynamic[:1550], nil, nil, "past end of file"},
		{"block size", badBlock, nil, nil, "block size 3000"},
		{"not a VHD", make([]byte, 4096), nil, image.ErrWrongType, "no \"conectix\" footer"},
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
	img, err := Open(bytes.NewReader(batPastEOF), int64(len(batPastEOF)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := img.ReadAt(make([]byte, 4096), 0); err == nil || !strings.Contains(err.Error(), "past end of file") {
		t.Fatalf("ReadAt of a block past EOF: %v", err)
	}
}
