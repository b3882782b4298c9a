package datavolume

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
)

// importerPodFor builds the importer pod of an http DataVolume on a claim of size and mode.
func importerPodFor(size string, mode corev1.PersistentVolumeMode, cfg podConfig) *corev1.Pod {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms", UID: "u-1"}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim(size, mode).Spec.DeepCopy()}
	return newImporterPod(dv, claim, importSource{kind: "http", endpoint: "https://h/d.qcow2"}, cfg)
}

// envOf returns the value of the importer container's variable name and whether it is set.
func envOf(pod *corev1.Pod, name string) (string, bool) {
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

func TestImporterPodFilesystemOverhead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mode   corev1.PersistentVolumeMode
		cfg    podConfig
		want   string
		wantOK bool
	}{
		{"filesystem, CDI's default", corev1.PersistentVolumeFilesystem, podConfig{}, contract.DefaultFilesystemOverhead, true},
		{"filesystem, configured", corev1.PersistentVolumeFilesystem, podConfig{fsOverhead: "0.1"}, "0.1", true},
		{"block has no filesystem", corev1.PersistentVolumeBlock, podConfig{fsOverhead: "0.1"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := envOf(importerPodFor("1Gi", tc.mode, tc.cfg), contract.EnvFilesystemOverhead)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("%s = %q (set %v), want %q (set %v)", contract.EnvFilesystemOverhead, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestImporterPodResources(t *testing.T) {
	custom := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}}
	for _, tc := range []struct {
		name string
		cfg  podConfig
		want corev1.ResourceRequirements
	}{
		{"defaults", podConfig{}, DefaultImporterResources()},
		{"configured", podConfig{resources: &custom}, custom},
		{"none", podConfig{resources: &corev1.ResourceRequirements{}}, corev1.ResourceRequirements{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := importerPodFor("5Gi", corev1.PersistentVolumeFilesystem, tc.cfg).Spec.Containers[0].Resources
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("importer resources %v, want %v", got, tc.want)
			}
		})
	}
	def := DefaultImporterResources()
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := def.Requests[name], def.Limits[name]
		if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
			t.Errorf("default %s request %s, limit %s: want both set and request <= limit", name, req.String(), lim.String())
		}
	}
}

func TestImporterPodScratchLimit(t *testing.T) {
	for _, mode := range []corev1.PersistentVolumeMode{corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock} {
		dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms", UID: "u-1"}}
		claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim("5Gi", mode).Spec.DeepCopy()}
		pod := newImporterPod(dv, claim, importSource{kind: "http", endpoint: "https://h/d.vhdx.gz"}, podConfig{})
		var scratch *corev1.EmptyDirVolumeSource
		for _, v := range pod.Spec.Volumes {
			if v.Name == "scratch" {
				scratch = v.EmptyDir
			}
		}
		want := resource.MustParse("5824Mi") // 5Gi + 5Gi/8 + 64Mi, the largest spill the importer writes
		if scratch == nil || scratch.SizeLimit == nil || scratch.SizeLimit.Cmp(want) != 0 {
			t.Errorf("%s claim of 5Gi: scratch emptyDir %+v, want sizeLimit %s", mode, scratch, want.String())
		}
		if dir, ok := envOf(pod, contract.EnvScratchDir); !ok || dir != contract.ScratchDir {
			t.Errorf("%s = %q, want %s", contract.EnvScratchDir, dir, contract.ScratchDir)
		}
	}
}

// TestImporterPodWithoutScratch: sources whose images the importer streams in one pass get no
// scratch volume, mount or directory; others keep one.
func TestImporterPodWithoutScratch(t *testing.T) {
	for _, tc := range []struct {
		src     importSource
		scratch bool
	}{
		{importSource{kind: "registry", endpoint: "docker://quay.io/containerdisks/fedora:41"}, false},
		{importSource{kind: "blank", endpoint: "blank:"}, false},
		{importSource{kind: "http", endpoint: "https://h/fedora.qcow2"}, false},
		{importSource{kind: "http", endpoint: "https://h/d/Fedora.QCOW2.xz?token=a.vhdx"}, false},
		{importSource{kind: "http", endpoint: "https://h/disk.raw.zst"}, false},
		{importSource{kind: "s3", endpoint: "https://s3/bucket/disk.img.gz"}, false},
		{importSource{kind: "http", endpoint: "https://h/win.iso"}, false},
		{importSource{kind: "http", endpoint: "https://h/azure.vhd"}, true},
		{importSource{kind: "http", endpoint: "https://h/hyperv.vhdx.gz"}, true},
		{importSource{kind: "http", endpoint: "https://h/esx.vmdk"}, true},
		{importSource{kind: "http", endpoint: "https://h/download?id=4"}, true},
		{importSource{kind: "s3", endpoint: "https://s3/bucket/disk"}, true},
	} {
		for _, mode := range []corev1.PersistentVolumeMode{corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock} {
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms", UID: "u-1"}}
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim("5Gi", mode).Spec.DeepCopy()}
			pod := newImporterPod(dv, claim, tc.src, podConfig{})
			volume := false
			for _, v := range pod.Spec.Volumes {
				volume = volume || v.Name == "scratch"
			}
			mount := false
			for _, m := range pod.Spec.Containers[0].VolumeMounts {
				mount = mount || m.MountPath == contract.ScratchDir
			}
			_, env := envOf(pod, contract.EnvScratchDir)
			if volume != tc.scratch || mount != tc.scratch || env != tc.scratch {
				t.Errorf("%s (%s): scratch volume %v, mount %v, env %v; want %v", tc.src.endpoint, mode, volume, mount, env, tc.scratch)
			}
		}
	}
}

func TestImporterPodInsecureRegistry(t *testing.T) {
	cfg := podConfig{insecure: []string{"registry.ns.svc:5000", "plain.example"}}
	for _, tc := range []struct {
		name, kind, endpoint string
		want                 bool
	}{
		{"listed host and port", "registry", "docker://registry.ns.svc:5000/golden/a@sha256:00", true},
		{"listed host", "registry", "docker://plain.example/a:latest", true},
		{"other port of a listed host", "registry", "docker://registry.ns.svc:5001/golden/a", false},
		{"unlisted", "registry", "docker://quay.io/containerdisks/fedora:41", false},
		{"http sources are not registries", "http", "http://plain.example/disk.img", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms", UID: "u-1"}}
			claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim("1Gi", corev1.PersistentVolumeFilesystem).Spec.DeepCopy()}
			pod := newImporterPod(dv, claim, importSource{kind: tc.kind, endpoint: tc.endpoint}, cfg)
			got, _ := envOf(pod, contract.EnvInsecureTLS)
			if (got == "true") != tc.want {
				t.Errorf("%s = %q, want insecure %v", contract.EnvInsecureTLS, got, tc.want)
			}
		})
	}
}

func TestImporterPodHeadersAndChecksum(t *testing.T) {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms",
		Annotations: map[string]string{cdiconst.AnnChecksum: "sha256:" + strings.Repeat("a", 64)}},
		Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{
			URL: "https://h/d.img", ExtraHeaders: []string{"X-Token: 1", "Accept: */*"}}}, PriorityClassName: "imports"}}
	src, err := sourceOf(dv)
	if err != nil {
		t.Fatal(err)
	}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim("1Gi", corev1.PersistentVolumeFilesystem).Spec.DeepCopy()}
	pod := newImporterPod(dv, claim, src, podConfig{})
	if pod.Spec.PriorityClassName != "imports" {
		t.Errorf("priorityClassName %q, want the DataVolume's", pod.Spec.PriorityClassName)
	}
	for name, want := range map[string]string{contract.EnvExtraHeaderPrefix + "0": "X-Token: 1", contract.EnvExtraHeaderPrefix + "1": "Accept: */*",
		contract.EnvChecksum: "sha256:" + strings.Repeat("a", 64)} {
		if got, _ := envOf(pod, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	dv.Spec.Source.HTTP.SecretExtraHeaders = []string{"s"}
	if _, err := sourceOf(dv); err == nil || !strings.Contains(err.Error(), "secretExtraHeaders is not supported") {
		t.Errorf("secretExtraHeaders: %v, want it refused", err)
	}
}
