// Package decompress recognizes the whole-file compression wrappers goldimage imports (gzip, xz,
// zstd, bzip2) by their magic and unwraps them with an output limit against decompression bombs.
// Its errors are pkg/convert's (pkg/convert/internal/imgerr): ErrCorrupt for a damaged stream,
// ErrTooLarge past the limit, ErrUnsupported for an unknown wrapper.
//
// zstd is decoded by klauspost/compress with a filter in front of it (zstdruns.go) that keeps the
// long runs of RLE blocks the zstd command writes for zeros from being filled a byte at a time;
// frames are checked against their checksums and content sizes as the decoder would.
package decompress
