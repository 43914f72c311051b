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
	# One pass over the 150 MB archive: ~15 s.
	unpack_source_tree "$dir" "$tarball" \
		"tools/net/ynl/cli.py tools/net/ynl/lib/ynl.py
		 Documentation/netlink/genetlink-legacy.yaml
		 Documentation/netlink/specs/nlctrl.yaml" \
		--wildcards '*/tools/net/ynl/*' '*/Documentation/netlink/*'
fi
printf '%s\n' "$dir"
