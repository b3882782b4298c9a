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
	"github.com/goldimage/goldimage/pkg/convert/internal/blockmap"
)

// locate maps off to its run, up to the end of its grain (or of its grain table if that is absent).
func (img *Image) locate(off int64) (blockmap.Run, error) {
	grain := off / img.grainBytes
	gdi := grain / img.gtEntries
	if img.gd[gdi] == 0 {
		end := min((gdi+1)*img.gtEntries*img.grainBytes, img.size)
		return blockmap.Run{Zero: true, Length: end - off}, nil
	}
	gt, err := img.gts.get(img, gdi)
	if err != nil {
		return blockmap.Run{}, err
	}
	within := off - grain*img.grainBytes
	r := blockmap.Run{Length: min(img.grainBytes-within, img.size-off), Block: grain}
	e := int64(gt[grain%img.gtEntries])
	switch {
	case e == 0 || (e == 1 && img.zeroed):
		r.Zero = true
	case img.compressed:
		r.Compressed, r.Phys = true, e*sectorSize
	default:
		r.Phys = e*sectorSize + within
		if r.Phys+r.Length > img.fileSize {
			return blockmap.Run{}, fmt.Errorf("vmdk: grain %d at sector %d lies past end of file", grain, e)
		}
	}
	return r, nil
}

// ReadAt reads virtual bytes at off; contiguous raw grains are read with one call.
func (img *Image) ReadAt(p []byte, off int64) (int, error) { return img.m.ReadAt(p, off) }

// readCompressed fills dst with the virtual bytes at off of the compressed grain r.
func (img *Image) readCompressed(dst []byte, r blockmap.Run, off int64) error {
	within := off - r.Block*img.grainBytes
	if within == 0 && int64(len(dst)) == img.grainBytes {
		return img.inflateGrain(dst, r)
	}
	data, err := img.grains.get(r.Block, func(buf []byte) error { return img.inflateGrain(buf, r) })
	if err != nil {
		return err
	}
	copy(dst, data[within:])
	return nil
}

// inflateGrain reads the marker and deflate stream of a grain and decompresses it into buf,
// zero-filling what the stream does not cover.
func (img *Image) inflateGrain(buf []byte, r blockmap.Run) error {
	var m [12]byte
	if _, err := img.ra.ReadAt(m[:], r.Phys); err != nil {
		return fmt.Errorf("vmdk: read marker of grain %d at offset %d: %w", r.Block, r.Phys, err)
	}
	n := int64(binary.LittleEndian.Uint32(m[8:]))
	if n == 0 || n > maxCompressed(img.grainBytes) || r.Phys+12+n > img.fileSize {
		return fmt.Errorf("vmdk: grain %d at offset %d has bad compressed size %d", r.Block, r.Phys, n)
	}
	cbuf := getBuf(int(n))
	defer putBuf(cbuf)
	if _, err := img.ra.ReadAt(cbuf, r.Phys+12); err != nil {
		return fmt.Errorf("vmdk: read grain %d at offset %d: %w", r.Block, r.Phys, err)
	}
	if err := decompress(buf, cbuf); err != nil {
		return fmt.Errorf("vmdk: decompress grain %d at offset %d: %w", r.Block, r.Phys, err)
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
	return img.m.Extent(start, length)
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
