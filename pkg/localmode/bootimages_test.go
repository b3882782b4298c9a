package localmode

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/cron"
)

const bootImages = "../../config/boot-images"

// publishedArchs are the architectures quay.io/containerdisks publishes for each catalog image, from
// kubevirt/containerdisks cmd/medius/common/registry.go (and artifacts/fedora for Fedora's).
var publishedArchs = map[string][]string{
	"fedora":              {"amd64", "arm64", "s390x"},
	"centos-stream9":      {"amd64", "arm64", "s390x"},
	"centos-stream10":     {"amd64", "arm64", "s390x"},
	"ubuntu":              {"amd64", "arm64", "s390x"},
	"debian":              {"amd64", "arm64"},
	"opensuse-tumbleweed": {"amd64", "s390x"},
	"opensuse-leap":       {"amd64", "arm64", "s390x"},
}

// latestTagged are the images containerdisks tags :latest (UseForLatest); the others need a version tag.
var latestTagged = map[string]bool{"fedora": true, "debian": true}

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
	archs := map[string][]string{}
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
		if url := ptr.Deref(c.Spec.Template.Spec.Source.Registry.URL, ""); strings.HasSuffix(url, ":latest") != latestTagged[base] {
			t.Errorf("%s: url %s: containerdisks tags only %v :latest", c.Name, url, latestTagged)
		}
		archs[base] = append(archs[base], arch)
	}
	for image, want := range publishedArchs {
		got := slices.Sorted(slices.Values(archs[image]))
		if !slices.Equal(got, want) {
			t.Errorf("%s: crons for %v, want one for each architecture containerdisks publishes: %v", image, got, want)
		}
	}
	for image := range archs {
		if publishedArchs[image] == nil {
			t.Errorf("%s: not a known containerdisks image", image)
		}
	}
	checkAliases(t, m.Crons)

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

// checkAliases checks the architecture-agnostic DataSources of the catalog: one per image, named after it, in the
// crons' namespace, referring (spec.source.dataSource) to the image's amd64 DataSource, as SSP makes them for a
// cluster whose first control-plane architecture is amd64.
func checkAliases(t *testing.T, crons []*cdiv1.DataImportCron) {
	t.Helper()
	managed := map[string]bool{}
	for _, c := range crons {
		managed[c.Namespace+"/"+c.Spec.ManagedDataSource] = true
	}
	files, _ := filepath.Glob(filepath.Join(bootImages, "*.yaml"))
	aliases := map[string]bool{}
	for _, f := range files {
		for _, ds := range dataSources(t, f) {
			ref := ds.Spec.Source.DataSource
			if ref == nil || ds.Spec.Source.PVC != nil || ds.Spec.Source.Snapshot != nil {
				t.Errorf("%s: DataSource %s has source %+v, want only a dataSource reference", f, ds.Name, ds.Spec.Source)
				continue
			}
			if ref.Name != ds.Name+"-amd64" || ref.Namespace != ds.Namespace || !managed[ds.Namespace+"/"+ref.Name] {
				t.Errorf("%s: DataSource %s/%s refers to %s/%s, want %s-amd64 of a cron in its namespace", f, ds.Namespace, ds.Name, ref.Namespace, ref.Name, ds.Name)
			}
			aliases[ds.Name] = true
		}
	}
	for image := range publishedArchs {
		if !aliases[image] {
			t.Errorf("catalog lacks the architecture-agnostic DataSource %s", image)
		}
	}
}

// dataSources decodes the DataSource documents of a multi-document YAML file.
func dataSources(t *testing.T, path string) []*cdiv1.DataSource {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []*cdiv1.DataSource
	rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		raw, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ds := &cdiv1.DataSource{}
		if err := yaml.UnmarshalStrict(raw, ds); err != nil && ds.Kind == "DataSource" {
			t.Fatalf("%s: DataSource: %v", path, err)
		}
		if ds.Kind == "DataSource" {
			out = append(out, ds)
		}
	}
}
