package importer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/importer/importertest"
	"github.com/goldimage/goldimage/pkg/importer/source"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const virtualSize = 64 << 20

// fixtures are test images made once per test binary: a raw disk and the same disk in other forms.
type fixtures struct {
	dir string
	raw []byte // the expected virtual contents
}

var (
	fixOnce sync.Once
	fix     fixtures
)

// images builds the fixtures with qemu-img, gzip, xz and zstd.
func images(t *testing.T) fixtures {
	t.Helper()
	fixOnce.Do(func() {
		dir, err := os.MkdirTemp("", "importer-test-")
		if err != nil {
			t.Fatal(err)
		}
		raw := importertest.RawDisk(t, filepath.Join(dir, "disk.raw"), virtualSize)
		importertest.QemuImg(t, "convert", "-O", "qcow2", raw, filepath.Join(dir, "disk.qcow2"))
		importertest.QemuImg(t, "convert", "-c", "-O", "qcow2", raw, filepath.Join(dir, "disk-compressed.qcow2"))
		importertest.QemuImg(t, "convert", "-O", "vhdx", raw, filepath.Join(dir, "disk.vhdx"))
		importertest.QemuImg(t, "convert", "-O", "vpc", "-o", "force_size=on", raw, filepath.Join(dir, "disk.vhd"))
		for _, c := range []struct{ in, out, cmd string }{
			{"disk.raw", "disk.raw.gz", "gzip -c"}, {"disk.raw", "disk.raw.zst", "zstd -q -c"},
			{"disk.qcow2", "disk.qcow2.gz", "gzip -c"}, {"disk.qcow2", "disk.qcow2.xz", "xz -c"},
			{"disk.vhdx", "disk.vhdx.gz", "gzip -c"}, {"disk.vhd", "disk.vhd.zst", "zstd -q -c"},
		} {
			sh := c.cmd + " " + filepath.Join(dir, c.in) + " > " + filepath.Join(dir, c.out)
			if out, err := exec.Command("sh", "-c", sh).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v %s", sh, err, out)
			}
		}
		b, err := os.ReadFile(raw)
		if err != nil {
			t.Fatal(err)
		}
		fix = fixtures{dir: dir, raw: b}
	})
	if fix.raw == nil {
		t.Fatal("fixtures failed earlier")
	}
	return fix
}

func (f fixtures) path(name string) string { return filepath.Join(f.dir, name) }

func (f fixtures) read(t *testing.T, name string) []byte {
	b, err := os.ReadFile(f.path(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// dropOnce serves files from dir with ranges; the first GET of each path is cut halfway through.
type dropOnce struct {
	files    http.Handler
	seen     sync.Map
	requests atomic.Int32
}

func newDropOnce(dir string) *dropOnce { return &dropOnce{files: http.FileServer(http.Dir(dir))} }

func (d *dropOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.requests.Add(1)
	if _, dropped := d.seen.LoadOrStore(r.URL.Path, true); dropped || r.Header.Get("Range") == "bytes=0-0" {
		d.seen.Store(r.URL.Path, true)
		d.files.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	d.files.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
	w.(http.Flusher).Flush()
	if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
		conn.Close()
	}
}

// noRanges serves files without range support.
func noRanges(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	})
}

func fast() []source.Option { return []source.Option{source.WithRetries(3, time.Millisecond)} }

func TestRunSources(t *testing.T) {
	f := images(t)
	httpSrv := httptest.NewServer(newDropOnce(f.dir))
	defer httpSrv.Close()
	plainSrv := httptest.NewServer(noRanges(f.dir))
	defer plainSrv.Close()
	s3Host, s3CA := startS3(t, map[string][]byte{"disk.qcow2": f.read(t, "disk.qcow2"), "disk.raw.gz": f.read(t, "disk.raw.gz")})
	reg := importertest.Registry(t)
	qcowLayer := importertest.LayerTar(t, importertest.Entry{Name: "disk/", Typeflag: '5'}, importertest.Entry{Name: "disk/fedora.qcow2", Body: f.read(t, "disk.qcow2")})
	labels := []string{"KUBEVIRT_IO_OS=fedora", "PATH=/bin"}
	dockerRef := importertest.Push(t, reg, "containerdisks/fedora:41", importertest.ContainerDisk(t, qcowLayer, false, labels...))
	ociGz := importertest.OCIArchive(t, importertest.ContainerDisk(t, qcowLayer, false, labels...))
	ociPlain := importertest.OCIArchive(t, importertest.ContainerDisk(t, qcowLayer, true, labels...))
	ociDir := importertest.OCILayout(t, importertest.ContainerDisk(t, qcowLayer, false, labels...))
	tlsHost, tlsCA, tlsRT := importertest.RegistryTLS(t)
	tlsRef := "docker://" + importertest.Push(t, tlsHost, "tls/fedora:41", importertest.ContainerDisk(t, qcowLayer, false, labels...), remote.WithTransport(tlsRT))
	authReg := registrytest.New(t) // bearer tokens handed out for basic credentials, as Docker Hub and quay do
	authDigest := authReg.PushDisk(t, "auth/fedora:41", f.read(t, "disk.qcow2"))

	tests := []struct {
		name       string
		cfg        Config
		wantFormat string
		wantDigest string
		wantLabels bool
		noScratch  bool // no scratch directory: qcow2, VHD and VHDX streams must not need one
	}{
		{name: "file raw", cfg: Config{Source: "file://" + f.path("disk.raw")}, wantFormat: "raw"},
		{name: "file raw with checksum", cfg: Config{Source: "file://" + f.path("disk.raw"), Checksum: sha(f.raw)}, wantFormat: "raw", wantDigest: sha(f.raw)},
		{name: "file qcow2 in place", cfg: Config{Source: "file://" + f.path("disk.qcow2")}, wantFormat: "qcow2"},
		{name: "file compressed-cluster qcow2", cfg: Config{Source: "file://" + f.path("disk-compressed.qcow2")}, wantFormat: "qcow2"},
		{name: "file qcow2.xz streamed", cfg: Config{Source: "file://" + f.path("disk.qcow2.xz")}, wantFormat: "qcow2"},
		{name: "file qcow2.xz streamed without scratch", cfg: Config{Source: "file://" + f.path("disk.qcow2.xz")}, wantFormat: "qcow2", noScratch: true},
		{name: "http qcow2 in place, dropped once", cfg: Config{Source: httpSrv.URL + "/disk.qcow2"}, wantFormat: "qcow2"},
		{name: "http qcow2 with checksum", cfg: Config{Source: httpSrv.URL + "/disk.qcow2", Checksum: sha(f.read(t, "disk.qcow2"))}, wantFormat: "qcow2", wantDigest: sha(f.read(t, "disk.qcow2"))},
		{name: "http raw.gz resumed, checksum", cfg: Config{Source: httpSrv.URL + "/disk.raw.gz", Checksum: sha(f.read(t, "disk.raw.gz"))}, wantFormat: "raw", wantDigest: sha(f.read(t, "disk.raw.gz"))},
		{name: "http raw.zst", cfg: Config{Source: httpSrv.URL + "/disk.raw.zst"}, wantFormat: "raw"},
		{name: "http qcow2.gz streamed", cfg: Config{Source: httpSrv.URL + "/disk.qcow2.gz"}, wantFormat: "qcow2"},
		{name: "file vhdx.gz streamed without scratch", cfg: Config{Source: "file://" + f.path("disk.vhdx.gz")}, wantFormat: "vhdx", noScratch: true},
		{name: "http vhd.zst streamed without scratch", cfg: Config{Source: httpSrv.URL + "/disk.vhd.zst"}, wantFormat: "vhd", noScratch: true},
		{name: "http without ranges, qcow2 streamed without scratch", cfg: Config{Source: plainSrv.URL + "/disk.qcow2"}, wantFormat: "qcow2", noScratch: true},
		{name: "s3 qcow2 in place", cfg: Config{Source: "s3://" + s3Host + "/images/disk.qcow2", CertDir: s3CA, User: "k", Password: "s"}, wantFormat: "qcow2"},
		{name: "s3 raw.gz", cfg: Config{Source: "s3://" + s3Host + "/images/disk.raw.gz", CertDir: s3CA}, wantFormat: "raw"},
		{name: "registry containerDisk", cfg: Config{Source: "docker://" + dockerRef}, wantFormat: "qcow2", wantLabels: true},
		{name: "registry containerDisk without scratch", cfg: Config{Source: "docker://" + dockerRef}, wantFormat: "qcow2", wantLabels: true, noScratch: true},
		{name: "oci-archive gzip layer", cfg: Config{Source: "oci-archive:" + ociGz}, wantFormat: "qcow2", wantLabels: true},
		{name: "oci-archive plain layer", cfg: Config{Source: "oci-archive:" + ociPlain}, wantFormat: "qcow2", wantLabels: true},
		{name: "oci layout directory", cfg: Config{Source: "oci:" + ociDir}, wantFormat: "qcow2", wantLabels: true},
		{name: "registry over TLS, CA directory", cfg: Config{Source: tlsRef, CertDir: tlsCA}, wantFormat: "qcow2", wantLabels: true},
		{name: "registry over TLS, insecure", cfg: Config{Source: tlsRef, InsecureTLS: true}, wantFormat: "qcow2", wantLabels: true},
		{name: "registry with credentials", cfg: Config{Source: "docker://" + authReg.Ref("auth/fedora:41"), User: authReg.Username, Password: authReg.Password},
			wantFormat: "qcow2", wantDigest: authDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "disk.img")
			cfg := tt.cfg
			cfg.Dest, cfg.ScratchDir, cfg.SourceOpts = dest, t.TempDir(), fast()
			if tt.noScratch {
				cfg.ScratchDir = ""
			}
			var last atomic.Int64
			cfg.Progress = func(done, total int64) {
				for old := last.Load(); done > old && !last.CompareAndSwap(old, done); old = last.Load() {
				}
			}
			term, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatalf("Run: %v (termination %+v)", err, term)
			}
			if term.Result != contract.ResultSuccess || term.VirtualSize != virtualSize || term.Format != tt.wantFormat {
				t.Errorf("termination %+v, want success, %d bytes, %s", term, virtualSize, tt.wantFormat)
			}
			if tt.wantDigest != "" && term.Digest != tt.wantDigest {
				t.Errorf("digest %s, want %s", term.Digest, tt.wantDigest)
			}
			if tt.wantLabels != (term.Labels["KUBEVIRT_IO_OS"] == "fedora") || term.Labels["PATH"] != "" {
				t.Errorf("labels %v", term.Labels)
			}
			if last.Load() != virtualSize {
				t.Errorf("progress reached %d, want %d", last.Load(), virtualSize)
			}
			assertImage(t, dest, f.raw)
			if _, err := os.Stat(dest + partSuffix); !os.IsNotExist(err) {
				t.Errorf("partial file left behind: %v", err)
			}
			if entries, _ := os.ReadDir(cfg.ScratchDir); cfg.ScratchDir != "" && len(entries) != 0 {
				t.Errorf("scratch files left behind: %v", entries)
			}
			if entries, _ := os.ReadDir(filepath.Dir(dest)); len(entries) != 1 {
				t.Errorf("files beside the destination: %v", entries)
			}
		})
	}
}

// assertImage compares the destination with the expected raw contents (made by qemu-img).
func assertImage(t *testing.T, dest string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("destination has %d bytes, want %d", len(got), len(want))
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("destination differs from qemu-img's raw at byte %d", i)
			}
		}
	}
}

func TestRunBlankResizeAndPreallocate(t *testing.T) {
	f := images(t)
	dir := t.TempDir()
	term, err := Run(context.Background(), Config{Source: "blank:", Dest: filepath.Join(dir, "blank.img"), Size: 8 << 20})
	if err != nil || term.VirtualSize != 8<<20 {
		t.Fatalf("blank: %v %+v", err, term)
	}
	assertImage(t, filepath.Join(dir, "blank.img"), make([]byte, 8<<20))

	grown := filepath.Join(dir, "grown.img")
	term, err = Run(context.Background(), Config{Source: "file://" + f.path("disk.qcow2"), Dest: grown, Size: 2 * virtualSize, Preallocate: true})
	if err != nil || term.VirtualSize != 2*virtualSize {
		t.Fatalf("resize: %v %+v", err, term)
	}
	assertImage(t, grown, append(append([]byte(nil), f.raw...), make([]byte, virtualSize)...))
	var st syscallStat
	if blocks := allocated(t, grown, &st); blocks < 2*virtualSize {
		t.Errorf("preallocated image has %d bytes allocated, want %d", blocks, 2*virtualSize)
	}
}

func TestRunPicksPlatformFromIndex(t *testing.T) {
	reg := importertest.Registry(t)
	disks := map[string][]byte{"amd64": bytes.Repeat([]byte("amd64 disk "), 100), "arm64": bytes.Repeat([]byte("arm64 disk "), 100)}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	digests := map[string]string{}
	for arch, disk := range disks {
		img := importertest.ContainerDisk(t, importertest.LayerTar(t, importertest.Entry{Name: "disk/disk.img", Body: disk}), false)
		cfg, _ := img.ConfigFile()
		cfg = cfg.DeepCopy()
		cfg.Architecture = arch
		img, err := mutate.ConfigFile(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[arch] = d.String()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	ref, _ := name.ParseReference(reg + "/multi/disk:v1")
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "disk.img")
			term, err := Run(context.Background(), Config{Source: "docker://" + ref.String(), Dest: dest, Platform: "linux/" + arch, SourceOpts: fast()})
			if err != nil {
				t.Fatal(err)
			}
			if term.Digest != digests[arch] {
				t.Errorf("digest %s, want the %s manifest %s", term.Digest, arch, digests[arch])
			}
			got, _ := os.ReadFile(dest)
			if !bytes.Equal(got, disks[arch]) {
				t.Errorf("imported %.20q..., want the %s disk", got, arch)
			}
		})
	}
	_, err := Run(context.Background(), Config{Source: "docker://" + ref.String(), Dest: filepath.Join(t.TempDir(), "d"), Platform: "linux/s390x", SourceOpts: fast()})
	if err == nil || !IsFatal(err) || !strings.Contains(err.Error(), "linux/s390x") {
		t.Errorf("missing platform: %v, want a fatal error naming linux/s390x", err)
	}
}
