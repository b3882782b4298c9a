package taskresult

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReport(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"success writes an empty result", nil, ""},
		{"one line", errors.New("install: guest rebooted"), "install: guest rebooted"},
		{"folded", errors.New("xorriso failed:\n  no space\n"), "xorriso failed: no space"},
		{"cut", errors.New(strings.Repeat("x", 5000)), strings.Repeat("x", maxLen-3) + "..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "FAILURE")
			t.Setenv(EnvFailureFile, path)
			Report(tc.err)
			got, err := os.ReadFile(path)
			if err != nil || string(got) != tc.want {
				t.Errorf("result = %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestReportOutsideTekton(t *testing.T) {
	t.Setenv(EnvFailureFile, "")
	dir := t.TempDir()
	t.Chdir(dir)
	Report(errors.New("boom"))
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Report wrote %v without %s", entries, EnvFailureFile)
	}
}
