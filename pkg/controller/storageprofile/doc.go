// Package storageprofile keeps one CDI StorageProfile per StorageClass, named after it and owned by it, as
// CDI does: its status says which access and volume modes, clone strategy, DataImportCron source format and
// VolumeSnapshotClass suit the class, from the admin's spec first and otherwise from pkg/storageprofile's
// defaults for known provisioners (for a no-provisioner class, from its PVs). The profile goes with its class.
package storageprofile
