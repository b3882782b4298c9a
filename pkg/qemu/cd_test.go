package qemu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/iso"
)

// TestMakeCDFollowsConfigMapLinks lays out a directory as the kubelet mounts a ConfigMap (the file is a link
// into ..data, itself a link to a timestamped directory) and checks that the CD holds the file's content,
// not a link the guest cannot resolve.
func TestMakeCDFollowsConfigMapLinks(t *testing.T) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed")
	}
	dir := t.TempDir()
	const content = "hostname=golden-1\n"
	mustDo(t, os.Mkdir(filepath.Join(dir, "..2026_12_04_21_00_00.000"), 0o755))
	mustDo(t, os.WriteFile(filepath.Join(dir, "..2026_12_04_21_00_00.000", "standin-answer.txt"), []byte(content), 0o644))
	mustDo(t, os.Symlink("..2026_12_04_21_00_00.000", filepath.Join(dir, "..data")))
	mustDo(t, os.Symlink("..data/standin-answer.txt", filepath.Join(dir, "standin-answer.txt")))
	out := filepath.Join(t.TempDir(), "answer.iso")
	if err := MakeCD(context.Background(), out, "ANSWER", filepath.Join(dir, "standin-answer.txt")); err != nil {
		t.Fatal(err)
	}
	img, err := os.Open(out)
	mustDo(t, err)
	defer img.Close()
	f, err := iso.Lookup(img, "standin-answer.txt")
	if err != nil {
		t.Fatalf("answer file not on the CD: %v", err)
	}
	got := make([]byte, f.Size)
	if _, err := img.ReadAt(got, int64(f.LBA)*2048); err != nil || string(got) != content {
		t.Errorf("answer file on the CD = %q (%v), want %q", got, err, content)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLastMeaningfulLine(t *testing.T) {
	banner := "xorriso 1.5.4 : RockRidge filesystem manipulator, libburnia project.\n\n"
	tests := []struct {
		name, out, want string
	}{
		{"failure after banner", banner + "xorriso : FAILURE : Cannot determine attributes of source file '/x'\n",
			"xorriso : FAILURE : Cannot determine attributes of source file '/x'"},
		{"failure before abort summary", banner + "libburn : SORRY : Neither stdio-path nor its directory exist\n" +
			"xorriso : FAILURE : Cannot acquire drive 'stdio:/n/x.iso'\n" +
			"xorriso : aborting : -abort_on 'FAILURE' encountered 'FAILURE'\n",
			"xorriso : FAILURE : Cannot acquire drive 'stdio:/n/x.iso'"},
		{"sorry only", banner + "libburn : SORRY : drive busy\nsome trailing note\n", "libburn : SORRY : drive busy"},
		{"no event line", banner + "  last words  \n\n", "last words"},
		{"empty", "", ""},
		{"long line cut", strings.Repeat("x", 1000), strings.Repeat("x", maxErrLine) + "..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastMeaningfulLine(tt.out); got != tt.want {
				t.Errorf("lastMeaningfulLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMakeCDErrorIsOneLine runs xorriso on a missing file: the error names the cause on one line
// without xorriso's banner.
func TestMakeCDErrorIsOneLine(t *testing.T) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed")
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.txt")
	err := MakeCD(context.Background(), filepath.Join(dir, "a.iso"), "ANSWER", missing)
	if err == nil {
		t.Fatal("MakeCD of a missing file succeeded")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || strings.Contains(msg, "libburnia") || !strings.Contains(msg, missing) {
		t.Errorf("error %q: want one line naming %s without the banner", msg, missing)
	}
}
