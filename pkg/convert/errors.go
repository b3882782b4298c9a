package convert

import (
	"errors"
	"fmt"
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
	// ErrNeedScratch means a stream needs random access but no scratch directory was given.
	ErrNeedScratch = errors.New("format needs random access and no scratch directory was given")
)

// badInputError is a sentinel that also matches ErrBadInput.
type badInputError struct{ msg string }

func badInput(msg string) error { return &badInputError{msg: msg} }

func (e *badInputError) Error() string { return e.msg }

func (e *badInputError) Is(target error) bool { return target == ErrBadInput }

// IsBadInput reports whether err was caused by the image rather than by I/O.
func IsBadInput(err error) bool { return errors.Is(err, ErrBadInput) }

// corruptf wraps a detail as ErrCorrupt.
func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
