#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The DKMS lane (make check-dkms): DKMS builds the module from the
# packaged source (postcopy-assist-dkms's files: the .deb of `make deb`
# when there is one, else `make install`'s usr/src) against each kernel
# line's headers, in a DKMS tree under BUILD (dkms add/build only: no
# install, nothing loaded here), and the guests run the API, fault and
# libpca tests on that DKMS-built module.  The agent and the example VMM
# (examples/) of that lane are built the way a VMM builds: against the
# installed libpca (libpca0 + libpca-dev, or make install's tree), found
# through pkg-config and linked as libpca.so.0, which the guests get in
# their /lib/x86_64-linux-gnu.  The test binaries themselves keep their
# static libpca.
#
# Environment: what selftests/vm/run.sh takes (BUILD, CACHE, KERNELS,
# TESTS: default "api_test fault_test libpca_test").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/selftests/vm/lib.sh"
BUILD=${BUILD:-$top/build}
version=$(cat "$top/VERSION")
work=$BUILD/dkms
rm -rf "$work"
mkdir -p "$work/root" "$work/tree" "$work/ko" "$work/bin"

deb=$(ls "$BUILD"/deb/postcopy-assist-dkms_"$version"-*_all.deb 2>/dev/null | tail -n1) || true
if [ -n "$deb" ]; then
	for pkg in postcopy-assist-dkms libpca0 libpca-dev; do
		f=$(ls "$BUILD"/deb/"$pkg"_"$version"-*.deb | tail -n1) ||
			die "no $pkg package next to $deb: run 'make deb'"
		say "dkms: installed from $f"
		dpkg-deb -x "$f" "$work/root"
	done
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

# The installed libpca, as pkg-config finds it: its .pc says prefix=/usr,
# and the tree sits under $work/root instead (a sysroot would move
# libnl's paths too).
pc=$(find "$work/root" -name libpca.pc | head -n1)
[ -n "$pc" ] || die "no libpca.pc in the installed tree"
mkdir -p "$work/pkgconfig"
sed "s|^prefix=.*|prefix=$work/root/usr|" "$pc" >"$work/pkgconfig/libpca.pc"
export PKG_CONFIG_PATH=$work/pkgconfig
libdir=$(pkg-config --variable=libdir libpca)
[ -e "$libdir/libpca.so.0" ] || die "no libpca.so.0 in $libdir"
say "dkms: agent and example VMM against $(pkg-config --modversion libpca) in $libdir"
cp -a "$BUILD/bin/." "$work/bin/"
rm -f "$work/bin/postcopy-agent" "$work/bin/pca-vmm-example"
make -C "$top/agent" --no-print-directory OUT="$work/agent" \
	LIBPCA_LIBS="$(pkg-config --libs libpca)" >"$work/build.log" 2>&1 ||
	die "building the agent against the installed libpca failed (log: $work/build.log)"
make -C "$top/examples" --no-print-directory OUT="$work/bin" \
	>>"$work/build.log" 2>&1 ||
	die "building the example VMM with pkg-config failed (log: $work/build.log)"
cp "$work/agent/postcopy-agent" "$work/bin/"
for b in postcopy-agent pca-vmm-example; do
	readelf -d "$work/bin/$b" | grep -q 'NEEDED.*\[libpca\.so\.0\]' ||
		die "$b does not link libpca.so.0"
done

MODULE_KO_DIR=$work/ko TESTS=${TESTS:-api_test fault_test libpca_test} \
	BIN_DIR=$work/bin GUEST_LIB_DIR=$libdir INTREE_CHECK=0 \
	PKG_CHECK=0 exec "$top/selftests/vm/run.sh" check
