#!/usr/bin/env bash
# Builds the task image (the image every goldimage Tekton step runs) without Docker or podman: a Debian bookworm
# root filesystem made by mmdebstrap from Debian's packages (QEMU, OVMF, swtpm, xorriso), a qemu-task user with
# uid/gid 107, and goldimage's task commands built statically from this checkout, packed by hack/tools/imagebuild
# into an image tarball that `ctr images import` (or `podman load`) takes. tasks/image/Containerfile builds the
# same image with podman.
#
# The root filesystem is reused from $cache when its inputs (this script's package list and the mirror snapshot of
# the host's apt lists) are unchanged; the commands are always rebuilt (seconds).
#
# Usage: tasks/image/build.sh OUT.tar [TAG]   (default TAG ghcr.io/goldimage/tasks:v0.1.0)
set -euo pipefail
out=${1:?usage: tasks/image/build.sh OUT.tar [TAG]}
tag=${2:-ghcr.io/goldimage/tasks:v0.1.0}
root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${GOLDIMAGE_IMAGE_CACHE:-$root/.cache/images}
packages=(qemu-system-x86 ovmf swtpm swtpm-tools xorriso ca-certificates)
commands=(isopatch build-from-iso boot-verify disk-push installer-vm datasource-point)
# shellcheck source=hack/lib/debian-rootfs.sh
source "$root/hack/lib/debian-rootfs.sh"

main() {
	command -v mmdebstrap >/dev/null || die "mmdebstrap missing: apt-get install mmdebstrap (hack/install-deps.sh does)"
	mkdir -p "$cache"
	local rootfs
	rootfs=$(build_rootfs)
	local bin=$cache/task-commands args=()
	mkdir -p "$bin"
	local c
	for c in "${commands[@]}"; do
		(cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$bin/$c" "./cmd/$c")
		args+=("$bin/$c:/usr/local/bin/$c")
	done
	(cd "$root" && go run ./hack/tools/imagebuild --tag "$tag" --out "$out" --user 107:107 --entrypoint= \
		--layer "$rootfs" "${args[@]}")
	echo "built $out ($tag)"
}

# build_rootfs prints the path of the cached root filesystem tarball, making it first when its key changed.
build_rootfs() {
	local key tar
	key=$({ declare -p packages; cat "$0" "$root/hack/lib/debian-rootfs.sh"; apt-cache policy "${packages[@]}" 2>/dev/null | grep -E 'Candidate'; } | sha256sum | cut -c1-16)
	tar=$cache/task-rootfs-$key.tar
	if [ -s "$tar" ]; then
		echo "reuse $tar" >&2
		echo "$tar"
		return
	fi
	echo "mmdebstrap: ${packages[*]} (a few minutes)" >&2
	local list
	list=$(IFS=,; echo "${packages[*]}")
	debian_rootfs "$tar.tmp" "$list" \
		--customize-hook='chroot "$1" groupadd --gid 107 qemu-task' \
		--customize-hook='chroot "$1" useradd --uid 107 --gid 107 --no-create-home --home-dir /tmp qemu-task'
	mv "$tar.tmp" "$tar"
	echo "$tar"
}

die() {
	echo "tasks/image/build.sh: $*" >&2
	exit 1
}

main "$@"
