package localmode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"
)

// privateCA is a certificate authority of the test's own, unknown to the system roots.
type privateCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	PEM  string
}

func newPrivateCA(t *testing.T) *privateCA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "goldimage test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &privateCA{cert: cert, key: key, PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// serverCert issues a certificate for 127.0.0.1.
func (ca *privateCA) serverCert(t *testing.T) tls.Certificate {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// tlsFront serves the registry at backend (host:port, plain HTTP) over TLS with a certificate of ca and
// returns its host:port, as a TLS-terminating proxy in front of a registry would.
func tlsFront(t *testing.T, ca *privateCA, backend string) string {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: backend})
	srv := httptest.NewUnstartedServer(proxy)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.serverCert(t)}, MinVersion: tls.VersionTLS12}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that distrust the certificate are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "https://")
}

// cronYAML is a DataImportCron in namespace default polling ref, naming secret and configMap when not empty.
func cronYAML(name, source, ref, secret, configMap string) string {
	reg := fmt.Sprintf("url: \"docker://%s\"", ref)
	if secret != "" {
		reg += ", secretRef: " + secret
	}
	if configMap != "" {
		reg += ", certConfigMap: " + configMap
	}
	return fmt.Sprintf("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: %s}\n"+
		"spec: {schedule: \"@daily\", managedDataSource: %s, template: {spec: {source: {registry: {%s}}}}}\n---\n", name, source, reg)
}

// secretYAML is a Secret with CDI's registry keys, in data (base64) or in stringData.
func secretYAML(name, ns, user, password string, stringData bool) string {
	head := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: %s, namespace: %s}\n", name, ns)
	if stringData {
		return head + fmt.Sprintf("stringData: {accessKeyId: %q, secretKey: %q}\n---\n", user, password)
	}
	b64 := base64.StdEncoding.EncodeToString
	return head + fmt.Sprintf("data: {accessKeyId: %s, secretKey: %s}\n---\n", b64([]byte(user)), b64([]byte(password)))
}

// configMapYAML is a ConfigMap holding pem under key.
func configMapYAML(name, key, pem string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata:\n  %s: |\n%s---\n", name, key,
		"    "+strings.ReplaceAll(strings.TrimSuffix(pem, "\n"), "\n", "\n    ")+"\n")
}
