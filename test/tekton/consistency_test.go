package tekton

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"
)

var (
	flagDecl = regexp.MustCompile(`fs\.(?:String|Bool|Int|Duration|Var)(?:Var)?\((?:&[\w.]+, )?"([a-z0-9-]+)"`)
	flagUse  = regexp.MustCompile(`--([a-z0-9-]+)=`)
	paramRef = regexp.MustCompile(`\$\(params\.([A-Za-z0-9_-]+)\)`)
)

// declaredFlags reads the flag names a command under cmd/ declares.
func declaredFlags(t *testing.T, command string) map[string]bool {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repo, "cmd", command, "main.go"))
	if err != nil {
		t.Fatalf("command %s: %v", command, err)
	}
	flags := map[string]bool{}
	for _, m := range flagDecl.FindAllStringSubmatch(string(src), -1) {
		flags[m[1]] = true
	}
	if strings.Contains(string(src), "kubeflags.Register") {
		flags["kubeconfig"], flags["namespace"] = true, true
	}
	if strings.Contains(string(src), "vmflags.Register") {
		shared, err := os.ReadFile(filepath.Join(repo, "internal", "vmflags", "vmflags.go"))
		if err != nil {
			t.Fatalf("command %s: %v", command, err)
		}
		for _, m := range flagDecl.FindAllStringSubmatch(string(shared), -1) {
			flags[m[1]] = true
		}
	}
	return flags
}

// TestTaskFlagsExist: every --flag= a task passes is one its command declares.
func TestTaskFlagsExist(t *testing.T) {
	m := load(t)
	for _, task := range m.tasks {
		for _, s := range task.Spec.Steps {
			command := ""
			var text []string
			switch {
			case len(s.Command) > 0:
				command, text = s.Command[0], s.Args
			case strings.Contains(s.Script, "installer-vm "):
				command, text = "installer-vm", []string{s.Script}
			default:
				continue
			}
			flags := declaredFlags(t, command)
			for _, part := range text {
				for _, u := range flagUse.FindAllStringSubmatch(part, -1) {
					if !flags[u[1]] {
						t.Errorf("task %s passes --%s, which %s does not declare", task.Name, u[1], command)
					}
				}
			}
		}
	}
}

// TestEmbeddedManifests: the manifests pipelines hand to create-vm parse once their parameters are
// substituted, and installer VMs stop (rather than restart) when the guest powers off.
func TestEmbeddedManifests(t *testing.T) {
	m := load(t)
	for pname, p := range m.pipelines {
		defaults := map[string]string{}
		for _, ps := range p.Spec.Params {
			defaults[ps.Name] = "placeholder"
			if ps.Default != nil {
				defaults[ps.Name] = ps.Default.StringVal
			}
		}
		for _, pt := range p.Spec.Tasks {
			for _, prm := range pt.Params {
				if prm.Name != "manifest" {
					continue
				}
				text := paramRef.ReplaceAllStringFunc(prm.Value.StringVal, func(ref string) string {
					return defaults[paramRef.FindStringSubmatch(ref)[1]]
				})
				checkManifest(t, pname+"/"+pt.Name, text, p)
			}
		}
	}
}

func checkManifest(t *testing.T, where, text string, p *v1.Pipeline) {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(text), &obj); err != nil {
		t.Errorf("%s: manifest does not parse: %v", where, err)
		return
	}
	kind, _ := obj["kind"].(string)
	if obj["apiVersion"] == nil || kind == "" {
		t.Errorf("%s: manifest lacks apiVersion or kind", where)
	}
	if kind != "VirtualMachine" {
		return
	}
	spec, _ := obj["spec"].(map[string]any)
	if spec["runStrategy"] != "RerunOnFailure" {
		t.Errorf("%s: runStrategy %v; RerunOnFailure lets the VM stop when the guest powers off", where, spec["runStrategy"])
	}
	templates := map[string]bool{}
	dvts, _ := spec["dataVolumeTemplates"].([]any)
	for _, d := range dvts {
		meta, _ := d.(map[string]any)["metadata"].(map[string]any)
		templates[meta["name"].(string)] = true
	}
	tmpl, _ := spec["template"].(map[string]any)
	tspec, _ := tmpl["spec"].(map[string]any)
	vols, _ := tspec["volumes"].([]any)
	for _, v := range vols {
		vol := v.(map[string]any)
		if dv, ok := vol["dataVolume"].(map[string]any); ok && !templates[dv["name"].(string)] {
			t.Errorf("%s: volume %v uses DataVolume %v, which no dataVolumeTemplate creates", where, vol["name"], dv["name"])
		}
	}
	if len(vols) == 0 {
		t.Errorf("%s: VM without volumes", where)
	}
}
