// Command importer streams one disk image (docker://, oci-archive:, http(s)://, s3://, file://, blank:)
// into a file or block device as sparse raw. It runs in the importer pod, configured by the IMPORTER_*
// environment, and by hand with flags; see `importer --help`. `importer serve` is the other end of a
// host-assisted clone: it streams a disk file or block device over TLS to an importer whose source is
// clone+https://.
package main
