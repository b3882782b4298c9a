// Package decompress recognizes the whole-file compression wrappers goldimage imports (gzip, xz,
// zstd, bzip2) by their magic and unwraps them with an output limit against decompression bombs.
// Its errors are pkg/convert's (pkg/convert/internal/imgerr): ErrCorrupt for a damaged stream,
// ErrTooLarge past the limit, ErrUnsupported for an unknown wrapper.
package decompress
