package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// OpenFile opens a local file (or block device) for random access and streaming.
func OpenFile(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			err = Fatal(err)
		}
		return nil, fmt.Errorf("open source file: %w", err)
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("size of source file %s: %w", path, err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, Fatal(fmt.Errorf("source %s is a directory", path))
	}
	return &Image{
		Name: path, Size: size, At: f,
		open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(f, 0, size)), nil
		},
		close: f.Close,
	}, nil
}
