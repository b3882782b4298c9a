// Package datavolume reconciles CDI DataVolumes with an import source (registry, http, s3, blank): it creates
// the PVC from spec.storage or spec.pvc and a restricted importer pod configured through pkg/contract, and
// reports phase, progress, restarts and conditions the way CDI does from the pod's status and termination
// message.
package datavolume
