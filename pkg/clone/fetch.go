package clone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Scheme is the importer source scheme of a host-assisted clone: clone+https://HOST:PORT/disk.
const Scheme = "clone+https"

// ErrRefused is wrapped by Fetch when the source refuses the token; a retry with the same token cannot help.
var ErrRefused = errors.New("clone source refused the token")

// ErrCertificate is wrapped by Fetch when the source's certificate is not the clone's; retrying cannot help.
var ErrCertificate = errors.New("clone source certificate not trusted")

// Stream is an open clone stream; Close releases the connection.
type Stream struct {
	*Reader
	body io.Closer
}

// Close closes the connection.
func (s *Stream) Close() error { return s.body.Close() }

// Fetch connects to rawURL (clone+https://...), verifies the server against roots under ServerName,
// presents token, and returns the opened stream.
func Fetch(ctx context.Context, rawURL, token string, roots *x509.CertPool) (*Stream, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != Scheme || u.Host == "" {
		return nil, fmt.Errorf("clone source %q: want %s://HOST:PORT%s", rawURL, Scheme, Path)
	}
	u.Scheme = "https"
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: ServerName, MinVersion: tls.VersionTLS13},
		Proxy: nil, ForceAttemptHTTP2: false}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("clone request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		if isCertError(err) {
			return nil, fmt.Errorf("connect to clone source %s: %w: %v", u.Host, ErrCertificate, err)
		}
		return nil, fmt.Errorf("connect to clone source %s: %w", u.Host, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusForbidden:
		resp.Body.Close()
		return nil, fmt.Errorf("clone source %s: %w (HTTP %d)", u.Host, ErrRefused, resp.StatusCode)
	default:
		resp.Body.Close()
		return nil, fmt.Errorf("clone source %s: HTTP %d", u.Host, resp.StatusCode)
	}
	r, err := NewReader(resp.Body)
	if err != nil {
		resp.Body.Close()
		return nil, fmt.Errorf("clone source %s: %w", u.Host, err)
	}
	return &Stream{Reader: r, body: resp.Body}, nil
}

// isCertError reports whether err is a certificate verification failure.
func isCertError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var host x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &host) || errors.As(err, &verify) ||
		strings.Contains(err.Error(), "certificate")
}
