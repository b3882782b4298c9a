package convert

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sync/errgroup"

	"github.com/goldimage/goldimage/pkg/convert/internal/rawtarget"
	"github.com/goldimage/goldimage/pkg/convert/internal/sparse"
)

// streamOpener turns a sequential image stream into its raw contents, for subformats that allow it.
type streamOpener func(r io.Reader, o *options) (io.Reader, int64, error)

// streamOpeners maps "format/subformat" to sequential readers; readers.go adds VMDK streamOptimized.
var streamOpeners = map[string]streamOpener{}

// WriteRawFromStream reads an image of any supported format, optionally compressed, from r and writes
// it to path like WriteRaw. Raw, ISO and fixed VHD (its footer is dropped) stream straight through;
// qcow2 streams in one pass (pkg/convert/qcow2stream), holding clusters that arrive before their
// tables in memory and then in WithScratchDir; VMDK streamOptimized streams too, and so do dynamic
// VHD and VHDX whose tables come first and whose blocks follow the disk's order. Other formats
// needing random access are first copied to a scratch file in WithScratchDir (ErrNeedScratch
// without one). WithSizeCheck sees the virtual size of qcow2 and VMDK streams before the target is opened.
func WriteRawFromStream(ctx context.Context, r io.Reader, path string, opts ...Option) (Result, error) {
	o := newOptions(opts)
	src, det, closeSrc, err := unwrap(r, o)
	if err != nil {
		return Result{Format: det.Format, Compression: det.Compression}, err
	}
	defer closeSrc()
	res := Result{Format: det.Format, Compression: det.Compression}
	if det.Format == FormatVMDK && det.Subformat == "descriptor" {
		return res, fmt.Errorf("%w: VMDK descriptor references external extent files; upload the flat extent as raw", ErrUnsupported)
	}
	if det.Format == FormatRaw || det.Format == FormatISO {
		return streamRaw(ctx, src, path, o, res)
	}
	if det.Format == FormatQcow2 {
		return streamQcow2(ctx, src, path, o, res)
	}
	if t, ok := tableOpeners[string(det.Format)+"/"+det.Subformat]; ok {
		return streamTables(ctx, src, path, o, res, t)
	}
	if open := streamOpeners[string(det.Format)+"/"+det.Subformat]; open != nil {
		raw, size, err := open(src, o)
		if err != nil {
			return res, fmt.Errorf("open %s %s stream: %w", det.Subformat, det.Format, err)
		}
		if o.sizeCheck != nil {
			if err := o.sizeCheck(size); err != nil {
				return res, err
			}
		}
		return streamRaw(ctx, raw, path, o, res)
	}
	return spill(ctx, src, path, o, res)
}

// unwrap peeks at the stream, removes one compression wrapper and detects the format inside.
func unwrap(r io.Reader, o *options) (io.Reader, Detection, func(), error) {
	br := bufio.NewReaderSize(r, HeaderLen)
	det, err := peekDetect(br)
	if err != nil || det.Compression == CompressionNone {
		return br, det, func() {}, err
	}
	zr, err := NewDecompressor(br, det.Compression, o.decompressLimit())
	if err != nil {
		return nil, det, nil, err
	}
	zb := bufio.NewReaderSize(zr, HeaderLen)
	inner, err := peekDetect(zb)
	if err == nil && inner.Compression != CompressionNone {
		err = fmt.Errorf("%w: %s inside %s", ErrUnsupported, inner.Compression, det.Compression)
	}
	if err != nil {
		_ = zr.Close()
		return nil, det, nil, err
	}
	inner.Compression = det.Compression
	return zb, inner, func() { _ = zr.Close() }, nil
}

func peekDetect(br *bufio.Reader) (Detection, error) {
	h, err := br.Peek(HeaderLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return Detection{}, fmt.Errorf("read image header: %w", err)
	}
	if len(h) == 0 {
		return Detection{}, fmt.Errorf("%w: empty image", ErrCorrupt)
	}
	return Detect(h), nil
}

// ScratchPattern names the files WriteRawFromStream copies whole streams to in WithScratchDir (see
// os.CreateTemp). Each is removed when the conversion ends; one a killed process left may be deleted.
const ScratchPattern = "goldimage-scratch-*"

// spill copies a stream that needs random access to a scratch file, then converts that file.
func spill(ctx context.Context, src io.Reader, path string, o *options, res Result) (Result, error) {
	if o.scratchDir == "" {
		return res, fmt.Errorf("%s %w", res.Format, ErrNeedScratch)
	}
	f, err := os.CreateTemp(o.scratchDir, ScratchPattern)
	if err != nil {
		return res, fmt.Errorf("create scratch file: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()); _ = f.Close() }()
	limit := o.decompressLimit()
	n, err := io.CopyBuffer(f, io.LimitReader(src, limit+1), make([]byte, 1<<20))
	res.ScratchWritten = n
	if err != nil {
		return res, fmt.Errorf("copy %s stream to scratch: %w", res.Format, err)
	}
	if n > limit {
		return res, fmt.Errorf("%w: %s stream exceeds %d bytes", ErrTooLarge, res.Format, limit)
	}
	img, _, err := openDetected(f, n, o)
	if err != nil {
		return res, err
	}
	defer func() { _ = img.Close() }()
	if o.sizeCheck != nil {
		if err := o.sizeCheck(img.Size()); err != nil {
			return res, err
		}
	}
	out, err := writeRaw(ctx, img, path, o)
	out.Format, out.Compression, out.ScratchWritten = res.Format, res.Compression, n
	return out, err
}

// streamRaw writes a raw stream sequentially with parallel zero detection and writes. When the
// stream ends in a fixed-VHD footer that matches the data length, the footer is dropped.
func streamRaw(ctx context.Context, src io.Reader, path string, o *options, res Result) (Result, error) {
	w, err := o.openWriter(path, -1)
	if err != nil {
		return res, err
	}
	t := w.Target()
	s := &rawStreamer{w: w, src: src, o: o}
	size, vhd, err := s.run(ctx)
	res.VirtualSize, res.BytesWritten = size, w.Written()
	if vhd {
		res.Format = FormatVHD
	}
	if err == nil && size > o.maxVirtual {
		err = fmt.Errorf("%w: raw stream of %d bytes exceeds the limit %d", ErrTooLarge, size, o.maxVirtual)
	}
	if err == nil && !t.Block() {
		err = t.Resize(size)
	}
	if err != nil {
		_ = t.Close()
		return res, err
	}
	return res, t.Finish(o.sync)
}

// rawStreamer reads chunks with one chunk of lookahead (to spot a trailing VHD footer) and hands them to workers.
type rawStreamer struct {
	w    *rawtarget.Writer
	src  io.Reader
	o    *options
	free chan []byte
	jobs chan chunk
}

type chunk struct {
	buf []byte
	n   int
	off int64
}

func (s *rawStreamer) run(ctx context.Context) (int64, bool, error) {
	s.free = make(chan []byte, s.o.workers+2)
	for range s.o.workers + 2 {
		s.free <- sparse.AlignedBuf(int(s.o.chunkSize))
	}
	s.jobs = make(chan chunk)
	g, gctx := errgroup.WithContext(ctx)
	for range s.o.workers {
		g.Go(func() error { return s.write(gctx) })
	}
	var (
		size int64
		vhd  bool
	)
	g.Go(func() error {
		defer close(s.jobs)
		var err error
		size, vhd, err = s.read(gctx)
		return err
	})
	err := g.Wait()
	return size, vhd, err
}

func (s *rawStreamer) write(ctx context.Context) error {
	scratch := s.w.Scratch()
	for c := range s.jobs {
		if err := s.w.WriteBuf(c.buf[:c.n], c.off, scratch); err != nil {
			return err
		}
		s.w.Advance(int64(c.n))
		select {
		case s.free <- c.buf:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// read fills chunks and dispatches each once the next one shows whether the stream ended.
func (s *rawStreamer) read(ctx context.Context) (int64, bool, error) {
	var off int64
	cur, curN, _, err := s.fill(ctx, off)
	if err != nil {
		return 0, false, err
	}
	for curN > 0 {
		nxt, nxtN, eof, err := s.fill(ctx, off+int64(curN))
		if err != nil {
			return 0, false, err
		}
		if eof && nxtN < 512 {
			return s.finishTail(ctx, cur, curN, nxt, nxtN, off)
		}
		if err := s.send(ctx, chunk{buf: cur, n: curN, off: off}); err != nil {
			return 0, false, err
		}
		off += int64(curN)
		cur, curN = nxt, nxtN
	}
	return off, false, nil
}

// finishTail checks the last 512 bytes (spread over cur and the short nxt) for a fixed-VHD footer.
func (s *rawStreamer) finishTail(ctx context.Context, cur []byte, curN int, nxt []byte, nxtN int, off int64) (int64, bool, error) {
	total := off + int64(curN) + int64(nxtN)
	if total >= 512 {
		tail := append(append(make([]byte, 0, 512), cur[curN-(512-nxtN):curN]...), nxt[:nxtN]...)
		if IsVHDFooter(tail, total-512) {
			return total - 512, true, s.send(ctx, chunk{buf: cur, n: curN - (512 - nxtN), off: off})
		}
	}
	if err := s.send(ctx, chunk{buf: cur, n: curN, off: off}); err != nil {
		return 0, false, err
	}
	return total, false, s.send(ctx, chunk{buf: nxt, n: nxtN, off: off + int64(curN)})
}

// fill reads the next chunk at stream offset off; eof reports the stream ended inside it.
func (s *rawStreamer) fill(ctx context.Context, off int64) ([]byte, int, bool, error) {
	var buf []byte
	select {
	case buf = <-s.free:
	case <-ctx.Done():
		return nil, 0, false, ctx.Err()
	}
	n, err := io.ReadFull(s.src, buf)
	eof := err == io.EOF || err == io.ErrUnexpectedEOF // a wrapped EOF is a decoder's error, not the end
	if err != nil && !eof {
		return nil, 0, false, fmt.Errorf("read image stream at %d: %w", off+int64(n), err)
	}
	if off+int64(n) > s.o.maxVirtual+512 {
		return nil, 0, false, fmt.Errorf("%w: raw stream exceeds the limit %d", ErrTooLarge, s.o.maxVirtual)
	}
	return buf, n, eof, nil
}

func (s *rawStreamer) send(ctx context.Context, c chunk) error {
	if c.n == 0 {
		return nil
	}
	select {
	case s.jobs <- c:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
