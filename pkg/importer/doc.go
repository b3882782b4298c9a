// Package importer imports one disk image into a PVC: it opens the source (containerDisk in a registry,
// OCI archive or OCI layout, via pkg/registry; http(s), s3, file or blank), detects and unwraps the format with pkg/convert, writes sparse raw to a
// file or block device, checks sizes, syncs, and reports a contract.Termination. Run is the entry point
// for cmd/importer and for the cron-controller's local mode.
//
// Random-access formats (qcow2, VMDK, VHD, VHDX) are read in place when the source can seek (file,
// http(s) with range support, s3). From a stream (compressed .gz, .xz, .zst, a containerDisk layer, an
// http server without range support) qcow2 and VMDK streamOptimized are converted in one pass
// (pkg/convert/qcow2stream): the images qemu-img and our own disk-push write need no scratch space;
// clusters that arrive before their tables are held in 16 MiB of memory and then in the scratch
// directory or, without one, a temporary file beside a file destination. Dynamic VHD and VHDX
// streams are converted in one pass too when their blocks follow the disk's order (as qemu-img writes
// them), else copied whole to scratch first; other VMDK streams are spilled to the scratch directory
// whole. Raw and ISO images are streamed straight to the target, except from a regular local file
// (file://), which is read extent by extent so its holes are never read. A stream is received (and
// hashed) on a goroutine of its own, ahead of the one that decompresses (internal/readahead).
//
// A filesystem import writes DEST.importing and renames it onto DEST after fsync, so DEST exists only
// when complete; a rerun removes leftovers and starts over. While the import writes, the target is
// flushed (fdatasync) every 250 ms, so the data reaches the disk during the conversion and the final
// fsync waits only for the last writes. A block device is written in place and
// only the termination message (written last) and exit code say it is complete.
//
// A file image may fill the usable space of its filesystem, free*(1-FilesystemOverhead) in whole sectors
// (CDI's rule, overhead 0.055 by default in the pod): the virtual size must fit it, and the finished file
// is grown to min(requested size, usable space), never below the virtual size.
//
// With Config.Archive (CDI's contentType archive) the source is a tar, optionally compressed, that pkg/importer/untar
// unpacks into the directory Dest; links, special files and escaping names are refused.
//
// A clone+https:// source is the stream of a host-assisted clone (pkg/clone): the server must present the
// certificate in the certificate directory, the token is the password; holes arrive as holes and stay holes.
package importer
