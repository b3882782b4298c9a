package datavolume

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/storageprofile"
)

// Secret keys of a source secretRef (CDI's names).
const (
	secretKeyID     = "accessKeyId"
	secretKeySecret = "secretKey"
	importerUID     = 107
)

// claimSpec derives the PVC spec of dv: spec.pvc as given, or spec.storage with the access and volume modes it
// leaves out taken from the StorageProfile of its class (prof, nil when there is none), else CDI's defaults
// (ReadWriteOnce, Filesystem). The requested size is required: goldimage does not infer it from the source.
func claimSpec(dv *cdiv1.DataVolume, prof *cdiv1.StorageProfileStatus) (corev1.PersistentVolumeClaimSpec, error) {
	if dv.Spec.PVC != nil {
		spec := *dv.Spec.PVC.DeepCopy()
		if _, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
			return spec, errors.New("spec.pvc.resources.requests.storage is not set")
		}
		return spec, nil
	}
	st := dv.Spec.Storage
	if st == nil {
		return corev1.PersistentVolumeClaimSpec{}, errors.New("neither spec.storage nor spec.pvc is set")
	}
	if _, ok := st.Resources.Requests[corev1.ResourceStorage]; !ok {
		return corev1.PersistentVolumeClaimSpec{}, errors.New("spec.storage.resources.requests.storage is not set")
	}
	spec := corev1.PersistentVolumeClaimSpec{
		AccessModes:      st.AccessModes,
		Selector:         st.Selector,
		Resources:        *st.Resources.DeepCopy(),
		VolumeName:       st.VolumeName,
		StorageClassName: st.StorageClassName,
		VolumeMode:       st.VolumeMode,
		DataSource:       st.DataSource,
		DataSourceRef:    st.DataSourceRef,
	}
	if spec.VolumeMode != nil && *spec.VolumeMode == cdiv1.PersistentVolumeFromStorageProfile {
		spec.VolumeMode = nil
	}
	spec.AccessModes, spec.VolumeMode, _ = storageprofile.Defaults(prof, spec.AccessModes, spec.VolumeMode)
	if len(spec.AccessModes) == 0 {
		spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	if spec.VolumeMode == nil {
		spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
	return spec, nil
}

// checkContent refuses a contentType the claim cannot hold: an archive unpacks into a filesystem.
func checkContent(dv *cdiv1.DataVolume, spec corev1.PersistentVolumeClaimSpec) error {
	if dv.Spec.ContentType == cdiv1.DataVolumeArchive && spec.VolumeMode != nil && *spec.VolumeMode == corev1.PersistentVolumeBlock {
		return errors.New("contentType archive needs volumeMode Filesystem: a tar is unpacked into a filesystem, not onto a block device")
	}
	return nil
}

// newClaim builds the PVC of dv.
func newClaim(dv *cdiv1.DataVolume, spec corev1.PersistentVolumeClaimSpec) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: dv.Name, Namespace: dv.Namespace, Labels: copyLabels(dv.Labels)},
		Spec:       spec,
	}
}

// podConfig is what the importer pod depends on besides the DataVolume.
type podConfig struct {
	image      string
	pullPolicy corev1.PullPolicy
	fsOverhead string                       // IMPORTER_FILESYSTEM_OVERHEAD for filesystem claims; "": contract.DefaultFilesystemOverhead
	resources  *corev1.ResourceRequirements // of the importer container; nil: DefaultImporterResources()
	insecure   []string                     // registry hosts (host[:port]) importers reach over plain HTTP or unverified TLS
}

// DefaultImporterResources are the importer container's requests and limits unless WithImporterResources
// says otherwise. CDI's own defaults (100m/60M requests, 750m/600M limits) are the reference; the memory
// request covers the importer's bounded buffers (an http block cache of 64 MiB plus a few 4 MiB chunks
// per writer) and the limits leave two CPUs for the parallel writer, whose worker count follows GOMAXPROCS.
func DefaultImporterResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
}

// WithImporterResources sets the importer container's requests and limits; default
// DefaultImporterResources(). An empty value sets none, for namespaces whose LimitRange supplies them.
func WithImporterResources(rr corev1.ResourceRequirements) Option {
	return func(r *Reconciler) { r.pod.resources = rr.DeepCopy() }
}

// WithFilesystemOverhead sets the share of a filesystem PVC's free space importers keep for the filesystem,
// a decimal such as "0.055" (CDI's CDIConfig filesystemOverhead.global); default contract.DefaultFilesystemOverhead.
func WithFilesystemOverhead(overhead string) Option {
	return func(r *Reconciler) { r.pod.fsOverhead = overhead }
}

// WithInsecureRegistries lists registry hosts (host or host:port, as in CDI's CDIConfig insecureRegistries) that
// importer pods may reach over plain HTTP or unverified TLS; default none. Hazard: anyone on the path can
// serve the image.
func WithInsecureRegistries(hosts ...string) Option {
	return func(r *Reconciler) {
		for _, h := range hosts {
			if h = strings.TrimSpace(h); h != "" {
				r.pod.insecure = append(r.pod.insecure, h)
			}
		}
	}
}

// insecureRegistry reports whether the registry of a docker:// endpoint is listed insecure.
func (cfg podConfig) insecureRegistry(endpoint string) bool {
	host, _, _ := strings.Cut(strings.TrimPrefix(endpoint, "docker://"), "/")
	return slices.Contains(cfg.insecure, host)
}

// containerResources returns the configured requirements or the defaults.
func (cfg podConfig) containerResources() corev1.ResourceRequirements {
	if cfg.resources == nil {
		return DefaultImporterResources()
	}
	return *cfg.resources.DeepCopy()
}

// newImporterPod builds the restricted importer pod writing into claim.
func newImporterPod(dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim, src importSource, cfg podConfig) *corev1.Pod {
	ctr := corev1.Container{
		Name:                     cdiconst.ImporterContainer,
		Image:                    cfg.image,
		ImagePullPolicy:          cfg.pullPolicy,
		Env:                      importerEnv(dv, claim, src, cfg),
		TerminationMessagePath:   contract.TerminationLogPath,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
		Ports:                    []corev1.ContainerPort{{Name: "metrics", ContainerPort: contract.ProgressPort}},
		Resources:                cfg.containerResources(),
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: ptr.To(false),
			ReadOnlyRootFilesystem:   ptr.To(true),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		},
	}
	volumes := []corev1.Volume{
		{Name: "target", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name}}},
	}
	if !src.streamable() {
		volumes = append(volumes, corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: scratchDir(dv, claim)}})
		ctr.VolumeMounts = []corev1.VolumeMount{{Name: "scratch", MountPath: contract.ScratchDir}}
	}
	if isBlock(claim) {
		ctr.VolumeDevices = []corev1.VolumeDevice{{Name: "target", DevicePath: contract.BlockTarget}}
	} else {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "target", MountPath: "/data"})
	}
	if src.cloneSecret != "" {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "clone-tls", MountPath: contract.CloneCertDir, ReadOnly: true})
		volumes = append(volumes, cloneVolume(src.cloneSecret))
	}
	if src.certConfigMap != "" {
		ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{Name: "certs", MountPath: contract.CertDir, ReadOnly: true})
		volumes = append(volumes, corev1.Volume{Name: "certs", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: src.certConfigMap}}}})
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName(dv), Namespace: dv.Namespace, Labels: map[string]string{
			"app.kubernetes.io/name": "importer", "app.kubernetes.io/managed-by": "goldimage"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](importerUID), RunAsGroup: ptr.To[int64](importerUID),
				FSGroup: ptr.To[int64](importerUID), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers:        []corev1.Container{ctr},
			Volumes:           volumes,
			PriorityClassName: dv.Spec.PriorityClassName,
		},
	}
	if src.nodeImage != "" {
		asNodePull(pod, src, cfg)
	}
	return pod
}

// scratchDir is the scratch emptyDir of a source that may need a spill (see importSource.streamable:
// qcow2 and raw sources get none), limited to what the importer may spill for a disk of the
// requested size: the disk plus an eighth and 64 MiB for the format's metadata (the importer refuses
// a larger spill). The kubelet evicts a pod that fills more of the node's disk than that.
func scratchDir(dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim) *corev1.EmptyDirVolumeSource {
	size := requestedSize(dv, claim)
	if size.IsZero() {
		return &corev1.EmptyDirVolumeSource{}
	}
	limit := resource.NewQuantity(contract.MaxScratchBytes(size.Value()), resource.BinarySI)
	return &corev1.EmptyDirVolumeSource{SizeLimit: limit}
}

// requestedSize is the disk size the DataVolume asks for: its spec.storage request (the claim may be
// larger, by the filesystem overhead), else the claim's request.
func requestedSize(dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim) resource.Quantity {
	if st := dv.Spec.Storage; st != nil {
		if q, ok := st.Resources.Requests[corev1.ResourceStorage]; ok {
			return q
		}
	}
	return claim.Spec.Resources.Requests[corev1.ResourceStorage]
}

// importerEnv is the IMPORTER_* environment of pkg/contract for dv.
func importerEnv(dv *cdiv1.DataVolume, claim *corev1.PersistentVolumeClaim, src importSource, cfg podConfig) []corev1.EnvVar {
	dest := contract.FilesystemTarget
	switch {
	case isBlock(claim):
		dest = contract.BlockTarget
	case dv.Spec.ContentType == cdiv1.DataVolumeArchive:
		dest = contract.FilesystemDir
	}
	contentType := string(dv.Spec.ContentType)
	if contentType == "" {
		contentType = string(cdiv1.DataVolumeKubeVirt)
	}
	size := requestedSize(dv, claim)
	env := []corev1.EnvVar{
		{Name: contract.EnvEndpoint, Value: src.endpoint},
		{Name: contract.EnvSource, Value: src.kind},
		{Name: contract.EnvContentType, Value: contentType},
		{Name: contract.EnvImageSize, Value: quantityString(size)},
		{Name: contract.EnvDestination, Value: dest},
		{Name: contract.EnvDiskID, Value: string(dv.UID)},
		{Name: contract.EnvPreallocation, Value: strconv.FormatBool(ptr.Deref(dv.Spec.Preallocation, false))},
	}
	if !src.streamable() {
		env = append(env, corev1.EnvVar{Name: contract.EnvScratchDir, Value: contract.ScratchDir})
	}
	if !isBlock(claim) {
		// CDI takes the overhead from its CDIConfig (per storage class); neither the DataVolume nor a
		// StorageProfile carries one, so the controller's setting (CDI's default unless configured) applies.
		env = append(env, corev1.EnvVar{Name: contract.EnvFilesystemOverhead, Value: cmp.Or(cfg.fsOverhead, contract.DefaultFilesystemOverhead)})
	}
	if src.kind == "registry" {
		env = append(env, corev1.EnvVar{Name: contract.EnvPullMethod, Value: string(cdiv1.RegistryPullPod)})
		if cfg.insecureRegistry(src.endpoint) {
			env = append(env, corev1.EnvVar{Name: contract.EnvInsecureTLS, Value: "true"})
		}
	}
	if src.arch != "" {
		env = append(env, corev1.EnvVar{Name: contract.EnvPlatformArch, Value: src.arch})
	}
	for i, h := range src.headers {
		env = append(env, corev1.EnvVar{Name: contract.EnvExtraHeaderPrefix + strconv.Itoa(i), Value: h})
	}
	if sum := dv.Annotations[cdiconst.AnnChecksum]; sum != "" {
		env = append(env, corev1.EnvVar{Name: contract.EnvChecksum, Value: sum})
	}
	if src.certConfigMap != "" {
		env = append(env, corev1.EnvVar{Name: contract.EnvCertDir, Value: contract.CertDir})
	}
	if src.cloneSecret != "" {
		env = append(env, corev1.EnvVar{Name: contract.EnvCertDir, Value: contract.CloneCertDir},
			secretEnv(contract.EnvSecretKey, src.cloneSecret, clone.KeyToken))
	}
	if src.secretRef != "" {
		env = append(env, secretEnv(contract.EnvAccessKeyID, src.secretRef, secretKeyID),
			secretEnv(contract.EnvSecretKey, src.secretRef, secretKeySecret))
	}
	return env
}

func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key}}}
}

func quantityString(q resource.Quantity) string {
	if q.IsZero() {
		return ""
	}
	return q.String()
}

func isBlock(claim *corev1.PersistentVolumeClaim) bool {
	return claim.Spec.VolumeMode != nil && *claim.Spec.VolumeMode == corev1.PersistentVolumeBlock
}

func podName(dv *cdiv1.DataVolume) string { return cdiconst.ImporterPodPrefix + dv.Name }

func copyLabels(in map[string]string) map[string]string {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}
