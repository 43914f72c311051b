#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest initramfs: static busybox with its applets, the harness
# /init, the module under test, the agent and test binaries, and any extra
# kernel modules the tests need (with their dependencies, decompressed).
#
# usage: mkinitramfs.sh -o OUT.cpio -a ABI -k postcopy_assist.ko
#        [-b BINDIR] [-s SELFTESTDIR] [-l LIST [-t "name ..."]] [-m MODSRC]
#        [-g "veth sch_netem ..."] [-y YNLTREE] [-K KSFTTREE]
#
# The selftests are laid out as kselftest's `make install` does, under
# /selftests: run_kselftest.sh and kselftest/ (the runner) from the kernel
# tree KSFTTREE (ksft-tree.sh), kselftest-list.txt (the tests to run, as
# postcopy_assist:NAME) and postcopy_assist/ (SELFTESTDIR: the binaries,
# settings, config).  The runner's timeouts need coreutils' timeout (it
# passes --foreground), which replaces busybox's.
#
# MODSRC is searched for the -g modules: an unpacked linux-image root
# (lib/modules/ABI inside) or a kernel build tree.
#
# When ynl_test is to run, the guest also gets python3 (the host's, with
# the part of its standard library a CLI uses, PyYAML and jsonschema) and
# the kernel's ynl CLI from YNLTREE (ynl-tree.sh) under /ynl, with the
# family's spec, Documentation/netlink/specs/postcopy_assist.yaml (or the
# file YNL_SPEC names, when trying out another).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

out='' abi='' ko='' bindir='' stdir='' list='' tests='' modsrc='' gmods=''
ynltree='' ksfttree='' ksftargs=''
while getopts o:a:k:b:s:l:t:m:g:y:K:A: opt; do
	case $opt in
	o) out=$OPTARG ;;
	a) abi=$OPTARG ;;
	k) ko=$OPTARG ;;
	b) bindir=$OPTARG ;;
	s) stdir=$OPTARG ;;
	l) list=$OPTARG ;;
	t) tests=$OPTARG ;;
	m) modsrc=$OPTARG ;;
	g) gmods=$OPTARG ;;
	y) ynltree=$OPTARG ;;
	K) ksfttree=$OPTARG ;;
	A) ksftargs=$OPTARG ;;
	*) die "bad option" ;;
	esac
done
[ -n "$out" ] && [ -n "$abi" ] && [ -n "$ko" ] || die "usage: -o OUT -a ABI -k MODULE.ko"
[ -f "$ko" ] || die "$ko: no such module"

BUSYBOX=${BUSYBOX:-/bin/busybox}
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"

root=$(mktemp -d "${TMPDIR:-/tmp}/pca-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,dev,etc/pca,lib,proc,sys,tmp,run,root,selftests,mnt}
mkdir -p "$root/usr"
# mktemp -d made the archive's root 0700, and mkdir follows the host's
# umask: give the guest the usual modes, so that a test running as an
# unprivileged user reaches the module instead of failing at path lookup.
chmod 0755 "$root" "$root"/{bin,dev,etc,etc/pca,lib,proc,sys,selftests,mnt,usr}
chmod 1777 "$root"/{tmp,run}
chmod 0700 "$root/root"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"
ln -s bin "$root/sbin"
ln -s lib "$root/lib64"

# The initial console must exist before /init runs, or init starts with no
# stdin/stdout; devtmpfs is mounted only later, by init.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true

cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
	[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done

printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"

install -m 755 "$here/init" "$root/init"
install -m 755 "$here/demo.sh" "$root/demo.sh"
cp "$ko" "$root/lib/postcopy_assist.ko"

# Dynamically linked binaries get their libraries; the project links its
# binaries statically, so this is only a safety net (python3 of ynl_test
# aside).
# Libraries from GUEST_LIB_DIR (not the host's: the DKMS lane's installed
# libpca) go where the guest's loader looks, /lib/x86_64-linux-gnu.
copy_so_libs() {
	local f=$1 lib dst
	for lib in $(LD_LIBRARY_PATH=${GUEST_LIB_DIR:-} ldd "$f" 2>/dev/null |
		grep -o '/[^ ]*'); do
		dst=$lib
		case $lib in
		"${GUEST_LIB_DIR:-/nonexistent}"/*) dst=/lib/x86_64-linux-gnu/${lib##*/} ;;
		esac
		[ -e "$root$dst" ] && continue
		mkdir -p "$root$(dirname "$dst")"
		cp -L "$lib" "$root$dst"
	done
}
copy_libs() {
	readelf -l "$1" 2>/dev/null | grep -q 'program interpreter' || return 0
	copy_so_libs "$1"
}

if [ -n "$bindir" ] && [ -d "$bindir" ]; then
	for f in "$bindir"/*; do
		[ -f "$f" ] || continue
		rm -f "$root/bin/${f##*/}"
		cp "$f" "$root/bin/"
		copy_libs "$f"
	done
fi
# iproute2's ip and tc, for tests between network namespaces (busybox's
# ip has no netns support and there is no tc applet), with their
# libraries.  Optional: tests skip what is missing.
for tool in ip tc; do
	path=
	for d in /usr/sbin /sbin /usr/bin /bin; do
		[ -x "$d/$tool" ] && [ ! -L "$d/$tool" ] && path=$d/$tool && break
	done
	[ -n "$path" ] || continue
	rm -f "$root/bin/$tool"
	cp "$path" "$root/bin/$tool"
	copy_libs "$path"
done

# coreutils' timeout, for kselftest's runner
path=$(command -v timeout) || die "no timeout (coreutils)"
path=$(readlink -f "$path")
rm -f "$root/bin/timeout"
cp "$path" "$root/bin/timeout"
copy_libs "$path"

ksft=$root/selftests
coll=$ksft/postcopy_assist
if [ -n "$stdir" ] && [ -d "$stdir" ]; then
	mkdir -p "$coll"
	chmod 0755 "$coll"
	# Top-level entries only: OUT/.obj holds the build's objects.
	for f in "$stdir"/*; do
		[ -e "$f" ] && cp -R "$f" "$coll/"
	done
	for f in "$coll"/*; do
		[ -f "$f" ] && [ -x "$f" ] && copy_libs "$f"
	done
fi
if [ -n "$ksfttree" ]; then
	src=$ksfttree/tools/testing/selftests
	[ -f "$src/kselftest/runner.sh" ] || die "no kselftest runner in '$ksfttree' (ksft-tree.sh)"
	install -m 755 "$src/run_kselftest.sh" "$ksft/run_kselftest.sh"
	mkdir -p "$ksft/kselftest"
	cp "$src"/kselftest/*.sh "$src"/kselftest/*.py "$ksft/kselftest/"
	chmod -R a+rX "$ksft"
fi

# Harness arguments per binary for this kernel's run (-A; the debug lane's
# selftests/debug/ksft-args), which /init hands to kselftest's runner.
if [ -n "$ksftargs" ]; then
	[ -f "$ksftargs" ] || die "$ksftargs missing"
	install -m 644 "$ksftargs" "$root/etc/pca/ksft-args"
fi

# Test credentials for the migrations' TLS (mkcreds.sh), made once next
# to the archive, under /etc/pca/tls.
"$here/mkcreds.sh" "$(dirname "$out")/tls"
cp -R "$(dirname "$out")/tls" "$root/etc/pca/tls"
rm -f "$root/etc/pca/tls/.stamp"

# What /init runs: the names in LIST (TESTS or BENCH), in that order, or
# just those of them named by -t.
: >"$root/etc/pca/list"
if [ -n "$list" ]; then
	[ -f "$list" ] || die "$list missing"
	all=$(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$list" || true)
	if [ -n "$tests" ]; then
		# "api" names api_test too, "ynl" and "ynl_test" ynl_test.py.
		want=
		for t in $tests; do
			found=
			for n in "$t" "${t}_test" "$t.py" "${t}_test.py"; do
				if printf '%s\n' "$all" | grep -qx -- "$n"; then
					found=$n
					break
				fi
			done
			[ -n "$found" ] || die "'$t' is not in $list (have: $(echo $all))"
			want="$want $found"
		done
		tests=$want
		for t in $all; do
			case " $tests " in *" $t "*) printf '%s\n' "$t" ;; esac
		done >"$root/etc/pca/list"
	else
		printf '%s\n' "$all" >"$root/etc/pca/list"
	fi
fi

# Python and the kernel's ynl CLI, for ynl_test only: they are most of
# the archive's size.
# The library goes where the interpreter was built to find it, as on the
# host: /usr/lib/python3.11 and /usr/lib/python3/dist-packages (in a real
# /usr/lib; /usr/bin is /bin).  Modification times are kept so that the
# byte code compiled at package installation stays valid.
PY_SKIP='test idlelib tkinter turtledemo ensurepip lib2to3 pydoc_data
	 config-3.* distutils venv sqlite3 dbm curses asyncio multiprocessing
	 concurrent unittest xmlrpc wsgiref site-packages xml html logging ctypes
	 tomllib zoneinfo pydoc.py doctest.py turtle.py'
PY_PKGS='python3-yaml python3-jsonschema python3-attr python3-pyrsistent'
add_python() {
	local - py ver std pylibs so name ok lib top ex
	set -o pipefail
	py=$(readlink -f /usr/bin/python3)
	[ -x "$py" ] || die "no /usr/bin/python3 (make deps)"
	ver=${py##*/}
	std=/usr/lib/$ver
	[ -f "$std/os.py" ] || die "no standard library in $std"
	rm -f "$root/bin/$ver" "$root/bin/python3"
	cp "$py" "$root/bin/$ver"
	ln -s "$ver" "$root/bin/python3"
	copy_libs "$py"
	pylibs=$(ldd "$py" | grep -o '/[^ ]*')

	ex=(--exclude='__pycache__/*.opt-[12].pyc' --exclude=lib-dynload)
	for top in $PY_SKIP; do
		ex+=(--exclude="./$top")
		case $top in
		*.py) ex+=(--exclude="./__pycache__/${top%.py}.*") ;;
		esac
	done
	mkdir -p "$root/usr/lib/$ver/lib-dynload"
	chmod 0755 "$root/usr/lib"
	tar -C "$std" -c "${ex[@]}" . | tar -C "$root/usr/lib/$ver" -x
	# C modules that need no more libraries than python itself; the rest
	# (ssl, sqlite3, curses, ...) are optional or unused.
	for so in "$std"/lib-dynload/*.so; do
		name=${so##*/}
		case $name in _test* | _xx* | xx* | _ctypes_test*) continue ;; esac
		ok=1
		for lib in $(ldd "$so" | grep -o '/[^ ]*'); do
			printf '%s\n' "$pylibs" | grep -qxF -- "$lib" || ok=0
		done
		[ "$ok" = 1 ] && cp -p "$so" "$root/usr/lib/$ver/lib-dynload/"
	done

	# The packages' top-level entries in dist-packages.
	mkdir -p "$root/usr/lib/python3/dist-packages"
	# shellcheck disable=SC2086
	dpkg -L $PY_PKGS >/dev/null || die "missing one of $PY_PKGS (make deps)"
	# shellcheck disable=SC2086
	dpkg -L $PY_PKGS | sed -n 's|^/usr/lib/python3/dist-packages/\([^/]*\)$|\1|p' |
		sort -u | tar -C /usr/lib/python3/dist-packages -c \
			--exclude='*.opt-[12].pyc' --exclude=tests --exclude=benchmarks \
			-T - |
		tar -C "$root/usr/lib/python3/dist-packages" -x
	find "$root/usr/lib/python3/dist-packages" -name '*.so' |
		while read -r so; do copy_so_libs "$so"; done
}

add_ynl() {
	local top spec
	top=$(cd "$here/../.." && pwd)
	[ -f "$ynltree/.stamp" ] || die "no ynl tree at '$ynltree' (ynl-tree.sh)"
	mkdir -p "$root/ynl/tools/net/ynl/lib" "$root/ynl/Documentation/netlink/specs"
	cp "$ynltree/tools/net/ynl/cli.py" "$root/ynl/tools/net/ynl/"
	cp "$ynltree"/tools/net/ynl/lib/*.py "$root/ynl/tools/net/ynl/lib/"
	cp "$ynltree"/Documentation/netlink/*.yaml "$root/ynl/Documentation/netlink/"
	cp "$ynltree/Documentation/netlink/specs/nlctrl.yaml" \
		"$root/ynl/Documentation/netlink/specs/"
	spec=${YNL_SPEC:-$top/Documentation/netlink/specs/postcopy_assist.yaml}
	if [ -f "$spec" ]; then
		cp "$spec" "$root/ynl/Documentation/netlink/specs/postcopy_assist.yaml"
	elif [ -n "${YNL_SPEC:-}" ]; then
		die "YNL_SPEC=$YNL_SPEC: no such file"
	fi
	chmod -R a+rX "$root/ynl"
}

# Debian's QEMU for qemu_test, which boots it inside the guest: the
# binary, its TCG accelerator module, the firmware and option ROMs a pc
# machine booting a multiboot kernel loads (SeaBIOS, kvmvapic, the
# multiboot and Linux boot ROMs), and their libraries.  QEMU finds its
# modules and data relative to its binary (/usr/bin/../lib/..., ...), so
# they go under one prefix, /opt/qemu, laid out as /usr on the host.
# About 50 MB: only when that test runs.
QEMU_BIN=${QEMU_BIN:-/usr/bin/qemu-system-x86_64}
QEMU_PREFIX=/opt/qemu
QEMU_FILES='lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so
	share/seabios/bios-256k.bin share/qemu/kvmvapic.bin
	share/qemu/multiboot_dma.bin share/qemu/linuxboot_dma.bin'
add_qemu() {
	local f dst=$root$QEMU_PREFIX
	[ -x "$QEMU_BIN" ] || die "no $QEMU_BIN (apt-get install qemu-system-x86)"
	mkdir -p "$dst/bin"
	cp "$QEMU_BIN" "$dst/bin/qemu-system-x86_64"
	copy_libs "$QEMU_BIN"
	for f in $QEMU_FILES; do
		[ -f "/usr/$f" ] || die "no /usr/$f (apt-get install qemu-system-x86 seabios qemu-system-data)"
		mkdir -p "$dst/$(dirname "$f")"
		cp -L "/usr/$f" "$dst/$f"
		case $f in *.so) copy_so_libs "/usr/$f" ;; esac
	done
	chmod -R a+rX "$root/opt"
}

sed 's/^/postcopy_assist:/' "$root/etc/pca/list" >"$ksft/kselftest-list.txt"

if grep -qx ynl_test.py "$root/etc/pca/list"; then
	add_python
	add_ynl
fi
if grep -qx qemu_test "$root/etc/pca/list"; then
	add_qemu
fi

# Extra kernel modules, resolved through modinfo's depends= (the .deb ships
# no modules.dep) and stored uncompressed: busybox insmod cannot read .xz.
moddir=
if [ -n "$modsrc" ] && [ -d "$modsrc/lib/modules/$abi" ]; then
	moddir=$modsrc/lib/modules/$abi
elif [ -n "$modsrc" ]; then
	moddir=$modsrc
fi
: >"$root/etc/pca/modules"
if [ -n "$gmods" ]; then
	[ -n "$moddir" ] || die "GUEST_MODULES set but no module tree for $abi"
	index=$root/.modindex
	find "$moddir" \( -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' \
		-o -name '*.ko.gz' \) -print | awk '{
			n = $0; sub(/.*\//, "", n); sub(/\.ko(\.(xz|zst|gz))?$/, "", n)
			gsub(/-/, "_", n); print n, $0 }' >"$index"
	builtin=
	for b in "$moddir/modules.builtin" "$modsrc/modules.builtin"; do
		[ -f "$b" ] && builtin=$b && break
	done
	guest_moddir=$root/lib/modules/$abi
	mkdir -p "$guest_moddir"
	declare -A seen=()
	# NAME[:FLAG]: with FLAG, /init loads NAME only on a CPU that has it,
	# and a kernel built without NAME (the debug lane's) goes without it:
	# such a module only makes something faster.  NAME? is optional the
	# same way, on every CPU.
	add_module() {
		local name=${1%%:*} flag= path dep rel dst optional=
		[ "$name" = "$1" ] || flag=${1#*:}
		case $name in *\?) name=${name%\?}; optional=1 ;; esac
		name=${name//-/_}
		[ -n "${seen[$name]:-}" ] && return 0
		seen[$name]=1
		path=$(awk -v n="$name" '$1 == n { print $2; exit }' "$index")
		if [ -z "$path" ]; then
			if [ -n "$builtin" ] && sed 's/-/_/g' "$builtin" |
				grep -q "/$name\.ko$"; then
				return 0
			fi
			if [ -n "$flag" ] || [ -n "$optional" ]; then
				say "mkinitramfs: $abi has no $name, the guest goes without it"
				return 0
			fi
			die "kernel module $name not found in $moddir"
		fi
		for dep in $(modinfo -F depends "$path" | tr ',' ' '); do
			add_module "$dep"
		done
		rel=${path#"$moddir"/}
		rel=${rel%.xz}; rel=${rel%.zst}; rel=${rel%.gz}
		dst=$guest_moddir/$rel
		mkdir -p "$(dirname "$dst")"
		case $path in
		*.xz) xz -dc "$path" >"$dst" ;;
		*.zst) zstd -qdc "$path" >"$dst" ;;
		*.gz) gzip -dc "$path" >"$dst" ;;
		*) cp "$path" "$dst" ;;
		esac
		printf '/lib/modules/%s/%s%s\n' "$abi" "$rel" "${flag:+ $flag}" \
			>>"$root/etc/pca/modules"
	}
	for m in $gmods; do
		add_module "$m"
	done
	rm -f "$index"
fi

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out.tmp"
mv "$out.tmp" "$out"
