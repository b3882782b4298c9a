package datasource

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/goldimage/goldimage/pkg/cdiconst"
)

// Reference errors: spec.source.dataSource values CDI refuses (one level only, same namespace, not itself), and a
// target that does not exist. Resolve wraps them; RefReason maps them to the Ready reason.
var (
	ErrSelfReference     = errors.New("a DataSource cannot refer to itself")
	ErrCrossNamespaceRef = errors.New("a DataSource cannot refer to a DataSource in another namespace")
	ErrMaxReferenceDepth = errors.New("the referenced DataSource is itself a reference (at most one level is followed)")
	ErrRefNotFound       = errors.New("the referenced DataSource does not exist")
)

// RefKey is the DataSource that ds's spec.source.dataSource names, its namespace defaulting to ds's; ok is false
// when ds has no such reference.
func RefKey(ds *cdiv1.DataSource) (key client.ObjectKey, ok bool) {
	ref := ds.Spec.Source.DataSource
	if ref == nil {
		return client.ObjectKey{}, false
	}
	ns := ref.Namespace
	if ns == "" {
		ns = ds.Namespace
	}
	return client.ObjectKey{Namespace: ns, Name: ref.Name}, true
}

// checkRef is what can be refused about ds's reference without reading the target.
func checkRef(ds *cdiv1.DataSource) error {
	key, ok := RefKey(ds)
	switch {
	case !ok:
		return nil
	case key.Namespace != ds.Namespace:
		return ErrCrossNamespaceRef
	case key.Name == ds.Name:
		return ErrSelfReference
	}
	return nil
}

// Resolve returns the DataSource that ds stands for, as CDI resolves it: ds itself without spec.source.dataSource,
// else the DataSource named there, which must be in ds's namespace, not ds, and not a reference itself. Errors
// wrapping the Err*Ref values are the spec's or the target's fault (see RefReason); others are transient.
func Resolve(ctx context.Context, c client.Reader, ds *cdiv1.DataSource) (*cdiv1.DataSource, error) {
	key, ok := RefKey(ds)
	if !ok {
		return ds, nil
	}
	if err := checkRef(ds); err != nil {
		return nil, fmt.Errorf("spec.source.dataSource %s: %w", key, err)
	}
	target := &cdiv1.DataSource{}
	if err := c.Get(ctx, key, target); apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("spec.source.dataSource %s: %w", key, ErrRefNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("get DataSource %s: %w", key, err)
	}
	if target.Spec.Source.DataSource != nil {
		return nil, fmt.Errorf("spec.source.dataSource %s: %w", key, ErrMaxReferenceDepth)
	}
	return target, nil
}

// RefReason is the Ready reason CDI gives a reference error of Resolve, "" for a transient error.
func RefReason(err error) string {
	switch {
	case errors.Is(err, ErrSelfReference):
		return cdiconst.ReasonSelfReference
	case errors.Is(err, ErrCrossNamespaceRef):
		return cdiconst.ReasonCrossNamespaceRef
	case errors.Is(err, ErrMaxReferenceDepth):
		return cdiconst.ReasonMaxReferenceDepth
	case errors.Is(err, ErrRefNotFound):
		return cdiconst.ReasonNotFound
	}
	return ""
}
