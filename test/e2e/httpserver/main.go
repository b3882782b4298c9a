// Command httpserver is the e2e tests' image server, run in a pod: it serves the files PUT to it with an ETag
// (a prefix of their sha256) and a SHA256SUMS listing them, as mirrors of cloud images do. It holds the files
// in memory; the tests' files are small.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

type server struct {
	mu    sync.Mutex
	files map[string][]byte
}

func main() {
	addr := flag.String("listen", ":8080", "address to serve on")
	flag.Parse()
	s := &server{files: map[string][]byte{}}
	srv := &http.Server{Addr: *addr, Handler: s, ReadHeaderTimeout: 30 * time.Second}
	log.Fatal(srv.ListenAndServe())
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodPut:
		b, err := io.ReadAll(io.LimitReader(r.Body, 256<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.files[name] = b
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case name == "SHA256SUMS":
		fmt.Fprint(w, s.sums())
	default:
		s.mu.Lock()
		b, ok := s.files[name]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		sum := sha256.Sum256(b)
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b)) // answers If-None-Match with 304
	}
}

func (s *server) sums() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.files))
	for n := range s.files {
		names = append(names, n)
	}
	sort.Strings(names)
	var out strings.Builder
	for _, n := range names {
		sum := sha256.Sum256(s.files[n])
		fmt.Fprintf(&out, "%s *%s\n", hex.EncodeToString(sum[:]), n)
	}
	return out.String()
}
