package iso

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkPatchVsRebuild compares the in-place EFI boot image swap with the anchor's way (extract
// the ISO, replace efisys.bin, master a new ISO with xorriso) on a 512 MiB Windows-like ISO, and
// reports both times and their ratio from the same run.
func BenchmarkPatchVsRebuild(b *testing.B) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		b.Skip("xorriso not installed")
	}
	dir := b.TempDir()
	root := filepath.Join(dir, "root")
	big := bytes.Repeat([]byte("install.wim data "), (512<<20)/17)
	files := map[string][]byte{
		"boot/etfsboot.com":                      bytes.Repeat([]byte{1}, 4096),
		"efi/microsoft/boot/efisys.bin":          bytes.Repeat([]byte{2}, floppySize),
		"efi/microsoft/boot/efisys_noprompt.bin": bytes.Repeat([]byte{3}, floppySize),
		"sources/install.wim":                    big,
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	isoPath := filepath.Join(dir, "win.iso")
	mkisofs := append([]string{"-as", "mkisofs", "-quiet", "-R", "-J", "-o"}, isoPath)
	if out, err := exec.Command("xorriso", append(append(mkisofs, bootArgs...), root)...).CombinedOutput(); err != nil {
		b.Fatalf("xorriso: %v\n%s", err, out)
	}
	images := [][]byte{bytes.Repeat([]byte{4}, floppySize), bytes.Repeat([]byte{5}, floppySize)}
	var patch, rebuild time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f, err := os.OpenFile(isoPath, os.O_RDWR, 0)
		if err != nil {
			b.Fatal(err)
		}
		img := images[i%2]
		if _, err := ReplaceEFIBootImage(f, bytes.NewReader(img), int64(len(img))); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		patch += time.Since(start)

		start = time.Now()
		rebuildWithXorriso(b, isoPath, filepath.Join(dir, "extract"), filepath.Join(dir, "rebuilt.iso"))
		rebuild += time.Since(start)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(patch.Milliseconds())/n, "patch-ms/op")
	b.ReportMetric(float64(rebuild.Milliseconds())/n, "rebuild-ms/op")
	b.ReportMetric(float64(rebuild)/float64(patch), "rebuild/patch")
}

// rebuildWithXorriso is the anchor's method: extract everything, swap the file, master a new ISO.
func rebuildWithXorriso(b *testing.B, iso, extract, out string) {
	b.Helper()
	os.RemoveAll(extract)
	os.Remove(out)
	if o, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", extract).CombinedOutput(); err != nil {
		b.Fatalf("extract: %v\n%s", err, o)
	}
	efi := filepath.Join(extract, "efi/microsoft/boot")
	if err := os.Chmod(efi, 0o755); err != nil {
		b.Fatal(err)
	}
	noprompt, err := os.ReadFile(filepath.Join(efi, "efisys_noprompt.bin"))
	if err != nil {
		b.Fatal(err)
	}
	os.Remove(filepath.Join(efi, "efisys.bin"))
	if err := os.WriteFile(filepath.Join(efi, "efisys.bin"), noprompt, 0o644); err != nil {
		b.Fatal(err)
	}
	args := append(append([]string{"-as", "mkisofs", "-quiet", "-R", "-J", "-o", out}, bootArgs...), extract)
	if o, err := exec.Command("xorriso", args...).CombinedOutput(); err != nil {
		b.Fatalf("rebuild: %v\n%s", err, o)
	}
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	f.Sync()
	f.Close()
}
