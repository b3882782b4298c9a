package tekton

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
	"sigs.k8s.io/yaml"
)

const repo = "../.."

// manifests holds every Task and Pipeline of the repository, by name, and the example PipelineRuns by file.
type manifests struct {
	tasks     map[string]*v1.Task
	pipelines map[string]*v1.Pipeline
	runs      map[string]*v1.PipelineRun // file -> example a user starts with kubectl create -f
	files     map[string]string          // name -> file, for messages
}

// notTekton are the YAML files under tasks/ that are plain Kubernetes objects, installed alongside.
var notTekton = map[string]bool{"kustomization.yaml": true, "rbac.yaml": true}

// load decodes tasks/ and pipelines/ strictly (unknown fields fail) into Tekton's v1 types.
func load(t *testing.T) manifests {
	t.Helper()
	m := manifests{tasks: map[string]*v1.Task{}, pipelines: map[string]*v1.Pipeline{},
		runs: map[string]*v1.PipelineRun{}, files: map[string]string{}}
	for _, dir := range []string{"tasks", "pipelines"} {
		err := filepath.WalkDir(filepath.Join(repo, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || notTekton[d.Name()] {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var meta struct{ APIVersion, Kind string }
			if err := yaml.Unmarshal(b, &meta); err != nil {
				t.Errorf("%s: %v", path, err)
				return nil
			}
			if meta.APIVersion != "tekton.dev/v1" {
				t.Errorf("%s: apiVersion %q, want tekton.dev/v1", path, meta.APIVersion)
			}
			switch meta.Kind {
			case "Task":
				var task v1.Task
				if err := yaml.UnmarshalStrict(b, &task); err != nil {
					t.Errorf("%s: %v", path, err)
					return nil
				}
				m.tasks[task.Name], m.files[task.Name] = &task, path
			case "Pipeline":
				var p v1.Pipeline
				if err := yaml.UnmarshalStrict(b, &p); err != nil {
					t.Errorf("%s: %v", path, err)
					return nil
				}
				m.pipelines[p.Name], m.files[p.Name] = &p, path
			case "PipelineRun":
				var pr v1.PipelineRun
				if err := yaml.UnmarshalStrict(b, &pr); err != nil {
					t.Errorf("%s: %v", path, err)
					return nil
				}
				m.runs[path] = &pr
			default:
				t.Errorf("%s: kind %q is not a Task, Pipeline or PipelineRun", path, meta.Kind)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestEveryTaskAndPipelineIsPresent(t *testing.T) {
	m := load(t)
	want := map[string][]string{
		"Task":     {"boot-verify", "build-from-iso", "cleanup-vm", "create-vm", "datasource", "disk-push", "patch-windows-iso", "wait-for-vm"},
		"Pipeline": {"iso-to-containerdisk", "windows-customize", "windows-installer"},
	}
	got := map[string][]string{}
	for name := range m.tasks {
		got["Task"] = append(got["Task"], name)
	}
	for name := range m.pipelines {
		got["Pipeline"] = append(got["Pipeline"], name)
	}
	for kind, names := range want {
		sort.Strings(got[kind])
		if strings.Join(got[kind], " ") != strings.Join(names, " ") {
			t.Errorf("%ss %v, want %v", kind, got[kind], names)
		}
	}
	for name, file := range m.files {
		if base := strings.TrimSuffix(filepath.Base(file), ".yaml"); base != name {
			t.Errorf("%s holds %s; name the file after it", file, name)
		}
	}
}

// TestTektonValidation runs Tekton's own defaulting and validation on every object.
func TestTektonValidation(t *testing.T) {
	m := load(t)
	ctx := context.Background()
	for name, task := range m.tasks {
		task.SetDefaults(ctx)
		if err := task.Validate(ctx); err != nil {
			t.Errorf("Task %s (%s): %v", name, m.files[name], err)
		}
	}
	for name, p := range m.pipelines {
		p.SetDefaults(ctx)
		if err := p.Validate(ctx); err != nil {
			t.Errorf("Pipeline %s (%s): %v", name, m.files[name], err)
		}
	}
	for file, pr := range m.runs {
		if pr.Name == "" {
			pr.Name = pr.GenerateName + "x" // what the API server does with generateName
		}
		pr.SetDefaults(ctx)
		if err := pr.Validate(ctx); err != nil {
			t.Errorf("PipelineRun %s: %v", file, err)
		}
	}
}
