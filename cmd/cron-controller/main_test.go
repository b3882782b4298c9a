package main

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/controller/datavolume"
	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/localmode"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

func TestFlagErrors(t *testing.T) {
	t.Setenv("IMPORTER_IMAGE", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--once"}, "need --local"},
		{[]string{"--store", "x"}, "need --local"},
		{[]string{}, "no importer image"},
		{[]string{"--local", "x", "extra"}, "unexpected arguments"},
		{[]string{"--bogus"}, "bogus"},
		{[]string{"--importer-memory-request", "lots"}, `--importer-memory-request "lots": want a non-negative quantity`},
		{[]string{"--importer-cpu-request", "3"}, "--importer-cpu-request 3 exceeds --importer-cpu-limit 2"},
		{[]string{"--filesystem-overhead", "1.5"}, "want a decimal in [0, 1)"},
	} {
		var stderr bytes.Buffer
		if code := run(tc.args, &bytes.Buffer{}, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestImporterResourceFlags(t *testing.T) {
	mem := func(q string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(q)}
	}
	for _, tc := range []struct {
		name string
		args []string
		want corev1.ResourceRequirements
	}{
		{"defaults", nil, datavolume.DefaultImporterResources()},
		{"only memory", []string{"--importer-cpu-request", "0", "--importer-cpu-limit", "0", "--importer-memory-request", "1Gi",
			"--importer-memory-limit", "4Gi"}, corev1.ResourceRequirements{Requests: mem("1Gi"), Limits: mem("4Gi")}},
		{"none", []string{"--importer-cpu-request", "0", "--importer-cpu-limit", "0", "--importer-memory-request", "0",
			"--importer-memory-limit", "0"}, corev1.ResourceRequirements{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := parseFlags(append([]string{"--importer-image", "img"}, tc.args...), &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(o.resources, tc.want) {
				t.Errorf("importer resources %v, want %v", o.resources, tc.want)
			}
			if o.fsOverhead != contract.DefaultFilesystemOverhead {
				t.Errorf("filesystem overhead %q, want the default %s", o.fsOverhead, contract.DefaultFilesystemOverhead)
			}
		})
	}
}

func TestLocalErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		dir, want string
	}{
		{filepath.Join(empty, "missing"), "manifest directory"},
		{empty, "no DataImportCron manifests"},
	} {
		var stderr bytes.Buffer
		if code := run([]string{"--local", tc.dir, "--once"}, &bytes.Buffer{}, &stderr); code != 1 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("--local %s: exit %d, stderr %q; want 1 and %q", tc.dir, code, stderr.String(), tc.want)
		}
	}
}

// TestLocalOnce runs the command the way `make demo` does: one round against a real registry.
func TestLocalOnce(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	disk := make([]byte, 128<<10)
	if _, err := rand.Read(disk); err != nil {
		t.Fatal(err)
	}
	digest := reg.PushDisk(t, "demo/cirros:latest", disk)
	dir := t.TempDir()
	manifest := "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: cirros-cron, namespace: demo}\n" +
		"spec: {schedule: \"@hourly\", managedDataSource: cirros, template: {spec: {source: {registry: {url: \"docker://" +
		reg.Ref("demo/cirros:latest") + "\"}}}}}\n"
	if err := os.WriteFile(filepath.Join(dir, "cirros.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--local", dir, "--store", store, "--once"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(store, "demo", "cirros", "current"))
	if err != nil || !bytes.Equal(got, disk) {
		t.Fatalf("current holds %d bytes (%v), want the pushed disk", len(got), err)
	}
	if want := cron.ImportName("cirros", digest); !strings.Contains(stdout.String(), want) {
		t.Errorf("output %q does not mention import %s", stdout.String(), want)
	}
}

func TestExamplesLoad(t *testing.T) {
	crons, err := localmode.LoadCrons("../../examples/local")
	if err != nil || len(crons) == 0 {
		t.Fatalf("examples/local: %d crons, %v", len(crons), err)
	}
	for _, c := range crons {
		if _, err := cron.Validate(c); err != nil {
			t.Errorf("example %s: %v", c.Name, err)
		}
	}
	m, err := localmode.Load("../../examples/local")
	if sec := m.Secrets["default/registry-auth"]; err != nil || sec == nil || len(sec.Data["accessKeyId"]) == 0 || len(sec.Data["secretKey"]) == 0 {
		t.Errorf("examples/local: no Secret default/registry-auth with accessKeyId and secretKey (%v)", err)
	}
	crons, err = localmode.LoadCrons("../../examples/cluster")
	if err != nil || len(crons) < 3 {
		t.Fatalf("examples/cluster: %d crons, %v", len(crons), err)
	}
	for _, c := range crons {
		if _, err := cron.Validate(c); err != nil {
			t.Errorf("example %s: %v", c.Name, err)
		}
	}
}

// TestLocalOnceAuthenticated runs one round against a registry that wants a token for every request: the cron
// names a Secret in the manifest directory; a second cron naming a Secret that is not there fails alone.
func TestLocalOnceAuthenticated(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Bearer))
	disk := make([]byte, 128<<10)
	if _, err := rand.Read(disk); err != nil {
		t.Fatal(err)
	}
	reg.PushDisk(t, "private/cirros:latest", disk)
	cronDoc := func(name, secret string) string {
		return "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: " + name + "}\n" +
			"spec: {schedule: \"@hourly\", managedDataSource: " + name + ", template: {spec: {source: {registry: " +
			"{url: \"docker://" + reg.Ref("private/cirros:latest") + "\", secretRef: " + secret + "}}}}}\n---\n"
	}
	manifests := cronDoc("cirros", "registry-auth") + cronDoc("orphan", "missing-auth") +
		"apiVersion: v1\nkind: Secret\nmetadata: {name: registry-auth}\nstringData: {accessKeyId: " + reg.Username +
		", secretKey: " + reg.Password + "}\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "crons.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"--local", dir, "--store", store, "--once", "--ca-dir", t.TempDir()}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "default/orphan") || !strings.Contains(stderr.String(), "no Secret default/missing-auth") {
		t.Errorf("exit %d, stderr %q; want 1 and an error naming the orphan cron and its missing Secret", code, stderr.String())
	}
	if strings.Contains(stderr.String(), "default/cirros") {
		t.Errorf("stderr %q names the cron that has its Secret", stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(store, "default", "cirros", "current"))
	if err != nil || !bytes.Equal(got, disk) {
		t.Fatalf("current holds %d bytes (%v), want the pushed disk", len(got), err)
	}
	if strings.Contains(stdout.String()+stderr.String(), reg.Password) {
		t.Error("the registry password shows in the output")
	}
}
