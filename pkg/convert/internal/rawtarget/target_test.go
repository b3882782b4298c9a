package rawtarget

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/imgerr"
)

const mib = 1 << 20

// pattern is 4 MiB: data in the first MiB and in the last 4 KiB block, zeros between.
func pattern() []byte {
	p := make([]byte, 4*mib)
	for i := range mib {
		p[i] = byte(i%251 + 1)
	}
	p[len(p)-1] = 7
	return p
}

func TestWriteBufSkipsZeroBlocks(t *testing.T) {
	for _, block := range []bool{false, true} {
		t.Run(map[bool]string{false: "file", true: "block device"}[block], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			if block { // garbage the writer must overwrite with zeros
				if err := os.WriteFile(path, bytes.Repeat([]byte{0xff}, 4*mib), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tg, err := Open(path, 4*mib, Options{ForceBlock: block})
			if err != nil {
				t.Fatal(err)
			}
			w := NewWriter(tg, 4*mib, Config{Workers: 2, ChunkSize: mib})
			want := pattern()
			if err := w.WriteBuf(want, 0, w.Scratch()); err != nil {
				t.Fatal(err)
			}
			if err := tg.Finish(false); err != nil {
				t.Fatal(err)
			}
			if got := w.Written(); got != mib+4096 {
				t.Errorf("Written = %d, want the data blocks only (%d)", got, mib+4096)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("target differs from what was written (%v)", err)
			}
			if !block {
				var st syscall.Stat_t
				if err := syscall.Stat(path, &st); err != nil {
					t.Fatal(err)
				}
				if st.Blocks*512 > 2*mib {
					t.Errorf("%d bytes allocated, want holes for the zero blocks", st.Blocks*512)
				}
			}
		})
	}
}

func TestOpenRefusesSmallDevice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev")
	if err := os.WriteFile(path, make([]byte, mib), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, 2*mib, Options{ForceBlock: true}); !errors.Is(err, imgerr.ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

func TestCopyImageCancelled(t *testing.T) {
	tg, err := Open(filepath.Join(t.TempDir(), "out"), 4*mib, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewWriter(tg, 4*mib, Config{ChunkSize: mib}).CopyImage(ctx, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}
