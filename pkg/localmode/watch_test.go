package localmode

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestWatchReloadsManifests runs Watch over a manifest directory whose Secret holds a wrong password,
// fixes the file, and expects the import without a restart; a broken edit keeps the last good manifests.
func TestWatchReloadsManifests(t *testing.T) {
	const pw = "pw-Rel0ad"
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Basic), registrytest.WithCredentials("robot", pw))
	disk := randomDisk(t)
	reg.PushDisk(t, "os/fedora:latest", disk)
	dir, store := t.TempDir(), t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("cron.yaml", cronYAML("private-cron", "private", reg.Ref("os/fedora:latest"), "creds", ""))
	write("secret.yaml", secretYAML("creds", "default", "robot", pw+"x", false))

	var log syncBuffer
	r := New(store, cron.NewPoller(cron.RegistryResolvers(t.TempDir())), realImporter(t.TempDir()), WithTempDir(t.TempDir()), WithLog(&log))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx, func() (*Manifests, error) { return Load(dir) }, 20*time.Millisecond) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v after cancel", err)
		}
	}()

	waitFor(t, "a round failing with 401", func() bool { return strings.Contains(log.String(), "401 Unauthorized") })
	write("broken.yaml", "kind: [")
	waitFor(t, "the broken manifest reported", func() bool { return strings.Contains(log.String(), "keeping the last good ones") })
	if err := os.Remove(filepath.Join(dir, "broken.yaml")); err != nil {
		t.Fatal(err)
	}
	write("secret.yaml", secretYAML("creds", "default", "robot", pw, false))
	current := filepath.Join(store, "default", "private", "current")
	waitFor(t, "the import with the fixed Secret", func() bool {
		got, err := os.ReadFile(current)
		return err == nil && bytes.Equal(got, disk)
	})
}

// waitFor polls cond until it holds; the deadline only stops a test that would hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
