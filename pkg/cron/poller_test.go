package cron

import (
	"context"
	"crypto/rand"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// manifestRequests counts HEAD and GET manifest requests the test registry saw.
func manifestRequests(s *registrytest.Server) int {
	return s.Count("HEAD", registrytest.KindManifest) + s.Count("GET", registrytest.KindManifest)
}

func pushDisk(t testing.TB, s *registrytest.Server, repoAndTag string) string {
	t.Helper()
	disk := make([]byte, 4096)
	if _, err := rand.Read(disk); err != nil {
		t.Fatal(err)
	}
	d := s.PushDisk(t, repoAndTag, disk)
	s.Reset()
	return d
}

func TestPollerSharesIdenticalPolls(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Basic))
	want := pushDisk(t, reg, "os/fedora:latest")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewPoller(RegistryResolvers(t.TempDir()), WithClock(func() time.Time { return now }), WithShareWindow(time.Minute))
	creds := Credentials{Username: reg.Username, Password: reg.Password}
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		advance  time.Duration
		creds    Credentials
		requests int
		refresh  bool
		wantErr  string
	}{
		{name: "first poll asks", creds: creds, requests: 1},
		{name: "same tick shares", advance: time.Second, creds: creds},
		{name: "other credentials ask", creds: Credentials{Username: reg.Username, Password: "wrong"}, requests: 1, wantErr: "os/fedora"},
		{name: "forced poll asks", creds: creds, requests: 1, refresh: true},
		{name: "next tick asks again", advance: time.Minute, creds: creds, requests: 1},
	} {
		now = now.Add(tc.advance)
		before := manifestRequests(reg)
		digest := p.Digest
		if tc.refresh {
			digest = p.Refresh
		}
		got, err := digest(ctx, reg.Ref("os/fedora:latest"), tc.creds)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err = %v, want one naming %q", tc.name, err, tc.wantErr)
			}
		} else if err != nil || got != want {
			t.Errorf("%s: Digest = %q, %v; want %q", tc.name, got, err, want)
		}
		if n := manifestRequests(reg) - before; n > tc.requests || (tc.requests > 0 && n == 0) {
			t.Errorf("%s: %d manifest requests, want %d", tc.name, n, tc.requests)
		}
	}
}

func TestPollerBadCABundle(t *testing.T) {
	p := NewPoller(RegistryResolvers(t.TempDir()))
	_, err := p.Digest(context.Background(), "127.0.0.1:1/x:latest", Credentials{CACerts: "not pem"})
	if err == nil {
		t.Fatal("Digest with a CA bundle holding no certificate succeeded")
	}
	t.Logf("error: %v", err)
}

// TestScaleThousandCrons polls 1,000 crons over 20 images in one tick, as the controller's workers would, and
// checks that the registry sees one manifest request per image; it reports the heap the poller holds.
func TestScaleThousandCrons(t *testing.T) {
	const crons, images = 1000, 20
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	digests := make([]string, images)
	for i := range digests {
		digests[i] = pushDisk(t, reg, fmt.Sprintf("os/image%02d:latest", i))
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	p := NewPoller(RegistryResolvers(t.TempDir()))
	sem := make(chan struct{}, 16) // controller workers
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range crons {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			img := i % images
			d, err := p.Digest(context.Background(), reg.Ref(fmt.Sprintf("os/image%02d:latest", img)), Credentials{})
			if err != nil || d != digests[img] {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if n := wrong.Load(); n > 0 {
		t.Errorf("%d of %d polls returned a wrong digest or an error", n, crons)
	}
	if got := manifestRequests(reg); got != images {
		t.Errorf("registry saw %d manifest requests for %d crons over %d images in one tick, want %d", got, crons, images, images)
	}
	runtime.KeepAlive(p)
	t.Logf("%d crons, %d images: %d manifest requests in one tick; heap held after the tick %+d KiB",
		crons, images, manifestRequests(reg), (int64(after.HeapAlloc)-int64(before.HeapAlloc))/1024)
}
