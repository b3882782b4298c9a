package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
	"github.com/klauspost/compress/gzip"
)

// BenchmarkPushPull pushes and pulls a containerDisk (GOLDIMAGE_BENCH_MIB, default 256 MiB) through
// the in-process registry and prints each against an anchor measured in the same run: one gzip
// (level 1) pass over the disk for Push (also with WithScratchDir), one gunzip+sha256 pass over the
// layer for Pull.
func BenchmarkPushPull(b *testing.B) {
	mib := 256
	if v, err := strconv.Atoi(os.Getenv("GOLDIMAGE_BENCH_MIB")); err == nil && v > 0 {
		mib = v
	}
	disk := diskBytes(99, mib<<20)
	p := benchFile(b, disk)
	s := registrytest.New(b, registrytest.WithAuth(registrytest.Anonymous))
	c := s.Client(b)
	ctx := context.Background()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, 1)
	var push, pushScratch, pushAnchor, pull, pullAnchor time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		gz.Reset()
		zw.Reset(&gz)
		zw.Write(disk)
		zw.Close()
		pushAnchor += time.Since(t0)

		t0 = time.Now()
		if _, err := c.Push(ctx, s.Ref("bench/disk:"+strconv.Itoa(i)), p); err != nil {
			b.Fatal(err)
		}
		push += time.Since(t0)

		t0 = time.Now()
		if _, err := c.Push(ctx, s.Ref("scratch/disk:"+strconv.Itoa(i)), p, registry.WithScratchDir(b.TempDir())); err != nil {
			b.Fatal(err)
		}
		pushScratch += time.Since(t0)

		t0 = time.Now()
		zr, _ := gzip.NewReader(bytes.NewReader(gz.Bytes()))
		h := sha256.New()
		io.Copy(h, zr)
		pullAnchor += time.Since(t0)

		t0 = time.Now()
		d, err := c.Pull(ctx, s.Ref("bench/disk:"+strconv.Itoa(i)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, d); err != nil {
			b.Fatal(err)
		}
		d.Close()
		pull += time.Since(t0)
	}
	mb := float64(mib) * float64(b.N)
	b.ReportMetric(mb/push.Seconds(), "push-MiB/s")
	b.ReportMetric(push.Seconds()/pushAnchor.Seconds(), "push/gzip-pass")
	b.ReportMetric(pushScratch.Seconds()/pushAnchor.Seconds(), "push-scratch/gzip-pass")
	b.ReportMetric(mb/pull.Seconds(), "pull-MiB/s")
	b.ReportMetric(pull.Seconds()/pullAnchor.Seconds(), "pull/gunzip-pass")
}

func benchFile(b *testing.B, disk []byte) string {
	p := b.TempDir() + "/disk.img"
	if err := os.WriteFile(p, disk, 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}
