package source

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Option configures Open.
type Option func(*options)

type options struct {
	header      http.Header
	user, pass  string
	caDir       string
	insecure    bool
	s3          bool
	region      string
	blockSize   int64
	cacheBlocks int
	maxAhead    int
	retries     int
	backoff     time.Duration
	transport   http.RoundTripper
	platform    string
}

func newOptions(opts []Option) *options {
	o := &options{header: http.Header{}, region: "us-east-1", blockSize: 1 << 20, cacheBlocks: 32, maxAhead: 8,
		retries: 5, backoff: 200 * time.Millisecond}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithHeader adds an HTTP header to every request of http(s) sources; default none.
func WithHeader(name, value string) Option { return func(o *options) { o.header.Add(name, value) } }

// WithBasicAuth sets the user and password (http basic auth) or access and secret key (s3); default anonymous.
func WithBasicAuth(user, password string) Option {
	return func(o *options) { o.user, o.pass = user, password }
}

// WithCADir trusts the PEM certificates (*.crt, *.pem) in dir in addition to the system roots; default system roots only.
func WithCADir(dir string) Option { return func(o *options) { o.caDir = dir } }

// WithInsecureTLS skips verification of the server certificate; default false. Hazard: anyone on the path can serve the image.
func WithInsecureTLS(insecure bool) Option { return func(o *options) { o.insecure = insecure } }

// WithS3 treats http(s):// URLs as S3 endpoints (http(s)://host/bucket/key); default false (plain HTTP GET).
func WithS3(s3 bool) Option { return func(o *options) { o.s3 = s3 } }

// WithRegion sets the S3 region used for request signing; default us-east-1.
func WithRegion(region string) Option { return func(o *options) { o.region = region } }

// WithCache sets the block size and the number of cached blocks of random-access http reads; default 1 MiB x 32.
// Memory use is at most blockSize*(blocks+read-ahead blocks).
func WithCache(blockSize int64, blocks int) Option {
	return func(o *options) {
		if blockSize > 0 {
			o.blockSize = blockSize
		}
		if blocks > 0 {
			o.cacheBlocks = blocks
		}
	}
}

// WithRetries sets how many times a failed http request or dropped stream is retried and the first
// back-off (doubling each time); default 5 and 200ms.
func WithRetries(n int, backoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = n, backoff }
}

// WithPlatform selects the manifest of a containerDisk image index by "os/arch[/variant]"; default
// linux and the architecture this binary runs on.
func WithPlatform(platform string) Option { return func(o *options) { o.platform = platform } }

// WithTransport replaces the HTTP transport (tests inject faults with it); default one built from the TLS options.
func WithTransport(rt http.RoundTripper) Option { return func(o *options) { o.transport = rt } }

// httpClient builds the client for http(s) and s3 sources from the TLS options.
func (o *options) httpTransport() (http.RoundTripper, error) {
	if o.transport != nil {
		return o.transport, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: o.insecure} //nolint:gosec // opt-in by the user
	if o.caDir != "" {
		pool, err := loadCADir(o.caDir)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return tr, nil
}

// loadCADir returns the system roots plus every PEM certificate in dir.
func loadCADir(dir string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, Fatal(fmt.Errorf("read CA directory: %w", err))
	}
	added := 0
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, Fatal(fmt.Errorf("read CA certificate: %w", err))
		}
		if pool.AppendCertsFromPEM(pem) {
			added++
		}
	}
	if added == 0 {
		return nil, Fatal(fmt.Errorf("CA directory %s holds no PEM certificate", dir))
	}
	return pool, nil
}
