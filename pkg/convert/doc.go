// Package convert turns disk images of every format goldimage imports (raw, ISO, qcow2, VMDK, VHD,
// VHDX, optionally wrapped in gzip, xz, zstd or bzip2) into sparse raw files or block devices, and
// writes qcow2 images for registry pushes.
//
// The entry points are:
//   - Detect, DetectCompression and DetectFormat: recognize a source from its first HeaderLen bytes;
//   - NewDecompressor: unwrap a compressed stream with an output limit against bombs;
//   - Open: open a random-access source (file, HTTP range reader, scratch file) as an Image;
//   - WriteRaw: copy an Image to a sparse raw file or a block device in parallel;
//   - WriteRawFromStream: the same for an io.Reader; qcow2 (pkg/convert/qcow2stream), VMDK
//     streamOptimized, and dynamic VHD and VHDX whose tables come first and whose blocks follow the
//     disk's order (internal/forward) convert in one pass; other layouts and formats that need
//     random access spill to a scratch directory;
//   - WriteQcow2: write an Image as qcow2 v3, optionally with compressed clusters.
//
// The work is split along its seams into sub-packages, each importing only those below it:
// internal/decompress (compression wrappers), internal/forward (io.ReaderAt over a stream read
// once), internal/blockmap (block tables to reads), internal/rawtarget (sparse file and block-device
// writers), internal/sparse (zero blocks and holes), internal/imgerr (the error taxonomy), and
// the format readers qcow2stream, vmdk, vhd, vhdx and inflate.
//
// Errors caused by the input (unknown format, backing file, encryption, corruption, size limits)
// match ErrBadInput with errors.Is; anything else is an I/O or context error worth retrying.
package convert
