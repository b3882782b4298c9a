// Package qcow2stream reads a qcow2 image once, in order, from a stream that cannot seek (a
// registry layer, a compressed file, an HTTP body, a pipe) and yields its virtual disk as extents in
// increasing guest order, decompressing clusters on a few goroutines.
//
// Streaming works without scratch space when the metadata comes before the clusters it maps, as in
// the images qemu-img convert and goldimage's own qcow2 writer produce: header, refcount table, L1
// table, then each L2 table just before (or a few compressed clusters after) the data it maps. Bytes
// that pass before the table that maps them are held, in memory up to WithMemoryLimit and then in a
// file of WithScratchDir; past that the Reader fails with ErrNeedScratch. A table that points back
// past what was held, clusters that overlap, and tables or clusters past the end of the stream are
// refused with ErrCorrupt.
//
// Backing files, encryption and external data files are refused with ErrUnsupported; extended L2
// entries (subclusters) are read. Snapshots are ignored: only the active L1 table is read.
package qcow2stream
