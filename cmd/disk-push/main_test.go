package main

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

func TestRunRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage: disk-push"},
		{[]string{"--disk", "d"}, "usage: disk-push"},
		{[]string{"--disk", "d", "--image", "r/x", "--format", "vmdk"}, `format "vmdk"`},
		{[]string{"--disk", "d", "--image", "r/x", "--docker-config", dir}, "no .dockerconfigjson, config.json or .dockercfg in"},
		{[]string{"--disk", "d", "--image", "::", "--insecure"}, `image reference "::"`},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) error %v, want %q", tt.args, err, tt.want)
		}
	}
}

// TestRunWritesResults pushes a small raw disk to an in-process registry and checks the result files.
func TestRunWritesResults(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, []byte(strings.Repeat("disk", 1024)), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := filepath.Join(dir, "creds")
	if err := os.Mkdir(creds, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(creds, ".dockerconfigjson"), []byte(`{"auths":{"example.com":{"auth":"dTpw"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	digestFile, urlFile := filepath.Join(dir, "digest"), filepath.Join(dir, "url")
	err := run(context.Background(), []string{"--disk", disk, "--image", host + "/golden/tiny:v1", "--insecure",
		"--docker-config", creds, "--format", "as-is", "--digest-file", digestFile, "--url-file", urlFile}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	digest, _ := os.ReadFile(digestFile)
	url, _ := os.ReadFile(urlFile)
	if !strings.HasPrefix(string(digest), "sha256:") || string(url) != host+"/golden/tiny@"+string(digest) {
		t.Fatalf("digest %q url %q", digest, url)
	}
}
