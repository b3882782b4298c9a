package qcow2stream

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/convert/internal/formattest"
)

// TestLayouts streams hand-made layouts: data before its table is held in memory or, past the
// memory limit, in the scratch file; without scratch that fails with ErrNeedScratch.
func TestLayouts(t *testing.T) {
	tests := []struct {
		name     string
		l        layout
		opts     []Option
		scratch  bool
		held     int64 // HeldPeak
		written  int64 // ScratchWritten
		wantErr  error
		wantText string
	}{
		{name: "tables first", l: layout{clusters: 4, order: []string{"L1", "L2", "D0", "D1", "D3"}}},
		{name: "data out of guest order", l: layout{clusters: 4, order: []string{"L1", "L2", "D3", "D0"}}, held: tcs},
		{name: "data before its L2 table", l: layout{clusters: 3, order: []string{"L1", "D0", "D1", "L2", "D2"}}, held: 2 * tcs},
		{name: "L1 at the end, held in memory", l: layout{clusters: 3, order: []string{"D0", "D1", "D2", "L2", "L1"}}, held: 3*tcs + 512},
		{name: "L1 at the end, held in scratch", l: layout{clusters: 3, order: []string{"D0", "D1", "D2", "L2", "L1"}},
			opts: []Option{WithMemoryLimit(tcs)}, scratch: true, held: 3*tcs + 512, written: 3*tcs + 512},
		{name: "L1 at the end, no scratch", l: layout{clusters: 3, order: []string{"D0", "D1", "D2", "L2", "L1"}},
			opts: []Option{WithMemoryLimit(tcs)}, wantErr: ErrNeedScratch, wantText: "arrived before the tables that map them"},
		{name: "scratch bound exceeded", l: layout{clusters: 3, order: []string{"D0", "D1", "D2", "L2", "L1"}},
			opts: []Option{WithMemoryLimit(tcs), WithMaxScratch(tcs)}, scratch: true, wantErr: ErrNeedScratch},
		{name: "table points back past what was held", l: layout{clusters: 2, order: []string{"L1", "L2", "D0"}, l2: map[int]uint64{1: 1 * tcs}},
			wantErr: ErrCorrupt, wantText: "pointing back"},
		{name: "overlapping clusters", l: layout{clusters: 2, order: []string{"L1", "L2", "D0"}, l2: map[int]uint64{1: 3 * tcs}},
			wantErr: ErrCorrupt, wantText: "overlapping clusters"},
		{name: "cluster past the end", l: layout{clusters: 2, order: []string{"L1", "L2", "D0"}, l2: map[int]uint64{1: 1 << 40}},
			wantErr: ErrCorrupt, wantText: "past the end"},
		{name: "L2 table past the end", l: layout{clusters: 2, order: []string{"L1", "D0"}, l1: 1 << 30},
			wantErr: ErrCorrupt, wantText: "past the end"},
		{name: "unaligned cluster", l: layout{clusters: 2, order: []string{"L1", "L2", "D0"}, l2: map[int]uint64{1: 5*tcs + 512}},
			wantErr: ErrCorrupt, wantText: "unaligned"},
		{name: "L2 table on the L1 table", l: layout{clusters: 2, order: []string{"L1", "L2", "D0"}, l1: 1<<63 | tcs},
			wantErr: ErrCorrupt, wantText: "already used"},
		{name: "unallocated L2 table", l: layout{clusters: 2, order: []string{"L1", "L2", "D0"}, l1: 1 << 63}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img, raw := tc.l.build()
			dir := t.TempDir()
			opts := tc.opts
			if tc.scratch {
				opts = append(opts, WithScratchDir(dir))
			}
			st, err := decodeAll(t, img, bytes.NewReader(raw), opts...)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %v and %q", err, tc.wantErr, tc.wantText)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if err == nil && (st.HeldPeak != tc.held || st.ScratchWritten != tc.written) {
				t.Fatalf("held %d, wrote %d to scratch; want %d and %d", st.HeldPeak, st.ScratchWritten, tc.held, tc.written)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Fatalf("scratch directory keeps %s", left[0].Name())
			}
		})
	}
}

// TestTruncated cuts a qemu-img image at several points: each cut fails in one line, or (after the
// last cluster) still yields the whole disk.
func TestTruncated(t *testing.T) {
	formattest.NeedQemuImg(t)
	raw := filepath.Join(t.TempDir(), "src.raw")
	writePattern(t, raw, 4<<20, 0, 3)
	for _, args := range [][]string{nil, {"-c"}} {
		img := convertTo(t, raw, args...)
		for _, cut := range []int{50, 100, 70000, 200000, 300000, len(img) / 2, len(img) - 70000} {
			_, err := decodeAll(t, img[:cut], nil)
			if err == nil || strings.Contains(err.Error(), "\n") {
				t.Fatalf("%v cut at %d of %d: error %v, want one line", args, cut, len(img), err)
			}
		}
	}
}
