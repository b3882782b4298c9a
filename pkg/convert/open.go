package convert

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lima-vm/go-qcow2reader/image"

	"github.com/goldimage/goldimage/pkg/convert/internal/sparse"
)

// Image is a random-access view of a disk image's virtual contents (go-qcow2reader's interface,
// which the VMDK, VHD and VHDX readers implement too).
type Image = image.Image

// formatOpener opens one format from a random-access source of the given size.
type formatOpener func(ra io.ReaderAt, size int64, o *options) (Image, error)

// openers maps formats to readers; readers.go adds the VMDK, VHD and VHDX packages. A fixed VHD
// is opened as raw without its footer.
var openers = map[Format]formatOpener{
	FormatRaw:   openRaw,
	FormatISO:   openRaw,
	FormatQcow2: openQcow2,
}

// Open detects the format of the size-byte source ra and opens it. Compressed sources are refused
// (use WriteRawFromStream); the image's virtual size must not exceed WithMaxVirtualSize.
func Open(ra io.ReaderAt, size int64, opts ...Option) (Image, Detection, error) {
	o := newOptions(opts)
	return openDetected(ra, size, o)
}

func openDetected(ra io.ReaderAt, size int64, o *options) (Image, Detection, error) {
	det, err := detectAt(ra, size)
	if err != nil {
		return nil, det, err
	}
	if det.Compression != CompressionNone {
		return nil, det, fmt.Errorf("%w: random-access source is %s-compressed; stream it instead", ErrUnsupported, det.Compression)
	}
	if det.Format == FormatVMDK && det.Subformat == "descriptor" {
		return nil, det, fmt.Errorf("%w: VMDK descriptor references external extent files; upload the flat extent as raw", ErrUnsupported)
	}
	if det.Format == FormatVHD && det.Subformat == "fixed" {
		return openRawSized(ra, size-512, o, det)
	}
	open := openers[det.Format]
	if open == nil {
		return nil, det, fmt.Errorf("%w: no reader for %s in this build", ErrUnsupported, det.Format)
	}
	src := ra
	if det.Format != FormatRaw && det.Format != FormatISO { // raw keeps its *os.File for SEEK_DATA
		src = newBlockCache(ra, size, 4*o.workers)
	}
	img, err := open(src, size, o)
	if err != nil {
		return nil, det, fmt.Errorf("open %s image: %w", det.Format, err)
	}
	if img.Size() > o.maxVirtual {
		_ = img.Close()
		return nil, det, fmt.Errorf("%w: %s virtual size %d exceeds the limit %d", ErrTooLarge, det.Format, img.Size(), o.maxVirtual)
	}
	return img, det, nil
}

// detectAt reads the header (and, for fixed VHD, the footer) of a random-access source.
func detectAt(ra io.ReaderAt, size int64) (Detection, error) {
	h := make([]byte, min(size, HeaderLen))
	if _, err := ra.ReadAt(h, 0); err != nil && !errors.Is(err, io.EOF) {
		return Detection{}, fmt.Errorf("read image header: %w", err)
	}
	det := Detect(h)
	if det.Format == FormatRaw && size >= 512 {
		foot := make([]byte, 512)
		if _, err := ra.ReadAt(foot, size-512); err != nil && !errors.Is(err, io.EOF) {
			return det, fmt.Errorf("read image footer: %w", err)
		}
		if IsVHDFooter(foot, size-512) {
			det = Detection{Format: FormatVHD, Subformat: "fixed"}
		}
	}
	return det, nil
}

func openRaw(ra io.ReaderAt, size int64, o *options) (Image, error) {
	img, _, err := openRawSized(ra, size, o, Detection{Format: FormatRaw})
	return img, err
}

func openRawSized(ra io.ReaderAt, size int64, o *options, det Detection) (Image, Detection, error) {
	if size > o.maxVirtual {
		return nil, det, fmt.Errorf("%w: %s image of %d bytes exceeds the limit %d", ErrTooLarge, det.Format, size, o.maxVirtual)
	}
	f, _ := ra.(*os.File)
	return &rawImage{ra: ra, size: size, file: f}, det, nil
}

// rawImage is a raw image of known size; on a file it finds holes with SEEK_DATA/SEEK_HOLE.
type rawImage struct {
	ra   io.ReaderAt
	size int64
	file *os.File
}

func (r *rawImage) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	if rest := r.size - off; int64(len(p)) > rest {
		n, err := r.ra.ReadAt(p[:rest], off)
		if err == nil {
			err = io.EOF
		}
		return n, err
	}
	return r.ra.ReadAt(p, off)
}

// Close does not close the underlying source, which belongs to the caller.
func (r *rawImage) Close() error { return nil }

func (r *rawImage) Type() image.Type { return "raw" }

func (r *rawImage) Size() int64 { return r.size }

func (r *rawImage) Readable() error { return nil }

// Extent reports data or a hole starting at start, using SEEK_DATA/SEEK_HOLE when the source is a file.
func (r *rawImage) Extent(start, length int64) (image.Extent, error) {
	if start < 0 || length <= 0 || start+length > r.size {
		return image.Extent{}, fmt.Errorf("extent %d+%d out of bounds of %d", start, length, r.size)
	}
	data := image.Extent{Start: start, Length: length, Allocated: true}
	if r.file == nil {
		return data, nil
	}
	hole, n := sparse.HoleAt(r.file, start)
	if n <= 0 { // no hole support: report data, the writer still skips zero blocks
		return data, nil
	}
	return image.Extent{Start: start, Length: min(length, n), Zero: hole, Allocated: !hole}, nil
}
