#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build kmod/ out of tree against one kernel per argument.
#
# usage: build-module.sh OUTDIR KDIR [kbuild args...]
#
# kmod/ and include/ are copied side by side into OUTDIR, so that Kbuild's
# -I$(src)/../include finds the uapi header, and the module is built there
# (OUTDIR/kmod/postcopy_assist.ko).  Only files whose contents changed are
# copied, and they get a fresh time: Kbuild rebuilds exactly what changed,
# even when a source went back to an older version.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)

[ $# -ge 2 ] || die "usage: OUTDIR KDIR [kbuild args...]"
outdir=$1 kdir=$2
shift 2

[ -f "$kdir/Makefile" ] || die "$kdir is not a kernel tree or header directory"
[ -f "$top/kmod/Kbuild" ] || die "$top/kmod/Kbuild missing"

# sync_tree SRC DST: copy changed files, drop ones gone from SRC
sync_tree() {
	local src=$1 dst=$2 f
	(cd "$src" && find . -type f) | while read -r f; do
		mkdir -p "$dst/$(dirname "$f")"
		cmp -s "$src/$f" "$dst/$f" || cp "$src/$f" "$dst/$f"
	done
	(cd "$dst" && find . -type f \( -name '*.c' -o -name '*.h' -o -name Kbuild \) ! -name '*.mod.c') |
	while read -r f; do
		[ -e "$src/$f" ] || rm -f "$dst/$f"
	done
}

mkdir -p "$outdir/kmod" "$outdir/include"
sync_tree "$top/kmod" "$outdir/kmod"
sync_tree "$top/include" "$outdir/include"
make -C "$kdir" M="$outdir/kmod" "$@" modules
