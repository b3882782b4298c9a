package iso

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const floppySize = 1474560 // efisys.bin and efisys_noprompt.bin are 1.44 MB floppy images

// windowsLikeTree writes a tree laid out like Windows install media and returns its root and the two EFI images.
func windowsLikeTree(t *testing.T) (root string, efisys, noprompt []byte) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "root")
	efisys, noprompt = randomBytes(t, floppySize), randomBytes(t, floppySize)
	files := map[string][]byte{
		"boot/etfsboot.com":                      randomBytes(t, 4096),
		"efi/microsoft/boot/efisys.bin":          efisys,
		"efi/microsoft/boot/efisys_noprompt.bin": noprompt,
		"sources/install.wim":                    randomBytes(t, 300000),
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root, efisys, noprompt
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// mastering tools that make bootable hybrid images; genisoimage -udf with 8.3 names mimics Windows media,
// whose real names live only in UDF.
var masterings = []struct {
	name string
	tool string
	args []string
}{
	{"xorriso rock ridge", "xorriso", []string{"-as", "mkisofs", "-R", "-J"}},
	{"genisoimage udf", "genisoimage", []string{"-quiet", "-udf", "-iso-level", "1"}},
}

var bootArgs = []string{"-b", "boot/etfsboot.com", "-no-emul-boot", "-boot-load-size", "4",
	"-eltorito-alt-boot", "-e", "efi/microsoft/boot/efisys.bin", "-no-emul-boot"}

func master(t *testing.T, tool string, args []string, root string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (hack/install-deps.sh installs it)", tool)
	}
	out := filepath.Join(t.TempDir(), "media.iso")
	args = append(append(append([]string{}, args...), "-o", out), append(bootArgs, root)...)
	if b, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", tool, err, b)
	}
	return out
}

var reportLine = regexp.MustCompile(`El Torito boot img :\s+\d+\s+UEFI\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)`)

// xorrisoEFIEntry asks xorriso (an independent reader) for the UEFI entry's sector count and LBA.
func xorrisoEFIEntry(t *testing.T, iso string) (count, lba int64) {
	t.Helper()
	b, err := exec.Command("xorriso", "-indev", iso, "-report_el_torito", "plain").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso -report_el_torito: %v\n%s", err, b)
	}
	m := reportLine.FindSubmatch(b)
	if m == nil {
		t.Fatalf("xorriso reports no UEFI boot image:\n%s", b)
	}
	count, _ = strconv.ParseInt(string(m[1]), 10, 64)
	lba, _ = strconv.ParseInt(string(m[2]), 10, 64)
	return count, lba
}

func TestReplaceWithWindowsNoPrompt(t *testing.T) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		t.Skip("xorriso not installed (hack/install-deps.sh installs it)")
	}
	for _, m := range masterings {
		t.Run(m.name, func(t *testing.T) {
			root, _, noprompt := windowsLikeTree(t)
			path := master(t, m.tool, m.args, root)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, lba := xorrisoEFIEntry(t, path)
			p := patchFile(t, path)
			if p.Written != floppySize || int64(p.LBA) != lba || p.Slot != floppySize {
				t.Fatalf("patch = %+v, want %d bytes written at sector %d", p, floppySize, lba)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			start := lba * SectorSize
			if !bytes.Equal(after[start:start+floppySize], noprompt) {
				t.Fatal("bytes at the EFI boot image's sector are not efisys_noprompt.bin")
			}
			if !bytes.Equal(after[:start], before[:start]) || !bytes.Equal(after[start+floppySize:], before[start+floppySize:]) {
				t.Fatal("bytes outside the EFI boot image changed")
			}
			if count, gotLBA := xorrisoEFIEntry(t, path); count != floppySize/512 || gotLBA != lba {
				t.Fatalf("xorriso sees UEFI entry %d sectors at %d after patch, want %d at %d", count, gotLBA, floppySize/512, lba)
			}
			if again := patchFile(t, path); again.Written != 0 {
				t.Fatalf("second patch wrote %d bytes, want 0 (already patched)", again.Written)
			}
		})
	}
}

func patchFile(t *testing.T, path string) Patch {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := ReplaceWithWindowsNoPrompt(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReplaceEFIBootImageSmallerImage(t *testing.T) {
	root, _, _ := windowsLikeTree(t)
	path := master(t, "xorriso", masterings[0].args, root)
	small := randomBytes(t, 5000)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReplaceEFIBootImage(f, bytes.NewReader(small), int64(len(small)))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	count, lba := xorrisoEFIEntry(t, path)
	if count != 10 || p.NewSectorCount != 10 {
		t.Fatalf("sector count: xorriso %d, patch %d; want 10 for a 5000-byte image", count, p.NewSectorCount)
	}
	after, _ := os.ReadFile(path)
	slot := after[lba*SectorSize : lba*SectorSize+floppySize]
	if !bytes.Equal(slot[:5000], small) || bytes.ContainsFunc(slot[5000:], func(r rune) bool { return r != 0 }) {
		t.Fatal("slot does not hold the new image followed by zeros")
	}
}

func TestReplaceEFIBootImageErrors(t *testing.T) {
	root, _, _ := windowsLikeTree(t)
	bootable := master(t, "xorriso", masterings[0].args, root)
	plain := filepath.Join(t.TempDir(), "plain.iso")
	if b, err := exec.Command("xorriso", "-as", "mkisofs", "-R", "-o", plain, root).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	biosOnly := filepath.Join(t.TempDir(), "bios.iso")
	if b, err := exec.Command("xorriso", "-as", "mkisofs", "-R", "-o", biosOnly, "-b", "boot/etfsboot.com",
		"-no-emul-boot", root).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	notISO := filepath.Join(t.TempDir(), "zeros.img")
	if err := os.WriteFile(notISO, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, iso string
		size      int
		want      string
	}{
		{"image too big", bootable, floppySize + 1, "must be 1 to 1474560 bytes"},
		{"empty image", bootable, 0, "must be 1 to"},
		{"not bootable", plain, 10, "not bootable"},
		{"no EFI entry", biosOnly, 10, "no EFI entry"},
		{"not an ISO", notISO, 10, "not an ISO 9660 image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.iso)
			f, err := os.OpenFile(tt.iso, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = ReplaceEFIBootImage(f, bytes.NewReader(make([]byte, tt.size)), int64(tt.size))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if after, _ := os.ReadFile(tt.iso); !bytes.Equal(before, after) {
				t.Fatal("a failed patch changed the ISO")
			}
		})
	}
}

func TestLookup(t *testing.T) {
	for _, m := range masterings {
		t.Run(m.name, func(t *testing.T) {
			root, _, _ := windowsLikeTree(t)
			f, err := os.Open(master(t, m.tool, m.args, root))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tests := []struct {
				path    string
				size    int64
				wantErr string
			}{
				{"/EFI/Microsoft/Boot/efisys_noprompt.bin", floppySize, ""},
				{"sources/install.wim", 300000, ""},
				{"/sources/missing.wim", 0, "sources/missing.wim not found"},
				{"/sources", 0, "is a directory"},
			}
			for _, tt := range tests {
				got, err := Lookup(f, tt.path)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Errorf("Lookup(%s) error %v, want %q", tt.path, err, tt.wantErr)
					}
					continue
				}
				if err != nil || got.Size != tt.size {
					t.Errorf("Lookup(%s) = %+v, %v; want size %d", tt.path, got, err, tt.size)
				}
			}
		})
	}
}
