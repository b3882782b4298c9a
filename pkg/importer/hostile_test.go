package importer

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/importer/importertest"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// hostileFiles writes the bad inputs of the hostile table into dir.
func hostileFiles(t *testing.T, f fixtures, dir string) {
	t.Helper()
	p := func(name string) string { return filepath.Join(dir, name) }
	importertest.QemuImg(t, "create", "-f", "qcow2", "-b", f.path("disk.qcow2"), "-F", "qcow2", p("overlay.qcow2"))
	importertest.QemuImg(t, "create", "-f", "qcow2", "--object", "secret,id=s0,data=secret", "-o",
		"encrypt.format=luks,encrypt.key-secret=s0", p("encrypted.qcow2"), "1M")
	importertest.QemuImg(t, "create", "-f", "qcow2", p("huge.qcow2"), "100T")
	qcow := f.read(t, "disk.qcow2")
	gz := f.read(t, "disk.raw.gz")
	corrupt := append([]byte(nil), qcow[:512]...)
	copy(corrupt[20:], bytes.Repeat([]byte{0xff}, 80)) // L1/refcount offsets and sizes out of range
	var double bytes.Buffer
	zw := gzip.NewWriter(&double)
	zw.Write(gz[:4096])
	zw.Close()
	write := map[string][]byte{
		"truncated.qcow2.gz": gzipped(qcow[:len(qcow)/3]),
		"overlap.qcow2.gz":   gzipped(pointL2(t, qcow, func(first uint64) uint64 { return first })),
		"beyond.qcow2.gz":    gzipped(pointL2(t, qcow, func(uint64) uint64 { return 1<<40 | 1<<63 })),
		"truncated.qcow2":    qcow[:len(qcow)/3],
		"truncated.raw.gz":   gz[:len(gz)/2],
		"corrupt.qcow2":      corrupt,
		"empty.img":          nil,
		"double.gz":          double.Bytes(),
		"descriptor.vmdk":    []byte("# Disk DescriptorFile\nversion=1\nRW 2048 FLAT \"other-flat.vmdk\" 0\n"),
		"not-a-tar.oci":      bytes.Repeat([]byte("not a tar archive "), 100),
	}
	for name, b := range write {
		if err := os.WriteFile(p(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func gzipped(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

// pointL2 returns a copy of the uncompressed qcow2 img whose second allocated L2 entry is replaced by
// entry(the first allocated entry).
func pointL2(t *testing.T, img []byte, entry func(first uint64) uint64) []byte {
	t.Helper()
	img = append([]byte(nil), img...)
	be := binary.BigEndian
	l2 := be.Uint64(img[be.Uint64(img[40:]):]) & 0x00fffffffffffe00
	var first uint64
	for i := l2; i < l2+uint64(1)<<be.Uint32(img[20:]); i += 8 {
		switch e := be.Uint64(img[i:]); {
		case e == 0:
		case first == 0:
			first = e
		default:
			be.PutUint64(img[i:], entry(first))
			return img
		}
	}
	t.Fatal("the qcow2 fixture has fewer than two allocated clusters")
	return nil
}

func TestRunHostileInputs(t *testing.T) {
	f := images(t)
	bad := t.TempDir()
	hostileFiles(t, f, bad)
	srv := httptest.NewServer(http.FileServer(http.Dir(f.dir)))
	defer srv.Close()
	authSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer authSrv.Close()
	brokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer brokenSrv.Close()
	cutSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := f.read(t, "disk.raw.gz")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			conn.Close()
		}
	}))
	defer cutSrv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	reg := importertest.Registry(t)
	push := func(name string, entries ...importertest.Entry) string {
		return "docker://" + importertest.Push(t, reg, name+":v1", importertest.ContainerDisk(t, importertest.LayerTar(t, entries...), false))
	}
	small := importertest.Entry{Name: "disk/disk.img", Body: []byte("tiny")}
	authReg := registrytest.New(t)
	authReg.PushDisk(t, "auth/disk:v1", []byte("tiny"))
	tlsHost, _, tlsRT := importertest.RegistryTLS(t)
	tlsRef := "docker://" + importertest.Push(t, tlsHost, "tls/disk:v1", importertest.ContainerDisk(t, importertest.LayerTar(t, small), false), remote.WithTransport(tlsRT))
	s3Host, s3CA := startS3(t, map[string][]byte{"disk.raw": f.read(t, "disk.raw")[:4096]})
	fileURL := func(name string) string { return "file://" + filepath.Join(bad, name) }

	tests := []struct {
		name    string
		cfg     Config
		wantMsg string
		exit    int
	}{
		{"bad URL scheme", Config{Source: "ftp://example.com/disk.img"}, "unsupported source scheme", contract.ExitFatal},
		{"no scheme", Config{Source: "disk.img"}, "has no scheme", contract.ExitFatal},
		{"missing file", Config{Source: "file:///nonexistent/disk.img"}, "no such file", contract.ExitFatal},
		{"http 404", Config{Source: srv.URL + "/missing.qcow2"}, "not found (HTTP 404)", contract.ExitFatal},
		{"http 401", Config{Source: authSrv.URL + "/disk.img"}, "access denied", contract.ExitFatal},
		{"http 502 retried then given up", Config{Source: brokenSrv.URL + "/disk.img"}, "HTTP 502", contract.ExitRetryable},
		{"gzip stream cut, no ranges to resume", Config{Source: cutSrv.URL + "/disk.raw.gz"}, "unexpected EOF", contract.ExitRetryable},
		{"connection refused", Config{Source: closed.URL + "/disk.img"}, "connection refused", contract.ExitRetryable},
		{"checksum mismatch streamed", Config{Source: srv.URL + "/disk.raw.gz", Checksum: sha([]byte("other"))}, "checksum mismatch", contract.ExitFatal},
		{"checksum mismatch in place", Config{Source: srv.URL + "/disk.qcow2", Checksum: sha([]byte("other"))}, "checksum mismatch", contract.ExitFatal},
		{"malformed checksum", Config{Source: srv.URL + "/disk.qcow2", Checksum: "md5:abc"}, "want sha256", contract.ExitUsage},
		{"truncated qcow2", Config{Source: fileURL("truncated.qcow2")}, "qcow2", contract.ExitFatal},
		{"truncated gzip", Config{Source: fileURL("truncated.raw.gz")}, "unexpected EOF", contract.ExitFatal},
		{"corrupt qcow2 header", Config{Source: fileURL("corrupt.qcow2")}, "qcow2", contract.ExitFatal},
		{"backing file", Config{Source: fileURL("overlay.qcow2")}, "backing file", contract.ExitFatal},
		{"encrypted qcow2", Config{Source: fileURL("encrypted.qcow2")}, "encrypt", contract.ExitFatal},
		{"too large for requested size", Config{Source: srv.URL + "/disk.qcow2", Size: 1 << 20}, "needs at least 64.0 MiB", contract.ExitFatal},
		{"raw stream too large for requested size", Config{Source: srv.URL + "/disk.raw.zst", Size: 1 << 20}, "needs at least", contract.ExitFatal},
		{"100 TiB virtual size", Config{Source: fileURL("huge.qcow2")}, "image too large", contract.ExitFatal},
		{"empty source", Config{Source: fileURL("empty.img")}, "source is empty", contract.ExitFatal},
		{"gzip inside gzip", Config{Source: fileURL("double.gz")}, "holds another gzip", contract.ExitFatal},
		{"VMDK descriptor", Config{Source: fileURL("descriptor.vmdk")}, "extent", contract.ExitFatal},
		{"truncated qcow2 stream", Config{Source: fileURL("truncated.qcow2.gz"), ScratchDir: "-"}, "stream ends", contract.ExitFatal},
		{"qcow2 stream with overlapping clusters", Config{Source: fileURL("overlap.qcow2.gz"), ScratchDir: "-"}, "overlapping clusters", contract.ExitFatal},
		{"qcow2 stream cluster past its end", Config{Source: fileURL("beyond.qcow2.gz"), ScratchDir: "-"}, "past the end", contract.ExitFatal},
		{"registry image missing", Config{Source: "docker://" + reg + "/nothing:here"}, "not found", contract.ExitFatal},
		{"containerDisk without disk/", Config{Source: push("nodisk", importertest.Entry{Name: "etc/os-release", Body: []byte("x")})}, "no regular file under /disk/", contract.ExitFatal},
		{"containerDisk path traversal", Config{Source: push("traversal", importertest.Entry{Name: "../../etc/passwd", Body: []byte("x")}, small)}, "escapes the image root", contract.ExitFatal},
		{"containerDisk two disk files", Config{Source: push("two", small, importertest.Entry{Name: "disk/other.img", Body: []byte("x")})}, "several files under /disk/", contract.ExitFatal},
		{"containerDisk symlink disk", Config{Source: push("symlink", importertest.Entry{Name: "disk/disk.img", Typeflag: '2', Link: "/etc/shadow"})}, "symlink", contract.ExitFatal},
		{"containerDisk hardlink disk", Config{Source: push("hardlink", importertest.Entry{Name: "disk/disk.img", Typeflag: '1', Link: "etc/shadow"})}, "hardlink", contract.ExitFatal},
		{"registry wrong password", Config{Source: "docker://" + authReg.Ref("auth/disk:v1"), User: authReg.Username, Password: "wrong-password"}, "access denied", contract.ExitFatal},
		{"registry without credentials", Config{Source: "docker://" + authReg.Ref("auth/disk:v1")}, "access denied", contract.ExitFatal},
		{"registry untrusted certificate", Config{Source: tlsRef}, "certificate", contract.ExitRetryable},
		{"bad image reference", Config{Source: "docker://" + reg + "/UPPER:case"}, "parse image reference", contract.ExitFatal},
		{"oci-archive missing", Config{Source: "oci-archive:/nonexistent.tar"}, "no such file", contract.ExitFatal},
		{"oci-archive not a tar", Config{Source: "oci-archive:" + filepath.Join(bad, "not-a-tar.oci")}, "OCI archive", contract.ExitFatal},
		{"s3 missing object", Config{Source: "s3://" + s3Host + "/images/other.raw", CertDir: s3CA}, "not found", contract.ExitFatal},
		{"s3 untrusted certificate", Config{Source: "s3://" + s3Host + "/images/disk.raw"}, "certificate", contract.ExitRetryable},
		{"bad header flag", Config{Source: srv.URL + "/disk.qcow2", Headers: []string{"no colon"}}, "Name: value", contract.ExitUsage},
		{"bad platform", Config{Source: "docker://" + reg + "/nothing:here", Platform: "amd64"}, "want os/arch", contract.ExitUsage},
		{"blank without size", Config{Source: "blank:"}, "needs --size", contract.ExitUsage},
		{"destination is a directory", Config{Source: "blank:", Size: 1 << 20, Dest: "DIR"}, "is a directory", contract.ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tt.cfg
			switch cfg.Dest {
			case "":
				cfg.Dest = filepath.Join(dir, "disk.img")
			case "DIR":
				cfg.Dest = dir
			}
			switch cfg.ScratchDir {
			case "":
				cfg.ScratchDir = t.TempDir()
			case "-":
				cfg.ScratchDir = ""
			}
			cfg.SourceOpts = fast()
			term, err := Run(context.Background(), cfg)
			if err == nil {
				t.Fatalf("Run succeeded: %+v", term)
			}
			if cfg.Password != "" && strings.Contains(term.Message, cfg.Password) {
				t.Errorf("message %q shows the password", term.Message)
			}
			if !strings.Contains(term.Message, tt.wantMsg) || strings.Contains(term.Message, "\n") {
				t.Errorf("message %q, want one line containing %q", term.Message, tt.wantMsg)
			}
			if got := ExitCode(err); got != tt.exit {
				t.Errorf("exit code %d, want %d (error: %v)", got, tt.exit, err)
			}
			if term.Result != contract.ResultFailure || term.Retryable != (tt.exit == contract.ExitRetryable) {
				t.Errorf("termination %+v", term)
			}
			if cfg.Dest != dir {
				for _, p := range []string{cfg.Dest, cfg.Dest + partSuffix} {
					if _, err := os.Stat(p); !os.IsNotExist(err) {
						t.Errorf("%s exists after a failed import", p)
					}
				}
			}
		})
	}
}
