package cron

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Validator is what an http(s) server says identifies the current content of a URL (RFC 9110 8.8).
type Validator struct {
	ETag         string `json:"etag,omitempty"`         // entity tag as sent, quotes and W/ included
	LastModified string `json:"lastModified,omitempty"` // Last-Modified as sent
}

// IsZero reports whether the server sent no validator.
func (v Validator) IsZero() bool { return v.ETag == "" && v.LastModified == "" }

// String is the validator as a poll records it: the ETag when there is one, else the Last-Modified date.
func (v Validator) String() string {
	if v.ETag != "" {
		return "ETag " + v.ETag
	}
	return "Last-Modified " + v.LastModified
}

// HTTPVersion is the version of an http(s) source an import is named after, as a digest names a registry import:
// "http:" + the sha256 of the URL and the validator, so another URL with the same ETag is another version.
func HTTPVersion(url string, v Validator) string {
	sum := sha256.Sum256([]byte(url + "\n" + v.String()))
	return "http:" + hex.EncodeToString(sum[:])
}

// Bad validators: the server cannot tell goldimage when its content changes. They are reported as a cron
// condition and polled again on schedule, never imported in a loop.
var (
	ErrNoValidator       = errors.New("sends neither ETag nor Last-Modified, so changes cannot be detected")
	ErrUnstableValidator = errors.New("changes its validator on every request, so changes cannot be detected")
)

// HTTPResponse is what a poll learned from one HEAD (or GET) response: its status and validators.
type HTTPResponse struct {
	Status    int
	Validator Validator
}

// JudgeHTTP decides what a conditional poll says about a URL whose last known validator is prev (zero before
// the first poll): first is the answer to the conditional request; confirm, asked only when first carries a
// new validator, is the answer to the same request conditioned on that new validator. A change counts only
// when the server confirms it (304 or the same validator again); an unconfirmed one is ErrUnstableValidator.
func JudgeHTTP(prev Validator, first HTTPResponse, confirm *HTTPResponse) (v Validator, changed bool, err error) {
	switch {
	case first.Status == http.StatusNotModified && !prev.IsZero():
		return prev, false, nil
	case first.Status < 200 || first.Status > 299:
		return prev, false, fmt.Errorf("status %d %s", first.Status, http.StatusText(first.Status))
	case first.Validator.IsZero():
		return prev, false, ErrNoValidator
	case first.Validator == prev:
		return prev, false, nil // the server ignores conditions but its validator is stable
	case confirm == nil:
		return prev, false, errors.New("a new validator needs a confirming request")
	case confirm.Status == http.StatusNotModified || (confirm.Status >= 200 && confirm.Status <= 299 && confirm.Validator == first.Validator):
		return first.Validator, true, nil
	case confirm.Status < 200 || confirm.Status > 299:
		return prev, false, fmt.Errorf("status %d %s", confirm.Status, http.StatusText(confirm.Status))
	}
	return prev, false, ErrUnstableValidator
}

// HTTPChecker asks an http(s) server whether a URL changed, with conditional HEAD requests.
type HTTPChecker struct {
	client *http.Client
	creds  Credentials
}

// NewHTTPChecker returns a checker authenticating with creds (basic auth when a user or password is set), sending
// creds.Headers with every request and trusting creds.CACerts besides the system roots.
func NewHTTPChecker(creds Credentials) (*HTTPChecker, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if creds.CACerts != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(creds.CACerts)) {
			return nil, errors.New("certConfigMap holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &HTTPChecker{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, creds: creds}, nil
}

// Check polls url, conditioned on prev: HEAD first (GET, its body left unread, when the server refuses HEAD),
// a second request only to confirm a new validator. changed is false when prev still holds.
func (h *HTTPChecker) Check(ctx context.Context, url string, prev Validator) (Validator, bool, error) {
	first, err := h.ask(ctx, url, prev)
	if err != nil {
		return prev, false, err
	}
	var confirm *HTTPResponse
	if first.Status >= 200 && first.Status <= 299 && !first.Validator.IsZero() && first.Validator != prev {
		c, err := h.ask(ctx, url, first.Validator)
		if err != nil {
			return prev, false, err
		}
		confirm = &c
	}
	v, changed, err := JudgeHTTP(prev, first, confirm)
	if err != nil {
		return prev, false, fmt.Errorf("poll %s: server %w", RedactURL(url), err)
	}
	return v, changed, nil
}

// ask sends one conditional HEAD, falling back to GET when HEAD is not allowed.
func (h *HTTPChecker) ask(ctx context.Context, url string, cond Validator) (HTTPResponse, error) {
	r, err := h.do(ctx, http.MethodHead, url, cond)
	if err == nil && (r.Status == http.StatusMethodNotAllowed || r.Status == http.StatusNotImplemented) {
		r, err = h.do(ctx, http.MethodGet, url, cond)
	}
	return r, err
}

func (h *HTTPChecker) do(ctx context.Context, method, url string, cond Validator) (HTTPResponse, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("poll %s: %w", RedactURL(url), err)
	}
	if cond.ETag != "" {
		req.Header.Set("If-None-Match", cond.ETag)
	}
	if cond.LastModified != "" {
		req.Header.Set("If-Modified-Since", cond.LastModified)
	}
	h.authorize(req)
	resp, err := h.client.Do(req)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("poll %s: %w", RedactURL(url), err)
	}
	resp.Body.Close() // a GET's body is never read: closing drops the connection instead of downloading it
	return HTTPResponse{Status: resp.StatusCode,
		Validator: Validator{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}, nil
}

func (h *HTTPChecker) authorize(req *http.Request) {
	for line := range strings.Lines(h.creds.Headers) {
		if name, value, ok := strings.Cut(strings.TrimRight(line, "\r\n"), ":"); ok && strings.TrimSpace(name) != "" {
			req.Header.Set(strings.TrimSpace(name), strings.TrimSpace(value))
		}
	}
	if h.creds.Username != "" || h.creds.Password != "" {
		req.SetBasicAuth(h.creds.Username, h.creds.Password)
	}
}

// maxChecksumFileBytes bounds a checksum file; SHA256SUMS of a release directory are a few KiB.
const maxChecksumFileBytes = 1 << 20

// Checksum fetches the checksum file at sumsURL (SHA256SUMS, GNU or BSD format) and returns the "sha256:<hex>"
// it lists for the file name of imageURL.
func (h *HTTPChecker) Checksum(ctx context.Context, sumsURL, imageURL string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sumsURL, nil)
	if err != nil {
		return "", fmt.Errorf("checksum file %s: %w", RedactURL(sumsURL), err)
	}
	h.authorize(req)
	resp, err := h.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("checksum file %s: %w", RedactURL(sumsURL), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("checksum file %s: status %s", RedactURL(sumsURL), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxChecksumFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("checksum file %s: %w", RedactURL(sumsURL), err)
	}
	if len(body) > maxChecksumFileBytes {
		return "", fmt.Errorf("checksum file %s is larger than %d bytes", RedactURL(sumsURL), maxChecksumFileBytes)
	}
	name, err := FileName(imageURL)
	if err != nil {
		return "", err
	}
	sum, err := FindSHA256(body, name)
	if err != nil {
		return "", fmt.Errorf("checksum file %s: %w", RedactURL(sumsURL), err)
	}
	return sum, nil
}
