// Command demo runs goldimage's main job on the embedded default, with nothing but this machine:
// it serves an in-process registry on loopback, publishes three versions of a generated qcow2
// containerDisk, and after each push runs `cron-controller --local` once. It checks that the
// DataSource's `current` link moves to the new import, that its bytes equal the published disk,
// and that garbage collection keeps importsToKeep imports. It exits non-zero when any check fails.
//
// Usage (hack/demo.sh builds the binaries and calls it):
//
//	demo --cron-controller PATH [--dir .cache/demo]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/goldimage/goldimage/pkg/registry"
)

const (
	namespace  = "default"
	dataSource = "demo-os"
	repo       = "containerdisks/demo-os:latest"
	keep       = 2
)

func main() {
	controller := flag.String("cron-controller", "", "path of the cron-controller binary")
	dir := flag.String("dir", ".cache/demo", "work directory (removed and recreated)")
	flag.Parse()
	if *controller == "" {
		log.Fatal("demo: --cron-controller is required")
	}
	if err := run(context.Background(), *controller, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "demo: FAILED:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, controller, dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	d := demoDirs{root: dir}
	for _, p := range []string{d.crons(), d.disks(), d.store()} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	host, stop, err := serveRegistry()
	if err != nil {
		return err
	}
	defer stop()
	client, err := registry.New(registry.WithInsecureRegistries(host))
	if err != nil {
		return err
	}
	ref := host + "/" + repo
	if err := writeCron(d.crons(), ref); err != nil {
		return err
	}
	fmt.Printf("registry on %s; DataImportCron in %s; store %s\n\n", host, d.crons(), d.store())
	for v := 1; v <= 3; v++ {
		if err := publishAndImport(ctx, client, controller, d, host, v); err != nil {
			return fmt.Errorf("version %d: %w", v, err)
		}
	}
	fmt.Printf("\ndemo passed: each push was imported, verified byte for byte, and GC kept %d imports\n", keep)
	return nil
}

// publishAndImport pushes disk version v, runs one local-mode round and checks the store.
func publishAndImport(ctx context.Context, client *registry.Client, controller string, d demoDirs, host string, v int) error {
	ref := host + "/" + repo
	raw, qcow := filepath.Join(d.disks(), fmt.Sprintf("v%d.raw", v)), filepath.Join(d.disks(), fmt.Sprintf("v%d.qcow2", v))
	if err := generateDisk(ctx, raw, qcow, v); err != nil {
		return err
	}
	digest, err := client.Push(ctx, ref, qcow)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	fmt.Printf("== pushed v%d as %s (%s)\n", v, ref, digest)
	cmd := exec.CommandContext(ctx, controller, "--local", d.crons(), "--store", d.store(), "--once",
		"--insecure-registries", host)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cron-controller --local --once: %w", err)
	}
	return verifyStore(d.source(), raw, v)
}

// serveRegistry starts go-containerregistry's in-memory registry on a loopback port.
func serveRegistry() (host string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), func() { _ = srv.Close() }, nil
}

func writeCron(dir, ref string) error {
	manifest := fmt.Sprintf(`apiVersion: cdi.kubevirt.io/v1beta1
kind: DataImportCron
metadata:
  name: %[1]s-cron
  namespace: %[2]s
spec:
  schedule: "0 */12 * * *"
  managedDataSource: %[1]s
  importsToKeep: %[3]d
  garbageCollect: Outdated
  template:
    spec:
      source:
        registry:
          url: docker://%[4]s
      storage:
        resources:
          requests:
            storage: 1Gi
`, dataSource, namespace, keep, ref)
	return os.WriteFile(filepath.Join(dir, "demo-os.yaml"), []byte(manifest), 0o644)
}

// demoDirs names the demo's directories under root.
type demoDirs struct{ root string }

func (d demoDirs) crons() string  { return filepath.Join(d.root, "crons") }
func (d demoDirs) disks() string  { return filepath.Join(d.root, "disks") }
func (d demoDirs) store() string  { return filepath.Join(d.root, "store") }
func (d demoDirs) source() string { return filepath.Join(d.store(), namespace, dataSource) }
