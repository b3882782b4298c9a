// Package qemutest builds the stand-in installer ISO (hack/installer-iso) for tests that boot an
// installer under QEMU, and skips those tests with a clear message when the tools are missing.
package qemutest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// AnswerFile is the name the stand-in installer looks for on its CDs.
const AnswerFile = "standin-answer.txt"

// InstalledMarker starts the header the stand-in installer writes at HeaderOffset of the disk.
const InstalledMarker = "GOLDIMAGE-STANDIN-INSTALLED\n"

// HeaderOffset is where the installed header lies: the bootable image the installer copies onto the
// disk takes the 32 MiB before it, so a disk needs MinDiskSize.
const HeaderOffset = 32 << 20

// MinDiskSize is the smallest disk the stand-in installs to.
const MinDiskSize = 35 << 20

// BootedMarker starts the line an installed stand-in disk prints on its serial console when it boots.
const BootedMarker = "GOLDIMAGE-BOOTED"

// ReadHeader returns the first 4 KiB of the installed header of the disk (or image) at path.
func ReadHeader(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open installed disk: %v", err)
	}
	defer f.Close()
	head := make([]byte, 4096)
	if _, err := f.ReadAt(head, HeaderOffset); err != nil {
		t.Fatalf("read the installed header of %s at %d: %v", path, HeaderOffset, err)
	}
	return head
}

var (
	once    sync.Once
	isoPath string
	isoErr  error
	isoOut  []byte
)

// RequireTools skips the test unless QEMU, xorriso and the stand-in's build tools are installed.
func RequireTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"qemu-system-x86_64", "xorriso", "grub-mkrescue", "mformat", "cpio"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: run hack/install-deps.sh to boot the stand-in installer", tool)
		}
	}
	if k, _ := filepath.Glob("/boot/vmlinuz-*"); len(k) == 0 {
		t.Skip("no kernel in /boot: run hack/install-deps.sh (linux-image-amd64) to build the stand-in installer")
	}
}

// StandInISO builds the stand-in installer ISO once per test binary and returns its path.
func StandInISO(t testing.TB) string {
	t.Helper()
	RequireTools(t)
	once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			isoErr = err
			return
		}
		dir, err := os.MkdirTemp("", "goldimage-standin-")
		if err != nil {
			isoErr = err
			return
		}
		isoPath = filepath.Join(dir, "standin.iso")
		isoOut, isoErr = exec.Command(filepath.Join(root, "hack", "installer-iso", "build.sh"), isoPath).CombinedOutput()
	})
	if isoErr != nil {
		t.Fatalf("build stand-in installer ISO: %v\n%s", isoErr, isoOut)
	}
	return isoPath
}

// AnswerDir writes a stand-in answer file into a new directory and returns the file's path.
func AnswerDir(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), AnswerFile)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// repoRoot walks up from the working directory to the directory holding hack/installer-iso.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "hack", "installer-iso", "build.sh")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("hack/installer-iso/build.sh not found above the working directory")
		}
		dir = parent
	}
}
