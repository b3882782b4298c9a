package controller

import (
	"context"
	"fmt"
	"testing"

	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/localmode"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestBootImagesCatalog runs a cron of config/boot-images (its registry swapped for a test one, everything else
// as shipped): the architecture reaches the importer and the DataSource name, and the instancetype and
// architecture labels reach the DataSource and follow edits of the cron's labels.
func TestBootImagesCatalog(t *testing.T) {
	ctx := context.Background()
	m, err := localmode.Load("../../../config/boot-images")
	if err != nil {
		t.Fatal(err)
	}
	var c *cdiv1.DataImportCron
	for _, cr := range m.Crons {
		if cr.Name == "fedora-image-cron-arm64" {
			c = cr.DeepCopy()
		}
	}
	if c == nil {
		t.Fatal("config/boot-images has no fedora-image-cron-arm64")
	}
	ns := namespace(t, "boot-images")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	d := pushDisk(t, reg, "containerdisks/fedora:latest")
	url := "docker://" + reg.Ref("containerdisks/fedora:latest")
	c.Namespace, c.Spec.Template.Spec.Source.Registry.URL = ns, &url
	create(t, c)

	dv := dvName("fedora-arm64", d)
	env := podEnv(waitPod(t, ns, dv))
	if env[contract.EnvPlatformArch] != "arm64" {
		t.Errorf("importer %s = %q, want arm64 from the cron's platform", contract.EnvPlatformArch, env[contract.EnvPlatformArch])
	}
	importOK(t, ns, dv)
	waitDataSource(t, ns, "fedora-arm64", dv)
	waitDataSourceLabels(t, ns, "fedora-arm64", map[string]string{cdiconst.LabelDefaultInstancetype: "u1.medium",
		cdiconst.LabelDefaultPreference: "fedora", cdiconst.LabelArchitecture: "arm64", cdiconst.LabelDataImportCron: c.Name})

	got := &cdiv1.DataImportCron{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(c), got); err != nil {
		t.Fatal(err)
	}
	got.Labels[cdiconst.LabelDefaultPreference] = "fedora.arm64"
	if err := k8s.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitDataSourceLabels(t, ns, "fedora-arm64", map[string]string{cdiconst.LabelDefaultPreference: "fedora.arm64"})
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
