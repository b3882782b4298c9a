// Package datasource reconciles CDI DataSources: their Ready condition follows the source PVC and the
// DataVolume populating it, or the VolumeSnapshot, as in CDI; a DataSource whose spec.source.dataSource names
// another DataSource of its namespace (one level, as CDI allows) is Ready when that one's source is, and
// status.source is the source it resolves to while Ready.
package datasource
