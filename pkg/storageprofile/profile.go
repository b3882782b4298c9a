package storageprofile

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// NoProvisioner is the provisioner of StorageClasses whose PVs an admin creates by hand.
const NoProvisioner = "kubernetes.io/no-provisioner"

// Status is the status of the StorageProfile of sc: what the admin's spec sets, else the advice. snapshotClass
// is the VolumeSnapshotClass of sc's driver, "" when there is none.
func Status(sc *storagev1.StorageClass, spec cdiv1.StorageProfileSpec, advice Advice, snapshotClass string) cdiv1.StorageProfileStatus {
	st := cdiv1.StorageProfileStatus{
		StorageClass:               ptrTo(sc.Name),
		Provisioner:                ptrTo(sc.Provisioner),
		ClaimPropertySets:          advice.ClaimPropertySets,
		CloneStrategy:              advice.CloneStrategy,
		DataImportCronSourceFormat: advice.SourceFormat,
	}
	if len(spec.ClaimPropertySets) > 0 {
		st.ClaimPropertySets = spec.ClaimPropertySets
	}
	if spec.CloneStrategy != nil {
		st.CloneStrategy = spec.CloneStrategy
	}
	if spec.DataImportCronSourceFormat != nil {
		st.DataImportCronSourceFormat = spec.DataImportCronSourceFormat
	}
	switch {
	case spec.SnapshotClass != nil:
		st.SnapshotClass = spec.SnapshotClass
	case snapshotClass != "":
		st.SnapshotClass = ptrTo(snapshotClass)
	}
	return st
}

// FromVolumes is the advice for a no-provisioner class: the access and volume modes of its PVs, each once,
// Filesystem before Block and ReadWriteOnce before the shared modes.
func FromVolumes(class string, pvs []corev1.PersistentVolume) Advice {
	var modes []mode
	for _, pv := range pvs {
		if pv.Spec.StorageClassName != class {
			continue
		}
		vm := fs
		if pv.Spec.VolumeMode != nil {
			vm = *pv.Spec.VolumeMode
		}
		for _, am := range pv.Spec.AccessModes {
			if m := (mode{am, vm}); !slices.Contains(modes, m) {
				modes = append(modes, m)
			}
		}
	}
	slices.SortStableFunc(modes, func(a, b mode) int {
		if d := index(volumeOrder, a.volume) - index(volumeOrder, b.volume); d != 0 {
			return d
		}
		return index(accessOrder, a.access) - index(accessOrder, b.access)
	})
	var a Advice
	for _, m := range modes {
		a.ClaimPropertySets = append(a.ClaimPropertySets, set(m))
	}
	return a
}

// The order of FromVolumes' sets: the volume mode first, then the access mode.
var (
	volumeOrder = []corev1.PersistentVolumeMode{fs, block}
	accessOrder = []corev1.PersistentVolumeAccessMode{rwo, corev1.ReadWriteOncePod, rwx, corev1.ReadOnlyMany}
)

// index is v's position in order, len(order) when absent.
func index[T comparable](order []T, v T) int {
	if i := slices.Index(order, v); i >= 0 {
		return i
	}
	return len(order)
}

// Defaults fills what a DataVolume's spec.storage leaves out from the profile's claim property sets, as CDI does:
// neither given, the first set; only the volume mode, the first set with it; only access modes, the first set
// holding all of them. It returns the access modes and volume mode to use, and false when the profile has no
// set that fits (the caller keeps its own defaults).
func Defaults(st *cdiv1.StorageProfileStatus, access []corev1.PersistentVolumeAccessMode, volume *corev1.PersistentVolumeMode) ([]corev1.PersistentVolumeAccessMode, *corev1.PersistentVolumeMode, bool) {
	if st == nil {
		return access, volume, false
	}
	for _, s := range st.ClaimPropertySets {
		if len(s.AccessModes) == 0 || s.VolumeMode == nil {
			continue
		}
		if volume != nil && *volume != *s.VolumeMode {
			continue
		}
		if len(access) > 0 && !containsAll(s.AccessModes, access) {
			continue
		}
		if len(access) == 0 {
			access = slices.Clone(s.AccessModes)
		}
		if volume == nil {
			volume = ptrTo(*s.VolumeMode)
		}
		return access, volume, true
	}
	return access, volume, false
}

func containsAll[T comparable](have, want []T) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func ptrTo[T any](v T) *T { return &v }
