package driver

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// writeLayout creates a file of size bytes with the given data extents
// (filled with a non-zero pattern) and holes elsewhere.
func writeLayout(t *testing.T, path string, size int64, data []extent) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, e := range data {
		b := bytes.Repeat([]byte{byte(e.off>>12) | 1}, int(e.n))
		if _, err := f.WriteAt(b, e.off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
}

// allocated returns the bytes a file occupies on disk.
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func TestCopySparse(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		size int64
		data []extent
		// zeros writes an all-zero extent (which the copy must turn into a hole).
		zeros *extent
	}{
		{name: "empty", size: 0},
		{name: "all hole", size: 64 * mib},
		{name: "data at start", size: 8 * mib, data: []extent{{0, 4096}}},
		{name: "data at end", size: 8 * mib, data: []extent{{8*mib - 4096, 4096}}},
		{name: "data in middle", size: 8 * mib, data: []extent{{3 * mib, 3 * mib}}},
		{name: "several extents", size: 32 * mib, data: []extent{{0, 100}, {5 * mib, 70000}, {20 * mib, 2*mib + 5}}},
		{name: "unaligned size", size: 3*mib + 7, data: []extent{{3 * mib, 7}}},
		{name: "fully written", size: 2*mib + 1, data: []extent{{0, 2*mib + 1}}},
		{name: "written zeros", size: 16 * mib, data: []extent{{0, 4096}}, zeros: &extent{4 * mib, 4 * mib}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			writeLayout(t, src, tc.size, tc.data)
			if tc.zeros != nil {
				f, err := os.OpenFile(src, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.WriteAt(make([]byte, tc.zeros.n), tc.zeros.off); err != nil {
					t.Fatal(err)
				}
				f.Close()
			}
			if err := copyFileSparse(dst, src, 0o600, 0); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("copy differs from source (sizes %d, %d)", len(got), len(want))
			}
			var dataBytes int64
			for _, e := range tc.data {
				dataBytes += e.n
			}
			// Allow each extent a partial block (or zeroBlock chunk) at both ends.
			if limit := dataBytes + int64(len(tc.data))*2*zeroBlock; allocated(t, dst) > limit {
				t.Errorf("copy allocates %d bytes, want at most %d: not sparse", allocated(t, dst), limit)
			}
		})
	}
}

func TestCopyFileSparseGrows(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	writeLayout(t, src, 1<<20, []extent{{0, 10}})
	if err := copyFileSparse(dst, src, 0o600, 4<<20); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != 4<<20 {
		t.Errorf("size %d, want %d", fi.Size(), 4<<20)
	}
	if err := copyFileSparse(dst, src, 0o600, 0); err == nil {
		t.Error("copy onto an existing file succeeded, want an error")
	}
}

func TestCopyTree(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "sub", "deeper"), 0o755))
	must(os.WriteFile(filepath.Join(src, "a.txt"), []byte("hello"), 0o640))
	must(os.WriteFile(filepath.Join(src, "sub", "deeper", "b"), []byte("world"), 0o600))
	writeLayout(t, filepath.Join(src, "sub", "disk.img"), 32<<20, []extent{{1 << 20, 4096}})
	must(os.Symlink("../a.txt", filepath.Join(src, "sub", "link")))
	must(os.Chmod(filepath.Join(src, "sub"), 0o500)) // read-only directory must not stop the copy
	must(copyTree(dst, src))

	for _, tc := range []struct {
		path string
		mode os.FileMode
		data string
	}{
		{"a.txt", 0o640, "hello"},
		{"sub/deeper/b", 0o600, "world"},
		{"sub", os.ModeDir | 0o500, ""},
	} {
		fi, err := os.Lstat(filepath.Join(dst, tc.path))
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
		if tc.data != "" {
			if b, _ := os.ReadFile(filepath.Join(dst, tc.path)); string(b) != tc.data {
				t.Errorf("%s: content %q, want %q", tc.path, b, tc.data)
			}
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "sub", "link")); err != nil || l != "../a.txt" {
		t.Errorf("symlink: %q, %v", l, err)
	}
	if a := allocated(t, filepath.Join(dst, "sub", "disk.img")); a > 1<<20 {
		t.Errorf("sparse file copy allocates %d bytes", a)
	}
}
