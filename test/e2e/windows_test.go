//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/goldimage/goldimage/pkg/iso"
)

// windowsInstallerExample is the PipelineRun tasks/README.md tells a user to kubectl create -f.
const windowsInstallerExample = "../../pipelines/windows-installer/pipelinerun.yaml"

// TestWindowsInstaller runs the windows-installer example PipelineRun on the real Tekton, with a stand-in for the
// Windows ISO laid out as Windows media are (El Torito UEFI entry on efisys.bin, efisys_noprompt.bin beside it):
// accept-eula, import-iso (create-vm with a DataVolume), wait-for-iso and patch-iso run as real TaskRuns as the
// goldimage-tasks ServiceAccount, and the ISO in the PVC then boots efisys_noprompt.bin.
//
// With KubeVirt deployed, create-vm creates the pipeline's own Windows installer VM (UEFI secure boot, SMM, TPM,
// SATA CD-ROMs, the virtio-win containerDisk, the sysprep CD), which runs under TCG. The stand-in media hold no
// bootable installer (no Microsoft-signed loader can exist here), so the guest never powers off: wait-for-install
// gives up after installTimeout naming the status it last saw (Running), and cleanup-vm, in finally, deletes the VM
// and keeps the disk. Without KubeVirt, create-vm of the installer VM fails with a one-line cause and no later
// task runs. The datasource task, run on its own, points a DataSource at the PVC.
func TestWindowsInstaller(t *testing.T) {
	c := connect(t)
	ctx := context.Background()
	ns, suffix := pipelineNamespace, randomSuffix(t)
	isoDV, disk := "win-iso-"+suffix, "win-"+suffix
	kubevirt := os.Getenv("GOLDIMAGE_E2E_KUBEVIRT") == "1"

	params := map[string]string{
		"winImageDownloadURL": serveFile(t, c.Gateway, windowsLikeISO(t)),
		"isoDVName":           isoDV,
		"isoSize":             "200Mi", // the stand-in is 2 MiB; the cluster's PVs are 256Mi
		"baseDvName":          disk,
	}
	if kubevirt {
		params["diskSize"] = "200Mi"
		params["memory"] = "1Gi"
		params["installTimeout"] = "3m"
		params["virtioContainerDiskName"] = virtioStandin(t)
		params["autounattendConfigMapName"] = installerAnswer(t, c, ns, "autounattend-"+suffix, "")
	}
	pr := examplePipelineRun(t, windowsInstallerExample, ns, params, isoDV)
	if err := c.Client.Create(ctx, pr); err != nil {
		t.Fatalf("create PipelineRun from %s: %v", windowsInstallerExample, err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			c.Client.Delete(ctx, &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: isoDV}})
			c.Client.Delete(ctx, &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: disk}})
		}
	})
	t.Logf("PipelineRun %s/%s from %s (KubeVirt deployed: %v)", ns, pr.GetName(), windowsInstallerExample, kubevirt)
	if status, message := waitPipelineRun(t, c, pr); status != "False" {
		t.Fatalf("PipelineRun %s: Succeeded=%s (%s); want it to fail", pr.GetName(), status, message)
	}
	runs := taskRuns(t, c, pr)
	for _, task := range []string{"accept-eula", "import-iso", "wait-for-iso", "patch-iso"} {
		expectTaskSucceeded(t, runs, task)
	}
	if kubevirt {
		expectTaskSucceeded(t, runs, "create-vm")
		expectTaskFailed(t, runs, "wait-for-install", "to power off: timed out after 3m0s; last seen printableStatus Running")
	} else {
		expectTaskFailed(t, runs, "create-vm", "VirtualMachine")
		if _, ran := runs["wait-for-install"]; ran {
			t.Errorf("task wait-for-install ran after create-vm failed")
		}
	}
	if _, ran := runs["point-datasource"]; ran {
		t.Errorf("task point-datasource ran after the installation failed")
	}
	if _, ran := runs["cleanup-vm"]; ran || kubevirt { // finally: skipped when create-vm made no VM to name
		expectTaskSucceeded(t, runs, "cleanup-vm")
	}
	if t.Failed() {
		t.Fatalf("\n%s", taskRunReport(t, c, pr))
	}
	if kubevirt {
		expectVMGone(t, c, ns, taskResult(runs["create-vm"], "name"))
		expectNoOwner(t, c, ns, disk)
	}
	expectNoPromptBoot(t, volumeTarget(t, c, ns, isoDV))

	ds := "win-ds-" + suffix
	runDataSourceTask(t, c, ns, ds, isoDV)
	t.Cleanup(func() {
		if !t.Failed() {
			c.Client.Delete(ctx, &cdiv1.DataSource{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: ds}})
		}
	})
	expectDataSource(t, c, ns, ds, isoDV)
}

// expectTaskSucceeded checks that the TaskRun of a pipeline task ran and succeeded.
func expectTaskSucceeded(t *testing.T, runs map[string]*unstructured.Unstructured, task string) {
	t.Helper()
	if tr, ok := runs[task]; !ok {
		t.Errorf("task %s did not run", task)
	} else if status, message := succeeded(tr); status != "True" {
		t.Errorf("task %s: Succeeded=%s %s", task, status, message)
	}
}

// virtioStandin loads a containerDisk into the node in the place of quay.io/kubevirt/virtio-container-disk (the
// virtio-win drivers CD, which cannot be pulled here) and returns its reference.
func virtioStandin(t *testing.T) string {
	t.Helper()
	const ref = "goldimage.local/virtio-container-disk:e2e"
	loadIntoNode(t, containerDisk(t, rawDisk(t, 21), "disk.img"), ref)
	return ref
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// examplePipelineRun reads an example PipelineRun, overrides the given parameters (adding those it lacks) and
// binds its iso workspace to claim.
func examplePipelineRun(t *testing.T, file, ns string, params map[string]string, claim string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pr := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(b, &pr.Object); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	pr.SetNamespace(ns)
	list, _, _ := unstructured.NestedSlice(pr.Object, "spec", "params")
	for _, p := range list {
		m := p.(map[string]any)
		if v, ok := params[m["name"].(string)]; ok {
			m["value"] = v
			delete(params, m["name"].(string))
		}
	}
	for name, v := range params {
		list = append(list, map[string]any{"name": name, "value": v})
	}
	workspaces := []any{map[string]any{"name": "iso", "persistentVolumeClaim": map[string]any{"claimName": claim}}}
	if err := unstructured.SetNestedSlice(pr.Object, list, "spec", "params"); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedSlice(pr.Object, workspaces, "spec", "workspaces"); err != nil {
		t.Fatal(err)
	}
	return pr
}

// expectTaskFailed checks that the TaskRun of a pipeline task failed with a one-line FAILURE result naming cause.
func expectTaskFailed(t *testing.T, runs map[string]*unstructured.Unstructured, task, cause string) {
	t.Helper()
	tr, ok := runs[task]
	if !ok {
		t.Errorf("task %s did not run", task)
		return
	}
	reason := taskResult(tr, "FAILURE")
	if status, _ := succeeded(tr); status != "False" || !strings.Contains(reason, cause) || strings.Contains(strings.TrimSpace(reason), "\n") {
		t.Errorf("task %s: Succeeded=%s FAILURE %q; want it failed with one line naming %q", task, status, reason, cause)
		return
	}
	t.Logf("task %s failed as expected: %s", task, reason)
}

// windowsLikeISO masters an ISO laid out like Windows install media: a BIOS entry, the UEFI El Torito entry on
// efi/microsoft/boot/efisys.bin (the "press any key" image) and efisys_noprompt.bin beside it, each a 1.44 MB
// image with its own content. It stands in for a Windows ISO, which cannot be had here.
func windowsLikeISO(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "media")
	for name, size := range map[string]int{"boot/etfsboot.com": 4096, "efi/microsoft/boot/efisys.bin": 1474560,
		"efi/microsoft/boot/efisys_noprompt.bin": 1474560, "sources/install.wim": 300000, "setup.exe": 4096} {
		b := make([]byte, size)
		rand.Read(b)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "windows-like.iso")
	cmd := exec.Command("xorriso", "-as", "mkisofs", "-R", "-J", "-o", out,
		"-b", "boot/etfsboot.com", "-no-emul-boot", "-boot-load-size", "4",
		"-eltorito-alt-boot", "-e", "efi/microsoft/boot/efisys.bin", "-no-emul-boot", root)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	return out
}

// expectNoPromptBoot checks that the UEFI boot entry of the ISO at path loads the bytes of efisys_noprompt.bin
// (patch-iso copies them over the prompting image in place; nothing else moves).
func expectNoPromptBoot(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cat, err := iso.ReadBootCatalog(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	entry, err := cat.EFI()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	noprompt, err := iso.Lookup(f, iso.WindowsNoPromptImage)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	boots, want := make([]byte, noprompt.Size), make([]byte, noprompt.Size)
	if _, err := f.ReadAt(boots, int64(entry.LoadLBA)*iso.SectorSize); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadAt(want, int64(noprompt.LBA)*iso.SectorSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(boots, want) {
		t.Fatalf("%s: the UEFI entry (sector %d) does not load %s's bytes: patch-iso did not patch the PVC's ISO",
			path, entry.LoadLBA, iso.WindowsNoPromptImage)
	}
	t.Logf("%s: the UEFI entry (sector %d) loads %s's bytes", path, entry.LoadLBA, iso.WindowsNoPromptImage)
}

// dataSourceTaskRun runs the datasource task as the KubeVirt pipelines' ServiceAccount.
const dataSourceTaskRun = `
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {generateName: datasource-, namespace: %s}
spec:
  taskRef: {name: datasource}
  serviceAccountName: goldimage-tasks
  params:
    - {name: dataSourceName, value: %s}
    - {name: pvcName, value: %s}
`

// runDataSourceTask runs the datasource task pointing DataSource name at pvc and waits for it to succeed.
func runDataSourceTask(t *testing.T, c *cluster, ns, name, pvc string) {
	t.Helper()
	tr := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(dataSourceTaskRun, ns, name, pvc)), &tr.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(context.Background(), tr); err != nil {
		t.Fatalf("create TaskRun: %v", err)
	}
	var status, message string
	waitFor(t, "TaskRun "+tr.GetName(), buildTimeout, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(tr), tr); err != nil {
			return false, "", err
		}
		status, message = succeeded(tr)
		return status == "True" || status == "False", status + " " + message, nil
	})
	if status != "True" {
		t.Fatalf("TaskRun %s: Succeeded=%s %s; FAILURE %q", tr.GetName(), status, message, taskResult(tr, "FAILURE"))
	}
}
