package untar

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entry is one tar entry a test archive holds.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func archive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link, Format: tar.FormatPAX}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old.txt"), []byte("stale content, longer than the new one"), 0o644); err != nil {
		t.Fatal(err)
	}
	tarball := archive(t,
		entry{name: "./", typ: tar.TypeDir, mode: 0o755},
		entry{name: "disk/", typ: tar.TypeDir, mode: 0o750},
		entry{name: "disk/disk.img", body: "raw disk bytes", mode: 0o4755},
		entry{name: "deep/er/file", body: "implied parents"},
		entry{name: "./old.txt", body: "new"},
		entry{name: "empty"},
	)
	st, err := Extract(context.Background(), bytes.NewReader(tarball), dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 4 || st.Dirs != 1 || st.Bytes != int64(len("raw disk bytes")+len("implied parents")+len("new")) {
		t.Errorf("Stats = %+v", st)
	}
	for name, want := range map[string]string{"disk/disk.img": "raw disk bytes", "deep/er/file": "implied parents", "old.txt": "new", "empty": ""} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q (%v), want %q", name, got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "disk/disk.img"))
	if err != nil || fi.Mode() != 0o755 {
		t.Errorf("disk.img mode %v (%v), want 0755 without setuid", fi.Mode(), err)
	}
}

func TestExtractRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		want    string
	}{
		{"parent escape", []entry{{name: "../escaped", body: "x"}}, `entry "../escaped" climbs out of the archive`},
		{"nested escape", []entry{{name: "a/../../escaped", body: "x"}}, "climbs out"},
		{"absolute", []entry{{name: "/etc/passwd", body: "x"}}, `entry "/etc/passwd" has an absolute path`},
		{"symlink", []entry{{name: "link", typ: tar.TypeSymlink, link: "/etc"}}, `entry "link" is a symbolic link (to "/etc")`},
		{"symlink then write through it", []entry{{name: "ok", body: "x"}, {name: "l", typ: tar.TypeSymlink, link: ".."}, {name: "l/x", body: "x"}}, "symbolic link"},
		{"hard link", []entry{{name: "a", body: "x"}, {name: "b", typ: tar.TypeLink, link: "/etc/shadow"}}, `entry "b" is a hard link (to "/etc/shadow")`},
		{"device", []entry{{name: "sda", typ: tar.TypeBlock}}, "device node"},
		{"char device", []entry{{name: "null", typ: tar.TypeChar}}, "device node"},
		{"fifo", []entry{{name: "p", typ: tar.TypeFifo}}, "FIFO"},
		{"too large", []entry{{name: "a", body: strings.Repeat("x", 600)}, {name: "b", body: strings.Repeat("y", 600)}}, "more than the 1000 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "pvc")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			_, err := Extract(context.Background(), bytes.NewReader(archive(t, tc.entries...)), dir, 1000)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Extract = %v, want a one-line refusal containing %q", err, tc.want)
			}
			if names := dirNames(t, parent); len(names) != 1 || names[0] != "pvc" {
				t.Errorf("wrote outside the destination: %v", names)
			}
		})
	}
}

func TestExtractNotTar(t *testing.T) {
	for name, src := range map[string][]byte{"empty": nil, "qcow2": append([]byte("QFI\xfb"), make([]byte, 1020)...), "text": []byte(strings.Repeat("hello\n", 200))} {
		if _, err := Extract(context.Background(), bytes.NewReader(src), t.TempDir(), 0); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "tar archive") {
			t.Errorf("%s: Extract = %v, want a refusal saying it is not a tar archive", name, err)
		}
	}
}

// TestExtractThroughPlantedLink checks that a symbolic link already in the destination (left by an earlier
// import, or made by the PVC's owner) does not let an entry write outside.
func TestExtractThroughPlantedLink(t *testing.T) {
	parent := t.TempDir()
	dir, outside := filepath.Join(parent, "pvc"), filepath.Join(parent, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(dir, "planted")); err != nil {
		t.Fatal(err)
	}
	_, err := Extract(context.Background(), bytes.NewReader(archive(t, entry{name: "planted/x", body: "x"})), dir, 0)
	if err == nil {
		t.Error("Extract wrote through a planted link without error")
	}
	if names := dirNames(t, outside); len(names) != 0 {
		t.Errorf("wrote outside through a planted link: %v", names)
	}
}

func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// FuzzExtract checks that no archive writes outside the destination or leaves a link or special file in it.
func FuzzExtract(f *testing.F) {
	f.Add(archive(f, entry{name: "a/b", body: "x"}, entry{name: "d/", typ: tar.TypeDir}))
	f.Add(archive(f, entry{name: "../x", body: "x"}))
	f.Add(archive(f, entry{name: "l", typ: tar.TypeSymlink, link: "/"}))
	f.Add([]byte{})
	sync = func(*os.File) error { return nil }
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "pvc")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_, _ = Extract(context.Background(), bytes.NewReader(b), dir, 1<<20)
		if names := dirNames(t, parent); len(names) != 1 {
			t.Fatalf("wrote outside the destination: %v", names)
		}
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !d.Type().IsRegular() {
				t.Fatalf("left %s of type %v", p, d.Type())
			}
			return nil
		})
	})
}
