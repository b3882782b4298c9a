package registry

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Ownership and modes KubeVirt expects of a containerDisk: QEMU runs as uid/gid 107.
const (
	diskOwner    = 107
	diskFileMode = 0o440
	diskDirMode  = 0o555
)

// diskLayer is a layer holding /disk/<name>, generated from the disk file on every read.
type diskLayer struct {
	path, name string
	size       int64
	pc         pushConfig
	mediaType  types.MediaType
	digest     v1.Hash
	diffID     v1.Hash
	compressed int64
	cache      string // file holding the compressed layer, when pushing with a scratch directory
}

func newDiskLayer(p string, pc pushConfig, mt types.MediaType) (*diskLayer, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("open disk: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("disk %s is not a regular file", p)
	}
	l := &diskLayer{path: p, name: pc.fileName, size: st.Size(), pc: pc, mediaType: mt}
	if l.name == "" {
		l.name = defaultFileName(p)
	}
	diff, comp := sha256.New(), sha256.New()
	n, err := l.compressOnce(comp, diff)
	if err != nil {
		l.release()
		return nil, fmt.Errorf("build layer of %s: %w", p, err)
	}
	l.compressed = n
	l.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(comp.Sum(nil))}
	l.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	return l, nil
}

// compressOnce runs the compression that yields digest and diffID, keeping the output in a file
// of the scratch directory when there is one.
func (l *diskLayer) compressOnce(comp, diff hash.Hash) (int64, error) {
	rc := l.stream(true, diff)
	defer rc.Close()
	if l.pc.scratch == "" {
		return io.Copy(comp, rc)
	}
	f, err := os.CreateTemp(l.pc.scratch, "layer-*.tmp")
	if err != nil {
		return 0, fmt.Errorf("create layer cache: %w", err)
	}
	l.cache = f.Name()
	n, err := io.Copy(io.MultiWriter(comp, f), rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// release removes the cached compressed layer, if any.
func (l *diskLayer) release() {
	if l.cache != "" {
		_ = os.Remove(l.cache)
	}
}

// defaultFileName is disk.qcow2 for qcow2 content and disk.img otherwise.
func defaultFileName(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return "disk.img"
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err == nil && bytes.Equal(magic, []byte("QFI\xfb")) {
		return "disk.qcow2"
	}
	return "disk.img"
}

// stream produces the layer bytes (compressed or not) from a goroutine writing into a pipe.
func (l *diskLayer) stream(compress bool, diffID hash.Hash) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(l.write(pw, compress, diffID)) }()
	return pr
}

func (l *diskLayer) write(w io.Writer, compress bool, diffID hash.Hash) error {
	out := nopWriteCloser{w}
	var zw io.WriteCloser = out
	if compress {
		var err error
		if zw, err = l.compressor(w); err != nil {
			return err
		}
	}
	tw := io.Writer(zw)
	if diffID != nil {
		tw = io.MultiWriter(zw, diffID)
	}
	if err := l.writeTar(tw); err != nil {
		return err
	}
	return zw.Close()
}

func (l *diskLayer) compressor(w io.Writer) (io.WriteCloser, error) {
	if l.pc.compression == Zstd {
		// Fixed concurrency keeps the output identical on every machine.
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.EncoderLevel(l.pc.level)), zstd.WithEncoderConcurrency(2))
	}
	return gzip.NewWriterLevel(w, l.pc.level)
}

func (l *diskLayer) writeTar(w io.Writer) error {
	f, err := os.Open(l.path)
	if err != nil {
		return fmt.Errorf("open disk: %w", err)
	}
	defer f.Close()
	tw := tar.NewWriter(w)
	mtime := l.pc.created
	dir := &tar.Header{Typeflag: tar.TypeDir, Name: diskDir + "/", Mode: diskDirMode, Uid: diskOwner, Gid: diskOwner, ModTime: mtime}
	file := &tar.Header{Typeflag: tar.TypeReg, Name: diskDir + "/" + l.name, Mode: diskFileMode, Uid: diskOwner, Gid: diskOwner,
		Size: l.size, ModTime: mtime}
	if err := tw.WriteHeader(dir); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	if err := tw.WriteHeader(file); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	if n, err := io.Copy(tw, io.LimitReader(f, l.size)); err != nil || n != l.size {
		return fmt.Errorf("read disk %s: %d of %d bytes (did it change during the push?): %v", l.path, n, l.size, err)
	}
	return tw.Close()
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// Digest returns the sha256 of the compressed layer.
func (l *diskLayer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID returns the sha256 of the uncompressed layer.
func (l *diskLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Compressed streams the compressed layer.
func (l *diskLayer) Compressed() (io.ReadCloser, error) {
	if l.cache != "" {
		return os.Open(l.cache)
	}
	return l.stream(true, nil), nil
}

// Uncompressed streams the layer's tar.
func (l *diskLayer) Uncompressed() (io.ReadCloser, error) { return l.stream(false, nil), nil }

// Size returns the compressed size.
func (l *diskLayer) Size() (int64, error) { return l.compressed, nil }

// MediaType returns the layer media type.
func (l *diskLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// buildImage makes the scratch image holding one disk layer; release frees its layer cache.
func buildImage(p, sum string, plat v1.Platform, pc pushConfig) (v1.Image, func(), error) {
	manifestMT, configMT, layerMT := types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer
	if pc.compression == Zstd {
		layerMT = types.OCILayerZStd
	}
	if pc.docker {
		manifestMT, configMT, layerMT = types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer
	}
	l, err := newDiskLayer(p, pc, layerMT)
	if err != nil {
		return nil, nil, err
	}
	img, err := mutate.Append(mutate.ConfigMediaType(mutate.MediaType(empty.Image, manifestMT), configMT), mutate.Addendum{Layer: l})
	if err == nil {
		img, err = mutate.ConfigFile(img, diskConfig(l, sum, plat, pc))
	}
	if err != nil {
		l.release()
		return nil, nil, fmt.Errorf("assemble image: %w", err)
	}
	annotations := map[string]string{ChecksumLabel: sum, platformAnnotation: plat.String()}
	return mutate.Annotations(img, annotations).(v1.Image), l.release, nil
}

// diskConfig is the image config: platform, fixed times, labels (with the checksum) and env.
func diskConfig(l *diskLayer, sum string, plat v1.Platform, pc pushConfig) *v1.ConfigFile {
	labels := map[string]string{}
	for k, v := range pc.labels {
		labels[k] = v
	}
	labels[ChecksumLabel] = sum
	return &v1.ConfigFile{
		Architecture: plat.Architecture, OS: plat.OS, Variant: plat.Variant, OSVersion: plat.OSVersion,
		Created: v1.Time{Time: pc.created},
		RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{l.diffID}},
		Config:  v1.Config{Labels: labels, Env: sortedEnv(pc.env)},
		History: []v1.History{{Created: v1.Time{Time: pc.created}, CreatedBy: "goldimage: containerDisk /" + diskDir + "/" + l.name}},
	}
}

func sortedEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
