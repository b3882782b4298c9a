package cron

import (
	"strings"
	"testing"

	"github.com/goldimage/goldimage/pkg/cdiconst"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

func TestValidate(t *testing.T) {
	valid := func() *cdiv1.DataImportCron {
		return &cdiv1.DataImportCron{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "golden"},
			Spec: cdiv1.DataImportCronSpec{Schedule: "0 */12 * * *", ManagedDataSource: "fedora",
				Template: cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{
					Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("docker://quay.io/containerdisks/fedora:latest")}}}}}}
	}
	tests := []struct {
		name    string
		edit    func(*cdiv1.DataImportCron)
		wantErr string // "" for valid
	}{
		{"valid", func(*cdiv1.DataImportCron) {}, ""},
		{"no namespace (local mode defaults it)", func(c *cdiv1.DataImportCron) { c.Namespace = "" }, ""},
		{"empty managedDataSource", func(c *cdiv1.DataImportCron) { c.Spec.ManagedDataSource = "" }, "spec.managedDataSource is empty"},
		{"path in managedDataSource", func(c *cdiv1.DataImportCron) { c.Spec.ManagedDataSource = "../../escaped" }, "not a valid DataSource name"},
		{"slash in managedDataSource", func(c *cdiv1.DataImportCron) { c.Spec.ManagedDataSource = "a/b" }, "not a valid DataSource name"},
		{"dot-dot namespace", func(c *cdiv1.DataImportCron) { c.Namespace = ".." }, "not a valid namespace"},
		{"path in namespace", func(c *cdiv1.DataImportCron) { c.Namespace = "x/../../y" }, "not a valid namespace"},
		{"no registry source", func(c *cdiv1.DataImportCron) { c.Spec.Template.Spec.Source.Registry = nil }, "neither registry nor http"},
		{"http source", func(c *cdiv1.DataImportCron) { toHTTP(c, "https://example.com/pub/disk.qcow2") }, ""},
		{"http source with checksum-url", func(c *cdiv1.DataImportCron) {
			toHTTP(c, "http://example.com/disk.qcow2")
			c.Annotations = map[string]string{cdiconst.AnnChecksumURL: "http://example.com/SHA256SUMS"}
		}, ""},
		{"http source, ftp checksum-url", func(c *cdiv1.DataImportCron) {
			toHTTP(c, "http://example.com/disk.qcow2")
			c.Annotations = map[string]string{cdiconst.AnnChecksumURL: "ftp://example.com/SHA256SUMS"}
		}, "must start with http:// or https://"},
		{"checksum-url on a registry source", func(c *cdiv1.DataImportCron) {
			c.Annotations = map[string]string{cdiconst.AnnChecksumURL: "http://example.com/SHA256SUMS"}
		}, "applies to http sources only"},
		{"http source, empty url", func(c *cdiv1.DataImportCron) { toHTTP(c, "") }, "http.url: is empty"},
		{"http source, s3 url", func(c *cdiv1.DataImportCron) { toHTTP(c, "s3://bucket/disk.img") }, "must start with http://"},
		{"http source, no host", func(c *cdiv1.DataImportCron) { toHTTP(c, "http:///disk.img") }, "has no host"},
		{"http source, no file", func(c *cdiv1.DataImportCron) { toHTTP(c, "https://example.com/") }, "names no file"},
		{"http url", func(c *cdiv1.DataImportCron) {
			c.Spec.Template.Spec.Source.Registry.URL = ptr.To("https://example.com/disk.img")
		}, "must start with docker://"},
		{"bad reference", func(c *cdiv1.DataImportCron) {
			c.Spec.Template.Spec.Source.Registry.URL = ptr.To("docker://UPPER/case:tag")
		}, "registry url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(c)
			_, err := Validate(c)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("Validate: %v, want no error", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func toHTTP(c *cdiv1.DataImportCron, url string) {
	c.Spec.Template.Spec.Source = &cdiv1.DataVolumeSource{HTTP: &cdiv1.DataVolumeSourceHTTP{URL: url}}
}

func TestSourceRefs(t *testing.T) {
	c := &cdiv1.DataImportCron{Spec: cdiv1.DataImportCronSpec{Template: cdiv1.DataVolume{Spec: cdiv1.DataVolumeSpec{Source: &cdiv1.DataVolumeSource{
		HTTP: &cdiv1.DataVolumeSourceHTTP{URL: "https://e/d.img", SecretRef: "s", CertConfigMap: "cm"}}}}}}
	if k, s, cm := SourceRefs(c); k != "http" || s != "s" || cm != "cm" || SourceURL(c) != "https://e/d.img" || !IsHTTP(c) {
		t.Errorf("http SourceRefs = %s %s %s, url %s", k, s, cm, SourceURL(c))
	}
	c.Spec.Template.Spec.Source = &cdiv1.DataVolumeSource{Registry: &cdiv1.DataVolumeSourceRegistry{URL: ptr.To("docker://r/x"), SecretRef: ptr.To("rs")}}
	if k, s, cm := SourceRefs(c); k != "registry" || s != "rs" || cm != "" || SourceURL(c) != "docker://r/x" || IsHTTP(c) {
		t.Errorf("registry SourceRefs = %s %s %s, url %s", k, s, cm, SourceURL(c))
	}
}

func TestDataSourceLabels(t *testing.T) {
	cronLabels := map[string]string{cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora",
		cdiconst.LabelArchitecture: "arm64", "team": "os"}
	current := map[string]string{"owner": "me", cdiconst.LabelDefaultPreference: "old", "instancetype.kubevirt.io/gone": "x"}
	got := DataSourceLabels(cronLabels, current)
	want := map[string]string{"owner": "me", cdiconst.LabelDefaultInstancetype: "u1.medium", cdiconst.LabelDefaultPreference: "fedora",
		cdiconst.LabelArchitecture: "arm64"}
	if len(got) != len(want) {
		t.Fatalf("DataSourceLabels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}
