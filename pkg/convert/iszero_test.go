package convert

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
