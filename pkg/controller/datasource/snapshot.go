package datasource

import (
	"context"
	"fmt"
	"time"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// snapshotRecheck is how often a DataSource whose VolumeSnapshot is missing or not ready is looked at again.
const snapshotRecheck = 5 * time.Second

func (r *Reconciler) observeSnapshot(ctx context.Context, ds *cdiv1.DataSource, src *cdiv1.DataVolumeSourceSnapshot) (Source, error) {
	ns := src.Namespace
	if ns == "" {
		ns = ds.Namespace
	}
	key := client.ObjectKey{Namespace: ns, Name: src.Name}
	st := Source{HasSnapshotSource: true, SnapshotName: key.String()}
	vs := &snapshotv1.VolumeSnapshot{}
	err := r.client.Get(ctx, key, vs)
	switch {
	case err == nil:
		st.Snapshot = vs
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
	default:
		return st, fmt.Errorf("get VolumeSnapshot %s: %w", key, err)
	}
	return st, nil
}

func snapshotReady(vs *snapshotv1.VolumeSnapshot) bool {
	return vs != nil && vs.DeletionTimestamp.IsZero() && vs.Status != nil && ptr.Deref(vs.Status.ReadyToUse, false)
}

// snapshotReadiness is Ready for a VolumeSnapshot source: true once the snapshot is ready to use.
func snapshotReadiness(st Source) (corev1.ConditionStatus, string, string) {
	vs := st.Snapshot
	switch {
	case vs == nil:
		return corev1.ConditionFalse, cdiconst.ReasonNotFound, "Source VolumeSnapshot " + st.SnapshotName + " not found"
	case snapshotReady(vs):
		return corev1.ConditionTrue, cdiconst.ReasonDataSourceReady, "DataSource is ready to be consumed"
	case vs.Status != nil && vs.Status.Error != nil && vs.Status.Error.Message != nil:
		return corev1.ConditionFalse, cdiconst.ReasonSnapshotFailed, "VolumeSnapshot " + st.SnapshotName + " failed: " + *vs.Status.Error.Message
	}
	return corev1.ConditionFalse, cdiconst.ReasonSnapshotNotReady, "VolumeSnapshot " + st.SnapshotName + " is not ready to use yet"
}
