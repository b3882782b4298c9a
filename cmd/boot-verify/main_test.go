package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadInputs(t *testing.T) {
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(disk, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no disk", nil, "usage: boot-verify --disk PATH"},
		{"stray argument", []string{"--disk", disk, "extra"}, "usage: boot-verify"},
		{"missing disk", []string{"--disk", filepath.Join(dir, "nope.raw")}, "disk: stat"},
		{"empty marker", []string{"--disk", disk, "--marker", ""}, "boot marker is empty"},
		{"bad firmware", []string{"--disk", disk, "--firmware", "coreboot"}, `unknown firmware "coreboot"`},
		{"bad timeout", []string{"--disk", disk, "--timeout", "0s"}, "timeout 0s is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line holding %q", err, tt.want)
			}
		})
	}
}
