package importer

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/clone"
)

// cloneServer serves handler over real TLS with creds and returns the clone URL.
func cloneServer(t *testing.T, creds clone.Credentials, handler http.Handler) string {
	t.Helper()
	cfg, err := clone.TLSConfig(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return clone.Scheme + "://" + strings.TrimPrefix(srv.URL, "https://") + clone.Path
}

// cloneCreds makes credentials and writes the certificate into a directory as the Secret volume would.
func cloneCreds(t *testing.T) (clone.Credentials, string) {
	t.Helper()
	creds, err := clone.NewCredentials(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, clone.KeyCert), creds.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return creds, dir
}

// truncating serves the first n bytes of a valid stream of disk, then drops the connection.
func truncating(disk []byte, n int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var buf bytes.Buffer
		fw, _ := clone.NewWriter(&buf, int64(len(disk)))
		for off := 0; off < len(disk); off += clone.MaxData {
			fw.Data(disk[off:min(off+clone.MaxData, len(disk))])
		}
		fw.End()
		w.Write(buf.Bytes()[:n])
	})
}

func TestClone(t *testing.T) {
	src := filepath.Join(t.TempDir(), "golden.img")
	disk := make([]byte, 6<<20)
	rand.Read(disk[:1<<20])
	copy(disk[5<<20:], "end of disk")
	if err := os.WriteFile(src, disk, 0o644); err != nil {
		t.Fatal(err)
	}
	creds, certDir := cloneCreds(t)
	other, otherDir := cloneCreds(t)
	good := cloneServer(t, creds, clone.NewServer(src, creds.Token))
	for _, tc := range []struct {
		name     string
		url      string
		token    string
		certDir  string
		size     int64
		wantErr  string // "" for success
		wantCode int
	}{
		{"copies sparse", good, creds.Token, certDir, 0, "", 0},
		{"grows to the requested size", good, creds.Token, certDir, 8 << 20, "", 0},
		{"bad token", good, other.Token, certDir, 0, "refused the token", 2},
		{"bad certificate", good, creds.Token, otherDir, 0, "certificate not trusted", 2},
		{"truncated stream", cloneServer(t, creds, truncating(disk, 3<<20)), creds.Token, certDir, 0, "clone stream truncated", 1},
		{"target too small", good, creds.Token, certDir, 4 << 20, "needs at least 6.0 MiB", 2},
		{"no token", good, "", certDir, 0, "needs the clone certificate", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "disk.img")
			var last, total int64
			term, err := Run(context.Background(), Config{Source: tc.url, Dest: dest, Size: tc.size, CertDir: tc.certDir,
				Password: tc.token, Progress: func(done, all int64) { last, total = done, all }})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(term.Message, tc.wantErr) || ExitCode(err) != tc.wantCode {
					t.Fatalf("Run = %v (message %q, exit %d), want %q with exit %d", err, term.Message, ExitCode(err), tc.wantErr, tc.wantCode)
				}
				if _, err := os.Stat(dest); err == nil {
					t.Error("a failed clone left the destination in place")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(dest)
			if err != nil {
				t.Fatal(err)
			}
			want := append(disk, make([]byte, max(0, tc.size-int64(len(disk))))...)
			if !bytes.Equal(got, want) || term.VirtualSize != int64(len(want)) {
				t.Fatalf("clone has %d bytes (virtual %d), differing from the %d-byte source", len(got), term.VirtualSize, len(want))
			}
			if last != total || total != int64(len(disk)) {
				t.Errorf("last progress %d of %d, want %d of %d", last, total, len(disk), len(disk))
			}
			var st syscall.Stat_t
			if used := allocated(t, dest, &st); used > 2<<20 {
				t.Errorf("clone allocates %d bytes; the 4 MiB of zeros should stay holes", used)
			}
		})
	}
}
