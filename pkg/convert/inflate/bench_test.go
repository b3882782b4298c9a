package inflate

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"math/rand/v2"
	"testing"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkCluster decodes 64 KiB clusters of disk-like data, as qcow2 stores them, against
// klauspost/compress/flate reset per cluster (what pkg/convert used before).
func BenchmarkCluster(b *testing.B) {
	const cluster = 64 << 10
	data := diskLike(16 * cluster)
	var comps [][]byte
	for i := 0; i < len(data); i += cluster {
		comps = append(comps, deflate(b, data[i:i+cluster], 6))
	}
	dst := make([]byte, cluster)
	b.Run("inflate", func(b *testing.B) {
		var d Decoder
		b.SetBytes(cluster)
		for i := 0; b.Loop(); i++ {
			if n, err := d.Decode(dst, bytes.NewReader(comps[i%len(comps)])); n != cluster || err != nil {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		fr := kflate.NewReader(nil)
		br := bufio.NewReaderSize(nil, 32<<10)
		b.SetBytes(cluster)
		for i := 0; b.Loop(); i++ {
			br.Reset(bytes.NewReader(comps[i%len(comps)]))
			if err := fr.(kflate.Resetter).Reset(br, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(fr, dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// diskLike mimics test/bench's generated disk: word-like text with 64-byte random stretches.
func diskLike(n int) []byte {
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"kernel ", "systemd ", "\x00\x00\x00\x00", "lib64 ", "usr/share/doc ", "ELF\x02\x01", "\xff\xff\xff\xff", "config "}
	b := make([]byte, 0, n+64)
	for len(b) < n {
		if rng.IntN(4) == 0 {
			for range 64 {
				b = append(b, byte(rng.Uint32()))
			}
			continue
		}
		b = append(b, words[rng.IntN(len(words))]...)
	}
	return b[:n]
}

// BenchmarkGzip decodes a 16 MiB disk-like gzip stream against klauspost/compress/gzip.
func BenchmarkGzip(b *testing.B) {
	data := diskLike(16 << 20)
	comp := gzipped(b, data, 6, gzip.Header{})
	b.Run("inflate", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			g, err := NewGzipReader(bytes.NewReader(comp))
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, g); n != int64(len(data)) || err != nil {
				b.Fatal(n, err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			g, err := kgzip.NewReader(bytes.NewReader(comp))
			if err != nil {
				b.Fatal(err)
			}
			if n, err := io.Copy(io.Discard, g); n != int64(len(data)) || err != nil {
				b.Fatal(n, err)
			}
		}
	})
}
