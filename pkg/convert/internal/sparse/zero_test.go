package sparse

import "testing"

func TestIsZero(t *testing.T) {
	n := len(zeroBlock)*2 + 5 // more than one comparison block, not a multiple of it
	for _, tc := range []struct {
		name    string
		size    int
		nonZero int // index of a non-zero byte, -1 for none
	}{
		{"empty", 0, -1},
		{"one zero byte", 1, -1},
		{"zeros across blocks", n, -1},
		{"first byte", n, 0},
		{"in the first word", n, 7},
		{"first byte of the second block", n, len(zeroBlock)},
		{"last byte", n, n - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := make([]byte, tc.size)
			if tc.nonZero >= 0 {
				b[tc.nonZero] = 0x80
			}
			if got := IsZero(b); got != (tc.nonZero < 0) {
				t.Errorf("IsZero = %v with a non-zero byte at %d of %d", got, tc.nonZero, tc.size)
			}
		})
	}
}

func TestForRuns(t *testing.T) {
	const b = BlockSize
	data := func(blocks ...int) []byte { // a buffer of len(blocks) blocks, non-zero where 1
		p := make([]byte, len(blocks)*b)
		for i, v := range blocks {
			if v != 0 {
				p[i*b+b-1] = 1
			}
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		p        []byte
		wantZero bool
		want     [][2]int
	}{
		{"empty", nil, false, nil},
		{"all data", data(1, 1), false, [][2]int{{0, 2 * b}}},
		{"data runs", data(1, 0, 1, 1, 0), false, [][2]int{{0, b}, {2 * b, 4 * b}}},
		{"zero runs", data(1, 0, 1, 1, 0), true, [][2]int{{b, 2 * b}, {4 * b, 5 * b}}},
		{"short last block", append(data(0), 0, 1), false, [][2]int{{b, b + 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [][2]int
			if err := ForRuns(tc.p, tc.wantZero, func(i, j int) error { got = append(got, [2]int{i, j}); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("runs %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("runs %v, want %v", got, tc.want)
				}
			}
		})
	}
}
