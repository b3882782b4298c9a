package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ChecksumLabel is the image-config label (and manifest annotation) holding "sha256:<hex>" of the
// disk file; Push compares it to skip pushing a disk the registry already holds.
const ChecksumLabel = "goldimage.io/disk-checksum"

// Compression of pushed layers.
type Compression string

// Layer compressions Push supports.
const (
	Gzip Compression = "gzip"
	Zstd Compression = "zstd"
)

// PushOption configures Push and PushIndex.
type PushOption func(*pushConfig)

type pushConfig struct {
	compression Compression
	level       int
	docker      bool
	fileName    string
	created     time.Time
	env         map[string]string
	labels      map[string]string
	force       bool
	scratch     string
}

// WithCompression selects the layer compression. Default: Gzip. Zstd needs OCI media types.
func WithCompression(c Compression) PushOption { return func(p *pushConfig) { p.compression = c } }

// WithCompressionLevel sets the gzip (1-9) or zstd (1-4, klauspost's speed levels) level; digests are
// reproducible only for the same level. Default: 1 (fastest) for both.
func WithCompressionLevel(level int) PushOption { return func(p *pushConfig) { p.level = level } }

// WithDockerMediaTypes pushes Docker schema 2 manifests and manifest lists instead of OCI ones.
// Default: OCI media types.
func WithDockerMediaTypes() PushOption { return func(p *pushConfig) { p.docker = true } }

// WithFileName names the disk file under /disk/. Default: disk.qcow2 for qcow2 content, else disk.img.
func WithFileName(n string) PushOption { return func(p *pushConfig) { p.fileName = n } }

// WithCreated sets the creation time in the config and the tar headers. Default: the Unix epoch,
// which keeps digests reproducible.
func WithCreated(t time.Time) PushOption { return func(p *pushConfig) { p.created = t } }

// WithEnv adds environment variables to the image config, e.g. KUBEVIRT_IO_* labels that Pull reports.
// Default: none.
func WithEnv(env map[string]string) PushOption { return func(p *pushConfig) { p.env = env } }

// WithLabels adds image-config labels. Default: only ChecksumLabel.
func WithLabels(labels map[string]string) PushOption {
	return func(p *pushConfig) { p.labels = labels }
}

// WithForce pushes even when the registry already holds an image with the same disk checksum.
// Default: skip such pushes.
func WithForce() PushOption { return func(p *pushConfig) { p.force = true } }

// WithScratchDir keeps each compressed layer in a temporary file under dir between computing its
// digest and uploading it, so the disk is compressed once instead of twice; needs free space for
// the compressed layers. Default: none (compress twice, write nothing).
func WithScratchDir(dir string) PushOption { return func(p *pushConfig) { p.scratch = dir } }

// PlatformDisk is one entry of a multi-architecture containerDisk.
type PlatformDisk struct {
	Platform string // "os/arch[/variant]", e.g. "linux/arm64"
	Path     string // disk image file (raw, qcow2, ...)
}

// Push uploads the disk image file at diskPath as a containerDisk for the client's platform and tags
// it ref. The layer holds /disk/<name> owned by 107:107, mode 0440, in a scratch image with fixed
// timestamps, so the same disk and options give the same digest. If ref already names an image with
// the same disk checksum and platform, Push uploads nothing and returns its digest. The file is read
// three times (checksum, layer digest, upload) and compressed twice; nothing is buffered in memory,
// nor on disk unless WithScratchDir is given.
func (c *Client) Push(ctx context.Context, ref, diskPath string, opts ...PushOption) (string, error) {
	return c.PushIndex(ctx, ref, []PlatformDisk{{Platform: c.cfg.platform.String(), Path: diskPath}}, opts...)
}

// PushIndex pushes one containerDisk per platform under ref. With a single entry it pushes a plain
// image manifest; with several, an image index (OCI) or manifest list (Docker) whose annotation
// ChecksumLabel covers every platform's checksum, which is also what the skip compares.
func (c *Client) PushIndex(ctx context.Context, ref string, disks []PlatformDisk, opts ...PushOption) (string, error) {
	d, err := c.pushIndex(ctx, ref, disks, opts)
	return d, c.secrets.wrap(err)
}

func (c *Client) pushIndex(ctx context.Context, ref string, disks []PlatformDisk, opts []PushOption) (string, error) {
	pc := pushConfig{compression: Gzip, level: 1, created: time.Unix(0, 0).UTC()}
	for _, o := range opts {
		o(&pc)
	}
	if err := pc.validate(); err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	if len(disks) == 0 {
		return "", fmt.Errorf("push %s: no disks given", ref)
	}
	r, err := c.parseRef(ref)
	if err != nil {
		return "", err
	}
	sums, plats, err := checksums(disks)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", ref, err)
	}
	want := indexChecksum(sums, plats)
	if len(disks) == 1 {
		want = sums[0]
	}
	if !pc.force {
		if d, ok := c.holds(ctx, r, want, plats); ok {
			return d, nil
		}
	}
	return c.upload(ctx, r, disks, sums, plats, want, pc)
}

// upload builds the image (or index) and pushes it, returning the digest of what ref now names.
func (c *Client) upload(ctx context.Context, r name.Reference, disks []PlatformDisk, sums []string, plats []v1.Platform,
	indexSum string, pc pushConfig) (string, error) {
	images := make([]v1.Image, len(disks))
	var err error
	for i, d := range disks {
		var release func()
		if images[i], release, err = buildImage(d.Path, sums[i], plats[i], pc); err != nil {
			return "", fmt.Errorf("push %s: %w", r, err)
		}
		defer release()
	}
	p, err := c.pusher(r)
	if err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	var top partial.Describable
	if len(images) == 1 {
		err, top = p.Push(ctx, r, images[0]), images[0]
	} else {
		idx := buildIndex(images, plats, indexSum, pc.docker)
		err, top = p.Push(ctx, r, idx), idx
	}
	if err != nil {
		return "", fmt.Errorf("push %s: %w", r, err)
	}
	h, err := top.Digest()
	if err != nil {
		return "", fmt.Errorf("push %s: digest: %w", r, err)
	}
	return h.String(), nil
}

func (pc pushConfig) validate() error {
	switch pc.compression {
	case Gzip:
		if pc.level < 1 || pc.level > 9 {
			return fmt.Errorf("gzip level %d is outside 1-9", pc.level)
		}
	case Zstd:
		if pc.docker {
			return errors.New("zstd layers need OCI media types, not Docker ones")
		}
		if pc.level < 1 || pc.level > 4 {
			return fmt.Errorf("zstd level %d is outside 1-4", pc.level)
		}
	default:
		return fmt.Errorf("unknown compression %q (want gzip or zstd)", pc.compression)
	}
	if pc.fileName != "" && (strings.ContainsAny(pc.fileName, "/\x00") || pc.fileName == "." || pc.fileName == "..") {
		return fmt.Errorf("disk file name %q must be a plain file name", pc.fileName)
	}
	return nil
}

// checksums hashes every disk file and parses the platforms.
func checksums(disks []PlatformDisk) ([]string, []v1.Platform, error) {
	sums := make([]string, len(disks))
	plats := make([]v1.Platform, len(disks))
	seen := map[string]bool{}
	for i, d := range disks {
		p, err := v1.ParsePlatform(d.Platform)
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, nil, fmt.Errorf("platform %q is not os/arch[/variant]", d.Platform)
		}
		if seen[p.String()] {
			return nil, nil, fmt.Errorf("platform %s given twice", p)
		}
		seen[p.String()] = true
		plats[i] = *p
		if sums[i], err = fileChecksum(d.Path); err != nil {
			return nil, nil, err
		}
	}
	return sums, plats, nil
}

func fileChecksum(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("open disk: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", fmt.Errorf("read disk %s: %w", p, err)
	}
	if n == 0 {
		return "", fmt.Errorf("disk %s is empty", p)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// indexChecksum combines per-platform checksums into one value independent of their order.
func indexChecksum(sums []string, plats []v1.Platform) string {
	lines := make([]string, len(sums))
	for i := range sums {
		lines[i] = plats[i].String() + "=" + sums[i] + "\n"
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "")))
	return "sha256:" + hex.EncodeToString(h[:])
}

// holds reports whether ref already names an image (or index) carrying checksum want for plats.
func (c *Client) holds(ctx context.Context, r name.Reference, want string, plats []v1.Platform) (string, bool) {
	p, _, err := c.puller(r)
	if err != nil {
		return "", false
	}
	d, err := p.Get(ctx, r)
	if err != nil {
		return "", false
	}
	var m struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal(d.Manifest, &m); err != nil || m.Annotations[ChecksumLabel] != want {
		return "", false
	}
	if len(plats) == 1 && (!d.MediaType.IsImage() || m.Annotations[platformAnnotation] != plats[0].String()) {
		return "", false
	}
	return d.Digest.String(), true
}

// platformAnnotation records the platform of a single-image push on its manifest, for the skip check.
const platformAnnotation = "goldimage.io/platform"

func buildIndex(images []v1.Image, plats []v1.Platform, sum string, docker bool) v1.ImageIndex {
	mt := types.OCIImageIndex
	if docker {
		mt = types.DockerManifestList
	}
	var adds []mutate.IndexAddendum
	for i, img := range images {
		plat := plats[i]
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...)
	return mutate.Annotations(idx, map[string]string{ChecksumLabel: sum}).(v1.ImageIndex)
}
