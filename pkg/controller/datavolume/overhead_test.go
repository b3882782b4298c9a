package datavolume

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

func TestWithFilesystemOverhead(t *testing.T) {
	storage := &cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{Storage: &cdiv1.StorageSpec{}}}
	pvc := &cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{PVC: &corev1.PersistentVolumeClaimSpec{}}}
	tests := []struct {
		name     string
		dv       *cdiv1.DataVolume
		mode     corev1.PersistentVolumeMode
		request  string
		overhead string
		want     string // requested storage after the call
		wantErr  string
	}{
		{"storage filesystem, default overhead", storage, corev1.PersistentVolumeFilesystem, "10Gi", "", "10836Mi", ""},
		{"storage filesystem, no overhead", storage, corev1.PersistentVolumeFilesystem, "10Gi", "0", "10Gi", ""},
		{"storage filesystem, a tenth", storage, corev1.PersistentVolumeFilesystem, "900Mi", "0.1", "1000Mi", ""},
		{"unset mode is filesystem", storage, "", "64Mi", "0.055", "68Mi", ""},
		{"storage block is exact", storage, corev1.PersistentVolumeBlock, "10Gi", "", "10Gi", ""},
		{"spec.pvc is taken as written", pvc, corev1.PersistentVolumeFilesystem, "10Gi", "", "10Gi", ""},
		{"overhead not a number", storage, corev1.PersistentVolumeFilesystem, "1Gi", "lots", "1Gi", "not a fraction"},
		{"overhead of one", storage, corev1.PersistentVolumeFilesystem, "1Gi", "1", "1Gi", "not a fraction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(tt.request)}}}
			if tt.mode != "" {
				spec.VolumeMode = ptr.To(tt.mode)
			}
			err := withFilesystemOverhead(tt.dv, &spec, tt.overhead)
			if (tt.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			got := spec.Resources.Requests[corev1.ResourceStorage]
			if want := resource.MustParse(tt.want); got.Cmp(want) != 0 {
				t.Errorf("request %s, want %s", got.String(), want.String())
			}
		})
	}
}
