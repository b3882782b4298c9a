// Package clone holds what a DataVolume clone needs besides the Kubernetes objects: the choice between an
// offloaded CSI clone and a host-assisted copy (Choose, a pure function), the per-clone TLS certificate and
// bearer token (NewCredentials), and the host-assisted wire format: a source Server streams a disk file or
// block device as sparse frames (data and holes) over HTTPS, and Fetch opens that stream for the importer.
//
// Wire format: an 8-byte magic and the big-endian disk size, then frames of a type byte, offset and length
// (8 bytes each, big-endian). Data frames carry at most MaxData bytes; hole frames none; frames are
// contiguous from offset 0, and an end frame at offset == size closes the stream, so a truncated stream is
// always detected. Memory use is bounded by MaxData on both sides.
package clone
