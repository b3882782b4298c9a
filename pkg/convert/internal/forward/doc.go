// Package forward serves io.ReaderAt from a stream that is read once, forward: the tables of a
// VHD or VHDX that come before the blocks they map are read (in any order, from bytes kept in
// memory up to a limit), then the blocks as the stream passes them. A read behind the stream's
// position, or one that would keep more than the limit, fails with ErrNotForward without consuming
// anything, so that Replay can hand every byte to a slower path that needs random access.
package forward
