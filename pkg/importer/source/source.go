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
	if isContainerDisk(rawURL) {
		return OpenContainerDisk(ctx, rawURL, opts...)
	}
	o := newOptions(opts)
	scheme, _, ok := strings.Cut(rawURL, ":")
	if !ok {
		return nil, Fatal(fmt.Errorf("source %q has no scheme (want docker://, oci-archive:, http(s)://, s3://, file://)", rawURL))
	}
	switch strings.ToLower(scheme) {
	case "file":
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, Fatal(fmt.Errorf("parse source URL: %w", err))
		}
		return OpenFile(u.Path)
	case "http", "https":
		if o.s3 {
			return openS3(ctx, rawURL, o)
		}
		return openHTTP(ctx, rawURL, o)
	case "s3":
		return openS3(ctx, rawURL, o)
	default:
		return nil, Fatal(fmt.Errorf("unsupported source scheme %q (want docker://, oci-archive:, oci:, http(s)://, s3://, file://, blank:)", scheme))
	}
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
