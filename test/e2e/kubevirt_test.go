//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

var (
	vmKind  = schema.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachine"}
	vmiKind = schema.GroupVersionKind{Group: "kubevirt.io", Version: "v1", Kind: "VirtualMachineInstance"}
)

// vmBootTimeout bounds a VM's way from creation to its boot marker: the clone of its disk, the launcher pod, and
// the stand-in's kernel booting under QEMU TCG (software emulation, no KVM here).
const vmBootTimeout = 8 * time.Minute

// requireKubeVirt skips the test when hack/e2e.sh did not deploy KubeVirt (GOLDIMAGE_E2E_KUBEVIRT=0).
func requireKubeVirt(t *testing.T) {
	t.Helper()
	if os.Getenv("GOLDIMAGE_E2E_KUBEVIRT") != "1" {
		t.Skip("KubeVirt is not deployed in this cluster (GOLDIMAGE_E2E_KUBEVIRT is not 1)")
	}
}

// TestVMFromDataSource is the consumer's side of a golden image: a DataImportCron keeps the stand-in's installed
// disk in a DataSource; a KubeVirt VirtualMachine whose dataVolumeTemplate has sourceRef to that DataSource gets a
// clone, boots it under TCG and prints the installed system's marker on its serial console. When the cron moves the
// DataSource to a newer image, a new VM boots the new image, while the running VM keeps running on its own disk.
func TestVMFromDataSource(t *testing.T) {
	requireKubeVirt(t)
	c := connect(t)
	ns := c.namespace(t, "e2e-vm")
	reg := startRegistry(t, c.Gateway)
	createCAConfigMap(t, c, ns, reg)
	ctx := context.Background()
	const source, repo = "standin", "e2e/standin-vm"

	raw1 := installedDisk(t, "golden-one")
	d1 := reg.Push(t, repo, "latest", containerDisk(t, qcow2Of(t, raw1), "disk.qcow2"))
	cron := newCron(ns, source, reg.URL(repo, "latest"), corev1.PersistentVolumeFilesystem, csiClass)
	if err := c.Client.Create(ctx, cron); err != nil {
		t.Fatalf("create DataImportCron: %v", err)
	}
	expectImport(t, c, ns, source, d1, raw1)

	vm1 := createVMFromDataSource(t, c, ns, "vm-one", source)
	expectConsoleMarker(t, c, ns, vm1, "GOLDIMAGE-BOOTED hostname=golden-one")
	vmi1 := runningVMI(t, c, ns, vm1)

	raw2 := installedDisk(t, "golden-two")
	d2 := reg.Push(t, repo, "latest", containerDisk(t, qcow2Of(t, raw2), "disk.qcow2"))
	triggerPoll(t, c, cron)
	expectImport(t, c, ns, source, d2, raw2)

	vm2 := createVMFromDataSource(t, c, ns, "vm-two", source)
	expectConsoleMarker(t, c, ns, vm2, "GOLDIMAGE-BOOTED hostname=golden-two")

	// The first VM is untouched: the same VMI still runs, and its disk still holds the first image.
	if again := runningVMI(t, c, ns, vm1); again.GetUID() != vmi1.GetUID() {
		t.Errorf("VMI %s was replaced (uid %s, now %s) when the DataSource moved", vm1, vmi1.GetUID(), again.GetUID())
	}
	if log := consoleLog(c, ns, vm1); strings.Contains(log, "hostname=golden-two") {
		t.Errorf("VM %s booted the new image:\n%s", vm1, log)
	}
	expectDiskHostname(t, c, ns, vm1+"-disk", "golden-one")
	expectDiskHostname(t, c, ns, vm2+"-disk", "golden-two")
}

// installedDisk writes what the stand-in installer leaves on a disk (hack/installer-iso/init.sh): its bootable
// hybrid image from sector 0 and the installed header with hostname at 32 MiB. It returns the raw file's path.
func installedDisk(t *testing.T, hostname string) string {
	t.Helper()
	iso, err := os.ReadFile(standinISO(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(iso) > 32<<20 {
		t.Fatalf("stand-in ISO is %d bytes, more than the 32 MiB an install copies", len(iso))
	}
	path := filepath.Join(t.TempDir(), hostname+".raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := fmt.Sprintf("GOLDIMAGE-STANDIN-INSTALLED\nhostname=%s\nreboots=0\nfirmware=bios\n", hostname)
	if _, err := f.WriteAt(iso, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(header), 32<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(diskSize + 8<<20); err != nil { // 40 MiB: room for the 35 MiB layout
		t.Fatal(err)
	}
	return path
}

// standinISO is the stand-in installer ISO hack/e2e.sh built.
func standinISO(t *testing.T) string {
	t.Helper()
	iso := os.Getenv("GOLDIMAGE_E2E_STANDIN_ISO")
	if iso == "" {
		t.Skip("GOLDIMAGE_E2E_STANDIN_ISO unset: run the e2e tests with `make e2e`")
	}
	return iso
}

// createVMFromDataSource creates a running VirtualMachine named name whose root disk is a dataVolumeTemplate
// cloned from DataSource source (sourceRef), as VMs from HCO's templates are: BIOS, virtio disk, no network (no
// pod interface: the marker comes on the serial console) and no grace period (the stand-in ignores ACPI).
func createVMFromDataSource(t *testing.T, c *cluster, ns, name, source string) string {
	t.Helper()
	vm := &unstructured.Unstructured{Object: map[string]any{
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"runStrategy": "Always",
			"dataVolumeTemplates": []any{map[string]any{
				"metadata": map[string]any{"name": name + "-disk"},
				"spec": map[string]any{
					"sourceRef": map[string]any{"kind": "DataSource", "name": source},
					"storage": map[string]any{
						"storageClassName": csiClass,
						"resources":        map[string]any{"requests": map[string]any{"storage": "128Mi"}},
					},
				},
			}},
			"template": map[string]any{"spec": map[string]any{
				"terminationGracePeriodSeconds": int64(0),
				"domain": map[string]any{
					"memory": map[string]any{"guest": "256Mi"},
					"devices": map[string]any{
						"autoattachPodInterface":   false,
						"autoattachGraphicsDevice": false,
						"disks":                    []any{map[string]any{"name": "root", "disk": map[string]any{"bus": "virtio"}}},
					},
				},
				"volumes": []any{map[string]any{"name": "root", "dataVolume": map[string]any{"name": name + "-disk"}}},
			}},
		},
	}}
	vm.SetGroupVersionKind(vmKind)
	if err := c.Client.Create(context.Background(), vm); err != nil {
		t.Fatalf("create VirtualMachine %s: %v", name, err)
	}
	t.Logf("VirtualMachine %s/%s from DataSource %s", ns, name, source)
	return name
}

// runningVMI waits for VM name's VirtualMachineInstance to be Running and returns it.
func runningVMI(t *testing.T, c *cluster, ns, name string) *unstructured.Unstructured {
	t.Helper()
	vmi := &unstructured.Unstructured{}
	vmi.SetGroupVersionKind(vmiKind)
	waitFor(t, "VMI "+name+" Running", vmBootTimeout, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, vmi); err != nil {
			return false, err.Error() + "; " + vmState(c, ns, name), client.IgnoreNotFound(err)
		}
		phase, _, _ := unstructured.NestedString(vmi.Object, "status", "phase")
		if phase == "Failed" || phase == "Succeeded" {
			return false, "", fmt.Errorf("VMI %s ended in phase %s: %s", name, phase, conditionsOf(vmi))
		}
		return phase == "Running", "phase " + phase + " " + conditionsOf(vmi), nil
	})
	return vmi
}

// vmState summarizes VM name's status and its DataVolume's, for a wait that has not seen a VMI yet.
func vmState(c *cluster, ns, name string) string {
	vm := &unstructured.Unstructured{}
	vm.SetGroupVersionKind(vmKind)
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, vm); err != nil {
		return "VM: " + err.Error()
	}
	status, _, _ := unstructured.NestedString(vm.Object, "status", "printableStatus")
	dv := &cdiv1.DataVolume{}
	dvState := "DataVolume not created"
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-disk"}, dv); err == nil {
		dvState = fmt.Sprintf("DataVolume phase %q %s", dv.Status.Phase, dvConditions(dv))
	}
	return fmt.Sprintf("VM %s %s; %s", status, conditionsOf(vm), dvState)
}

func conditionsOf(obj *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var b strings.Builder
	for _, c := range conds {
		m, _ := c.(map[string]any)
		fmt.Fprintf(&b, "[%v=%v %v: %v]", m["type"], m["status"], m["reason"], m["message"])
	}
	return b.String()
}

// expectConsoleMarker waits until VM name's serial console, as its launcher pod's guest-console-log container
// (virt-tail) logs it, holds marker.
func expectConsoleMarker(t *testing.T, c *cluster, ns, name, marker string) {
	t.Helper()
	runningVMI(t, c, ns, name)
	waitFor(t, "VM "+name+" to print "+marker+" on its serial console", vmBootTimeout, func() (bool, string, error) {
		log := consoleLog(c, ns, name)
		lines := strings.Split(strings.TrimSpace(log), "\n")
		return strings.Contains(log, marker), "console tail: " + strings.Join(lines[max(0, len(lines)-3):], " | "), nil
	})
	t.Logf("VM %s printed %q", name, marker)
}

// consoleLog returns the serial console log of VM name's current launcher pod.
func consoleLog(c *cluster, ns, name string) string {
	pods, err := c.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "vm.kubevirt.io/name=" + name})
	if err != nil || len(pods.Items) == 0 {
		return fmt.Sprintf("(no launcher pod: %v)", err)
	}
	var b bytes.Buffer
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			b.WriteString(logTail(c, ns, p.Name, "guest-console-log", 200))
		}
	}
	return b.String()
}

// expectDiskHostname checks that the installed header on PVC pvc's disk names hostname.
func expectDiskHostname(t *testing.T, c *cluster, ns, pvc, hostname string) {
	t.Helper()
	f, err := os.Open(volumeTarget(t, c, ns, pvc))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := make([]byte, 256)
	if _, err := f.ReadAt(header, 32<<20); err != nil {
		t.Fatalf("read the installed header of %s: %v", pvc, err)
	}
	if !bytes.Contains(header, []byte("\nhostname="+hostname+"\n")) {
		t.Errorf("disk of PVC %s: header %q, want hostname=%s", pvc, bytes.TrimRight(header, "\x00"), hostname)
	}
}

// installerPipelineRun is the windows-installer pipeline's VM part (create-vm, wait-for-install,
// point-datasource, and cleanup-vm in finally), as goldimage's real Tasks, with the stand-in installer ISO in the
// Windows ISO's place: the installer VM boots the ISO's PVC as a SATA CD-ROM after its blank root disk, finds its
// answer file on the sysprep CD KubeVirt makes from a ConfigMap (autounattend.xml beside standin-answer.txt), writes
// the disk and powers off. Parameters: namespace, ISO PVC, answer ConfigMap, disk DataVolume and wait timeout.
const installerPipelineRun = `
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {generateName: standin-installer-, namespace: %[1]s}
spec:
  taskRunTemplate: {serviceAccountName: goldimage-tasks}
  pipelineSpec:
    tasks:
      - name: create-vm
        taskRef: {name: create-vm}
        params:
          - name: manifest
            value: |
              apiVersion: kubevirt.io/v1
              kind: VirtualMachine
              metadata:
                generateName: %[4]s-installer-
              spec:
                runStrategy: RerunOnFailure
                dataVolumeTemplates:
                  - metadata: {name: %[4]s}
                    spec:
                      source: {blank: {}}
                      storage:
                        storageClassName: csi-hostpath
                        volumeMode: Block
                        resources: {requests: {storage: 64Mi}}
                template:
                  spec:
                    terminationGracePeriodSeconds: 0
                    domain:
                      memory: {guest: 256Mi}
                      devices:
                        autoattachPodInterface: false
                        autoattachGraphicsDevice: false
                        disks:
                          - {name: rootdisk, bootOrder: 1, disk: {bus: virtio}}
                          - {name: installcdrom, bootOrder: 2, cdrom: {bus: sata}}
                          - {name: sysprep, cdrom: {bus: sata}}
                    volumes:
                      - {name: rootdisk, dataVolume: {name: %[4]s}}
                      - {name: installcdrom, persistentVolumeClaim: {claimName: %[2]s}}
                      - {name: sysprep, sysprep: {configMap: {name: %[3]s}}}
      - name: wait-for-install
        runAfter: [create-vm]
        taskRef: {name: wait-for-vm}
        params:
          - {name: name, value: $(tasks.create-vm.results.name)}
          - {name: timeout, value: %[5]s}
      - name: point-datasource
        runAfter: [wait-for-install]
        taskRef: {name: datasource}
        params:
          - {name: dataSourceName, value: %[4]s}
          - {name: pvcName, value: %[4]s}
    finally:
      - name: cleanup-vm
        taskRef: {name: cleanup-vm}
        params:
          - {name: name, value: $(tasks.create-vm.results.name)}
          - {name: keepDataVolumes, value: ["%[4]s"]}
`

// TestInstallerVMOnKubeVirt runs the installer-VM tasks as real TaskRuns against KubeVirt: the stand-in installs
// and powers off, wait-for-vm sees the VM stopped, the DataSource points at the installed disk, cleanup-vm
// deletes the VM and keeps the disk; a VM from that DataSource then boots the installed system. An installer that
// never powers off (its answer file is missing, so it reboots for ever) fails the wait with a timeout that says
// so, and cleanup-vm still runs and deletes the VM.
func TestInstallerVMOnKubeVirt(t *testing.T) {
	requireKubeVirt(t)
	c := connect(t)
	ns := pipelineNamespace
	suffix := randomSuffix(t)
	iso := importISO(t, c, ns, "standin-iso-"+suffix, serveFile(t, c.Gateway, standinISO(t)))

	t.Run("powers off", func(t *testing.T) {
		disk := "standin-" + suffix
		answer := installerAnswer(t, c, ns, "answer-"+suffix, "hostname="+disk+"\ndisk=/dev/vda\n")
		pr := runInstallerPipeline(t, c, ns, iso, answer, disk, "8m")
		if status, message := waitPipelineRun(t, c, pr); status != "True" {
			t.Fatalf("PipelineRun %s: Succeeded=%s %s\n%s", pr.GetName(), status, message, taskRunReport(t, c, pr))
		}
		runs := taskRuns(t, c, pr)
		vm := taskResult(runs["create-vm"], "name")
		expectVMGone(t, c, ns, vm)
		expectDataSource(t, c, ns, disk, disk)
		expectDiskHostname(t, c, ns, disk, disk)
		expectNoOwner(t, c, ns, disk)

		booted := createVMFromDataSource(t, c, ns, "from-"+disk, disk)
		expectConsoleMarker(t, c, ns, booted, "GOLDIMAGE-BOOTED hostname="+disk)
	})

	t.Run("never powers off", func(t *testing.T) {
		disk := "stuck-" + suffix
		answer := installerAnswer(t, c, ns, "no-answer-"+suffix, "") // no standin-answer.txt: the installer reboots for ever
		pr := runInstallerPipeline(t, c, ns, iso, answer, disk, "3m")
		if status, message := waitPipelineRun(t, c, pr); status != "False" {
			t.Fatalf("PipelineRun %s: Succeeded=%s %s; want the wait to time out", pr.GetName(), status, message)
		}
		runs := taskRuns(t, c, pr)
		expectTaskFailed(t, runs, "wait-for-install", "to power off: timed out after 3m0s; last seen printableStatus")
		if _, ran := runs["point-datasource"]; ran {
			t.Errorf("point-datasource ran after the wait failed")
		}
		if status, message := succeeded(runs["cleanup-vm"]); status != "True" {
			t.Errorf("finally task cleanup-vm: Succeeded=%s %s", status, message)
		}
		expectVMGone(t, c, ns, taskResult(runs["create-vm"], "name"))
	})
}

// installerAnswer creates the ConfigMap of the installer VM's sysprep CD: autounattend.xml (KubeVirt requires it)
// and, unless answer is empty, the stand-in's standin-answer.txt.
func installerAnswer(t *testing.T, c *cluster, ns, name, answer string) string {
	t.Helper()
	data := map[string]string{"autounattend.xml": "<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"/>\n"}
	if answer != "" {
		data["standin-answer.txt"] = answer
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
	if err := c.Client.Create(context.Background(), cm); err != nil {
		t.Fatalf("create ConfigMap %s: %v", name, err)
	}
	t.Cleanup(func() { c.Client.Delete(context.Background(), cm) })
	return name
}

func runInstallerPipeline(t *testing.T, c *cluster, ns, iso, answer, disk, timeout string) *unstructured.Unstructured {
	t.Helper()
	pr := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(installerPipelineRun, ns, iso, answer, disk, timeout)), &pr.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(context.Background(), pr); err != nil {
		t.Fatalf("create PipelineRun: %v", err)
	}
	t.Logf("PipelineRun %s/%s installs %s", ns, pr.GetName(), disk)
	return pr
}

// expectVMGone waits for VirtualMachine name to be deleted (by cleanup-vm).
func expectVMGone(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	if name == "" {
		t.Fatal("create-vm gave no VirtualMachine name")
	}
	vm := &unstructured.Unstructured{}
	vm.SetGroupVersionKind(vmKind)
	waitFor(t, "VirtualMachine "+name+" deleted", 2*time.Minute, func() (bool, string, error) {
		err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, vm)
		return apierrors.IsNotFound(err), fmt.Sprintf("get: %v", err), client.IgnoreNotFound(err)
	})
}

// expectNoOwner checks that DataVolume name outlived its VirtualMachine: it exists and no longer has an owner.
func expectNoOwner(t *testing.T, c *cluster, ns, name string) {
	t.Helper()
	dv := &cdiv1.DataVolume{}
	if err := c.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, dv); err != nil {
		t.Fatalf("DataVolume %s after cleanup-vm: %v", name, err)
	}
	if len(dv.OwnerReferences) != 0 {
		t.Errorf("DataVolume %s still has owners %v after cleanup-vm", name, dv.OwnerReferences)
	}
}
