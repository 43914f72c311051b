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
	top=$(tar -tf "$tarball" | head -n1 | cut -d/ -f1)
	sel=tools/testing/selftests
	unpack_source_tree "$dir" "$tarball" \
		"$sel/kselftest_harness.h $sel/kselftest.h $sel/lib.mk
		 $sel/Makefile $sel/run_kselftest.sh $sel/kselftest/runner.sh" \
		"$top/Makefile" "$top/scripts/subarch.include" "$top/$sel" \
		"$top/tools/include" "$top/tools/scripts"
fi
printf '%s\n' "$dir"
