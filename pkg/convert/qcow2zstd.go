package convert

import (
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
)

// zstdCluster decodes one zstd-compressed cluster. A Read that asks for the whole cluster decodes
// the cached source bytes straight into the caller's buffer; anything else (a partial read, a
// frame without its content size, an error) decodes the cluster as a stream, as qemu does.
type zstdCluster struct {
	r     io.Reader // *io.SectionReader over the compressed cluster
	tried bool
	ended bool
	slow  *fullReader
}

func (z *zstdCluster) Read(p []byte) (int, error) {
	if z.ended {
		return 0, io.EOF
	}
	if !z.tried {
		z.tried = true
		if z.decodeInPlace(p) {
			z.ended = true
			return len(p), nil
		}
	}
	if z.slow == nil {
		slow, err := newZstdStream(z.r)
		if err != nil {
			return 0, err
		}
		z.slow = slow
	}
	return z.slow.Read(p)
}

// decodeInPlace decodes the cluster's frame into p when the frame's content is exactly len(p) bytes.
func (z *zstdCluster) decodeInPlace(p []byte) bool {
	if len(p) == 0 {
		return false
	}
	in, release, ok := viewOf(z.r)
	if !ok {
		return false
	}
	defer release()
	var h zstd.Header
	if h.Decode(in) != nil || !h.HasFCS || h.FrameContentSize != uint64(len(p)) {
		return false
	}
	n, ok := zstdFrameLen(in, h)
	if !ok {
		return false
	}
	d, ok := zstdPool.Get().(*zstd.Decoder)
	if !ok || d == nil {
		return false
	}
	defer zstdPool.Put(d)
	out, err := d.DecodeAll(in[:n], p[:0]) // the rest of the cluster's last sector is not zstd
	return err == nil && len(out) == len(p) && &out[0] == &p[0]
}

// zstdFrameLen walks the block headers of the frame at the start of in and returns its length.
func zstdFrameLen(in []byte, h zstd.Header) (int, bool) {
	off := h.HeaderSize
	for {
		if off+3 > len(in) {
			return 0, false
		}
		bh := int(in[off]) | int(in[off+1])<<8 | int(in[off+2])<<16
		off += 3
		last, typ, size := bh&1 == 1, bh>>1&3, bh>>3
		switch typ {
		case 1: // RLE: one byte repeated size times
			off++
		case 3: // reserved
			return 0, false
		default:
			off += size
		}
		if last {
			break
		}
	}
	if h.HasCheckSum {
		off += 4
	}
	return off, off <= len(in)
}

// newZstdStream decodes a cluster as a stream with a pooled decoder.
func newZstdStream(r io.Reader) (*fullReader, error) {
	d, ok := zstdPool.Get().(*zstd.Decoder)
	if !ok || d == nil {
		return nil, errors.New("create zstd decoder")
	}
	src := newClusterReader(r)
	if err := d.Reset(src.Reader); err != nil {
		zstdPool.Put(d)
		src.release()
		return nil, err
	}
	return &fullReader{r: d, put: func() { _ = d.Reset(nil); zstdPool.Put(d); src.release() }}, nil
}

func (z *zstdCluster) Close() error {
	if z.slow != nil {
		return z.slow.Close()
	}
	return nil
}
