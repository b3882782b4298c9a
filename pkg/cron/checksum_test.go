package cron

import (
	"strings"
	"testing"
)

func TestFindSHA256(t *testing.T) {
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	fedora := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n# Fedora-Cloud-Base-Generic-42.qcow2: 123 bytes\n" +
		"SHA256 (Fedora-Cloud-Base-Generic-42.qcow2) = " + a + "\n-----BEGIN PGP SIGNATURE-----\nxyz\n"
	for _, tc := range []struct {
		name, sums, file, want, err string
	}{
		{"GNU text", b + "  other.img\n" + a + "  disk.img\n", "disk.img", a, ""},
		{"GNU binary", a + " *noble-server-cloudimg-amd64.img\n", "noble-server-cloudimg-amd64.img", a, ""},
		{"CRLF", a + "  disk.img\r\n", "disk.img", a, ""},
		{"upper-case hex", strings.ToUpper(a) + "  disk.img\n", "disk.img", a, ""},
		{"path entry", a + "  ./images/disk.img\n", "disk.img", a, ""},
		{"Fedora BSD", fedora, "Fedora-Cloud-Base-Generic-42.qcow2", a, ""},
		{"BSD name with parenthesis", "SHA256 (disk (1).img) = " + a + "\n", "disk (1).img", a, ""},
		{"missing", b + "  other.img\n", "disk.img", "", "no SHA-256 sum for disk.img"},
		{"SHA512 only", strings.Repeat("c", 128) + "  disk.img\n", "disk.img", "", "no SHA-256 sum"},
		{"BSD SHA512", "SHA512 (disk.img) = " + strings.Repeat("c", 128) + "\n", "disk.img", "", "no SHA-256 sum"},
		{"not hex", strings.Repeat("z", 64) + "  disk.img\n", "disk.img", "", "no SHA-256 sum"},
		{"prefix match is no match", a + "  disk.img.xz\n", "disk.img", "", "no SHA-256 sum"},
		{"disagreeing entries", a + "  disk.img\n" + b + "  x/disk.img\n", "disk.img", "", "two different"},
		{"agreeing duplicates", a + "  disk.img\n" + a + " *disk.img\n", "disk.img", a, ""},
		{"empty", "", "disk.img", "", "no SHA-256 sum"},
	} {
		got, err := FindSHA256([]byte(tc.sums), tc.file)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: FindSHA256 = %q, %v; want error %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != "sha256:"+tc.want {
			t.Errorf("%s: FindSHA256 = %q, %v; want sha256:%s", tc.name, got, err, tc.want)
		}
	}
}

func TestFileName(t *testing.T) {
	for _, tc := range []struct{ url, want, err string }{
		{"https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2", "debian-12-genericcloud-amd64.qcow2", ""},
		{"http://h/x.img?token=1", "x.img", ""},
		{"http://h/dir/", "dir", ""},
		{"http://h/", "", "names no file"},
		{"http://h", "", "names no file"},
		{"http://user:secret@h/%zz", "", "url"},
	} {
		got, err := FileName(tc.url)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("FileName(%q) = %q, %v; want %q, %q", tc.url, got, err, tc.want, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("FileName(%q) error leaks the password: %v", tc.url, err)
		}
	}
}

// FuzzFindSHA256 checks that any checksum file either yields a well-formed sum that appears in the file or fails.
func FuzzFindSHA256(f *testing.F) {
	a := strings.Repeat("a", 64)
	for _, seed := range []string{a + "  disk.img\n", "SHA256 (disk.img) = " + a + "\n", a + " *disk.img\r\n", "SHA256 (disk.img) = \n", ""} {
		f.Add([]byte(seed), "disk.img")
	}
	f.Fuzz(func(t *testing.T, sums []byte, name string) {
		got, err := FindSHA256(sums, name)
		if err != nil {
			return
		}
		hex, ok := strings.CutPrefix(got, "sha256:")
		if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
			t.Fatalf("FindSHA256 = %q, want sha256:<64 lower-case hex>", got)
		}
		if !strings.Contains(strings.ToLower(string(sums)), hex) {
			t.Fatalf("sum %s does not appear in the file", hex)
		}
	})
}
