package registry_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// diskBytes returns n pseudo-random bytes with compressible runs, like a real disk.
func diskBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		if r.IntN(3) == 0 {
			end := min(i+4096, n)
			for j := i; j < end; j++ {
				b[j] = byte(r.Uint32())
			}
		}
	}
	return b
}

func writeFile(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readDisk(t *testing.T, d *registry.Disk) []byte {
	t.Helper()
	got, err := io.ReadAll(d)
	if err != nil {
		t.Fatalf("read disk: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("close disk: %v", err)
	}
	return got
}

func TestPushPullRoundTrip(t *testing.T) {
	disk := diskBytes(1, 3<<20+123)
	tests := []struct {
		name string
		auth registrytest.Auth
		opts []registry.PushOption
	}{
		{"bearer gzip oci", registrytest.Bearer, nil},
		{"basic zstd oci", registrytest.Basic, []registry.PushOption{registry.WithCompression(registry.Zstd)}},
		{"anonymous gzip docker", registrytest.Anonymous, []registry.PushOption{registry.WithDockerMediaTypes()}},
		{"gzip level 6", registrytest.Bearer, []registry.PushOption{registry.WithCompressionLevel(6)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := registrytest.New(t, registrytest.WithAuth(tt.auth))
			env := map[string]string{"KUBEVIRT_IO_OS": "fedora", "OTHER": "x"}
			opts := append([]registry.PushOption{registry.WithEnv(env)}, tt.opts...)
			pushed := s.PushDisk(t, "disks/fedora:41", disk, opts...)
			d, err := s.Client(t).Pull(context.Background(), "docker://"+s.Ref("disks/fedora:41"))
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			if d.Name != "disk/disk.img" || d.Size != int64(len(disk)) || d.Digest != pushed {
				t.Errorf("disk = %q, %d bytes, %s; want disk/disk.img, %d bytes, %s", d.Name, d.Size, d.Digest, len(disk), pushed)
			}
			if len(d.Labels) != 1 || d.Labels["KUBEVIRT_IO_OS"] != "fedora" {
				t.Errorf("labels = %v, want only KUBEVIRT_IO_OS=fedora", d.Labels)
			}
			if got := readDisk(t, d); !bytes.Equal(got, disk) {
				t.Errorf("pulled %d bytes differing from the %d pushed", len(got), len(disk))
			}
		})
	}
}

func TestPushIsReproducible(t *testing.T) {
	s := registrytest.New(t)
	c := s.Client(t)
	qcow := append([]byte("QFI\xfb"), diskBytes(2, 1<<20)...)
	p := writeFile(t, qcow)
	scratch := t.TempDir()
	for _, comp := range []registry.Compression{registry.Gzip, registry.Zstd} {
		a, err := c.Push(context.Background(), s.Ref("a/"+string(comp)+":1"), p, registry.WithCompression(comp))
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.Push(context.Background(), s.Ref("b/"+string(comp)+":1"), p, registry.WithCompression(comp),
			registry.WithScratchDir(scratch))
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%s: pushing the same disk twice (the second time through a scratch file) gave %s and %s", comp, a, b)
		}
	}
	if left, _ := os.ReadDir(scratch); len(left) != 0 {
		t.Errorf("push left %d files in the scratch directory", len(left))
	}
	d, err := c.Pull(context.Background(), s.Ref("a/gzip:1"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "disk/disk.qcow2" {
		t.Errorf("qcow2 content stored as %s, want disk/disk.qcow2", d.Name)
	}
	if got := readDisk(t, d); !bytes.Equal(got, qcow) {
		t.Error("qcow2 bytes changed on the way")
	}
}

func TestPushSkipsWhenChecksumMatches(t *testing.T) {
	s := registrytest.New(t)
	c := s.Client(t)
	p := writeFile(t, diskBytes(3, 1<<20))
	first, err := c.Push(context.Background(), s.Ref("skip/disk:latest"), p)
	if err != nil {
		t.Fatal(err)
	}
	s.Reset()
	again, err := c.Push(context.Background(), s.Ref("skip/disk:latest"), p, registry.WithCreated(time.Unix(1e9, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if again != first || s.Count("PUT", registrytest.KindManifest) != 0 || s.Count("POST", registrytest.KindUpload) != 0 {
		t.Errorf("second push of the same disk: digest %s (first %s), %d manifest PUTs, %d uploads; want a skip",
			again, first, s.Count("PUT", registrytest.KindManifest), s.Count("POST", registrytest.KindUpload))
	}
	other := writeFile(t, diskBytes(4, 1<<20))
	changed, err := c.Push(context.Background(), s.Ref("skip/disk:latest"), other)
	if err != nil {
		t.Fatal(err)
	}
	if changed == first || s.Count("PUT", registrytest.KindManifest) != 1 {
		t.Errorf("push of a different disk: digest %s, %d manifest PUTs; want a new digest and one PUT", changed, s.Count("PUT", registrytest.KindManifest))
	}
	s.Reset()
	forced, err := c.Push(context.Background(), s.Ref("skip/disk:latest"), other, registry.WithForce())
	if err != nil || forced != changed || s.Count("GET", registrytest.KindManifest) != 0 {
		t.Errorf("forced push: %s, %v, %d manifest GETs; want %s without the checksum lookup", forced, err, s.Count("GET", registrytest.KindManifest), changed)
	}
}

func TestPushRejectsBadOptions(t *testing.T) {
	s := registrytest.New(t)
	c := s.Client(t)
	p := writeFile(t, []byte("disk"))
	empty := writeFile(t, nil)
	tests := []struct {
		name, path, want string
		opts             []registry.PushOption
	}{
		{"zstd with docker types", p, "zstd layers need OCI media types", []registry.PushOption{registry.WithCompression(registry.Zstd), registry.WithDockerMediaTypes()}},
		{"unknown compression", p, `unknown compression "xz"`, []registry.PushOption{registry.WithCompression("xz")}},
		{"gzip level", p, "gzip level 10 is outside 1-9", []registry.PushOption{registry.WithCompressionLevel(10)}},
		{"file name with slash", p, "must be a plain file name", []registry.PushOption{registry.WithFileName("../x")}},
		{"missing file", p + ".missing", "no such file", nil},
		{"empty file", empty, "is empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Push(context.Background(), s.Ref("bad/opts:1"), tt.path, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDigestSendsOneHead(t *testing.T) {
	s := registrytest.New(t)
	pushed := s.PushDisk(t, "head/disk:v1", diskBytes(5, 64<<10))
	c := s.Client(t)
	s.Reset()
	for range 3 {
		got, err := c.Digest(context.Background(), s.Ref("head/disk:v1"))
		if err != nil {
			t.Fatal(err)
		}
		if got != pushed {
			t.Fatalf("digest = %s, want %s", got, pushed)
		}
	}
	if h, g, tok := s.Count("HEAD", registrytest.KindManifest), s.Count("GET", registrytest.KindManifest), s.Count("GET", registrytest.KindToken); h != 3 || g != 0 || tok != 1 {
		t.Errorf("3 Digest calls sent %d HEAD, %d GET manifest requests and %d token requests; want 3, 0, 1", h, g, tok)
	}
}

func TestDigestFallsBackToGet(t *testing.T) {
	s := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	pushed := s.PushDisk(t, "fallback/disk:v1", diskBytes(6, 64<<10))
	s.Reset()
	s.Fail(registrytest.KindManifest, 1, 405, "")
	got, err := s.Client(t).Digest(context.Background(), s.Ref("fallback/disk:v1"))
	if err != nil || got != pushed {
		t.Fatalf("digest = %s, %v; want %s", got, err, pushed)
	}
	if h, g := s.Count("HEAD", registrytest.KindManifest), s.Count("GET", registrytest.KindManifest); h != 1 || g != 1 {
		t.Errorf("sent %d HEAD and %d GET manifest requests; want 1 and 1", h, g)
	}
}

func TestDigestOfIndexPinsPlatformManifest(t *testing.T) {
	s := registrytest.New(t)
	amd, arm := diskBytes(7, 256<<10), diskBytes(8, 200<<10)
	ref := s.Ref("multi/disk:v1")
	push := s.Client(t)
	index, err := push.PushIndex(context.Background(), ref, []registry.PlatformDisk{
		{Platform: "linux/amd64", Path: writeFile(t, amd)}, {Platform: "linux/arm64", Path: writeFile(t, arm)}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client(t, registry.WithPlatform("linux/arm64"))
	s.Reset()
	got, err := c.Digest(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if got == index {
		t.Fatalf("Digest returned the index digest %s, want the linux/arm64 manifest", index)
	}
	if h, g := s.Count("HEAD", registrytest.KindManifest), s.Count("GET", registrytest.KindManifest); h != 1 || g != 1 {
		t.Errorf("first Digest of an index: %d HEAD, %d GET; want 1 and 1", h, g)
	}
	s.Reset()
	if again, err := c.Digest(context.Background(), ref); err != nil || again != got {
		t.Fatalf("second Digest = %s, %v; want %s", again, err, got)
	}
	if h, g := s.Count("HEAD", registrytest.KindManifest), s.Count("GET", registrytest.KindManifest); h != 1 || g != 0 {
		t.Errorf("second Digest of an unchanged index: %d HEAD, %d GET; want 1 and 0", h, g)
	}
	d, err := c.Pull(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != got {
		t.Errorf("Pull's digest %s differs from Digest's %s", d.Digest, got)
	}
	if b := readDisk(t, d); !bytes.Equal(b, arm) {
		t.Error("pulled the wrong platform's disk")
	}
	byDigest, err := c.Pull(context.Background(), s.Ref("multi/disk@"+got))
	if err != nil {
		t.Fatal(err)
	}
	if b := readDisk(t, byDigest); !bytes.Equal(b, arm) {
		t.Error("pull by the pinned digest gave other bytes")
	}
	_, err = s.Client(t, registry.WithPlatform("linux/s390x")).Digest(context.Background(), ref)
	if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("digest for a missing platform: %v; want ErrNotFound listing the platforms", err)
	}
}

func TestDigestCallsCollapse(t *testing.T) {
	const callers = 8
	release := make(chan struct{})
	var joined sync.WaitGroup
	joined.Add(callers)
	var once sync.Once
	s := registrytest.New(t, registrytest.WithHook(func(method, kind string) {
		if method == "HEAD" && kind == registrytest.KindManifest {
			<-release
		}
	}))
	close(release) // let the push through
	pushed := s.PushDisk(t, "flight/disk:v1", diskBytes(9, 64<<10))
	release = make(chan struct{})
	c := s.Client(t, registry.WithJoinHook(func() { joined.Done() }))
	go func() { joined.Wait(); once.Do(func() { close(release) }) }()
	s.Reset()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			d, err := c.Digest(context.Background(), s.Ref("flight/disk:v1"))
			if err == nil && d != pushed {
				err = errors.New("wrong digest " + d)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if h := s.Count("HEAD", registrytest.KindManifest); h != 1 {
		t.Errorf("%d concurrent identical Digest calls sent %d HEAD requests, want 1", callers, h)
	}
}

func writeFileIn(t *testing.T, dir string, b []byte) string {
	t.Helper()
	p := dir + "/disk.img"
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
