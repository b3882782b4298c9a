// Package sparse finds what a sparse copy can skip: zero 4 KiB blocks in a buffer (compared a
// block at a time, which the runtime vectorizes) and holes in a file (SEEK_DATA/SEEK_HOLE). It
// also allocates the block-aligned buffers O_DIRECT writes need.
package sparse
