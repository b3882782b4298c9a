package main

import (
	"archive/tar"
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// The values are what `setcap NAMES+ep FILE` leaves in FILE's security.capability (read back with getxattr).
func TestFileCapabilityMatchesSetcap(t *testing.T) {
	for names, want := range map[string]string{
		"cap_net_bind_service":        "0100000200040000000000000000000000000000",
		"cap_net_admin,cap_sys_admin": "0100000200102000000000000000000000000000",
		"cap_checkpoint_restore":      "0100000200000000000000000001000000000000",
	} {
		got, err := fileCapability(names)
		if err != nil {
			t.Fatalf("fileCapability(%q): %v", names, err)
		}
		if hex.EncodeToString([]byte(got)) != want {
			t.Errorf("fileCapability(%q) = %x, want %s", names, got, want)
		}
	}
	if _, err := fileCapability("cap_net_bind_servce"); err == nil {
		t.Error("a misspelt capability was accepted")
	}
}

// layerHeaders reads back the image tarball at out and returns the tar headers of layer l by name.
func layerHeaders(t *testing.T, out string, l int) map[string]*tar.Header {
	t.Helper()
	tag, _ := name.NewTag("goldimage.local/tool:test")
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) <= l {
		t.Fatalf("layers = %d, %v; want more than %d", len(layers), err, l)
	}
	rc, err := layers[l].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for hdr, err := tr.Next(); err == nil; hdr, err = tr.Next() {
		got[hdr.Name] = hdr
	}
	return got
}

func TestCapOnFile(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"monitor", "probe"} {
		os.WriteFile(filepath.Join(dir, f), []byte(f), 0o755)
	}
	files, err := parseFiles([]string{dir + "/monitor:/usr/bin/virt-launcher-monitor", dir + "/probe:/usr/bin/virt-probe"})
	if err != nil {
		t.Fatal(err)
	}
	if err := applyCaps(files, []string{"/usr/bin/virt-launcher-monitor=cap_net_bind_service"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	if err := WriteTarball(out, "goldimage.local/tool:test", Spec{Files: files, User: "107", Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	hdrs := layerHeaders(t, out, 0)
	mon := hdrs["usr/bin/virt-launcher-monitor"]
	if mon == nil || hex.EncodeToString([]byte(mon.PAXRecords[xattrCapability])) != "0100000200040000000000000000000000000000" {
		t.Errorf("virt-launcher-monitor header = %+v, want security.capability of cap_net_bind_service+ep", mon)
	}
	if mon != nil && (mon.Mode != 0o755 || mon.Size != int64(len("monitor"))) {
		t.Errorf("virt-launcher-monitor mode %o size %d", mon.Mode, mon.Size)
	}
	if probe := hdrs["usr/bin/virt-probe"]; probe == nil || len(probe.PAXRecords) != 0 {
		t.Errorf("virt-probe header = %+v, want no xattrs", probe)
	}
}

func TestCapArgumentErrors(t *testing.T) {
	files := []File{{Source: "x", Dest: "/usr/bin/x"}}
	for arg, want := range map[string]string{
		"/usr/bin/x":                      "want /ABSOLUTE/DEST=",
		"usr/bin/x=cap_kill":              "want /ABSOLUTE/DEST=",
		"/usr/bin/x=":                     "want /ABSOLUTE/DEST=",
		"/usr/bin/x=cap_nope":             "unknown capability",
		"/usr/bin/y=cap_net_bind_service": "no file is placed at /usr/bin/y",
	} {
		if err := applyCaps(files, []string{arg}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("applyCaps(%q) error = %v, want %q", arg, err, want)
		}
	}
}

// A capability set on a file in a --layer tar (GNU tar --xattrs, mmdebstrap) reaches the image unchanged.
func TestBaseLayerKeepsXattrs(t *testing.T) {
	dir := t.TempDir()
	capability, _ := fileCapability("cap_net_bind_service")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "usr/bin/qemu-system-x86_64", Mode: 0o755, Size: 4,
		Uid: 0, Gid: 0, Format: tar.FormatPAX, PAXRecords: map[string]string{xattrCapability: capability}})
	tw.Write([]byte("qemu"))
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "etc/passwd", Mode: 0o644, Size: 4})
	tw.Write([]byte("root"))
	tw.Close()
	base := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(base, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "img.tar")
	if err := WriteTarball(out, "goldimage.local/tool:test", Spec{BaseLayers: []string{base}, User: "0", Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	hdrs := layerHeaders(t, out, 0)
	if q := hdrs["usr/bin/qemu-system-x86_64"]; q == nil || q.PAXRecords[xattrCapability] != capability {
		t.Errorf("qemu header = %+v, want its security.capability kept", q)
	}
	if p := hdrs["etc/passwd"]; p == nil || p.Mode != 0o644 {
		t.Errorf("etc/passwd header = %+v, want mode 644 kept", p)
	}
}
