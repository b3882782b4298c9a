package importer

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/goldimage/goldimage/pkg/convert"
)

// chunk is the unit of reads, zero detection and writes; memory use is a few chunks whatever the image size.
const chunk = 1 << 20

// progressFunc receives bytes of virtual size done and the total (-1 while unknown).
type progressFunc func(done, total int64)

// writeImage writes the virtual contents of img to the target with pkg/convert's parallel sparse
// writer, with the target's direct I/O and discard settings; the target's finish syncs it.
func (t *target) writeImage(ctx context.Context, img convert.Image, progress progressFunc) error {
	path := t.dest
	if !t.block {
		path += partSuffix
	}
	_, err := convert.WriteRaw(ctx, img, path, convert.WithProgress(progress), convert.WithSync(false),
		convert.WithDirectIO(t.direct), convert.WithDiscard(t.discard), workers())
	return err
}

// workers sizes pkg/convert's parallelism, and with it its buffers, by GOMAXPROCS, which follows the
// pod's CPU limit, rather than by the node's CPU count.
func workers() convert.Option { return convert.WithWorkers(runtime.GOMAXPROCS(0)) }

// writeChunk writes b at off. A file target, new and all holes, gets only the chunk's non-zero 4 KiB
// blocks; a block device gets the whole chunk unless it is all zeros, which the target zeroes more
// cheaply (fewer writes than zeroing its zero blocks one by one).
func (t *target) writeChunk(b []byte, off int64) error {
	if !t.block {
		return convert.ForDataRuns(b, func(i, j int) error { return t.writeAt(b[i:j], off+int64(i)) })
	}
	if convert.IsZero(b) {
		return t.zero(off, int64(len(b)))
	}
	return t.writeAt(b, off)
}

func (t *target) writeAt(b []byte, off int64) error {
	if _, err := t.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("write %s at %d: %w", t.dest, off, err)
	}
	return nil
}

// copyStream writes a raw stream to t, failing with a "needs at least" error once it passes limit
// bytes. Reading (with the decompression behind it) and writing (zero detection, writes) run on
// goroutines of their own, a few chunks apart.
func copyStream(ctx context.Context, t *target, r io.Reader, limit int64, progress progressFunc) (int64, error) {
	const buffers = 4
	free, full := make(chan []byte, buffers), make(chan filled, buffers)
	for range buffers {
		free <- make([]byte, chunk)
	}
	g, gctx := errgroup.WithContext(ctx)
	var total int64
	g.Go(func() error {
		defer close(full)
		var err error
		total, err = readChunks(gctx, t, r, limit, free, full)
		return err
	})
	g.Go(func() error {
		for c := range full {
			if err := t.writeChunk(c.buf[:c.n], c.off); err != nil {
				return err
			}
			progress(c.off+int64(c.n), -1)
			free <- c.buf
		}
		return nil
	})
	return total, g.Wait()
}

// filled is a chunk of the stream read into buf, at stream offset off.
type filled struct {
	buf []byte
	n   int
	off int64
}

// readChunks fills free buffers from r and hands them on in order; it returns the stream's length.
func readChunks(ctx context.Context, t *target, r io.Reader, limit int64, free <-chan []byte, full chan<- filled) (int64, error) {
	var off int64
	for {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return off, ctx.Err()
		}
		n, err := fill(r, buf)
		if n > 0 {
			if off+int64(n) > limit {
				return off, fatalf("image needs at least %s but %s has only %s", human(off+int64(n)), t.dest, t.describeLimit(limit))
			}
			select {
			case full <- filled{buf: buf, n: n, off: off}:
			case <-ctx.Done():
				return off, ctx.Err()
			}
			off += int64(n)
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, fmt.Errorf("read source at byte %d: %w", off, err)
		}
	}
}

// fill reads until buf is full or the reader fails; unlike io.ReadFull it passes io.ErrUnexpectedEOF
// from the reader (a truncated compressed stream) through as a failure and returns io.EOF at the end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		k, err := r.Read(buf[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
