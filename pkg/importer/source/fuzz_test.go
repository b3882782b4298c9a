package source

import "testing"

// FuzzContentRange checks the Content-Range parser never panics and never invents a size.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-0/1234", "bytes 0-0/*", "", "bytes 1-2/-5", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := totalFromContentRange(s); n < -1 {
			t.Fatalf("total %d from %q", n, s)
		}
	})
}
