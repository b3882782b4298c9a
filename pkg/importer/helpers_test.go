package importer

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"

	"encoding/pem"
	"path/filepath"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

type syscallStat = syscall.Stat_t

// allocated returns the bytes allocated on disk for path.
func allocated(t *testing.T, path string, st *syscall.Stat_t) int64 {
	t.Helper()
	if err := syscall.Stat(path, st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}

// startS3 runs an in-process S3 server over TLS with bucket "images" holding objects; it returns host and CA dir.
func startS3(t *testing.T, objects map[string][]byte) (string, string) {
	t.Helper()
	srv := httptest.NewTLSServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	client, err := minio.New(host, &minio.Options{Creds: credentials.NewStaticV4("k", "s", ""), Secure: true,
		Transport: srv.Client().Transport, BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.MakeBucket(ctx, "images", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	for key, data := range objects {
		if _, err := client.PutObject(ctx, "images", key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return host, dir
}
