package datavolume

import (
	"context"
	"fmt"

	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/controller/internal/storageclass"
)

// storageProfile returns the StorageProfile status of the class dv's spec.storage names, or of the default
// class when it names none: what fills the access and volume modes it leaves out. It is nil for spec.pvc and
// when there is no such class; a class whose profile is not there yet is a retryable error, so that the PVC
// is not created with modes the profile would not have chosen.
func (r *Reconciler) storageProfile(ctx context.Context, dv *cdiv1.DataVolume) (*cdiv1.StorageProfileStatus, error) {
	st := dv.Spec.Storage
	if st == nil || (len(st.AccessModes) > 0 && st.VolumeMode != nil && *st.VolumeMode != cdiv1.PersistentVolumeFromStorageProfile) {
		return nil, nil
	}
	class := ""
	if st.StorageClassName != nil {
		class = *st.StorageClassName
	} else {
		var err error
		if class, err = storageclass.Default(ctx, r.client); err != nil {
			return nil, err
		}
	}
	if class == "" {
		return nil, nil
	}
	if err := r.client.Get(ctx, client.ObjectKey{Name: class}, &storagev1.StorageClass{}); apierrors.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get StorageClass %s: %w", class, err)
	}
	p := &cdiv1.StorageProfile{}
	if err := r.client.Get(ctx, client.ObjectKey{Name: class}, p); err != nil {
		return nil, fmt.Errorf("get StorageProfile %s for the modes spec.storage leaves out: %w", class, err)
	}
	return &p.Status, nil
}
