#!/usr/bin/env bash
# Builds the stand-in installer ISO used to test build-from-iso without Windows media: a grub-mkrescue
# hybrid BIOS+UEFI ISO with Debian's generic kernel and a busybox initramfs (init.sh) that reads an
# answer file from a second CD, writes an "installed" disk to /dev/vda (or /dev/sda) and powers off.
# The installed disk boots by itself (the hybrid image is copied onto it): that boot prints
# "GOLDIMAGE-BOOTED hostname=..." on the serial console and keeps running, which boot-verify checks.
# Usage: hack/installer-iso/build.sh OUT.iso
# Needs: linux-image-amd64, busybox-static, grub-pc-bin, grub-efi-amd64-bin, xorriso, mtools, cpio.
set -euo pipefail
out=${1:?usage: build.sh OUT.iso}
here=$(cd "$(dirname "$0")" && pwd)
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { echo "build.sh: no kernel in /boot (install linux-image-amd64)" >&2; exit 1; }
version=${kernel#/boot/vmlinuz-}
moddir=/lib/modules/$version
busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
[ -n "$busybox" ] || { echo "build.sh: busybox missing (install busybox-static)" >&2; exit 1; }
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' ||
	{ echo "build.sh: $busybox is not static (install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/initramfs
mkdir -p "$root"/{bin,dev,proc,sys,mnt,tmp,lib/modules} "$work/iso/boot/grub"
cp "$busybox" "$root/bin/busybox"
for applet in sh mount umount insmod sleep cat echo dd poweroff reboot ls head grep sed sync tr wc mkdir basename; do
	ln -s busybox "$root/bin/$applet"
done

# Drivers for CDs on SATA or IDE, virtio and SATA disks, and ISO 9660, with their dependencies, in load order.
declare -A loaded=()
order=()
add_module() {
	local name=$1 path deps dep
	path=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep" | head -1 | cut -d: -f1)
	[ -n "$path" ] || return 0 # built into the kernel
	[ -z "${loaded[$path]:-}" ] || return 0
	loaded[$path]=1
	deps=$(grep -E "^${path}:" "$moddir/modules.dep" | cut -d: -f2)
	for dep in $deps; do
		dep=$(basename "$dep"); add_module "${dep%%.ko*}"
	done
	order+=("$path")
}
for m in virtio_pci virtio_blk ahci ata_piix sr_mod sd_mod isofs; do
	add_module "$m"
done
: >"$root/modules.order"
for path in "${order[@]}"; do
	case $path in
	*.ko) cp "$moddir/$path" "$root/lib/modules/" ;;
	*.ko.xz) xz -dc "$moddir/$path" >"$root/lib/modules/$(basename "${path%.xz}")" ;;
	*.ko.zst) zstd -qdc "$moddir/$path" >"$root/lib/modules/$(basename "${path%.zst}")" ;;
	esac
	b=$(basename "$path"); echo "${b%%.ko*}" >>"$root/modules.order"
done
install -m 0755 "$here/init.sh" "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) >"$work/iso/boot/initrd.gz"
cp "$kernel" "$work/iso/boot/vmlinuz"
cat >"$work/iso/boot/grub/grub.cfg" <<'CFG'
set timeout=0
set default=0
menuentry "goldimage stand-in installer" {
	linux /boot/vmlinuz console=ttyS0 panic=-1 quiet
	initrd /boot/initrd.gz
}
CFG
# Only what the menu entry needs, no fonts, locales or themes: the ISO stays far below the 32 MiB the
# installer copies onto the disk (init.sh).
grub-mkrescue --locales= --fonts= --themes= --compress=xz \
	--install-modules="linux normal iso9660 search search_fs_uuid search_label part_msdos part_gpt gzio echo test" \
	-o "$out" "$work/iso" -- -volid STANDIN >"$work/grub-mkrescue.log" 2>&1 ||
	{ cat "$work/grub-mkrescue.log" >&2; exit 1; }
echo "built $out"
