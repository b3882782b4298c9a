package datavolume

import (
	"cmp"
	"fmt"
	"math"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/contract"
)

// withFilesystemOverhead grows a Filesystem claim made from spec.storage so that, after the
// filesystem's own overhead, it still holds the requested size: request / (1 - overhead), rounded up
// to whole MiB. CDI does the same for the storage API; a spec.pvc claim is taken as written.
func withFilesystemOverhead(dv *cdiv1.DataVolume, spec *corev1.PersistentVolumeClaimSpec, overhead string) error {
	if dv.Spec.Storage == nil || ptr.Deref(spec.VolumeMode, corev1.PersistentVolumeFilesystem) != corev1.PersistentVolumeFilesystem {
		return nil
	}
	o, err := strconv.ParseFloat(cmp.Or(overhead, contract.DefaultFilesystemOverhead), 64)
	if err != nil || o < 0 || o >= 1 {
		return fmt.Errorf("filesystem overhead %q is not a fraction in [0, 1)", overhead)
	}
	req, ok := spec.Resources.Requests[corev1.ResourceStorage]
	if !ok {
		return nil
	}
	const mib = 1 << 20
	need := int64(math.Ceil(float64(req.Value()) / (1 - o)))
	need = (need + mib - 1) / mib * mib
	if need <= req.Value() {
		return nil
	}
	requests := spec.Resources.Requests.DeepCopy()
	requests[corev1.ResourceStorage] = *resource.NewQuantity(need, resource.BinarySI)
	spec.Resources.Requests = requests
	return nil
}
