#!/bin/sh
# /init of the stand-in installer: load drivers, find the answer file (standin-answer.txt) on any CD,
# write the "installed" disk it describes, power off. On any failure it reboots, which QEMU with
# -no-reboot reports as a guest reset rather than a clean power-off.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
fail() {
	echo "standin: FAILED: $*"
	sync
	reboot -f
}
for m in $(cat /modules.order); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
# Disk layout written by an install: the bootable hybrid image of this ISO from sector 0 (at most
# 32 MiB), the installed header at 32 MiB, the sysprep record at 33 MiB, the stage record at 34 MiB.
header_mib=32
sysprep_mib=33
stage_mib=34
min_disk_mib=35
firmware() { [ -d /sys/firmware/efi ] && echo uefi || echo bios; }
# installed_disk prints the first disk that carries an installed header.
installed_disk() {
	for d in /dev/vd? /dev/sd?; do
		[ -b "$d" ] || continue
		if dd if="$d" bs=1M skip=$header_mib count=1 2>/dev/null | head -c 28 | grep -q '^GOLDIMAGE-STANDIN-INSTALLED'; then
			echo "$d"
			return 0
		fi
	done
	return 1
}
# boot_installed is the installed system: it reports itself on the serial console and then keeps running, as a
# real one does, until it is stopped from outside (QEMU quits, the VM is stopped).
boot_installed() {
	hostname=$(dd if="$1" bs=1M skip=$header_mib count=1 2>/dev/null | head -c 4096 | sed -n 's/^hostname=//p' | head -1)
	echo "GOLDIMAGE-BOOTED hostname=$hostname firmware=$(firmware) disk=$1"
	sync
	while :; do sleep 3600; done
}
answer=""
i=0
while [ $i -lt 30 ] && [ -z "$answer" ]; do
	for cd in /dev/sr*; do
		[ -b "$cd" ] || continue
		mkdir -p "/mnt/$(basename "$cd")"
		if mount -t iso9660 -o ro "$cd" "/mnt/$(basename "$cd")" 2>/dev/null &&
			[ -f "/mnt/$(basename "$cd")/standin-answer.txt" ]; then
			answer="/mnt/$(basename "$cd")/standin-answer.txt"
			break
		fi
	done
	# Booted from an installed disk: no answer CD, and none can still appear (no CD drive, or 10 s passed).
	if [ -z "$answer" ] && disk=$(installed_disk); then
		ls /dev/sr* >/dev/null 2>&1 && [ $i -lt 10 ] || boot_installed "$disk"
	fi
	[ -n "$answer" ] || { i=$((i + 1)); sleep 1; }
done
[ -n "$answer" ] || fail "no CD holds standin-answer.txt"
disk=$(sed -n 's/^disk=//p' "$answer")
hostname=$(sed -n 's/^hostname=//p' "$answer")
[ -n "$disk" ] || disk=/dev/vda
i=0
while [ ! -b "$disk" ] && [ $i -lt 30 ]; do i=$((i + 1)); sleep 1; done
[ -b "$disk" ] || fail "target disk $disk not found"
[ -n "$hostname" ] || fail "answer file sets no hostname"
size_mib=$(($(cat "/sys/block/$(basename "$disk")/size") / 2048))
[ "$size_mib" -ge $min_disk_mib ] || fail "target disk $disk has $size_mib MiB, less than the $min_disk_mib MiB needed"
# installer_cd prints the CD this installer booted from (the one holding /boot/vmlinuz).
installer_cd() {
	for cd in /dev/sr*; do
		m="/mnt/$(basename "$cd")"
		mkdir -p "$m"
		grep -q " $m " /proc/mounts || mount -t iso9660 -o ro "$cd" "$m" 2>/dev/null || continue
		[ -f "$m/boot/vmlinuz" ] && { echo "$cd"; return 0; }
	done
	return 1
}
# reboots=N mimics setups that restart mid-install (Windows does twice): the first N boots only
# count themselves in the stage record on the disk and reboot.
reboots=$(sed -n 's/^reboots=//p' "$answer")
if [ -n "$reboots" ]; then
	stage=$(dd if="$disk" bs=1M skip=$stage_mib count=1 2>/dev/null | head -c 16 | sed -n 's/^STAGE \([0-9]*\).*/\1/p')
	stage=${stage:-0}
	if [ "$stage" -lt "$reboots" ]; then
		stage=$((stage + 1))
		echo "standin: stage $stage of $reboots done, rebooting"
		printf 'STAGE %s\n' "$stage" | dd of="$disk" bs=1M seek=$stage_mib conv=notrunc 2>/dev/null || fail "write $disk"
		sync
		reboot -f
	fi
	echo "standin: resuming after $stage reboots"
fi
echo "standin: installing $hostname to $disk"
# bootable=false in the answer file leaves the boot image out: the install succeeds, the disk does not boot.
if [ "$(sed -n 's/^bootable=//p' "$answer")" != false ]; then
	cd=$(installer_cd) || fail "no CD holds the installer (boot/vmlinuz)"
	# The first 32 MiB only: the image is smaller (build.sh), but its device can be larger, as a CD
	# image imported into a PVC is resized to fill it.
	dd if="$cd" of="$disk" bs=1M count=$header_mib conv=notrunc 2>/dev/null || fail "copy the boot image to $disk"
fi
{
	echo "GOLDIMAGE-STANDIN-INSTALLED"
	echo "hostname=$hostname"
	echo "reboots=${reboots:-0}"
	echo "firmware=$(firmware)"
	[ -e /sys/class/tpm/tpm0 ] && echo "tpm=present" || echo "tpm=absent"
	cat /proc/version
} >/tmp/header
dd if=/tmp/header of="$disk" bs=1M seek=$header_mib conv=notrunc 2>/dev/null || fail "write $disk"
echo "sysprep-generalized hostname=$hostname" | dd of="$disk" bs=1M seek=$sysprep_mib conv=notrunc 2>/dev/null || fail "write $disk"
sync
echo "standin: done, powering off"
poweroff -f
