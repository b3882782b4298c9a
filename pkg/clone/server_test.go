package clone

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sparseDisk writes a file with data, a zero-filled chunk and a hole, and returns its path and content.
func sparseDisk(t *testing.T) (string, []byte) {
	t.Helper()
	want := make([]byte, 5*MaxData+123)
	if _, err := rand.Read(want[:MaxData]); err != nil {
		t.Fatal(err)
	}
	copy(want[4*MaxData:], "tail data")
	path := filepath.Join(t.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Chunk 1 is written zeros (detected by content); chunks 2-3 are a hole (SEEK_HOLE).
	for _, r := range [][2]int64{{0, 2 * MaxData}, {4 * MaxData, int64(len(want))}} {
		if _, err := f.WriteAt(want[r[0]:r[1]], r[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(int64(len(want))); err != nil {
		t.Fatal(err)
	}
	return path, want
}

// startServer serves path over real TLS with fresh credentials and returns the clone URL and credentials.
func startServer(t testing.TB, path string, opts ...ServerOption) (string, Credentials) {
	t.Helper()
	creds, err := NewCredentials(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := TLSConfig(creds.CertPEM, creds.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(NewServer(path, creds.Token, opts...))
	srv.TLS = cfg
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are expected here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return Scheme + "://" + strings.TrimPrefix(srv.URL, "https://") + Path, creds
}

func TestServeAndFetch(t *testing.T) {
	path, want := sparseDisk(t)
	var served atomic.Int32
	url, creds := startServer(t, path, WithOnServed(func() { served.Add(1) }))
	roots, err := RootPool(creds.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Fetch(context.Background(), url, creds.Token, roots)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := make([]byte, 0, len(want))
	var holes, data int
	for {
		f, err := s.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		if f.Hole {
			holes++
			got = append(got, make([]byte, f.Len)...)
		} else {
			data++
			got = append(got, f.Data...)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("received disk differs from the source")
	}
	if holes != 2 || data != 2 {
		t.Errorf("got %d hole and %d data frames, want 2 of each (zero chunk merged with the hole; the zero tail)", holes, data)
	}
	if served.Load() != 1 {
		t.Errorf("onServed called %d times, want 1", served.Load())
	}
}

func TestFetchRefusals(t *testing.T) {
	path, _ := sparseDisk(t)
	url, creds := startServer(t, path)
	other, err := NewCredentials(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := RootPool(creds.CertPEM)
	bad, _ := RootPool(other.CertPEM)
	for _, tc := range []struct {
		name  string
		url   string
		token string
		roots []byte
		want  error
		text  string
	}{
		{"wrong token", url, other.Token, creds.CertPEM, ErrRefused, "refused the token"},
		{"empty token", url, "", creds.CertPEM, ErrRefused, "HTTP 401"},
		{"other certificate", url, creds.Token, other.CertPEM, ErrCertificate, "not trusted"},
		{"wrong path", strings.TrimSuffix(url, Path) + "/other", creds.Token, creds.CertPEM, nil, "HTTP 404"},
		{"not a clone URL", "https://example.invalid/disk", creds.Token, creds.CertPEM, nil, "want clone+https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roots := good
			if bytes.Equal(tc.roots, other.CertPEM) {
				roots = bad
			}
			s, err := Fetch(context.Background(), tc.url, tc.token, roots)
			if err == nil {
				s.Close()
				t.Fatal("Fetch succeeded")
			}
			if (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %v, want %v containing %q", err, tc.want, tc.text)
			}
		})
	}
}
