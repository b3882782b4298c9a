package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	ggcr "github.com/google/go-containerregistry/pkg/registry"
)

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"LocalHost", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"10.0.0.5", false},
		{"172.16.0.1", false},
		{"192.168.1.10", false},
		{"localhost.example.com", false},
		{"registry.example.com", false},
		{"::ffff:10.0.0.5", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

// netnsChild marks the copy of the test binary that runs inside its own network namespace.
const netnsChild = "GOLDIMAGE_REGISTRY_NETNS_CHILD"

// privateAddr is a private (RFC 1918) address that exists only inside the child's network namespace.
const privateAddr = "10.123.0.1"

// TestPlainHTTPOnlyForListedHosts serves a plain-HTTP registry on a private address, which
// go-containerregistry would reach over plain HTTP on its own: the client must refuse it (sending
// nothing to it, so no credentials) unless the host is listed insecure. The private address lives in
// a network namespace made for the test (this test binary runs again inside it), so no traffic
// leaves the namespace; the test skips where namespaces cannot be made.
func TestPlainHTTPOnlyForListedHosts(t *testing.T) {
	if os.Getenv(netnsChild) == "" {
		runInNetns(t, "^TestPlainHTTPOnlyForListedHosts$")
		return
	}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"addr", "add", privateAddr + "/32", "dev", "lo"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Skipf("set up the namespace: ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	host, seen := servePlainRegistry(t)
	ctx := context.Background()
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, []byte("golden disk"), 0o600); err != nil {
		t.Fatal(err)
	}
	listed, err := New(WithBasicAuth("tester", "pw-listed"), WithInsecureRegistries(host))
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := listed.Push(ctx, host+"/goldimage/disk:v1", disk)
	if err != nil {
		t.Fatalf("push to a registry listed insecure: %v", err)
	}
	if got, err := listed.Digest(ctx, host+"/goldimage/disk:v1"); err != nil || got != pushed {
		t.Fatalf("digest with the host listed = %s, %v; want %s", got, err, pushed)
	}

	before := seen.Load()
	unlisted, err := New(WithBasicAuth("tester", "pw-unlisted"), WithRetry(1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = unlisted.Digest(ctx, host+"/goldimage/disk:v1")
	want := "registry " + host + " answered only over plain HTTP; list it as insecure to allow that"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("digest without the host listed: err = %v; want it to say %q", err, want)
	}
	if IsRetryable(err) || strings.Contains(err.Error(), "pw-unlisted") {
		t.Errorf("refusal %v: want a fatal error that does not quote the password", err)
	}
	if n := seen.Load() - before; n != 0 {
		t.Errorf("registry handled %d plain-HTTP requests from the client that did not list it", n)
	}
}

// servePlainRegistry starts go-containerregistry's registry over plain HTTP on privateAddr and
// returns its host:port and a count of the requests it handled.
func servePlainRegistry(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", privateAddr+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", privateAddr, err)
	}
	var seen atomic.Int64
	reg := ggcr.New(ggcr.Logger(discardLog()))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		reg.ServeHTTP(w, r)
	}), ErrorLog: discardLog()}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String(), &seen
}

// runInNetns runs the tests matching pattern in a copy of this test binary inside a new network
// namespace (and a user namespace when not root), and fails or skips as that copy did.
func runInNetns(t *testing.T, pattern string) {
	t.Helper()
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs the ip command (iproute2) to set up a network namespace")
	}
	cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), netnsChild+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if os.Geteuid() != 0 {
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err != nil && !errors.As(err, &exit):
		t.Skipf("cannot make a network namespace here (needs root or user namespaces): %v", err)
	case err != nil:
		t.Fatalf("in its own network namespace: %v\n%s", err, out)
	case strings.Contains(string(out), "--- SKIP"):
		t.Skipf("skipped in its own network namespace:\n%s", out)
	case !strings.Contains(string(out), "--- PASS"):
		t.Fatalf("in its own network namespace: no test ran:\n%s", out)
	}
	t.Logf("in its own network namespace:\n%s", out)
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
