package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
	"github.com/goldimage/goldimage/pkg/contract"
)

// archiveDV is CDI's example import-archive-datavolume.yaml: an http tar unpacked into a filesystem PVC.
func archiveDV(ns, name string, mode corev1.PersistentVolumeMode) *cdiv1.DataVolume {
	return &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cdiv1.DataVolumeSpec{
			Source:      &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "http://example.invalid/archive.tar"}},
			ContentType: cdiv1.DataVolumeArchive,
			PVC: &corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, VolumeMode: &mode,
				Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("500Mi")}}},
		}}
}

// TestDataVolumeArchive checks that contentType archive reaches the importer with the PVC's mount directory as its
// destination, and that a block volume, which cannot hold unpacked files, is refused at once.
func TestDataVolumeArchive(t *testing.T) {
	ns := namespace(t, "archive")
	create(t, archiveDV(ns, "archive", corev1.PersistentVolumeFilesystem))
	env := podEnv(waitPod(t, ns, "archive"))
	if env[contract.EnvContentType] != "archive" || env[contract.EnvDestination] != contract.FilesystemDir || env[contract.EnvSource] != "http" {
		t.Errorf("importer env %v, want contentType archive into %s", env, contract.FilesystemDir)
	}
	importOK(t, ns, "archive")

	create(t, archiveDV(ns, "archive-block", corev1.PersistentVolumeBlock))
	got := waitPhase(t, ns, "archive-block", cdiv1.Failed)
	if c := dvCondition(got, cdiv1.DataVolumeReady); c.Reason != cdiconst.ReasonUnsupported || !strings.Contains(c.Message, "contentType archive needs volumeMode Filesystem") {
		t.Errorf("Ready condition %+v, want %s naming the volume mode", c, cdiconst.ReasonUnsupported)
	}
	waitEvent(t, ns, "DataVolume", "archive-block", corev1.EventTypeWarning, "contentType archive needs volumeMode Filesystem")
}
