#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unpack the kernel's YNL tooling from Debian's linux-source-6.12 tarball
# into the cache, once: tools/net/ynl (cli.py and its library lib/, the C
# generator ynl-gen-c.py) and Documentation/netlink (the schemas, which
# nlspec.py looks for next to a spec's directory, and the kernel's specs).
# The ynl lane copies cli.py into the guest (mkinitramfs.sh); the spec's
# generators run from the same tree.  Prints the tree (lib.sh: ynl_tree).
#
# Environment: CACHE, LINUX_SOURCE_YNL (another tarball).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

tarball=$(ynl_tarball) ||
	die "no linux-source-6.12 tarball in /usr/src: run 'make deps'"
dir=$(ynl_tree)
if [ ! -f "$dir/.stamp" ]; then
	say "ynl: extracting tools/net/ynl and Documentation/netlink from $tarball" >&2
	# Unpacked beside and renamed into place: another tree's build may be
	# extracting the same tarball, and a half-made tree is never seen.
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "$dir.XXXXXX")
	chmod 0755 "$tmp"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	# One pass over the 150 MB archive: ~15 s.
	tar -xf "$tarball" -C "$tmp" --strip-components=1 --wildcards \
		'*/tools/net/ynl/*' '*/Documentation/netlink/*'
	for f in tools/net/ynl/cli.py tools/net/ynl/lib/ynl.py \
		Documentation/netlink/genetlink-legacy.yaml \
		Documentation/netlink/specs/nlctrl.yaml; do
		[ -f "$tmp/$f" ] || die "$tarball has no $f"
	done
	touch "$tmp/.stamp"
	if [ ! -f "$dir/.stamp" ]; then
		rm -rf "$dir"
		mv -T "$tmp" "$dir" 2>/dev/null || [ -f "$dir/.stamp" ] ||
			die "cannot move $tmp to $dir"
	fi
	rm -rf "$tmp"
	trap - EXIT
fi
printf '%s\n' "$dir"
