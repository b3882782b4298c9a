package inflate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// GzipReader decodes a gzip stream (RFC 1952): one member after another, each member's CRC-32 and
// length checked at its end.
type GzipReader struct {
	z    Reader
	crc  uint32
	size uint32 // decoded length of the member, modulo 2^32
	err  error
}

// NewGzipReader reads the first member's header from r and returns a reader of the decoded bytes.
func NewGzipReader(r io.Reader) (*GzipReader, error) {
	g := &GzipReader{}
	if err := g.member(r); err != nil {
		return nil, err
	}
	return g, nil
}

// member reads a member header and starts decoding its DEFLATE data.
func (g *GzipReader) member(r io.Reader) error {
	br := bufio.NewReaderSize(r, 4096)
	if err := skipGzipHeader(br); err != nil {
		return err
	}
	g.z.Reset(br)
	g.crc, g.size = 0, 0
	return nil
}

// Read returns decoded bytes; io.EOF follows the last member's trailer.
func (g *GzipReader) Read(p []byte) (int, error) {
	for g.err == nil {
		n, err := g.z.Read(p)
		g.crc = crc32.Update(g.crc, crc32.IEEETable, p[:n])
		g.size += uint32(n)
		switch {
		case err == io.EOF:
			g.err = g.endMember() // nil when another member follows: read on
		case err != nil:
			g.err = err
		}
		if n > 0 || len(p) == 0 {
			return n, nil
		}
	}
	return 0, g.err
}

// endMember checks the trailer and starts the next member, if any; io.EOF when none follows.
func (g *GzipReader) endMember() error {
	rest := g.z.rest()
	var t [8]byte
	if _, err := io.ReadFull(rest, t[:]); err != nil {
		return fmt.Errorf("%w: gzip trailer: %w", ErrCorrupt, io.ErrUnexpectedEOF)
	}
	if crc, size := binary.LittleEndian.Uint32(t[:4]), binary.LittleEndian.Uint32(t[4:]); crc != g.crc || size != g.size {
		return fmt.Errorf("%w: gzip member has CRC-32 %08x and length %d, its trailer says %08x and %d", ErrCorrupt, g.crc, g.size, crc, size)
	}
	br := bufio.NewReaderSize(rest, 4096)
	if _, err := br.Peek(1); err == io.EOF {
		return io.EOF
	}
	return g.member(br)
}

// Close does nothing; it lets a GzipReader stand where an io.ReadCloser is expected.
func (g *GzipReader) Close() error { return nil }

// skipGzipHeader reads a member header up to the DEFLATE data.
func skipGzipHeader(br *bufio.Reader) error {
	var h [10]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: gzip header truncated", ErrCorrupt)
		}
		return err
	}
	const fhcrc, fextra, fname, fcomment, reserved = 1 << 1, 1 << 2, 1 << 3, 1 << 4, 0xe0
	switch flags := h[3]; {
	case h[0] != 0x1f || h[1] != 0x8b:
		return fmt.Errorf("%w: not gzip (magic %02x %02x)", ErrCorrupt, h[0], h[1])
	case h[2] != 8:
		return fmt.Errorf("%w: gzip compression method %d", ErrCorrupt, h[2])
	case flags&reserved != 0:
		return fmt.Errorf("%w: gzip header flags %#x", ErrCorrupt, flags)
	default:
		return skipGzipFields(br, flags&fextra != 0, flags&fname != 0, flags&fcomment != 0, flags&fhcrc != 0)
	}
}

// skipGzipFields skips the optional header fields the flags announce.
func skipGzipFields(br *bufio.Reader, extra, name, comment, hcrc bool) error {
	truncated := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: gzip header truncated", ErrCorrupt)
		}
		return err
	}
	if extra {
		var n [2]byte
		if _, err := io.ReadFull(br, n[:]); err != nil {
			return truncated(err)
		}
		if _, err := br.Discard(int(binary.LittleEndian.Uint16(n[:]))); err != nil {
			return truncated(err)
		}
	}
	for _, present := range []bool{name, comment} {
		for present { // a zero-terminated string, read a buffer at a time
			_, err := br.ReadSlice(0)
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return truncated(err)
			}
			present = err != nil
		}
	}
	if hcrc {
		if _, err := br.Discard(2); err != nil {
			return truncated(err)
		}
	}
	return nil
}
