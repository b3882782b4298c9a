package convert

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
	"github.com/lima-vm/go-qcow2reader/image"
	"github.com/lima-vm/go-qcow2reader/image/qcow2"
	qlog "github.com/lima-vm/go-qcow2reader/log"

	"github.com/goldimage/goldimage/pkg/convert/inflate"
)

// maxL1Bytes bounds the L1 table we let the qcow2 reader allocate (qemu uses the same 32 MiB cap).
const maxL1Bytes = 32 << 20

var registerDecompressors sync.Once

// qcow2Header holds the header fields checked before go-qcow2reader sees an image.
type qcow2Header struct {
	version       uint32
	backingOffset uint64
	backingSize   uint32
	clusterBits   uint32
	size          uint64
	cryptMethod   uint32
	l1Size        uint32
	l1Offset      uint64
	incompatible  uint64
	headerLength  uint32
	compression   byte
}

// parseQcow2Header decodes and validates the fixed header against the file size and limits.
func parseQcow2Header(ra io.ReaderAt, fileSize int64, maxVirtual int64) (*qcow2Header, error) {
	b := make([]byte, 112)
	n, err := ra.ReadAt(b, 0)
	if n < 72 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, corruptf("qcow2 header truncated at %d bytes", n)
		}
		return nil, fmt.Errorf("read qcow2 header: %w", err)
	}
	be := binary.BigEndian
	h := &qcow2Header{
		version: be.Uint32(b[4:]), backingOffset: be.Uint64(b[8:]), backingSize: be.Uint32(b[16:]),
		clusterBits: be.Uint32(b[20:]), size: be.Uint64(b[24:]), cryptMethod: be.Uint32(b[32:]),
		l1Size: be.Uint32(b[36:]), l1Offset: be.Uint64(b[40:]), headerLength: 72,
	}
	if h.version == 3 {
		if n < 104 {
			return nil, corruptf("qcow2 v3 header truncated at %d bytes", n)
		}
		h.incompatible, h.headerLength = be.Uint64(b[72:]), be.Uint32(b[100:])
		if h.headerLength > 104 && n > 104 {
			h.compression = b[104]
		}
	}
	return h, h.validate(ra, fileSize, maxVirtual)
}

func (h *qcow2Header) validate(ra io.ReaderAt, fileSize, maxVirtual int64) error {
	if h.version != 2 && h.version != 3 {
		return fmt.Errorf("%w: qcow2 version %d", ErrUnsupported, h.version)
	}
	if h.backingOffset != 0 {
		return fmt.Errorf("%w: qcow2 refers to %q", ErrBackingFile, h.backingName(ra))
	}
	if h.cryptMethod != 0 {
		return fmt.Errorf("%w: qcow2 encryption method %d", ErrEncrypted, h.cryptMethod)
	}
	if h.clusterBits < 9 || h.clusterBits > 21 {
		return corruptf("qcow2 cluster bits %d outside 9..21", h.clusterBits)
	}
	if err := h.checkFeatures(); err != nil {
		return err
	}
	if h.size > uint64(maxVirtual) {
		return fmt.Errorf("%w: qcow2 virtual size %d exceeds the limit %d", ErrTooLarge, h.size, maxVirtual)
	}
	return h.checkL1(fileSize)
}

func (h *qcow2Header) checkFeatures() error {
	const (
		corruptBit  = 1 << 1
		externalBit = 1 << 2
		compressBit = 1 << 3
		known       = 0x1f
	)
	switch {
	case h.incompatible&externalBit != 0:
		return fmt.Errorf("%w: qcow2 data lives in an external data file", ErrExternalDataFile)
	case h.incompatible&corruptBit != 0:
		return corruptf("qcow2 header marks the image corrupt")
	case h.incompatible&^known != 0:
		return fmt.Errorf("%w: qcow2 incompatible feature bits %#x", ErrUnsupported, h.incompatible&^known)
	case h.incompatible&compressBit != 0 && h.compression > 1:
		return fmt.Errorf("%w: qcow2 compression type %d", ErrUnsupported, h.compression)
	}
	if h.version == 3 && (h.headerLength < 104 || h.headerLength > 1<<h.clusterBits) {
		return corruptf("qcow2 header length %d", h.headerLength)
	}
	return nil
}

func (h *qcow2Header) checkL1(fileSize int64) error {
	clusterSize := uint64(1) << h.clusterBits
	perL1 := clusterSize * (clusterSize / 8) // virtual bytes one L1 entry maps
	needed := (h.size + perL1 - 1) / perL1
	switch {
	case uint64(h.l1Size) < needed:
		return corruptf("qcow2 L1 table has %d entries, virtual size needs %d", h.l1Size, needed)
	case uint64(h.l1Size)*8 > maxL1Bytes:
		return corruptf("qcow2 L1 table of %d entries exceeds %d bytes", h.l1Size, maxL1Bytes)
	case h.size > 0 && (h.l1Offset == 0 || h.l1Offset%clusterSize != 0):
		return corruptf("qcow2 L1 table offset %d is not cluster aligned", h.l1Offset)
	case h.l1Offset > uint64(fileSize) || h.l1Offset+uint64(h.l1Size)*8 > uint64(fileSize):
		return corruptf("qcow2 L1 table at %d (+%d entries) lies past the end of the %d-byte file", h.l1Offset, h.l1Size, fileSize)
	}
	return nil
}

// backingName reads the backing file name for the error message, best effort.
func (h *qcow2Header) backingName(ra io.ReaderAt) string {
	size := min(h.backingSize, 1023)
	b := make([]byte, size)
	n, _ := ra.ReadAt(b, int64(h.backingOffset&(1<<62-1)))
	return string(b[:n])
}

// openQcow2 validates the header and opens the image with go-qcow2reader.
func openQcow2(ra io.ReaderAt, size int64, o *options) (image.Image, error) {
	registerDecompressors.Do(setDecompressors)
	if _, err := parseQcow2Header(ra, size, o.maxVirtual); err != nil {
		return nil, err
	}
	img, err := qcow2.Open(io.NewSectionReader(ra, 0, size), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: qcow2: %w", ErrCorrupt, err)
	}
	if err := img.Readable(); err != nil {
		_ = img.Close()
		return nil, fmt.Errorf("%w: qcow2: %w", ErrUnsupported, err)
	}
	return &checkedImage{Image: img}, nil
}

// checkedImage labels errors of the wrapped image that are not I/O errors as corruption.
type checkedImage struct{ image.Image }

func (c *checkedImage) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.Image.ReadAt(p, off)
	if err != nil && err != io.EOF && !isIOError(err) && !errors.Is(err, ErrBadInput) {
		err = fmt.Errorf("%w: %s: %w", ErrCorrupt, c.Type(), err)
	}
	return n, err
}

func (c *checkedImage) Extent(start, length int64) (image.Extent, error) {
	e, err := c.Image.Extent(start, length)
	if err != nil && !isIOError(err) && !errors.Is(err, ErrBadInput) {
		err = fmt.Errorf("%w: %s: %w", ErrCorrupt, c.Type(), err)
	}
	return e, err
}

// setDecompressors registers decoders that read each compressed cluster with few large ReadAt
// calls and fill the caller's buffer completely (zlib: pooled inflate.Decoders writing straight into
// it; zstd: pooled klauspost decoders), and silences the reader's warnings
// (about feature bits we already checked), which went to stderr.
func setDecompressors() {
	qlog.SetWarnFunc(func(string) {})
	qcow2.SetDecompressor(qcow2.CompressionTypeZlib, func(r io.Reader) (io.ReadCloser, error) {
		return &zlibCluster{r: r}, nil
	})
	qcow2.SetDecompressor(qcow2.CompressionTypeZstd, func(r io.Reader) (io.ReadCloser, error) {
		return &zstdCluster{r: r}, nil
	})
}

var (
	inflatePool = sync.Pool{New: func() any { return new(inflate.Decoder) }}
	zstdPool    = sync.Pool{New: func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(8<<20))
		if err != nil {
			return nil
		}
		return d
	}}
	clusterBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clusterReadSize) }}
)

// clusterReadSize is how much compressed data one ReadAt fetches: most compressed 64 KiB clusters fit.
const clusterReadSize = 32 << 10

// clusterReader is a pooled *bufio.Reader (flate's fastest input type) over one compressed cluster.
type clusterReader struct{ *bufio.Reader }

func newClusterReader(r io.Reader) *clusterReader {
	br := clusterBufs.Get().(*bufio.Reader)
	br.Reset(r)
	return &clusterReader{br}
}

func (c *clusterReader) release() {
	if c.Reader != nil {
		c.Reader.Reset(nil)
		clusterBufs.Put(c.Reader)
		c.Reader = nil
	}
}

// fullReader reads until p is full so one cluster costs one decompression, then returns its decoder to a pool.
type fullReader struct {
	r   io.Reader
	put func()
}

func (f *fullReader) Read(p []byte) (int, error) {
	n, err := io.ReadFull(f.r, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (f *fullReader) Close() error {
	if f.put != nil {
		f.put()
		f.put = nil
	}
	return nil
}

// zlibCluster decodes one deflate-compressed cluster. The first Read decodes straight into the
// caller's buffer, which go-qcow2reader sizes to the rest of the cluster for aligned reads; a
// second Read (after a partial first one) restarts from the cluster's start with a flate reader
// and skips what was already returned.
type zlibCluster struct {
	r     io.Reader // *io.SectionReader over the compressed cluster
	done  int64
	ended bool
	slow  io.Reader
}

func (z *zlibCluster) Read(p []byte) (int, error) {
	switch {
	case z.ended:
		return 0, io.EOF
	case z.slow == nil && z.done > 0:
		if err := z.restart(); err != nil {
			return 0, err
		}
		fallthrough
	case z.slow != nil:
		n, err := io.ReadFull(z.slow, p)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return n, err
	}
	d := inflatePool.Get().(*inflate.Decoder)
	var n int
	var err error
	if data, release, ok := viewOf(z.r); ok { // decode the cached bytes in place
		n, err = d.DecodeBytes(p, data)
		release()
	} else {
		n, err = d.Decode(p, z.r)
	}
	inflatePool.Put(d)
	z.done += int64(n)
	z.ended = err == io.EOF
	return n, err
}

func (z *zlibCluster) restart() error {
	s, ok := z.r.(io.Seeker)
	if !ok {
		return errors.New("zlib cluster read in pieces from a source that cannot seek")
	}
	if _, err := s.Seek(0, io.SeekStart); err != nil {
		return err
	}
	z.slow = flate.NewReader(bufio.NewReader(z.r))
	if _, err := io.CopyN(io.Discard, z.slow, z.done); err != nil {
		return fmt.Errorf("skip %d decompressed bytes: %w", z.done, err)
	}
	return nil
}

func (z *zlibCluster) Close() error { return nil }
