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

	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/yaml"
)

// maxManifestBytes bounds one manifest file; DataImportCrons are small.
const maxManifestBytes = 1 << 20

// LoadCrons reads every DataImportCron from the *.yaml, *.yml and *.json files in dir (multi-document files
// allowed; documents of other kinds are skipped). Namespaces default to "default".
func LoadCrons(dir string) ([]*cdiv1.DataImportCron, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read manifest directory: %w", err)
	}
	var crons []*cdiv1.DataImportCron
	seen := map[string]string{}
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		got, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		for _, c := range got {
			key := c.Namespace + "/" + c.Spec.ManagedDataSource
			if other, dup := seen[key]; dup {
				return nil, fmt.Errorf("%s: DataSource %s is managed by DataImportCron %s too", path, key, other)
			}
			seen[key] = c.Name
		}
		crons = append(crons, got...)
	}
	sort.Slice(crons, func(i, j int) bool {
		return crons[i].Namespace+"/"+crons[i].Name < crons[j].Namespace+"/"+crons[j].Name
	})
	return crons, nil
}

func loadFile(path string) ([]*cdiv1.DataImportCron, error) {
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
	return ParseCrons(b, path)
}

// ParseCrons decodes the DataImportCrons in a YAML or JSON stream; name labels errors.
func ParseCrons(b []byte, name string) ([]*cdiv1.DataImportCron, error) {
	rd := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	var out []*cdiv1.DataImportCron
	for doc := 1; ; doc++ {
		raw, err := rd.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		c, err := parseDoc(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, doc, err)
		}
		if c != nil {
			out = append(out, c)
		}
	}
}

// parseDoc decodes one document; nil for empty documents and other kinds.
func parseDoc(raw []byte) (*cdiv1.DataImportCron, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if meta.Kind != "DataImportCron" {
		return nil, nil
	}
	if meta.APIVersion != cdiv1.SchemeGroupVersion.String() {
		return nil, fmt.Errorf("DataImportCron has apiVersion %q, want %s", meta.APIVersion, cdiv1.SchemeGroupVersion)
	}
	c := &cdiv1.DataImportCron{}
	if err := yaml.UnmarshalStrict(raw, c); err != nil {
		return nil, fmt.Errorf("decode DataImportCron: %w", err)
	}
	if c.Name == "" {
		return nil, errors.New("DataImportCron has no metadata.name")
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	return c, nil
}
