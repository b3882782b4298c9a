// Package imgerr holds the error taxonomy pkg/convert and its sub-packages share: sentinels for
// the kinds of bad input, all matching ErrBadInput, and the test for errors that came from I/O
// rather than from the image. pkg/convert re-exports the sentinels, so errors.Is works with either name.
package imgerr
