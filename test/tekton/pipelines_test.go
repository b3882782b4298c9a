package tekton

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	v1 "github.com/tektoncd/pipeline/pkg/apis/pipeline/v1"
)

// allTasks lists a pipeline's tasks and finally tasks.
func allTasks(p *v1.Pipeline) []v1.PipelineTask {
	return append(append([]v1.PipelineTask{}, p.Spec.Tasks...), p.Spec.Finally...)
}

// TestPipelineTasksMatchTheirTasks checks what Tekton resolves only at run time: every taskRef names
// one of our Tasks, every parameter passed is declared, every required parameter and workspace is given.
func TestPipelineTasksMatchTheirTasks(t *testing.T) {
	m := load(t)
	for pname, p := range m.pipelines {
		for _, pt := range allTasks(p) {
			where := fmt.Sprintf("pipeline %s task %s", pname, pt.Name)
			var spec *v1.TaskSpec
			switch {
			case pt.TaskRef != nil:
				task, ok := m.tasks[pt.TaskRef.Name]
				if !ok {
					t.Errorf("%s: taskRef %q is not one of tasks/", where, pt.TaskRef.Name)
					continue
				}
				spec = &task.Spec
			case pt.TaskSpec != nil:
				spec = &pt.TaskSpec.TaskSpec
			default:
				t.Errorf("%s: neither taskRef nor taskSpec", where)
				continue
			}
			checkParams(t, where, spec, pt.Params)
			checkWorkspaces(t, where, spec, pt.Workspaces)
		}
	}
}

func checkParams(t *testing.T, where string, spec *v1.TaskSpec, given v1.Params) {
	declared := map[string]v1.ParamSpec{}
	for _, ps := range spec.Params {
		declared[ps.Name] = ps
	}
	passed := map[string]bool{}
	for _, p := range given {
		passed[p.Name] = true
		ps, ok := declared[p.Name]
		if !ok {
			t.Errorf("%s: passes param %q the task does not declare", where, p.Name)
			continue
		}
		if ps.Type != "" && p.Value.Type != ps.Type {
			t.Errorf("%s: param %q is %s, the task wants %s", where, p.Name, p.Value.Type, ps.Type)
		}
	}
	for name, ps := range declared {
		if ps.Default == nil && !passed[name] {
			t.Errorf("%s: required param %q not passed", where, name)
		}
	}
}

func checkWorkspaces(t *testing.T, where string, spec *v1.TaskSpec, given []v1.WorkspacePipelineTaskBinding) {
	declared := map[string]v1.WorkspaceDeclaration{}
	for _, w := range spec.Workspaces {
		declared[w.Name] = w
	}
	bound := map[string]bool{}
	for _, w := range given {
		bound[w.Name] = true
		if _, ok := declared[w.Name]; !ok {
			t.Errorf("%s: binds workspace %q the task does not declare", where, w.Name)
		}
	}
	for name, w := range declared {
		if !w.Optional && !bound[name] {
			t.Errorf("%s: required workspace %q not bound", where, name)
		}
	}
}

// TestEULAGuard: in a pipeline with an acceptEula parameter, every task runs after the accept-eula
// gate (directly or through others), and the gate fails unless the value is exactly "true".
func TestEULAGuard(t *testing.T) {
	m := load(t)
	for _, name := range []string{"windows-installer", "iso-to-containerdisk"} {
		p := m.pipelines[name]
		if p == nil {
			t.Fatalf("pipeline %s missing", name)
		}
		after := map[string][]string{}
		var gate *v1.PipelineTask
		for i, pt := range p.Spec.Tasks {
			after[pt.Name] = pt.RunAfter
			if pt.Name == "accept-eula" {
				gate = &p.Spec.Tasks[i]
			}
		}
		if gate == nil || gate.TaskSpec == nil {
			t.Fatalf("%s: no inline accept-eula gate task", name)
		}
		for _, pt := range p.Spec.Tasks {
			if pt.Name != gate.Name && !reaches(after, pt.Name, gate.Name, map[string]bool{}) {
				t.Errorf("%s: task %s does not run after accept-eula", name, pt.Name)
			}
		}
		for value, wantOK := range map[string]bool{"true": true, "false": false, "True": false, "": false, "yes": false} {
			err := runGate(t, gate, value)
			if (err == nil) != wantOK {
				t.Errorf("%s: gate with acceptEula=%q: %v, want success %v", name, value, err, wantOK)
			}
		}
	}
}

func reaches(after map[string][]string, from, to string, seen map[string]bool) bool {
	if seen[from] {
		return false
	}
	seen[from] = true
	for _, a := range after[from] {
		if a == to || reaches(after, a, to, seen) {
			return true
		}
	}
	return false
}

// runGate runs the gate's script with /bin/sh, its environment taken from the step with the
// parameter substituted as Tekton would.
func runGate(t *testing.T, gate *v1.PipelineTask, value string) error {
	t.Helper()
	step := gate.TaskSpec.Steps[0]
	cmd := exec.Command("/bin/sh", "-c", step.Script)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for _, e := range step.Env {
		cmd.Env = append(cmd.Env, e.Name+"="+strings.ReplaceAll(e.Value, "$(params.acceptEula)", value))
	}
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "set the pipeline parameter acceptEula to \"true\"") {
		t.Errorf("gate failed without saying how to fix it: %s", out)
	}
	return err
}

// TestVMsAreCleanedUpInFinally: a pipeline that creates a VM deletes it in finally, keeping the disk
// it points its DataSource at.
func TestVMsAreCleanedUpInFinally(t *testing.T) {
	m := load(t)
	for name, p := range m.pipelines {
		creates := false
		for _, pt := range p.Spec.Tasks {
			creates = creates || (pt.TaskRef != nil && pt.TaskRef.Name == "create-vm" && pt.Name == "create-vm")
		}
		if !creates {
			continue
		}
		var cleanup *v1.PipelineTask
		for i, pt := range p.Spec.Finally {
			if pt.TaskRef != nil && pt.TaskRef.Name == "cleanup-vm" {
				cleanup = &p.Spec.Finally[i]
			}
		}
		if cleanup == nil {
			t.Errorf("%s creates a VM but has no cleanup-vm in finally", name)
			continue
		}
		var vmName, keep, pointed string
		for _, prm := range cleanup.Params {
			switch prm.Name {
			case "name":
				vmName = prm.Value.StringVal
			case "keepDataVolumes":
				keep = strings.Join(prm.Value.ArrayVal, ",")
			}
		}
		for _, pt := range p.Spec.Tasks {
			for _, prm := range pt.Params {
				if pt.TaskRef != nil && pt.TaskRef.Name == "datasource" && prm.Name == "pvcName" {
					pointed = prm.Value.StringVal
				}
			}
		}
		if vmName != "$(tasks.create-vm.results.name)" || keep != pointed || pointed == "" {
			t.Errorf("%s: cleanup deletes %q keeping %q; want the created VM, keeping the DataSource's PVC %q", name, vmName, keep, pointed)
		}
	}
}

var paramInScript = regexp.MustCompile(`\$\(params\.`)

// TestStepsAreSafeAndRunOurCommands: no parameter is pasted into a script (they go through env or
// args), and every command a step runs is built from cmd/.
func TestStepsAreSafeAndRunOurCommands(t *testing.T) {
	m := load(t)
	commands := map[string]bool{}
	for _, task := range m.tasks {
		for _, s := range task.Spec.Steps {
			if paramInScript.MatchString(s.Script) {
				t.Errorf("task %s step %s pastes a parameter into its script; pass it by env or args", task.Name, s.Name)
			}
			if len(s.Command) > 0 {
				commands[s.Command[0]] = true
			}
			for _, c := range []string{"installer-vm", "isopatch", "build-from-iso", "boot-verify", "disk-push", "datasource-point"} {
				if strings.Contains(s.Script, c+" ") {
					commands[c] = true
				}
			}
		}
	}
	for c := range commands {
		if _, err := os.Stat(filepath.Join(repo, "cmd", c, "main.go")); err != nil {
			t.Errorf("tasks run %q, which cmd/ does not build: %v", c, err)
		}
	}
	if len(commands) < 5 {
		t.Errorf("tasks run only %v", commands)
	}
}

// TestExamplePipelineRuns: every pipeline has an example PipelineRun (pipelines/NAME/pipelinerun.yaml, what the
// READMEs tell a user to kubectl create -f) that names it, passes only parameters it declares, every one it
// requires, and binds every workspace it needs.
func TestExamplePipelineRuns(t *testing.T) {
	m := load(t)
	for name, p := range m.pipelines {
		file := filepath.Join(repo, "pipelines", name, "pipelinerun.yaml")
		pr, ok := m.runs[file]
		if !ok {
			t.Errorf("pipeline %s has no example %s", name, file)
			continue
		}
		if pr.Spec.PipelineRef == nil || pr.Spec.PipelineRef.Name != name {
			t.Errorf("%s: pipelineRef %v, want %s", file, pr.Spec.PipelineRef, name)
			continue
		}
		checkParams(t, file, &v1.TaskSpec{Params: p.Spec.Params}, pr.Spec.Params)
		bound := map[string]bool{}
		for _, w := range pr.Spec.Workspaces {
			bound[w.Name] = true
		}
		for _, w := range p.Spec.Workspaces {
			if !w.Optional && !bound[w.Name] {
				t.Errorf("%s: required workspace %q not bound", file, w.Name)
			}
		}
	}
	if len(m.runs) != len(m.pipelines) {
		t.Errorf("%d example PipelineRuns for %d pipelines: %v", len(m.runs), len(m.pipelines), keys(m.runs))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPipelineParamsDocumented: tasks/README.md has a "### NAME parameters" table for every pipeline, with a
// row for each parameter and its default, and no row for a parameter the pipeline lacks.
func TestPipelineParamsDocumented(t *testing.T) {
	m := load(t)
	b, err := os.ReadFile(filepath.Join(repo, "tasks", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| ([^|]*) \\|")
	for name, p := range m.pipelines {
		heading := "### " + name + " parameters\n"
		i := strings.Index(readme, heading)
		if i < 0 {
			t.Errorf("tasks/README.md has no %q table", strings.TrimSpace(heading))
			continue
		}
		table := readme[i+len(heading):]
		if end := strings.Index(table, "\n\n"+"Workspaces"); end >= 0 {
			table = table[:end]
		} else if end := strings.Index(table, "\n###"); end >= 0 {
			table = table[:end]
		}
		documented := map[string]string{}
		for _, r := range row.FindAllStringSubmatch(table, -1) {
			documented[r[1]] = strings.TrimSpace(r[2])
		}
		for _, ps := range p.Spec.Params {
			doc, ok := documented[ps.Name]
			switch {
			case !ok:
				t.Errorf("%s: parameter %s is not in tasks/README.md's table", name, ps.Name)
			case ps.Default == nil && doc != "(required)":
				t.Errorf("%s: parameter %s is required, the table says %s", name, ps.Name, doc)
			case ps.Default != nil && !strings.Contains(doc, ps.Default.StringVal):
				t.Errorf("%s: parameter %s defaults to %q, the table says %s", name, ps.Name, ps.Default.StringVal, doc)
			}
			delete(documented, ps.Name)
		}
		for extra := range documented {
			t.Errorf("%s: tasks/README.md documents parameter %s, which the pipeline does not have", name, extra)
		}
	}
}
