package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/localmode"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestBootImagesCatalog runs Fedora's crons and architecture-agnostic DataSource from config/boot-images (the
// registry swapped for a test one, everything else as shipped): each architecture reaches its importer and its
// DataSource name; the instancetype and architecture labels reach the DataSources and follow edits of the cron's
// labels; the DataSource "fedora" resolves to fedora-amd64's PVC once that import is done, with its labels.
func TestBootImagesCatalog(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "boot-images")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	d := pushDisk(t, reg, "containerdisks/fedora:latest")
	url := "docker://" + reg.Ref("containerdisks/fedora:latest")
	crons := map[string]*cdiv1.DataImportCron{}
	m, err := localmode.Load("../../../config/boot-images")
	if err != nil {
		t.Fatal(err)
	}
	for _, cr := range m.Crons {
		if cr.Name == "fedora-image-cron-amd64" || cr.Name == "fedora-image-cron-arm64" {
			c := cr.DeepCopy()
			c.Namespace, c.Spec.Template.Spec.Source.Registry.URL = ns, &url
			crons[c.Spec.ManagedDataSource] = c
		}
	}
	if len(crons) != 2 {
		t.Fatalf("config/boot-images has crons for %v, want fedora-amd64 and fedora-arm64", crons)
	}
	alias := catalogDataSource(t, "fedora")
	alias.Namespace, alias.Spec.Source.DataSource.Namespace = ns, ns
	create(t, alias)
	create(t, crons["fedora-arm64"])

	dv := dvName("fedora-arm64", d)
	env := podEnv(waitPod(t, ns, dv))
	if env[contract.EnvPlatformArch] != "arm64" {
		t.Errorf("importer %s = %q, want arm64 from the cron's platform", contract.EnvPlatformArch, env[contract.EnvPlatformArch])
	}
	importOK(t, ns, dv)
	waitDataSource(t, ns, "fedora-arm64", dv)
	waitDataSourceLabels(t, ns, "fedora-arm64", map[string]string{cdiconst.LabelDefaultInstancetype: "u1.medium",
		cdiconst.LabelDefaultPreference: "fedora.arm64", cdiconst.LabelArchitecture: "arm64", cdiconst.LabelDataImportCron: "fedora-image-cron-arm64"})
	// The architecture-agnostic DataSource waits for the default architecture, not for any import.
	waitDataSourceReady(t, ns, "fedora", corev1.ConditionFalse, cdiconst.ReasonNotFound, ns+"/fedora-amd64")

	got := &cdiv1.DataImportCron{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(crons["fedora-arm64"]), got); err != nil {
		t.Fatal(err)
	}
	got.Labels[cdiconst.LabelDefaultPreference] = "fedora.aarch64"
	if err := k8s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitDataSourceLabels(t, ns, "fedora-arm64", map[string]string{cdiconst.LabelDefaultPreference: "fedora.aarch64"})

	create(t, crons["fedora-amd64"])
	amd := dvName("fedora-amd64", d)
	if env := podEnv(waitPod(t, ns, amd)); env[contract.EnvPlatformArch] != "amd64" {
		t.Errorf("importer %s = %q, want amd64", contract.EnvPlatformArch, env[contract.EnvPlatformArch])
	}
	importOK(t, ns, amd)
	ds := waitDataSourceReady(t, ns, "fedora", corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "")
	if pvc := ds.Status.Source.PVC; pvc == nil || pvc.Name != amd {
		t.Errorf("fedora status.source %+v, want PVC %s", ds.Status.Source, amd)
	}
	waitDataSourceLabels(t, ns, "fedora", map[string]string{cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora"})
}

// catalogDataSource returns DataSource name of config/boot-images.
func catalogDataSource(t *testing.T, name string) *cdiv1.DataSource {
	t.Helper()
	files, _ := filepath.Glob("../../../config/boot-images/*.yaml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(b), "\n---\n") {
			ds := &cdiv1.DataSource{}
			if yaml.Unmarshal([]byte(doc), ds) == nil && ds.Kind == "DataSource" && ds.Name == name {
				return ds
			}
		}
	}
	t.Fatalf("config/boot-images has no DataSource %s", name)
	return nil
}

func waitDataSourceLabels(t *testing.T, ns, name string, want map[string]string) {
	t.Helper()
	eventually(t, fmt.Sprintf("DataSource %s labels %v", name, want), func() (bool, string) {
		ds := &cdiv1.DataSource{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ds); err != nil {
			return false, err.Error()
		}
		for k, v := range want {
			if ds.Labels[k] != v {
				return false, fmt.Sprintf("labels %v", ds.Labels)
			}
		}
		return true, ""
	})
}
