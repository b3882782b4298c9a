// Command importer streams one disk image (docker://, oci-archive:, http(s)://, s3://, file://, blank:)
// into a file or block device as sparse raw. It runs in the importer pod, configured by the IMPORTER_*
// environment, and by hand with flags; see `importer --help`.
package main
