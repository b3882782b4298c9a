package cron

import (
	"strings"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// carriedLabel reports whether a cron label is handed on to its DataSource: the instancetype.kubevirt.io/
// defaults and the architecture, as SSP sets them on its crons and CDI copies them.
func carriedLabel(key string) bool {
	return strings.HasPrefix(key, "instancetype.kubevirt.io/") || key == cdiconst.LabelArchitecture
}

// DataSourceLabels returns the labels a cron's DataSource should carry: its current labels, with the carried
// labels replaced by the cron's (a carried label the cron no longer has is removed).
func DataSourceLabels(cronLabels, current map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range current {
		if !carriedLabel(k) {
			out[k] = v
		}
	}
	for k, v := range cronLabels {
		if carriedLabel(k) {
			out[k] = v
		}
	}
	return out
}
