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
#               csi-provisioner csi-snapshotter snapshot-controller csi-resizer (the Kubernetes CSI sidecars, each built
#               in its own upstream module with its own go.mod and go.sum; versions pinned in csi_module_of below)
#               csi-hostpath (goldimage's test CSI driver, hack/tools/csihostpath)
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
	csi-hostpath) echo "$root/hack/tools/csihostpath" ;;
	*) echo "$root/hack/tools/controlplane" ;;
	esac
}

# csi_module_of prints the module@version an upstream CSI sidecar $1 is built from ("" for other components).
csi_module_of() {
	case $1 in
	csi-provisioner) echo github.com/kubernetes-csi/external-provisioner/v5@v5.3.0 ;;
	csi-snapshotter | snapshot-controller) echo github.com/kubernetes-csi/external-snapshotter/v8@v8.4.0 ;;
	csi-resizer) echo github.com/kubernetes-csi/external-resizer@v1.14.0 ;;
	esac
}

# stamp_of prints what identifies the sources of component $1: its name and its wrapper module's go.mod and go.sum,
# or the upstream module version it is built in.
stamp_of() {
	local mod
	mod=$(csi_module_of "$1")
	if [ -n "$mod" ]; then
		echo "$1 $mod" | sha256sum | cut -d' ' -f1
		return
	fi
	mod=$(module_of "$1")
	if [ "$1" = csi-hostpath ]; then # our own code: the sources count too
		(cd "$mod" && find . -name '*.go' -o -name 'go.*' | LC_ALL=C sort | xargs cat) | sha256sum | cut -d' ' -f1
		return
	fi
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
	etcd | coredns | csi-hostpath)
		(cd "$(module_of "$name")" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin_dir/$name.tmp" .) ;;
	csi-provisioner | csi-snapshotter | snapshot-controller | csi-resizer)
		build_upstream "$name" "$(csi_module_of "$name")" ;;
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

# build_upstream NAME MODULE@VERSION builds cmd/NAME inside a writable copy of that module from the module cache,
# with the module's own go.mod and go.sum, as its release does (the sidecars pin k8s.io versions by replace
# directives, which a wrapper module would have to copy).
build_upstream() {
	local name=$1 mv=$2 dir src
	dir=$(cd "$root" && go mod download -json "$mv" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -d "$dir" ] || { echo "go mod download $mv gave no directory" >&2; exit 1; }
	src=$root/.cache/src/${mv//\//_}
	if [ ! -d "$src" ]; then
		mkdir -p "$root/.cache/src"
		rm -rf "$src.tmp"
		cp -r "$dir" "$src.tmp"
		chmod -R u+w "$src.tmp"
		add_nested_modules "$src.tmp" "${mv##*@}"
		mv "$src.tmp" "$src"
	fi
	(cd "$src" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-s -w -X main.version=${mv##*@}" \
		-o "$bin_dir/$name.tmp" "./cmd/$name")
}

# add_nested_modules DIR VERSION puts the modules that DIR/go.mod replaces with a directory inside it (a nested
# module, which the module zip leaves out, e.g. external-snapshotter's ./client) there, at the same version.
add_nested_modules() {
	local dir=$1 version=$2 mod rel nested
	while read -r mod rel; do
		nested=$(cd "$root" && go mod download -json "$mod@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		[ -d "$nested" ] || { echo "go mod download $mod@$version gave no directory" >&2; exit 1; }
		rm -rf "${dir:?}/$rel" && cp -r "$nested" "$dir/$rel" && chmod -R u+w "$dir/$rel"
	done < <(sed -n 's#^replace \([^ ]*\) => \./\([^ ]*\)$#\1 \2#p' "$dir/go.mod")
}

for c in "${components[@]}"; do
	build "$c"
done
echo "$bin_dir"
