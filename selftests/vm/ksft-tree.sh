#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Unpack the kernel's kselftest framework from Debian's linux-source-6.12
# tarball into the cache, once: tools/testing/selftests (kselftest_harness.h
# and kselftest.h, which the test binaries include; lib.mk, which
# selftests/Makefile includes; run_kselftest.sh and kselftest/runner.sh,
# which run the suite in the guest), tools/include, scripts/subarch.include
# and the top-level Makefile: enough of a kernel tree to build the suite
# as tools/testing/selftests/postcopy_assist (selftests/vm/intree-build.sh).
# Prints the tree's top directory (lib.sh: ksft_tree).
#
# Environment: CACHE, LINUX_SOURCE_YNL (another tarball).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

tarball=$(ynl_tarball) ||
	die "no linux-source-6.12 tarball in /usr/src: run 'make deps'"
dir=$(ksft_tree)
if [ ! -f "$dir/.stamp" ]; then
	say "kselftest: extracting tools/testing/selftests from $tarball" >&2
	# Unpacked beside and renamed into place, as in ynl-tree.sh.
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "$dir.XXXXXX")
	chmod 0755 "$tmp"
	# shellcheck disable=SC2064
	trap "rm -rf '$tmp'" EXIT
	top=$(tar -tf "$tarball" | head -n1 | cut -d/ -f1)
	tar -xf "$tarball" -C "$tmp" --strip-components=1 \
		"$top/Makefile" "$top/scripts/subarch.include" \
		"$top/tools/testing/selftests" "$top/tools/include" \
		"$top/tools/scripts"
	for f in tools/testing/selftests/kselftest_harness.h \
		tools/testing/selftests/kselftest.h \
		tools/testing/selftests/lib.mk \
		tools/testing/selftests/Makefile \
		tools/testing/selftests/run_kselftest.sh \
		tools/testing/selftests/kselftest/runner.sh; do
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
