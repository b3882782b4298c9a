package clone

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// ServerName is the name in every clone certificate. The importer dials the source pod by IP and verifies
// the certificate against this name and the clone's own certificate, its only trusted root.
const ServerName = "clone-source.goldimage.internal"

// Secret keys of the clone Secrets.
const (
	KeyCert  = "tls.crt" // PEM certificate: the server's, and the importer's only trusted root
	KeyKey   = "tls.key" // PEM private key, only in the source namespace's Secret
	KeyToken = "token"   // bearer token the importer presents
)

// Credentials are the per-clone secrets: a self-signed certificate and key and a random bearer token.
type Credentials struct {
	CertPEM []byte
	KeyPEM  []byte
	Token   string
}

// NewCredentials makes a P-256 certificate for ServerName valid for validity and a 256-bit random token.
func NewCredentials(validity time.Duration) (Credentials, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Credentials{}, fmt.Errorf("generate clone key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return Credentials{}, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: ServerName}, DNSNames: []string{ServerName},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(validity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Credentials{}, fmt.Errorf("create clone certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Credentials{}, fmt.Errorf("encode clone key: %w", err)
	}
	token := make([]byte, 32)
	if _, err := rand.Read(token); err != nil {
		return Credentials{}, fmt.Errorf("generate clone token: %w", err)
	}
	return Credentials{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Token:   hex.EncodeToString(token),
	}, nil
}

// RootPool returns a pool holding only the certificates in certPEM.
func RootPool(certPEM []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(certPEM) {
		return nil, errors.New("clone certificate bundle holds no PEM certificate")
	}
	return pool, nil
}

// tokenEqual compares tokens in constant time (over their hashes, so the length leaks nothing either).
func tokenEqual(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1 && want != ""
}
