package importer

import (
	"fmt"
	"net/textproto"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/goldimage/goldimage/pkg/importer/source"
)

// FormatRaw is the only output format: sparse raw, what KubeVirt runs from a PVC. qcow2 output is not
// implemented (pkg/convert.WriteQcow2 exists, but the stream, clone and block-device paths write raw).
const FormatRaw = "raw"

// Config is one import. Source and Dest are required; the zero value of every other field is a sensible default.
type Config struct {
	Source string // docker://, oci-archive:, http(s)://, s3://, file:// or blank: URL
	Dest   string // destination file (created) or block device
	Size   int64  // requested size in bytes; the image is grown to it and must fit in it. 0: the virtual size
	Format string // destination format: FormatRaw, the only one (empty means raw)
	// ScratchDir is where a qcow2 stream holds clusters that arrive before their tables once the 16 MiB
	// in memory are full, and where stream sources of other random-access formats (VHD, VHDX, VMDK
	// other than streamOptimized) are spilled. Empty: a temporary file beside a file Dest (removed
	// afterwards); with a block-device Dest, such imports fail.
	ScratchDir  string
	Checksum    string   // "sha256:<hex>" of the source bytes; empty: not verified
	User        string   // basic-auth user, S3 access key or registry user
	Password    string   // basic-auth password, S3 secret key or registry password
	CertDir     string   // directory of extra CA certificates (PEM)
	InsecureTLS bool     // skip TLS verification of the source
	Platform    string   // "os/arch[/variant]" picking a containerDisk from an image index; empty: linux/this arch
	Headers     []string // extra "Name: value" HTTP headers for http(s) sources
	S3          bool     // treat an http(s) URL as an S3 endpoint (IMPORTER_SOURCE=s3)
	Preallocate bool     // allocate every block of the destination
	// Archive makes Source a tar archive (optionally gz, xz or zstd) unpacked into the existing directory Dest
	// (CDI's contentType archive) instead of a disk image. Links, special files and entries escaping Dest are
	// refused; Size, when set, bounds the unpacked bytes. Default false: a disk image.
	Archive bool
	// FilesystemOverhead is the share of a filesystem target's free space kept for the filesystem, in [0, 1)
	// (CDI's FILESYSTEM_OVERHEAD; the importer command defaults to 0.055): the disk may use
	// min(Size, free*(1-overhead)). 0: the image may fill all free space. Block devices ignore it.
	FilesystemOverhead float64
	// DirectIO writes images converted from a random-access format (qcow2, VMDK, VHD(X), raw files read in
	// place) with O_DIRECT, keeping them out of the node's page cache; raw streams are written buffered.
	// Default off: some filesystems refuse O_DIRECT, and the final fsync makes the image durable either way.
	DirectIO bool
	// NoDiscard makes a block-device target get written zeros over its non-zero blocks where the image has
	// zeros. Default (false): zero ranges are discarded with fallocate punch-hole, which the kernel only
	// completes when the range then reads back as zeros, so thin storage stays thin and the device is not
	// read; a device that cannot do it gets zeros written. Files ignore it: their zero ranges are holes.
	NoDiscard  bool
	Progress   func(done, total int64) // called with bytes of virtual size done; total is -1 while unknown
	Log        func(string)            // receives one line per decision worth telling (a stream spilling and why); nil: none
	SourceOpts []source.Option         // extra options for the source layer (tests: retries, transport)
}

// validate checks the configuration without touching the network or disk.
func (c *Config) validate() error {
	switch {
	case c.Source == "":
		return Usagef("no source: give --source URL")
	case c.Dest == "":
		return Usagef("no destination: give --dest PATH")
	case c.Size < 0:
		return Usagef("size %d is negative", c.Size)
	case c.Format != "" && c.Format != FormatRaw:
		return Usagef("format %q is not supported: the importer writes raw only", c.Format)
	case !(c.FilesystemOverhead >= 0 && c.FilesystemOverhead < 1):
		return Usagef("filesystem overhead %v is not a fraction in [0, 1)", c.FilesystemOverhead)
	case c.Archive && (strings.HasPrefix(c.Source, "blank:") || isClone(c.Source)):
		return Usagef("contentType archive needs an http(s), s3, file or registry source")
	case strings.HasPrefix(c.Source, "blank:") && c.Size == 0:
		return Usagef("a blank: disk needs --size")
	}
	if c.Platform != "" {
		if _, err := v1.ParsePlatform(c.Platform); err != nil || strings.Count(c.Platform, "/") < 1 {
			return Usagef("platform %q: want os/arch[/variant]", c.Platform)
		}
	}
	if c.Checksum != "" {
		if _, err := parseChecksum(c.Checksum); err != nil {
			return err
		}
	}
	for _, h := range c.Headers {
		if _, _, err := parseHeader(h); err != nil {
			return err
		}
	}
	return nil
}

// parseHeader splits "Name: value"; the name must be an HTTP token and the value free of control characters.
func parseHeader(h string) (string, string, error) {
	name, value, ok := strings.Cut(h, ":")
	name, value = strings.TrimSpace(name), strings.Trim(value, " \t")
	if !ok || name == "" || strings.IndexFunc(name, notTokenChar) >= 0 || strings.IndexFunc(value, controlChar) >= 0 {
		return "", "", Usagef("header %q is not \"Name: value\"", h)
	}
	return textproto.CanonicalMIMEHeaderKey(name), value, nil
}

// notTokenChar reports whether r may not appear in an HTTP header name (RFC 9110 token).
func notTokenChar(r rune) bool {
	return r >= 0x7f || r <= ' ' || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r)
}

// controlChar reports whether r is a control character other than tab, which may not appear in a header value.
func controlChar(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }

// sourceOptions turns the configuration into options of the source layer.
func (c *Config) sourceOptions() []source.Option {
	opts := []source.Option{source.WithBasicAuth(c.User, c.Password), source.WithInsecureTLS(c.InsecureTLS), source.WithS3(c.S3)}
	if c.CertDir != "" {
		opts = append(opts, source.WithCADir(c.CertDir))
	}
	if c.Platform != "" {
		opts = append(opts, source.WithPlatform(c.Platform))
	}
	for _, h := range c.Headers {
		name, value, _ := parseHeader(h)
		opts = append(opts, source.WithHeader(name, value))
	}
	return append(opts, c.SourceOpts...)
}

// String describes the import for logs, without credentials.
func (c *Config) String() string {
	return fmt.Sprintf("%s -> %s", source.RedactURL(c.Source), c.Dest)
}
