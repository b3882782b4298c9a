package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestWriteTarballRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	if err := os.WriteFile(bin, []byte("#!static binary stand-in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	spec := Spec{Files: []File{{Source: bin, Dest: "/usr/bin/tool"}}, User: "107", Arch: "amd64", Entrypoint: []string{"/usr/bin/tool"}}
	if err := WriteTarball(out, "goldimage.local/tool:test", spec); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("goldimage.local/tool:test")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "107" || cfg.OS != "linux" || cfg.Architecture != "amd64" || cfg.Config.Entrypoint[0] != "/usr/bin/tool" {
		t.Errorf("config = user %q os %q arch %q entrypoint %q", cfg.Config.User, cfg.OS, cfg.Architecture, cfg.Config.Entrypoint)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		io.Copy(&body, tr)
		got[hdr.Name] = body.String()
		if hdr.Name == "usr/bin/tool" && hdr.Mode != 0o755 {
			t.Errorf("usr/bin/tool mode = %o, want 755", hdr.Mode)
		}
	}
	for _, want := range []string{"tmp/", "usr/", "usr/bin/"} {
		if _, ok := got[want]; !ok {
			t.Errorf("layer lacks directory %s; has %v", want, got)
		}
	}
	if got["usr/bin/tool"] != "#!static binary stand-in\n" {
		t.Errorf("usr/bin/tool content = %q", got["usr/bin/tool"])
	}
}

func TestParseFilesErrors(t *testing.T) {
	tests := []struct {
		arg, wantErr string
	}{
		{"bin/importer", "want SOURCE:/ABSOLUTE/DEST"},
		{"bin/importer:importer", "want SOURCE:/ABSOLUTE/DEST"},
		{":/importer", "want SOURCE:/ABSOLUTE/DEST"},
	}
	for _, tt := range tests {
		_, err := parseFiles([]string{tt.arg})
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseFiles(%q) error = %v, want %q", tt.arg, err, tt.wantErr)
		}
	}
	if _, err := parseFiles([]string{"bin/importer:/importer"}); err != nil {
		t.Errorf("valid argument rejected: %v", err)
	}
}

func TestWriteTarballMissingSource(t *testing.T) {
	err := WriteTarball(filepath.Join(t.TempDir(), "x.tar"), "goldimage.local/x:1",
		Spec{Files: []File{{Source: "/nonexistent/bin", Dest: "/bin"}}, User: "1", Arch: "amd64"})
	if err == nil || !strings.Contains(err.Error(), "open /nonexistent/bin") {
		t.Fatalf("error = %v, want it to name the missing file", err)
	}
}

func TestWriteTarballBaseLayerAndLinks(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "rootfs.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/os-release", Mode: 0o644, Size: 6})
	tw.Write([]byte("debian"))
	tw.Close()
	if err := os.WriteFile(base, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "busybox")
	os.WriteFile(bin, []byte("bb"), 0o755)
	out := filepath.Join(dir, "img.tar")
	spec := Spec{BaseLayers: []string{base}, Files: []File{{Source: bin, Dest: "/bin/busybox"}},
		Links: []Link{{Target: "busybox", Dest: "/bin/sh"}}, User: "107", Arch: "amd64", Env: []string{"PATH=/bin"}}
	if err := WriteTarball(out, "goldimage.local/tool:test", spec); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("goldimage.local/tool:test")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := img.ConfigFile()
	if len(cfg.Config.Entrypoint) != 0 || strings.Join(cfg.Config.Env, ",") != "PATH=/bin" {
		t.Errorf("entrypoint %q env %q, want none and PATH=/bin", cfg.Config.Entrypoint, cfg.Config.Env)
	}
	if layers, err := img.Layers(); err != nil || len(layers) != 2 {
		t.Fatalf("layers = %d, %v; want base + files", len(layers), err)
	}
	if _, ok := layerHeaders(t, out, 0)["etc/os-release"]; !ok {
		t.Error("base layer lost etc/os-release")
	}
	if sh := layerHeaders(t, out, 1)["bin/sh"]; sh == nil || sh.Typeflag != tar.TypeSymlink || sh.Linkname != "busybox" {
		t.Errorf("bin/sh = %+v, want a symlink to busybox", sh)
	}
}

func TestParseLinksErrors(t *testing.T) {
	for _, arg := range []string{"busybox", "busybox:bin/sh", ":/bin/sh"} {
		if _, err := parseLinks([]string{arg}); err == nil || !strings.Contains(err.Error(), "want TARGET:/ABSOLUTE/DEST") {
			t.Errorf("parseLinks(%q) error = %v", arg, err)
		}
	}
}
