package diskpush

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/goldimage/goldimage/pkg/convert"
	"github.com/goldimage/goldimage/pkg/registry"
)

// Pusher uploads a disk file as a containerDisk and returns the manifest digest; *registry.Client is one.
type Pusher interface {
	Push(ctx context.Context, ref, diskPath string, opts ...registry.PushOption) (string, error)
}

// Result describes a published disk.
type Result struct {
	Digest    string // manifest digest, sha256:...
	URL       string // the repository pinned to Digest
	Converted bool   // whether the disk was written as qcow2 before the push
}

type config struct {
	qcow2      bool
	scratchDir string
	pushOpts   []registry.PushOption
}

// Option configures Publish.
type Option func(*config)

// WithQcow2 converts disks that are not qcow2 yet to zlib-compressed qcow2 before pushing. Default on;
// off pushes the file as it is.
func WithQcow2(on bool) Option { return func(c *config) { c.qcow2 = on } }

// WithScratchDir sets where the qcow2 copy is written. Default os.TempDir(); it needs room for the
// disk's data, compressed.
func WithScratchDir(dir string) Option { return func(c *config) { c.scratchDir = dir } }

// WithPushOptions passes options to the push. Default none.
func WithPushOptions(opts ...registry.PushOption) Option {
	return func(c *config) { c.pushOpts = append(c.pushOpts, opts...) }
}

// Publish pushes the disk at path to ref as a containerDisk.
func Publish(ctx context.Context, p Pusher, ref, path string, opts ...Option) (Result, error) {
	c := config{qcow2: true, scratchDir: os.TempDir()}
	for _, o := range opts {
		o(&c)
	}
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return Result{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	var res Result
	push := path
	if c.qcow2 {
		converted, cleanup, err := toQcow2(ctx, path, c.scratchDir)
		if err != nil {
			return Result{}, err
		}
		defer cleanup()
		push, res.Converted = converted, converted != path
	}
	res.Digest, err = p.Push(ctx, ref, push, c.pushOpts...)
	if err != nil {
		return Result{}, fmt.Errorf("push %s to %s: %w", path, ref, err)
	}
	res.URL = parsed.Context().Digest(res.Digest).String()
	return res, nil
}

// toQcow2 returns path itself when it is qcow2 already, else a compressed qcow2 copy in dir.
func toQcow2(ctx context.Context, path, dir string) (string, func(), error) {
	noop := func() {}
	f, err := os.Open(path)
	if err != nil {
		return "", noop, fmt.Errorf("open disk: %w", err)
	}
	defer f.Close()
	size, err := diskSize(f)
	if err != nil {
		return "", noop, err
	}
	img, det, err := convert.Open(f, size)
	if err != nil {
		return "", noop, fmt.Errorf("open disk %s: %w", path, err)
	}
	defer img.Close()
	if det.Format == convert.FormatQcow2 {
		return path, noop, nil
	}
	tmp, err := os.MkdirTemp(dir, "disk-push-")
	if err != nil {
		return "", noop, fmt.Errorf("create scratch directory: %w", err)
	}
	cleanup := func() { os.RemoveAll(tmp) }
	out := filepath.Join(tmp, "disk.qcow2")
	if _, err := convert.WriteQcow2(ctx, img, out, convert.WithQcow2Compression(convert.QcowZlib)); err != nil {
		cleanup()
		return "", noop, fmt.Errorf("convert %s (%s) to qcow2: %w", path, det.Format, err)
	}
	return out, cleanup, nil
}

// diskSize is the size of a regular file or block device.
func diskSize(f *os.File) (int64, error) {
	end, err := f.Seek(0, 2)
	if err != nil {
		return 0, fmt.Errorf("size of disk %s: %w", f.Name(), err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		return 0, fmt.Errorf("rewind disk %s: %w", f.Name(), err)
	}
	return end, nil
}
