// Package inflate decodes raw DEFLATE streams (RFC 1951). A Decoder writes one stream straight into
// a caller's buffer of known size, as qcow2 compressed clusters need: no sliding window and no copy
// out of one, since every back-reference points into the output itself; it is reused across streams
// without allocating. A Reader decodes a stream of any length through a 32 KiB window, and a
// GzipReader reads gzip members (RFC 1952) around such streams, checking their CRC-32 and length.
// None of them is safe for concurrent use.
package inflate
