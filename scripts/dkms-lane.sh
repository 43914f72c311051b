#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The DKMS lane (make check-dkms): DKMS builds the module from the
# packaged source (postcopy-assist-dkms's files: the .deb of `make deb`
# when there is one, else `make install`'s usr/src) against each kernel
# line's headers, in a DKMS tree under BUILD (dkms add/build only: no
# install, nothing loaded here), and the guests run the API and fault
# tests on that DKMS-built module.
#
# Environment: what selftests/vm/run.sh takes (BUILD, CACHE, KERNELS,
# TESTS: default "api_test fault_test").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/selftests/vm/lib.sh"
BUILD=${BUILD:-$top/build}
version=$(cat "$top/VERSION")
work=$BUILD/dkms
rm -rf "$work"
mkdir -p "$work/root" "$work/tree" "$work/ko"

deb=$(ls "$BUILD"/deb/postcopy-assist-dkms_"$version"-*_all.deb 2>/dev/null | tail -n1) || true
if [ -n "$deb" ]; then
	say "dkms: source from $deb"
	dpkg-deb -x "$deb" "$work/root"
else
	say "dkms: source from make install"
	make -C "$top" --no-print-directory install DESTDIR="$work/root" \
		PREFIX=/usr >"$work/install.log" 2>&1 ||
		die "make install failed (log: $work/install.log)"
fi
src=$work/root/usr/src
[ -f "$src/postcopy-assist-$version/dkms.conf" ] || die "no dkms.conf in $src"
dk() { dkms "$@" -m postcopy-assist -v "$version" --dkmstree "$work/tree" --sourcetree "$src"; }
dk add >"$work/dkms.log" 2>&1 || die "dkms add failed (log: $work/dkms.log)"
for line in ${KERNELS:-6.1 6.12}; do
	abi=$(kernel_abi "$line") || die "no headers for kernel line $line: run 'make deps'"
	say "dkms: build for $abi"
	dk build -k "$abi" --kernelsourcedir "/usr/src/linux-headers-$abi" \
		>>"$work/dkms.log" 2>&1 || die "dkms build for $abi failed (log: $work/dkms.log)"
	ko=$(ls "$work/tree/postcopy-assist/$version/$abi"/*/module/postcopy_assist.ko* | head -n1)
	mkdir -p "$work/ko/$abi"
	case $ko in
	*.xz) xz -dc "$ko" ;;
	*.zst) zstd -qdc "$ko" ;;
	*.gz) gzip -dc "$ko" ;;
	*) cat "$ko" ;;
	esac >"$work/ko/$abi/postcopy_assist.ko"
done
MODULE_KO_DIR=$work/ko TESTS=${TESTS:-api_test fault_test} INTREE_CHECK=0 \
	PKG_CHECK=0 exec "$top/selftests/vm/run.sh" check
