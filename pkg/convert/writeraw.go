package convert

import (
	"context"
	"fmt"

	"github.com/goldimage/goldimage/pkg/convert/internal/rawtarget"
	"github.com/goldimage/goldimage/pkg/convert/internal/sparse"
)

// Result describes a finished conversion.
type Result struct {
	// Format and Compression are what the source was detected as.
	Format      Format
	Compression Compression
	// VirtualSize is the size of the raw output in bytes.
	VirtualSize int64
	// BytesWritten counts bytes written: data blocks for raw targets (zero blocks are skipped),
	// the file size for qcow2.
	BytesWritten int64
	// HeldPeak and ScratchWritten tell, for a streamed qcow2, the most bytes held at once because
	// they arrived before their tables, and how many of them went to the scratch directory. A
	// stream spilled whole (formats that need random access) counts as ScratchWritten too.
	HeldPeak, ScratchWritten int64
}

// WriteRaw copies img to path as raw: a sparse regular file (zero 4 KiB blocks become holes) or a
// block device (zero ranges zeroed only where needed), with WithWorkers goroutines.
func WriteRaw(ctx context.Context, img Image, path string, opts ...Option) (Result, error) {
	return writeRaw(ctx, img, path, newOptions(opts))
}

func writeRaw(ctx context.Context, img Image, path string, o *options) (Result, error) {
	size := img.Size()
	res := Result{Format: Format(img.Type()), VirtualSize: size}
	if size < 0 {
		return res, fmt.Errorf("%w: %s image of unknown size", ErrCorrupt, img.Type())
	}
	if size > o.maxVirtual {
		return res, fmt.Errorf("%w: virtual size %d exceeds the limit %d", ErrTooLarge, size, o.maxVirtual)
	}
	w, err := o.openWriter(path, size)
	if err != nil {
		return res, err
	}
	err = w.CopyImage(ctx, img)
	res.BytesWritten = w.Written()
	if err != nil {
		_ = w.Target().Close()
		return res, err
	}
	return res, w.Target().Finish(o.sync)
}

// openWriter opens the raw target at path for a size-byte image and a writer on it.
func (o *options) openWriter(path string, size int64) (*rawtarget.Writer, error) {
	t, err := rawtarget.Open(path, max(size, 0), rawtarget.Options{DirectIO: o.directIO, Discard: o.discard, ForceBlock: o.forceBlock})
	if err != nil {
		return nil, err
	}
	return rawtarget.NewWriter(t, size, rawtarget.Config{Workers: o.workers, ChunkSize: o.chunkSize, Progress: o.progress}), nil
}

// IsZero reports whether p holds only zero bytes (compared with zeros a block at a time: vectorized).
func IsZero(p []byte) bool { return sparse.IsZero(p) }

// ForDataRuns calls fn(i, j) for each maximal run p[i:j] of 4 KiB blocks that are not all zero (a
// short last block counts as a block), stopping at fn's first error: the writes a sparse copy of p needs.
func ForDataRuns(p []byte, fn func(i, j int) error) error { return sparse.ForRuns(p, false, fn) }
