// Package datasource reconciles CDI DataSources: their Ready condition follows the source PVC and the
// DataVolume populating it, as in CDI, and status.source mirrors spec.source.
package datasource
