//go:build e2e

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testRegistry is go-containerregistry's in-memory registry served over TLS on the pod bridge gateway,
// so the controller and importer pods reach it at the same address the test pushes to.
type testRegistry struct {
	Host   string // host:port as pods and the test see it
	CAPEM  []byte // certificate authority that signed the serving certificate
	client *http.Transport
	server *http.Server
}

// startRegistry listens on ip (the pod gateway) and stops when the test ends.
func startRegistry(t *testing.T, ip string) *testRegistry {
	t.Helper()
	caPEM, serverCert, err := selfSignedCA(ip)
	if err != nil {
		t.Fatalf("make registry certificate: %v", err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen for the test registry on %s (is the cluster up?): %v", ip, err)
	}
	srv := &http.Server{
		Handler:           registry.New(registry.Logger(nopLogger())),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		// HTTP/1.1 only: the in-memory registry holds a lock while it reads an upload, which stalls other
		// uploads multiplexed on the same HTTP/2 connection.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &testRegistry{Host: ln.Addr().String(), CAPEM: caPEM, client: tr, server: srv}
}

// Push uploads img as repo:tag and returns its manifest digest.
func (r *testRegistry) Push(t *testing.T, repo, tag string, img v1.Image) v1.Hash {
	t.Helper()
	ref, err := name.NewTag(fmt.Sprintf("%s/%s:%s", r.Host, repo, tag))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(r.client)); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatalf("digest of %s: %v", ref, err)
	}
	t.Logf("pushed %s as %s", ref, d)
	return d
}

// URL is the docker:// source URL of repo:tag for a DataImportCron.
func (r *testRegistry) URL(repo, tag string) string {
	return fmt.Sprintf("docker://%s/%s:%s", r.Host, repo, tag)
}

// selfSignedCA returns a CA certificate (PEM) and a serving certificate for ip signed by it.
func selfSignedCA(ip string) ([]byte, tls.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goldimage e2e registry CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP(ip)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, tls.Certificate{}, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func nopLogger() *log.Logger { return log.New(io.Discard, "", 0) }
