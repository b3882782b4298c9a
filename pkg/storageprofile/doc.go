// Package storageprofile knows what CDI's StorageProfile says about a StorageClass: the claim property sets
// (access and volume modes) that suit it, the clone strategy and the DataImportCron source format, from the
// admin's spec first and otherwise from the defaults known for common provisioners. It also applies a
// profile to a DataVolume's spec.storage that leaves the access modes or the volume mode out.
//
// It holds no client: pkg/controller/storageprofile keeps one StorageProfile per StorageClass with it, and
// pkg/controller/datavolume reads the profile when it builds a PVC.
package storageprofile
