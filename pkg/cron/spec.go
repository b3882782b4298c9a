package cron

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
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
	if src == nil || src.Registry == nil {
		return s, errors.New("spec.template.spec.source.registry is not set (only registry sources are polled)")
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

// SourceURL is the registry URL of a cron that passed Validate.
func SourceURL(c *cdiv1.DataImportCron) string { return *c.Spec.Template.Spec.Source.Registry.URL }

// PinDigest replaces the tag (or digest) of a docker:// URL with digest.
func PinDigest(url, digest string) (string, error) {
	ref, err := name.ParseReference(TrimScheme(url))
	if err != nil {
		return "", fmt.Errorf("pin %q to %s: %w", url, digest, err)
	}
	return "docker://" + ref.Context().Name() + "@" + digest, nil
}
