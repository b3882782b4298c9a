# shellcheck shell=bash
# Shared settings of the hack/kubevirt scripts (sourced). KubeVirt's version is the one hack/tools/kubevirt/go.mod
# pins; the images are tagged $kubevirt_registry/virt-NAME:$kubevirt_version so that virt-operator, given
# VIRT_OPERATOR_IMAGE=$kubevirt_registry/virt-operator:$kubevirt_version, derives the other four names itself
# (pkg/virt-operator/util/config.go: registry = everything before the last "/").
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
kubevirt_version=v1.6.0
kubevirt_registry=goldimage.local/kubevirt
kubevirt_namespace=kubevirt
bin_dir=${GOLDIMAGE_BIN_DIR:-$root/.cache/bin}
# shellcheck source=hack/lib/gomod.sh
source "$root/hack/lib/gomod.sh"
kubevirt_work=${GOLDIMAGE_KUBEVIRT_WORK:-$root/.cache/kubevirt}

grep -q "^	kubevirt.io/kubevirt $kubevirt_version\$" "$root/hack/tools/kubevirt/go.mod" ||
	{ echo "hack/kubevirt/env.sh: kubevirt_version $kubevirt_version is not the one hack/tools/kubevirt/go.mod requires" >&2; exit 1; }

# kubevirt_dir prints the kubevirt.io/kubevirt module's directory in the module cache (read-only): its manifests/,
# tools/, assets/ and the launcher's config files are read from there, never copied into this repository.
kubevirt_dir() {
	module_dir "$root/hack/tools/kubevirt" kubevirt.io/kubevirt
}

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}
