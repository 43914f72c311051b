#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build kmod/ out of tree against one kernel per argument.
#
# usage: build-module.sh OUTDIR KDIR [kbuild args...]
#
# kmod/ and include/ are copied side by side into OUTDIR, so that Kbuild's
# -I$(src)/../include finds the uapi header, and the module is built there
# (OUTDIR/kmod/postcopy_assist.ko).  cp -p keeps the sources' times, so
# Kbuild rebuilds only what changed.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)

[ $# -ge 2 ] || die "usage: OUTDIR KDIR [kbuild args...]"
outdir=$1 kdir=$2
shift 2

[ -f "$kdir/Makefile" ] || die "$kdir is not a kernel tree or header directory"
[ -f "$top/kmod/Kbuild" ] || die "$top/kmod/Kbuild missing"

mkdir -p "$outdir/kmod" "$outdir/include"
cp -Rp "$top/kmod/." "$outdir/kmod/"
cp -Rp "$top/include/." "$outdir/include/"
make -C "$kdir" M="$outdir/kmod" "$@" modules
