package localmode

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

func TestLoadCrons(t *testing.T) {
	crons, err := LoadCrons("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if len(crons) != 2 {
		t.Fatalf("LoadCrons found %d crons, want 2", len(crons))
	}
	if crons[0].Namespace != "default" || crons[0].Name != "fedora-cron" || *crons[0].Spec.ImportsToKeep != 2 {
		t.Errorf("first cron = %s/%s keep %v", crons[0].Namespace, crons[0].Name, crons[0].Spec.ImportsToKeep)
	}
	if crons[1].Namespace != "images" || crons[1].Spec.ManagedDataSource != "centos-stream9" {
		t.Errorf("second cron = %s/%s", crons[1].Namespace, crons[1].Spec.ManagedDataSource)
	}
}

func TestLoadObjects(t *testing.T) {
	m, err := Load("testdata")
	if err != nil {
		t.Fatal(err)
	}
	sec := m.Secrets["images/registry-auth"]
	if sec == nil || string(sec.Data["accessKeyId"]) != "robot" || string(sec.Data["secretKey"]) != "not-a-real-password" || sec.StringData != nil {
		t.Errorf("Secret images/registry-auth = %+v, want data and stringData merged into data", sec)
	}
	if cm := m.ConfigMaps["default/registry-ca"]; cm == nil || !strings.Contains(cm.Data["ca.crt"], "BEGIN CERTIFICATE") {
		t.Errorf("ConfigMap default/registry-ca = %+v", cm)
	}
	if len(m.Secrets) != 1 || len(m.ConfigMaps) != 2 {
		t.Errorf("%d Secrets, %d ConfigMaps; want 1 and 2", len(m.Secrets), len(m.ConfigMaps))
	}
}

func TestParseErrors(t *testing.T) {
	const secret = "s3cr3t-VALUE"
	head := "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\n"
	sec := "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	for _, tc := range []struct{ name, doc, want string }{
		{"old api version", "apiVersion: cdi.kubevirt.io/v1alpha1\nkind: DataImportCron\nmetadata: {name: x}\n", "apiVersion"},
		{"no name", head + "spec: {managedDataSource: x}\n", "metadata.name"},
		{"unknown field", head + "metadata: {name: x}\nspec: {managedDataSorce: x}\n", "managedDataSorce"},
		{"not yaml", head + "metadata: [\n", "document 1"},
		{"second document", head + "metadata: {name: x}\n---\n" + head + "spec: 3\n", "document 2"},
		{"Secret of another API", "apiVersion: v2\nkind: Secret\nmetadata: {name: s}\n", "want v1"},
		{"Secret without name", "apiVersion: v1\nkind: Secret\nstringData: {secretKey: " + secret + "}\n", "Secret has no metadata.name"},
		{"Secret data not base64", sec + "data: {secretKey: " + secret + "!}\n", "base64"},
		{"Secret value of the wrong type", sec + "stringData: {secretKey: [" + secret + "]}\n", "stringData"},
		{"Secret key twice", sec + "stringData: {secretKey: " + secret + ", secretKey: " + secret + "}\n", "already set"},
		{"Secret key not a file name", sec + "stringData: {../key: " + secret + "}\n", "../key"},
		{"Secret twice", sec + "---\n" + sec, "two Secrets named default/s"},
		{"ConfigMap key not a file name", cm + "data: {a/b: x}\n", "a/b"},
		{"ConfigMap unknown field", cm + "dta: {a: x}\n", "dta"},
		{"ConfigMap twice", cm + "---\n" + cm, "two ConfigMaps named default/c"},
	} {
		_, err := Parse([]byte(tc.doc), "m.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "m.yaml") {
			t.Errorf("%s: err = %v, want one naming m.yaml and %q", tc.name, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "\n")) {
			t.Errorf("%s: err = %q quotes the Secret's value or spans lines", tc.name, err)
		}
	}
}

func TestLoadCronsDuplicateDataSource(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: NAME}\nspec: {managedDataSource: shared}\n"
	for _, n := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, n+".yaml"), []byte(strings.Replace(doc, "NAME", n, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := LoadCrons(dir); err == nil || !strings.Contains(err.Error(), "shared") {
		t.Fatalf("err = %v, want one naming the shared DataSource", err)
	}
}

func FuzzParseCrons(f *testing.F) {
	for _, seed := range []string{"testdata/crons.yaml", "testdata/secrets.yaml"} {
		b, err := os.ReadFile(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: x}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {secretKey: x}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b, "fuzz")
		if err != nil {
			return
		}
		for _, c := range m.Crons {
			if c.Name == "" || c.Namespace == "" {
				t.Fatalf("cron without name or namespace accepted: %+v", c.ObjectMeta)
			}
		}
		for k, s := range m.Secrets {
			if k != s.Namespace+"/"+s.Name || s.Name == "" || s.Namespace == "" || s.StringData != nil {
				t.Fatalf("Secret %s accepted as %s/%s with stringData %v", k, s.Namespace, s.Name, s.StringData != nil)
			}
		}
		for k, c := range m.ConfigMaps {
			for key := range c.Data {
				if key == "" || key == "." || key == ".." || strings.ContainsRune(key, '/') {
					t.Fatalf("ConfigMap %s accepted with key %q, not a file name", k, key)
				}
			}
		}
	})
}

func realImporter(scratch string) Importer { return InProcess(scratch) }

func randomDisk(t *testing.T) []byte {
	t.Helper()
	disk := make([]byte, 256<<10)
	if _, err := rand.Read(disk); err != nil {
		t.Fatal(err)
	}
	return disk
}

// TestRunnerLifecycle imports three versions and a broken image from a real registry with the real importer
// and checks files, the current link and garbage collection.
func TestRunnerLifecycle(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	manifests := t.TempDir()
	cronYAML := "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: fedora-cron}\n" +
		"spec:\n  schedule: \"@daily\"\n  managedDataSource: fedora\n  importsToKeep: 2\n" +
		"  template: {spec: {source: {registry: {url: \"docker://" + reg.Ref("os/fedora:latest") + "\"}}}}\n"
	if err := os.WriteFile(filepath.Join(manifests, "fedora.yaml"), []byte(cronYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	crons, err := LoadCrons(manifests)
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	dir := filepath.Join(store, "default", "fedora")
	r := New(store, cron.NewPoller(cron.RegistryResolvers(t.TempDir())), realImporter(t.TempDir()), WithForce(true))
	ctx := context.Background()

	var names []string
	var disks [][]byte
	for i := range 3 {
		disk := randomDisk(t)
		d := reg.PushDisk(t, "os/fedora:latest", disk)
		wait, err := r.Round(ctx, crons)
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		if wait <= 0 {
			t.Errorf("round %d: no next poll for an @daily cron", i)
		}
		names, disks = append(names, cron.ImportName("fedora", d)), append(disks, disk)
		got, err := os.ReadFile(filepath.Join(dir, "current"))
		if err != nil || !bytes.Equal(got, disk) {
			t.Fatalf("round %d: current holds %d bytes (err %v), want the pushed disk", i, len(got), err)
		}
		if link, _ := os.Readlink(filepath.Join(dir, "current")); link != names[i]+".img" {
			t.Errorf("round %d: current -> %q, want %s.img", i, link, names[i])
		}
	}
	if _, err := os.Stat(filepath.Join(dir, names[0]+".img")); !os.IsNotExist(err) {
		t.Errorf("oldest import %s not collected (importsToKeep 2): %v", names[0], err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, names[1]+".img")); err != nil || !bytes.Equal(got, disks[1]) {
		t.Errorf("second import %s not kept intact: %v", names[1], err)
	}

	broken := pushNonDisk(t, reg.Ref("os/fedora:latest"))
	_, err = r.Round(ctx, crons)
	if err == nil || !strings.Contains(err.Error(), "disk") || !strings.Contains(err.Error(), "fedora-cron") {
		t.Errorf("round with a broken image: err = %v, want one naming the cron and the missing disk", err)
	}
	if link, _ := os.Readlink(filepath.Join(dir, "current")); link != names[2]+".img" {
		t.Errorf("current moved to %q after a failed import", link)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), cron.ImportName("fedora", broken)) {
			t.Errorf("failed import left %s behind", e.Name())
		}
	}
}

// pushNonDisk pushes an image without a disk under /disk/ and returns its digest.
func pushNonDisk(t *testing.T, ref string) string {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}
