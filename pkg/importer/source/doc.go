// Package source opens the places a disk image can come from (http(s), s3, local files, and
// containerDisks in registries, OCI archives and OCI layouts through pkg/registry) as an [Image]:
// a sequential stream always, and random access when the transport can seek, so that formats like
// qcow2 are read in place without a scratch copy.
package source
