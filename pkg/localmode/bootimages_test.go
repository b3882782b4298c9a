package localmode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

const bootImages = "../../config/boot-images"

// TestBootImagesCatalog checks config/boot-images as local mode runs it: every cron valid, one per image and
// architecture named and labelled as SSP names them, and the kustomization listing every file.
func TestBootImagesCatalog(t *testing.T) {
	m, err := Load(bootImages)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Crons) < 12 {
		t.Fatalf("catalog has %d crons, want one per image and architecture", len(m.Crons))
	}
	images := map[string]bool{}
	for _, c := range m.Crons {
		if _, err := cron.Validate(c); err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		arch := c.Labels[cdiconst.LabelArchitecture]
		plat := c.Spec.Template.Spec.Source.Registry.Platform
		base := c.Labels[cdiconst.LabelDataSourceName]
		if arch == "" || plat == nil || plat.Architecture != arch || c.Spec.ManagedDataSource != base+"-"+arch || !strings.HasSuffix(c.Name, "-"+arch) {
			t.Errorf("%s: architecture label %q, platform %+v, managedDataSource %q (base %q): want them to agree as SSP's", c.Name, arch, plat, c.Spec.ManagedDataSource, base)
		}
		if c.Labels[cdiconst.LabelDefaultInstancetype] == "" || c.Labels[cdiconst.LabelDefaultPreference] == "" {
			t.Errorf("%s: labels %v lack the instancetype defaults", c.Name, c.Labels)
		}
		if url := ptr.Deref(c.Spec.Template.Spec.Source.Registry.URL, ""); !strings.HasPrefix(url, "docker://quay.io/containerdisks/") {
			t.Errorf("%s: url %s is not a quay.io/containerdisks image", c.Name, url)
		}
		if c.Namespace != "kubevirt-os-images" {
			t.Errorf("%s: namespace %q", c.Name, c.Namespace)
		}
		images[base] = true
	}
	for _, want := range []string{"fedora", "centos-stream9", "centos-stream10", "ubuntu", "debian", "opensuse-tumbleweed", "opensuse-leap"} {
		if !images[want] {
			t.Errorf("catalog lacks %s", want)
		}
	}

	var k struct {
		Kind      string   `json:"kind"`
		Resources []string `json:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(bootImages, "kustomization.yaml"))
	if err == nil {
		err = yaml.Unmarshal(b, &k)
	}
	if err != nil || k.Kind != "Component" {
		t.Fatalf("kustomization.yaml: kind %q, %v; want a kustomize Component", k.Kind, err)
	}
	files, _ := filepath.Glob(filepath.Join(bootImages, "*.yaml"))
	listed := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		listed[r] = true
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in kustomization.yaml", filepath.Base(f))
		}
	}
}
