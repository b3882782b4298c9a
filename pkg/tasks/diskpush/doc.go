// Package diskpush publishes an installed disk as a KubeVirt containerDisk: a raw disk is first
// written as compressed qcow2 to scratch space (zero clusters take no room), then pushed with
// pkg/registry; a DataImportCron polling the repository imports the new digest.
package diskpush
