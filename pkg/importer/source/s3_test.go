package source

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// startS3 runs an in-process S3 server over TLS holding bucket/key = data and returns its host and a CA directory.
func startS3(t *testing.T, bucket, key string, data []byte) (host, caDir string) {
	t.Helper()
	srv := httptest.NewTLSServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "https://")
	client, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4("key", "secret", ""), Secure: true,
		Transport: srv.Client().Transport, BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutObject(ctx, bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	caDir = t.TempDir()
	writeCA(t, caDir, srv)
	return host, caDir
}

func TestS3RandomAccessAndStream(t *testing.T) {
	data := randomBytes(t, 2<<20+7)
	host, ca := startS3(t, "images", "fedora/disk.qcow2", data)
	ctx := context.Background()
	im, err := Open(ctx, "s3://"+host+"/images/fedora/disk.qcow2", WithCADir(ca), WithBasicAuth("key", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if im.Size != int64(len(data)) || im.At == nil {
		t.Fatalf("size %d random access %v; want %d and true", im.Size, im.At != nil, len(data))
	}
	buf := make([]byte, 1000)
	if _, err := im.At.ReadAt(buf, 1<<20); err != nil || !bytes.Equal(buf, data[1<<20:1<<20+1000]) {
		t.Fatalf("ReadAt: %v or bytes differ", err)
	}
	rc, err := im.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stream: %v or bytes differ", err)
	}
}

func TestS3Errors(t *testing.T) {
	host, ca := startS3(t, "images", "disk.img", []byte("x"))
	tests := []struct {
		name, url string
		fatal     bool
	}{
		{"missing key", "s3://" + host + "/images/nope.img", true},
		{"missing bucket", "s3://" + host + "/other/disk.img", true},
		{"no key in URL", "s3://" + host + "/images", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(context.Background(), tt.url, WithCADir(ca))
			if err == nil || IsFatal(err) != tt.fatal {
				t.Fatalf("error %v, want fatal=%v", err, tt.fatal)
			}
		})
	}
}
