package datavolume

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/clone"
	"github.com/goldimage/goldimage/pkg/contract"
)

func sourceClaim(size string, mode corev1.PersistentVolumeMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "golden", Namespace: "os"},
		Spec: corev1.PersistentVolumeClaimSpec{VolumeMode: &mode, Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
}

func TestCloneClaimSpec(t *testing.T) {
	block, fs := corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem
	for _, tc := range []struct {
		name     string
		storage  *cdiv1.StorageSpec
		src      *corev1.PersistentVolumeClaim
		wantSize string
		wantMode corev1.PersistentVolumeMode
		wantErr  string
	}{
		{"size and mode from the source", &cdiv1.StorageSpec{}, sourceClaim("3Gi", block), "3Gi", block, ""},
		{"bound capacity wins over the request", &cdiv1.StorageSpec{}, func() *corev1.PersistentVolumeClaim {
			c := sourceClaim("3Gi", fs)
			c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("4Gi")}
			return c
		}(), "4Gi", fs, ""},
		{"explicit size and mode kept", &cdiv1.StorageSpec{VolumeMode: &fs, Resources: corev1.VolumeResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}}}, sourceClaim("3Gi", block), "10Gi", fs, ""},
		{"dataSource of the spec dropped", &cdiv1.StorageSpec{DataSource: &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "x"}},
			sourceClaim("1Gi", fs), "1Gi", fs, ""},
		{"no storage", nil, sourceClaim("1Gi", fs), "", "", "neither spec.storage nor spec.pvc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dv := &cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{Storage: tc.storage}}
			spec, err := cloneClaimSpec(dv, tc.src, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			size := spec.Resources.Requests[corev1.ResourceStorage]
			if size.String() != tc.wantSize || *spec.VolumeMode != tc.wantMode || spec.DataSource != nil {
				t.Errorf("size %s mode %s dataSource %v, want %s %s none", size.String(), *spec.VolumeMode, spec.DataSource, tc.wantSize, tc.wantMode)
			}
			if tc.storage != nil && tc.storage.Resources.Requests == nil && dv.Spec.Storage.Resources.Requests != nil {
				t.Error("cloneClaimSpec changed the DataVolume")
			}
		})
	}
}

func TestNewSourcePod(t *testing.T) {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms", UID: "u-1"}}
	for _, tc := range []struct {
		mode     corev1.PersistentVolumeMode
		wantFile string
	}{
		{corev1.PersistentVolumeFilesystem, contract.FilesystemTarget},
		{corev1.PersistentVolumeBlock, contract.BlockTarget},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			pod := newSourcePod(dv, sourceClaim("1Gi", tc.mode), podConfig{image: "img"})
			ctr := pod.Spec.Containers[0]
			if pod.Namespace != "os" || pod.Name != cdiconst.CloneSourcePrefix+"u-1" {
				t.Errorf("pod %s/%s, want it beside the source as clone-source-<uid>", pod.Namespace, pod.Name)
			}
			if ctr.Args[0] != "serve" || ctr.Args[2] != tc.wantFile {
				t.Errorf("args %v, want serve --file %s", ctr.Args, tc.wantFile)
			}
			if v := pod.Spec.Volumes[0].PersistentVolumeClaim; v == nil || !v.ReadOnly || v.ClaimName != "golden" {
				t.Errorf("source volume %+v, want golden read-only", v)
			}
			for _, m := range ctr.VolumeMounts {
				if !m.ReadOnly {
					t.Errorf("mount %s is writable", m.Name)
				}
			}
			if (tc.mode == corev1.PersistentVolumeBlock) != (len(ctr.VolumeDevices) == 1) {
				t.Errorf("devices %+v for a %s source", ctr.VolumeDevices, tc.mode)
			}
			if want := DefaultImporterResources(); !equality.Semantic.DeepEqual(ctr.Resources, want) {
				t.Errorf("resources %+v, want the importer's defaults %+v", ctr.Resources, want)
			}
			sc := pod.Spec.SecurityContext
			if !*sc.RunAsNonRoot || *ctr.SecurityContext.AllowPrivilegeEscalation || !*ctr.SecurityContext.ReadOnlyRootFilesystem {
				t.Error("source pod is not restricted")
			}
			if got := cloneTargetOf(context.Background(), pod); len(got) != 1 || got[0].Namespace != "vms" || got[0].Name != "vm" {
				t.Errorf("source pod maps to %v, want vms/vm", got)
			}
		})
	}
}

func TestCloneImporterPod(t *testing.T) {
	dv := &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: "vm", Namespace: "vms", UID: "u-1"}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "vm"}, Spec: *sourceClaim("1Gi", corev1.PersistentVolumeFilesystem).Spec.DeepCopy()}
	pod := newImporterPod(dv, claim, importSource{kind: "clone", endpoint: "clone+https://192.0.2.1:8444/disk", cloneSecret: "s"}, podConfig{image: "img"})
	var tls *corev1.Volume
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Secret != nil {
			tls = &pod.Spec.Volumes[i]
		}
	}
	if tls == nil || tls.Secret.SecretName != "s" || len(tls.Secret.Items) != 1 || tls.Secret.Items[0].Key != clone.KeyCert {
		t.Fatalf("importer Secret volume %+v, want only the certificate of Secret s", tls)
	}
	env := map[string]corev1.EnvVar{}
	for _, e := range pod.Spec.Containers[0].Env {
		env[e.Name] = e
	}
	if env[contract.EnvCertDir].Value != contract.CloneCertDir || env[contract.EnvSecretKey].ValueFrom.SecretKeyRef.Key != clone.KeyToken {
		t.Errorf("importer env %+v", env)
	}
	if ptr.Deref(pod.Spec.SecurityContext.RunAsNonRoot, false) != true {
		t.Error("importer pod is not restricted")
	}
}
