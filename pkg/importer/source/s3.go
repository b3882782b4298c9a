package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// openS3 opens s3://host[:port]/bucket/key (TLS) or, with WithS3, http(s)://host[:port]/bucket/key.
// Credentials come from WithBasicAuth (access key, secret key); without them requests are anonymous.
func openS3(ctx context.Context, loc location, o *options) (*Image, error) {
	u, bucket, key := loc.u, loc.bucket, loc.key
	rt, err := o.httpTransport()
	if err != nil {
		return nil, err
	}
	creds := credentials.NewStatic("", "", "", credentials.SignatureAnonymous)
	if o.user != "" {
		creds = credentials.NewStaticV4(o.user, o.pass, "")
	}
	client, err := minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme != "http", Transport: rt,
		Region: o.region, BucketLookup: minio.BucketLookupPath, MaxRetries: max(o.retries, 1)})
	if err != nil {
		return nil, Fatal(fmt.Errorf("S3 client for %s: %w", u.Host, err))
	}
	name := "s3://" + u.Host + "/" + bucket + "/" + key
	info, err := client.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return nil, s3Error(name, err)
	}
	obj, err := client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s3Error(name, err)
	}
	at := &s3ReaderAt{obj: obj, name: name}
	return &Image{
		Name: name, Size: info.Size, At: at,
		open: func(ctx context.Context) (io.ReadCloser, error) {
			o, err := client.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
			if err != nil {
				return nil, s3Error(name, err)
			}
			return &s3Stream{obj: o, name: name}, nil
		},
		close: obj.Close,
	}, nil
}

// s3Error names the object and marks missing objects and denied access as fatal.
func s3Error(name string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.Code == "NoSuchKey" || resp.Code == "NoSuchBucket":
		return Fatal(fmt.Errorf("%s: not found (%s)", name, resp.Code))
	case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized:
		return Fatal(fmt.Errorf("%s: access denied (%s), check the access and secret key", name, resp.Code))
	}
	return fmt.Errorf("%s: %w", name, err)
}

// s3ReaderAt adapts a minio object to io.ReaderAt with classified errors.
type s3ReaderAt struct {
	obj  *minio.Object
	name string
}

func (r *s3ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.obj.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		err = s3Error(r.name, err)
	}
	return n, err
}

// s3Stream adapts a minio object to a sequential reader with classified errors.
type s3Stream struct {
	obj  *minio.Object
	name string
}

func (r *s3Stream) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = s3Error(r.name, err)
	}
	return n, err
}

func (r *s3Stream) Close() error { return r.obj.Close() }
