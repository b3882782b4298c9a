package convert

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/goldimage/goldimage/pkg/convert/internal/forward"
)

// tableImage is a disk whose block tables were read from a forward stream (dynamic VHD, VHDX).
type tableImage interface {
	io.ReaderAt
	Size() int64
	// InFileOrder returns nil when reading the disk in order reads the file forward from offset from.
	InFileOrder(from int64) error
}

// tableOpener opens a tableImage from a forward reader; unsupported is the format's refusal error.
type tableOpener struct {
	open        func(ra io.ReaderAt) (tableImage, error)
	unsupported error
}

// tableOpeners maps "format/subformat" to formats whose tables precede the blocks they map;
// readers.go fills it.
var tableOpeners = map[string]tableOpener{}

// tableKeepLimit bounds the bytes kept while the tables are read: they may come in any order
// within the first tableKeepLimit bytes of the stream.
const tableKeepLimit = 32 << 20

// streamTables converts a VHD or VHDX stream in one pass when its tables come first and its blocks
// follow the disk's order, as qemu-img and Hyper-V write them: the tables are read from bytes kept
// in memory, then the disk in order as the stream passes its blocks. Any other layout is copied to
// scratch and converted from there, with a log line saying why.
func streamTables(ctx context.Context, src io.Reader, path string, o *options, res Result, t tableOpener) (Result, error) {
	fr := forward.New(src, tableKeepLimit)
	img, err := t.open(fr)
	if err == nil {
		err = img.InFileOrder(fr.Pos())
		if err != nil {
			err = fmt.Errorf("%w: %w", forward.ErrNotForward, err)
		}
	}
	if errors.Is(err, forward.ErrNotForward) {
		replay, rerr := fr.Replay()
		if rerr != nil {
			return res, rerr
		}
		o.logf("%s stream cannot be converted in one pass (%v); copying it to scratch first", res.Format, err)
		return spill(ctx, replay, path, o, res)
	}
	if err != nil {
		return res, fmt.Errorf("open %s stream: %w", res.Format, classify(err, t.unsupported))
	}
	fr.StopKeeping()
	if img.Size() > o.maxVirtual {
		return res, fmt.Errorf("%w: %s virtual size %d exceeds the limit %d", ErrTooLarge, res.Format, img.Size(), o.maxVirtual)
	}
	if o.sizeCheck != nil {
		if err := o.sizeCheck(img.Size()); err != nil {
			return res, err
		}
	}
	disk := &classifyingReader{r: io.NewSectionReader(img, 0, img.Size()), unsupported: t.unsupported}
	return streamRaw(ctx, &drainAtEnd{r: disk, rest: src, format: res.Format}, path, o, res)
}

// drainAtEnd reads r, then, before reporting its end, the rest of the stream after the disk's
// last block (a VHD's footer, a VHDX's trailing metadata), so that a compression wrapper checks its
// checksum and size limit.
type drainAtEnd struct {
	r, rest io.Reader
	format  Format
}

func (d *drainAtEnd) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == io.EOF && d.rest != nil {
		if _, derr := io.Copy(io.Discard, d.rest); derr != nil {
			return n, fmt.Errorf("read the rest of the %s stream: %w", d.format, derr)
		}
		d.rest = nil
	}
	return n, err
}
