#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Generate, from Documentation/netlink/specs/postcopy_assist.yaml, with the
# kernel's own ynl tools (Debian's linux-source-6.12, unpacked by
# selftests/vm/ynl-tree.sh):
#
#   include/uapi/linux/postcopy_assist_netlink.h   the family's UAPI enums
#   kmod/netlink-gen.[ch]                           policies and op table
#   Documentation/netlink/postcopy_assist.rst       the netlink reference
#   agent/lib/spec-gen.[ch]                         libpca's names and reply
#                                                   policies (libpca-gen.py:
#                                                   libpca uses libnl, which
#                                                   ynl-gen-c does not target)
#
#   ynl-regen.sh           write the files
#   ynl-regen.sh --check   fail, naming them, if the tree's files differ
#
# The spec is validated against the kernel's genetlink-legacy schema
# (python3-jsonschema) on the way.  Environment: CACHE.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
vm=$top/selftests/vm
. "$vm/lib.sh"

# Debian's python3 and the packages make deps installs, whatever else PATH
# offers: the output must not depend on the machine.
py=/usr/bin/python3
check=0
[ "${1:-}" = --check ] && check=1

"$vm/ynl-tree.sh" >/dev/null
ynl=$(ynl_tree) || die "no linux-source-6.12 tarball in /usr/src: run 'make deps'"

spec=Documentation/netlink/specs/postcopy_assist.yaml
outputs="include/uapi/linux/postcopy_assist_netlink.h kmod/netlink-gen.h
	 kmod/netlink-gen.c Documentation/netlink/postcopy_assist.rst
	 agent/lib/spec-gen.h agent/lib/spec-gen.c"

# The generators name the spec by its path below a kernel tree's root (the
# directory with MAINTAINERS) and find the schema two levels above the spec:
# give them a tree of that shape.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tree/Documentation/netlink/specs" "$work/out"
touch "$work/tree/MAINTAINERS"
cp "$ynl"/Documentation/netlink/*.yaml "$work/tree/Documentation/netlink/"
cp "$top/$spec" "$work/tree/$spec"

gen() {
	(cd "$work/tree" && "$py" "$ynl/tools/net/ynl/ynl-gen-c.py" \
		--spec "$spec" "$@") >"$work/log" 2>&1 ||
		{ cat "$work/log"; die "ynl-gen-c failed on $spec"; }
}
gen --mode uapi --header -o "$work/out/postcopy_assist_netlink.h"
gen --mode kernel --header -o "$work/out/netlink-gen.h"
gen --mode kernel --source -o "$work/out/netlink-gen.c"
(cd "$work/tree" && "$py" "$ynl/tools/net/ynl/ynl-gen-rst.py" \
	-i "$spec" -o "$work/out/postcopy_assist.rst") >"$work/log" 2>&1 ||
	{ cat "$work/log"; die "ynl-gen-rst failed on $spec"; }

(cd "$work/tree" && "$py" "$here/libpca-gen.py" "$spec" "$work/out/spec-gen") \
	>"$work/log" 2>&1 || { cat "$work/log"; die "libpca-gen failed on $spec"; }

stale=
for f in $outputs; do
	new=$work/out/$(basename "$f")
	if [ "$check" = 1 ]; then
		if ! cmp -s "$new" "$top/$f"; then
			diff -u "$top/$f" "$new" | head -n 40 || true
			stale="$stale $f"
		fi
	elif ! cmp -s "$new" "$top/$f"; then
		cp "$new" "$top/$f"
		say "ynl-regen: wrote $f"
	fi
done
if [ -n "$stale" ]; then
	say "ynl-regen: out of date with $spec:$stale"
	say "ynl-regen: run 'make spec' and commit the result"
	exit 1
fi
[ "$check" = 1 ] && say "ynl-regen: generated files match $spec"
exit 0
