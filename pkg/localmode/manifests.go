package localmode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/yaml"
)

// maxManifestBytes bounds one manifest file; DataImportCrons are small.
const maxManifestBytes = 1 << 20

// Manifests are the objects of a manifest directory.
type Manifests struct {
	Crons []*cdiv1.DataImportCron // sorted by namespace/name
	Objects
}

// Objects are the Secrets and ConfigMaps (v1) crons may name as secretRef and certConfigMap, keyed by
// "namespace/name". Secrets hold their stringData merged into data, as the API server stores them.
type Objects struct {
	Secrets    map[string]*corev1.Secret
	ConfigMaps map[string]*corev1.ConfigMap
}

// LoadCrons reads every DataImportCron from the *.yaml, *.yml and *.json files in dir; see Load.
func LoadCrons(dir string) ([]*cdiv1.DataImportCron, error) {
	m, err := Load(dir)
	if err != nil {
		return nil, err
	}
	return m.Crons, nil
}

// Load reads every DataImportCron, Secret and ConfigMap from the *.yaml, *.yml and *.json files in dir
// (multi-document files allowed; documents of other kinds are skipped). Namespaces default to "default".
func Load(dir string) (*Manifests, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read manifest directory: %w", err)
	}
	all := newManifests()
	seen := map[string]string{}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		m, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		for _, c := range m.Crons {
			key := c.Namespace + "/" + c.Spec.ManagedDataSource
			if other, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s: DataSource %s is managed by DataImportCron %s too", path, key, other)
			}
			seen[key] = c.Name
		}
		if err := all.merge(m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	sort.Slice(all.Crons, func(i, j int) bool {
		return all.Crons[i].Namespace+"/"+all.Crons[i].Name < all.Crons[j].Namespace+"/"+all.Crons[j].Name
	})
	return all, nil
}

func newManifests() *Manifests {
	return &Manifests{Objects: Objects{Secrets: map[string]*corev1.Secret{}, ConfigMaps: map[string]*corev1.ConfigMap{}}}
}

// merge adds the objects of o; a Secret or ConfigMap defined twice is an error.
func (m *Manifests) merge(o *Manifests) error {
	m.Crons = append(m.Crons, o.Crons...)
	for k, s := range o.Secrets {
		if _, dup := m.Secrets[k]; dup {
			return fmt.Errorf("two Secrets named %s", k)
		}
		m.Secrets[k] = s
	}
	for k, c := range o.ConfigMaps {
		if _, dup := m.ConfigMaps[k]; dup {
			return fmt.Errorf("two ConfigMaps named %s", k)
		}
		m.ConfigMaps[k] = c
	}
	return nil
}

func loadFile(path string) (*Manifests, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", path, err)
	}
	if len(b) > maxManifestBytes {
		return nil, fmt.Errorf("manifest %s is larger than %d bytes", path, maxManifestBytes)
	}
	return Parse(b, path)
}

// ParseCrons decodes the DataImportCrons in a YAML or JSON stream; see Parse.
func ParseCrons(b []byte, name string) ([]*cdiv1.DataImportCron, error) {
	m, err := Parse(b, name)
	if err != nil {
		return nil, err
	}
	return m.Crons, nil
}

// Parse decodes the DataImportCrons, Secrets and ConfigMaps in a YAML or JSON stream; name labels errors,
// which never quote a Secret's values.
func Parse(b []byte, name string) (*Manifests, error) {
	rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	m := newManifests()
	for doc := 1; ; doc++ {
		raw, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return m, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		if err := parseDoc(raw, m); err != nil {
			return nil, fmt.Errorf("%s: document %d: %s", name, doc, oneLine(err))
		}
	}
}

// oneLine joins the lines of a multi-line decoder error ("yaml: unmarshal errors:\n  line 4: ...").
func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// parseDoc decodes one document into m; empty documents and other kinds are skipped.
func parseDoc(raw []byte, m *Manifests) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	one := &Manifests{}
	switch meta.Kind {
	case "DataImportCron":
		c, err := decodeCron(meta.APIVersion, raw)
		if err != nil {
			return err
		}
		one.Crons = []*cdiv1.DataImportCron{c}
	case "Secret":
		s, err := decodeSecret(meta.APIVersion, raw)
		if err != nil {
			return err
		}
		one.Secrets = map[string]*corev1.Secret{s.Namespace + "/" + s.Name: s}
	case "ConfigMap":
		c, err := decodeConfigMap(meta.APIVersion, raw)
		if err != nil {
			return err
		}
		one.ConfigMaps = map[string]*corev1.ConfigMap{c.Namespace + "/" + c.Name: c}
	}
	return m.merge(one)
}

func decodeCron(apiVersion string, raw []byte) (*cdiv1.DataImportCron, error) {
	if apiVersion != cdiv1.SchemeGroupVersion.String() {
		return nil, fmt.Errorf("DataImportCron has apiVersion %q, want %s", apiVersion, cdiv1.SchemeGroupVersion)
	}
	c := &cdiv1.DataImportCron{}
	if err := yaml.UnmarshalStrict(raw, c); err != nil {
		return nil, fmt.Errorf("decode DataImportCron: %w", err)
	}
	return c, defaultMeta("DataImportCron", &c.ObjectMeta)
}

// decodeSecret decodes a v1 Secret and merges stringData into data. Decoding errors name fields and
// positions only, never values.
func decodeSecret(apiVersion string, raw []byte) (*corev1.Secret, error) {
	if apiVersion != "v1" {
		return nil, fmt.Errorf("a Secret has apiVersion %q, want v1", apiVersion)
	}
	s := &corev1.Secret{}
	if err := yaml.UnmarshalStrict(raw, s); err != nil {
		return nil, fmt.Errorf("decode Secret: %w", err)
	}
	if err := defaultMeta("Secret", &s.ObjectMeta); err != nil {
		return nil, err
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
	return s, checkKeys("Secret", s.Name, s.Data)
}

func decodeConfigMap(apiVersion string, raw []byte) (*corev1.ConfigMap, error) {
	if apiVersion != "v1" {
		return nil, fmt.Errorf("a ConfigMap has apiVersion %q, want v1", apiVersion)
	}
	c := &corev1.ConfigMap{}
	if err := yaml.UnmarshalStrict(raw, c); err != nil {
		return nil, fmt.Errorf("decode ConfigMap: %w", err)
	}
	if err := defaultMeta("ConfigMap", &c.ObjectMeta); err != nil {
		return nil, err
	}
	return c, checkKeys("ConfigMap", c.Name, c.Data)
}

// defaultMeta requires a name and defaults the namespace to "default".
func defaultMeta(kind string, m *metav1.ObjectMeta) error {
	if m.Name == "" {
		return fmt.Errorf("%s has no metadata.name", kind)
	}
	if m.Namespace == "" {
		m.Namespace = "default"
	}
	return nil
}

// checkKeys rejects keys the API server would reject; ConfigMap keys become file names of a CA directory.
func checkKeys[V any](kind, name string, data map[string]V) error {
	for k := range data {
		if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
			return fmt.Errorf("%s %s: key %q: %s", kind, name, k, errs[0])
		}
	}
	return nil
}
