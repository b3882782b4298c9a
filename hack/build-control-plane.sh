#!/usr/bin/env bash
# Builds the Kubernetes, etcd and Tekton Pipelines binaries the integration and e2e tests run, from the Go module
# proxy, into a cache directory (default .cache/bin). A binary is reused when its stamp (<name>.stamp) matches the
# wrapper module's go.mod and go.sum, so bumping a version there rebuilds it.
#
# Usage: hack/build-control-plane.sh [--stale] [component ...]
#   --stale: build nothing; print those of the components that would be built (not fresh), one per line
#   components: etcd kube-apiserver kube-controller-manager kube-proxy kube-scheduler kubelet kubectl (default: etcd kube-apiserver)
#               tekton-controller tekton-webhook tekton-entrypoint tekton-nop tekton-sidecarlogresults
#               tekton-workingdirinit (github.com/tektoncd/pipeline, version pinned in hack/tools/tekton/go.mod)
#               coredns (github.com/coredns/coredns with the plugins Kubernetes' DNS addon uses, hack/tools/coredns)
#               csi-provisioner csi-snapshotter snapshot-controller csi-resizer (the Kubernetes CSI sidecars, each built
#               in its own upstream module with its own go.mod and go.sum; versions pinned in csi_module_of below)
#               csi-hostpath (goldimage's test CSI driver, hack/tools/csihostpath)
#               kubevirt-virt-operator kubevirt-virt-api kubevirt-virt-controller kubevirt-virt-handler
#               kubevirt-virt-launcher kubevirt-virt-launcher-monitor kubevirt-virt-probe kubevirt-virt-tail
#               kubevirt-virt-freezer kubevirt-virt-chroot kubevirt-manifest-templator (kubevirt.io/kubevirt, version
#               pinned in hack/tools/kubevirt/go.mod; built together in one cgo build, see build_kubevirt; needs
#               gcc and libvirt-dev) and kubevirt-container-disk (the module's C cmd/container-disk-v2alpha, gcc -static)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/lib/gomod.sh
source "$root/hack/lib/gomod.sh"
bin_dir=${GOLDIMAGE_BIN_DIR:-$root/.cache/bin}
k8s_version=v1.34.3
# KubeVirt: the version hack/tools/kubevirt/go.mod pins, its commit and date (the module proxy's .info Origin)
kubevirt_version=v1.6.0
kubevirt_commit=d53baa7f84687d156bd8a3a80d7ea2fbd8e0a993
kubevirt_date=2025-07-24T19:23:44Z
mkdir -p "$bin_dir"
bin_dir=$(cd "$bin_dir" && pwd) # the builds run in the wrapper module directories

only_list_stale=false
if [ "${1:-}" = --stale ]; then
	only_list_stale=true
	shift
fi
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
	kubevirt-*) echo "$root/hack/tools/kubevirt" ;;
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
	case $1 in
	kubevirt-*) { echo "$1 $kubevirt_version $kubevirt_commit"; cat "$mod/go.mod" "$mod/go.sum"; } | sha256sum | cut -d' ' -f1 ;;
	*) { echo "$1 $k8s_version"; cat "$mod/go.mod" "$mod/go.sum"; } | sha256sum | cut -d' ' -f1 ;;
	esac
}

# fresh succeeds when $bin_dir/$1 exists and was built from the sources its stamp names.
fresh() {
	[ -x "$bin_dir/$1" ] && [ "$(cat "$bin_dir/$1.stamp" 2>/dev/null)" = "$(stamp_of "$1")" ]
}

build() {
	local name=$1
	if fresh "$name"; then
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
	kubevirt-container-disk)
		gcc -static -O2 -o "$bin_dir/$name.tmp" "$(kubevirt_dir)/cmd/container-disk-v2alpha/main.c" ;;
	*)
		echo "unknown component $name" >&2
		exit 2 ;;
	esac
	mv "$bin_dir/$name.tmp" "$bin_dir/$name"
	stamp_of "$name" >"$bin_dir/$name.stamp"
}

# kubevirt_dir prints the directory of the kubevirt.io/kubevirt module (read-only, in the module cache).
kubevirt_dir() {
	module_dir "$root/hack/tools/kubevirt" kubevirt.io/kubevirt
}


# kubevirt_pkg prints the package of KubeVirt Go component $1 (kubevirt-NAME).
kubevirt_pkg() {
	case $1 in
	kubevirt-manifest-templator) echo kubevirt.io/kubevirt/tools/manifest-templator ;;
	kubevirt-virt-*) echo "kubevirt.io/kubevirt/cmd/${1#kubevirt-}" ;;
	*) echo "unknown component $1" >&2; exit 2 ;;
	esac
}

# build_kubevirt NAME... builds KubeVirt's Go commands in ONE go build with cgo on. virt-handler (linux/kvm.h) and
# virt-launcher (libvirt.org/go/libvirt, libvirt-dev) need cgo, and a single invocation compiles the standard
# library and the shared dependencies once instead of once per cgo setting. The netgo and osusergo tags keep the
# pure Go commands statically linked (virt-operator, virt-api and virt-controller go into images without a libc;
# hack/kubevirt/images.sh checks). The version variables are the ones KubeVirt's Bazel build stamps.
build_kubevirt() {
	local out=$bin_dir/.kubevirt.tmp pkgs=() n v=kubevirt.io/client-go/version
	for n in "$@"; do
		pkgs+=("$(kubevirt_pkg "$n")")
	done
	grep -q "^	kubevirt.io/kubevirt $kubevirt_version\$" "$root/hack/tools/kubevirt/go.mod" ||
		{ echo "kubevirt_version $kubevirt_version is not what hack/tools/kubevirt/go.mod requires" >&2; exit 1; }
	echo "build $* (one cgo build)"
	rm -rf "$out"
	mkdir -p "$out"
	(cd "$root/hack/tools/kubevirt" && CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo \
		-ldflags "-s -w -X $v.gitVersion=$kubevirt_version -X $v.gitCommit=$kubevirt_commit -X $v.gitTreeState=clean -X $v.buildDate=$kubevirt_date" \
		-o "$out/" "${pkgs[@]}")
	for n in "$@"; do
		mv "$out/${n#kubevirt-}" "$bin_dir/$n"
		stamp_of "$n" >"$bin_dir/$n.stamp"
	done
	rmdir "$out"
}

# build_upstream NAME MODULE@VERSION builds cmd/NAME inside a writable copy of that module from the module cache,
# with the module's own go.mod and go.sum, as its release does (the sidecars pin k8s.io versions by replace
# directives, which a wrapper module would have to copy).
build_upstream() {
	local name=$1 mv=$2 dir src
	dir=$(module_dir "$root" "$mv")
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
		nested=$(module_dir "$root" "$mod@$version")
		rm -rf "${dir:?}/$rel" && cp -r "$nested" "$dir/$rel" && chmod -R u+w "$dir/$rel"
	done < <(sed -n 's#^replace \([^ ]*\) => \./\([^ ]*\)$#\1 \2#p' "$dir/go.mod")
}

if $only_list_stale; then
	for c in "${components[@]}"; do
		fresh "$c" || echo "$c"
	done
	exit 0
fi
kubevirt_go=() # the stale KubeVirt Go components, built together after the others
for c in "${components[@]}"; do
	case $c in
	kubevirt-container-disk) build "$c" ;;
	kubevirt-*)
		kubevirt_pkg "$c" >/dev/null
		if fresh "$c"; then echo "reuse $bin_dir/$c"; else kubevirt_go+=("$c"); fi ;;
	*) build "$c" ;;
	esac
done
[ ${#kubevirt_go[@]} -eq 0 ] || build_kubevirt "${kubevirt_go[@]}"
echo "$bin_dir"
