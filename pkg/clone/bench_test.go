package clone

import (
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkServeFetch streams a 256 MiB disk from a Server to Fetch over TLS on loopback, sparse (a 1 MiB
// random run every 4 MiB, the rest holes) and dense (all random); bytes/s count virtual size.
func BenchmarkServeFetch(b *testing.B) {
	b.Run("sparse", func(b *testing.B) { benchServeFetch(b, 4) })
	b.Run("dense", func(b *testing.B) { benchServeFetch(b, 1) })
}

func benchServeFetch(b *testing.B, every int64) {
	const size, run = 256 << 20, MaxData
	path := filepath.Join(b.TempDir(), "disk.img")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, run)
	for off := int64(0); off < size; off += every * run {
		rand.Read(buf)
		if _, err := f.WriteAt(buf, off); err != nil {
			b.Fatal(err)
		}
	}
	f.Truncate(size)
	f.Close()
	url, creds := startServer(b, path)
	roots, _ := RootPool(creds.CertPEM)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := Fetch(context.Background(), url, creds.Token, roots)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}
