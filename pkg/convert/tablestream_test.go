package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// TestTableFormatsStreamWithoutScratch streams the VHD and VHDX layouts qemu-img writes, gzip-wrapped,
// without a scratch directory: output identical to qemu-img's and nothing written to scratch.
func TestTableFormatsStreamWithoutScratch(t *testing.T) {
	formattest.NeedQemuImg(t)
	raw := filepath.Join(t.TempDir(), "src.raw")
	writePattern(t, raw, 16<<20+3*512)
	cases := []struct {
		name   string
		args   []string
		format Format
	}{
		{"vhd-dynamic", []string{"-O", "vpc", "-o", "force_size=on"}, FormatVHD},
		{"vhdx", []string{"-O", "vhdx"}, FormatVHDX},
		{"vhdx-1M-blocks", []string{"-O", "vhdx", "-o", "block_size=1M"}, FormatVHDX},
		{"vhdx-fixed", []string{"-O", "vhdx", "-o", "subformat=fixed"}, FormatVHDX},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src")
			formattest.QemuImg(t, append(append([]string{"convert", "-f", "raw"}, tc.args...), raw, src)...)
			want := oracle(t, src, tc.args[1])
			out := filepath.Join(t.TempDir(), "out.raw")
			var logged []string
			res, err := WriteRawFromStream(context.Background(), bytes.NewReader(gz(t, formattest.ReadFile(t, src))), out,
				WithLog(func(s string) { logged = append(logged, s) }))
			if err != nil {
				t.Fatal(err)
			}
			sameFiles(t, want, out)
			if res.ScratchWritten != 0 || res.Format != tc.format || res.Compression != CompressionGzip || len(logged) != 0 {
				t.Fatalf("result %+v, log %q: want %s in gzip, nothing in scratch, no log", res, logged, tc.format)
			}
		})
	}
}

// TestVHDOutOfOrderSpills swaps the table entries of two stored blocks, so that the disk's order is
// not the file's: the stream is copied to scratch, with a log line saying why, and converted from
// there; without a scratch directory the error says one is needed.
func TestVHDOutOfOrderSpills(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	raw, src := filepath.Join(dir, "src.raw"), filepath.Join(dir, "src.vhd")
	writePattern(t, raw, 8<<20)
	formattest.QemuImg(t, "convert", "-f", "raw", "-O", "vpc", "-o", "force_size=on", raw, src)
	b := formattest.ReadFile(t, src)
	be := binary.BigEndian
	bat := int(be.Uint64(b[512+16:]))
	first, second := b[bat:bat+4], b[bat+4:bat+8]
	if be.Uint32(first) == 0xffffffff || be.Uint32(second) == 0xffffffff {
		t.Fatal("the first two blocks of the pattern should be stored")
	}
	tmp := append([]byte(nil), first...)
	copy(first, second)
	copy(second, tmp)
	if err := os.WriteFile(src, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want := oracle(t, src, "vpc")

	out := filepath.Join(t.TempDir(), "out.raw")
	_, err := WriteRawFromStream(context.Background(), bytes.NewReader(b), out)
	if !errors.Is(err, ErrNeedScratch) {
		t.Fatalf("without scratch: %v, want ErrNeedScratch", err)
	}
	var logged []string
	res, err := WriteRawFromStream(context.Background(), bytes.NewReader(b), out, WithScratchDir(t.TempDir()),
		WithLog(func(s string) { logged = append(logged, s) }))
	if err != nil {
		t.Fatal(err)
	}
	sameFiles(t, want, out)
	if res.ScratchWritten != int64(len(b)) || len(logged) != 1 || !strings.Contains(logged[0], "stored at file offset") {
		t.Fatalf("scratch %d bytes (want %d), log %q: want one line naming the block out of order", res.ScratchWritten, len(b), logged)
	}
}

// TestTableStreamRefuses: truncated streams and differencing disks fail with one line, corrupt or
// unsupported.
func TestTableStreamRefuses(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	raw := filepath.Join(dir, "src.raw")
	writePattern(t, raw, 8<<20)
	read := func(name string, args ...string) []byte {
		p := filepath.Join(dir, name)
		formattest.QemuImg(t, append(args, p)...)
		return formattest.ReadFile(t, p)
	}
	vhd := read("x.vhd", "convert", "-f", "raw", "-O", "vpc", "-o", "force_size=on", raw)
	vhdx := read("x.vhdx", "convert", "-f", "raw", "-O", "vhdx", raw)
	diff := differencing(vhd)
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"vhd cut in its data", vhd[:len(vhd)/2], ErrCorrupt, "stream ends at offset"},
		{"vhd cut in its table", vhd[:1600], ErrCorrupt, "stream ends at offset 1600"},
		{"vhdx cut in its data", vhdx[:len(vhdx)-3<<20], ErrCorrupt, "stream ends at offset"},
		{"vhdx cut in its header", vhdx[:100<<10], ErrCorrupt, "stream ends at offset 102400"},
		{"vhd differencing", diff, ErrUnsupported, "parent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteRawFromStream(context.Background(), bytes.NewReader(tc.data), filepath.Join(t.TempDir(), "out"))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line, %v, mentioning %q", err, tc.want, tc.msg)
			}
			t.Log(err)
		})
	}
}

// differencing returns a copy of the dynamic VHD b whose footer copy says it is a differencing disk.
func differencing(b []byte) []byte {
	d := append([]byte(nil), b[:len(b)-512]...)
	binary.BigEndian.PutUint32(d[60:], 4)
	var sum uint32
	for i, c := range d[:512] {
		if i < 64 || i >= 68 {
			sum += uint32(c)
		}
	}
	binary.BigEndian.PutUint32(d[64:], ^sum)
	return d
}
