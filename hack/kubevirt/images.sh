#!/usr/bin/env bash
# Builds KubeVirt's five images for the e2e cluster without Docker, as image tarballs for `ctr images import`:
#
#   goldimage.local/kubevirt/virt-operator, virt-api, virt-controller:v1.6.0
#       the static Go command alone (no base layer), user 1001 and entrypoint /usr/bin/NAME, as upstream's.
#   goldimage.local/kubevirt/virt-handler:v1.6.0
#       a Debian bookworm minbase root filesystem (nftables, iproute2, util-linux, procps, qemu-utils, xorriso) with
#       virt-handler and virt-chroot (cgo, glibc), user root.
#   goldimage.local/kubevirt/virt-launcher:v1.6.0
#       a Debian bookworm minbase root filesystem with libvirt 9.0 and QEMU 7.2 (Debian's packages) and, like
#       upstream's image, virt-launcher, virt-launcher-monitor (file capability cap_net_bind_service+ep: the non-root
#       launcher raises it as an ambient capability), virt-probe, virt-tail, virt-freezer, container-disk,
#       node-labeller.sh, /etc/libvirt/{qemu.conf,virtqemud.conf,hooks/qemu} and nsswitch.conf, taken from the
#       kubevirt.io/kubevirt module in the module cache at build time; a qemu user and group 107. Debian has no
#       virtqemud (only the monolithic libvirtd): /usr/sbin/virtqemud is a shim that runs libvirtd and links the
#       virtqemud-sock name KubeVirt connects to to libvirtd's socket (docs/kubevirt-feasibility.md §2, tested
#       there with a TCG domain). Debian ships /etc/libvirt/virtlogd.conf only in libvirt-daemon-system, so this
#       script writes one. swtpm backs a VM's tpm device. KubeVirt looks for the secure-boot variable store under
#       Fedora's name, OVMF_VARS.secboot.fd (Microsoft's keys enrolled); Debian's is OVMF_VARS.ms.fd: a link.
#
# The binaries come from hack/build-control-plane.sh (reused when fresh). The Debian root filesystems are made by
# mmdebstrap and cached in $GOLDIMAGE_IMAGE_CACHE (default .cache/images) under a key of their package lists, the
# function that makes them and the host's apt candidate versions of the packages; the images are always repacked
# (seconds). Needs root (mmdebstrap --mode=root), mmdebstrap, gcc and libvirt-dev (hack/install-deps.sh).
#
# Usage: hack/kubevirt/images.sh [OUT_DIR]   (default .cache/kubevirt/images; writes virt-NAME.tar there)
#        hack/kubevirt/images.sh --stale    (prints the binaries it would have to build, one per line)
set -euo pipefail
# shellcheck source=hack/kubevirt/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# shellcheck source=hack/lib/debian-rootfs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/debian-rootfs.sh"
out=${1:-$kubevirt_work/images}
cache=${GOLDIMAGE_IMAGE_CACHE:-$root/.cache/images}
launcher_packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils seabios
	ipxe-qemu ovmf swtpm swtpm-tools procps iproute2 nftables xorriso)
handler_packages=(nftables iproute2 util-linux procps qemu-utils xorriso)
# Debian's images need the sbin directories: node-labeller.sh runs virtqemud and the handler nft by name.
debian_path=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# components are the binaries the images hold (hack/build-control-plane.sh builds them).
components=(kubevirt-virt-operator kubevirt-virt-api kubevirt-virt-controller kubevirt-virt-handler kubevirt-virt-chroot
	kubevirt-virt-launcher kubevirt-virt-launcher-monitor kubevirt-virt-probe kubevirt-virt-tail kubevirt-virt-freezer
	kubevirt-container-disk)

main() {
	if [ "${1:-}" = --stale ]; then # print the binaries that would be built, one per line, and nothing else
		GOLDIMAGE_BIN_DIR=$bin_dir exec "$root/hack/build-control-plane.sh" --stale "${components[@]}"
	fi
	command -v mmdebstrap >/dev/null || die "mmdebstrap missing: hack/install-deps.sh installs it"
	GOLDIMAGE_BIN_DIR=$bin_dir "$root/hack/build-control-plane.sh" "${components[@]}" >&2
	mkdir -p "$out" "$cache" "$kubevirt_work/files"
	out=$(cd "$out" && pwd)
	local imagebuild=$kubevirt_work/imagebuild kv
	(cd "$root" && go build -o "$imagebuild" ./hack/tools/imagebuild)
	kv=$(kubevirt_dir)

	local c
	for c in virt-operator virt-api virt-controller; do
		static_only "$bin_dir/kubevirt-$c"
		"$imagebuild" --tag "$kubevirt_registry/$c:$kubevirt_version" --out "$out/$c.tar" --user 1001 \
			--entrypoint "/usr/bin/$c" "$bin_dir/kubevirt-$c:/usr/bin/$c"
		echo "built $out/$c.tar" >&2
	done

	local handler_rootfs
	handler_rootfs=$(build_rootfs handler "${handler_packages[@]}")
	"$imagebuild" --tag "$kubevirt_registry/virt-handler:$kubevirt_version" --out "$out/virt-handler.tar" \
		--user 0 --entrypoint /usr/bin/virt-handler --env "$debian_path" --layer "$handler_rootfs" \
		"$bin_dir/kubevirt-virt-handler:/usr/bin/virt-handler" "$bin_dir/kubevirt-virt-chroot:/usr/bin/virt-chroot" \
		"$kv/cmd/virt-handler/nsswitch.conf:/etc/nsswitch.conf"
	echo "built $out/virt-handler.tar" >&2

	local launcher_rootfs files=$kubevirt_work/files
	launcher_rootfs=$(build_rootfs launcher "${launcher_packages[@]}")
	write_virtqemud_shim >"$files/virtqemud"
	write_virtlogd_conf >"$files/virtlogd.conf"
	local args=()
	for c in virt-launcher virt-launcher-monitor virt-probe virt-tail virt-freezer container-disk; do
		args+=("$bin_dir/kubevirt-$c:/usr/bin/$c")
	done
	args+=(
		"$kv/cmd/virt-launcher/node-labeller/node-labeller.sh:/usr/bin/node-labeller.sh"
		"$kv/cmd/virt-launcher/qemu.conf:/etc/libvirt/qemu.conf"
		"$kv/cmd/virt-launcher/virtqemud.conf:/etc/libvirt/virtqemud.conf"
		"$kv/cmd/virt-launcher/qemu:/etc/libvirt/hooks/qemu"
		"$kv/cmd/virt-launcher/nsswitch.conf:/etc/nsswitch.conf"
		"$files/virtlogd.conf:/etc/libvirt/virtlogd.conf"
		"$files/virtqemud:/usr/sbin/virtqemud"
	)
	"$imagebuild" --tag "$kubevirt_registry/virt-launcher:$kubevirt_version" --out "$out/virt-launcher.tar" \
		--user 0 --entrypoint /usr/bin/virt-launcher --env "$debian_path" --layer "$launcher_rootfs" \
		--cap /usr/bin/virt-launcher-monitor=cap_net_bind_service \
		--link OVMF_VARS.ms.fd:/usr/share/OVMF/OVMF_VARS.secboot.fd "${args[@]}"
	echo "built $out/virt-launcher.tar" >&2
	drop_stale_rootfs "$handler_rootfs" "$launcher_rootfs"
	echo "$out"
}

# drop_stale_rootfs removes the cached root filesystems of this script's images other than the given current ones.
drop_stale_rootfs() {
	local f keep
	for f in "$cache"/kubevirt-*-rootfs-*.tar; do
		[ -e "$f" ] || continue
		for keep in "$@"; do
			[ "$f" = "$keep" ] && continue 2
		done
		echo "remove stale $f" >&2
		rm -f "$f"
	done
}

# static_only refuses a dynamically linked binary: virt-operator, virt-api and virt-controller run in images
# without a libc (hack/build-control-plane.sh builds them with cgo on, and netgo/osusergo to stay static).
static_only() {
	if readelf -l "$1" | grep -q 'program interpreter'; then
		die "$1 is dynamically linked; its image has no libc"
	fi
}

# build_rootfs NAME PACKAGE... prints the path of the cached Debian root filesystem tarball of image NAME with the
# packages, making it first when its key changed: minbase, no recommends, no docs, a qemu user and group 107
# (KubeVirt's non-root launcher runs as 107:107, its qemu.conf names user and group qemu), no apt lists, and
# /var/run and /var/lock as relative links (Debian's are absolute, /run): virt-handler reaches the launcher's files
# through /proc/PID/root/var/run/..., where an absolute link would lead into the handler's own /run. The
# launcher's also gets Debian's libvirt-qemu user and group (made by libvirt-daemon-system, not installed): a root
# libvirtd (node-labeller.sh's `virtqemud -d`) looks up its built-in default qemu user before it reads qemu.conf
# and fails without it ("Failed to parse user 'libvirt-qemu'").
build_rootfs() {
	local name=$1 key tar list hooks=()
	shift
	if [ "$name" = launcher ]; then
		hooks+=(--customize-hook='chroot "$1" groupadd --system libvirt-qemu'
			--customize-hook='chroot "$1" useradd --system --gid libvirt-qemu --no-create-home --home-dir /var/lib/libvirt --shell /usr/sbin/nologin libvirt-qemu')
	fi
	key=$({ echo "$name $*"; declare -f build_rootfs debian_rootfs debian_mirror; apt-cache policy "$@" 2>/dev/null | grep -E 'Candidate'; } |
		sha256sum | cut -c1-16)
	mkdir -p "$cache"
	tar=$cache/kubevirt-$name-rootfs-$key.tar
	if [ -s "$tar" ]; then
		echo "reuse $tar" >&2
		echo "$tar"
		return
	fi
	echo "mmdebstrap $name: $* (a few minutes)" >&2
	list=$(IFS=,; echo "$*")
	debian_rootfs "$tar.tmp" "$list" \
		--customize-hook='chroot "$1" groupadd --gid 107 qemu' \
		--customize-hook='chroot "$1" useradd --uid 107 --gid 107 --no-create-home --home-dir /home/qemu --shell /bin/bash qemu' \
		--customize-hook='ln -sfn ../run "$1/var/run" && ln -sfn ../run/lock "$1/var/lock"' \
		"${hooks[@]}"
	mv "$tar.tmp" "$tar"
	echo "$tar"
}

# write_virtqemud_shim prints /usr/sbin/virtqemud for the launcher image. KubeVirt runs
# `virtqemud -f /var/run/libvirt/virtqemud.conf` (as qemu, session mode, XDG_RUNTIME_DIR=/var/run) and
# `virtqemud -d` (node-labeller.sh, as root), then connects to .../libvirt/virtqemud-sock; libvirtd takes the same
# options and config keys but names its socket libvirt-sock and reads libvirtd.conf by default. With exec the process is named libvirtd, which only
# matters to virt-handler's memlock bump for VFIO/SEV/realtime guests.
write_virtqemud_shim() {
	cat <<'SHIM'
#!/bin/sh
# virtqemud for Debian's libvirt (monolithic libvirtd only): written by goldimage's hack/kubevirt/images.sh.
d=${XDG_RUNTIME_DIR:-/var/run}/libvirt
[ "$(id -u)" = 0 ] && d=/var/run/libvirt
# Without -f virtqemud reads /etc/libvirt/virtqemud.conf, libvirtd libvirtd.conf (and, as root, wants to log to
# /var/log/libvirt, which Debian creates only in libvirt-daemon-system).
case " $* " in
*" -f "* | *" --config "* | *" --config="*) ;;
*) set -- -f /etc/libvirt/virtqemud.conf "$@" ;;
esac
(
	i=0
	while [ $i -lt 600 ] && [ ! -S "$d/libvirt-sock" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -S "$d/libvirt-sock" ] && ln -sf libvirt-sock "$d/virtqemud-sock"
) &
exec /usr/sbin/libvirtd "$@"
SHIM
}

# write_virtlogd_conf prints /etc/libvirt/virtlogd.conf for the launcher image (virt-launcher runs
# `virtlogd -f /etc/libvirt/virtlogd.conf` and logs what it writes to stderr): warnings and errors to stderr, the
# rest libvirt's defaults.
write_virtlogd_conf() {
	cat <<'CONF'
# virtlogd for KubeVirt's virt-launcher: written by goldimage's hack/kubevirt/images.sh (Debian ships this file
# only in libvirt-daemon-system).
log_outputs = "3:stderr"
max_clients = 1024
max_size = 2097152
max_backups = 3
CONF
}

[ "${BASH_SOURCE[0]}" != "$0" ] || main "$@" # sourcing it only defines the functions
