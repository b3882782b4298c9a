package clone

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Strategy is how a clone copies the source PVC.
type Strategy string

// Clone strategies.
const (
	StrategyCSI          Strategy = "csi-clone"     // a PVC with spec.dataSource naming the source; the CSI driver copies
	StrategyHostAssisted Strategy = "host-assisted" // a source pod streams the disk to an importer pod over TLS
)

// Facts is what the strategy choice depends on; the controller gathers them from the API server.
type Facts struct {
	SourceNamespace, TargetNamespace string
	SourceClass, TargetClass         string // storage class names; "" when unknown (no class and no default)
	SourceMode, TargetMode           corev1.PersistentVolumeMode
	CSIDriver                        bool  // the target class's provisioner has a CSIDriver object
	SourceSize, TargetSize           int64 // requested bytes of the source and target PVCs
	SourceCapacity                   int64 // bytes of the volume bound to the source PVC; 0 when not bound
}

// Choose picks the offloaded CSI clone when the storage can do it (same namespace, same known storage class
// backed by a CSI driver, same volume mode, target at least as large as the source) and otherwise the
// host-assisted copy. The reason names what ruled the CSI clone out.
func Choose(f Facts) (Strategy, string) {
	switch {
	case f.SourceNamespace != f.TargetNamespace:
		return StrategyHostAssisted, "source and target are in different namespaces"
	case f.TargetClass == "" || f.SourceClass != f.TargetClass:
		return StrategyHostAssisted, fmt.Sprintf("storage classes differ (%q -> %q)", f.SourceClass, f.TargetClass)
	case mode(f.SourceMode) != mode(f.TargetMode):
		return StrategyHostAssisted, fmt.Sprintf("volume modes differ (%s -> %s)", mode(f.SourceMode), mode(f.TargetMode))
	case !f.CSIDriver:
		return StrategyHostAssisted, fmt.Sprintf("storage class %q is not provisioned by a CSI driver", f.TargetClass)
	case f.TargetSize < max(f.SourceSize, f.SourceCapacity):
		return StrategyHostAssisted, "target is smaller than the source volume"
	}
	return StrategyCSI, "same namespace, storage class and volume mode on a CSI driver"
}

// CheckSize fails when the target cannot hold the source. With equal volume modes the requested PVC sizes
// decide, as in CDI (a bound volume may be larger than its claim asked for, and only the claim's size was filled);
// across modes the disk inside a filesystem PVC may be smaller than its PVC, so the importer checks the
// actual disk size at copy time instead.
func CheckSize(f Facts) error {
	if mode(f.SourceMode) != mode(f.TargetMode) || f.TargetSize >= f.SourceSize {
		return nil
	}
	return fmt.Errorf("target size %s is smaller than the source PVC's %s",
		resource.NewQuantity(f.TargetSize, resource.BinarySI), resource.NewQuantity(f.SourceSize, resource.BinarySI))
}

// mode defaults an unset volume mode to Filesystem, as Kubernetes does.
func mode(m corev1.PersistentVolumeMode) corev1.PersistentVolumeMode {
	if m == "" {
		return corev1.PersistentVolumeFilesystem
	}
	return m
}
