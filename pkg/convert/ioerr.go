package convert

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"syscall"
)

// isIOError reports whether err came from the operating system, the network or a cancelled context.
func isIOError(err error) bool {
	var (
		pathErr *fs.PathError
		errno   syscall.Errno
		netErr  net.Error
	)
	return errors.As(err, &pathErr) || errors.As(err, &errno) || errors.As(err, &netErr) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
