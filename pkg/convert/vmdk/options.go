package vmdk

import (
	"fmt"
	"runtime"
)

// DefaultMaxSize is the largest virtual size Open accepts unless WithMaxSize says otherwise (16 TiB).
const DefaultMaxSize int64 = 16 << 40

// DefaultMaxTableBytes is the largest grain directory Open loads unless WithMaxTableBytes says otherwise (64 MiB).
const DefaultMaxTableBytes int64 = 64 << 20

// Option changes how Open and NewStreamReader read an image.
type Option func(*config)

type config struct {
	maxSize       int64
	maxTableBytes int64
	workers       int
}

// WithMaxSize refuses images whose virtual size exceeds n bytes. Default DefaultMaxSize (16 TiB).
func WithMaxSize(n int64) Option { return func(c *config) { c.maxSize = n } }

// WithMaxTableBytes refuses images whose grain directory exceeds n bytes; grain tables are
// cached in a bounded cache whatever the image size. Default DefaultMaxTableBytes (64 MiB).
func WithMaxTableBytes(n int64) Option { return func(c *config) { c.maxTableBytes = n } }

// WithWorkers sets how many goroutines of a StreamReader decompress grains ahead of Read.
// Default runtime.GOMAXPROCS(0); values below 1 mean 1.
func WithWorkers(n int) Option { return func(c *config) { c.workers = max(1, n) } }

func newConfig(opts []Option) config {
	c := config{maxSize: DefaultMaxSize, maxTableBytes: DefaultMaxTableBytes, workers: runtime.GOMAXPROCS(0)}
	for _, o := range opts {
		o(&c)
	}
	return c
}

func (c config) checkSize(size int64) error {
	if size > c.maxSize {
		return fmt.Errorf("vmdk: virtual size %d bytes exceeds the limit of %d bytes: %w", size, c.maxSize, ErrUnsupported)
	}
	return nil
}
