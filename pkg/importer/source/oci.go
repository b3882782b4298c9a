package source

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OpenOCIArchive opens the containerDisk in an OCI image layout tar file (as written by
// `skopeo copy ... oci-archive:FILE`). An uncompressed disk layer is read in place; a compressed one is streamed.
func OpenOCIArchive(file string) (*Image, error) {
	if ref := strings.LastIndex(file, ":"); ref > 0 {
		file = file[:ref] // an optional :tag selects nothing here; the archive holds one image
	}
	f, err := os.Open(file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = Fatal(err)
		}
		return nil, fmt.Errorf("open OCI archive: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("OCI archive %s: %w", file, err)
	}
	im, err := openOCI(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("OCI archive %s: %w", file, err)
	}
	return im, nil
}

// maxMembers bounds the archive index (memory) for hostile archives.
const maxMembers = 10000

// ociArchive indexes the members of an OCI layout tar by name.
type ociArchive struct {
	f       io.ReaderAt
	members map[string]*io.SectionReader
	size    int64
}

func openOCI(f io.ReaderAt, size int64) (*Image, error) {
	a := &ociArchive{f: f, size: size, members: map[string]*io.SectionReader{}}
	if err := a.index(); err != nil {
		return nil, err
	}
	manifest, digest, err := a.manifest()
	if err != nil {
		return nil, err
	}
	labels, err := a.labels(manifest.Config.Digest)
	if err != nil {
		return nil, err
	}
	for i := len(manifest.Layers) - 1; i >= 0; i-- {
		im, err := a.diskInLayer(manifest.Layers[i].Digest)
		if errors.Is(err, ErrNoDisk) {
			continue
		}
		if err != nil {
			return nil, err
		}
		im.Digest, im.Labels = digest, labels
		return im, nil
	}
	return nil, Fatal(ErrNoDisk)
}

// index records the offset and size of every regular file in the archive.
func (a *ociArchive) index() error {
	cr := &countingReader{r: io.NewSectionReader(a.f, 0, a.size)}
	tr := tar.NewReader(cr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return Fatal(fmt.Errorf("read archive: %w", err))
		}
		name, err := cleanEntry(hdr.Name)
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			if len(a.members) >= maxMembers {
				return Fatal(fmt.Errorf("archive has more than %d files; an image layout has a handful", maxMembers))
			}
			a.members[name] = io.NewSectionReader(a.f, cr.n, hdr.Size)
		}
	}
}

// blob returns the member holding digest d.
func (a *ociArchive) blob(d v1.Hash) (*io.SectionReader, error) {
	m, ok := a.members["blobs/"+d.Algorithm+"/"+d.Hex]
	if !ok {
		return nil, Fatal(fmt.Errorf("blob %s missing", d))
	}
	return m, nil
}

// readJSON decodes a small JSON member (at most 4 MiB).
func readJSON(r *io.SectionReader, what string, v any) error {
	if r.Size() > 4<<20 {
		return Fatal(fmt.Errorf("%s is %d bytes, more than 4 MiB", what, r.Size()))
	}
	if err := json.NewDecoder(r).Decode(v); err != nil {
		return Fatal(fmt.Errorf("decode %s: %w", what, err))
	}
	return nil
}

// manifest follows index.json (and nested indexes) to the image manifest for this platform.
func (a *ociArchive) manifest() (*v1.Manifest, string, error) {
	idx, ok := a.members["index.json"]
	if !ok {
		return nil, "", Fatal(errors.New("no index.json: not an OCI image layout"))
	}
	for depth := 0; depth < 4; depth++ {
		var index v1.IndexManifest
		if err := readJSON(idx, "index", &index); err != nil {
			return nil, "", err
		}
		desc, err := pickManifest(index.Manifests)
		if err != nil {
			return nil, "", err
		}
		blob, err := a.blob(desc.Digest)
		if err != nil {
			return nil, "", err
		}
		if desc.MediaType.IsIndex() {
			idx = blob
			continue
		}
		var m v1.Manifest
		if err := readJSON(blob, "manifest", &m); err != nil {
			return nil, "", err
		}
		return &m, desc.Digest.String(), nil
	}
	return nil, "", Fatal(errors.New("image indexes nested more than 4 deep"))
}

// pickManifest chooses linux on this architecture when descriptors carry platforms, else the first.
func pickManifest(descs []v1.Descriptor) (v1.Descriptor, error) {
	if len(descs) == 0 {
		return v1.Descriptor{}, Fatal(errors.New("image index lists no manifest"))
	}
	for _, d := range descs {
		if d.Platform == nil || (d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH) {
			return d, nil
		}
	}
	return v1.Descriptor{}, Fatal(fmt.Errorf("image index has no manifest for linux/%s", runtime.GOARCH))
}

// labels returns the KUBEVIRT_IO_* environment of the image config.
func (a *ociArchive) labels(config v1.Hash) (map[string]string, error) {
	blob, err := a.blob(config)
	if err != nil {
		return nil, err
	}
	var cfg v1.ConfigFile
	if err := readJSON(blob, "image config", &cfg); err != nil {
		return nil, err
	}
	return KubevirtLabels(cfg.Config.Env), nil
}

// KubevirtLabels picks the KUBEVIRT_IO_* entries from an image environment (NAME=value list); nil when none.
func KubevirtLabels(env []string) map[string]string {
	var labels map[string]string
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "KUBEVIRT_IO_") {
			if labels == nil {
				labels = map[string]string{}
			}
			labels[k] = v
		}
	}
	return labels
}

// diskInLayer finds the disk file in one layer; uncompressed layers give random access.
func (a *ociArchive) diskInLayer(d v1.Hash) (*Image, error) {
	layer, err := a.blob(d)
	if err != nil {
		return nil, err
	}
	disk, closeFn, err := FindDisk(io.NewSectionReader(layer, 0, layer.Size()))
	if err != nil {
		return nil, err
	}
	closeFn()
	im := &Image{Name: disk.Name, Size: disk.Size}
	if c, ok := a.f.(io.Closer); ok {
		im.close = c.Close
	}
	if mt := magicOf(layer); mt == types.OCIUncompressedLayer {
		sec := io.NewSectionReader(layer, disk.Offset, disk.Size)
		im.At = sec
		im.open = func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(io.NewSectionReader(sec, 0, disk.Size)), nil
		}
		return im, nil
	}
	im.open = func(context.Context) (io.ReadCloser, error) {
		disk, closeFn, err := FindDisk(io.NewSectionReader(layer, 0, layer.Size()))
		if err != nil {
			return nil, err
		}
		return readCloser{Reader: io.LimitReader(disk.Reader, disk.Size), close: closeFn}, nil
	}
	return im, nil
}

// magicOf tells an uncompressed layer from a compressed one by its first bytes.
func magicOf(r io.ReaderAt) types.MediaType {
	var b [4]byte
	n, _ := r.ReadAt(b[:], 0)
	switch {
	case n >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		return types.OCILayer
	case n == 4 && b == [4]byte{0x28, 0xb5, 0x2f, 0xfd}:
		return types.OCILayerZStd
	}
	return types.OCIUncompressedLayer
}

// readCloser pairs a reader with a close function.
type readCloser struct {
	io.Reader
	close func()
}

func (r readCloser) Close() error { r.close(); return nil }
