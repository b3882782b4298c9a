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
# reboots=N mimics setups that restart mid-install (Windows does twice): the first N boots only
# count themselves in a stage record at 2 MiB on the disk and reboot.
reboots=$(sed -n 's/^reboots=//p' "$answer")
if [ -n "$reboots" ]; then
	stage=$(dd if="$disk" bs=1M skip=2 count=1 2>/dev/null | head -c 16 | sed -n 's/^STAGE \([0-9]*\).*/\1/p')
	stage=${stage:-0}
	if [ "$stage" -lt "$reboots" ]; then
		stage=$((stage + 1))
		echo "standin: stage $stage of $reboots done, rebooting"
		printf 'STAGE %s\n' "$stage" | dd of="$disk" bs=1M seek=2 conv=notrunc 2>/dev/null || fail "write $disk"
		sync
		reboot -f
	fi
	echo "standin: resuming after $stage reboots"
fi
echo "standin: installing $hostname to $disk"
{
	echo "GOLDIMAGE-STANDIN-INSTALLED"
	echo "hostname=$hostname"
	echo "reboots=${reboots:-0}"
	[ -d /sys/firmware/efi ] && echo "firmware=uefi" || echo "firmware=bios"
	[ -e /sys/class/tpm/tpm0 ] && echo "tpm=present" || echo "tpm=absent"
	cat /proc/version
} >/tmp/header
dd if=/tmp/header of="$disk" bs=512 conv=notrunc 2>/dev/null || fail "write $disk"
echo "sysprep-generalized hostname=$hostname" | dd of="$disk" bs=1M seek=1 conv=notrunc 2>/dev/null || fail "write $disk"
sync
echo "standin: done, powering off"
poweroff -f
