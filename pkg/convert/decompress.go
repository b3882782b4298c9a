package convert

import (
	"io"

	"github.com/goldimage/goldimage/pkg/convert/internal/decompress"
)

// Compression is a whole-file compression wrapper around an image.
type Compression = decompress.Compression

// Compression wrappers Detect recognizes.
const (
	CompressionNone  = decompress.None
	CompressionGzip  = decompress.Gzip
	CompressionXz    = decompress.Xz
	CompressionZstd  = decompress.Zstd
	CompressionBzip2 = decompress.Bzip2
)

// DetectCompression recognizes gzip, xz, zstd and bzip2 by magic.
func DetectCompression(h []byte) Compression { return decompress.Detect(h) }

// NewDecompressor unwraps r compressed with c, failing with ErrTooLarge once more than limit bytes
// come out (limit <= 0 means no limit). Close releases decoder resources, not r.
func NewDecompressor(r io.Reader, c Compression, limit int64) (io.ReadCloser, error) {
	return decompress.NewReader(r, c, limit)
}
