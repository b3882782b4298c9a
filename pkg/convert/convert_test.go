package convert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// formatCases are images qemu-img makes from the pattern file.
var formatCases = []struct {
	name string
	args []string // qemu-img convert options producing the image
}{
	{"raw", []string{"-O", "raw"}},
	{"qcow2-v2", []string{"-O", "qcow2", "-o", "compat=0.10"}},
	{"qcow2-v3", []string{"-O", "qcow2"}},
	{"qcow2-zlib", []string{"-O", "qcow2", "-c"}},
	{"qcow2-zstd", []string{"-O", "qcow2", "-c", "-o", "compression_type=zstd"}},
	{"qcow2-2M-clusters", []string{"-O", "qcow2", "-o", "cluster_size=2M"}},
	{"qcow2-extended-l2", []string{"-O", "qcow2", "-o", "cluster_size=128k,extended_l2=on"}},
	{"qcow2-512-clusters-zlib", []string{"-O", "qcow2", "-c", "-o", "cluster_size=512"}},
	{"vhd-fixed", []string{"-O", "vpc", "-o", "subformat=fixed,force_size=on"}},
	{"vhd-dynamic", []string{"-O", "vpc", "-o", "force_size=on"}},
	{"vmdk-sparse", []string{"-O", "vmdk"}},
	{"vmdk-stream", []string{"-O", "vmdk", "-o", "subformat=streamOptimized"}},
	{"vhdx", []string{"-O", "vhdx"}},
}

func TestWriteRawMatchesQemuImg(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	pattern := filepath.Join(dir, "pattern.raw")
	writePattern(t, pattern, testSize)
	for _, tc := range formatCases {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "src."+tc.name)
			formattest.QemuImg(t, append(append([]string{"convert"}, tc.args...), pattern, src)...)
			want := oracle(t, src, tc.args[1])
			f, size := openFile(t, src)
			img, det, err := Open(f, size)
			if errors.Is(err, ErrUnsupported) && det.Format != FormatRaw && det.Format != FormatQcow2 {
				t.Skipf("no %s reader in this build: %v", det.Format, err)
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer img.Close()
			out := filepath.Join(t.TempDir(), "out.raw")
			var last int64
			res, err := WriteRaw(context.Background(), img, out, WithProgress(func(done, total int64) { last = done }))
			if err != nil {
				t.Fatalf("WriteRaw: %v", err)
			}
			sameFiles(t, want, out)
			if res.VirtualSize != img.Size() || last != img.Size() {
				t.Errorf("virtual size %d, progress ended at %d, want %d", res.VirtualSize, last, img.Size())
			}
			if a := allocated(t, out); a >= testSize*3/4 {
				t.Errorf("output occupies %d bytes of %d: holes were not kept", a, int64(testSize))
			}
		})
	}
}

func TestWriteRawFromStreamMatchesQemuImg(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	pattern, small := filepath.Join(dir, "pattern.raw"), filepath.Join(dir, "small.raw")
	writePattern(t, pattern, testSize)
	writePattern(t, small, 8<<20) // compressing in the test is slow: wrappers get a smaller image
	for _, tc := range formatCases {
		for _, c := range []Compression{CompressionNone, CompressionGzip, CompressionZstd, CompressionXz, CompressionBzip2} {
			if c != CompressionNone && tc.name != "qcow2-v3" && tc.name != "raw" && tc.name != "vhd-fixed" {
				continue
			}
			t.Run(tc.name+"/"+string(c), func(t *testing.T) {
				src, in := filepath.Join(t.TempDir(), "src"), pattern
				if c != CompressionNone {
					in = small
				}
				formattest.QemuImg(t, append(append([]string{"convert"}, tc.args...), in, src)...)
				want := oracle(t, src, tc.args[1])
				wrapped := compressFile(t, src, c)
				f, _ := openFile(t, wrapped)
				out := filepath.Join(t.TempDir(), "out.raw")
				res, err := WriteRawFromStream(context.Background(), f, out, WithScratchDir(t.TempDir()))
				if errors.Is(err, ErrUnsupported) && res.Format != FormatRaw && res.Format != FormatQcow2 {
					t.Skipf("no %s reader in this build: %v", res.Format, err)
				}
				if err != nil {
					t.Fatalf("WriteRawFromStream: %v", err)
				}
				sameFiles(t, want, out)
				if res.Compression != c {
					t.Errorf("compression %q, want %q", res.Compression, c)
				}
			})
		}
	}
}

func TestStreamDetectsFormat(t *testing.T) {
	formattest.NeedQemuImg(t)
	pattern := filepath.Join(t.TempDir(), "pattern.raw")
	writePattern(t, pattern, 4<<20)
	// qemu-img's streamOptimized VMDK ends without an end-of-stream marker, here after a hole: the
	// sequential reader must still deliver the whole disk (see vmdk's TestStreamEndMarker).
	f, err := os.OpenFile(pattern, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(8 << 20); err != nil { // a 4 MiB hole at the end
		t.Fatal(err)
	}
	f.Close()
	tests := []struct {
		args    []string
		want    Format
		scratch bool
	}{
		{[]string{"-O", "raw"}, FormatRaw, false},
		{[]string{"-O", "vpc", "-o", "subformat=fixed,force_size=on"}, FormatVHD, false},
		{[]string{"-O", "vmdk", "-o", "subformat=streamOptimized"}, FormatVMDK, false},
		{[]string{"-O", "qcow2"}, FormatQcow2, true},
		{[]string{"-O", "vhdx"}, FormatVHDX, true},
	}
	for _, tc := range tests {
		src := filepath.Join(t.TempDir(), "src")
		formattest.QemuImg(t, append(append([]string{"convert"}, tc.args...), pattern, src)...)
		f, _ := openFile(t, src)
		var opts []Option
		if tc.scratch {
			opts = append(opts, WithScratchDir(t.TempDir()))
		}
		out := filepath.Join(t.TempDir(), "out")
		res, err := WriteRawFromStream(context.Background(), f, out, opts...)
		if err != nil || res.Format != tc.want || res.VirtualSize != 8<<20 {
			t.Fatalf("%v: format %q size %d err %v, want %q of %d bytes", tc.args, res.Format, res.VirtualSize, err, tc.want, 8<<20)
		}
		sameFiles(t, pattern, out)
	}
}

func TestBlockDeviceTarget(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	pattern := filepath.Join(dir, "pattern.raw")
	writePattern(t, pattern, 16<<20)
	src := filepath.Join(dir, "src.qcow2")
	formattest.QemuImg(t, "convert", "-O", "qcow2", "-c", pattern, src)
	for _, discard := range []bool{false, true} {
		dev := filepath.Join(t.TempDir(), "dev")
		garbage := make([]byte, 20<<20)
		for i := range garbage {
			garbage[i] = 0xa5
		}
		if err := os.WriteFile(dev, garbage, 0o644); err != nil {
			t.Fatal(err)
		}
		f, size := openFile(t, src)
		img, _, err := Open(f, size)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteRaw(context.Background(), img, dev, WithDiscard(discard), withForceBlock()); err != nil {
			t.Fatalf("discard=%v: %v", discard, err)
		}
		got := formattest.ReadFile(t, dev)
		want := formattest.ReadFile(t, pattern)
		if len(got) != 20<<20 || string(got[:16<<20]) != string(want) || got[16<<20] != 0xa5 {
			t.Errorf("discard=%v: device content differs from the image (or the tail past the image was touched)", discard)
		}
	}
}

func TestDirectIO(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	probe, err := os.OpenFile(filepath.Join(dir, "probe"), os.O_CREATE|os.O_WRONLY|0x4000, 0o644)
	if err != nil {
		t.Skipf("temp dir does not support O_DIRECT: %v", err)
	}
	probe.Close()
	pattern := filepath.Join(dir, "pattern.raw")
	writePattern(t, pattern, 8<<20+1000) // a size that is not a multiple of 4 KiB
	f, size := openFile(t, pattern)
	img, _, err := Open(f, size)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.raw")
	if _, err := WriteRaw(context.Background(), img, out, WithDirectIO(true)); err != nil {
		t.Fatal(err)
	}
	sameFiles(t, pattern, out)
}

func TestRawFileExtentsUseHoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sparse.raw")
	writePattern(t, path, 16<<20)
	f, size := openFile(t, path)
	img, _, err := Open(f, size)
	if err != nil {
		t.Fatal(err)
	}
	var holes int64
	for off := int64(0); off < size; {
		ext, err := img.Extent(off, size-off)
		if err != nil {
			t.Fatal(err)
		}
		if ext.Zero {
			holes += ext.Length
		}
		off += ext.Length
	}
	if holes < size/4 {
		t.Errorf("Extent reported %d bytes of holes in a file that is mostly holes", holes)
	}
}
