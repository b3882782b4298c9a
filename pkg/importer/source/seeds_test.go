package source

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/goldimage/goldimage/pkg/importer/importertest"
)

// TestWriteSeeds regenerates the fuzz seeds in testdata when GOLDIMAGE_WRITE_SEEDS=1.
func TestWriteSeeds(t *testing.T) {
	if os.Getenv("GOLDIMAGE_WRITE_SEEDS") != "1" {
		t.Skip("set GOLDIMAGE_WRITE_SEEDS=1 to rewrite testdata seeds")
	}
	disk := importertest.Entry{Name: "disk/disk.img", Body: []byte("a tiny raw disk")}
	layer := importertest.LayerTar(t, importertest.Entry{Name: "disk/", Typeflag: '5'}, disk)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	seeds := map[string][]byte{
		"layers/plain.tar":     layer,
		"layers/gzip.tar.gz":   gz.Bytes(),
		"layers/traversal.tar": importertest.LayerTar(t, importertest.Entry{Name: "../x", Body: []byte("x")}, disk),
		"layers/symlink.tar":   importertest.LayerTar(t, importertest.Entry{Name: "disk/d", Typeflag: '2', Link: "/etc"}),
	}
	arch, err := os.ReadFile(importertest.OCIArchive(t, importertest.ContainerDisk(t, layer, true, "KUBEVIRT_IO_A=b")))
	if err != nil {
		t.Fatal(err)
	}
	seeds["archives/plain.tar"] = arch
	for name, b := range seeds {
		p := filepath.Join("testdata", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
