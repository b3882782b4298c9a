// Package scheme builds the runtime.Scheme goldimage's clients and controllers use: client-go's
// built-in kinds, CDI's cdi.kubevirt.io/v1beta1 kinds and the CSI snapshot kinds (snapshot.storage.k8s.io/v1).
package scheme

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	snapshotv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
)

// New returns a scheme holding client-go's kinds, CDI's v1beta1 kinds and the VolumeSnapshot kinds.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register client-go kinds: %w", err)
	}
	if err := cdiv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register CDI kinds: %w", err)
	}
	if err := snapshotv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register VolumeSnapshot kinds: %w", err)
	}
	return s, nil
}
