#!/usr/bin/env bash
# Renders KubeVirt's operator manifest for the e2e cluster from the kubevirt.io/kubevirt module in the module cache,
# with the module's own tools/manifest-templator (hack/build-control-plane.sh kubevirt-manifest-templator), in the
# two passes KubeVirt's hack/build-manifests.sh makes: --process-files includes manifests/generated/ (the KubeVirt
# CRD, the operator's RBAC) into manifests/release/kubevirt-operator.yaml.in, --process-vars fills in the
# namespace, the images (goldimage.local/kubevirt/virt-operator:v1.6.0, built by hack/kubevirt/images.sh; the
# operator derives the other images' names from it) and the pull policy Never (the images are imported into
# containerd, never pulled). The templator needs --kubevirt-logo-path (it panics without it).
#
# The operator Deployment upstream has 2 replicas; on the single-node e2e cluster one is enough (each asks for
# 450Mi), so this script sets 1. The KubeVirt CR (useEmulation, infra replicas 1, pull policy Never) is
# test/e2e/manifests/kubevirt-cr.yaml.
#
# Usage: hack/kubevirt/manifests.sh [OUT_DIR]   (default .cache/kubevirt/manifests; writes kubevirt-operator.yaml)
set -euo pipefail
# shellcheck source=hack/kubevirt/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
out=${1:-$kubevirt_work/manifests}

main() {
	GOLDIMAGE_BIN_DIR=$bin_dir "$root/hack/build-control-plane.sh" kubevirt-manifest-templator >&2
	local kv templator=$bin_dir/kubevirt-manifest-templator
	kv=$(kubevirt_dir)
	mkdir -p "$out"
	"$templator" --process-files --generated-manifests-dir="$kv/manifests/generated/" \
		--input-file="$kv/manifests/release/kubevirt-operator.yaml.in" >"$out/kubevirt-operator.yaml.in"
	"$templator" --process-vars --namespace="$kubevirt_namespace" --container-prefix="$kubevirt_registry" \
		--container-tag="$kubevirt_version" --image-pull-policy=Never --verbosity=2 --feature-gates= \
		--infra-replicas=1 --kubevirt-logo-path="$kv/assets/kubevirt_logo.png" \
		--input-file="$out/kubevirt-operator.yaml.in" >"$out/kubevirt-operator.yaml.tmp"
	one_operator_replica "$out/kubevirt-operator.yaml.tmp" >"$out/kubevirt-operator.yaml"
	rm "$out/kubevirt-operator.yaml.tmp" "$out/kubevirt-operator.yaml.in"
	grep -q "value: $kubevirt_registry/virt-operator:$kubevirt_version\$" "$out/kubevirt-operator.yaml" ||
		die "the rendered operator Deployment does not run $kubevirt_registry/virt-operator:$kubevirt_version"
	echo "$out/kubevirt-operator.yaml"
}

# one_operator_replica prints manifest $1 with the virt-operator Deployment's "replicas: 2" set to 1, and fails
# when there is not exactly one such line in a Deployment (the template changed: look again).
one_operator_replica() {
	awk '
		/^---/ { deployment = 0 }
		/^kind: Deployment$/ { deployment = 1 }
		deployment && /^  replicas: 2$/ { sub(/2$/, "1"); n++ }
		{ print }
		END { if (n != 1) { print "one_operator_replica: " n " Deployment replicas lines" > "/dev/stderr"; exit 1 } }
	' "$1"
}

[ "${BASH_SOURCE[0]}" != "$0" ] || main "$@" # sourcing it only defines the functions
