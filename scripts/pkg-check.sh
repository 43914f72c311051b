#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side checks of the packaging (packaging/pkg.mk), one test of
# `make check`: the man pages render with man -l, without a groff
# warning; `make install` into a scratch DESTDIR installs the agent,
# libpca.so exporting exactly the functions of pca.h, a pkg-config file
# a program builds and links with, and a systemd unit that
# systemd-analyze verify accepts (its security exposure is printed).
# `make deb` with lintian too (15 s on an idle machine; PKG_DEB=0: not).
#
# usage: pkg-check.sh    (prints one "pkg-check: ok|FAILED" line last;
#                         the log is BUILD/pkg-check.log)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
log=$BUILD/pkg-check.log
root=$BUILD/pkg-root
mkdir -p "$BUILD"
: >"$log"

fails=0
step() { echo "== $*" >>"$log"; }
bad() { echo "pkg-check: $*" | tee -a "$log" >&2; fails=$((fails + 1)); }

step "make install"
rm -rf "$root"
if ! make -C "$top" --no-print-directory install DESTDIR="$root" PREFIX=/usr \
	>>"$log" 2>&1; then
	bad "make install failed"
	echo "pkg-check: FAILED (log: $log)"
	exit 1
fi

step "man pages"
for m in postcopy-agent.8 libpca.3 postcopy_assist.4; do
	f=$root/usr/share/man/man${m##*.}/$m
	if [ ! -s "$f" ]; then
		bad "$m not installed"
		continue
	fi
	out=$(MANWIDTH=80 man --warnings -l "$f" 2>"$BUILD/man.err")
	if [ -s "$BUILD/man.err" ] || ! grep -q NAME <<<"$out"; then
		bad "$m does not render: $(head -n3 "$BUILD/man.err")"
	fi
	echo "$m: $(wc -l <<<"$out") lines" >>"$log"
done
# every subcommand of the agent has its place in postcopy-agent(8)
page=$(MANWIDTH=200 man -l "$root/usr/share/man/man8/postcopy-agent.8" 2>/dev/null)
for c in $("$root/usr/sbin/postcopy-agent" help | sed -n 's/^  \([a-z]\+\).*/\1/p'); do
	grep -q "^       $c\b" <<<"$page" || bad "postcopy-agent(8) lacks the command $c"
done

step "libpca.so exports"
so=$root/usr/lib/libpca.so
api=$(sed -n 's/.*\b\(pca_[a-z0-9_]*\)(.*/\1/p' "$top/agent/lib/pca.h" |
	grep -v -x -e pca_bitmap_bytes | sort -u)
exp=$(nm -D --defined-only "$so" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
if [ "$api" != "$exp" ]; then
	bad "libpca.so exports differ from pca.h: $(diff <(echo "$api") <(echo "$exp") | grep '^[<>]' | tr '\n' ' ')"
fi
objdump -p "$so" | grep -q 'SONAME *libpca.so.0$' || bad "libpca.so has no SONAME libpca.so.0"

step "pkg-config"
cat >"$BUILD/pkg-user.c" <<'EOC'
#include <stdio.h>
#include <pca.h>

int main(void)
{
	printf("%s\n", pca_feature_name(0));
	return 0;
}
EOC
# the installed file, its prefix moved to the scratch DESTDIR
mkdir -p "$BUILD/pkg-pc"
sed "s|^prefix=.*|prefix=$root/usr|" "$root/usr/lib/pkgconfig/libpca.pc" \
	>"$BUILD/pkg-pc/libpca.pc"
# shellcheck disable=SC2046
if ! cc -o "$BUILD/pkg-user" "$BUILD/pkg-user.c" \
	$(PKG_CONFIG_PATH=$BUILD/pkg-pc pkg-config --cflags --libs libpca) \
	>>"$log" 2>&1; then
	bad "a program does not build with pkg-config's libpca flags"
elif ! LD_LIBRARY_PATH=$root/usr/lib "$BUILD/pkg-user" >>"$log" 2>&1; then
	bad "a program linked with libpca does not run"
elif ! LD_LIBRARY_PATH=$root/usr/lib ldd "$BUILD/pkg-user" | grep -q "$root/usr/lib/libpca.so.0"; then
	bad "the program did not link the installed libpca.so.0"
fi

step "systemd unit"
unit=$BUILD/pkg-unit/postcopy-agent.service
mkdir -p "${unit%/*}"
sed "s|^ExecStart=/usr/sbin/|ExecStart=$root/usr/sbin/|" \
	"$root/usr/lib/systemd/system/postcopy-agent.service" >"$unit"
if ! MANPATH=$root/usr/share/man systemd-analyze verify "$unit" >>"$log" 2>&1; then
	bad "systemd-analyze verify: $(tail -n2 "$log" | tr '\n' ' ')"
fi
grep -q '^Type=notify' "$unit" && grep -q '^Restart=on-failure' "$unit" ||
	bad "the unit lacks Type=notify or Restart=on-failure"
sec=$(systemd-analyze security --offline=true --no-pager "$unit" 2>>"$log")
echo "$sec" >>"$log"
exposure=$(sed -n 's/.*Overall exposure level for [^:]*: *//p' <<<"$sec")
echo "pkg-check: systemd-analyze security: exposure $exposure"
[ -n "$exposure" ] || bad "systemd-analyze security printed no exposure"

if [ "${PKG_DEB:-1}" = 1 ]; then
	step "make deb"
	if make -C "$top" --no-print-directory deb >>"$log" 2>&1; then
		echo "pkg-check: make deb: $(cd "$BUILD/deb" && echo *.deb)"
	else
		bad "make deb or lintian failed"
	fi
fi

if [ "$fails" = 0 ]; then
	echo "pkg-check: ok"
	exit 0
fi
echo "pkg-check: FAILED (log: $log)"
exit 1
