package driver

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountInfo is the kernel's list of mounts in this mount namespace.
const mountInfo = "/proc/self/mountinfo"

// unescapeMountPath undoes the octal escapes (\040 for space and the like)
// the kernel applies to paths in mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// mountPoints parses mountinfo content and returns the set of mount points.
func mountPoints(content string) map[string]bool {
	out := map[string]bool{}
	for line := range strings.Lines(content) {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		out[unescapeMountPath(fields[4])] = true
	}
	return out
}

// isMountPoint reports whether path is a mount point in this mount namespace.
func isMountPoint(path string) (bool, error) {
	f, err := os.Open(mountInfo)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", mountInfo, err)
	}
	return mountPoints(b.String())[filepath.Clean(path)], nil
}

// bindMount bind-mounts src onto target, then makes it read-only if asked.
func bindMount(src, target string, readOnly bool) error {
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, target, err)
	}
	if readOnly {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, 0)
			return fmt.Errorf("remount %s read-only: %w", target, err)
		}
	}
	return nil
}

// unmountAll unmounts everything stacked on target until it is no longer a
// mount point. A target that is not mounted is fine.
func unmountAll(target string) error {
	for range 32 {
		mounted, err := isMountPoint(target)
		if err != nil {
			return err
		}
		if !mounted {
			return nil
		}
		if err := unix.Unmount(target, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", target, err)
		}
	}
	return fmt.Errorf("unmount %s: still mounted after 32 unmounts", target)
}
