package convert

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestZstdFrameLen(t *testing.T) {
	text := bytes.Repeat([]byte("golden image "), 5000)
	tests := []struct {
		name     string
		data     []byte
		checksum bool
		cut      int // bytes removed from the frame's end
		wantOK   bool
	}{
		{"compressed blocks", text, false, 0, true},
		{"with checksum", text, true, 0, true},
		{"one repeated byte", make([]byte, 64<<10), true, 0, true},
		{"truncated", text, true, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := zstd.NewWriter(nil, zstd.WithEncoderCRC(tt.checksum))
			if err != nil {
				t.Fatal(err)
			}
			frame := enc.EncodeAll(tt.data, nil)
			in := append(frame[:len(frame)-tt.cut:len(frame)-tt.cut], 0x28, 0xb5, 0xff, 0xff) // the next cluster's bytes follow
			if tt.cut > 0 {
				in = frame[:len(frame)-tt.cut]
			}
			var h zstd.Header
			if err := h.Decode(in); err != nil {
				t.Fatal(err)
			}
			n, ok := zstdFrameLen(in, h)
			if ok != tt.wantOK || ok && n != len(frame) {
				t.Errorf("zstdFrameLen = %d, %v; want %d, %v", n, ok, len(frame), tt.wantOK)
			}
		})
	}
}
