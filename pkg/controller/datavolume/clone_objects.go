package datavolume

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
)

// cloneMeta labels and annotates objects in the source namespace with the DataVolume they serve.
func cloneMeta(dv *cdiv1.DataVolume, namespace, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace,
		Labels: map[string]string{"app.kubernetes.io/name": "clone-source", "app.kubernetes.io/managed-by": "goldimage",
			cdiconst.LabelCloneOf: string(dv.UID)},
		Annotations: map[string]string{cdiconst.AnnCloneTarget: dv.Namespace + "/" + dv.Name}}
}

// cloneSecret builds a clone Secret holding data.
func cloneSecret(dv *cdiv1.DataVolume, key client.ObjectKey, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: cloneMeta(dv, key.Namespace, key.Name), Type: corev1.SecretTypeOpaque, Data: data}
}

// newSourcePod builds the restricted pod that mounts the source PVC read-only and runs "importer serve".
func newSourcePod(dv *cdiv1.DataVolume, src *corev1.PersistentVolumeClaim, cfg podConfig) *corev1.Pod {
	file := contract.FilesystemTarget
	ctr := corev1.Container{
		Name: cdiconst.CloneContainer, Image: cfg.image, ImagePullPolicy: cfg.pullPolicy,
		Args:         []string{"serve", "--file", file, "--listen", ":" + strconv.Itoa(contract.ClonePort), "--cert-dir", contract.CloneCertDir},
		Env:          []corev1.EnvVar{secretEnv(contract.EnvSecretKey, sourceName(dv), clone.KeyToken)},
		Ports:        []corev1.ContainerPort{{Name: "clone", ContainerPort: contract.ClonePort}},
		Resources:    cfg.containerResources(), // the same importer binary, serving instead of writing
		VolumeMounts: []corev1.VolumeMount{{Name: "tls", MountPath: contract.CloneCertDir, ReadOnly: true}},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	if isBlock(src) {
		ctr.Args[2] = contract.BlockTarget
		ctr.VolumeDevices = []corev1.VolumeDevice{{Name: "source", DevicePath: contract.BlockTarget}}
	} else {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "source", MountPath: "/data", ReadOnly: true})
	}
	return &corev1.Pod{
		ObjectMeta: cloneMeta(dv, src.Namespace, sourceName(dv)),
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](importerUID), RunAsGroup: ptr.To[int64](importerUID),
				FSGroup: ptr.To[int64](importerUID), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{ctr},
			Volumes: []corev1.Volume{
				{Name: "source", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: src.Name, ReadOnly: true}}},
				{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: sourceName(dv),
					DefaultMode: ptr.To[int32](0o440), Items: []corev1.KeyToPath{{Key: clone.KeyCert, Path: clone.KeyCert}, {Key: clone.KeyKey, Path: clone.KeyKey}}}}},
			},
		},
	}
}

// cloneVolume mounts only the certificate of the target Secret into the importer pod.
func cloneVolume(secret string) corev1.Volume {
	return corev1.Volume{Name: "clone-tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret,
		DefaultMode: ptr.To[int32](0o440), Items: []corev1.KeyToPath{{Key: clone.KeyCert, Path: clone.KeyCert}}}}}
}
