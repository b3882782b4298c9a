package datasource

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// DataSources is the CDI DataSource resource.
var DataSources = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datasources"}

// PVC names the volume a DataSource points at.
type PVC struct {
	Namespace, Name string
}

// Point makes DataSource namespace/name point at pvc: it creates the DataSource, or replaces its
// spec.source (any snapshot source goes) and keeps everything else. It reports whether it changed anything.
func Point(ctx context.Context, dyn dynamic.Interface, namespace, name string, pvc PVC) (bool, error) {
	if name == "" || pvc.Name == "" || pvc.Namespace == "" {
		return false, fmt.Errorf("point DataSource %q at PVC %s/%s: names must not be empty", name, pvc.Namespace, pvc.Name)
	}
	source := map[string]any{"pvc": map[string]any{"namespace": pvc.Namespace, "name": pvc.Name}}
	ds := dyn.Resource(DataSources).Namespace(namespace)
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := ds.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataSource",
				"metadata": map[string]any{"name": name, "namespace": namespace},
				"spec":     map[string]any{"source": source},
			}}
			_, err = ds.Create(ctx, obj, metav1.CreateOptions{})
			changed = err == nil
			return err
		}
		if err != nil {
			return err
		}
		old, _, _ := unstructured.NestedMap(cur.Object, "spec", "source")
		if fmt.Sprint(old) == fmt.Sprint(source) {
			return nil
		}
		if err := unstructured.SetNestedMap(cur.Object, source, "spec", "source"); err != nil {
			return err
		}
		_, err = ds.Update(ctx, cur, metav1.UpdateOptions{})
		changed = err == nil
		return err
	})
	if err != nil {
		return false, fmt.Errorf("point DataSource %s/%s at PVC %s/%s: %w", namespace, name, pvc.Namespace, pvc.Name, err)
	}
	return changed, nil
}
