package registry_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
)

// distribution is Debian's docker-registry (Distribution 2.8) serving TLS with htpasswd auth.
type distribution struct {
	host, user, password, caDir string
}

// startDistribution runs /usr/bin/docker-registry on a free loopback port until the test ends.
func startDistribution(t *testing.T) distribution {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry (Debian package docker-registry) is not installed; run hack/install-deps.sh")
	}
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd (Debian package apache2-utils) is not installed; run hack/install-deps.sh")
	}
	dir := t.TempDir()
	d := distribution{user: "distro", password: "distro-pw-4711", caDir: filepath.Join(dir, "ca")}
	out, err := exec.Command(htpasswd, "-Bbn", d.user, d.password).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	writeTestFile(t, filepath.Join(dir, "htpasswd"), out)
	certPEM, keyPEM := selfSignedCert(t)
	writeTestFile(t, filepath.Join(dir, "cert.pem"), certPEM)
	writeTestFile(t, filepath.Join(dir, "key.pem"), keyPEM)
	writeTestFile(t, filepath.Join(d.caDir, "registry.crt"), certPEM)
	d.host = freeLoopbackAddr(t)
	cfg := fmt.Sprintf(`version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: %s/data}, delete: {enabled: true}}
http: {addr: %s, tls: {certificate: %s/cert.pem, key: %s/key.pem}}
auth: {htpasswd: {realm: goldimage-test, path: %s/htpasswd}}
`, dir, d.host, dir, dir, dir)
	writeTestFile(t, filepath.Join(dir, "config.yml"), []byte(cfg))
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start docker-registry: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitForRegistry(t, d.host, certPEM, &logs)
	return d
}

func waitForRegistry(t *testing.T, host string, certPEM []byte, logs *bytes.Buffer) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: time.Second}
	for range 200 {
		resp, err := client.Get("https://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("docker-registry did not answer on %s; its output:\n%s", host, logs.String())
}

func TestDistributionRegistry(t *testing.T) {
	d := startDistribution(t)
	ctx := context.Background()
	disk := diskBytes(30, 2<<20)
	p := writeFile(t, disk)
	ref := d.host + "/goldimage/disk:v1"
	c, err := registry.New(registry.WithBasicAuth(d.user, d.password), registry.WithCADir(d.caDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]registry.PushOption{{registry.WithDockerMediaTypes()}, {registry.WithCompression(registry.Zstd)}} {
		pushed, err := c.Push(ctx, ref, p, append(opts, registry.WithForce())...)
		if err != nil {
			t.Fatalf("push: %v", err)
		}
		got, err := c.Digest(ctx, "docker://"+ref)
		if err != nil || got != pushed {
			t.Fatalf("digest = %s, %v; want %s", got, err, pushed)
		}
		pd, err := c.Pull(ctx, ref)
		if err != nil {
			t.Fatalf("pull: %v", err)
		}
		if b := readDisk(t, pd); !bytes.Equal(b, disk) || pd.Digest != pushed {
			t.Errorf("pulled %d bytes with digest %s; want the pushed disk and %s", len(b), pd.Digest, pushed)
		}
		if again, err := c.Push(ctx, ref, p, opts...); err != nil || again != pushed {
			t.Errorf("repeated push = %s, %v; want the skip to return %s", again, err, pushed)
		}
	}
	index, err := c.PushIndex(ctx, d.host+"/goldimage/multi:v1", []registry.PlatformDisk{
		{Platform: "linux/amd64", Path: p}, {Platform: "linux/arm64", Path: writeFile(t, diskBytes(31, 1<<20))}})
	if err != nil {
		t.Fatalf("push index: %v", err)
	}
	arm, err := registry.New(registry.WithBasicAuth(d.user, d.password), registry.WithCADir(d.caDir), registry.WithPlatform("linux/arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := arm.Digest(ctx, d.host+"/goldimage/multi:v1"); err != nil || got == index {
		t.Errorf("digest of the index for arm64 = %s, %v; want a platform manifest, not %s", got, err, index)
	}

	insecure, _ := registry.New(registry.WithBasicAuth(d.user, d.password), registry.WithInsecureRegistries(d.host))
	if _, err := insecure.Digest(ctx, ref); err != nil {
		t.Errorf("insecure registry: %v", err)
	}
	untrusted, _ := registry.New(registry.WithBasicAuth(d.user, d.password), registry.WithRetry(1, 0, 0))
	_, err = untrusted.Digest(ctx, ref)
	if err == nil || registry.IsRetryable(err) {
		t.Errorf("untrusted certificate: err = %v, want a fatal error", err)
	}
	wrong, _ := registry.New(registry.WithBasicAuth(d.user, "nope"), registry.WithCADir(d.caDir))
	if _, err := wrong.Digest(ctx, ref); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("wrong password: err = %v, want ErrUnauthorized", err)
	}
	if _, err := c.Digest(ctx, d.host+"/goldimage/disk:missing"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("missing tag: err = %v, want ErrNotFound", err)
	}
}

func selfSignedCert(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goldimage test registry"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func freeLoopbackAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeTestFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
