package convert

import (
	"fmt"
	"runtime"
)

// DefaultMaxVirtualSize is the virtual-size limit when WithMaxVirtualSize is not given (16 TiB).
const DefaultMaxVirtualSize = 16 << 40

// Option configures Open, WriteRaw, WriteRawFromStream and WriteQcow2; each ignores options it has no use for.
type Option func(*options)

type options struct {
	maxVirtual  int64
	maxDecomp   int64
	scratchDir  string
	workers     int
	directIO    bool
	sync        bool
	discard     bool
	progress    func(done, total int64)
	compression QcowCompression
	clusterBits uint
	forceBlock  bool // tests: treat a regular file as a block device
	chunkSize   int64
	sizeCheck   func(virtual int64) error
	log         func(string)
}

func newOptions(opts []Option) *options {
	o := &options{
		maxVirtual:  DefaultMaxVirtualSize,
		workers:     runtime.NumCPU(),
		sync:        true,
		clusterBits: 16,
		chunkSize:   4 << 20,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.workers < 1 {
		o.workers = 1
	}
	return o
}

// decompressLimit is the output limit for compression wrappers.
func (o *options) decompressLimit() int64 {
	if o.maxDecomp > 0 {
		return o.maxDecomp
	}
	return o.maxVirtual + o.maxVirtual/8 + 64<<20
}

// WithMaxVirtualSize refuses images whose virtual size exceeds n bytes with ErrTooLarge.
// Default DefaultMaxVirtualSize (16 TiB); importers should pass the target's capacity.
func WithMaxVirtualSize(n int64) Option { return func(o *options) { o.maxVirtual = n } }

// WithMaxDecompressedSize caps what a compression wrapper may produce (ErrTooLarge past it).
// Default: the virtual-size limit plus 1/8 for metadata plus 64 MiB.
func WithMaxDecompressedSize(n int64) Option { return func(o *options) { o.maxDecomp = n } }

// WithScratchDir lets WriteRawFromStream spill formats that need random access to a temporary file in dir.
// Default "": such streams fail with ErrNeedScratch.
func WithScratchDir(dir string) Option { return func(o *options) { o.scratchDir = dir } }

// WithWorkers sets how many goroutines read, compress and write in parallel. Default runtime.NumCPU().
func WithWorkers(n int) Option { return func(o *options) { o.workers = n } }

// WithDirectIO writes the target with O_DIRECT (bypassing the page cache). Default false.
func WithDirectIO(on bool) Option { return func(o *options) { o.directIO = on } }

// WithSync makes writers fsync the target before returning. Default true.
func WithSync(on bool) Option { return func(o *options) { o.sync = on } }

// WithDiscard deallocates zero ranges of a block-device target (fallocate punch-hole, which reads back
// as zeros) instead of comparing them and writing zeros where the device is not already zero. Default false.
func WithDiscard(on bool) Option { return func(o *options) { o.discard = on } }

// WithProgress calls fn(done, total) in bytes of virtual size as the copy advances (total is -1
// while a raw stream's length is unknown); calls are serialized and fn must be quick. Default none.
func WithProgress(fn func(done, total int64)) Option { return func(o *options) { o.progress = fn } }

// WithQcow2Compression compresses the clusters WriteQcow2 writes. Default QcowUncompressed.
func WithQcow2Compression(c QcowCompression) Option { return func(o *options) { o.compression = c } }

// WithQcow2ClusterBits sets WriteQcow2's cluster size to 1<<bits (9..21). Default 16 (64 KiB).
func WithQcow2ClusterBits(bits uint) Option { return func(o *options) { o.clusterBits = bits } }

// WithSizeCheck calls fn with the virtual size of a streamed image once its header is read, before
// the target is opened; an error from fn ends the conversion. Default none.
func WithSizeCheck(fn func(virtual int64) error) Option { return func(o *options) { o.sizeCheck = fn } }

// WithLog receives one line for each decision worth telling an operator, such as a stream spilling
// to the scratch directory and why. Default none.
func WithLog(fn func(string)) Option { return func(o *options) { o.log = fn } }

// logf sends one line to the WithLog function, if any.
func (o *options) logf(format string, args ...any) {
	if o.log != nil {
		o.log(fmt.Sprintf(format, args...))
	}
}
