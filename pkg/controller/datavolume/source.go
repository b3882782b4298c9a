package datavolume

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// importSource is what the importer pod needs to know about a DataVolume's source.
type importSource struct {
	kind          string   // IMPORTER_SOURCE value
	endpoint      string   // IMPORTER_ENDPOINT value
	secretRef     string   // Secret with accessKeyId and secretKey, "" for none
	certConfigMap string   // ConfigMap with CA certificates, "" for none
	arch          string   // platform architecture for image indexes, "" for the default
	cloneSecret   string   // Secret with the clone certificate and token (host-assisted clone), "" for none
	headers       []string // extra "Name: value" HTTP headers (http.extraHeaders)
	nodeImage     string   // pullMethod node: the containerDisk image the pod runs, "" for a pod pull
}

// unsupported names the CDI sources goldimage does not import, each with what to use instead (docs/cdi-compatibility.md).
var unsupported = []struct {
	field string
	set   func(*cdiv1.DataVolumeSource) bool
	hint  string
}{
	{"upload", func(s *cdiv1.DataVolumeSource) bool { return s.Upload != nil }, "goldimage has no upload proxy; serve the image over http(s) or push it as a containerDisk"},
	{"imageio", func(s *cdiv1.DataVolumeSource) bool { return s.Imageio != nil }, "oVirt imageio transfers are not implemented; export the disk and import it over http(s)"},
	{"vddk", func(s *cdiv1.DataVolumeSource) bool { return s.VDDK != nil }, "VMware VDDK transfers are not implemented; export the VMDK and import it over http(s)"},
	{"gcs", func(s *cdiv1.DataVolumeSource) bool { return s.GCS != nil }, "Google Cloud Storage is not implemented; use the object's https URL or GCS's S3-compatible endpoint"},
}

// unsupportedSource is the one-line error naming the CDI source s uses that goldimage does not import.
func unsupportedSource(s *cdiv1.DataVolumeSource) error {
	for _, u := range unsupported {
		if u.set(s) {
			return fmt.Errorf("spec.source.%s is not supported by goldimage: %s", u.field, u.hint)
		}
	}
	return errors.New("spec.source names no source goldimage knows (http, s3, registry, blank, pvc)")
}

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
		if len(s.HTTP.SecretExtraHeaders) > 0 {
			return importSource{}, errors.New("spec.source.http.secretExtraHeaders is not supported by goldimage: put the headers in extraHeaders")
		}
		return importSource{kind: "http", endpoint: s.HTTP.URL, secretRef: s.HTTP.SecretRef, certConfigMap: s.HTTP.CertConfigMap,
			headers: s.HTTP.ExtraHeaders}, nil
	case s.S3 != nil:
		if s.S3.URL == "" {
			return importSource{}, errors.New("spec.source.s3.url is empty")
		}
		return importSource{kind: "s3", endpoint: s.S3.URL, secretRef: s.S3.SecretRef, certConfigMap: s.S3.CertConfigMap}, nil
	case s.Blank != nil:
		return importSource{kind: "blank", endpoint: "blank:"}, nil
	}
	return importSource{}, unsupportedSource(s)
}

func registrySource(r *cdiv1.DataVolumeSourceRegistry) (importSource, error) {
	if r.URL == nil || *r.URL == "" {
		return importSource{}, errors.New("spec.source.registry.url is empty (imageStream is not supported)")
	}
	src := importSource{kind: "registry", endpoint: *r.URL}
	if r.PullMethod != nil && *r.PullMethod == cdiv1.RegistryPullNode {
		return nodeSource(src)
	}
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
