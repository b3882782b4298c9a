package convert

import (
	"errors"
	"fmt"
	"io"

	"github.com/goldimage/goldimage/pkg/convert/internal/sparse"
	"github.com/goldimage/goldimage/pkg/convert/vhd"
	"github.com/goldimage/goldimage/pkg/convert/vhdx"
	"github.com/goldimage/goldimage/pkg/convert/vmdk"
)

func init() {
	openers[FormatVMDK] = func(ra io.ReaderAt, size int64, _ *options) (Image, error) {
		img, err := vmdk.Open(ra, size)
		return checked(img, err, vmdk.ErrUnsupported)
	}
	openers[FormatVHD] = func(ra io.ReaderAt, size int64, _ *options) (Image, error) {
		img, err := vhd.Open(ra, size)
		return checked(img, err, vhd.ErrUnsupported)
	}
	openers[FormatVHDX] = func(ra io.ReaderAt, size int64, _ *options) (Image, error) {
		var opts []vhdx.Option
		if f := sourceFile(ra); f != nil {
			opts = append(opts, vhdx.WithHoles(func(off int64) (bool, int64) { return sparse.HoleAt(f, off) }))
		}
		img, err := vhdx.Open(ra, size, opts...)
		return checked(img, err, vhdx.ErrUnsupported)
	}
	streamOpeners["vmdk/streamOptimized"] = openVMDKStream
	vhdStream := tableOpener{unsupported: vhd.ErrUnsupported, open: func(ra io.ReaderAt) (tableImage, error) { return vhd.OpenStream(ra) }}
	tableOpeners["vhd/dynamic"] = vhdStream
	tableOpeners["vhd/differencing"] = vhdStream // refused without copying the stream first
	tableOpeners["vhdx/"] = tableOpener{unsupported: vhdx.ErrUnsupported, open: func(ra io.ReaderAt) (tableImage, error) { return vhdx.OpenStream(ra) }}
}

// checked classifies a reader's Open error and wraps a successful image so read errors are classified too.
func checked[T Image](img T, err error, unsupported error) (Image, error) {
	if err != nil {
		return nil, classify(err, unsupported)
	}
	return &checkedImage{Image: img}, nil
}

// classify marks a reader error as ErrUnsupported (the reader's own refusal), leaves I/O errors
// alone and marks anything else ErrCorrupt.
func classify(err, unsupported error) error {
	switch {
	case errors.Is(err, ErrBadInput), isIOError(err):
		return err
	case errors.Is(err, unsupported):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// openVMDKStream reads a streamOptimized VMDK sequentially, without scratch space.
func openVMDKStream(r io.Reader, o *options) (io.Reader, int64, error) {
	s, err := vmdk.NewStreamReader(r)
	if err != nil {
		return nil, 0, classify(err, vmdk.ErrUnsupported)
	}
	if s.Size() > o.maxVirtual {
		_ = s.Close() // stop its decompressing goroutines now, not when the collector finds it
		return nil, 0, fmt.Errorf("%w: vmdk virtual size %d exceeds the limit %d", ErrTooLarge, s.Size(), o.maxVirtual)
	}
	return &classifyingReader{r: s, unsupported: vmdk.ErrUnsupported}, s.Size(), nil
}

// classifyingReader classifies the errors of a format decoder's stream.
type classifyingReader struct {
	r           io.Reader
	unsupported error
}

func (c *classifyingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err != nil && err != io.EOF {
		err = classify(err, c.unsupported)
	}
	return n, err
}
