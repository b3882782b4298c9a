package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

func TestOpenRefuses(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	formattest.QemuImg(t, "create", "-f", "qcow2", path("base.qcow2"), "1M")
	formattest.QemuImg(t, "create", "-f", "qcow2", "-b", path("base.qcow2"), "-F", "qcow2", path("child.qcow2"))
	formattest.QemuImg(t, "create", "-f", "qcow2", "-o", "data_file="+path("data.raw"), path("external.qcow2"), "1M")
	luks := exec.Command("qemu-img", "create", "--object", "secret,id=sec0,data=goldimage", "-f", "qcow2",
		"-o", "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", path("luks.qcow2"), "1M")
	if out, err := luks.CombinedOutput(); err != nil {
		// qemu's PBKDF timing fails on a loaded machine; mark a plain image as LUKS-encrypted instead.
		t.Logf("qemu-img could not create a LUKS image (%v: %s); patching crypt_method", err, out)
		formattest.QemuImg(t, "create", "-f", "qcow2", path("luks.qcow2"), "1M")
		b := formattest.ReadFile(t, path("luks.qcow2"))
		binary.BigEndian.PutUint32(b[32:], 2)
		if err := os.WriteFile(path("luks.qcow2"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	formattest.QemuImg(t, "create", "-f", "qcow2", path("big.qcow2"), "64M")
	formattest.QemuImg(t, "create", "-f", "vmdk", "-o", "subformat=monolithicFlat", path("flat.vmdk"), "1M")
	tests := []struct {
		file    string
		opts    []Option
		want    error
		message string
	}{
		{"child.qcow2", nil, ErrBackingFile, "base.qcow2"},
		{"external.qcow2", nil, ErrExternalDataFile, "external data file"},
		{"luks.qcow2", nil, ErrEncrypted, "encrypt"},
		{"big.qcow2", []Option{WithMaxVirtualSize(32 << 20)}, ErrTooLarge, "exceeds the limit"},
		{"base.qcow2", []Option{WithMaxVirtualSize(512 << 10)}, ErrTooLarge, "exceeds the limit"},
		{"flat.vmdk", nil, ErrUnsupported, "external extent files"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f, size := openFile(t, path(tc.file))
			_, _, err := Open(f, size, tc.opts...)
			checkErr(t, err, tc.want, tc.message)
			f.Seek(0, 0)
			_, err = WriteRawFromStream(context.Background(), f, filepath.Join(t.TempDir(), "out"), append(tc.opts, WithScratchDir(t.TempDir()))...)
			checkErr(t, err, tc.want, tc.message)
		})
	}
}

func checkErr(t *testing.T, err, want error, message string) {
	t.Helper()
	if !errors.Is(err, want) || !IsBadInput(err) || !strings.Contains(err.Error(), message) {
		t.Errorf("error %v, want %v mentioning %q", err, want, message)
	}
	if err != nil && strings.Contains(err.Error(), "\n") {
		t.Errorf("error spans lines: %q", err)
	}
}

func TestStreamRefuses(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	qcow := filepath.Join(dir, "x.qcow2")
	formattest.QemuImg(t, "create", "-f", "qcow2", qcow, "1M")
	qcowBytes := formattest.ReadFile(t, qcow)
	vmdk := filepath.Join(dir, "x.vmdk")
	formattest.QemuImg(t, "create", "-f", "vmdk", vmdk, "1M")
	tests := []struct {
		name string
		data []byte
		opts []Option
		want error
		msg  string
	}{
		{"no scratch", formattest.ReadFile(t, vmdk), nil, ErrNeedScratch, "vmdk"},
		{"nested compression", gz(t, gz(t, []byte("disk"))), nil, ErrUnsupported, "gzip inside gzip"},
		{"empty", nil, nil, ErrCorrupt, "empty"},
		{"gzip bomb", gz(t, make([]byte, 64<<20)), []Option{WithMaxVirtualSize(8 << 20)}, ErrTooLarge, "8388608"},
		{"gzip bomb to scratch", gz(t, append(qcowBytes, make([]byte, 64<<20)...)), []Option{WithMaxDecompressedSize(4 << 20), WithScratchDir(dir)}, ErrTooLarge, "4194304"},
		{"truncated gzip", gz(t, bytes.Repeat([]byte("x"), 1<<20))[:2000], nil, ErrCorrupt, "gzip"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteRawFromStream(context.Background(), bytes.NewReader(tc.data), filepath.Join(t.TempDir(), "out"), tc.opts...)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
		})
	}
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestHostileQcow2 patches a valid image; every case must end in an error or valid data, never a
// panic, and the whole table must stay within a small memory budget.
func TestHostileQcow2(t *testing.T) {
	formattest.NeedQemuImg(t)
	dir := t.TempDir()
	pattern, src := filepath.Join(dir, "p.raw"), filepath.Join(dir, "x.qcow2")
	writePattern(t, pattern, 4<<20)
	formattest.QemuImg(t, "convert", "-O", "qcow2", "-c", pattern, src)
	base := formattest.ReadFile(t, src)
	l1Off := binary.BigEndian.Uint64(base[40:])
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint32(b[off:], v); return b }
	}
	put64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { binary.BigEndian.PutUint64(b[off:], v); return b }
	}
	tests := []struct {
		name      string
		patch     func([]byte) []byte
		mustError bool
	}{
		{"truncated header", func(b []byte) []byte { return b[:50] }, true},
		{"truncated data", func(b []byte) []byte { return b[:len(b)/2] }, true},
		{"huge L1", put32(36, 0xffffffff), true},
		{"L1 past EOF", put64(40, 1<<40), true},
		{"L1 unaligned", put64(40, l1Off+8), true},
		{"cluster bits 40", put32(20, 40), true},
		{"cluster bits 0", put32(20, 0), true},
		{"huge virtual size", put64(24, 1<<62), true},
		{"L2 past EOF", put64(int(l1Off), 1<<63|1<<40), true},
		{"L2 is the L1 (loop)", put64(int(l1Off), 1<<63|l1Off), false},
		{"L2 is the header", put64(int(l1Off), 1<<63), false},
		{"unknown feature", put64(72, 1<<40), true},
		{"version 9", put32(4, 9), true},
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.patch(bytes.Clone(base))
			out := filepath.Join(t.TempDir(), "out")
			var err error
			img, _, err := Open(bytes.NewReader(data), int64(len(data)))
			if err == nil {
				_, err = WriteRaw(context.Background(), img, out)
			}
			if tc.mustError && err == nil {
				t.Fatal("no error")
			}
			if err != nil && !IsBadInput(err) {
				t.Errorf("error %v is not marked as bad input", err)
			}
		})
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 512<<20 {
		t.Errorf("hostile images allocated %d MiB in total", grown>>20)
	}
}

func TestWriteRawRefusesSmallDevice(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "dev")
	if err := os.WriteFile(dev, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	img, _, err := Open(bytes.NewReader(make([]byte, 2<<20)), 2<<20)
	if err != nil {
		t.Fatal(err)
	}
	_, err = WriteRaw(context.Background(), img, dev, withForceBlock())
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("error %v, want ErrTooLarge", err)
	}
}
