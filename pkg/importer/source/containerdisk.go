package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
)

// containerDiskSchemes are the URL prefixes served by pkg/registry.
var containerDiskSchemes = []string{"docker://", "oci-archive:", "oci:"}

// isContainerDisk reports whether rawURL names a containerDisk (registry image, OCI archive or OCI layout).
func isContainerDisk(rawURL string) bool {
	for _, p := range containerDiskSchemes {
		if strings.HasPrefix(rawURL, p) {
			return true
		}
	}
	return false
}

// OpenContainerDisk streams the single file under /disk/ of the containerDisk at ref
// (docker://REF, oci-archive:FILE[:tag] or oci:DIR[:tag]) through pkg/registry, which verifies layer
// digests, honours whiteouts and rejects links, traversal and second disk files. The stream is not
// seekable. Credentials (WithBasicAuth: user and password, or CDI's accessKeyId and secretKey),
// WithCADir, WithInsecureTLS (the reference's registry host may use plain HTTP or an unverified
// certificate), WithPlatform and WithRetries apply; headers and transports of http sources do not.
func OpenContainerDisk(ctx context.Context, ref string, opts ...Option) (*Image, error) {
	o := newOptions(opts)
	client, err := registry.New(o.registryOptions(ref)...)
	if err != nil {
		return nil, Fatal(err)
	}
	disk, err := client.Pull(ctx, ref)
	if err != nil {
		return nil, classifyRegistry(ref, err)
	}
	var labels map[string]string
	if len(disk.Labels) > 0 {
		labels = disk.Labels
	}
	return NewStream(ref+" /"+disk.Name, disk.Size, disk.Digest, labels, &diskStream{d: disk, ref: ref}), nil
}

// registryOptions maps the source options onto a registry client's.
func (o *options) registryOptions(ref string) []registry.Option {
	ro := []registry.Option{registry.WithUserAgent("goldimage-importer"),
		registry.WithRetry(o.retries+1, o.backoff, time.Minute)}
	if o.user != "" || o.pass != "" {
		ro = append(ro, registry.WithCDISecret(o.user, o.pass))
	}
	if o.caDir != "" {
		ro = append(ro, registry.WithCADir(o.caDir))
	}
	if o.platform != "" {
		ro = append(ro, registry.WithPlatform(o.platform))
	}
	if host, _, ok := strings.Cut(strings.TrimPrefix(ref, "docker://"), "/"); o.insecure && ok && strings.HasPrefix(ref, "docker://") {
		ro = append(ro, registry.WithInsecureRegistries(host))
	}
	return ro
}

// classifyRegistry marks registry failures a rerun cannot fix as fatal: missing images, denied
// access, bad references, images that are not a valid containerDisk, and corrupt local archives.
func classifyRegistry(ref string, err error) error {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return Fatal(fmt.Errorf("containerDisk not found: %w", err))
	case errors.Is(err, registry.ErrUnauthorized):
		return Fatal(fmt.Errorf("access denied, check the credentials: %w", err))
	case errors.Is(err, registry.ErrInvalidReference), errors.Is(err, registry.ErrInvalidDisk):
		return Fatal(err)
	case errors.Is(err, registry.ErrDigestMismatch) && !strings.HasPrefix(ref, "docker://"):
		return Fatal(err) // a local archive does not heal; a registry transfer may
	}
	return err
}

// diskStream adapts a registry.Disk to io.ReadCloser with classified errors.
type diskStream struct {
	d   *registry.Disk
	ref string
}

func (s *diskStream) Read(p []byte) (int, error) {
	n, err := s.d.Read(p)
	if err != nil && err != io.EOF {
		err = classifyRegistry(s.ref, err)
	}
	return n, err
}

func (s *diskStream) Close() error {
	if err := s.d.Close(); err != nil {
		return fmt.Errorf("close %s: %w", s.ref, classifyRegistry(s.ref, err))
	}
	return nil
}
