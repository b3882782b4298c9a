package convert

import (
	"errors"

	"github.com/goldimage/goldimage/pkg/convert/internal/imgerr"
)

// ErrBadInput is matched (errors.Is) by every error caused by the image itself rather than by I/O.
var ErrBadInput = imgerr.ErrBadInput

// Errors for specific kinds of bad input; each also matches ErrBadInput.
var (
	// ErrUnknownFormat means the data matches no supported image format.
	ErrUnknownFormat = imgerr.ErrUnknownFormat
	// ErrUnsupported means a recognized format uses a feature goldimage does not read.
	ErrUnsupported = imgerr.ErrUnsupported
	// ErrBackingFile means the image depends on a backing (parent) file.
	ErrBackingFile = imgerr.ErrBackingFile
	// ErrExternalDataFile means the image keeps its data in an external file.
	ErrExternalDataFile = imgerr.ErrExternalDataFile
	// ErrEncrypted means the image is encrypted.
	ErrEncrypted = imgerr.ErrEncrypted
	// ErrTooLarge means a size limit (virtual size, decompressed size, target size) was exceeded.
	ErrTooLarge = imgerr.ErrTooLarge
	// ErrCorrupt means the image's structures are inconsistent or truncated.
	ErrCorrupt = imgerr.ErrCorrupt
	// ErrNeedScratch means a stream needs random access but no scratch directory was given.
	ErrNeedScratch = errors.New("format needs random access and no scratch directory was given")
)

// IsBadInput reports whether err was caused by the image rather than by I/O.
func IsBadInput(err error) bool { return errors.Is(err, ErrBadInput) }

// corruptf wraps a detail as ErrCorrupt.
func corruptf(format string, args ...any) error { return imgerr.Corruptf(format, args...) }

// isIOError reports whether err came from the operating system, the network or a cancelled context.
func isIOError(err error) bool { return imgerr.IsIOError(err) }
