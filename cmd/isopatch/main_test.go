package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed (hack/install-deps.sh installs it)")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for name, size := range map[string]int{"boot/bios.img": 2048, "efi/boot/efi.img": 8192} {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte{1}, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	isoPath := filepath.Join(dir, "a.iso")
	if b, err := exec.Command("xorriso", "-as", "mkisofs", "-R", "-o", isoPath, "-b", "boot/bios.img", "-no-emul-boot",
		"-eltorito-alt-boot", "-e", "efi/boot/efi.img", "-no-emul-boot", root).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	replacement := filepath.Join(dir, "new.img")
	if err := os.WriteFile(replacement, bytes.Repeat([]byte{2}, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantOut string
		wantErr string
	}{
		{"no flags", nil, "", "usage: isopatch"},
		{"missing iso", []string{"--iso", filepath.Join(dir, "nope.iso")}, "", "open ISO"},
		{"no noprompt file inside", []string{"--iso", isoPath}, "", "look up /efi/microsoft/boot/efisys_noprompt.bin: efi/microsoft not found"},
		{"replacement given", []string{"--iso", isoPath, "--image", replacement}, "catalog sectors 16 -> 8", ""},
		{"second run", []string{"--iso", isoPath, "--image", replacement}, "already in place", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(out.String(), tt.wantOut) {
				t.Fatalf("run = %q, %v; want output containing %q", out.String(), err, tt.wantOut)
			}
		})
	}
}
