package storageclass

import (
	"context"
	"testing"

	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func class(name, provisioner string, isDefault bool) client.Object {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: provisioner}
	if isDefault {
		sc.Annotations = map[string]string{AnnDefault: "true"}
	}
	return sc
}

func TestPick(t *testing.T) {
	for _, tc := range []struct {
		name        string
		classes     []client.Object
		provisioner string
		want        string
	}{
		{"no classes", nil, "", ""},
		{"no default", []client.Object{class("a", "p", false)}, "", ""},
		{"the default", []client.Object{class("a", "p", false), class("b", "q", true)}, "", "b"},
		{"provisioner's default", []client.Object{class("a", "p", false), class("z", "p", true)}, "p", "z"},
		{"provisioner's first by name", []client.Object{class("z", "p", false), class("c", "p", false), class("a", "q", true)}, "p", "c"},
		{"no class of provisioner", []client.Object{class("a", "q", true)}, "p", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithObjects(tc.classes...).Build()
			got, err := pick(context.Background(), c, tc.provisioner)
			if err != nil || got != tc.want {
				t.Fatalf("pick(%q) = %q, %v; want %q", tc.provisioner, got, err, tc.want)
			}
		})
	}
}
