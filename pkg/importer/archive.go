package importer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/convert"
	"github.com/goldimage/goldimage/pkg/importer/source"
	"github.com/goldimage/goldimage/pkg/importer/untar"
)

// FormatTar is the Format an archive import reports.
const FormatTar = "tar"

// importArchive unpacks a tar source, optionally gz, xz or zstd compressed, into the directory c.Dest
// (CDI's contentType archive): the files may fill the usable space of its filesystem, and c.Size when set.
func importArchive(ctx context.Context, c *Config, progress progressFunc) (contract.Termination, error) {
	limit, err := archiveLimit(c)
	if err != nil {
		return contract.Termination{}, err
	}
	im, err := source.Open(ctx, c.Source, c.sourceOptions()...)
	if err != nil {
		return contract.Termination{}, err
	}
	defer im.Close()
	rc, err := im.Stream(ctx)
	if err != nil {
		return contract.Termination{}, fmt.Errorf("import %s: %w", im.Name, err)
	}
	defer rc.Close()
	h := newHasher(rc)
	outer := bufio.NewReaderSize(h, convert.HeaderLen)
	r, det, closeFn, err := unwrap(outer)
	if err != nil {
		return contract.Termination{}, fmt.Errorf("import %s: %w", im.Name, blameSource(err, h.err))
	}
	defer closeFn()
	if det.Format != convert.FormatRaw {
		return contract.Termination{}, fatalf("import %s: contentType archive needs a tar archive, not a %s disk image", im.Name, det.Format)
	}
	st, err := untar.Extract(ctx, &progressReader{r: contextReader{ctx, r}, progress: progress}, c.Dest, limit)
	if errors.Is(err, untar.ErrRefused) {
		err = source.Fatal(err)
	}
	if err == nil {
		_, err = io.Copy(io.Discard, outer) // tar padding and trailing bytes count for the checksum too
	}
	if err != nil {
		return contract.Termination{}, fmt.Errorf("import %s: %w", im.Name, blameSource(err, h.err))
	}
	digest, err := h.verify(c.Checksum)
	if err != nil {
		return contract.Termination{}, fmt.Errorf("import %s: %w", im.Name, err)
	}
	progress(st.Bytes, st.Bytes)
	format := FormatTar
	if det.Compression != convert.CompressionNone {
		format += "+" + string(det.Compression)
	}
	return contract.Termination{Result: contract.ResultSuccess, VirtualSize: st.Bytes, Format: format, Digest: digest}, nil
}

// archiveLimit checks that c.Dest is a directory and returns how many bytes of files it may take.
func archiveLimit(c *Config) (int64, error) {
	fi, err := os.Stat(c.Dest)
	if err != nil {
		return 0, fmt.Errorf("archive destination: %w", err)
	}
	if !fi.IsDir() {
		return 0, Usagef("archive destination %s is not a directory (contentType archive unpacks into a filesystem volume)", c.Dest)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(c.Dest, &sfs); err != nil {
		return 0, fmt.Errorf("inspect filesystem of %s: %w", c.Dest, err)
	}
	limit := usableSpace(int64(sfs.Bavail)*sfs.Bsize, c.FilesystemOverhead)
	if c.Size > 0 {
		limit = min(limit, c.Size)
	}
	return max(limit, 1), nil
}

// progressReader reports bytes read so far, the total being unknown.
type progressReader struct {
	r        io.Reader
	n        int64
	progress progressFunc
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.progress(p.n, -1)
	return n, err
}
