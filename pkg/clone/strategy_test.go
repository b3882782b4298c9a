package clone

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestChoose(t *testing.T) {
	base := Facts{SourceNamespace: "golden", TargetNamespace: "golden", SourceClass: "csi", TargetClass: "csi",
		SourceMode: corev1.PersistentVolumeFilesystem, TargetMode: corev1.PersistentVolumeFilesystem, CSIDriver: true,
		SourceSize: 10 << 30, TargetSize: 10 << 30}
	for _, tc := range []struct {
		name string
		edit func(*Facts)
		want Strategy
		why  string
	}{
		{"all equal on CSI", func(*Facts) {}, StrategyCSI, "CSI driver"},
		{"larger target", func(f *Facts) { f.TargetSize = 20 << 30 }, StrategyCSI, "CSI driver"},
		{"unset modes are filesystem", func(f *Facts) { f.SourceMode = "" }, StrategyCSI, "CSI driver"},
		{"other namespace", func(f *Facts) { f.TargetNamespace = "vms" }, StrategyHostAssisted, "namespaces"},
		{"other class", func(f *Facts) { f.TargetClass = "local" }, StrategyHostAssisted, `"csi" -> "local"`},
		{"unknown classes", func(f *Facts) { f.SourceClass, f.TargetClass = "", "" }, StrategyHostAssisted, "classes differ"},
		{"block target", func(f *Facts) { f.TargetMode = corev1.PersistentVolumeBlock }, StrategyHostAssisted, "Filesystem -> Block"},
		{"no CSI driver", func(f *Facts) { f.CSIDriver = false }, StrategyHostAssisted, "not provisioned by a CSI driver"},
		{"smaller target", func(f *Facts) { f.TargetSize = 1 << 30 }, StrategyHostAssisted, "smaller"},
		{"bound volume larger than the target", func(f *Facts) { f.SourceCapacity = f.TargetSize + 1 }, StrategyHostAssisted, "smaller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := base
			tc.edit(&f)
			got, why := Choose(f)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("Choose = %s (%q), want %s (reason containing %q)", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestCheckSize(t *testing.T) {
	fs, block := corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock
	for _, tc := range []struct {
		name         string
		src, dst     corev1.PersistentVolumeMode
		srcN, dstN   int64
		wantContains string // "" for no error
	}{
		{"equal", fs, fs, 1 << 30, 1 << 30, ""},
		{"larger", block, block, 1 << 30, 2 << 30, ""},
		{"smaller same mode", fs, fs, 2 << 30, 1 << 30, "target size 1Gi is smaller than the source PVC's 2Gi"},
		{"smaller block", block, block, 2 << 30, 1 << 30, "smaller"},
		{"smaller across modes is checked at copy time", fs, block, 2 << 30, 1 << 30, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The bound volume is larger than either claim: only the requests decide.
			err := CheckSize(Facts{SourceMode: tc.src, TargetMode: tc.dst, SourceSize: tc.srcN, TargetSize: tc.dstN, SourceCapacity: 8 << 30})
			switch {
			case tc.wantContains == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.wantContains != "" && (err == nil || !strings.Contains(err.Error(), tc.wantContains)):
				t.Errorf("error %v, want one containing %q", err, tc.wantContains)
			}
		})
	}
}
