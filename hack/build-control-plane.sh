#!/usr/bin/env bash
# Builds the Kubernetes and etcd binaries the integration and e2e tests run, from the Go module proxy,
# into a cache directory (default .cache/bin). Binaries already present are reused.
#
# Usage: hack/build-control-plane.sh [component ...]
#   components: etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl (default: etcd kube-apiserver)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=${GOLDIMAGE_BIN_DIR:-$root/.cache/bin}
k8s_version=v1.34.3
mkdir -p "$bin_dir"

components=("$@")
[ ${#components[@]} -gt 0 ] || components=(etcd kube-apiserver)

version_flags() {
	local pkg=k8s.io/component-base/version
	echo "-s -w -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=34 -X $pkg.gitTreeState=clean -X $pkg.buildDate=2025-12-09T00:00:00Z"
}

build() {
	local name=$1
	if [ -x "$bin_dir/$name" ]; then
		echo "reuse $bin_dir/$name"
		return
	fi
	echo "build $name"
	case $name in
	etcd)
		(cd "$root/hack/tools/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/etcd.tmp" .) ;;
	kube-apiserver | kube-controller-manager | kube-scheduler | kubelet | kubectl)
		(cd "$root/hack/tools/controlplane" && CGO_ENABLED=0 go build -trimpath -ldflags "$(version_flags)" \
			-o "$bin_dir/$name.tmp" "k8s.io/kubernetes/cmd/$name") ;;
	*)
		echo "unknown component $name" >&2
		exit 2 ;;
	esac
	mv "$bin_dir/$name.tmp" "$bin_dir/$name"
}

for c in "${components[@]}"; do
	build "$c"
done
echo "$bin_dir"
