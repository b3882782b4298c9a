package decompress

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// runsData is a disk-like buffer: random data, long runs of zeros and of 0xff, and text.
func runsData(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, 0, size)
	for len(b) < size {
		n := min(size-len(b), 1+rng.IntN(3<<20))
		switch rng.IntN(4) {
		case 0:
			for range n {
				b = append(b, byte(rng.Uint32()))
			}
		case 1:
			b = append(b, make([]byte, n)...)
		case 2:
			b = append(b, bytes.Repeat([]byte{0xff}, n)...)
		default:
			b = append(b, bytes.Repeat([]byte("golden image "), n/13+1)[:n]...)
		}
	}
	return b
}

// zstdCLI compresses data with the zstd command and the given options.
func zstdCLI(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Skip("zstd not installed (hack/install-deps.sh)")
	}
	in := filepath.Join(t.TempDir(), "in")
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zstd", append(append([]string{"-q", "-c"}, args...), in)...).Output()
	if err != nil {
		t.Fatalf("zstd %v: %v", args, err)
	}
	return out
}

// plainZstd decodes with klauspost/compress alone, as the reference.
func plainZstd(data []byte) ([]byte, error) {
	d, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderMaxWindow(1<<29), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return io.ReadAll(d)
}

// runsZstd decodes with runFilter in front; it also returns how many bytes were inserted.
func runsZstd(data []byte) ([]byte, int64, error) {
	r, err := newZstdRunReader(bytes.NewReader(data), zstd.WithDecoderMaxWindow(1<<29), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, 0, err
	}
	defer r.Close()
	ins := &countingEvents{runEvents: r}
	r.filter = newRunFilter(bytes.NewReader(data), ins)
	r.dec.Reset(r.filter) //nolint:errcheck // a non-nil reader
	out, err := io.ReadAll(r)
	return out, ins.inserted, err
}

type countingEvents struct {
	runEvents
	inserted int64
}

func (c *countingEvents) insert(n int64, v byte) { c.inserted += n; c.runEvents.insert(n, v) }

func TestZstdRunsMatchDecoder(t *testing.T) {
	data := runsData(24<<20, 1)
	long := append(runsData(1<<20, 4), make([]byte, 24<<20)...) // a run longer than the 16 MiB window
	two := append(zstdCLI(t, data[:5<<20], "-1"), zstdCLI(t, data[5<<20:], "-3")...)
	skippable := append([]byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}, zstdCLI(t, data, "-1")...)
	tests := []struct {
		name       string
		stream     []byte
		want       []byte
		wantInsert bool
	}{
		{"zstd -3", zstdCLI(t, data, "-3"), data, true},
		{"16 MiB window", zstdCLI(t, long, "-3", "--zstd=wlog=24"), long, true},
		{"zstd --long: matches, not RLE", zstdCLI(t, long, "-3", "--long=24"), long, false},
		{"small window", zstdCLI(t, data, "--zstd=wlog=10"), data, true},
		{"no checksum: nothing dropped", zstdCLI(t, data, "--no-check"), data, false},
		{"two frames", two, data, true},
		{"skippable frame first", skippable, data, true},
		{"klauspost's encoder", zst(t, data), data, false},
		{"empty", zstdCLI(t, nil), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, inserted, err := runsZstd(tt.stream)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("decoded %d bytes differ from the %d expected", len(got), len(tt.want))
			}
			if (inserted > 0) != tt.wantInsert {
				t.Fatalf("%d bytes inserted; want some: %v", inserted, tt.wantInsert)
			}
			t.Logf("%d of %d bytes inserted", inserted, len(got))
		})
	}
}

// TestZstdRunsChecks: a dropped run with a changed value, or a stream cut short, fails.
func TestZstdRunsChecks(t *testing.T) {
	data := append(append(runsData(1<<20, 2), make([]byte, 8<<20)...), runsData(1<<20, 3)...)
	stream := zstdCLI(t, data, "--zstd=wlog=10")
	rle := bytes.Index(stream, []byte{0x02, 0x20, 0, 0}) // an RLE block of 1 KiB of zeros
	if rle < 0 {
		t.Fatal("no 1 KiB RLE block of zeros in the stream")
	}
	changed := bytes.Clone(stream)
	changed[rle+3] = 1
	tests := []struct {
		name   string
		stream []byte
		want   string
	}{
		{"value of a dropped block changed", changed, "checksum"},
		{"cut in a run", stream[:rle+400], "unexpected EOF"},
		{"cut before the checksum", stream[:len(stream)-2], "unexpected EOF"},
		{"trailing garbage", append(bytes.Clone(stream), "garbage"...), "magic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runsZstd(tt.stream)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if _, perr := plainZstd(tt.stream); perr == nil {
				t.Fatalf("klauspost alone accepts it")
			}
		})
	}
}

// FuzzZstdRuns: wherever klauspost/compress alone decodes a stream, runFilter in front of it must
// give the same bytes; wherever it fails, so must runFilter.
func FuzzZstdRuns(f *testing.F) {
	formattest.AddSeeds(f, "testdata/*.zst")
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := plainZstd(data)
		got, _, err := runsZstd(data)
		switch {
		case werr == nil && err != nil:
			t.Fatalf("klauspost decodes %d bytes; with runFilter: %v", len(want), err)
		case werr != nil && err == nil:
			t.Fatalf("klauspost fails (%v); with runFilter %d bytes decode", werr, len(got))
		case werr == nil && !bytes.Equal(got, want):
			t.Fatalf("%d bytes decoded differ from klauspost's %d", len(got), len(want))
		}
	})
}

var _ = errors.Is
