package vhdx

import "fmt"

// DefaultMaxSize is the largest virtual size Open accepts unless WithMaxSize says otherwise (16 TiB).
const DefaultMaxSize int64 = 16 << 40

// DefaultMaxTableBytes is the largest block allocation table Open loads unless WithMaxTableBytes says otherwise (64 MiB).
const DefaultMaxTableBytes int64 = 64 << 20

// Option changes how Open reads an image.
type Option func(*config)

type config struct {
	maxSize       int64
	maxTableBytes int64
	holes         HoleFunc
}

// HoleFunc reports whether the source bytes at off lie in a hole of a sparse file (they read as
// zeros without being stored) and for how many bytes from off that stays so; n <= 0 means unknown.
type HoleFunc func(off int64) (hole bool, n int64)

// WithHoles makes Extent report holes of the source inside present blocks as Zero, so callers need
// not read them (qemu-img leaves the unwritten parts of its blocks as file holes). Default none:
// present blocks are data.
func WithHoles(fn HoleFunc) Option { return func(c *config) { c.holes = fn } }

// WithMaxSize refuses images whose virtual size exceeds n bytes. Default DefaultMaxSize (16 TiB).
func WithMaxSize(n int64) Option { return func(c *config) { c.maxSize = n } }

// WithMaxTableBytes refuses images whose block allocation table exceeds n bytes (the table is
// held in memory). Default DefaultMaxTableBytes (64 MiB).
func WithMaxTableBytes(n int64) Option { return func(c *config) { c.maxTableBytes = n } }

func newConfig(opts []Option) config {
	c := config{maxSize: DefaultMaxSize, maxTableBytes: DefaultMaxTableBytes}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func (c config) checkSize(size int64) error {
	if size > c.maxSize {
		return fmt.Errorf("vhdx: virtual size %d bytes exceeds the limit of %d bytes: %w", size, c.maxSize, ErrUnsupported)
	}
	return nil
}
