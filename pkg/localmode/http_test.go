package localmode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/cron"
)

var zeroTime time.Time // ServeContent sends no Last-Modified for it

// diskServer serves /disk.img with an ETag derived from its content (none when noETag) and /SHA256SUMS.
type diskServer struct {
	mu       sync.Mutex
	disk     []byte
	noETag   bool
	sumsLie  bool // SHA256SUMS lists a wrong sum
	bodyGETs int
}

func (s *diskServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := sha256.Sum256(s.disk)
	if s.sumsLie {
		sum[0] ^= 1
	}
	if r.URL.Path == "/SHA256SUMS" {
		fmt.Fprintf(w, "%s *disk.img\n", hex.EncodeToString(sum[:]))
		return
	}
	if !s.noETag {
		etag := `"` + hex.EncodeToString(sum[:6]) + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if r.Method == http.MethodGet {
		s.bodyGETs++
	}
	http.ServeContent(w, r, "disk.img", zeroTime, bytes.NewReader(s.disk))
}

func (s *diskServer) set(disk []byte, lie bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disk, s.sumsLie = disk, lie
}

func (s *diskServer) gets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodyGETs
}

// TestRunnerHTTP imports an http(s) file with the real importer, verified against its SHA256SUMS: an unchanged
// file is not downloaded again, a replaced one is imported and the old import collected, a file whose checksum
// does not match leaves current alone, and a server without validators is an error naming the problem.
func TestRunnerHTTP(t *testing.T) {
	srv := &diskServer{}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	manifests := t.TempDir()
	doc := "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: debian-cron, annotations: {goldimage.io/checksum-url: \"" +
		hs.URL + "/SHA256SUMS\"}}\nspec:\n  schedule: \"@daily\"\n  managedDataSource: debian\n  importsToKeep: 1\n" +
		"  template: {spec: {source: {http: {url: \"" + hs.URL + "/disk.img\"}}}}\n"
	if err := os.WriteFile(filepath.Join(manifests, "debian.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	crons, err := LoadCrons(manifests)
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	dir := filepath.Join(store, "default", "debian")
	r := New(store, cron.NewPoller(cron.RegistryResolvers(t.TempDir())), realImporter(t.TempDir()), WithForce(true))
	ctx := context.Background()
	current := func() string { link, _ := os.Readlink(filepath.Join(dir, "current")); return link }

	var first string
	for i, disk := range [][]byte{randomDisk(t), nil, randomDisk(t)} {
		if disk != nil {
			srv.set(disk, false)
		}
		gets := srv.gets()
		if _, err := r.Round(ctx, crons); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "current"))
		if err != nil || !bytes.Equal(got, srv.disk) {
			t.Fatalf("round %d: current holds %d bytes (err %v), want the served file", i, len(got), err)
		}
		if disk == nil && (srv.gets() != gets || current() != first) {
			t.Errorf("round %d: unchanged file downloaded %d times, current %s (was %s)", i, srv.gets()-gets, current(), first)
		}
		if i == 0 {
			first = current()
		}
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) || current() == first {
		t.Errorf("first import %s not collected after the replacement (importsToKeep 1): %v", first, err)
	}

	good := current()
	srv.set(randomDisk(t), true)
	if _, err := r.Round(ctx, crons); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("round with a wrong SHA256SUMS: %v, want a checksum failure", err)
	}
	if current() != good {
		t.Errorf("current moved to %s after a failed checksum", current())
	}

	srv.noETag = true
	srv.set(randomDisk(t), false)
	if _, err := r.Round(ctx, crons); err == nil || !strings.Contains(err.Error(), "neither ETag nor Last-Modified") {
		t.Errorf("round against a server without validators: %v, want the problem named", err)
	}
	if current() != good {
		t.Errorf("current moved to %s without a validator", current())
	}
}
