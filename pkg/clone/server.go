package clone

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Path is where a Server serves the disk.
const Path = "/disk"

// HeaderSize carries the disk size on the response, before the stream announces it.
const HeaderSize = "X-Clone-Size"

// Server serves one disk file or block device to clients presenting its bearer token.
type Server struct {
	path     string
	token    string
	onServed func()
	logf     func(format string, args ...any)
}

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithOnServed calls fn after each complete transfer (the source pod exits after the first); default none.
func WithOnServed(fn func()) ServerOption { return func(s *Server) { s.onServed = fn } }

// WithLogf sets where refused and failed requests are logged; default nowhere.
func WithLogf(fn func(format string, args ...any)) ServerOption {
	return func(s *Server) { s.logf = fn }
}

// NewServer serves path (a file or block device, opened read-only per request) to holders of token.
func NewServer(path, token string, opts ...ServerOption) *Server {
	s := &Server{path: path, token: token, onServed: func() {}, logf: func(string, ...any) {}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// ServeHTTP streams the disk on GET Path with a valid "Authorization: Bearer" token.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "only GET", http.StatusMethodNotAllowed)
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !tokenEqual(got, s.token) {
		s.logf("refused %s: missing or wrong bearer token", r.RemoteAddr)
		http.Error(w, "wrong or missing bearer token", http.StatusUnauthorized)
		return
	}
	f, size, err := openDisk(s.path)
	if err != nil {
		s.logf("open disk for %s: %v", r.RemoteAddr, err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HeaderSize, strconv.FormatInt(size, 10))
	if err := Send(r.Context(), w, f, size); err != nil {
		s.logf("send disk to %s: %v", r.RemoteAddr, err)
		return
	}
	s.onServed()
}

// openDisk opens a file or block device read-only and returns its size.
func openDisk(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open source disk: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("inspect source disk: %w", err)
	}
	size := st.Size()
	if st.Mode()&fs.ModeDevice != 0 {
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("size of source device %s: %w", path, err)
		}
	}
	return f, size, nil
}

// TLSConfig is the server side of a clone: certPEM and keyPEM, TLS 1.3 only.
func TLSConfig(certPEM, keyPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load clone certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, nil
}

// ListenAndServe serves s with TLS on addr until ctx ends.
func ListenAndServe(ctx context.Context, addr string, s *Server, cfg *tls.Config) error {
	srv := &http.Server{Addr: addr, Handler: s, TLSConfig: cfg, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServeTLS("", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve clone source on %s: %w", addr, err)
	case <-ctx.Done():
		return srv.Close()
	}
}
