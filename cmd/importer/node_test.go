package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/contract"
)

func TestNodeDiskSource(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string // file name under dir, or the error
		err   bool
	}{
		{"one file", func(d string) { write(t, d, "disk.qcow2") }, "disk.qcow2", false},
		{"one file and a directory", func(d string) { write(t, d, "disk.img"); os.Mkdir(filepath.Join(d, "sub"), 0o755) }, "disk.img", false},
		{"link to a file", func(d string) { write(t, d, ".real"); os.Symlink(".real", filepath.Join(d, "x")) }, "2 files", true},
		{"no file", func(string) {}, "no disk image file under", true},
		{"two files", func(d string) { write(t, d, "a.img"); write(t, d, "b.img") }, "2 files under", true},
	} {
		dir := t.TempDir()
		tc.setup(dir)
		got, err := nodeDiskSource(dir)
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: nodeDiskSource = %q, %v; want an error containing %q", tc.name, got, err, tc.want)
			}
			continue
		}
		if want := "file://" + filepath.Join(dir, tc.want); err != nil || got != want {
			t.Errorf("%s: nodeDiskSource = %q, %v; want %s", tc.name, got, err, want)
		}
	}
	if _, err := nodeDiskSource(filepath.Join(t.TempDir(), "disk")); err == nil || !strings.Contains(err.Error(), "is it a containerDisk") {
		t.Errorf("missing /disk: %v", err)
	}
}

func write(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("disk"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestInstall(t *testing.T) {
	dir := t.TempDir()
	if code := install([]string{dir}, io.Discard); code != contract.ExitOK {
		t.Fatalf("install exited %d", code)
	}
	self, _ := os.Executable()
	want, _ := os.ReadFile(self)
	got, err := os.ReadFile(filepath.Join(dir, contract.NodePullBinary))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("installed %d bytes (%v), want a copy of the %d-byte executable", len(got), err, len(want))
	}
	if fi, _ := os.Stat(filepath.Join(dir, contract.NodePullBinary)); fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("installed importer mode %v is not executable", fi.Mode())
	}
	if code := install(nil, io.Discard); code != contract.ExitUsage {
		t.Errorf("install without DIR exited %d, want %d", code, contract.ExitUsage)
	}
}

func TestNodePullFlag(t *testing.T) {
	env := map[string]string{contract.EnvEndpoint: "docker://r/x@sha256:" + strings.Repeat("a", 64), contract.EnvPullMethod: "node"}
	f, err := parseFlags(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || !f.nodePull {
		t.Fatalf("parseFlags = %+v, %v; want node pull", f, err)
	}
}
