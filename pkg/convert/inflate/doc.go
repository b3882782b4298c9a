// Package inflate decodes raw DEFLATE streams (RFC 1951) straight into a caller's buffer of known
// size, as qcow2 compressed clusters need: no sliding window and no copy out of one, since every
// back-reference points into the output itself. A Decoder is reused across streams without
// allocating; it is not safe for concurrent use.
package inflate
