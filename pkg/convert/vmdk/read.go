package vmdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"sync"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/inflate"
)

type kind uint8

const (
	kindZero       kind = iota // unallocated or zeroed grain: reads as zeros
	kindData                   // raw grain data at phys
	kindCompressed             // deflate grain with marker at phys
)

// run is the mapping of a virtual range starting at some offset, up to a grain or table boundary.
type run struct {
	kind   kind
	length int64
	phys   int64 // file offset of the first byte (kindData) or of the grain marker (kindCompressed)
	grain  int64
}

func (img *Image) locate(off int64) (run, error) {
	grain := off / img.grainBytes
	gdi := grain / img.gtEntries
	if img.gd[gdi] == 0 {
		end := min((gdi+1)*img.gtEntries*img.grainBytes, img.size)
		return run{kind: kindZero, length: end - off}, nil
	}
	gt, err := img.gts.get(img, gdi)
	if err != nil {
		return run{}, err
	}
	within := off - grain*img.grainBytes
	r := run{length: min(img.grainBytes-within, img.size-off), grain: grain}
	e := int64(gt[grain%img.gtEntries])
	switch {
	case e == 0 || (e == 1 && img.zeroed):
		r.kind = kindZero
	case img.compressed:
		r.kind, r.phys = kindCompressed, e*sectorSize
	default:
		r.kind, r.phys = kindData, e*sectorSize+within
		if r.phys+r.length > img.fileSize {
			return run{}, fmt.Errorf("vmdk: grain %d at sector %d lies past end of file", grain, e)
		}
	}
	return r, nil
}

// ReadAt reads virtual bytes at off; contiguous raw grains are read with one call.
func (img *Image) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("vmdk: negative offset %d", off)
	}
	if off >= img.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), img.size-off))
	var pend pending
	for done := 0; done < n; {
		r, err := img.locate(off + int64(done))
		if err != nil {
			return done, err
		}
		l := int(min(r.length, int64(n-done)))
		dst := p[done : done+l]
		if r.kind != kindData || !pend.extend(dst, r.phys) {
			if err := pend.flush(img.ra); err != nil {
				return done, err
			}
		}
		switch r.kind {
		case kindZero:
			clear(dst)
		case kindData:
			if pend.p == nil {
				pend = pending{p: dst, phys: r.phys}
			}
		case kindCompressed:
			if err := img.readCompressed(dst, r, off+int64(done)); err != nil {
				return done, err
			}
		}
		done += l
	}
	if err := pend.flush(img.ra); err != nil {
		return 0, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// pending coalesces reads of physically contiguous grains into one ReadAt.
type pending struct {
	p    []byte
	phys int64
}

// extend appends dst, which directly follows q.p in the caller's buffer, if phys continues q's range.
func (q *pending) extend(dst []byte, phys int64) bool {
	if q.p == nil || phys != q.phys+int64(len(q.p)) {
		return false
	}
	q.p = q.p[:len(q.p)+len(dst)]
	return true
}

func (q *pending) flush(ra io.ReaderAt) error {
	if q.p == nil {
		return nil
	}
	_, err := ra.ReadAt(q.p, q.phys)
	q.p = nil
	if err != nil {
		return fmt.Errorf("vmdk: read grain data at offset %d: %w", q.phys, err)
	}
	return nil
}

func (img *Image) readCompressed(dst []byte, r run, off int64) error {
	within := off - r.grain*img.grainBytes
	if within == 0 && int64(len(dst)) == img.grainBytes {
		return img.inflateGrain(dst, r)
	}
	data, err := img.grains.get(r.grain, func(buf []byte) error { return img.inflateGrain(buf, r) })
	if err != nil {
		return err
	}
	copy(dst, data[within:])
	return nil
}

// inflateGrain reads the marker and deflate stream of a grain and decompresses it into buf,
// zero-filling what the stream does not cover.
func (img *Image) inflateGrain(buf []byte, r run) error {
	var m [12]byte
	if _, err := img.ra.ReadAt(m[:], r.phys); err != nil {
		return fmt.Errorf("vmdk: read marker of grain %d at offset %d: %w", r.grain, r.phys, err)
	}
	n := int64(binary.LittleEndian.Uint32(m[8:]))
	if n == 0 || n > maxCompressed(img.grainBytes) || r.phys+12+n > img.fileSize {
		return fmt.Errorf("vmdk: grain %d at offset %d has bad compressed size %d", r.grain, r.phys, n)
	}
	cbuf := getBuf(int(n))
	defer putBuf(cbuf)
	if _, err := img.ra.ReadAt(cbuf, r.phys+12); err != nil {
		return fmt.Errorf("vmdk: read grain %d at offset %d: %w", r.grain, r.phys, err)
	}
	if err := decompress(buf, cbuf); err != nil {
		return fmt.Errorf("vmdk: decompress grain %d at offset %d: %w", r.grain, r.phys, err)
	}
	return nil
}

func maxCompressed(grainBytes int64) int64 { return 2*grainBytes + 4096 }

var decoders = sync.Pool{New: func() any { return new(inflate.Decoder) }}

// decompress inflates the zlib stream src (RFC 1950) into dst and zero-fills what it leaves. A
// stream that ends within dst must be followed by its matching Adler-32 checksum; one that runs
// past dst (a grain cut off by the end of the disk) is read only as far as dst.
func decompress(dst, src []byte) error {
	if len(src) < 2 || src[0]&0x0f != 8 || src[0]>>4 > 7 || src[1]&0x20 != 0 || (uint(src[0])<<8|uint(src[1]))%31 != 0 {
		return errors.New("not a zlib stream of deflate data without preset dictionary")
	}
	d := decoders.Get().(*inflate.Decoder)
	defer decoders.Put(d)
	n, err := d.DecodeBytes(dst, src[2:])
	if err != nil && err != io.EOF {
		return err
	}
	if ended, used := d.Ended(); ended {
		sum := src[2+used:]
		if len(sum) < 4 {
			return errors.New("zlib stream ends without its checksum")
		}
		if want, got := binary.BigEndian.Uint32(sum), adler32.Checksum(dst[:n]); got != want {
			return fmt.Errorf("zlib checksum %#08x, data sums to %#08x", want, got)
		}
	}
	clear(dst[n:])
	return nil
}

var bufPool sync.Pool

func getBuf(n int) []byte {
	if v, ok := bufPool.Get().(*[]byte); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]byte, n)
}

func putBuf(b []byte) { bufPool.Put(&b) }

// Extent returns the longest run starting at start, at most length bytes, whose grains share
// one status: unallocated and zeroed grains report Zero, stored grains Allocated (and Compressed).
func (img *Image) Extent(start, length int64) (image.Extent, error) {
	ext := image.Extent{Start: start}
	if start < 0 || length < 0 || start > img.size-length {
		return ext, fmt.Errorf("vmdk: extent [%d, +%d) out of bounds of virtual size %d", start, length, img.size)
	}
	for first := true; ext.Length < length; first = false {
		r, err := img.locate(start + ext.Length)
		if err != nil {
			return ext, err
		}
		zero, compressed := r.kind == kindZero, r.kind == kindCompressed
		if first {
			ext.Zero, ext.Allocated, ext.Compressed = zero, !zero, compressed
		} else if ext.Zero != zero || ext.Compressed != compressed {
			break
		}
		ext.Length += min(r.length, length-ext.Length)
	}
	return ext, nil
}

var grainPool sync.Pool

// getGrain returns a buffer of n bytes for a decompressed grain.
func getGrain(n int) []byte {
	if v, ok := grainPool.Get().(*[]byte); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]byte, n)
}

func putGrain(b []byte) {
	if b != nil {
		grainPool.Put(&b)
	}
}
