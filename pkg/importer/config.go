package importer

import (
	"fmt"
	"net/textproto"
	"strings"

	"github.com/goldimage/goldimage/pkg/importer/source"
)

// Output formats of the destination.
const (
	FormatRaw   = "raw"   // sparse raw (the default)
	FormatQcow2 = "qcow2" // qcow2 v3, for images that are pushed on rather than run from the PVC
)

// Config is one import. Source and Dest are required; the zero value of every other field is a sensible default.
type Config struct {
	Source      string                  // docker://, oci-archive:, http(s)://, s3://, file:// or blank: URL
	Dest        string                  // destination file (created) or block device
	Size        int64                   // requested size in bytes; the image is grown to it and must fit in it. 0: the virtual size
	Format      string                  // destination format, FormatRaw (default) or FormatQcow2
	ScratchDir  string                  // where stream sources of random-access formats are spilled; empty: such imports fail
	Checksum    string                  // "sha256:<hex>" of the source bytes; empty: not verified
	User        string                  // basic-auth user, S3 access key or registry user
	Password    string                  // basic-auth password, S3 secret key or registry password
	CertDir     string                  // directory of extra CA certificates (PEM)
	InsecureTLS bool                    // skip TLS verification of the source
	Headers     []string                // extra "Name: value" HTTP headers for http(s) sources
	S3          bool                    // treat an http(s) URL as an S3 endpoint (IMPORTER_SOURCE=s3)
	Preallocate bool                    // allocate every block of the destination
	Progress    func(done, total int64) // called with bytes of virtual size done; total is -1 while unknown
	SourceOpts  []source.Option         // extra options for the source layer (tests: retries, transport)
}

// validate checks the configuration without touching the network or disk.
func (c *Config) validate() error {
	switch {
	case c.Source == "":
		return Usagef("no source: give --source URL")
	case c.Dest == "":
		return Usagef("no destination: give --dest PATH")
	case c.Size < 0:
		return Usagef("size %d is negative", c.Size)
	case c.Format != "" && c.Format != FormatRaw && c.Format != FormatQcow2:
		return Usagef("format %q is not raw or qcow2", c.Format)
	case strings.HasPrefix(c.Source, "blank:") && c.Size == 0:
		return Usagef("a blank: disk needs --size")
	}
	if c.Checksum != "" {
		if _, err := parseChecksum(c.Checksum); err != nil {
			return err
		}
	}
	for _, h := range c.Headers {
		if _, _, err := parseHeader(h); err != nil {
			return err
		}
	}
	return nil
}

// parseHeader splits "Name: value".
func parseHeader(h string) (string, string, error) {
	name, value, ok := strings.Cut(h, ":")
	name = strings.TrimSpace(name)
	if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
		return "", "", Usagef("header %q is not \"Name: value\"", h)
	}
	return textproto.CanonicalMIMEHeaderKey(name), strings.TrimSpace(value), nil
}

// sourceOptions turns the configuration into options of the source layer.
func (c *Config) sourceOptions() []source.Option {
	opts := []source.Option{source.WithBasicAuth(c.User, c.Password), source.WithInsecureTLS(c.InsecureTLS), source.WithS3(c.S3)}
	if c.CertDir != "" {
		opts = append(opts, source.WithCADir(c.CertDir))
	}
	for _, h := range c.Headers {
		name, value, _ := parseHeader(h)
		opts = append(opts, source.WithHeader(name, value))
	}
	return append(opts, c.SourceOpts...)
}

// String describes the import for logs, without credentials.
func (c *Config) String() string {
	return fmt.Sprintf("%s -> %s", redact(c.Source), c.Dest)
}

// redact drops user info and query from a URL for messages.
func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 && strings.Contains(u[:i], "://") {
		scheme, _, _ := strings.Cut(u, "://")
		u = scheme + "://" + u[i+1:]
	}
	u, _, _ = strings.Cut(u, "?")
	return u
}
