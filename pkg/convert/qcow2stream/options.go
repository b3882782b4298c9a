package qcow2stream

import "runtime"

// Option configures NewReader.
type Option func(*config)

type config struct {
	maxVirtual int64
	memLimit   int64
	scratchDir string
	maxScratch int64
	workers    int
	log        func(string)
}

func newConfig(opts []Option) *config {
	c := &config{maxVirtual: 16 << 40, memLimit: 16 << 20, workers: runtime.GOMAXPROCS(0), maxScratch: -1}
	for _, o := range opts {
		o(c)
	}
	c.workers = max(c.workers, 1)
	return c
}

// WithMaxVirtualSize refuses images whose virtual size exceeds n bytes (ErrTooLarge). Default 16 TiB.
func WithMaxVirtualSize(n int64) Option { return func(c *config) { c.maxVirtual = n } }

// WithMemoryLimit bounds the bytes held in memory because they arrived before the table that maps
// them. Default 16 MiB; past it they go to WithScratchDir.
func WithMemoryLimit(n int64) Option { return func(c *config) { c.memLimit = n } }

// WithScratchDir lets held bytes past the memory limit go to a temporary file in dir, removed by
// Close. Default "": the Reader fails with ErrNeedScratch instead.
func WithScratchDir(dir string) Option { return func(c *config) { c.scratchDir = dir } }

// WithMaxScratch bounds the bytes written to the scratch file (ErrNeedScratch past it). Default: no bound
// but the virtual size limit.
func WithMaxScratch(n int64) Option { return func(c *config) { c.maxScratch = n } }

// WithWorkers sets how many goroutines decompress clusters. Default runtime.GOMAXPROCS(0).
func WithWorkers(n int) Option { return func(c *config) { c.workers = n } }

// WithLog receives one line when held bytes first go to the scratch file, saying why. Default: none.
func WithLog(fn func(string)) Option { return func(c *config) { c.log = fn } }
