#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the suite the upstream way: copy selftests/ into the kernel tree
# ksft-tree.sh unpacked (Debian's linux-source-6.12) as
# tools/testing/selftests/postcopy_assist, install the module's UAPI
# headers into the tree's usr/include, and run
#	make -C tools/testing/selftests TARGETS=postcopy_assist PCA_SRC=<here>
# then `make install`, whose kselftest-list.txt must name every test.
# The tree is a hard-linked copy in BUILD/intree; the cache stays clean.
#
# usage: intree-build.sh       (prints one "intree-build: ok|FAILED" line;
#                               the log is BUILD/intree.log)
#
# Environment: BUILD, CACHE.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)

BUILD=${BUILD:-$top/build}
tree=$("$here/ksft-tree.sh")
work=$BUILD/intree
log=$BUILD/intree.log

build() {
	local st=$work/tools/testing/selftests want
	rm -rf "$work"
	mkdir -p "$work"
	cp -al "$tree/." "$work/"
	cp -r "$top/selftests" "$st/postcopy_assist"
	rm -rf "$st/postcopy_assist/vm" "$st/postcopy_assist/debug"
	mkdir -p "$work/usr/include/linux"
	cp "$top"/include/uapi/linux/*.h "$work/usr/include/linux/"
	make -C "$st" -j"$(nproc)" TARGETS=postcopy_assist PCA_SRC="$top"
	make -C "$st" TARGETS=postcopy_assist PCA_SRC="$top" \
		INSTALL_PATH="$work/install" install
	want=$(make -s -C "$top/selftests" KSFT_DIR="$st" OUTPUT="$work/list" \
		emit_tests COLLECTION=postcopy_assist | grep '^postcopy_assist:')
	[ -n "$want" ] || { echo "no tests listed"; return 1; }
	for t in $want; do
		grep -qx "$t" "$work/install/kselftest-list.txt" ||
			{ echo "$t missing from kselftest-list.txt"; return 1; }
		[ -x "$work/install/postcopy_assist/${t#postcopy_assist:}" ] ||
			{ echo "$t not installed"; return 1; }
	done
	echo "$(echo "$want" | wc -l) tests built and installed"
}

mkdir -p "$BUILD"
if build >"$log" 2>&1; then
	say "intree-build: ok ($(tail -n1 "$log"))"
else
	tail -n 20 "$log"
	say "intree-build: FAILED (log: $log)"
	exit 1
fi
