#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the host packages the build and the VM harness need, and unpack
# one Debian guest kernel per kernel line into the cache.  Cheap when
# everything is already there: one dpkg-query and a stamp test per kernel.
#
# Environment: KERNELS (kernel lines, e.g. "6.1 6.12"), CACHE.
set -eu
. "$(dirname "$0")/lib.sh"

KERNELS=${KERNELS-6.1 6.12}

# linux-source-6.12 has the kernel's ynl tools (make spec), which run on
# python3 with python3-yaml, validating with python3-jsonschema; ynl_test
# runs the same CLI in the guest on the host's python3 and modules
# (ynl-tree.sh, mkinitramfs.sh).
# rsync: kselftest's `make install` (selftests/vm/intree-build.sh);
# coreutils' timeout goes into the guest for kselftest's runner.
# flex, bison, bc, libelf-dev and libssl-dev build the debug lane's kernel
# (selftests/debug) from linux-source-6.1.
# libgnutls28-dev: the migrations' TLS (as Debian's QEMU); openssl makes
# the tests' credentials (mkcreds.sh).  libjson-c-dev: QMP, the agent's
# talk with QEMU (postcopy-agent migrate --qmp).
PKGS="make gcc libc6-dev binutils kmod cpio xz-utils zstd libgnutls28-dev openssl
      libjson-c-dev
      qemu-system-x86 busybox-static iproute2 sparse linux-source-6.1
      libnl-3-dev libnl-genl-3-dev liburing-dev
      linux-source-6.12 python3 python3-yaml python3-jsonschema
      flex bison bc libelf-dev libssl-dev rsync coreutils
      linux-headers-amd64 linux-headers-6.12-amd64"
# Packaging (make deb, make install, make check's host-side checks): man
# pages from rst (python3-docutils: rst2man) read with man-db, Debian
# packages (debhelper, dh-dkms, lintian), sd_notify (libsystemd-dev),
# systemd-analyze (systemd), pkg-config; dkms for make check-dkms (only
# dkms build, in a tree under build/: nothing is installed or loaded).
PKGS="$PKGS python3-docutils man-db groff-base debhelper dh-dkms lintian
      fakeroot dpkg-dev libsystemd-dev systemd pkgconf dkms"
for line in $KERNELS; do
	PKGS="$PKGS $(kernel_headers_pkg "$line")"
done
# seabios and qemu-system-data (which qemu-system-x86 pulls in too): the
# firmware of the QEMU that qemu_test boots inside a guest
# (mkinitramfs.sh copies it there).
PKGS="$PKGS seabios qemu-system-data"

APT_OPTS="-y -q --no-install-recommends -o DPkg::Lock::Timeout=600"
export DEBIAN_FRONTEND=noninteractive

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	say "deps: apt-get update"
	apt-get -q -o DPkg::Lock::Timeout=600 update >/dev/null
	apt_updated=1
}

missing_pkgs() {
	local have p
	# shellcheck disable=SC2086
	have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $PKGS 2>/dev/null |
		awk '$1 == "ii" { print $2 }')
	for p in $PKGS; do
		printf '%s\n' "$have" | grep -qx -- "$p" || printf '%s ' "$p"
	done
}

missing=$(missing_pkgs)
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing packages ($missing); run 'make deps' as root"
	say "deps: installing $missing"
	# A machine that never ran apt-get update has no package lists.
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt_update
	fi
	# shellcheck disable=SC2086
	if ! apt-get install $APT_OPTS $missing >/dev/null; then
		apt_update
		# shellcheck disable=SC2086
		apt-get install $APT_OPTS $missing >/dev/null
	fi
	missing=$(missing_pkgs)
	[ -z "$missing" ] || die "still missing after install: $missing"
fi

# Guest kernels: the linux-image package of exactly the header ABI, unpacked
# (never installed) so modules built against the headers load in the guest.
fetch_kernel() {
	local line=$1 abi dir tmp deb
	abi=$(kernel_abi "$line") || die "no headers for kernel line $line"
	dir=$(kernel_dir "$abi")
	if [ -f "$dir/.stamp" ] && [ -f "$dir/boot/vmlinuz-$abi" ]; then
		return 0
	fi
	say "deps: fetching guest kernel linux-image-$abi"
	mkdir -p "$CACHE/kernels"
	tmp=$(mktemp -d "$CACHE/kernels/.fetch.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	if ! (cd "$tmp" && apt-get -q download "linux-image-$abi" >/dev/null 2>&1); then
		apt_update
		(cd "$tmp" && apt-get -q download "linux-image-$abi" >/dev/null 2>&1) ||
		(cd "$tmp" && apt-get -q download "linux-image-$abi-unsigned" >/dev/null) ||
			die "cannot download linux-image-$abi"
	fi
	deb=$(ls "$tmp"/linux-image-*.deb)
	mkdir "$tmp/root"
	dpkg-deb -x "$deb" "$tmp/root"
	[ -f "$tmp/root/boot/vmlinuz-$abi" ] || die "$deb has no boot/vmlinuz-$abi"
	dpkg-deb -f "$deb" Package Version >"$tmp/root/.stamp"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
	rm -rf "$tmp"
	trap - EXIT
	say "deps: $dir/boot/vmlinuz-$abi"
}

for line in $KERNELS; do
	fetch_kernel "$line"
done
