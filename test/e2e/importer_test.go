//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/contract"
)

// importerImage is the importer image hack/e2e.sh loads into the node.
var importerImage = envOr("GOLDIMAGE_IMPORTER_IMAGE", "goldimage.local/importer:e2e")

// TestImporterPod runs the importer image the way the controller does (restricted pod, IMPORTER_* environment,
// registry CA from a ConfigMap) without the controller, into a filesystem and a block PVC, and checks the bytes
// and the termination message.
func TestImporterPod(t *testing.T) {
	c := connect(t)
	reg := startRegistry(t, c.Gateway)
	for _, mode := range []corev1.PersistentVolumeMode{corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			ns := c.namespace(t, "e2e-importer")
			createCAConfigMap(t, c, ns, reg)
			raw := rawDisk(t, 21)
			repo := "e2e/importer-" + strings.ToLower(string(mode))
			d := reg.Push(t, repo, "v1", containerDisk(t, qcow2Of(t, raw), "disk.qcow2"))
			pvc := createPVC(t, c, ns, "target", mode)
			pod := importerPod(ns, pvc, mode, reg.URL(repo, "v1"))
			if err := c.Client.Create(context.Background(), pod); err != nil {
				t.Fatalf("create importer pod: %v", err)
			}
			term := waitPodTermination(t, c, pod)
			if term.Result != contract.ResultSuccess || term.Format != "qcow2" || term.VirtualSize != diskSize || term.Digest != d.String() {
				t.Fatalf("termination = %+v, want success, qcow2, %d bytes, digest %s", term, diskSize, d)
			}
			verifyTarget(t, volumeTarget(t, c, ns, pvc), raw)
		})
	}
	t.Run("NoDisk", func(t *testing.T) {
		t.Parallel()
		ns := c.namespace(t, "e2e-importer")
		createCAConfigMap(t, c, ns, reg)
		reg.Push(t, "e2e/importer-nodisk", "v1", imageWithFile(t, rawDisk(t, 22), "data/not-a-disk.img"))
		pvc := createPVC(t, c, ns, "target", corev1.PersistentVolumeFilesystem)
		pod := importerPod(ns, pvc, corev1.PersistentVolumeFilesystem, reg.URL("e2e/importer-nodisk", "v1"))
		if err := c.Client.Create(context.Background(), pod); err != nil {
			t.Fatalf("create importer pod: %v", err)
		}
		term := waitPodTermination(t, c, pod)
		if term.Result != contract.ResultFailure || term.Retryable || !strings.Contains(term.Message, "disk/") {
			t.Errorf("termination = %+v, want a fatal failure naming disk/", term)
		}
		if code := pod.Status.ContainerStatuses[0].State.Terminated.ExitCode; code != contract.ExitFatal {
			t.Errorf("exit code = %d, want %d (fatal)", code, contract.ExitFatal)
		}
	})
}

// createPVC makes a PVC of the e2e StorageClass sized for the test disks.
func createPVC(t *testing.T, c *cluster, ns, name string, mode corev1.PersistentVolumeMode) string {
	t.Helper()
	pvc := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: &c.StorageClass,
			VolumeMode:       &mode,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceStorage: *resource.NewQuantity(diskSize*2, resource.BinarySI)}},
		},
	}
	if err := c.Client.Create(context.Background(), pvc); err != nil {
		t.Fatalf("create PVC: %v", err)
	}
	return name
}

// importerPod is an importer pod per the contract: uid 107, restricted, read-only root, target at the
// contract's path, CA certificates mounted from the ConfigMap, scratch space in an emptyDir.
func importerPod(ns, pvc string, mode corev1.PersistentVolumeMode, url string) *corev1.Pod {
	dest := contract.FilesystemTarget
	ctr := corev1.Container{
		Name: "importer", Image: importerImage, ImagePullPolicy: corev1.PullNever,
		Env: []corev1.EnvVar{
			{Name: contract.EnvEndpoint, Value: url},
			{Name: contract.EnvSource, Value: "registry"},
			{Name: contract.EnvContentType, Value: "kubevirt"},
			{Name: contract.EnvCertDir, Value: contract.CertDir},
			{Name: contract.EnvImageSize, Value: fmt.Sprint(diskSize)},
			{Name: contract.EnvScratchDir, Value: contract.ScratchDir},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "certs", MountPath: contract.CertDir, ReadOnly: true},
			{Name: "scratch", MountPath: contract.ScratchDir},
		},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
		TerminationMessagePath: contract.TerminationLogPath,
	}
	if mode == corev1.PersistentVolumeBlock {
		dest = contract.BlockTarget
		ctr.VolumeDevices = []corev1.VolumeDevice{{Name: "target", DevicePath: dest}}
	} else {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "target", MountPath: "/data"})
	}
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: contract.EnvDestination, Value: dest})
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "importer", Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](107), RunAsGroup: ptr.To[int64](107),
				FSGroup: ptr.To[int64](107), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{ctr},
			Volumes: []corev1.Volume{
				{Name: "target", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pvc}}},
				{Name: "certs", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: caConfigMap}}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// waitPodTermination waits for the pod's container to terminate and decodes its termination message.
func waitPodTermination(t *testing.T, c *cluster, pod *corev1.Pod) contract.Termination {
	t.Helper()
	var msg string
	waitFor(t, "pod "+pod.Name+" to finish", 3*time.Minute, func() (bool, string, error) {
		if err := c.Client.Get(context.Background(), client.ObjectKeyFromObject(pod), pod); err != nil {
			return false, "", err
		}
		for _, s := range pod.Status.ContainerStatuses {
			if s.State.Terminated != nil {
				msg = s.State.Terminated.Message
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("phase %s, statuses %+v", pod.Status.Phase, pod.Status.ContainerStatuses), nil
	})
	term, err := contract.ParseTermination(msg)
	if err != nil {
		t.Fatalf("pod %s: %v (message %q)", pod.Name, err, msg)
	}
	return term
}
