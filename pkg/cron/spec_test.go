package cron

import (
	"strings"
	"testing"

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
		{"no registry source", func(c *cdiv1.DataImportCron) { c.Spec.Template.Spec.Source.Registry = nil }, "registry is not set"},
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
