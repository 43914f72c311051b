#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Get the debug lane ready for selftests/vm/run.sh: the debug kernel
# (build-kernel.sh) and the module built against it, in BUILD/debug/kmod.
# Prints the kernel's build tree (run.sh's DEBUG_KDIR) when the lane is to
# run, and nothing when it is not.
#
# usage: prepare.sh BUILD auto|1|0
#   1     run the lane; build the kernel first if it is not cached (the
#         first build takes most of an hour on two cores)
#   auto  run the lane only if the kernel is cached already
#   0     do not run it
#
# Environment: CACHE, V.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/lib.sh"

[ $# = 2 ] || die "usage: BUILD auto|1|0"
build=$1 want=$2

case $want in
0 | "") exit 0 ;;
auto)
	if ! kdir=$("$here/build-kernel.sh" -k); then
		warn "debug lane skipped: no cached debug kernel (make check-debug builds it, or CHECK_DEBUG=1)"
		exit 0
	fi
	;;
1) kdir=$("$here/build-kernel.sh") ;;
*) die "CHECK_DEBUG must be auto, 1 or 0, not '$want'" ;;
esac

# Kbuild's chatter goes to stderr: stdout is the answer.
"$here/../vm/build-module.sh" "$build/debug" "$kdir" W=1 V="${V:-0}" >&2
echo "$kdir"
