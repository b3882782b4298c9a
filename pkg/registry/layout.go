package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// maxMetadata bounds index.json, manifests and configs read from a layout.
const maxMetadata = 4 << 20

// refNameAnnotation names a manifest in an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// blobStore opens files of an OCI layout by their slash path inside it.
type blobStore interface {
	open(name string) (io.ReadCloser, error)
}

// dirStore is an OCI layout directory.
type dirStore string

func (d dirStore) open(name string) (io.ReadCloser, error) {
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: OCI layout has no %s", ErrNotFound, name)
		}
		return nil, err
	}
	return f, nil
}

// archiveStore is an OCI layout packed in a tar file (skopeo's oci-archive:), read in place.
type archiveStore struct {
	path    string
	entries map[string][2]int64 // name -> offset, size
}

func indexArchive(p string) (*archiveStore, error) {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: open OCI archive: %w", ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open OCI archive: %w", err)
	}
	defer f.Close()
	s := &archiveStore{path: p, entries: map[string][2]int64{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read OCI archive %s: %v", ErrInvalidDisk, p, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return nil, err
		}
		off, err := f.Seek(0, io.SeekCurrent) // tar.Reader reads no further than the entry's data
		if err != nil {
			return nil, fmt.Errorf("read OCI archive %s: %w", p, err)
		}
		if len(s.entries) >= 1<<16 {
			return nil, fmt.Errorf("%w: OCI archive %s has more than %d files", ErrInvalidDisk, p, 1<<16)
		}
		s.entries[name] = [2]int64{off, hdr.Size}
	}
}

func (s *archiveStore) open(name string) (io.ReadCloser, error) {
	e, ok := s.entries[name]
	if !ok {
		return nil, fmt.Errorf("%w: OCI archive has no %s", ErrNotFound, name)
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, fmt.Errorf("open OCI archive: %w", err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, e[0], e[1]), f}, nil
}

// splitLayoutRef splits "/dir:tag" into path and tag; a path that exists as given has no tag.
func splitLayoutRef(s string) (string, string) {
	if _, err := os.Stat(s); err == nil {
		return s, ""
	}
	if i := strings.LastIndex(s, ":"); i > 0 && !strings.Contains(s[i+1:], "/") {
		return s[:i], s[i+1:]
	}
	return s, ""
}

func openArchive(ref string, platform v1.Platform) (image, error) {
	p, tag := splitLayoutRef(ref)
	s, err := indexArchive(p)
	if err != nil {
		return image{}, err
	}
	return openLayout(s, tag, platform)
}

func openDir(ref string, platform v1.Platform) (image, error) {
	p, tag := splitLayoutRef(ref)
	return openLayout(dirStore(p), tag, platform)
}

// openLayout finds the image named tag (or the only one, or the one for platform) in a layout.
func openLayout(s blobStore, tag string, platform v1.Platform) (image, error) {
	raw, err := readLimited(s, "index.json")
	if err != nil {
		return image{}, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return image{}, fmt.Errorf("%w: parse OCI layout index.json: %v", ErrInvalidDisk, err)
	}
	desc, err := chooseManifest(idx.Manifests, tag, platform)
	if err != nil {
		return image{}, err
	}
	if desc.MediaType.IsIndex() {
		raw, err := readBlob(s, desc)
		if err != nil {
			return image{}, err
		}
		var nested v1.IndexManifest
		if err := json.Unmarshal(raw, &nested); err != nil {
			return image{}, fmt.Errorf("%w: parse image index %s: %v", ErrInvalidDisk, desc.Digest, err)
		}
		if desc, err = pickPlatform(nested.Manifests, platform); err != nil {
			return image{}, err
		}
	}
	return layoutImage(s, desc)
}

func chooseManifest(ms []v1.Descriptor, tag string, platform v1.Platform) (v1.Descriptor, error) {
	switch {
	case tag != "":
		for _, m := range ms {
			if m.Annotations[refNameAnnotation] == tag {
				return m, nil
			}
		}
		return v1.Descriptor{}, fmt.Errorf("%w: OCI layout has no image named %q", ErrNotFound, tag)
	case len(ms) == 1:
		return ms[0], nil
	case len(ms) == 0:
		return v1.Descriptor{}, fmt.Errorf("%w: OCI layout index.json lists no manifests", ErrNotFound)
	}
	d, err := pickPlatform(ms, platform)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("OCI layout lists %d manifests and none matches (add :tag): %w", len(ms), err)
	}
	return d, nil
}

func layoutImage(s blobStore, desc v1.Descriptor) (image, error) {
	if !desc.MediaType.IsImage() {
		return image{}, fmt.Errorf("%w: manifest media type %q is not an image", ErrInvalidDisk, desc.MediaType)
	}
	raw, err := readBlob(s, desc)
	if err != nil {
		return image{}, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return image{}, fmt.Errorf("%w: parse manifest %s: %v", ErrInvalidDisk, desc.Digest, err)
	}
	rawCfg, err := readBlob(s, m.Config)
	if err != nil {
		return image{}, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return image{}, fmt.Errorf("%w: parse image config %s: %v", ErrInvalidDisk, m.Config.Digest, err)
	}
	out := image{digest: desc.Digest.String(), config: cfg}
	for _, l := range m.Layers {
		name := blobPath(l.Digest)
		out.layers = append(out.layers, blob{digest: l.Digest, size: l.Size, open: func() (io.ReadCloser, error) { return s.open(name) }})
	}
	return out, nil
}

func blobPath(d v1.Hash) string { return path.Join("blobs", d.Algorithm, d.Hex) }

// readBlob reads a small blob and checks it against its descriptor.
func readBlob(s blobStore, d v1.Descriptor) ([]byte, error) {
	if d.Digest.Algorithm != "sha256" || d.Size > maxMetadata {
		return nil, fmt.Errorf("%w: blob %s (%d bytes) is not a sha256 blob up to %d bytes", ErrInvalidDisk, d.Digest, d.Size, maxMetadata)
	}
	raw, err := readLimited(s, blobPath(d.Digest))
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != d.Digest.Hex || int64(len(raw)) != d.Size {
		return nil, fmt.Errorf("%w: blob %s", ErrDigestMismatch, d.Digest)
	}
	return raw, nil
}

func readLimited(s blobStore, name string) ([]byte, error) {
	rc, err := s.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(raw) > maxMetadata {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrInvalidDisk, name, maxMetadata)
	}
	return raw, nil
}
