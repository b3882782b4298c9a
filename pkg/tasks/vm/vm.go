package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// Resources this package reads and writes.
var (
	VirtualMachines = schema.GroupVersionResource{Group: "kubevirt.io", Version: "v1", Resource: "virtualmachines"}
	DataVolumes     = schema.GroupVersionResource{Group: "cdi.kubevirt.io", Version: "v1beta1", Resource: "datavolumes"}
)

// maxManifestDocs bounds how many objects one manifest may create.
const maxManifestDocs = 64

// Ref names a created object.
type Ref struct {
	Kind, Namespace, Name string
}

// Create creates every object of a multi-document YAML or JSON manifest in namespace (unless the
// object names its own), resolving kinds with mapper. generateName is honoured; the returned refs
// carry the names the API server chose.
func Create(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, namespace string, manifest io.Reader) ([]Ref, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(manifest, 64<<10)
	var refs []Ref
	for i := 0; ; i++ {
		var obj unstructured.Unstructured
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return refs, fmt.Errorf("decode manifest document %d: %w", i+1, err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if len(refs) == maxManifestDocs {
			return refs, fmt.Errorf("manifest holds more than %d objects", maxManifestDocs)
		}
		ref, err := createOne(ctx, dyn, mapper, namespace, &obj)
		if err != nil {
			return refs, fmt.Errorf("manifest document %d: %w", i+1, err)
		}
		refs = append(refs, ref)
	}
	if len(refs) == 0 {
		return nil, errors.New("manifest holds no objects")
	}
	return refs, nil
}

func createOne(ctx context.Context, dyn dynamic.Interface, mapper meta.RESTMapper, namespace string, obj *unstructured.Unstructured) (Ref, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return Ref{}, errors.New("object lacks apiVersion or kind")
	}
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return Ref{}, fmt.Errorf("resolve %s: %w", gvk, err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	created, err := ri.Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		return Ref{}, fmt.Errorf("create %s %s: %w", gvk.Kind, obj.GetName()+obj.GetGenerateName(), err)
	}
	return Ref{Kind: gvk.Kind, Namespace: created.GetNamespace(), Name: created.GetName()}, nil
}

// WaitOptions bound a wait.
type WaitOptions struct {
	Interval time.Duration // between polls; 0 means 10s
	Timeout  time.Duration // 0 means no limit beyond ctx
}

// WaitStopped waits until the VirtualMachine reports printableStatus Stopped after having run, which
// is how an installer VM with runStrategy RerunOnFailure ends when the guest powers off. States
// that cannot recover (image pull errors, unschedulable, DataVolume errors) fail at once.
func WaitStopped(ctx context.Context, dyn dynamic.Interface, namespace, name string, o WaitOptions) error {
	ran := false
	return poll(ctx, o, func(ctx context.Context) (bool, string, error) {
		obj, err := dyn.Resource(VirtualMachines).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", fmt.Errorf("get VirtualMachine %s/%s: %w", namespace, name, err)
		}
		status, _, _ := unstructured.NestedString(obj.Object, "status", "printableStatus")
		done, err := vmStopped(obj, &ran)
		if err != nil {
			return false, "", fmt.Errorf("VirtualMachine %s/%s: %w", namespace, name, err)
		}
		return done, "printableStatus " + status, nil
	})
}

// WaitDataVolume waits until the DataVolume's phase is Succeeded; phase Failed fails at once.
func WaitDataVolume(ctx context.Context, dyn dynamic.Interface, namespace, name string, o WaitOptions) error {
	return poll(ctx, o, func(ctx context.Context) (bool, string, error) {
		obj, err := dyn.Resource(DataVolumes).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, "", fmt.Errorf("get DataVolume %s/%s: %w", namespace, name, err)
		}
		phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
		done, err := dataVolumeDone(obj)
		if err != nil {
			return false, "", fmt.Errorf("DataVolume %s/%s: %w", namespace, name, err)
		}
		return done, "phase " + phase, nil
	})
}

// poll runs check every o.Interval until it is done, fails, or the wait ends. check also returns what it saw,
// which a timeout names: "timed out after 3m0s; last seen printableStatus Running".
func poll(ctx context.Context, o WaitOptions, check func(context.Context) (done bool, seen string, err error)) error {
	if o.Interval <= 0 {
		o.Interval = 10 * time.Second
	}
	parent := ctx
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var last error
	var seen string
	err := wait.PollUntilContextCancel(ctx, o.Interval, true, func(ctx context.Context) (bool, error) {
		done, s, err := check(ctx)
		if err != nil && isClientThrottled(err) {
			return false, nil // our own rate limiter declined; keep the server's last answer
		}
		if err != nil && (apierrors.IsNotFound(err) || isTransient(err)) {
			last = err // the object may not exist yet, or the API server blinked
			return false, nil
		}
		if err == nil {
			seen, last = s, nil
		}
		return done, err
	})
	if err != nil && ctx.Err() != nil {
		var saw string
		if seen != "" {
			saw = "; last seen " + seen
		}
		if last != nil {
			saw += fmt.Sprintf(" (last error: %v)", last)
		}
		if parent.Err() == nil { // our own timeout, not the caller's cancellation
			return fmt.Errorf("timed out after %s%s", o.Timeout, saw)
		}
		return fmt.Errorf("gave up waiting: %w%s", ctx.Err(), saw)
	}
	return err
}

// isClientThrottled reports client-go's rate limiter refusing a request because the
// context's deadline would pass before a token is free.
func isClientThrottled(err error) bool {
	return strings.Contains(err.Error(), "client rate limiter Wait returned an error")
}

func isTransient(err error) bool {
	return apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsTooManyRequests(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}
