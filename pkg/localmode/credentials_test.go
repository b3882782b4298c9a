package localmode

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/cron"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestRunnerCredentials imports from registries that need credentials or trust in a private CA, with the
// real poller and importer, next to an anonymous cron that must succeed whatever happens to the first.
func TestRunnerCredentials(t *testing.T) {
	const pw = "pw-Sup3rSecret"
	basic := registrytest.New(t, registrytest.WithAuth(registrytest.Basic), registrytest.WithCredentials("robot", pw))
	bearer := registrytest.New(t, registrytest.WithAuth(registrytest.Bearer), registrytest.WithCredentials("robot", pw))
	anon := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	disk := randomDisk(t)
	for _, r := range []*registrytest.Server{basic, bearer, anon} {
		r.PushDisk(t, "os/fedora:latest", disk)
	}
	ca := newPrivateCA(t)
	tlsHost := tlsFront(t, ca, basic.Host)
	otherCA := newPrivateCA(t)
	good := secretYAML("creds", "default", "robot", pw, false)

	for _, tc := range []struct {
		name, ref, secret, configMap, objects string
		want                                  string // "" for success, else part of the error
	}{
		{"basic auth, Secret data", basic.Ref("os/fedora:latest"), "creds", "", good, ""},
		{"bearer auth, Secret stringData", bearer.Ref("os/fedora:latest"), "creds", "", secretYAML("creds", "default", "robot", pw, true), ""},
		{"TLS with a private CA and basic auth", tlsHost + "/os/fedora:latest", "creds", "ca", good + configMapYAML("ca", "ca.crt", ca.PEM), ""},
		{"no secretRef", basic.Ref("os/fedora:latest"), "", "", good, "401 Unauthorized"},
		{"wrong password", basic.Ref("os/fedora:latest"), "creds", "", secretYAML("creds", "default", "robot", pw+"x", false), "401 Unauthorized"},
		{"missing Secret", basic.Ref("os/fedora:latest"), "creds", "", "", "no Secret default/creds"},
		{"Secret in another namespace", basic.Ref("os/fedora:latest"), "creds", "", secretYAML("creds", "other", "robot", pw, false), "no Secret default/creds"},
		{"pull secret instead of CDI keys", basic.Ref("os/fedora:latest"), "creds", "",
			"apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\ntype: kubernetes.io/dockerconfigjson\n" +
				"stringData: {.dockerconfigjson: '{\"auths\":{}}'}\n", "Secret default/creds has no accessKeyId"},
		{"missing ConfigMap", tlsHost + "/os/fedora:latest", "creds", "ca", good, "no ConfigMap default/ca"},
		{"ConfigMap without data", tlsHost + "/os/fedora:latest", "creds", "ca", good + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca}\n", "ConfigMap default/ca has no data"},
		{"TLS without certConfigMap", tlsHost + "/os/fedora:latest", "creds", "", good, "certificate"},
		{"TLS with another CA", tlsHost + "/os/fedora:latest", "creds", "ca", good + configMapYAML("ca", "ca.crt", otherCA.PEM), "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadManifests(t, cronYAML("private-cron", "private", tc.ref, tc.secret, tc.configMap)+
				cronYAML("public-cron", "public", anon.Ref("os/fedora:latest"), "", "")+tc.objects)
			store, tmp := t.TempDir(), t.TempDir()
			var log bytes.Buffer
			r := New(store, cron.NewPoller(cron.RegistryResolvers(t.TempDir())), realImporter(t.TempDir()),
				WithObjects(m.Objects), WithTempDir(tmp), WithForce(true), WithLog(&log))
			_, err := r.Round(context.Background(), m.Crons)

			if got, rerr := os.ReadFile(filepath.Join(store, "default", "public", "current")); rerr != nil || !bytes.Equal(got, disk) {
				t.Errorf("the anonymous cron did not import (%v) next to the private one", rerr)
			}
			checkPrivate(t, filepath.Join(store, "default", "private"), disk, err, tc.want)
			if strings.Contains(fmt.Sprint(err), pw) || strings.Contains(log.String(), pw) {
				t.Errorf("the password shows in the error or log:\n%v\n%s", err, log.String())
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("CA directories left behind in the temp dir: %d", len(left))
			}
		})
	}
}

func TestAuthStringRedacts(t *testing.T) {
	a := Auth{User: "robot", Password: "pw-Sup3rSecret", CertDir: "/tmp/ca"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(f, a); strings.Contains(got, a.Password) || !strings.Contains(got, "robot") {
			t.Errorf("Sprintf(%q) = %q, want the user without the password", f, got)
		}
	}
}

// checkPrivate checks the private cron's outcome: its import on success, else an error naming it and want,
// and no image, partial or not, in its store directory.
func checkPrivate(t *testing.T, dir string, disk []byte, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("round: %v", err)
		}
		if got, rerr := os.ReadFile(filepath.Join(dir, "current")); rerr != nil || !bytes.Equal(got, disk) {
			t.Errorf("current holds %d bytes (%v), want the pushed disk", len(got), rerr)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "default/private-cron") {
		t.Fatalf("err = %v, want one naming default/private-cron and %q", err, want)
	}
	if strings.Contains(err.Error(), "public-cron") {
		t.Errorf("err = %v names the cron that succeeded", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), imageSuffix) || e.Name() == currentLink {
			t.Errorf("failed cron left %s in its store directory", e.Name())
		}
	}
}

func loadManifests(t *testing.T, yaml string) *Manifests {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
