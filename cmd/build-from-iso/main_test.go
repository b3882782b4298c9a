package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	iso := filepath.Join(dir, "in.iso")
	if err := os.WriteFile(iso, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	disk := filepath.Join(dir, "disk.raw")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no flags", nil, "usage: build-from-iso"},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined: -nope"},
		{"missing disk without size", []string{"--iso", iso, "--disk", disk}, "--disk-size is not set"},
		{"bad size", []string{"--iso", iso, "--disk", disk, "--disk-size", "lots"}, `disk size "lots"`},
		{"negative size", []string{"--iso", iso, "--disk", disk, "--disk-size", "-1Gi"}, "not positive"},
		{"bad firmware", []string{"--iso", iso, "--disk", disk, "--disk-size", "1Mi", "--firmware", "coreboot"}, `unknown firmware "coreboot"`},
		{"missing answer file", []string{"--iso", iso, "--disk", disk, "--disk-size", "1Mi", "--answer-file", filepath.Join(dir, "nope.xml")}, "make CD"},
		{"missing answer dir", []string{"--iso", iso, "--disk", disk, "--disk-size", "1Mi", "--answer-dir", filepath.Join(dir, "none")}, "answer directory: open"},
		{"missing driver CD", []string{"--iso", iso, "--disk", disk, "--disk-size", "1Mi", "--cdrom", filepath.Join(dir, "virtio-win.iso")}, "CD 1: stat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPrepareDisk(t *testing.T) {
	dir := t.TempDir()
	old := bytes.Repeat([]byte{0xAB}, 4096) // an earlier build's disk
	tests := []struct {
		name, size string
		existing   bool
		want       int64
		wantOld    bool // the old bytes are still there
	}{
		{"create sparse", "64Mi", false, 64 << 20, false},
		{"empty a larger one", "1Ki", true, 1 << 10, false},
		{"empty a smaller one", "1Mi", true, 1 << 20, false},
		{"keep without size", "", true, 4096, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("disk%d.raw", i))
			if tt.existing {
				if err := os.WriteFile(path, old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := prepareDisk(path, tt.size); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil || int64(len(b)) != tt.want {
				t.Fatalf("size %d, %v; want %d", len(b), err, tt.want)
			}
			if kept := bytes.HasPrefix(b, old[:512]); kept != tt.wantOld {
				t.Fatalf("old content kept = %v, want %v", kept, tt.wantOld)
			}
		})
	}
	if err := prepareDisk(filepath.Join(dir, "missing.raw"), ""); err == nil || !strings.Contains(err.Error(), "--disk-size is not set") {
		t.Fatalf("missing disk without size: %v", err)
	}
}

func TestCollectFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"autounattend.xml", "post-install.ps1", "virtio-win.ISO", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "..data"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := flags{answerDir: dir, cdromDir: dir, answers: listFlag{""}, cdroms: listFlag{"", "/x.iso"}}
	answers, cdroms, err := collectFiles(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != 4 || len(cdroms) != 2 || cdroms[0] != "/x.iso" || filepath.Base(cdroms[1]) != "virtio-win.ISO" {
		t.Fatalf("answers %v cdroms %v; want the 4 files and /x.iso plus virtio-win.ISO", answers, cdroms)
	}
}
