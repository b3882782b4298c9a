package cron

import (
	"errors"
	"fmt"
	neturl "net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// Validate checks what only an edit of a DataImportCron's spec can fix and returns its parsed schedule.
func Validate(c *cdiv1.DataImportCron) (Schedule, error) {
	s, err := ParseSchedule(c.Spec.Schedule)
	if err != nil {
		return s, err
	}
	if c.Spec.ManagedDataSource == "" {
		return s, errors.New("spec.managedDataSource is empty")
	}
	// Local mode builds store paths from these names: only valid Kubernetes names may pass.
	if msgs := validation.IsDNS1123Subdomain(c.Spec.ManagedDataSource); len(msgs) > 0 {
		return s, fmt.Errorf("spec.managedDataSource %q is not a valid DataSource name: %s", c.Spec.ManagedDataSource, msgs[0])
	}
	if msgs := validation.IsDNS1123Label(c.Namespace); c.Namespace != "" && len(msgs) > 0 {
		return s, fmt.Errorf("metadata.namespace %q is not a valid namespace: %s", c.Namespace, msgs[0])
	}
	src := c.Spec.Template.Spec.Source
	if src != nil && src.HTTP != nil && src.Registry == nil {
		return s, validateHTTP(c)
	}
	if src == nil || src.Registry == nil {
		return s, errors.New("spec.template.spec.source has neither registry nor http (only those are polled)")
	}
	if ann := c.Annotations[cdiconst.AnnChecksumURL]; ann != "" {
		return s, fmt.Errorf("annotation %s applies to http sources only", cdiconst.AnnChecksumURL)
	}
	url := ptr.Deref(src.Registry.URL, "")
	if url == "" {
		return s, errors.New("spec.template.spec.source.registry.url is empty (imageStream is not supported)")
	}
	if !strings.HasPrefix(url, "docker://") {
		return s, fmt.Errorf("registry url %q must start with docker://", url)
	}
	if _, err := name.ParseReference(TrimScheme(url)); err != nil {
		return s, fmt.Errorf("registry url %q: %w", url, err)
	}
	return s, nil
}

// validateHTTP checks an http(s) source: a URL naming a file, and an http(s) checksum-url if annotated.
func validateHTTP(c *cdiv1.DataImportCron) error {
	raw := c.Spec.Template.Spec.Source.HTTP.URL
	if err := httpURL(raw); err != nil {
		return fmt.Errorf("spec.template.spec.source.http.url: %w", err)
	}
	if _, err := FileName(raw); err != nil {
		return fmt.Errorf("spec.template.spec.source.http.url: %w", err)
	}
	if sums := c.Annotations[cdiconst.AnnChecksumURL]; sums != "" {
		if err := httpURL(sums); err != nil {
			return fmt.Errorf("annotation %s: %w", cdiconst.AnnChecksumURL, err)
		}
	}
	return nil
}

func httpURL(raw string) error {
	u, err := neturl.Parse(raw)
	switch {
	case raw == "":
		return errors.New("is empty")
	case err != nil:
		return fmt.Errorf("%q is not a valid URL", RedactURL(raw))
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q must start with http:// or https://", RedactURL(raw))
	case u.Host == "":
		return fmt.Errorf("%q has no host", RedactURL(raw))
	}
	return nil
}

// IsHTTP reports whether a cron that passed Validate polls an http(s) source (else a registry).
func IsHTTP(c *cdiv1.DataImportCron) bool {
	src := c.Spec.Template.Spec.Source
	return src.Registry == nil && src.HTTP != nil
}

// SourceRefs names the kind of a valid cron's source ("registry" or "http") and the Secret (secretRef) and CA
// ConfigMap (certConfigMap) it refers to, "" for none.
func SourceRefs(c *cdiv1.DataImportCron) (kind, secret, configMap string) {
	src := c.Spec.Template.Spec.Source
	if IsHTTP(c) {
		return "http", src.HTTP.SecretRef, src.HTTP.CertConfigMap
	}
	return "registry", ptr.Deref(src.Registry.SecretRef, ""), ptr.Deref(src.Registry.CertConfigMap, "")
}

// SourceURL is the registry or http(s) URL of a cron that passed Validate.
func SourceURL(c *cdiv1.DataImportCron) string {
	if IsHTTP(c) {
		return c.Spec.Template.Spec.Source.HTTP.URL
	}
	return *c.Spec.Template.Spec.Source.Registry.URL
}

// PinDigest replaces the tag (or digest) of a docker:// URL with digest.
func PinDigest(url, digest string) (string, error) {
	ref, err := name.ParseReference(TrimScheme(url))
	if err != nil {
		return "", fmt.Errorf("pin %q to %s: %w", url, digest, err)
	}
	return "docker://" + ref.Context().Name() + "@" + digest, nil
}
