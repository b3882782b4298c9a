package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/goldimage/goldimage/pkg/importer/importertest"
)

// residentBytes counts the bytes of path held in the page cache (mincore over a read-only mapping,
// which does not fault pages in).
func residentBytes(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (st.Size()+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	var n int64
	for _, v := range vec {
		n += int64(v & 1)
	}
	return n * page
}

func TestDirectIOBypassesPageCache(t *testing.T) {
	const size = 16 << 20
	dir := t.TempDir()
	disk := make([]byte, size) // all data: every block is written
	rand.Read(disk)
	raw, qcow := filepath.Join(dir, "src.raw"), filepath.Join(dir, "src.qcow2")
	if err := os.WriteFile(raw, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	importertest.QemuImg(t, "convert", "-O", "qcow2", raw, qcow)
	dest := filepath.Join(dir, "disk.img")
	if _, err := Run(context.Background(), Config{Source: "file://" + qcow, Dest: dest, DirectIO: true}); err != nil {
		t.Fatal(err)
	}
	if cached := residentBytes(t, dest); cached > size/16 {
		t.Errorf("%d of %d bytes of the image are in the page cache after an O_DIRECT import; want almost none", cached, size)
	}
	assertImage(t, dest, disk)
}

// loopDevice attaches backing as a loop block device; it needs root.
func loopDevice(t *testing.T, backing string) string {
	t.Helper()
	out, err := exec.Command("losetup", "--find", "--show", backing).CombinedOutput()
	if err != nil {
		t.Skipf("attach a loop device (needs root and losetup): %v %s", err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func TestDiscardOnBlockDevice(t *testing.T) {
	const size = 16 << 20
	dir := t.TempDir()
	disk := make([]byte, size) // 1 MiB of data, then zeros
	rand.Read(disk[:1<<20])
	raw := filepath.Join(dir, "src.raw")
	if err := os.WriteFile(raw, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	qcow := filepath.Join(dir, "src.qcow2")
	importertest.QemuImg(t, "convert", "-O", "qcow2", raw, qcow)
	if out, err := exec.Command("sh", "-c", "gzip -c "+raw+" > "+raw+".gz").CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	for _, tc := range []struct {
		name      string
		source    string
		noDiscard bool
		wantThin  bool // the zero ranges were discarded: the loop device's backing file became sparse
	}{
		{"converted, discard (default)", qcow, false, true},
		{"converted, no discard", qcow, true, false},
		{"stream, discard (default)", raw + ".gz", false, true},
		{"stream, no discard", raw + ".gz", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backing := filepath.Join(t.TempDir(), "backing")
			if err := os.WriteFile(backing, bytes.Repeat([]byte{0xa5}, size), 0o644); err != nil {
				t.Fatal(err)
			}
			dev := loopDevice(t, backing)
			if _, err := Run(context.Background(), Config{Source: "file://" + tc.source, Dest: dev, NoDiscard: tc.noDiscard}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dev)
			if err != nil || !bytes.Equal(got, disk) {
				t.Fatalf("device does not hold the image (read error %v)", err)
			}
			var st syscallStat
			used := allocated(t, backing, &st)
			if thin := used < 4<<20; thin != tc.wantThin {
				t.Errorf("backing file has %d of %d bytes allocated; want zero ranges discarded: %v", used, size, tc.wantThin)
			}
		})
	}
}
