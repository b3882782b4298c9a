# shellcheck shell=bash
# Debian root filesystems for images built without Docker (tasks/image/build.sh, hack/kubevirt/images.sh).
# Source it; it defines functions only.

# debian_rootfs TAR PACKAGES HOOK_OPTION... writes to TAR a bookworm minbase root filesystem with the
# comma-separated PACKAGES: no recommends, docs, man pages or locales, no apt lists left behind. The mmdebstrap
# options given after PACKAGES (--customize-hook=... for the image's users) run before the apt lists go.
debian_rootfs() {
	local tar=$1 list=$2
	shift 2
	mmdebstrap --variant=minbase --mode=root --format=tar --include="$list" \
		--aptopt='APT::Install-Recommends "false"' \
		--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
		"$@" --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*' \
		bookworm "$tar" "$(debian_mirror)" >&2
}

# debian_mirror prints the host's Debian mirror line (mmdebstrap's own default is deb.debian.org, which may be
# unreachable).
debian_mirror() {
	local uri
	uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	echo "deb ${uri:-http://deb.debian.org/debian} bookworm main"
}
