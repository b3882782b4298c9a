// Package storageclass finds the StorageClasses the controllers need: the cluster's default class, and a class
// of a given provisioner.
package storageclass

import (
	"context"
	"fmt"
	"sort"

	storagev1 "k8s.io/api/storage/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AnnDefault marks the cluster's default StorageClass.
const AnnDefault = "storageclass.kubernetes.io/is-default-class"

// Default names the default StorageClass, "" when there is none.
func Default(ctx context.Context, c client.Reader) (string, error) {
	return pick(ctx, c, "")
}

// OfProvisioner names a StorageClass of provisioner: the default class when it is one, else the first by name;
// "" when there is none.
func OfProvisioner(ctx context.Context, c client.Reader, provisioner string) (string, error) {
	return pick(ctx, c, provisioner)
}

// pick is the default class of provisioner (of any, for ""), else for a named provisioner its first class by name.
func pick(ctx context.Context, c client.Reader, provisioner string) (string, error) {
	var list storagev1.StorageClassList
	if err := c.List(ctx, &list); err != nil {
		return "", fmt.Errorf("list storage classes: %w", err)
	}
	var names []string
	for _, sc := range list.Items {
		if provisioner != "" && sc.Provisioner != provisioner {
			continue
		}
		if sc.Annotations[AnnDefault] == "true" {
			return sc.Name, nil
		}
		names = append(names, sc.Name)
	}
	if provisioner == "" || len(names) == 0 {
		return "", nil
	}
	sort.Strings(names)
	return names[0], nil
}
