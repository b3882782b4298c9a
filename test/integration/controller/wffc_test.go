package controller

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// TestWaitForFirstConsumer: an import into a WaitForFirstConsumer class waits in phase WaitForFirstConsumer with
// no importer pod, as CDI's does, until the PVC is bound by its first consumer; with CDI's immediate-binding
// annotation (which HCO's templates and DataImportCrons set) the importer pod, as the first consumer, starts at once.
func TestWaitForFirstConsumer(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "wffc")
	class := ns + "-wffc"
	create(t, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: class}, Provisioner: "example.com/wffc",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)})
	newDV := func(name string, ann map[string]string) *cdiv1.DataVolume {
		return &cdiv1.DataVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann},
			Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "http://example.com/disk.qcow2"}},
				Storage: &cdiv1.StorageSpec{StorageClassName: ptr.To(class), Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}}
	}

	create(t, newDV("immediate", map[string]string{cdiconst.AnnImmediateBinding: "true"}))
	importOK(t, ns, "immediate")

	create(t, newDV("waits", nil))
	dv := waitPhase(t, ns, "waits", cdiv1.WaitForFirstConsumer)
	if c := dvCondition(dv, cdiv1.DataVolumeRunning); c.Reason != cdiconst.ReasonWaitForConsumer {
		t.Errorf("Running condition %+v, want reason %s", c, cdiconst.ReasonWaitForConsumer)
	}
	time.Sleep(2 * time.Second) // a pod would have been created by now
	err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cdiconst.ImporterPodPrefix + "waits"}, &corev1.Pod{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("importer pod of a DataVolume waiting for its first consumer: %v, want none", err)
	}

	// A VM's pod consumes the PVC and the scheduler binds it: the import runs.
	pvc := &corev1.PersistentVolumeClaim{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "waits"}, pvc); err != nil {
		t.Fatal(err)
	}
	pvc.Status.Phase = corev1.ClaimBound
	if err := k8s.Status().Update(ctx, pvc); err != nil {
		t.Fatalf("bind PVC: %v", err)
	}
	importOK(t, ns, "waits")
}
