package driver

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"google.golang.org/grpc"
)

// sanityAccessEnv selects the access type ("mount" or "block") TestSanity
// runs the suite with. Ginkgo runs one suite per process, so TestSanityBlock
// re-runs this test binary with it set.
const sanityAccessEnv = "CSIHOSTPATH_SANITY_ACCESS_TYPE"

// skipUnlessRoot skips tests that publish volumes: they bind-mount and attach
// loop devices, which needs root.
func skipUnlessRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: publishing volumes needs mount(2) and loop devices")
	}
}

// startDriver serves a driver with its data in dir on dir/csi.sock and
// returns the driver and the socket path.
func startDriver(t *testing.T, dir string) (*Driver, string) {
	t.Helper()
	d, err := New(Config{Name: "hostpath.csi.goldimage.io", NodeID: "sanity-node", DataDir: filepath.Join(dir, "data"), MaxVolumeSize: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "csi.sock")
	lis, err := ListenUnix(sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := d.NewGRPCServer()
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return d, sock
}

// TestSanity runs csi-test's sanity suite against the driver on a unix
// socket, with filesystem volumes unless sanityAccessEnv says block.
func TestSanity(t *testing.T) {
	skipUnlessRoot(t)
	access := os.Getenv(sanityAccessEnv)
	if access == "" {
		access = accessMount
	}
	dir := t.TempDir()
	d, sock := startDriver(t, dir)

	cfg := sanity.NewTestConfig()
	// csi-test v5.4.0's utils.Connect waits for a change away from the first
	// state it observes; a connection to an in-process server can already be
	// Ready by then, and Connect then times out after a minute. A passthrough
	// address keeps Connect from installing its own unix dialer, and ours
	// dials a moment late so the first observed state is Connecting.
	dialer := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		time.Sleep(50 * time.Millisecond)
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	})
	cfg.Address = "passthrough:///csi-hostpath"
	cfg.DialOptions = append(cfg.DialOptions, dialer)
	cfg.ControllerDialOptions = append(cfg.ControllerDialOptions, dialer)
	cfg.TargetPath = filepath.Join(dir, "target")
	cfg.StagingPath = filepath.Join(dir, "staging")
	cfg.TestVolumeAccessType = access
	cfg.TestVolumeSize = 64 << 20
	cfg.TestVolumeExpandSize = 128 << 20
	cfg.IdempotentCount = 3
	// Nothing needs skipping: every case applies to a single-node driver, and
	// cases for RPCs this driver does not offer skip themselves after
	// checking the advertised capabilities.
	sanity.Test(t, cfg)

	d.mu.Lock()
	defer d.mu.Unlock()
	for id, v := range d.store.volumes {
		t.Errorf("volume %s (%s) left behind, published at %v", id, v.Name, v.Published)
	}
	for id := range d.store.snapshots {
		t.Errorf("snapshot %s left behind", id)
	}
}

// TestSanityBlock runs TestSanity again in a child process with block volumes.
func TestSanityBlock(t *testing.T) {
	skipUnlessRoot(t)
	if os.Getenv(sanityAccessEnv) != "" {
		t.Skip("already the child run")
	}
	args := []string{"-test.run=^TestSanity$", "-test.timeout=10m"}
	if testing.Verbose() {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), sanityAccessEnv+"="+accessBlock)
	out, err := cmd.CombinedOutput()
	if err != nil || testing.Verbose() {
		os.Stdout.Write(out)
	}
	if err != nil {
		t.Fatalf("sanity suite with block volumes: %v", err)
	}
}
