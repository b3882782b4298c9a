package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// TestCDIManifestsRoundTrip creates each kind from a CDI example manifest and reads it back unchanged.
func TestCDIManifestsRoundTrip(t *testing.T) {
	ctx := context.Background()
	ensureNamespace(t, "golden-images")
	tests := []struct {
		file string
		obj  client.Object
	}{
		{"dataimportcron-fedora.yaml", &cdiv1.DataImportCron{}},
		{"datavolume-sourceref.yaml", &cdiv1.DataVolume{}},
		{"datavolume-registry.yaml", &cdiv1.DataVolume{}},
		{"datasource-pvc.yaml", &cdiv1.DataSource{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			want := readManifest(t, tt.file)
			created := want.DeepCopy()
			if err := k8s.Create(ctx, created); err != nil {
				t.Fatalf("create %s: %v", tt.file, err)
			}
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(want.GroupVersionKind())
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
				t.Fatalf("get: %v", err)
			}
			if !sameJSON(t, want.Object["spec"], got.Object["spec"]) {
				t.Errorf("spec changed on the way through the API server:\nwant %v\ngot  %v", want.Object["spec"], got.Object["spec"])
			}
			// The typed client decodes the same object into the CDI Go types without loss.
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(want), tt.obj); err != nil {
				t.Fatalf("typed get: %v", err)
			}
			assertTypedMatches(t, want, tt.obj)
		})
	}
}

// TestCRDSchemaRejectsInvalid shows the structural schema is enforced, not preserved-unknown.
func TestCRDSchemaRejectsInvalid(t *testing.T) {
	ensureNamespace(t, "golden-images")
	bad := readManifest(t, "dataimportcron-fedora.yaml")
	bad.SetName("bad-imports-to-keep")
	if err := unstructured.SetNestedField(bad.Object, "three", "spec", "importsToKeep"); err != nil {
		t.Fatal(err)
	}
	err := k8s.Create(context.Background(), bad)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("create with importsToKeep=\"three\": got %v, want an Invalid error", err)
	}
}

func assertTypedMatches(t *testing.T, want *unstructured.Unstructured, typed client.Object) {
	t.Helper()
	wantTyped := reflect.New(reflect.TypeOf(typed).Elem()).Interface()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(want.Object, wantTyped); err != nil {
		t.Fatalf("decode manifest into %T: %v", typed, err)
	}
	wantSpec := reflect.ValueOf(wantTyped).Elem().FieldByName("Spec").Interface()
	gotSpec := reflect.ValueOf(typed).Elem().FieldByName("Spec").Interface()
	if !equality.Semantic.DeepEqual(wantSpec, gotSpec) {
		t.Errorf("typed spec differs:\nwant %+v\ngot  %+v", wantSpec, gotSpec)
	}
}

// sameJSON compares two decoded documents after a JSON round trip, so 2 and 2.0 compare equal.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func readManifest(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	obj := map[string]any{}
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return &unstructured.Unstructured{Object: obj}
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
}
