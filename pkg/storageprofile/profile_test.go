package storageprofile

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// sets renders claim property sets as "RWX/Block RWO/Filesystem" for comparison.
func sets(s []cdiv1.ClaimPropertySet) string {
	out := ""
	for _, c := range s {
		if out != "" {
			out += " "
		}
		out += fmt.Sprintf("%v/%v", short(c.AccessModes), *c.VolumeMode)
	}
	return out
}

func short(m []corev1.PersistentVolumeAccessMode) string {
	abbrev := map[corev1.PersistentVolumeAccessMode]string{rwo: "RWO", rwx: "RWX", corev1.ReadOnlyMany: "ROX", corev1.ReadWriteOncePod: "RWOP"}
	out := ""
	for i, a := range m {
		if i > 0 {
			out += ","
		}
		out += abbrev[a]
	}
	return out
}

func TestKnown(t *testing.T) {
	tests := []struct {
		provisioner, sets, format, clone string
	}{
		{"rook-ceph.rbd.csi.ceph.com", "RWX/Block RWO/Block RWO/Filesystem", "snapshot", "csi-clone"},
		{"hostpath.csi.k8s.io", "RWO/Filesystem RWO/Block", "", ""},
		{"topolvm.io", "RWO/Block RWO/Filesystem", "", "copy"},
		{"example.com/unknown", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.provisioner, func(t *testing.T) {
			a := Known(tt.provisioner)
			if got := sets(a.ClaimPropertySets); got != tt.sets {
				t.Errorf("claim property sets %q, want %q", got, tt.sets)
			}
			if got := deref(a.SourceFormat); got != tt.format {
				t.Errorf("source format %q, want %q", got, tt.format)
			}
			if got := deref(a.CloneStrategy); got != tt.clone {
				t.Errorf("clone strategy %q, want %q", got, tt.clone)
			}
		})
	}
}

func deref[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func TestStatusPrefersTheSpec(t *testing.T) {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "rook-ceph.rbd.csi.ceph.com"}
	advice := Known(sc.Provisioner)
	pvc := cdiv1.DataImportCronSourceFormatPvc
	copyClone := cdiv1.CloneStrategyHostAssisted
	tests := []struct {
		name                      string
		spec                      cdiv1.StorageProfileSpec
		snapshotClass             string
		sets, format, clone, snap string
	}{
		{"advice only", cdiv1.StorageProfileSpec{}, "", "RWX/Block RWO/Block RWO/Filesystem", "snapshot", "csi-clone", ""},
		{"driver's snapshot class", cdiv1.StorageProfileSpec{}, "rbd-snap", "RWX/Block RWO/Block RWO/Filesystem", "snapshot", "csi-clone", "rbd-snap"},
		{"admin's spec", cdiv1.StorageProfileSpec{
			ClaimPropertySets:          []cdiv1.ClaimPropertySet{set(mode{rwo, fs})},
			DataImportCronSourceFormat: &pvc, CloneStrategy: &copyClone, SnapshotClass: ptrTo("mine"),
		}, "rbd-snap", "RWO/Filesystem", "pvc", "copy", "mine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Status(sc, tt.spec, advice, tt.snapshotClass)
			if *st.StorageClass != "fast" || *st.Provisioner != sc.Provisioner {
				t.Errorf("class %q provisioner %q", *st.StorageClass, *st.Provisioner)
			}
			if got := sets(st.ClaimPropertySets); got != tt.sets {
				t.Errorf("claim property sets %q, want %q", got, tt.sets)
			}
			if got := deref(st.DataImportCronSourceFormat); got != tt.format {
				t.Errorf("source format %q, want %q", got, tt.format)
			}
			if got := deref(st.CloneStrategy); got != tt.clone {
				t.Errorf("clone strategy %q, want %q", got, tt.clone)
			}
			if got := deref(st.SnapshotClass); got != tt.snap {
				t.Errorf("snapshot class %q, want %q", got, tt.snap)
			}
		})
	}
}

func TestFromVolumes(t *testing.T) {
	pv := func(class string, vm corev1.PersistentVolumeMode, am ...corev1.PersistentVolumeAccessMode) corev1.PersistentVolume {
		return corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{StorageClassName: class, VolumeMode: &vm, AccessModes: am}}
	}
	pvs := []corev1.PersistentVolume{
		pv("local", block, rwo), pv("local", fs, rwx, rwo), pv("local", fs, rwo), pv("other", fs, corev1.ReadOnlyMany),
	}
	tests := []struct{ class, want string }{
		{"local", "RWO/Filesystem RWX/Filesystem RWO/Block"},
		{"other", "ROX/Filesystem"},
		{"none", ""},
	}
	for _, tt := range tests {
		if got := sets(FromVolumes(tt.class, pvs).ClaimPropertySets); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.class, got, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	st := &cdiv1.StorageProfileStatus{ClaimPropertySets: Known("rook-ceph.rbd.csi.ceph.com").ClaimPropertySets}
	fsMode, blockMode := fs, block
	tests := []struct {
		name   string
		status *cdiv1.StorageProfileStatus
		access []corev1.PersistentVolumeAccessMode
		volume *corev1.PersistentVolumeMode
		want   string // "RWX/Block", or "" when the profile does not fit
	}{
		{"neither given: the first set", st, nil, nil, "RWX/Block"},
		{"volume mode given", st, nil, &fsMode, "RWO/Filesystem"},
		{"access modes given", st, []corev1.PersistentVolumeAccessMode{rwo}, nil, "RWO/Block"},
		{"both given: kept", st, []corev1.PersistentVolumeAccessMode{rwx}, &blockMode, "RWX/Block"},
		{"no set fits", st, []corev1.PersistentVolumeAccessMode{rwx}, &fsMode, ""},
		{"no profile", nil, nil, nil, ""},
		{"empty profile", &cdiv1.StorageProfileStatus{}, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			access, volume, ok := Defaults(tt.status, tt.access, tt.volume)
			got := ""
			if ok {
				got = sets([]cdiv1.ClaimPropertySet{{AccessModes: access, VolumeMode: volume}})
			}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
