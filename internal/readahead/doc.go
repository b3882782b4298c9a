// Package readahead reads a stream on a goroutine of its own, a few chunks ahead of its consumer, so
// that receiving (and whatever its source does, such as hashing) overlaps with the consumer's work
// (decompressing, converting, writing) on another core. Bytes that arrived are handed over at once.
package readahead
