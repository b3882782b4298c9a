package importer

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/convert"
	"github.com/goldimage/goldimage/pkg/importer/source"
)

// result is what an import learned about the image.
type result struct {
	virtual int64
	format  string
	digest  string // sha256 of the source bytes when they were all read in order, else empty
}

// Run imports cfg.Source into cfg.Dest and returns the termination message to report. On failure the
// message names the cause in one line and says whether a rerun may succeed; the error is returned as well.
func Run(ctx context.Context, cfg Config) (contract.Termination, error) {
	term, err := run(ctx, &cfg)
	if err != nil {
		return contract.Termination{Result: contract.ResultFailure, Message: oneLine(err), Retryable: !IsFatal(err)}, err
	}
	return term, nil
}

func run(ctx context.Context, c *Config) (contract.Termination, error) {
	if err := c.validate(); err != nil {
		return contract.Termination{}, err
	}
	progress := c.Progress
	if progress == nil {
		progress = func(int64, int64) {}
	}
	if c.Archive {
		return importArchive(ctx, c, progress)
	}
	t, err := openTarget(c)
	if err != nil {
		return contract.Termination{}, err
	}
	defer t.abort()
	if strings.HasPrefix(c.Source, "blank:") {
		return blank(t, c, progress)
	}
	if isClone(c.Source) {
		return cloneInto(ctx, c, t, progress)
	}
	im, err := source.Open(ctx, c.Source, c.sourceOptions()...)
	if err != nil {
		return contract.Termination{}, err
	}
	defer im.Close()
	res, err := importImage(ctx, c, t, im, progress)
	if err != nil {
		return contract.Termination{}, fmt.Errorf("import %s: %w", im.Name, err)
	}
	size := t.diskSize(res.virtual, c.Size)
	if err := t.finish(size, c.Preallocate); err != nil {
		return contract.Termination{}, err
	}
	digest := im.Digest
	if digest == "" {
		digest = res.digest
	}
	return contract.Termination{Result: contract.ResultSuccess, VirtualSize: size, Format: res.format,
		Digest: digest, Labels: im.Labels}, nil
}

// blank makes an empty disk of the requested size, or of the usable space of a smaller filesystem (as CDI does).
func blank(t *target, c *Config, progress progressFunc) (contract.Termination, error) {
	size := c.Size
	if !t.block {
		size = t.diskSize(0, c.Size)
	}
	if size == 0 {
		return contract.Termination{}, fatalf("blank disk needs at least 512 B but %s has only %s", t.dest, t.describeCapacity())
	}
	if err := t.zero(0, size); err != nil {
		return contract.Termination{}, err
	}
	if err := t.finish(size, c.Preallocate); err != nil {
		return contract.Termination{}, err
	}
	progress(size, size)
	return contract.Termination{Result: contract.ResultSuccess, VirtualSize: size, Format: string(convert.FormatRaw)}, nil
}

// oneLine flattens an error message for the termination message.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// importImage reads the source in place when it can seek and is not compressed, else as a stream. Raw
// and ISO images are streamed unless the source is a regular local file, whose holes pkg/convert skips
// with SEEK_DATA/SEEK_HOLE instead of reading them.
func importImage(ctx context.Context, c *Config, t *target, im *source.Image, progress progressFunc) (result, error) {
	if im.At != nil && im.Size > 0 {
		header := make([]byte, min(im.Size, convert.HeaderLen))
		if _, err := im.At.ReadAt(header, 0); err != nil && err != io.EOF {
			return result{}, fmt.Errorf("read header: %w", err)
		}
		det := convert.Detect(header)
		switch {
		case det.Compression != convert.CompressionNone:
		case det.Format != convert.FormatRaw && det.Format != convert.FormatISO:
			return importInPlace(ctx, c, t, im, progress)
		case regularFile(im.At) != nil:
			return convertInPlace(ctx, c, t, im, regularFile(im.At), progress)
		}
	}
	return importStream(ctx, c, t, im, progress)
}

// regularFile returns ra when it is an open regular file, else nil.
func regularFile(ra io.ReaderAt) *os.File {
	f, ok := ra.(*os.File)
	if !ok {
		return nil
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return nil
	}
	return f
}

// importInPlace converts a random-access source without scratch; a checksum costs a second, sequential read.
func importInPlace(ctx context.Context, c *Config, t *target, im *source.Image, progress progressFunc) (result, error) {
	trap := &trapAt{ra: im.At}
	res, err := convertInPlace(ctx, c, t, im, trap, progress)
	return res, blameSource(err, trap.failure())
}

// convertInPlace converts im read through ra (im.At itself or a wrapper of it).
func convertInPlace(ctx context.Context, c *Config, t *target, im *source.Image, ra io.ReaderAt, progress progressFunc) (result, error) {
	img, det, err := convert.Open(ra, im.Size, workers())
	if err != nil {
		return result{}, err
	}
	defer img.Close()
	if err := t.checkFits(img.Size(), c.Size); err != nil {
		return result{}, err
	}
	if err := t.writeImage(ctx, img, progress); err != nil {
		return result{}, err
	}
	res := result{virtual: img.Size(), format: string(det.Format)}
	if c.Checksum != "" {
		rc, err := im.Stream(ctx)
		if err != nil {
			return result{}, err
		}
		defer rc.Close()
		h := newHasher(rc)
		if _, err := io.Copy(io.Discard, h); err != nil {
			return result{}, fmt.Errorf("read source for checksum: %w", err)
		}
		if res.digest, err = h.verify(c.Checksum); err != nil {
			return result{}, err
		}
	}
	return res, nil
}
