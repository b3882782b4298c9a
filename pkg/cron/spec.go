package cron

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
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
