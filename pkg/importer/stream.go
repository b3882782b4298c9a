package importer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/goldimage/goldimage/internal/readahead"
	"github.com/goldimage/goldimage/pkg/contract"
	"github.com/goldimage/goldimage/pkg/convert"
	"github.com/goldimage/goldimage/pkg/importer/source"
)

// importStream reads the source once, in order: it hashes it, unwraps compression, and writes raw
// directly or spills other formats to the scratch directory and converts from there.
func importStream(ctx context.Context, c *Config, t *target, im *source.Image, progress progressFunc) (result, error) {
	rc, err := im.Stream(ctx)
	if err != nil {
		return result{}, err
	}
	defer rc.Close()
	// Without a checksum to check, a registry image needs no hash: the termination reports its manifest digest.
	h := newReadAheadHasher(rc, im.Digest == "" || c.Checksum != "")
	defer h.Close()
	res, err := convertStream(ctx, c, t, h, progress)
	return res, blameSource(err, h.err)
}

// convertStream is importStream once the stream is open.
func convertStream(ctx context.Context, c *Config, t *target, h *hasher, progress progressFunc) (result, error) {
	outer := bufio.NewReaderSize(h, convert.HeaderLen)
	r, det, closeFn, err := unwrap(outer)
	if err != nil {
		return result{}, err
	}
	defer closeFn()
	limit := t.capacity
	if c.Size > 0 {
		limit = min(limit, c.Size)
	}
	var res result
	switch det.Format {
	case convert.FormatRaw, convert.FormatISO:
		n, err := copyStream(ctx, t, r, limit, progress)
		if err != nil {
			return result{}, err
		}
		if n == 0 {
			return result{}, fatalf("source is empty")
		}
		res = result{virtual: n, format: string(det.Format)}
	case convert.FormatQcow2, convert.FormatVHD, convert.FormatVHDX:
		if res, err = streamImage(ctx, c, t, r, det, limit, progress); err != nil {
			return result{}, err
		}
	case convert.FormatVMDK:
		if det.Subformat == "streamOptimized" {
			if res, err = streamImage(ctx, c, t, r, det, limit, progress); err != nil {
				return result{}, err
			}
			break
		}
		fallthrough
	default:
		if res, err = spill(ctx, c, t, r, det, limit, progress); err != nil {
			return result{}, err
		}
	}
	if _, err := io.Copy(io.Discard, outer); err != nil { // hash any trailing bytes too
		return result{}, fmt.Errorf("read rest of source: %w", err)
	}
	if res.digest, err = h.verify(c.Checksum); err != nil {
		return result{}, err
	}
	return res, nil
}

// unwrap detects compression, decompresses, and detects the format inside.
func unwrap(br *bufio.Reader) (io.Reader, convert.Detection, func(), error) {
	header, err := br.Peek(convert.HeaderLen)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, convert.Detection{}, nil, fmt.Errorf("read header: %w", err)
	}
	det := convert.Detect(header)
	if det.Compression == convert.CompressionNone {
		return br, det, func() {}, nil
	}
	dr, err := convert.NewDecompressor(br, det.Compression, 0)
	if err != nil {
		return nil, det, nil, err
	}
	inner := bufio.NewReaderSize(dr, convert.HeaderLen)
	header, err = inner.Peek(convert.HeaderLen)
	if err != nil && err != io.EOF {
		dr.Close()
		return nil, det, nil, fmt.Errorf("read %s-compressed header: %w", det.Compression, err)
	}
	in := convert.Detect(header)
	if in.Compression != convert.CompressionNone {
		dr.Close()
		return nil, det, nil, fatalf("%s stream holds another %s stream; compress the image once", det.Compression, in.Compression)
	}
	in.Compression = det.Compression
	return inner, in, func() { dr.Close() }, nil
}

// streamImage converts a qcow2, dynamic VHD, VHDX or streamOptimized VMDK stream in one pass with
// pkg/convert. A qcow2 whose clusters arrive before their tables holds them in memory and then in the
// scratch directory or, without one, in a temporary file beside a file target; a VHD or VHDX whose
// blocks do not follow the disk's order is copied there whole and converted from the copy.
func streamImage(ctx context.Context, c *Config, t *target, r io.Reader, det convert.Detection, limit int64, progress progressFunc) (result, error) {
	path, scratch := t.dest, c.ScratchDir
	if !t.block {
		path += partSuffix
		if scratch == "" {
			scratch = filepath.Dir(t.dest)
		}
	}
	removeStale(scratch, holdPattern)
	removeStale(scratch, convert.ScratchPattern)
	opts := []convert.Option{convert.WithProgress(progress), convert.WithSync(false), convert.WithDirectIO(t.direct),
		convert.WithDiscard(t.discard), workers(), convert.WithScratchDir(scratch),
		convert.WithMaxDecompressedSize(contract.MaxScratchBytes(limit)), // bounds a whole copy to scratch, as spill's
		convert.WithSizeCheck(func(virtual int64) error { return t.checkFits(virtual, c.Size) })}
	if c.Log != nil {
		opts = append(opts, convert.WithLog(c.Log))
	}
	res, err := convert.WriteRawFromStream(ctx, r, path, opts...)
	if errors.Is(err, convert.ErrNeedScratch) {
		err = fatalf("%s stream: %v; give a scratch directory (--scratch)", det.Format, err)
	}
	if err != nil {
		return result{}, err
	}
	if c.Log != nil {
		c.Log(fmt.Sprintf("%s stream: %d bytes written to scratch, at most %d held before their tables", det.Format, res.ScratchWritten, res.HeldPeak))
	}
	return result{virtual: res.VirtualSize, format: string(det.Format)}, nil
}

// spill copies a stream to a scratch file so a random-access format can be converted from it.
func spill(ctx context.Context, c *Config, t *target, r io.Reader, det convert.Detection, limit int64, progress progressFunc) (result, error) {
	if c.ScratchDir == "" {
		return result{}, fatalf("%s from a stream source (compressed, registry layer or no range support) needs a scratch directory (--scratch)", det.Format)
	}
	removeStaleSpills(c.ScratchDir)
	f, err := os.CreateTemp(c.ScratchDir, spillPattern)
	if err != nil {
		return result{}, fmt.Errorf("create scratch file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	maxSpill := contract.MaxScratchBytes(limit)
	n, err := io.Copy(f, io.LimitReader(contextReader{ctx, r}, maxSpill+1))
	if err != nil {
		return result{}, fmt.Errorf("copy to scratch: %w", err)
	}
	if n > maxSpill {
		return result{}, fatalf("%s image is larger than the %s the target can hold", det.Format, human(limit))
	}
	if c.Log != nil {
		c.Log(fmt.Sprintf("%s stream: %d bytes written to scratch (spilled whole: the format needs random access)", det.Format, n))
	}
	img, odet, err := convert.Open(f, n, workers())
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
	return result{virtual: img.Size(), format: string(odet.Format)}, nil
}

// spillPattern names scratch files; holdPattern the files where pkg/convert/qcow2stream holds
// clusters that came before their tables.
const (
	spillPattern = "importer-*.img"
	holdPattern  = "qcow2stream-*.hold"
)

// removeStaleSpills deletes scratch files a killed earlier run left behind: a scratch volume is sized
// for one copy of the image, so a leftover would make every rerun run out of space. A concurrent
// import sharing the directory (local mode) is unharmed: it reads and writes its spill through the
// open descriptor, and the space is freed when it closes it.
func removeStaleSpills(dir string) { removeStale(dir, spillPattern) }

// removeStale deletes the files matching pattern in dir (see removeStaleSpills).
func removeStale(dir, pattern string) {
	stale, _ := filepath.Glob(filepath.Join(dir, pattern))
	for _, p := range stale {
		os.Remove(p)
	}
}

// contextReader stops reading once ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// hasher computes the sha256 of everything read through it and remembers a read failure.
type hasher struct {
	r     io.Reader // yields the source's bytes after sum hashed them
	h     hash.Hash // nil: nothing to hash
	err   error     // first failure other than io.EOF
	close func() error
}

// newHasher hashes r as it is read.
func newHasher(r io.Reader) *hasher {
	h := sha256.New()
	return &hasher{r: sumReader{r, h}, h: h, close: func() error { return nil }}
}

// newReadAheadHasher receives and hashes rc on a goroutine of its own (package readahead), beside
// the one that decompresses and converts; Close stops that goroutine. With sum false it neither
// hashes nor reads ahead: a registry layer, the only such source, is read ahead by pkg/registry.
func newReadAheadHasher(rc io.ReadCloser, sum bool) *hasher {
	h := &hasher{}
	if !sum {
		h.r, h.close = rc, func() error { return nil }
		return h
	}
	h.h = sha256.New()
	ra := readahead.New(sumReader{rc, h.h}, rc)
	h.r, h.close = ra, ra.Close
	return h
}

func (h *hasher) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if err != nil && err != io.EOF && h.err == nil {
		h.err = err
	}
	return n, err
}

// Close stops reading ahead, if the hasher does.
func (h *hasher) Close() error { return h.close() }

// sumReader adds what it reads to h. The hash is complete once r's io.EOF was passed on.
type sumReader struct {
	r io.Reader
	h hash.Hash
}

func (s sumReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	return n, err
}

// blameSource replaces err with the source's own failure when the source failed first: a decoder
// that saw a dropped connection must not call the image corrupt.
func blameSource(err, sourceErr error) error {
	if err == nil || sourceErr == nil || source.IsFatal(sourceErr) {
		return err
	}
	return fmt.Errorf("read source: %w", sourceErr)
}

// trapAt is an io.ReaderAt that remembers the first failure other than io.EOF.
type trapAt struct {
	ra  io.ReaderAt
	mu  sync.Mutex
	err error
}

func (t *trapAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := t.ra.ReadAt(p, off)
	if err != nil && err != io.EOF {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
	return n, err
}

// failure returns the remembered failure.
func (t *trapAt) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// verify returns "sha256:<hex>" of the bytes read ("" when not hashing) and fails when want is set and differs.
func (h *hasher) verify(want string) (string, error) {
	if h.h == nil {
		return "", nil
	}
	got := "sha256:" + hex.EncodeToString(h.h.Sum(nil))
	if want != "" && !strings.EqualFold(got, want) {
		return "", fatalf("checksum mismatch: source has %s, expected %s", got, want)
	}
	return got, nil
}

// parseChecksum checks a "sha256:<64 hex>" value.
func parseChecksum(s string) ([]byte, error) {
	algo, hexsum, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(algo, "sha256") {
		return nil, Usagef("checksum %q: want sha256:<hex>", s)
	}
	b, err := hex.DecodeString(hexsum)
	if err != nil || len(b) != sha256.Size {
		return nil, Usagef("checksum %q: want 64 hex digits after sha256:", s)
	}
	return b, nil
}
