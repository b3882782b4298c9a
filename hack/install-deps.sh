#!/usr/bin/env bash
# Installs the Debian packages the tests and benchmarks use, when they are missing.
set -euo pipefail
pkgs=(qemu-utils bzip2 docker-registry apache2-utils xorriso containerd runc containernetworking-plugins iptables)
# the task image (tasks/image/build.sh) without Docker
pkgs+=(mmdebstrap)
# installer VMs (pkg/qemu, pkg/iso, hack/installer-iso): QEMU, firmware, TPM, stand-in installer ISO
pkgs+=(qemu-system-x86 ovmf swtpm swtpm-tools genisoimage grub-pc-bin grub-efi-amd64-bin mtools busybox-static
	linux-image-amd64 cpio file)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
