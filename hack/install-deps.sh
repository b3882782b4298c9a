#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when they are missing.
set -euo pipefail
pkgs=(qemu-utils bzip2 docker-registry apache2-utils xorriso containerd runc tini containernetworking-plugins iptables)
# the task image (tasks/image/build.sh) without Docker
pkgs+=(mmdebstrap)
# installer VMs (pkg/qemu, pkg/iso, hack/installer-iso): QEMU, firmware, TPM, stand-in installer ISO
pkgs+=(qemu-system-x86 ovmf swtpm swtpm-tools genisoimage grub-pc-bin grub-efi-amd64-bin mtools busybox-static
	linux-image-amd64 cpio file)
# KubeVirt (hack/build-control-plane.sh kubevirt-*): virt-launcher links libvirt (cgo), container-disk is static C;
# (gcc, pkg-config and linux/kvm.h for virt-handler are usually there already)
pkgs+=(libvirt-dev gcc libc6-dev pkg-config)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
# Another apt (an unattended upgrade, a CI job installing too) holds the dpkg locks for a while: wait for them
# instead of failing with "Unable to acquire the dpkg frontend lock".
lock_timeout=(-o DPkg::Lock::Timeout=600)
$sudo apt-get "${lock_timeout[@]}" update -qq
$sudo apt-get "${lock_timeout[@]}" install -y -qq --no-install-recommends "${missing[@]}"
