package registry_test

import (
	"archive/tar"
	"context"
	"io"
	"testing"
	"time"

	"github.com/goldimage/goldimage/pkg/registry"
	"github.com/goldimage/goldimage/pkg/registry/registrytest"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestPushedImageShape inspects what Push wrote with go-containerregistry: media types, config
// platform and labels, and the tar headers KubeVirt relies on.
func TestPushedImageShape(t *testing.T) {
	s := registrytest.New(t, registrytest.WithAuth(registrytest.Anonymous))
	disk := diskBytes(50, 100<<10)
	tests := []struct {
		name                    string
		opts                    []registry.PushOption
		platform                string
		manifest, config, layer types.MediaType
		wantFile                string
	}{
		{"oci gzip", nil, "linux/amd64", types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, "disk/disk.img"},
		{"oci zstd arm64", []registry.PushOption{registry.WithCompression(registry.Zstd)}, "linux/arm64/v8", types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayerZStd, "disk/disk.img"},
		{"docker named", []registry.PushOption{registry.WithDockerMediaTypes(), registry.WithFileName("fedora.raw")}, "linux/s390x", types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, "disk/fedora.raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registrytest.NewClient(t, registry.WithPlatform(tt.platform))
			ref := s.Ref("shape/disk:" + tt.platform[6:11])
			opts := append([]registry.PushOption{registry.WithLabels(map[string]string{"team": "virt"})}, tt.opts...)
			if _, err := c.Push(context.Background(), ref, writeFile(t, disk), opts...); err != nil {
				t.Fatal(err)
			}
			r, _ := name.ParseReference(ref)
			img, err := remote.Image(r)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := img.Manifest()
			cfg, _ := img.ConfigFile()
			if m.MediaType != tt.manifest || m.Config.MediaType != tt.config || len(m.Layers) != 1 || m.Layers[0].MediaType != tt.layer {
				t.Errorf("media types %s, %s, %v; want %s, %s, one %s", m.MediaType, m.Config.MediaType, m.Layers, tt.manifest, tt.config, tt.layer)
			}
			if got := cfg.Platform().String(); got != tt.platform {
				t.Errorf("config platform %s, want %s", got, tt.platform)
			}
			if cfg.Config.Labels[registry.ChecksumLabel] == "" || cfg.Config.Labels["team"] != "virt" || !cfg.Created.Equal(time.Unix(0, 0)) {
				t.Errorf("config labels %v created %v; want the checksum label, team=virt, the epoch", cfg.Config.Labels, cfg.Created)
			}
			layers, _ := img.Layers()
			rc, err := layers[0].Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			tr := tar.NewReader(rc)
			var files []string
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, h.Name)
				if h.Uid != 107 || h.Gid != 107 || !h.ModTime.Equal(time.Unix(0, 0)) {
					t.Errorf("%s: owner %d:%d, mtime %v; want 107:107 and the epoch", h.Name, h.Uid, h.Gid, h.ModTime)
				}
				if h.Typeflag == tar.TypeReg && (h.Mode != 0o440 || h.Size != int64(len(disk))) {
					t.Errorf("%s: mode %o, size %d; want 0440 and %d", h.Name, h.Mode, h.Size, len(disk))
				}
			}
			if len(files) != 2 || files[0] != "disk/" || files[1] != tt.wantFile {
				t.Errorf("layer holds %v, want [disk/ %s]", files, tt.wantFile)
			}
		})
	}
}
