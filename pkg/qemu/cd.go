package qemu

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// MakeCD writes an ISO 9660 image (Joliet and Rock Ridge names, so Windows Setup and Linux both read
// it) holding the given files at its root, for answer files and driver directories. Symbolic links are
// followed, so files of a mounted ConfigMap or Secret (links into ..data) arrive with their content. It runs xorriso.
func MakeCD(ctx context.Context, out, label string, files ...string) error {
	if len(files) == 0 {
		return fmt.Errorf("make CD %s: no files", out)
	}
	if _, err := exec.LookPath("xorriso"); err != nil {
		return fmt.Errorf("make CD %s: %w (install xorriso)", out, err)
	}
	args := append([]string{"-as", "mkisofs", "-quiet", "-follow-links", "-J", "-joliet-long", "-R", "-V", label, "-o", out}, files...)
	b, err := exec.CommandContext(ctx, "xorriso", args...).CombinedOutput()
	if err != nil {
		if line := lastMeaningfulLine(string(b)); line != "" {
			return fmt.Errorf("make CD %s: xorriso: %v: %s", out, err, line)
		}
		return fmt.Errorf("make CD %s: xorriso: %v", out, err)
	}
	return nil
}

// maxErrLine caps the tool output quoted in an error.
const maxErrLine = 300

// lastMeaningfulLine picks the line of xorriso's output that names the cause: the last line
// reporting a FAILURE, FATAL or SORRY event (not the "aborting" summary), else the last non-empty
// line. It is cut to maxErrLine bytes.
func lastMeaningfulLine(out string) string {
	lines := strings.Split(out, "\n")
	pick := ""
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.Contains(l, ": aborting :") {
			continue
		}
		if strings.Contains(l, ": FAILURE :") || strings.Contains(l, ": FATAL :") || strings.Contains(l, ": SORRY :") {
			pick = l
			break
		}
		if pick == "" {
			pick = l
		}
	}
	if len(pick) > maxErrLine {
		pick = pick[:maxErrLine] + "..."
	}
	return pick
}
