package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/klauspost/compress/gzip"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// ErrNoDisk means a containerDisk layer holds no regular file under disk/.
var ErrNoDisk = errors.New("no disk image file under disk/")

// DiskFile is the disk image file found in a containerDisk layer.
type DiskFile struct {
	Name   string    // entry name, e.g. disk/fedora.qcow2
	Size   int64     // bytes
	Offset int64     // byte offset of the contents in the uncompressed layer
	Reader io.Reader // the contents, valid until the layer reader moves on
}

// FindDisk reads an (optionally gzip- or zstd-compressed) containerDisk layer up to the first regular
// file under disk/ and returns it. Entries escaping the root, links under disk/ and devices are errors.
func FindDisk(layer io.Reader) (*DiskFile, func(), error) {
	r, closeFn, err := Decompress(layer)
	if err != nil {
		return nil, nil, err
	}
	cr := &countingReader{r: r}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			closeFn()
			return nil, nil, Fatal(ErrNoDisk)
		}
		if err != nil {
			closeFn()
			return nil, nil, Fatal(fmt.Errorf("read containerDisk layer: %w", err))
		}
		name, err := cleanEntry(hdr.Name)
		if err != nil {
			closeFn()
			return nil, nil, err
		}
		if !strings.HasPrefix(name, "disk/") {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if isSparse(hdr) {
				closeFn()
				return nil, nil, Fatal(fmt.Errorf("containerDisk entry %s is a sparse tar file, which is not supported", name))
			}
			return &DiskFile{Name: name, Size: hdr.Size, Offset: cr.n, Reader: tr}, closeFn, nil
		case tar.TypeDir:
			continue
		default:
			closeFn()
			return nil, nil, Fatal(fmt.Errorf("containerDisk entry %s is not a regular file (tar type %q)", name, hdr.Typeflag))
		}
	}
}

// isSparse reports whether a PAX header describes a GNU sparse file (its data is not stored contiguously).
func isSparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// cleanEntry normalizes a tar entry name and rejects names that climb out of the image root.
func cleanEntry(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", Fatal(fmt.Errorf("containerDisk entry %q has an absolute path", name))
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", Fatal(fmt.Errorf("containerDisk entry %q escapes the image root", name))
		}
	}
	return strings.TrimPrefix(path.Clean("/"+name), "/"), nil
}

// Decompress returns r decompressed when it starts with a gzip or zstd magic number, else r itself.
func Decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, Fatal(fmt.Errorf("open gzip stream: %w", err))
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<27))
		if err != nil {
			return nil, nil, Fatal(fmt.Errorf("open zstd stream: %w", err))
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
