package goldenimage

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/importer"
	"github.com/goldimage/goldimage/pkg/localmode"
	"github.com/goldimage/goldimage/pkg/qemu"
	"github.com/goldimage/goldimage/pkg/qemu/qemutest"
	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/tasks/diskpush"
)

func TestISOToContainerDiskToImport(t *testing.T) {
	installISO := qemutest.StandInISO(t)
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed: run hack/install-deps.sh")
	}
	ctx := context.Background()
	dir := t.TempDir()

	// build-from-iso: the stand-in installer writes the disk and powers off.
	disk := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(disk, 64<<20); err != nil {
		t.Fatal(err)
	}
	answerCD := filepath.Join(dir, "answer.iso")
	if err := qemu.MakeCD(ctx, answerCD, "ANSWER", qemutest.AnswerDir(t, "hostname=golden-loop\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := qemu.Install(ctx, disk, installISO, qemu.WithAccel(qemu.AccelTCG), qemu.WithMemory(512),
		qemu.WithCDROM(answerCD), qemu.WithTimeout(5*time.Minute)); err != nil {
		t.Fatal(err)
	}

	// disk-push: qcow2 containerDisk to a registry on loopback.
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	client, err := registry.New()
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/golden/standin:latest"
	pushed, err := diskpush.Publish(ctx, client, ref, disk, diskpush.WithScratchDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !pushed.Converted {
		t.Error("the raw disk was pushed without conversion to qcow2")
	}
	digest, err := client.Digest(ctx, ref)
	if err != nil || digest != pushed.Digest {
		t.Fatalf("registry resolves %s to %s, %v; the push returned %s", ref, digest, err, pushed.Digest)
	}

	// A DataImportCron in local mode polls the tag, imports the new digest and points its DataSource at it.
	imported := importWithDataImportCron(t, ref, pushed.Digest)
	if out, err := exec.Command("qemu-img", "compare", "-f", "raw", "-F", "raw", disk, imported).CombinedOutput(); err != nil {
		t.Fatalf("imported disk differs from the installed one: %v\n%s", err, out)
	}
	head := qemutest.ReadHeader(t, imported)
	if !bytes.HasPrefix(head, []byte(qemutest.InstalledMarker)) || !bytes.Contains(head, []byte("hostname=golden-loop\n")) {
		t.Fatalf("imported disk does not hold the stand-in installation: %q", head[:80])
	}
}

const cronManifest = `apiVersion: cdi.kubevirt.io/v1beta1
kind: DataImportCron
metadata:
  name: standin-golden
  namespace: golden
spec:
  schedule: "0 3 * * *"
  managedDataSource: standin
  importsToKeep: 2
  template:
    spec:
      source:
        registry:
          url: docker://%s
      storage:
        resources:
          requests:
            storage: 64Mi
`

// importWithDataImportCron runs one forced local-mode round of a DataImportCron watching ref and
// returns the file its DataSource points at, checking the import is named after digest.
func importWithDataImportCron(t *testing.T, ref, digest string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cron.yaml"), []byte(fmt.Sprintf(cronManifest, ref)), 0o644); err != nil {
		t.Fatal(err)
	}
	crons, err := localmode.LoadCrons(dir)
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	var log bytes.Buffer
	r := localmode.New(store, cron.NewPoller(cron.RegistryResolvers("")), pkgImporter{scratch: dir},
		localmode.WithForce(true), localmode.WithLog(&log))
	if _, err := r.Round(context.Background(), crons); err != nil {
		t.Fatalf("local-mode round: %v\n%s", err, log.String())
	}
	current := filepath.Join(store, "golden", "standin", "current")
	target, err := os.Readlink(current)
	if err != nil {
		t.Fatalf("DataSource standin has no current import: %v\n%s", err, log.String())
	}
	if want := "standin-" + strings.TrimPrefix(digest, "sha256:")[:12]; !strings.HasPrefix(filepath.Base(target), want) {
		t.Errorf("DataSource points at %s, want the import of the pushed digest (%s)", target, want)
	}
	return current
}

// pkgImporter imports with pkg/importer in this process, as cron-controller --local does.
type pkgImporter struct{ scratch string }

func (p pkgImporter) Import(ctx context.Context, source, dest string, _ localmode.Auth) (contract.Termination, error) {
	return importer.Run(ctx, importer.Config{Source: source, Dest: dest, ScratchDir: p.scratch})
}
