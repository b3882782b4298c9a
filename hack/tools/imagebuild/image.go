package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is a host file to place in the image.
type File struct {
	Source string // path on the host
	Dest   string // absolute path inside the image
	Caps   string // file capabilities to give it (permitted and effective), e.g. "cap_net_bind_service"; none when empty
}

// Spec describes an image: optional base layers (root filesystem tarballs made elsewhere, e.g. by mmdebstrap),
// then one layer of host files, usually static binaries. Base layers go in unchanged, so whatever their tar
// headers carry (owners, modes, PAX xattrs such as file capabilities) reaches the image; host files get mode 0755,
// owner root and no xattrs except the capabilities File.Caps names (the host file's own xattrs are not read).
type Spec struct {
	BaseLayers []string // paths of uncompressed or gzip tarballs, bottom first
	Files      []File
	Links      []Link   // symbolic links added with the files
	User       string   // numeric uid (or uid:gid) the container runs as
	Arch       string   // GOARCH-style architecture recorded in the config
	Entrypoint []string // command the container runs; none when empty
	Env        []string // NAME=VALUE; default PATH=/usr/local/bin:/usr/bin:/bin
}

// Link is a symbolic link to place in the image.
type Link struct {
	Target string // what the link points to, e.g. busybox
	Dest   string // absolute path of the link inside the image
}

// epoch is the fixed timestamp of every file and of the image, so builds are reproducible.
var epoch = time.Unix(0, 0).UTC()

// Build assembles the image described by spec.
func Build(spec Spec) (v1.Image, error) {
	var layers []v1.Layer
	for _, base := range spec.BaseLayers {
		layer, err := tarball.LayerFromFile(base)
		if err != nil {
			return nil, fmt.Errorf("base layer %s: %w", base, err)
		}
		layers = append(layers, layer)
	}
	if len(spec.Files) > 0 || len(spec.Links) > 0 {
		layerTar, err := layerBytes(spec.Files, spec.Links)
		if err != nil {
			return nil, err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(layerTar)), nil
		})
		if err != nil {
			return nil, fmt.Errorf("make layer: %w", err)
		}
		layers = append(layers, layer)
	}
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read base config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", spec.Arch, v1.Time{Time: epoch}
	cfg.Config.Entrypoint = spec.Entrypoint
	cfg.Config.User = spec.User
	cfg.Config.Env = spec.Env
	if len(cfg.Config.Env) == 0 {
		cfg.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set image config: %w", err)
	}
	return img, nil
}

// WriteTarball builds spec and writes it as a docker-archive tarball tagged ref to out.
func WriteTarball(out, ref string, spec Spec) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("parse tag %q: %w", ref, err)
	}
	img, err := Build(spec)
	if err != nil {
		return fmt.Errorf("build %s: %w", ref, err)
	}
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return fmt.Errorf("write %s to %s: %w", ref, out, err)
	}
	return nil
}

// layerBytes returns an uncompressed tar holding the files, the links, their parent directories and /tmp.
func layerBytes(files []File, links []Link) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	if err := writeDir(tw, dirs, "tmp", 0o1777); err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := writeParents(tw, dirs, f.Dest); err != nil {
			return nil, err
		}
		if err := writeFile(tw, f); err != nil {
			return nil, err
		}
	}
	for _, l := range links {
		if err := writeParents(tw, dirs, l.Dest); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(l.Dest, "/"), Linkname: l.Target, Mode: 0o777, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("add link %s: %w", l.Dest, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("finish layer tar: %w", err)
	}
	return buf.Bytes(), nil
}

func writeParents(tw *tar.Writer, dirs map[string]bool, dest string) error {
	parts := strings.Split(strings.Trim(path.Dir(dest), "/"), "/")
	for i := range parts {
		if parts[i] == "" {
			continue
		}
		if err := writeDir(tw, dirs, path.Join(parts[:i+1]...), 0o755); err != nil {
			return err
		}
	}
	return nil
}

func writeDir(tw *tar.Writer, dirs map[string]bool, dir string, mode int64) error {
	if dirs[dir] {
		return nil
	}
	dirs[dir] = true
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: mode, ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("add directory %s: %w", dir, err)
	}
	return nil
}

func writeFile(tw *tar.Writer, f File) error {
	src, err := os.Open(f.Source)
	if err != nil {
		return fmt.Errorf("open %s: %w", f.Source, err)
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", f.Source, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f.Source)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.Dest, "/"), Mode: 0o755, Size: st.Size(), ModTime: epoch}
	if f.Caps != "" {
		capability, err := fileCapability(f.Caps)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Dest, err)
		}
		hdr.Format = tar.FormatPAX
		hdr.PAXRecords = map[string]string{xattrCapability: capability}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("add %s: %w", f.Dest, err)
	}
	if _, err := io.Copy(tw, src); err != nil {
		return fmt.Errorf("copy %s into the layer: %w", f.Source, err)
	}
	return nil
}
