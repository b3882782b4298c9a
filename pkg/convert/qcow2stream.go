package convert

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/sync/errgroup"

	"github.com/goldimage/goldimage/pkg/convert/internal/rawtarget"
	"github.com/goldimage/goldimage/pkg/convert/qcow2stream"
)

// streamQcow2 converts a qcow2 stream in one pass with pkg/convert/qcow2stream, holding clusters
// that arrive before their tables in memory and then in WithScratchDir.
func streamQcow2(ctx context.Context, src io.Reader, path string, o *options, res Result) (Result, error) {
	if br, ok := src.(*bufio.Reader); ok { // the same checks, and errors, as for a seekable qcow2
		h, _ := br.Peek(HeaderLen)
		if _, err := parseQcow2Header(bytes.NewReader(h), math.MaxInt64/2, o.maxVirtual); err != nil {
			return res, err
		}
	}
	r, err := qcow2stream.NewReader(src, qcow2stream.WithMaxVirtualSize(o.maxVirtual), qcow2stream.WithScratchDir(o.scratchDir),
		qcow2stream.WithWorkers(o.workers), qcow2stream.WithLog(o.log))
	if err != nil {
		return res, fmt.Errorf("open qcow2 stream: %w", classifyStream(err))
	}
	defer r.Close()
	res.VirtualSize = r.Size()
	if o.sizeCheck != nil {
		if err := o.sizeCheck(r.Size()); err != nil {
			return res, err
		}
	}
	w, err := o.openWriter(path, r.Size())
	if err != nil {
		return res, err
	}
	err = writeExtents(ctx, r, w, o.workers)
	if err == nil { // the rest (refcounts) too: a compression wrapper checks its checksum and limit at the end
		if _, err = io.Copy(io.Discard, src); err != nil {
			err = fmt.Errorf("read the rest of the qcow2 stream: %w", err)
		}
	}
	res.BytesWritten = w.Written()
	st := r.Stats()
	res.HeldPeak, res.ScratchWritten = st.HeldPeak, st.ScratchWritten
	if err != nil {
		_ = w.Target().Close()
		return res, err
	}
	return res, w.Target().Finish(o.sync)
}

// writeExtents writes the extents of r with the writer's workers; zero extents are zeroed only where
// the target needs it (block devices).
func writeExtents(ctx context.Context, r *qcow2stream.Reader, w *rawtarget.Writer, workers int) error {
	jobs := make(chan qcow2stream.Extent, workers)
	g, gctx := errgroup.WithContext(ctx)
	for range workers {
		g.Go(func() error {
			scratch := w.Scratch()
			for e := range jobs {
				var err error
				if e.Data == nil {
					err = w.Target().Zero(e.Off, e.Len, scratch)
				} else {
					err = w.WriteBuf(e.Data, e.Off, scratch)
					r.Release(e)
				}
				if err != nil {
					return err
				}
				w.Advance(e.Len)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(jobs)
		for {
			e, err := r.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read qcow2 stream: %w", classifyStream(err))
			}
			select {
			case jobs <- e:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
	})
	return g.Wait()
}

// classifyStream maps qcow2stream's errors onto this package's.
func classifyStream(err error) error {
	switch {
	case errors.Is(err, qcow2stream.ErrCorrupt):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	case errors.Is(err, qcow2stream.ErrUnsupported):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	case errors.Is(err, qcow2stream.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, qcow2stream.ErrNeedScratch):
		return fmt.Errorf("%w: %w", ErrNeedScratch, err)
	}
	return err
}
