package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Image is an opened source: a stream of its bytes and, when the transport can seek, random access.
type Image struct {
	Name   string            // what the source calls the image, for messages
	Size   int64             // bytes of the source, -1 when unknown
	Digest string            // manifest digest (registry sources) or empty
	Labels map[string]string // KUBEVIRT_IO_* labels of a containerDisk, nil otherwise
	At     io.ReaderAt       // random access to the bytes, nil when the source cannot seek

	open  func(ctx context.Context) (io.ReadCloser, error)
	close func() error
}

// Stream returns the source bytes in order from offset 0; each call starts a new stream.
func (im *Image) Stream(ctx context.Context) (io.ReadCloser, error) {
	if im.open == nil {
		return nil, fmt.Errorf("%s cannot be streamed twice", im.Name)
	}
	return im.open(ctx)
}

// Close releases connections and files held by the image.
func (im *Image) Close() error {
	if im.close == nil {
		return nil
	}
	return im.close()
}

// Open opens rawURL (file://, http(s)://, s3://, or a containerDisk: docker://, oci-archive:, oci:)
// with the given options.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Image, error) {
	o := newOptions(opts)
	loc, err := parseLocation(rawURL, o.s3)
	if err != nil {
		return nil, err
	}
	switch loc.kind {
	case kindContainerDisk:
		return OpenContainerDisk(ctx, rawURL, opts...)
	case kindFile:
		return OpenFile(loc.path)
	case kindS3:
		return openS3(ctx, loc, o)
	}
	return openHTTP(ctx, loc, o)
}

// Kinds of source a URL names.
const (
	kindContainerDisk = "containerDisk"
	kindFile          = "file"
	kindHTTP          = "http"
	kindS3            = "s3"
)

// location is a checked source URL.
type location struct {
	kind        string   // one of the kind* constants
	raw         string   // the URL as given
	path        string   // kindFile: the local path
	u           *url.URL // kindHTTP and kindS3
	bucket, key string   // kindS3
}

// parseLocation checks rawURL without I/O and says what serves it; s3 makes http(s) URLs S3 endpoints.
func parseLocation(rawURL string, s3 bool) (location, error) {
	if isContainerDisk(rawURL) {
		return location{kind: kindContainerDisk}, nil
	}
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok {
		return location{}, Fatal(fmt.Errorf("source %q has no scheme (want docker://, oci-archive:, http(s)://, s3://, file://)", RedactURL(rawURL)))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return location{}, Fatal(fmt.Errorf("parse source URL %q: %v", RedactURL(rawURL), errors.Unwrap(err)))
	}
	switch scheme = strings.ToLower(scheme); {
	case scheme == "file":
		if (u.Host != "" && u.Host != "localhost") || u.Path == "" || u.Opaque != "" {
			return location{}, Fatal(fmt.Errorf("source %q: want file:///absolute/path", RedactURL(rawURL)))
		}
		return location{kind: kindFile, path: u.Path}, nil
	case scheme == "s3", s3 && (scheme == "http" || scheme == "https"):
		return s3Location(rawURL, u)
	case scheme == "http" || scheme == "https":
		if u.Host == "" {
			return location{}, Fatal(fmt.Errorf("source %q names no host", RedactURL(rawURL)))
		}
		return location{kind: kindHTTP, raw: rawURL, u: u}, nil
	}
	return location{}, Fatal(fmt.Errorf("unsupported source scheme %q (want docker://, oci-archive:, oci:, http(s)://, s3://, file://, blank:)", scheme))
}

// s3Location splits host/bucket/key out of an S3 URL.
func s3Location(rawURL string, u *url.URL) (location, error) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if u.Host == "" || bucket == "" || key == "" {
		return location{}, Fatal(fmt.Errorf("S3 URL %q names no object: want s3://host/bucket/key", RedactURL(rawURL)))
	}
	return location{kind: kindS3, raw: rawURL, u: u, bucket: bucket, key: key}, nil
}

// RedactURL drops the user info (credentials) and query of a URL for messages.
func RedactURL(raw string) string {
	raw, _, _ = strings.Cut(raw, "#")
	raw, _, _ = strings.Cut(raw, "?")
	prefix, rest := "", raw
	switch i := strings.Index(raw, "://"); {
	case i >= 0:
		prefix, rest = raw[:i+3], raw[i+3:]
	case strings.HasPrefix(raw, "//"): // scheme-relative
		prefix, rest = "//", raw[2:]
	default:
		return raw
	}
	authority, path, slash := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		authority = authority[at+1:]
	}
	if slash {
		return prefix + authority + "/" + path
	}
	return prefix + authority
}

// fatalError marks an error that a rerun cannot fix.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }
func (e fatalError) Unwrap() error { return e.err }
func (e fatalError) Fatal() bool   { return true }

// Fatal marks err as permanent: bad input that a rerun will not fix. Fatal(nil) is nil.
func Fatal(err error) error {
	if err == nil {
		return nil
	}
	return fatalError{err}
}

// IsFatal reports whether any error in err's chain says it is permanent (has a Fatal() bool method returning true).
func IsFatal(err error) bool {
	var f interface{ Fatal() bool }
	return errors.As(err, &f) && f.Fatal()
}

// NewStream wraps a single-use stream (for example a registry layer) as an Image without random access.
func NewStream(name string, size int64, digest string, labels map[string]string, rc io.ReadCloser) *Image {
	used := false
	return &Image{Name: name, Size: size, Digest: digest, Labels: labels,
		open: func(context.Context) (io.ReadCloser, error) {
			if used {
				return nil, fmt.Errorf("%s cannot be streamed twice", name)
			}
			used = true
			return rc, nil
		},
		close: rc.Close,
	}
}
