package contract

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Environment variables the controller sets on importer pods (CDI's names where CDI has one).
const (
	EnvEndpoint      = "IMPORTER_ENDPOINT"      // source URL: docker://, http(s)://, s3://, file://, blank:
	EnvSource        = "IMPORTER_SOURCE"        // registry, http, s3, blank, file
	EnvContentType   = "IMPORTER_CONTENTTYPE"   // kubevirt (disk image) or archive (a tar unpacked into IMPORTER_DESTINATION, a directory)
	EnvImageSize     = "IMPORTER_IMAGE_SIZE"    // requested size of the target, a resource.Quantity string
	EnvAccessKeyID   = "IMPORTER_ACCESS_KEY_ID" // user name or S3 access key, from the source secret
	EnvSecretKey     = "IMPORTER_SECRET_KEY"    // password or S3 secret key, from the source secret
	EnvCertDir       = "IMPORTER_CERT_DIR"      // directory holding extra CA certificates
	EnvInsecureTLS   = "INSECURE_TLS"           // "true" skips TLS verification for the source
	EnvChecksum      = "IMPORTER_CHECKSUM"      // optional "sha256:<hex>" of the source bytes
	EnvDestination   = "IMPORTER_DESTINATION"   // target path: a file on a filesystem PVC or a block device
	EnvScratchDir    = "IMPORTER_SCRATCH_DIR"   // optional scratch directory for formats that need random access
	EnvPreallocation = "IMPORTER_PREALLOCATION" // "true" writes every block of the target
	EnvDiskID        = "IMPORTER_DISK_ID"       // identifier used in logs and metrics, usually the DataVolume UID
	EnvPullMethod    = "IMPORTER_PULL_METHOD"   // pod (the importer pulls from the registry) or node (the pod runs the containerDisk image; the disk is read from NodePullDiskDir)
	EnvPlatformOS    = "IMPORTER_PLATFORM_OS"   // image index platform selection, default linux
	EnvPlatformArch  = "IMPORTER_PLATFORM_ARCH" // image index platform selection, default the pod's architecture
	// EnvFilesystemOverhead is the share of a filesystem target's free space kept for the filesystem, a decimal
	// in [0, 1) such as "0.055" (CDI's FILESYSTEM_OVERHEAD); the image may use the rest. Unset: DefaultFilesystemOverhead.
	EnvFilesystemOverhead = "IMPORTER_FILESYSTEM_OVERHEAD"
	EnvDirectIO           = "IMPORTER_DIRECT_IO" // "true" writes converted images with O_DIRECT; default false (goldimage's own)
	EnvDiscard            = "IMPORTER_DISCARD"   // "false" writes zeros instead of discarding zero ranges of a block device; default true (goldimage's own)

	EnvExtraHeaderPrefix = "IMPORTER_EXTRA_HEADER_" // _0, _1, ...: extra "Name: value" HTTP headers (CDI's names)
)

// DefaultFilesystemOverhead is CDI's default filesystem overhead (5.5%), used when neither the
// DataVolume nor the cluster configuration gives one.
const DefaultFilesystemOverhead = "0.055"

// MaxScratchBytes is the largest scratch file the importer spills for a target of size bytes: the
// image's data plus an eighth and 64 MiB for its format's metadata. The importer refuses a larger
// spill; the controller sizes the scratch volume to it.
func MaxScratchBytes(size int64) int64 { return size + size/8 + 64<<20 }

// Well-known paths inside the importer pod.
const (
	FilesystemTarget    = "/data/disk.img"                     // target file on a filesystem-mode PVC
	FilesystemDir       = "/data"                              // filesystem-mode PVC mount: the destination of contentType archive
	BlockTarget         = "/dev/cdi-block-volume"              // target device on a block-mode PVC
	ScratchDir          = "/scratch"                           // scratch volume mount
	CertDir             = "/certs"                             // CA bundle mount
	TerminationLogPath  = "/dev/termination-log"               // where the importer writes Termination
	MaxTerminationBytes = 4096                                 // kubelet's limit for a termination message
	ProgressMetric      = "kubevirt_cdi_import_progress_total" // gauge, percent, label ownerUID
	ProgressPort        = 8443                                 // HTTP port serving /metrics in the importer pod
	CloneCertDir        = "/clone-tls"                         // clone certificate (and, in the source pod, key) mount
	ClonePort           = 8444                                 // HTTPS port of "importer serve" in a clone source pod
	NodePullDiskDir     = "/disk"                              // pullMethod node: where the containerDisk image holds its disk file
	NodePullBinDir      = "/goldimage"                         // pullMethod node: shared volume the init container copies the importer into
	NodePullBinary      = "importer"                           // pullMethod node: the importer's file name in NodePullBinDir
)

// Exit codes of the importer. Retryable failures may succeed on a rerun; fatal ones will not.
const (
	ExitOK        = 0
	ExitRetryable = 1 // network, registry 5xx, transient I/O
	ExitFatal     = 2 // bad input: unknown format, too large, backing file, digest mismatch
	ExitUsage     = 3 // bad flags or environment
)

// Termination is the JSON the importer writes to its termination log; the controller reads it
// from the pod status to fill in DataVolume status and conditions.
type Termination struct {
	Result      string            `json:"result"`                // "success" or "failure"
	Message     string            `json:"message,omitempty"`     // one line naming the cause on failure
	Retryable   bool              `json:"retryable,omitempty"`   // whether a rerun may succeed
	VirtualSize int64             `json:"virtualSize,omitempty"` // bytes of the imported disk
	Format      string            `json:"format,omitempty"`      // source format, e.g. qcow2
	Digest      string            `json:"digest,omitempty"`      // manifest digest for registry sources, sha256 of the source otherwise
	Labels      map[string]string `json:"labels,omitempty"`      // KUBEVIRT_IO_* labels from the containerDisk environment
}

// Termination results.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// Marshal encodes t within MaxTerminationBytes, shortening the message (then dropping labels) if needed.
func (t Termination) Marshal() ([]byte, error) {
	for {
		b, err := json.Marshal(t)
		if err != nil {
			return nil, fmt.Errorf("encode termination message: %w", err)
		}
		if len(b) <= MaxTerminationBytes {
			return b, nil
		}
		switch {
		case len(t.Labels) > 0:
			t.Labels = nil
		case len(t.Message) > 64:
			over := len(b) - MaxTerminationBytes
			keep := max(len(t.Message)-over-3, 61)
			for keep > 0 && !utf8.RuneStart(t.Message[keep]) {
				keep-- // cut between runes: half a rune would be encoded as U+FFFD
			}
			t.Message = t.Message[:keep] + "..."
		default:
			return nil, fmt.Errorf("termination message longer than %d bytes", MaxTerminationBytes)
		}
	}
}

// ParseTermination decodes a termination message written by the importer.
func ParseTermination(msg string) (Termination, error) {
	var t Termination
	if err := json.Unmarshal([]byte(msg), &t); err != nil {
		return Termination{}, fmt.Errorf("decode importer termination message: %w", err)
	}
	if t.Result != ResultSuccess && t.Result != ResultFailure {
		return Termination{}, fmt.Errorf("importer termination message has unknown result %q", t.Result)
	}
	return t, nil
}
