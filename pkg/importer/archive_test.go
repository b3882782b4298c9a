package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/contract"
)

// tarOf packs dir with GNU tar (the reference writer) into out, compressed per flag ("" none, "z", "J", "--zstd").
func tarOf(t *testing.T, dir, out, flag string) string {
	t.Helper()
	args := []string{"-C", dir, "-cf", out}
	if flag != "" {
		args = append([]string{flag}, args...)
	}
	if b, err := exec.Command("tar", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("tar %v: %v: %s", args, err, b)
	}
	return out
}

// tree writes files (name -> content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestImportArchive(t *testing.T) {
	files := map[string]string{"disk.img": strings.Repeat("d", 100<<10), "meta/info.json": `{"os":"x"}`, "README": "hello"}
	src := tree(t, files)
	work := t.TempDir()
	hs := httptest.NewServer(http.FileServer(http.Dir(work)))
	t.Cleanup(hs.Close)
	for _, tc := range []struct{ name, flag, format string }{
		{"tar", "", "tar"}, {"tar.gz", "-z", "tar+gzip"}, {"tar.xz", "-J", "tar+xz"}, {"tar.zst", "--zstd", "tar+zstd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			archive := tarOf(t, src, filepath.Join(work, "files."+tc.name), tc.flag)
			b, _ := os.ReadFile(archive)
			sum := sha256.Sum256(b)
			dest := t.TempDir()
			term, err := Run(context.Background(), Config{Source: hs.URL + "/files." + tc.name, Dest: dest, Archive: true,
				Checksum: "sha256:" + hex.EncodeToString(sum[:])})
			if err != nil || term.Result != contract.ResultSuccess || term.Format != tc.format {
				t.Fatalf("Run = %+v, %v", term, err)
			}
			for name, want := range files {
				if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(got) != want {
					t.Errorf("%s: %d bytes (%v), want %d", name, len(got), err, len(want))
				}
			}
			if want := int64(len(files["disk.img"]) + len(files["meta/info.json"]) + len(files["README"])); term.VirtualSize != want {
				t.Errorf("VirtualSize %d, want the unpacked %d bytes", term.VirtualSize, want)
			}
		})
	}
}

func TestImportArchiveRefuses(t *testing.T) {
	src := tree(t, map[string]string{"a": "x"})
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "passwd")); err != nil {
		t.Fatal(err)
	}
	linked := tarOf(t, src, filepath.Join(t.TempDir(), "linked.tar"), "")
	plain := tarOf(t, tree(t, map[string]string{"big": strings.Repeat("x", 8192)}), filepath.Join(t.TempDir(), "plain.tar.gz"), "-z")
	qcow2 := images(t).dir + "/disk.qcow2"
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"symlink", Config{Source: "file://" + linked}, `entry "./passwd" is a symbolic link (to "/etc/passwd")`},
		{"too large", Config{Source: "file://" + plain, Size: 4096}, "more than the 4096 bytes"},
		{"disk image", Config{Source: "file://" + qcow2}, "needs a tar archive, not a qcow2 disk image"},
		{"wrong checksum", Config{Source: "file://" + plain, Checksum: "sha256:" + strings.Repeat("0", 64)}, "checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Dest, tc.cfg.Archive = t.TempDir(), true
			term, err := Run(context.Background(), tc.cfg)
			if err == nil || term.Retryable || !strings.Contains(term.Message, tc.want) || strings.Contains(term.Message, "\n") {
				t.Fatalf("Run = %+v, %v; want a fatal one-line failure containing %q", term, err, tc.want)
			}
		})
	}
	if _, err := Run(context.Background(), Config{Source: "file://" + plain, Dest: filepath.Join(t.TempDir(), "disk.img"), Archive: true}); err == nil ||
		!strings.Contains(err.Error(), "is not a directory") && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("archive into a missing directory: %v", err)
	}
}
