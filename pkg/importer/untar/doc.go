// Package untar unpacks a tar stream (CDI's contentType archive) into a directory without ever writing
// outside it: entries are opened through an os.Root of the directory, names that are absolute or climb
// with "..", symbolic links, hard links and device, FIFO or other special entries are refused with an
// error naming the entry, and the unpacked content is bounded. Memory stays bounded: entries are copied
// through a fixed buffer.
package untar
