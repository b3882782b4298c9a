package datavolume

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/contract"
)

func TestNodePullPod(t *testing.T) {
	node := cdiv1.RegistryPullNode
	const disk = "quay.io/containerdisks/fedora@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms"},
		Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{
			URL: ptr.To("docker://" + disk), PullMethod: &node, SecretRef: ptr.To("ignored")}}}}
	src, err := sourceOf(dv)
	if err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim("1Gi", corev1.PersistentVolumeFilesystem).Spec.DeepCopy()}
	pod := newImporterPod(dv, claim, src, podConfig{image: "goldimage/importer:1", pullPolicy: corev1.PullNever})
	if len(pod.Spec.InitContainers) != 1 {
		t.Fatalf("init containers %+v, want the importer install", pod.Spec.InitContainers)
	}
	init, ctr := pod.Spec.InitContainers[0], pod.Spec.Containers[0]
	if init.Image != "goldimage/importer:1" || init.ImagePullPolicy != corev1.PullNever || len(init.Args) != 2 || init.Args[0] != "install" || init.Args[1] != contract.NodePullBinDir {
		t.Errorf("init container %+v, want the importer image running install %s", init, contract.NodePullBinDir)
	}
	if ctr.Image != disk || ctr.ImagePullPolicy != "" || len(ctr.Command) != 1 || ctr.Command[0] != contract.NodePullBinDir+"/importer" {
		t.Errorf("importer container image %q policy %q command %v, want the containerDisk running the shared importer", ctr.Image, ctr.ImagePullPolicy, ctr.Command)
	}
	for _, c := range []corev1.Container{init, ctr} {
		sc := c.SecurityContext
		if sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) || len(sc.Capabilities.Drop) != 1 {
			t.Errorf("%s security context %+v, want the restricted one", c.Name, sc)
		}
		if !mounts(c, nodeBinVolume, contract.NodePullBinDir) {
			t.Errorf("%s does not mount the shared importer volume: %+v", c.Name, c.VolumeMounts)
		}
	}
	if psc := pod.Spec.SecurityContext; !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) != importerUID {
		t.Errorf("pod security context %+v", psc)
	}
	if v, _ := envOf(pod, contract.EnvPullMethod); v != "node" {
		t.Errorf("%s = %q, want node", contract.EnvPullMethod, v)
	}
	for _, name := range []string{contract.EnvAccessKeyID, contract.EnvSecretKey, contract.EnvPlatformArch} {
		if _, ok := envOf(pod, name); ok {
			t.Errorf("%s is set for a node pull, whose credentials are the node's", name)
		}
	}
}

func mounts(c corev1.Container, volume, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == volume && m.MountPath == path {
			return true
		}
	}
	return false
}
