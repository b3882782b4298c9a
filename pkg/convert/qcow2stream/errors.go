package qcow2stream

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt marks a stream whose tables or clusters are inconsistent or truncated.
	ErrCorrupt = errors.New("corrupt qcow2 stream")
	// ErrUnsupported marks a valid qcow2 feature this reader does not handle.
	ErrUnsupported = errors.New("unsupported qcow2 feature")
	// ErrTooLarge marks an image whose virtual size exceeds WithMaxVirtualSize.
	ErrTooLarge = errors.New("qcow2 image too large")
	// ErrNeedScratch marks a stream holding more bytes ahead of their tables than memory and scratch allow.
	ErrNeedScratch = errors.New("qcow2 stream needs scratch space")
)

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
}
