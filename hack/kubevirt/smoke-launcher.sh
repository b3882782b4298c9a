#!/usr/bin/env bash
# Checks hack/kubevirt/images.sh's virt-launcher image without a cluster: unpacks its layers with GNU tar (which,
# like containerd, applies PAX xattrs), checks virt-launcher-monitor's file capability, then, in a private mount and
# PID namespace chrooted into the unpacked image:
#  - the non-root launcher's start of libvirt, as KubeVirt does it (uid/gid 107, XDG_RUNTIME_DIR=/var/run,
#    `virtqemud -f /var/run/libvirt/virtqemud.conf`): the shim's virtqemud-sock answers
#    `virsh -c qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock`, with the QEMU TCG domain capabilities
#    of q35, and runs a diskless q35 TCG domain (qemu as uid 107) for a moment;
#  - node-labeller.sh as root (virt-handler's init container): `virtqemud -d`, virsh capabilities and
#    domcapabilities written to /var/lib/kubevirt-node-labeller.
# Every process it starts ends with the PID namespace. Needs root, unshare, GNU tar, getcap (libcap2-bin).
#
# Usage: hack/kubevirt/smoke-launcher.sh [IMAGE.tar]   (default .cache/kubevirt/images/virt-launcher.tar)
set -euo pipefail
# shellcheck source=hack/kubevirt/env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
image=${1:-$kubevirt_work/images/virt-launcher.tar}
dir=$(mktemp -d /tmp/kubevirt-launcher-smoke.XXXXXX)
trap 'rm -rf "$dir"' EXIT

mkdir "$dir/image" "$dir/root"
tar -xf "$image" -C "$dir/image"
for layer in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))[0]["Layers"]))' "$dir/image/manifest.json"); do
	tar -xzf "$dir/image/$layer" --xattrs --xattrs-include='*' -C "$dir/root"
done
cap=$(getcap "$dir/root/usr/bin/virt-launcher-monitor")
echo "capability: $cap"
[[ $cap == *cap_net_bind_service=ep ]] || die "virt-launcher-monitor lacks cap_net_bind_service=ep"

cat >"$dir/root/smoke.sh" <<'SMOKE'
set -euo pipefail
as_qemu() {
	setpriv --reuid 107 --regid 107 --clear-groups env XDG_RUNTIME_DIR=/var/run \
		XDG_CONFIG_HOME=/var/run/kubevirt-private XDG_CACHE_HOME=/var/run/kubevirt-cache "$@"
}
echo "--- non-root: virtqemud (the libvirtd shim) as uid 107"
mkdir -p /var/run/libvirt /var/run/kubevirt-private /var/run/kubevirt-cache
cp /etc/libvirt/virtqemud.conf /var/run/libvirt/virtqemud.conf
chown -R 107:107 /var/run/libvirt /var/run/kubevirt-private /var/run/kubevirt-cache
as_qemu /usr/sbin/virtqemud -f /var/run/libvirt/virtqemud.conf >/tmp/virtqemud.log 2>&1 &
daemon=$!
for _ in $(seq 100); do
	[ -S /var/run/libvirt/virtqemud-sock ] && break
	sleep 0.1
done
ls -l /var/run/libvirt/
uri="qemu+unix:///session?socket=/var/run/libvirt/virtqemud-sock"
as_qemu virsh -c "$uri" version
as_qemu virsh -c "$uri" domcapabilities --machine q35 --virttype qemu | grep -E "<(domain|machine|arch)>"
# a diskless TCG domain like the ones KubeVirt defines (q35, host-model CPU, pty serial, logd stdio handler)
cat >/tmp/smoke.xml <<'XML'
<domain type='qemu'>
  <name>smoke</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <cpu mode='host-model'/>
  <devices><serial type='pty'/><console type='pty'/></devices>
</domain>
XML
as_qemu virsh -c "$uri" create /tmp/smoke.xml || { tail -5 /var/run/kubevirt-cache/libvirt/qemu/log/smoke.log; exit 1; }
as_qemu virsh -c "$uri" domstate smoke
ps -o user,comm -C qemu-system-x86_64 --no-headers
as_qemu virsh -c "$uri" destroy smoke
kill "$daemon"
wait "$daemon" || true
rm -rf /var/run/libvirt # its pid file would stop a second libvirtd (in a cluster they are different pods)
echo "--- root: node-labeller.sh"
mkdir -p /var/lib/kubevirt-node-labeller
bash /usr/bin/node-labeller.sh >/tmp/node-labeller.log 2>&1 || { cat /tmp/node-labeller.log; exit 1; }
ls -l /var/lib/kubevirt-node-labeller
grep -c "<model" /var/lib/kubevirt-node-labeller/supported_features.xml /var/lib/kubevirt-node-labeller/virsh_domcapabilities.xml
grep ">q35<" /var/lib/kubevirt-node-labeller/capabilities.xml # the machine-type label node-labeller derives
SMOKE
unshare --mount --pid --fork --propagation private bash -euo pipefail -c '
	mount -t proc proc "$1/proc"
	mount --rbind /dev "$1/dev"
	mount --rbind /sys "$1/sys"
	mount -t tmpfs tmpfs "$1/run"
	mount -t tmpfs tmpfs "$1/tmp"
	chroot "$1" /bin/bash /smoke.sh
' smoke "$dir/root"
echo "virt-launcher smoke test passed"
