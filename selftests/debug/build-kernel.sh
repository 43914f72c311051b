#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once) the debug guest kernel of `make check-debug` and print the
# directory of its build tree (the KDIR the module is built against; the
# guest kernel is arch/x86/boot/bzImage in it).
#
# The kernel is Debian's linux-source-6.1, configured from allnoconfig plus
# this directory's fragments (base.config: what the guest needs;
# debug.config: KASAN, UBSAN, lockdep, kmemleak, ...), in the style of the
# WireGuard test harness.  Every line of the fragments is checked against
# the final .config, so an option that a dependency silently dropped fails
# the build instead of silently testing less.
#
# The tree is cached outside the repository, in
#   $CACHE/debug-kernel/<key>/{src,obj}
# where <key> hashes the fragments, the source package's version, the
# compiler and RECIPE below: a second run costs one sha256sum.  Nothing is
# rebuilt when this script's comments change; bump RECIPE when a change to
# the build steps must invalidate cached kernels.
#
# usage: build-kernel.sh [-k]     -k: only print the key's directory, and
#                                 exit 1 if no finished build is there
#
# Environment: CACHE, LINUX_SRC_TAR (default
# /usr/src/linux-source-6.1.tar.xz), JOBS (default: nproc), V=1 (whole
# build log on the terminal).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../vm/lib.sh"

RECIPE=1
LINUX_SRC_TAR=${LINUX_SRC_TAR:-/usr/src/linux-source-6.1.tar.xz}
SRC_PKG=${SRC_PKG:-linux-source-6.1}
JOBS=${JOBS:-$(nproc)}
FRAGMENTS="$here/base.config $here/debug.config"

check_only=0
[ "${1:-}" = -k ] && check_only=1

[ -f "$LINUX_SRC_TAR" ] || die "$LINUX_SRC_TAR missing: run 'make deps' ($SRC_PKG)"

src_version=$(dpkg-query -W -f='${Version}' "$SRC_PKG" 2>/dev/null || true)
[ -n "$src_version" ] || src_version=$(stat -c '%s %Y' "$LINUX_SRC_TAR")
cc_version=$(${CC:-gcc} --version | head -n1)

# shellcheck disable=SC2086
key=$({
	echo "recipe $RECIPE"
	echo "source $SRC_PKG $src_version ${LINUX_SRC_TAR##*/}"
	echo "cc $cc_version"
	cat $FRAGMENTS
} | sha256sum | cut -c1-16)

top=$CACHE/debug-kernel
dir=$top/$key
obj=$dir/obj
bzimage=$obj/arch/x86/boot/bzImage

done_already() { [ -f "$dir/.stamp" ] && [ -f "$bzimage" ] && [ -f "$obj/Module.symvers" ]; }

if [ "$check_only" = 1 ]; then
	echo "$obj"
	done_already
	exit
fi

mkdir -p "$top"
# One builder at a time; a second caller waits and then finds the stamp.
exec 9>"$top/.lock"
if ! flock -n 9; then
	warn "another build of the debug kernel is running; waiting for it"
	flock 9
fi

if done_already; then
	echo "$obj"
	exit 0
fi

log=$dir.log
warn "building the debug kernel in $dir (first run only; log: $log)"
t0=$(date +%s)
# An interrupted build goes on where it stopped: make is incremental.
if [ ! -f "$dir/src/Makefile" ]; then
	rm -rf "$dir"
	mkdir -p "$dir/src.tmp"
	: >"$log"
	warn "unpacking $LINUX_SRC_TAR"
	tar -xJf "$LINUX_SRC_TAR" -C "$dir/src.tmp" --strip-components=1
	mv "$dir/src.tmp" "$dir/src"
fi
mkdir -p "$obj"

run() {
	if [ "${V:-0}" != 0 ]; then
		"$@" 2>&1 | tee -a "$log"
		return "${PIPESTATUS[0]}"
	fi
	"$@" >>"$log" 2>&1 || {
		warn "failed: $*"
		tail -n 40 "$log" >&2
		return 1
	}
}


# allnoconfig + fragments, as merge_config.sh -n does it: the fragments are
# KCONFIG_ALLCONFIG, so what they do not name stays off.
# shellcheck disable=SC2086
(cd "$dir/src" && run ./scripts/kconfig/merge_config.sh -n -O "$obj" $FRAGMENTS)

# Every requested value must have survived Kconfig's dependency resolution.
bad=0
# shellcheck disable=SC2086
while IFS= read -r line; do
	case $line in
	CONFIG_*=*)
		sym=${line%%=*}
		got=$(grep -m1 -e "^$sym=" -e "^# $sym is not set" "$obj/.config" || true)
		if [ "$got" != "$line" ]; then
			warn "requested $line, got: ${got:-nothing}"
			bad=1
		fi
		;;
	"# CONFIG_"*" is not set")
		sym=${line#"# "}
		sym=${sym%" is not set"}
		if grep -q "^$sym=" "$obj/.config"; then
			warn "requested $sym off, got: $(grep "^$sym=" "$obj/.config")"
			bad=1
		fi
		;;
	esac
done < <(cat $FRAGMENTS)
[ "$bad" = 0 ] || die "the kernel config lacks requested options (see above); fix the fragments in $here"

warn "compiling (make -j$JOBS bzImage modules_prepare)"
run make -C "$dir/src" O="$obj" -j"$JOBS" bzImage modules_prepare
# modules.builtin, for mkinitramfs to know which GUEST_MODULES are built in
# (a byproduct of vmlinux.o when modules are enabled).
[ -f "$obj/modules.builtin" ] || : >"$obj/modules.builtin"
# M= builds need Module.symvers: `make modules` would write it as
# vmlinux.symvers plus the in-tree modules' symbols, and there are none.
[ -f "$obj/Module.symvers" ] || cp "$obj/vmlinux.symvers" "$obj/Module.symvers" ||
	die "no vmlinux.symvers in $obj"

t1=$(date +%s)
{
	echo "key=$key"
	echo "source=$SRC_PKG $src_version"
	echo "cc=$cc_version"
	echo "release=$(cat "$obj/include/config/kernel.release")"
	echo "build_seconds=$((t1 - t0))"
	echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$dir/.stamp.tmp"
mv "$dir/.stamp.tmp" "$dir/.stamp"
warn "debug kernel built in $((t1 - t0))s: $bzimage"
echo "$obj"
