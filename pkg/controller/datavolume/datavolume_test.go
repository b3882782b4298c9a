package datavolume

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/storageprofile"
)

func TestSourceOf(t *testing.T) {
	node := cdiv1.RegistryPullNode
	for _, tc := range []struct {
		name     string
		src      *cdiv1.DataVolumeSource
		kind     string
		endpoint string
		wantErr  string
	}{
		{"registry", &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("docker://r/x@sha256:1")}}, "registry", "docker://r/x@sha256:1", ""},
		{"http", &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://h/d.img"}}, "http", "https://h/d.img", ""},
		{"s3", &cdiv1.DataVolumeSource{S3: &cdiv1.DataVolumeSourceS3{URL: "https://s3/b/d.img"}}, "s3", "https://s3/b/d.img", ""},
		{"blank", &cdiv1.DataVolumeSource{Blank: &cdiv1.DataVolumeBlankImage{}}, "blank", "blank:", ""},
		{"no source", nil, "", "", "spec.source"},
		{"empty http url", &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{}}, "", "", "http.url"},
		{"image stream", &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{ImageStream: ptr.To("x")}}, "", "", "imageStream"},
		{"node pull", &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("docker://r/x:1"), PullMethod: &node}}, "registry", "docker://r/x:1", ""},
		{"node pull without docker://", &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("r/x:1"), PullMethod: &node}}, "", "", "must start with docker://"},
		{"node pull, bad reference", &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("docker://UP/x"), PullMethod: &node}}, "", "", "docker://UP/x"},
		{"clone (handled by the clone path)", &cdiv1.DataVolumeSource{PVC: &cdiv1.DataVolumeSourcePVC{Name: "x"}}, "", "", "no source goldimage knows"},
		{"upload", &cdiv1.DataVolumeSource{Upload: &cdiv1.DataVolumeSourceUpload{}}, "", "", "spec.source.upload is not supported"},
		{"imageio", &cdiv1.DataVolumeSource{Imageio: &cdiv1.DataVolumeSourceImageIO{URL: "https://engine"}}, "", "", "spec.source.imageio is not supported"},
		{"vddk", &cdiv1.DataVolumeSource{VDDK: &cdiv1.DataVolumeSourceVDDK{URL: "https://vcenter"}}, "", "", "spec.source.vddk is not supported"},
		{"gcs", &cdiv1.DataVolumeSource{GCS: &cdiv1.DataVolumeSourceGCS{URL: "gs://b/d.img"}}, "", "", "spec.source.gcs is not supported"},
		{"snapshot (handled by the clone path)", &cdiv1.DataVolumeSource{Snapshot: &cdiv1.DataVolumeSourceSnapshot{Name: "s"}}, "", "", "no source goldimage knows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sourceOf(&cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{Source: tc.src}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got.kind != tc.kind || got.endpoint != tc.endpoint {
				t.Fatalf("sourceOf = %+v, %v; want %s %s", got, err, tc.kind, tc.endpoint)
			}
		})
	}
}

func TestClaimSpec(t *testing.T) {
	size := corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}
	block, profile := corev1.PersistentVolumeBlock, cdiv1.PersistentVolumeFromStorageProfile
	fs := corev1.PersistentVolumeFilesystem
	rbd := cdiv1.StorageProfileStatus{ClaimPropertySets: storageprofile.Known("rook-ceph.rbd.csi.ceph.com").ClaimPropertySets}
	for _, tc := range []struct {
		name    string
		spec    cdiv1.DataVolumeSpec
		mode    corev1.PersistentVolumeMode
		access  corev1.PersistentVolumeAccessMode
		wantErr string
		prof    *cdiv1.StorageProfileStatus
	}{
		{"storage from the profile", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeBlock, corev1.ReadWriteMany, "", &rbd},
		{"profile for the left-out access mode", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{VolumeMode: &fs, Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeFilesystem, corev1.ReadWriteOnce, "", &rbd},
		{"profile mode from the profile", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{VolumeMode: &profile, Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeBlock, corev1.ReadWriteMany, "", &rbd},
		{"pvc ignores the profile", cdiv1.DataVolumeSpec{PVC: &corev1.PersistentVolumeClaimSpec{VolumeMode: &fs,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeFilesystem, corev1.ReadWriteOnce, "", &rbd},
		{"storage defaults", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeFilesystem, corev1.ReadWriteOnce, "", nil},
		{"storage profile mode", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{VolumeMode: &profile, Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeFilesystem, corev1.ReadWriteOnce, "", nil},
		{"storage block RWX", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{VolumeMode: &block,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeBlock, corev1.ReadWriteMany, "", nil},
		{"pvc as given", cdiv1.DataVolumeSpec{PVC: &corev1.PersistentVolumeClaimSpec{VolumeMode: &block,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany}, Resources: corev1.VolumeResourceRequirements{Requests: size}}},
			corev1.PersistentVolumeBlock, corev1.ReadOnlyMany, "", nil},
		{"no size", cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{}}, "", "", "requests.storage", nil},
		{"pvc no size", cdiv1.DataVolumeSpec{PVC: &corev1.PersistentVolumeClaimSpec{}}, "", "", "spec.pvc", nil},
		{"neither", cdiv1.DataVolumeSpec{}, "", "", "neither", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := claimSpec(&cdiv1.DataVolume{Spec: tc.spec}, tc.prof)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || ptr.Deref(got.VolumeMode, "") != tc.mode || got.AccessModes[0] != tc.access {
				t.Fatalf("claimSpec = %+v, %v; want mode %s access %s", got, err, tc.mode, tc.access)
			}
		})
	}
}

func terminated(exit int32, msg string) *corev1.Pod {
	return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
		Name: cdiconst.ImporterContainer, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exit, Reason: "Error", Message: msg}}}}}}
}

func TestPodResult(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pod       *corev1.Pod
		result    string
		retryable bool
		message   string
	}{
		{"success", terminated(0, `{"result":"success","format":"qcow2"}`), contract.ResultSuccess, false, ""},
		{"fatal", terminated(2, `{"result":"failure","message":"no disk under /disk/"}`), contract.ResultFailure, false, "no disk under /disk/"},
		{"retryable", terminated(1, `{"result":"failure","retryable":true,"message":"reset"}`), contract.ResultFailure, true, "reset"},
		{"success message, failing exit", terminated(1, `{"result":"success"}`), contract.ResultFailure, true, "exited with code 1"},
		{"exit 0, no message", terminated(0, ""), contract.ResultFailure, true, "without a valid termination message"},
		{"garbage message, exit 2", terminated(2, "panic: boom"), contract.ResultFailure, false, "code 2 (Error)"},
		{"oom killed", terminated(137, ""), contract.ResultFailure, false, "code 137"},
		{"evicted before start", &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Message: "The node was low on resource: ephemeral-storage."}},
			contract.ResultFailure, true, "ephemeral-storage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := podResult(tc.pod)
			if got.Result != tc.result || got.Retryable != tc.retryable || !strings.Contains(got.Message, tc.message) {
				t.Errorf("podResult = %+v, want result %s retryable %v message containing %q", got, tc.result, tc.retryable, tc.message)
			}
		})
	}
}

func TestParseProgress(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       float64
		wantErr    bool
	}{
		{"labelled", "# HELP x\n" + contract.ProgressMetric + `{ownerUID="abc"} 45.5` + "\n", 45.5, false},
		{"plain", contract.ProgressMetric + " 12\n", 12, false},
		{"clamped", contract.ProgressMetric + " 150\n", 100, false},
		{"longer name skipped", contract.ProgressMetric + "_created 99\n" + contract.ProgressMetric + " 7\n", 7, false},
		{"missing", "other_metric 1\n", 0, true},
		{"bad value", contract.ProgressMetric + " abc\n", 0, true},
		{"unclosed labels", contract.ProgressMetric + `{a="b" 1` + "\n", 0, true},
	} {
		got, err := parseProgress(strings.NewReader(tc.text))
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: parseProgress = %v, %v; want %v (error %v)", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParseProgress(f *testing.F) {
	f.Add(contract.ProgressMetric + `{ownerUID="abc"} 45.5` + "\n")
	f.Add(contract.ProgressMetric + " NaN\n")
	f.Add(contract.ProgressMetric + "{}\n")
	f.Fuzz(func(t *testing.T, text string) {
		v, err := parseProgress(strings.NewReader(text))
		if err == nil && !(v >= 0 && v <= 100) {
			t.Fatalf("progress %v outside [0, 100] without error", v)
		}
	})
}
