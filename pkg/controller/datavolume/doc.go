// Package datavolume reconciles CDI DataVolumes with an import source (registry, http, s3, blank): it creates
// the PVC from spec.storage or spec.pvc and a restricted importer pod configured through pkg/contract, and
// reports phase, progress, restarts and conditions the way CDI does from the pod's status and termination
// message. With registry pullMethod node the pod runs the containerDisk image itself, the importer copied into
// it from an init container through a shared emptyDir, so the node's runtime pulls the image.
//
// Clones (sourceRef to a DataSource, or source.pvc) wait Pending, with a condition saying why, until the
// DataSource is Ready and its PVC exists and is populated. Across namespaces a SubjectAccessReview must allow
// the requester to create datavolumes/source in the source namespace; the requester is a service account of
// the DataVolume's namespace (annotation goldimage.io/clone-service-account, default "default"), see
// docs/clone.md. pkg/clone.Choose then picks a CSI clone (a PVC whose dataSource is the source) or a
// host-assisted copy: "importer serve" in a source pod streams the disk over TLS to an importer pod; the
// per-clone certificate and token live in Secrets that, with the source pod, a finalizer removes.
package datavolume
