// Package scheme builds the runtime.Scheme goldimage's clients and controllers use: client-go's
// built-in kinds plus CDI's cdi.kubevirt.io/v1beta1 kinds.
package scheme

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	cdiv1 "kubevirt.io/containerized-data-importer-api/pkg/apis/core/v1beta1"
)

// New returns a scheme holding client-go's kinds and CDI's v1beta1 kinds.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register client-go kinds: %w", err)
	}
	if err := cdiv1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("register CDI kinds: %w", err)
	}
	return s, nil
}
