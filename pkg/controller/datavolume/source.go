package datavolume

import (
	"errors"
	"net/url"
	"path"
	"strings"

	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// importSource is what the importer pod needs to know about a DataVolume's source.
type importSource struct {
	kind          string // IMPORTER_SOURCE value
	endpoint      string // IMPORTER_ENDPOINT value
	secretRef     string // Secret with accessKeyId and secretKey, "" for none
	certConfigMap string // ConfigMap with CA certificates, "" for none
	arch          string // platform architecture for image indexes, "" for the default
	cloneSecret   string // Secret with the clone certificate and token (host-assisted clone), "" for none
}

// errUnsupported marks sources goldimage does not import (clone, upload, snapshot, imageio, vddk, gcs).
var errUnsupported = errors.New("unsupported source")

// sourceOf extracts the import source of dv.
func sourceOf(dv *cdiv1.DataVolume) (importSource, error) {
	s := dv.Spec.Source
	switch {
	case s == nil:
		return importSource{}, errors.New("spec.source is not set (sourceRef is not supported)")
	case s.Registry != nil:
		return registrySource(s.Registry)
	case s.HTTP != nil:
		if s.HTTP.URL == "" {
			return importSource{}, errors.New("spec.source.http.url is empty")
		}
		return importSource{kind: "http", endpoint: s.HTTP.URL, secretRef: s.HTTP.SecretRef, certConfigMap: s.HTTP.CertConfigMap}, nil
	case s.S3 != nil:
		if s.S3.URL == "" {
			return importSource{}, errors.New("spec.source.s3.url is empty")
		}
		return importSource{kind: "s3", endpoint: s.S3.URL, secretRef: s.S3.SecretRef, certConfigMap: s.S3.CertConfigMap}, nil
	case s.Blank != nil:
		return importSource{kind: "blank", endpoint: "blank:"}, nil
	}
	return importSource{}, errUnsupported
}

func registrySource(r *cdiv1.DataVolumeSourceRegistry) (importSource, error) {
	if r.URL == nil || *r.URL == "" {
		return importSource{}, errors.New("spec.source.registry.url is empty (imageStream is not supported)")
	}
	if r.PullMethod != nil && *r.PullMethod == cdiv1.RegistryPullNode {
		return importSource{}, errors.New("spec.source.registry.pullMethod node is not supported")
	}
	src := importSource{kind: "registry", endpoint: *r.URL}
	if r.SecretRef != nil {
		src.secretRef = *r.SecretRef
	}
	if r.CertConfigMap != nil {
		src.certConfigMap = *r.CertConfigMap
	}
	if r.Platform != nil {
		src.arch = r.Platform.Architecture
	}
	return src, nil
}

// streamable reports whether the importer converts what s holds without scratch space: a
// containerDisk (KubeVirt's are qcow2 or raw, which the importer streams in one pass), a blank disk,
// or an http/s3 URL naming a qcow2, raw, img or ISO file, compressed or not. Other sources (VHD,
// VHDX, VMDK or an unknown name) get a scratch volume in case their stream must be spilled.
func (s importSource) streamable() bool {
	switch s.kind {
	case "registry", "blank":
		return true
	case "http", "s3":
		name := strings.ToLower(s.endpoint)
		if u, err := url.Parse(s.endpoint); err == nil {
			name = strings.ToLower(path.Base(u.Path))
		}
		for _, z := range []string{".gz", ".xz", ".zst"} {
			name = strings.TrimSuffix(name, z)
		}
		switch path.Ext(name) {
		case ".qcow2", ".raw", ".img", ".iso":
			return true
		}
	}
	return false
}
