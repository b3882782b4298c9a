package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
)

// TestNodePullCron follows a DataImportCron with pullMethod node: the digest is polled in-process, and the
// import pod runs the digest-pinned containerDisk image itself with the importer copied in by an init container,
// both restricted, with no registry Secret.
func TestNodePullCron(t *testing.T) {
	ns := namespace(t, "nodepull")
	reg := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	const source, repo = "centos", "os/centos:9"
	d1 := pushDisk(t, reg, repo)
	c := newCron(ns, source, "docker://"+reg.Ref(repo), 2)
	c.Spec.Template.Spec.Source.Registry.PullMethod = ptr.To(cdiv1.RegistryPullNode)
	create(t, c)

	dv1 := dvName(source, d1)
	dv := waitDataVolume(t, ns, dv1)
	if pm := dv.Spec.Source.Registry.PullMethod; pm == nil || *pm != cdiv1.RegistryPullNode {
		t.Errorf("DataVolume pullMethod %v, want node from the template", pm)
	}
	pod := waitPod(t, ns, dv1)
	checkNodePullPod(t, pod, reg.Host+"/os/centos@"+d1)
	importOK(t, ns, dv1)
	waitDataSource(t, ns, source, dv1)

	d2 := pushDisk(t, reg, repo)
	forcePoll(t, ns, c.Name)
	dv2 := dvName(source, d2)
	checkNodePullPod(t, waitPod(t, ns, dv2), reg.Host+"/os/centos@"+d2)
	importOK(t, ns, dv2)
	waitDataSource(t, ns, source, dv2)
}

// TestNodePullWaiting checks that a node that cannot pull the containerDisk is reported on the DataVolume.
func TestNodePullWaiting(t *testing.T) {
	ns := namespace(t, "nodewait")
	dv := newCron(ns, "x", "docker://registry.example/os/x:1", 1).Spec.Template.DeepCopy()
	dv.Name, dv.Namespace = "node-disk", ns
	dv.Spec.Source.Registry.PullMethod = ptr.To(cdiv1.RegistryPullNode)
	create(t, dv)
	pod := waitPod(t, ns, dv.Name)
	checkNodePullPod(t, pod, "registry.example/os/x:1")
	pod.Status.Phase = corev1.PodPending
	pod.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: pod.Spec.InitContainers[0].Name, Image: importerImage,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: pod.Spec.Containers[0].Name, Image: "registry.example/os/x:1",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: "registry.example/os/x:1: not found"}}}}
	if err := k8s.Status().Update(t.Context(), pod); err != nil {
		t.Fatal(err)
	}
	eventually(t, "DataVolume reporting the node's pull error", func() (bool, string) {
		got := waitDataVolume(t, ns, dv.Name)
		c := dvCondition(got, cdiv1.DataVolumeRunning)
		return c.Reason == "ErrImagePull" && strings.Contains(c.Message, "not found"), c.Reason + ": " + c.Message
	})
}

func checkNodePullPod(t *testing.T, pod *corev1.Pod, image string) {
	t.Helper()
	if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Image != importerImage {
		t.Fatalf("init containers %+v, want one of the importer image", pod.Spec.InitContainers)
	}
	ctr := pod.Spec.Containers[0]
	if ctr.Image != image || len(ctr.Command) != 1 || ctr.Command[0] != contract.NodePullBinDir+"/"+contract.NodePullBinary {
		t.Errorf("importer container image %q command %v, want %s running the shared importer", ctr.Image, ctr.Command, image)
	}
	if ctr.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pull policy %q, want the API server's default IfNotPresent for a digest or a tag other than latest", ctr.ImagePullPolicy)
	}
	for _, c := range append([]corev1.Container{ctr}, pod.Spec.InitContainers...) {
		sc := c.SecurityContext
		if sc == nil || !ptr.Deref(sc.ReadOnlyRootFilesystem, false) || ptr.Deref(sc.AllowPrivilegeEscalation, true) ||
			sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s security context %+v, want restricted", c.Name, sc)
		}
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || !ptr.Deref(psc.RunAsNonRoot, false) || ptr.Deref(psc.RunAsUser, 0) != 107 || psc.SeccompProfile == nil {
		t.Errorf("pod security context %+v, want non-root 107 with seccomp", psc)
	}
	env := podEnv(pod)
	if env[contract.EnvPullMethod] != "node" || env[contract.EnvAccessKeyID] != "" {
		t.Errorf("importer env %v, want pull method node and no registry credentials", env)
	}
}
