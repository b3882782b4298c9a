package qemu

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// MakeCD writes an ISO 9660 image (Joliet and Rock Ridge names, so Windows Setup and Linux both read
// it) holding the given files at its root, for answer files and driver directories. It runs xorriso.
func MakeCD(ctx context.Context, out, label string, files ...string) error {
	if len(files) == 0 {
		return fmt.Errorf("make CD %s: no files", out)
	}
	if _, err := exec.LookPath("xorriso"); err != nil {
		return fmt.Errorf("make CD %s: %w (install xorriso)", out, err)
	}
	args := append([]string{"-as", "mkisofs", "-quiet", "-J", "-joliet-long", "-R", "-V", label, "-o", out}, files...)
	b, err := exec.CommandContext(ctx, "xorriso", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make CD %s: xorriso: %v: %s", out, err, strings.TrimSpace(string(b)))
	}
	return nil
}
