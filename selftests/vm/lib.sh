# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Helpers shared by the VM harness scripts; sourced, never run.

say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { warn "$*"; exit 1; }

# Cache of guest kernels and tools; nothing in it is ever committed.
: "${CACHE:=${HOME:-/root}/.cache/postcopy_assist}"

# Kernel line (6.1, 6.12, ...) -> Debian ABI (6.1.0-56-amd64, ...).
# The ABI comes from the installed header metapackages, so a point release
# of Debian moves the guest kernel and the headers together.
kernel_abi() {
	local line=$1 pkg dep abi
	for pkg in "linux-headers-$line-amd64" linux-headers-amd64; do
		dep=$(dpkg-query -W -f='${Depends}' "$pkg" 2>/dev/null) || continue
		abi=$(printf '%s\n' "$dep" | tr ',' '\n' |
			sed -n 's/^ *linux-headers-\([^ ]*-amd64\).*/\1/p' | head -n1)
		case $abi in
		"$line".*|"$line"-*|"$line"+*)
			printf '%s\n' "$abi"
			return 0 ;;
		esac
	done
	return 1
}

# Header package that carries a kernel line (for installing it).
kernel_headers_pkg() {
	case $1 in
	6.1) echo linux-headers-amd64 ;;
	*) echo "linux-headers-$1-amd64" ;;
	esac
}

kernel_dir() { printf '%s/kernels/%s\n' "$CACHE" "$1"; }

# The kernel's YNL tooling, unpacked from Debian's linux-source-6.12 by
# ynl-tree.sh: tools/net/ynl (cli.py, lib/, the C generator) and
# Documentation/netlink (the schemas and specs/), under one directory keyed
# by the tarball's name and mtime.  Prints that directory; fails when the
# tarball is missing.  Whether it is unpacked yet: its .stamp file.
ynl_tarball() {
	local t
	t=${LINUX_SOURCE_YNL:-$(ls /usr/src/linux-source-6.12.tar.* 2>/dev/null | head -n1)}
	[ -n "$t" ] && [ -f "$t" ] || return 1
	printf '%s\n' "$t"
}

ynl_tree() {
	local t
	t=$(ynl_tarball) || return 1
	printf '%s/ynl/%s-%s\n' "$CACHE" "$(basename "$t" | sed 's/\.tar\..*//')" \
		"$(stat -c %Y "$t")"
}

# Unpack parts of a kernel source tarball into DIR once (DIR/.stamp says it
# is complete): TARBALL, the files that must be there (one word each), then
# tar's arguments naming the members (their first path component is
# stripped).  Unpacked beside DIR and renamed into place: another tree's
# build may be unpacking the same tarball, and a half-made tree is never
# seen.
unpack_source_tree() {
	local dir=$1 tarball=$2 need=$3 tmp f
	shift 3
	[ -f "$dir/.stamp" ] && return 0
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "$dir.XXXXXX")
	chmod 0755 "$tmp"
	if ! tar -xf "$tarball" -C "$tmp" --strip-components=1 "$@"; then
		rm -rf "$tmp"
		die "cannot unpack $tarball"
	fi
	for f in $need; do
		if [ ! -f "$tmp/$f" ]; then
			rm -rf "$tmp"
			die "$tarball has no $f"
		fi
	done
	touch "$tmp/.stamp"
	if [ ! -f "$dir/.stamp" ]; then
		rm -rf "$dir"
		mv -T "$tmp" "$dir" 2>/dev/null || [ -f "$dir/.stamp" ] ||
			die "cannot move $tmp to $dir"
	fi
	rm -rf "$tmp"
}

# The kernel's kselftest framework, unpacked from the same tarball by
# ksft-tree.sh: tools/testing/selftests (kselftest_harness.h, kselftest.h,
# lib.mk, the runner), tools/include and what the selftests' Makefile
# includes, as a kernel source tree the suite can also be copied into.
# Prints its top directory; whether it is unpacked yet: its .stamp file.
ksft_tree() {
	local t
	t=$(ynl_tarball) || return 1
	printf '%s/kselftest/%s-%s\n' "$CACHE" "$(basename "$t" | sed 's/\.tar\..*//')" \
		"$(stat -c %Y "$t")"
}
