package vmdk

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// qemuTailImage has qemu-img write a streamOptimized VMDK of a 4 MiB disk whose only data is an
// incompressible grain at 1 MiB, so the disk ends in a hole; it returns the file and the disk.
func qemuTailImage(t *testing.T) ([]byte, []byte) {
	t.Helper()
	disk := make([]byte, 4*mib)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := mib; i < mib+64<<10; i++ {
		disk[i] = byte(rng.Uint32())
	}
	dir := t.TempDir()
	raw, img := filepath.Join(dir, "in.raw"), filepath.Join(dir, "disk.vmdk")
	if err := os.WriteFile(raw, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	formattest.QemuImg(t, "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, img)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b, disk
}

// TestQemuStreamHasNoEndMarker records what qemu-img 7.2 writes: the file ends inside the last
// grain's final sector, with no end-of-stream marker after it.
func TestQemuStreamHasNoEndMarker(t *testing.T) {
	formattest.NeedQemuImg(t)
	img, _ := qemuTailImage(t)
	last := img[len(img)-sectorSize:]
	if bytes.Equal(last, make([]byte, sectorSize)) {
		t.Fatal("qemu-img's stream ends with a zero sector (an end-of-stream marker)")
	}
}

// TestStreamEndMarker reads streams with and without an end-of-stream marker: qemu-img's layout
// (grain directory in front) may end without one, VMware's (directory and footer at the end) must not.
func TestStreamEndMarker(t *testing.T) {
	formattest.NeedQemuImg(t)
	qemu, disk := qemuTailImage(t)
	footer := buildSparse(seedDisk(), streamFooter)
	tests := []struct {
		name    string
		img     []byte
		want    []byte
		wantErr string
	}{
		{"qemu-img, no marker", qemu, disk, ""},
		{"qemu-img plus marker", append(bytes.Clone(qemu), make([]byte, sectorSize)...), disk, ""},
		{"qemu-img plus marker and padding", append(bytes.Clone(qemu), make([]byte, 9*sectorSize)...), disk, ""},
		{"qemu-img cut inside a marker", append(bytes.Clone(qemu), make([]byte, 100)...), nil, "end-of-stream marker"},
		{"qemu-img cut inside the last grain", qemu[:len(qemu)-sectorSize], nil, "read grain"},
		{"footer layout", footer, seedDisk(), ""},
		{"footer layout without marker", footer[:len(footer)-sectorSize], nil, "end-of-stream marker"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewStreamReader(bytes.NewReader(tc.img))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, err := io.ReadAll(s)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("read %d bytes, %v; want the %d-byte disk", len(got), err, len(tc.want))
			}
		})
	}
}
