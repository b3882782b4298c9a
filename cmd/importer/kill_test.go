package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/importer/importertest"
)

// gatedServer serves files with ranges; while gated, any response reaching the second half of a
// file stops there until the client goes away, and reached is signalled.
type gatedServer struct {
	dir     string
	gated   atomic.Bool
	reached chan struct{}
	once    atomic.Bool
}

func (g *gatedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := os.ReadFile(filepath.Join(g.dir, filepath.Base(r.URL.Path)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if !g.gated.Load() {
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
		return
	}
	start := int64(0)
	if rg := r.Header.Get("Range"); strings.HasPrefix(rg, "bytes=") {
		start, _ = strconv.ParseInt(strings.Split(strings.TrimPrefix(rg, "bytes="), "-")[0], 10, 64)
	}
	half := int64(len(body) / 2)
	if start >= half || r.Header.Get("Range") == "" {
		if start < half { // a whole-file stream: send the first half, then stall
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body[:half])
			w.(http.Flusher).Flush()
		}
		if g.once.CompareAndSwap(false, true) {
			close(g.reached)
		}
		<-r.Context().Done()
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// buildImporter compiles the command for the child-process tests.
func buildImporter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "importer")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestKillAndRerun(t *testing.T) {
	bin := buildImporter(t)
	src := t.TempDir()
	raw := importertest.RawDisk(t, filepath.Join(src, "disk.raw"), 64<<20)
	noise := bytes.Repeat([]byte("incompressible? no, but long enough to matter "), 200000)
	f, _ := os.OpenFile(raw, os.O_WRONLY, 0)
	f.WriteAt(noise, 8<<20)
	f.Close()
	importertest.QemuImg(t, "convert", "-O", "qcow2", raw, filepath.Join(src, "disk.qcow2"))
	if out, err := exec.Command("sh", "-c", "gzip -1 -c "+raw+" > "+raw+".gz").CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	want, _ := os.ReadFile(raw)

	for _, name := range []string{"disk.raw.gz", "disk.qcow2"} {
		t.Run(name, func(t *testing.T) {
			gs := &gatedServer{dir: src, reached: make(chan struct{})}
			gs.gated.Store(true)
			srv := httptest.NewServer(gs)
			defer srv.Close()
			dir := t.TempDir()
			dest, log := filepath.Join(dir, "disk.img"), filepath.Join(dir, "termination")
			args := []string{"--source", srv.URL + "/" + name, "--dest", dest, "--termination-log", log, "--output", "json"}

			cmd := exec.Command(bin, args...)
			var out bytes.Buffer
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := untilReached(t, gs.reached, cmd) // the importer is mid-download
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Fatalf("destination exists after the killed run: %v", err)
			}
			if _, err := os.Stat(log); !os.IsNotExist(err) {
				t.Fatalf("termination message written by the killed run: %v", err)
			}
			if strings.Contains(out.String(), "success") {
				t.Fatalf("killed run reported success: %s", out.String())
			}

			gs.gated.Store(false)
			rerun := exec.Command(bin, args...)
			if b, err := rerun.CombinedOutput(); err != nil {
				t.Fatalf("rerun: %v\n%s", err, b)
			}
			msg, err := os.ReadFile(log)
			if err != nil {
				t.Fatal(err)
			}
			term, err := contract.ParseTermination(string(msg))
			if err != nil || term.Result != contract.ResultSuccess {
				t.Fatalf("rerun termination %+v, %v", term, err)
			}
			got, err := os.ReadFile(dest)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("rerun image differs from the source (%v)", err)
			}
			if _, err := os.Stat(dest + ".importing"); !os.IsNotExist(err) {
				t.Errorf("partial file left after the rerun")
			}
		})
	}
}

func TestTerminatedRunReportsRetryableFailure(t *testing.T) {
	bin := buildImporter(t)
	src := t.TempDir()
	importertest.RawDisk(t, filepath.Join(src, "disk.raw"), 8<<20)
	gs := &gatedServer{dir: src, reached: make(chan struct{})}
	gs.gated.Store(true)
	srv := httptest.NewServer(gs)
	defer srv.Close()
	dir := t.TempDir()
	dest, log := filepath.Join(dir, "disk.img"), filepath.Join(dir, "termination")
	cmd := exec.Command(bin, "--source", srv.URL+"/disk.raw", "--dest", dest, "--termination-log", log)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := untilReached(t, gs.reached, cmd)
	cmd.Process.Signal(syscall.SIGTERM)
	err := <-exited
	if code := cmd.ProcessState.ExitCode(); code != contract.ExitRetryable {
		t.Fatalf("exit code %d (%v), want %d", code, err, contract.ExitRetryable)
	}
	msg, _ := os.ReadFile(log)
	term, err := contract.ParseTermination(string(msg))
	if err != nil || term.Result != contract.ResultFailure || !term.Retryable {
		t.Fatalf("termination %+v, %v", term, err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("destination exists after a terminated run")
	}
}

// untilReached waits until the started importer is inside the gated download and returns the
// channel its exit arrives on; an importer that exits first fails the test instead of hanging it.
func untilReached(t *testing.T, reached <-chan struct{}, cmd *exec.Cmd) <-chan error {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-reached:
	case err := <-exited:
		t.Fatalf("importer exited (%v) before it reached the gated download", err)
	}
	return exited
}

// stallingBlobs serves a registry; while gated, layer blobs stop after half their bytes until the
// client goes away, and reached is signalled.
type stallingBlobs struct {
	reg     http.Handler
	gated   atomic.Bool
	reached chan struct{}
	once    atomic.Bool
}

func (s *stallingBlobs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.gated.Load() || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/sha256:") {
		s.reg.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	s.reg.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if len(body) < 64<<10 { // the image config: serve it whole
		w.WriteHeader(rec.Code)
		w.Write(body)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	if s.once.CompareAndSwap(false, true) {
		close(s.reached)
	}
	<-r.Context().Done()
}

func TestKillAndRerunRegistry(t *testing.T) {
	bin := buildImporter(t)
	src := t.TempDir()
	raw := importertest.RawDisk(t, filepath.Join(src, "disk.raw"), 64<<20)
	f, _ := os.OpenFile(raw, os.O_WRONLY, 0)
	for off := int64(0); off < 16<<20; off += 4096 { // data that gzip cannot shrink much
		f.WriteAt([]byte(strconv.FormatInt(off*2654435761%1000003, 36)+strings.Repeat(strconv.FormatInt(off, 7), 40)), 4<<20+off)
	}
	f.Close()
	// A monolithicSparse VMDK, which a stream must spill whole to scratch (qcow2, VHD, VHDX and
	// streamOptimized VMDK layers stream without scratch when their tables come first).
	importertest.QemuImg(t, "convert", "-O", "vmdk", raw, filepath.Join(src, "disk.vmdk"))
	vmdk, _ := os.ReadFile(filepath.Join(src, "disk.vmdk"))
	want, _ := os.ReadFile(raw)
	layer := importertest.LayerTar(t, importertest.Entry{Name: "disk/", Typeflag: '5'}, importertest.Entry{Name: "disk/disk.vmdk", Body: vmdk})
	reg := &stallingBlobs{reg: importertest.RegistryHandler(), reached: make(chan struct{})}
	srv := httptest.NewServer(reg)
	defer srv.Close()
	ref := importertest.Push(t, strings.TrimPrefix(srv.URL, "http://"), "kill/disk:v1", importertest.ContainerDisk(t, layer, false))

	dir, scratch := t.TempDir(), t.TempDir()
	dest, log := filepath.Join(dir, "disk.img"), filepath.Join(dir, "termination")
	args := []string{"--source", "docker://" + ref, "--dest", dest, "--scratch", scratch, "--termination-log", log}
	reg.gated.Store(true)
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // before srv.Close, which waits for the importer's connection, should the wait below fail
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Kill only once the importer is mid-layer and its spill to scratch has begun, however long that
	// takes; the safety net fails only an importer that is stuck.
	spilling := func() bool {
		left, _ := filepath.Glob(filepath.Join(scratch, "*"))
		return len(left) > 0
	}
	waitUntil(t, "the importer to start spilling the layer to scratch", exited, &out, func() bool {
		select {
		case <-reg.reached:
			return spilling()
		default:
			return false
		}
	})
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	for _, p := range []string{dest, log} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s exists after the killed run: %v", p, err)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(scratch, "*")); len(left) == 0 {
		t.Fatal("the killed run left no scratch file; the test no longer checks their cleanup")
	}

	reg.gated.Store(false)
	if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, b)
	}
	msg, _ := os.ReadFile(log)
	if term, err := contract.ParseTermination(string(msg)); err != nil || term.Result != contract.ResultSuccess || !strings.HasPrefix(term.Digest, "sha256:") {
		t.Fatalf("rerun termination %+v, %v", term, err)
	}
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("rerun image differs from the source (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(scratch, "*")); len(left) != 0 {
		t.Errorf("scratch files of the killed run survive the rerun: %v", left)
	}
}

// waitUntil polls cond until it holds. It fails the test when the process behind exited ends first
// (quoting its output), or after a safety net of two minutes that only a stuck process reaches.
func waitUntil(t *testing.T, what string, exited <-chan error, out *bytes.Buffer, cond func() bool) {
	t.Helper()
	safety := time.NewTimer(2 * time.Minute)
	defer safety.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case err := <-exited:
			t.Fatalf("process ended (%v) before %s:\n%s", err, what, out)
		case <-safety.C:
			t.Fatalf("stuck: still waiting for %s", what)
		case <-tick.C:
		}
	}
}
