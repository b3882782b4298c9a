//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/goldimage/goldimage/pkg/qemu/qemutest"
)

// pipelineNamespace is where hack/e2e.sh installed tasks/ and pipelines/ (kubectl apply -k), as a user would.
var pipelineNamespace = envOr("GOLDIMAGE_E2E_PIPELINE_NAMESPACE", "goldimage-pipelines")

// inClusterRegistry is the registry Service the pipelines push to and the crons poll (test/e2e/manifests).
var inClusterRegistry = envOr("GOLDIMAGE_E2E_REGISTRY", "registry.goldimage-registry.svc.cluster.local:5000")

// buildTimeout bounds one PipelineRun: a TCG install of the stand-in (tens of seconds) plus pod starts.
const buildTimeout = 10 * time.Minute

// taskRunList is Tekton's TaskRun list kind; the e2e tests read Tekton objects unstructured, keeping Tekton's
// module out of goldimage's (test/tekton type-checks the YAML against it).
var taskRunList = schema.GroupVersionKind{Group: "tekton.dev", Version: "v1", Kind: "TaskRunList"}

// TestISOToContainerDisk closes the loop on the real Tekton: the iso-to-containerdisk pipeline installs the
// stand-in installer ISO in its task pod (QEMU TCG) and pushes the disk to the in-cluster registry; a
// DataImportCron polling that image by its Service name imports it, its DataSource points at a PVC with the
// installer's marker, and a DataVolume with sourceRef clones it into another namespace. A second build moves
// the DataSource and garbage-collects the first import. A failing install fails the PipelineRun with the
// installer's cause, pushes nothing and leaves the DataSource where it was; so does an install whose disk
// does not boot, refused by boot-verify.
func TestISOToContainerDisk(t *testing.T) {
	c := connect(t)
	iso := os.Getenv("GOLDIMAGE_E2E_STANDIN_ISO")
	if iso == "" {
		t.Skip("GOLDIMAGE_E2E_STANDIN_ISO unset: run with `make e2e`, which builds the stand-in installer ISO")
	}
	ctx := context.Background()
	ns := pipelineNamespace
	golden, vms := c.namespace(t, "e2e-golden-build"), c.namespace(t, "e2e-vms-build")
	suffix := golden[len(golden)-6:]
	repo := "golden/standin-" + suffix
	image := inClusterRegistry + "/" + repo + ":latest"

	build := importISO(t, c, ns, "standin-iso-"+suffix, serveFile(t, c.Gateway, iso))
	good := answerConfigMap(t, c, ns, "answer-good-"+suffix, "hostname=golden-1\n")
	second := answerConfigMap(t, c, ns, "answer-second-"+suffix, "hostname=golden-2\n")
	bad := answerConfigMap(t, c, ns, "answer-bad-"+suffix, "# no hostname: the stand-in installer fails\n")
	unbootable := answerConfigMap(t, c, ns, "answer-flat-"+suffix, "hostname=golden-flat\nbootable=false\n")

	run1 := runPipeline(t, c, ns, image, build, good)
	d1 := expectPipelineSucceeded(t, c, run1)
	cron := standinCron(golden, "standin", "docker://"+image)
	if err := c.Client.Create(ctx, cron); err != nil {
		t.Fatalf("create DataImportCron: %v", err)
	}
	dv1 := expectInstalledImport(t, c, golden, "standin", d1, "golden-1")
	cloneFromDataSource(t, c, golden, vms, "standin", "vm-root", "golden-1")

	run2 := runPipeline(t, c, ns, image, build, second)
	d2 := expectPipelineSucceeded(t, c, run2)
	triggerPoll(t, c, cron)
	expectInstalledImport(t, c, golden, "standin", d2, "golden-2")
	expectGone(t, c, golden, dv1) // importsToKeep 1

	run3 := runPipeline(t, c, ns, image, build, bad)
	expectPipelineFailed(t, c, run3, "install", "answer file sets no hostname")
	triggerPoll(t, c, cron)
	expectCronStatus(t, c, golden, "standin", dvNameOf("standin", d2)) // nothing new was pushed
	expectDataSource(t, c, golden, "standin", dvNameOf("standin", d2))

	// The install succeeds but the disk does not boot: boot-verify refuses it and nothing is pushed.
	run4 := runPipeline(t, c, ns, image, build, unbootable)
	expectPipelineFailed(t, c, run4, "verify", `did not boot to "GOLDIMAGE-BOOTED"`)
	triggerPoll(t, c, cron)
	expectCronStatus(t, c, golden, "standin", dvNameOf("standin", d2))
	expectDataSource(t, c, golden, "standin", dvNameOf("standin", d2))
}

// serveFile serves path over HTTP on the pod bridge gateway and returns its URL.
func serveFile(t *testing.T, ip, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, path)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/" + strings.TrimPrefix(path[strings.LastIndex(path, "/"):], "/")
}

// importISO imports the installer ISO into a DataVolume (disk.img of its PVC) sized to also hold the installed
// disk: with Tekton's default coschedule mode a TaskRun may bind one PVC, so the iso and scratch workspaces share it.
func importISO(t *testing.T, c *cluster, ns, name, url string) string {
	t.Helper()
	mode := corev1.PersistentVolumeFilesystem
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: cdiv1.DataVolumeSpec{
		Source: &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: url}},
		Storage: &cdiv1.StorageSpec{VolumeMode: &mode, StorageClassName: ptr.To(c.StorageClass),
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: resource.MustParse("200Mi")}}}}}
	if err := c.Client.Create(context.Background(), dv); err != nil {
		t.Fatalf("create ISO DataVolume: %v", err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			c.Client.Delete(context.Background(), dv)
		}
	})
	waitSucceeded(t, c, ns, name)
	return name
}

func answerConfigMap(t *testing.T, c *cluster, ns, name, answer string) string {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data: map[string]string{qemutest.AnswerFile: answer}}
	if err := c.Client.Create(context.Background(), cm); err != nil {
		t.Fatalf("create answer ConfigMap: %v", err)
	}
	t.Cleanup(func() { c.Client.Delete(context.Background(), cm) })
	return name
}

// pipelineRunTemplate is a PipelineRun of iso-to-containerdisk as a user would write it for the stand-in:
// BIOS, a small disk and guest, and a smaller CPU/memory request than the task's defaults (a two-CPU node).
const pipelineRunTemplate = `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {generateName: iso-to-containerdisk-, namespace: %[1]s}
spec:
  pipelineRef: {name: iso-to-containerdisk}
  params:
    - {name: image, value: "%[2]s"}
    - {name: acceptEula, value: "true"}
    - {name: firmware, value: bios}
    - {name: diskPath, value: golden.img}
    - {name: diskSize, value: 64Mi}
    - {name: memory, value: "256"}
    - {name: maxReboots, value: "0"}
    - {name: timeout, value: 8m}
    - {name: insecureRegistry, value: "true"}
    - {name: bootTimeout, value: 2m}
  taskRunSpecs:
    - pipelineTaskName: install
      stepSpecs:
        - name: install
          computeResources: {requests: {cpu: 500m, memory: 512Mi}}
    - pipelineTaskName: verify
      stepSpecs:
        - name: boot
          computeResources: {requests: {cpu: 500m, memory: 512Mi}}
  workspaces:
    - {name: iso, persistentVolumeClaim: {claimName: %[3]s}}
    - {name: scratch, persistentVolumeClaim: {claimName: %[3]s}}
    - {name: answer, configMap: {name: %[4]s}}
`

// runPipeline creates a PipelineRun and returns it.
func runPipeline(t *testing.T, c *cluster, ns, image, claim, answer string) *unstructured.Unstructured {
	t.Helper()
	pr := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(pipelineRunTemplate, ns, image, claim, answer)), &pr.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(context.Background(), pr); err != nil {
		t.Fatalf("create PipelineRun: %v", err)
	}
	t.Logf("PipelineRun %s/%s with answer %s", ns, pr.GetName(), answer)
	return pr
}

// waitPipelineRun waits for pr's Succeeded condition to leave Unknown and returns its status and message.
func waitPipelineRun(t *testing.T, c *cluster, pr *unstructured.Unstructured) (string, string) {
	t.Helper()
	var status, message string
	waitFor(t, "PipelineRun "+pr.GetName(), buildTimeout, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(pr), pr); err != nil {
			return false, "", err
		}
		status, message = succeeded(pr)
		return status == "True" || status == "False", fmt.Sprintf("Succeeded=%q %s", status, message), nil
	})
	return status, message
}

// succeeded returns the status and message of a Tekton object's Succeeded condition.
func succeeded(obj *unstructured.Unstructured) (string, string) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, cond := range conds {
		m, _ := cond.(map[string]any)
		if m["type"] == "Succeeded" {
			return fmt.Sprint(m["status"]), fmt.Sprint(m["message"])
		}
	}
	return "", ""
}

// expectPipelineSucceeded waits for pr to succeed and returns the pushed digest (its IMAGE_DIGEST result); a
// failure reports every TaskRun's condition and the tail of its steps' logs.
func expectPipelineSucceeded(t *testing.T, c *cluster, pr *unstructured.Unstructured) string {
	t.Helper()
	if status, message := waitPipelineRun(t, c, pr); status != "True" {
		t.Fatalf("PipelineRun %s failed: %s\n%s", pr.GetName(), message, taskRunReport(t, c, pr))
	}
	results, _, _ := unstructured.NestedSlice(pr.Object, "status", "results")
	for _, r := range results {
		m, _ := r.(map[string]any)
		if m["name"] == "IMAGE_DIGEST" {
			d := fmt.Sprint(m["value"])
			if !strings.HasPrefix(d, "sha256:") {
				t.Fatalf("IMAGE_DIGEST = %q", d)
			}
			t.Logf("PipelineRun %s pushed %s", pr.GetName(), d)
			return d
		}
	}
	t.Fatalf("PipelineRun %s has no IMAGE_DIGEST result: %v", pr.GetName(), results)
	return ""
}

// expectPipelineFailed waits for pr to fail and checks that the TaskRun of pipeline task failedTask failed with
// cause in its status (the FAILURE result the task's command writes) and that no later task ran.
func expectPipelineFailed(t *testing.T, c *cluster, pr *unstructured.Unstructured, failedTask, cause string) {
	t.Helper()
	if status, message := waitPipelineRun(t, c, pr); status != "False" {
		t.Fatalf("PipelineRun %s: Succeeded=%s (%s), want it to fail", pr.GetName(), status, message)
	}
	runs := taskRuns(t, c, pr)
	tr, ok := runs[failedTask]
	if !ok {
		t.Fatalf("PipelineRun %s has no TaskRun for %s: %v", pr.GetName(), failedTask, runs)
	}
	if status, _ := succeeded(tr); status != "False" {
		t.Fatalf("TaskRun %s: Succeeded=%s, want False", tr.GetName(), status)
	}
	reason := taskResult(tr, "FAILURE")
	if !strings.Contains(reason, cause) || strings.Contains(strings.TrimSpace(reason), "\n") {
		t.Errorf("TaskRun %s FAILURE result = %q, want one line naming %q\n%s", tr.GetName(), reason, cause, taskRunReport(t, c, pr))
	}
	if _, pushed := runs["push"]; pushed {
		t.Errorf("the push task ran after a failed %s", failedTask)
	}
	t.Logf("PipelineRun %s failed as expected: %s", pr.GetName(), reason)
}

// taskRuns returns pr's TaskRuns by pipeline task name.
func taskRuns(t *testing.T, c *cluster, pr *unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(taskRunList)
	if err := c.Client.List(context.Background(), list, client.InNamespace(pr.GetNamespace()),
		client.MatchingLabels{"tekton.dev/pipelineRun": pr.GetName()}); err != nil {
		t.Fatalf("list TaskRuns of %s: %v", pr.GetName(), err)
	}
	runs := map[string]*unstructured.Unstructured{}
	for i := range list.Items {
		runs[list.Items[i].GetLabels()["tekton.dev/pipelineTask"]] = &list.Items[i]
	}
	return runs
}

func taskResult(tr *unstructured.Unstructured, name string) string {
	results, _, _ := unstructured.NestedSlice(tr.Object, "status", "results")
	for _, r := range results {
		if m, _ := r.(map[string]any); m["name"] == name {
			return fmt.Sprint(m["value"])
		}
	}
	return ""
}

// taskRunReport describes every TaskRun of pr: its condition and the last lines of each step's log.
func taskRunReport(t *testing.T, c *cluster, pr *unstructured.Unstructured) string {
	var b strings.Builder
	for task, tr := range taskRuns(t, c, pr) {
		status, message := succeeded(tr)
		fmt.Fprintf(&b, "TaskRun %s (%s): Succeeded=%s %s\n", tr.GetName(), task, status, message)
		pod, _, _ := unstructured.NestedString(tr.Object, "status", "podName")
		steps, _, _ := unstructured.NestedSlice(tr.Object, "status", "steps")
		for _, s := range steps {
			m, _ := s.(map[string]any)
			container := fmt.Sprint(m["container"])
			fmt.Fprintf(&b, "  %s log tail:\n%s\n", container, indent(logTail(c, tr.GetNamespace(), pod, container, 15)))
		}
	}
	return b.String()
}

// logTail returns the last lines of a container's log.
func logTail(c *cluster, ns, pod, container string, lines int64) string {
	rc, err := c.Kube.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, TailLines: &lines}).Stream(context.Background())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
	return string(b)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// standinCron is a DataImportCron keeping one import of url (the in-cluster registry, listed insecure for the
// controller by hack/e2e.sh) in DataSource source; storage is left to the class defaults, as in HCO's templates.
func standinCron(ns, source, url string) *cdiv1.DataImportCron {
	return &cdiv1.DataImportCron{
		ObjectMeta: metav1.ObjectMeta{Name: source + "-cron", Namespace: ns},
		Spec: cdiv1.DataImportCronSpec{
			Schedule: schedule, ManagedDataSource: source, ImportsToKeep: ptr.To[int32](1),
			GarbageCollect: ptr.To(cdiv1.DataImportCronGarbageCollectOutdated),
			Template: cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{
				Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: &url}},
				Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceStorage: resource.MustParse("128Mi")}}},
			}},
		},
	}
}

// dvNameOf is dvName for a digest string.
func dvNameOf(source, digest string) string {
	return source + "-" + strings.TrimPrefix(digest, "sha256:")[:12]
}

// expectInstalledImport waits for the cron to import digest and checks that the DataSource and the cron point at
// it and that the volume holds the disk the stand-in installer wrote for hostname.
func expectInstalledImport(t *testing.T, c *cluster, ns, source, digest, hostname string) string {
	t.Helper()
	name := dvNameOf(source, digest)
	waitFor(t, "import "+name, importTimeout, func() (bool, string, error) {
		dv := &cdiv1.DataVolume{}
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
			return false, "not created yet; " + cronState(c, ns, source), client.IgnoreNotFound(err)
		}
		if dv.Status.Phase == cdiv1.Failed {
			return false, "", fmt.Errorf("DataVolume %s failed: %s", name, dvConditions(dv))
		}
		return dv.Status.Phase == cdiv1.Succeeded, fmt.Sprintf("phase %q %s", dv.Status.Phase, dvConditions(dv)), nil
	})
	expectInstalled(t, volumeTarget(t, c, ns, name), hostname)
	expectDataSource(t, c, ns, source, name)
	expectCronStatus(t, c, ns, source, name)
	return name
}

// expectInstalled checks the stand-in installer's header on the disk.
func expectInstalled(t *testing.T, disk, hostname string) {
	t.Helper()
	head := qemutest.ReadHeader(t, disk)
	want := qemutest.InstalledMarker + "hostname=" + hostname + "\n"
	if !bytes.HasPrefix(head, []byte(want)) {
		t.Fatalf("%s's header at %d is %q, want the installer's marker %q", disk, qemutest.HeaderOffset, head[:64], want)
	}
}

// cloneFromDataSource clones DataSource golden/source into namespace vms as a VM's dataVolumeTemplate would.
func cloneFromDataSource(t *testing.T, c *cluster, golden, vms, source, name, hostname string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cloner", Namespace: golden},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{"cdi.kubevirt.io"}, Resources: []string{"datavolumes/source"}, Verbs: []string{"create"}}}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cloner", Namespace: golden},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cloner"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: vms}}}
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: vms}, Spec: cdiv1.DataVolumeSpec{
		SourceRef: &cdiv1.DataVolumeSourceRef{Kind: cdiv1.DataVolumeDataSource, Namespace: ptr.To(golden), Name: source},
		Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceStorage: resource.MustParse("128Mi")}}}}}
	for _, obj := range []client.Object{role, binding, dv} {
		if err := c.Client.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	waitSucceeded(t, c, vms, name)
	expectInstalled(t, volumeTarget(t, c, vms, name), hostname)
	t.Logf("cloned DataSource %s/%s into %s/%s", golden, source, vms, name)
}
