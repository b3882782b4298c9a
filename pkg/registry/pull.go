package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"

	"github.com/goldimage/goldimage/internal/readahead"
	"github.com/goldimage/goldimage/pkg/convert/inflate"
)

// LabelPrefix marks the image-config environment variables Pull reports as Disk.Labels.
const LabelPrefix = "KUBEVIRT_IO_"

// Disk streams the single regular file under /disk/ of a containerDisk. Read returns io.EOF only
// after every layer has been read to its end and matched its digest and no second file under /disk/
// turned up; any other outcome is an error from Read (and Close).
type Disk struct {
	Name   string            // path of the file inside the image, e.g. "disk/disk.img"
	Size   int64             // size of the file in bytes, from its tar header
	Digest string            // manifest digest of the image the file came from (the platform manifest)
	Labels map[string]string // KUBEVIRT_IO_* environment variables of the image config
	walk   *walk
}

// Read reads the disk file's bytes.
func (d *Disk) Read(p []byte) (int, error) { return d.walk.read(p) }

// Close releases the layer streams; it reports a verification failure that Read already returned.
func (d *Disk) Close() error { return d.walk.close() }

// image is what Pull needs of an image, whatever its source.
type image struct {
	digest string
	config *v1.ConfigFile
	layers []blob // in manifest order: bottom layer first
}

// blob is one layer: its digest, size and a way to open its (possibly compressed) bytes. verified
// means open's reader checks the digest itself (go-containerregistry's remote layers do), so the
// layer is not hashed a second time.
type blob struct {
	digest   v1.Hash
	size     int64
	open     func() (io.ReadCloser, error)
	verified bool
}

// Pull opens the containerDisk at ref and returns a stream of its disk file. ref is a registry
// reference (docker://host/repo:tag, @digest, or without the docker:// prefix), oci-archive:/path.tar[:tag]
// or oci:/dir[:tag]. Layers are read top-down honouring whiteouts; nothing is written to disk.
// For an image index the client's platform selects the manifest.
func (c *Client) Pull(ctx context.Context, ref string) (*Disk, error) {
	img, err := c.resolveImage(ctx, ref)
	if err != nil {
		return nil, c.secrets.wrap(fmt.Errorf("pull %s: %w", ref, err))
	}
	w := &walk{ov: newOverlay(), wrap: func(err error) error { return c.secrets.wrap(fmt.Errorf("pull %s: %w", ref, err)) }}
	for i := len(img.layers) - 1; i >= 0; i-- {
		w.layers = append(w.layers, img.layers[i])
	}
	hdr, err := w.find()
	if err != nil {
		w.close()
		return nil, w.wrap(err)
	}
	return &Disk{Name: w.ov.found, Size: hdr.Size, Digest: img.digest, Labels: envLabels(img.config), walk: w}, nil
}

func (c *Client) resolveImage(ctx context.Context, ref string) (image, error) {
	switch {
	case strings.HasPrefix(ref, "oci:"):
		return openDir(strings.TrimPrefix(ref, "oci:"), c.cfg.platform)
	case strings.HasPrefix(ref, "oci-archive:"):
		return openArchive(strings.TrimPrefix(ref, "oci-archive:"), c.cfg.platform)
	}
	r, err := c.parseRef(ref)
	if err != nil {
		return image{}, err
	}
	return c.remoteImage(ctx, r)
}

func (c *Client) remoteImage(ctx context.Context, r name.Reference) (image, error) {
	p, _, err := c.puller(r)
	if err != nil {
		return image{}, err
	}
	d, err := p.Get(ctx, r)
	if err != nil {
		return image{}, err
	}
	if d.MediaType.IsIndex() {
		if d, err = c.platformManifest(ctx, p, r, d); err != nil {
			return image{}, err
		}
	}
	if !d.MediaType.IsImage() {
		return image{}, fmt.Errorf("%w: manifest media type %q is not an image", ErrInvalidDisk, d.MediaType)
	}
	return remoteLayers(d)
}

// platformManifest fetches the manifest an index lists for the client's platform.
func (c *Client) platformManifest(ctx context.Context, p *remote.Puller, r name.Reference, d *remote.Descriptor) (*remote.Descriptor, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(d.Manifest, &idx); err != nil {
		return nil, fmt.Errorf("%w: parse image index %s: %v", ErrInvalidDisk, d.Digest, err)
	}
	child, err := pickPlatform(idx.Manifests, c.cfg.platform)
	if err != nil {
		return nil, err
	}
	return p.Get(ctx, r.Context().Digest(child.Digest.String()))
}

// remoteLayers reads the config of a registry image and lists its layers.
func remoteLayers(d *remote.Descriptor) (image, error) {
	img, err := d.Image()
	if err != nil {
		return image{}, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return image{}, fmt.Errorf("read image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return image{}, fmt.Errorf("read layers: %w", err)
	}
	out := image{digest: d.Digest.String(), config: cfg}
	for _, l := range layers {
		dg, err := l.Digest()
		if err != nil {
			return image{}, err
		}
		size, err := l.Size()
		if err != nil {
			return image{}, err
		}
		out.layers = append(out.layers, blob{digest: dg, size: size, open: l.Compressed, verified: true})
	}
	return out, nil
}

func envLabels(cfg *v1.ConfigFile) map[string]string {
	out := map[string]string{}
	if cfg == nil {
		return out
	}
	for _, e := range cfg.Config.Env {
		if k, v, ok := strings.Cut(e, "="); ok && strings.HasPrefix(k, LabelPrefix) {
			out[k] = v
		}
	}
	return out
}

// walk reads layers top-down: first to the disk file, then (once the file has been read) through
// everything below it to verify digests and rule out a second disk file.
type walk struct {
	layers []blob // top layer first
	next   int
	cur    *layerStream
	ov     *overlay
	err    error // sticky
	eof    bool
	wrap   func(error) error
}

// find advances to the visible regular file under /disk/.
func (w *walk) find() (*tar.Header, error) {
	for {
		hdr, err := w.nextEntry()
		if err != nil {
			return nil, err
		}
		if hdr == nil {
			return nil, fmt.Errorf("%w: no regular file under /disk/", ErrInvalidDisk)
		}
		ok, err := w.ov.visit(hdr)
		if err != nil {
			return nil, err
		}
		if ok {
			return hdr, nil
		}
	}
}

// nextEntry returns the next tar header, moving to lower layers as needed; nil after the last layer.
func (w *walk) nextEntry() (*tar.Header, error) {
	for {
		if w.cur == nil {
			if w.next == len(w.layers) {
				return nil, nil
			}
			s, err := openLayer(w.layers[w.next])
			if err != nil {
				return nil, err
			}
			w.cur, w.next = s, w.next+1
		}
		hdr, err := w.cur.tr.Next()
		if err == nil {
			return hdr, nil
		}
		if !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read layer %s: %w", w.cur.digest, err)
		}
		if err := w.cur.finish(); err != nil {
			return nil, err
		}
		w.cur = nil
		w.ov.endLayer()
	}
}

func (w *walk) read(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.eof {
		return 0, io.EOF
	}
	n, err := w.cur.tr.Read(p)
	if errors.Is(err, io.EOF) {
		if err = w.rest(); err == nil {
			w.eof = true
			return n, io.EOF
		}
	}
	if err != nil {
		w.err = w.wrap(fmt.Errorf("read %s: %w", w.ov.found, err))
		return n, w.err
	}
	return n, nil
}

// rest scans what follows the disk file: no second disk file may appear and every layer must verify.
func (w *walk) rest() error {
	for {
		hdr, err := w.nextEntry()
		if err != nil || hdr == nil {
			return err
		}
		ok, err := w.ov.visit(hdr)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("%w: /%s appears twice in one layer", ErrInvalidDisk, w.ov.found)
		}
	}
}

func (w *walk) close() error {
	if w.cur != nil {
		w.cur.close()
		w.cur = nil
	}
	if w.err != nil {
		return w.err
	}
	return nil
}

// layerStream decompresses and untars one layer while checking its digest and size.
type layerStream struct {
	digest v1.Hash
	body   io.ReadCloser
	check  io.Reader // the verified body, read to its end by finish
	dec    io.Reader
	closeD func()
	tr     *tar.Reader
}

func openLayer(b blob) (*layerStream, error) {
	if b.digest.Algorithm != "sha256" {
		return nil, fmt.Errorf("%w: layer digest %s uses an unsupported algorithm", ErrInvalidDisk, b.digest)
	}
	rc, err := b.open()
	if err != nil {
		return nil, fmt.Errorf("open layer %s: %w", b.digest, err)
	}
	v := &verifier{r: rc, want: b.digest, size: b.size}
	if !b.verified {
		v.h = sha256.New()
	}
	ra := readahead.New(v, rc) // receive and hash on one core, decompress on another
	br := bufio.NewReaderSize(ra, 64<<10)
	s := &layerStream{digest: b.digest, body: ra, check: ra, dec: br, closeD: func() {}}
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := inflate.NewGzipReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("layer %s: gzip header: %w", b.digest, err)
		}
		s.dec = zr
	case bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(128<<20))
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("layer %s: zstd header: %w", b.digest, err)
		}
		s.dec, s.closeD = zr, zr.Close
	}
	s.tr = tar.NewReader(s.dec)
	return s, nil
}

// finish reads the layer to its very end so that its digest is checked, then closes it.
func (s *layerStream) finish() error {
	defer s.close()
	if _, err := io.Copy(io.Discard, s.dec); err != nil {
		return fmt.Errorf("read layer %s: %w", s.digest, err)
	}
	if _, err := io.Copy(io.Discard, s.check); err != nil {
		return fmt.Errorf("read layer %s: %w", s.digest, err)
	}
	return nil
}

func (s *layerStream) close() {
	s.closeD()
	s.body.Close()
}

// verifier passes bytes through, failing when they exceed size or, at EOF, differ from the digest
// (h nil: the source checks the digest; its failure is reported as ErrDigestMismatch).
type verifier struct {
	r    io.Reader
	h    hash.Hash
	want v1.Hash
	size int64
	n    int64
}

func (v *verifier) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.n += int64(n)
	if v.h == nil {
		if err != nil && err != io.EOF && strings.Contains(err.Error(), "error verifying") { // go-containerregistry's verify.Error
			err = fmt.Errorf("%w: layer %s: %w", ErrDigestMismatch, v.want, err)
		}
	} else {
		v.h.Write(p[:n])
	}
	if v.n > v.size {
		return n, fmt.Errorf("%w: layer %s is longer than its %d bytes", ErrDigestMismatch, v.want, v.size)
	}
	if errors.Is(err, io.EOF) && v.h != nil {
		if v.n != v.size {
			return n, fmt.Errorf("%w: layer %s has %d bytes, not %d", ErrDigestMismatch, v.want, v.n, v.size)
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("%w: layer %s hashes to sha256:%s", ErrDigestMismatch, v.want, got)
		}
	}
	return n, err
}
