package vm

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

// releaseWait bounds how long DeleteKeepingDataVolumes watches a deleted VirtualMachine's kept DataVolumes.
const releaseWait = 2 * time.Minute

// DeleteKeepingDataVolumes deletes the VirtualMachine and keeps the named DataVolumes (the installed disks), which
// garbage collection would otherwise delete with it. KubeVirt's VM controller adopts every DataVolume named by one of
// the VM's dataVolumeTemplates, so the kept ones first leave the templates, then lose their owner reference; after
// the delete, until the VM is gone, an adoption that raced with that is undone. Missing objects are fine.
func DeleteKeepingDataVolumes(ctx context.Context, dyn dynamic.Interface, namespace, name string, keep []string) error {
	vms := dyn.Resource(VirtualMachines).Namespace(namespace)
	vm, err := vms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get VirtualMachine %s/%s: %w", namespace, name, err)
	}
	uid := vm.GetUID()
	if len(keep) > 0 {
		if err := dropTemplates(ctx, dyn, namespace, name, keep); err != nil {
			return err
		}
		if err := disownAll(ctx, dyn, namespace, keep, uid); err != nil {
			return err
		}
	}
	err = vms.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) { // gone, or a new VM of that name: not ours
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete VirtualMachine %s/%s: %w", namespace, name, err)
	}
	if len(keep) == 0 {
		return nil
	}
	return keepReleasedUntilGone(ctx, dyn, namespace, name, keep, uid)
}

// dropTemplates removes the dataVolumeTemplates named in keep from VirtualMachine name.
func dropTemplates(ctx context.Context, dyn dynamic.Interface, namespace, name string, keep []string) error {
	vms := dyn.Resource(VirtualMachines).Namespace(namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		vm, err := vms.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		templates, _, _ := unstructured.NestedSlice(vm.Object, "spec", "dataVolumeTemplates")
		kept := slices.DeleteFunc(slices.Clone(templates), func(t any) bool {
			m, _ := t.(map[string]any)
			n, _, _ := unstructured.NestedString(m, "metadata", "name")
			return slices.Contains(keep, n)
		})
		if len(kept) == len(templates) {
			return nil
		}
		if err := unstructured.SetNestedSlice(vm.Object, kept, "spec", "dataVolumeTemplates"); err != nil {
			return err
		}
		_, err = vms.Update(ctx, vm, metav1.UpdateOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("take the kept DataVolumes out of VirtualMachine %s/%s's dataVolumeTemplates: %w", namespace, name, err)
	}
	return nil
}

// keepReleasedUntilGone polls until VirtualMachine name (uid) is gone, removing its owner reference from the kept
// DataVolumes whenever it reappears.
func keepReleasedUntilGone(ctx context.Context, dyn dynamic.Interface, namespace, name string, keep []string, uid types.UID) error {
	ctx, cancel := context.WithTimeout(ctx, releaseWait)
	defer cancel()
	for {
		if err := disownAll(ctx, dyn, namespace, keep, uid); err != nil {
			return err
		}
		vm, err := dyn.Resource(VirtualMachines).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && vm.GetUID() != uid) {
			return disownAll(ctx, dyn, namespace, keep, uid)
		}
		select {
		case <-ctx.Done():
			return nil // deleted, and still released; the VM's finalizers take longer than we watch
		case <-time.After(time.Second):
		}
	}
}

func disownAll(ctx context.Context, dyn dynamic.Interface, namespace string, names []string, owner types.UID) error {
	for _, dv := range names {
		if err := disown(ctx, dyn, namespace, dv, owner); err != nil {
			return err
		}
	}
	return nil
}

// disown removes owner references to owner from a DataVolume.
func disown(ctx context.Context, dyn dynamic.Interface, namespace, name string, owner types.UID) error {
	dvs := dyn.Resource(DataVolumes).Namespace(namespace)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dv, err := dvs.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("get DataVolume %s/%s: %w", namespace, name, err)
		}
		refs := dv.GetOwnerReferences()
		kept := slices.DeleteFunc(slices.Clone(refs), func(r metav1.OwnerReference) bool { return r.UID == owner })
		if len(kept) == len(refs) {
			return nil
		}
		dv.SetOwnerReferences(kept)
		if _, err := dvs.Update(ctx, dv, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsConflict(err) {
				return err
			}
			return fmt.Errorf("release DataVolume %s/%s from its VirtualMachine: %w", namespace, name, err)
		}
		return nil
	})
}
