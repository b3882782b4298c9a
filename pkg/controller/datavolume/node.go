package datavolume

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/contract"
)

// nodeSource is a registry source with pullMethod node: the pod runs the containerDisk image itself, so the
// node's container runtime pulls it (registry mirrors, its image cache and credentials, the service
// account's imagePullSecrets); secretRef, certConfigMap and platform do not apply.
func nodeSource(src importSource) (importSource, error) {
	ref := strings.TrimPrefix(src.endpoint, "docker://")
	if ref == src.endpoint {
		return importSource{}, fmt.Errorf("spec.source.registry.url %q must start with docker:// for pullMethod node", src.endpoint)
	}
	if _, err := name.ParseReference(ref); err != nil {
		return importSource{}, fmt.Errorf("spec.source.registry.url %q: %w", src.endpoint, err)
	}
	src.nodeImage = ref
	return src, nil
}

// Node-pull pod parts.
const (
	nodeInitContainer = "importer-install"
	nodeBinVolume     = "importer-bin"
)

// asNodePull turns an importer pod into a node-pull one: an init container of the importer image copies the
// importer into a shared emptyDir, and the importer container runs the containerDisk image with that copy,
// reading the disk from the image's own /disk/. Both keep the restricted security context.
func asNodePull(pod *corev1.Pod, src importSource, cfg podConfig) {
	ctr := &pod.Spec.Containers[0]
	mount := corev1.VolumeMount{Name: nodeBinVolume, MountPath: contract.NodePullBinDir}
	pod.Spec.InitContainers = []corev1.Container{{
		Name:            nodeInitContainer,
		Image:           cfg.image,
		ImagePullPolicy: cfg.pullPolicy,
		Args:            []string{"install", contract.NodePullBinDir},
		VolumeMounts:    []corev1.VolumeMount{mount},
		Resources:       cfg.containerResources(),
		SecurityContext: ctr.SecurityContext.DeepCopy(),
	}}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{Name: nodeBinVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	ctr.Image = src.nodeImage
	ctr.ImagePullPolicy = "" // Kubernetes' default: IfNotPresent for a pinned digest or tag, Always for :latest
	ctr.Command = []string{contract.NodePullBinDir + "/" + contract.NodePullBinary}
	mount.ReadOnly = true
	ctr.VolumeMounts = append(ctr.VolumeMounts, mount)
	for i := range ctr.Env {
		if ctr.Env[i].Name == contract.EnvPullMethod {
			ctr.Env[i].Value = string(cdiv1.RegistryPullNode)
		}
	}
}
