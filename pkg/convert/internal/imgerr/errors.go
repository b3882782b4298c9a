package imgerr

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"syscall"
)

// ErrBadInput is matched (errors.Is) by every error caused by the image itself rather than by I/O.
var ErrBadInput = errors.New("bad input image")

// Errors for specific kinds of bad input; each also matches ErrBadInput.
var (
	// ErrUnknownFormat means the data matches no supported image format.
	ErrUnknownFormat = badInput("unknown image format")
	// ErrUnsupported means a recognized format uses a feature goldimage does not read.
	ErrUnsupported = badInput("unsupported image feature")
	// ErrBackingFile means the image depends on a backing (parent) file.
	ErrBackingFile = badInput("image has a backing file")
	// ErrExternalDataFile means the image keeps its data in an external file.
	ErrExternalDataFile = badInput("image has an external data file")
	// ErrEncrypted means the image is encrypted.
	ErrEncrypted = badInput("image is encrypted")
	// ErrTooLarge means a size limit (virtual size, decompressed size, target size) was exceeded.
	ErrTooLarge = badInput("image too large")
	// ErrCorrupt means the image's structures are inconsistent or truncated.
	ErrCorrupt = badInput("image is corrupt")
)

// badInputError is a sentinel that also matches ErrBadInput.
type badInputError struct{ msg string }

func badInput(msg string) error { return &badInputError{msg: msg} }

func (e *badInputError) Error() string { return e.msg }

func (e *badInputError) Is(target error) bool { return target == ErrBadInput }

// Corruptf wraps a detail as ErrCorrupt.
func Corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}

// IsIOError reports whether err came from the operating system, the network or a cancelled context.
func IsIOError(err error) bool {
	var (
		pathErr *fs.PathError
		errno   syscall.Errno
		netErr  net.Error
	)
	return errors.As(err, &pathErr) || errors.As(err, &errno) || errors.As(err, &netErr) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
