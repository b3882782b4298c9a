package qemu

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

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
