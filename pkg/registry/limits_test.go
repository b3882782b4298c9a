package registry_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

func TestRateLimitIsPerHost(t *testing.T) {
	a := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	b := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	a.PushDisk(t, "rl/disk:v1", diskBytes(40, 4096))
	b.PushDisk(t, "rl/disk:v1", diskBytes(41, 4096))
	// One request per 1000 hours after a burst of 10: a wait would outlast the deadline, so the
	// limiter refuses at once instead of sleeping.
	c := registrytest.NewClient(t, registry.WithRateLimit(1.0/3.6e6, 10))
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	var err error
	calls := 0
	for ; calls < 20 && err == nil; calls++ {
		_, err = c.Digest(ctx, a.Ref("rl/disk:v1"))
	}
	if !registry.IsRetryable(err) || !strings.Contains(err.Error(), "request-rate limit of "+a.Host) {
		t.Fatalf("after %d calls: err = %v, want the rate limit of %s to refuse", calls, err, a.Host)
	}
	if calls < 3 {
		t.Errorf("the burst of 10 requests was exhausted after %d calls", calls)
	}
	if _, err := c.Digest(ctx, b.Ref("rl/disk:v1")); err != nil {
		t.Errorf("another host shares the limit: %v", err)
	}
}

func TestCADirErrors(t *testing.T) {
	empty := t.TempDir()
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "ca.crt"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		empty:                           "no certificate file",
		bad:                             "ca.crt: no PEM certificate in it",
		filepath.Join(empty, "missing"): "read CA directory",
	} {
		if _, err := registry.New(registry.WithCADir(dir)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CA dir %s: err = %v, want %q", dir, err, want)
		}
	}
}

// TestCADirAsMountedConfigMap lays out a CA ConfigMap as the kubelet mounts it (keys as links into a
// ..data directory) under a key name without a certificate extension: its certificate must be trusted.
func TestCADirAsMountedConfigMap(t *testing.T) {
	dir := t.TempDir()
	stamp := filepath.Join(dir, "..2026_12_01_00_00_00.000000001")
	if err := os.Mkdir(stamp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stamp, "ca-bundle"), selfSignedPEM(t), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"..data": filepath.Base(stamp), "ca-bundle": "..data/ca-bundle"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := registry.New(registry.WithCADir(dir)); err != nil {
		t.Fatalf("CA ConfigMap mounted with key ca-bundle: %v", err)
	}
}

// selfSignedPEM returns a fresh self-signed CA certificate in PEM.
func selfSignedPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goldimage test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestPullMemoryIsBounded pulls a 64 MiB disk from an OCI layout (so no in-process registry holds
// blobs in this process's heap) and checks that allocations stay far below the disk size.
func TestPullMemoryIsBounded(t *testing.T) {
	const size = 64 << 20
	disk := diskBytes(42, size)
	img := imageOf(t, gzipped(t, tarOf(t, file("disk/disk.img", string(disk)))))
	dir := writeLayout(t, img, "v1")
	disk, img = nil, nil
	c := registrytest.NewClient(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	d, err := c.Pull(context.Background(), "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.CopyBuffer(io.Discard, d, make([]byte, 1<<20))
	if err != nil || n != size {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/8 {
		t.Errorf("pulling a %d MiB disk allocated %d MiB; memory must not grow with the image", size>>20, alloc>>20)
	} else {
		t.Logf("pulling a %d MiB disk allocated %d KiB", size>>20, alloc>>10)
	}
}
