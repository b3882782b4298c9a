#!/usr/bin/env bash
# Builds the Kubernetes, etcd and Tekton Pipelines binaries the integration and e2e tests run, from the Go module
# proxy, into a cache directory (default .cache/bin). A binary is reused when its stamp (<name>.stamp) matches the
# wrapper module's go.mod and go.sum, so bumping a version there rebuilds it.
#
# Usage: hack/build-control-plane.sh [component ...]
#   components: etcd kube-apiserver kube-controller-manager kube-proxy kube-scheduler kubelet kubectl (default: etcd kube-apiserver)
#               tekton-controller tekton-webhook tekton-entrypoint tekton-nop tekton-sidecarlogresults
#               tekton-workingdirinit (github.com/tektoncd/pipeline, version pinned in hack/tools/tekton/go.mod)
#               coredns (github.com/coredns/coredns with the plugins Kubernetes' DNS addon uses, hack/tools/coredns)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${GOLDIMAGE_BIN_DIR:-$root/.cache/bin}
k8s_version=v1.34.3
mkdir -p "$bin_dir"
bin_dir=$(cd "$bin_dir" && pwd) # the builds run in the wrapper module directories

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver)

version_flags() {
	local pkg=k8s.io/component-base/version
	echo "-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=34 -X $pkg.gitTreeState=clean -X $pkg.buildDate=2025-12-09T00:00:00Z"
}

# module_of prints the wrapper module directory that builds component $1.
module_of() {
	case $1 in
	etcd) echo "$root/hack/tools/etcd" ;;
	tekton-*) echo "$root/hack/tools/tekton" ;;
	coredns) echo "$root/hack/tools/coredns" ;;
	*) echo "$root/hack/tools/controlplane" ;;
	esac
}

# stamp_of prints what identifies the sources of component $1: its name and its wrapper module's go.mod and go.sum.
stamp_of() {
	local mod
	mod=$(module_of "$1")
	{ echo "$1 $k8s_version"; cat "$mod/go.mod" "$mod/go.sum"; } | sha256sum | cut -d' ' -f1
}

build() {
	local name=$1 stamp
	stamp=$(stamp_of "$name")
	if [ -x "$bin_dir/$name" ] && [ "$(cat "$bin_dir/$name.stamp" 2>/dev/null)" = "$stamp" ]; then
		echo "reuse $bin_dir/$name"
		return
	fi
	echo "build $name"
	case $name in
	etcd | coredns)
		(cd "$(module_of "$name")" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/$name.tmp" .) ;;
	kube-apiserver | kube-controller-manager | kube-proxy | kube-scheduler | kubelet | kubectl)
		(cd "$root/hack/tools/controlplane" && CGO_ENABLED=0 go build -trimpath -ldflags "$(version_flags)" \
			-o "$bin_dir/$name.tmp" "k8s.io/kubernetes/cmd/$name") ;;
	tekton-controller | tekton-webhook | tekton-entrypoint | tekton-nop | tekton-sidecarlogresults | tekton-workingdirinit)
		(cd "$root/hack/tools/tekton" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" \
			-o "$bin_dir/$name.tmp" "github.com/tektoncd/pipeline/cmd/${name#tekton-}") ;;
	*)
		echo "unknown component $name" >&2
		exit 2 ;;
	esac
	mv "$bin_dir/$name.tmp" "$bin_dir/$name"
	echo "$stamp" >"$bin_dir/$name.stamp"
}

for c in "${components[@]}"; do
	build "$c"
done
echo "$bin_dir"
