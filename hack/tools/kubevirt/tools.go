//go:build tools

// Package kubevirt only pins the KubeVirt commands that hack/build-control-plane.sh builds for the e2e cluster
// (kubevirt-* components) and the manifest templator hack/kubevirt/manifests.sh renders KubeVirt's operator
// manifest with. cmd/container-disk-v2alpha is C; the build script compiles it from this module's directory in
// the module cache.
package kubevirt

import (
	_ "kubevirt.io/api/core/v1"
	_ "kubevirt.io/client-go/kubecli"
	_ "kubevirt.io/kubevirt/cmd/virt-api"
	_ "kubevirt.io/kubevirt/cmd/virt-chroot"
	_ "kubevirt.io/kubevirt/cmd/virt-controller"
	_ "kubevirt.io/kubevirt/cmd/virt-freezer"
	_ "kubevirt.io/kubevirt/cmd/virt-handler"
	_ "kubevirt.io/kubevirt/cmd/virt-launcher"
	_ "kubevirt.io/kubevirt/cmd/virt-launcher-monitor"
	_ "kubevirt.io/kubevirt/cmd/virt-operator"
	_ "kubevirt.io/kubevirt/cmd/virt-probe"
	_ "kubevirt.io/kubevirt/cmd/virt-tail"
	_ "kubevirt.io/kubevirt/tools/manifest-templator"
)
