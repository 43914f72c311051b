#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Drive the guest runs behind `make check`, `make bench` and `make demo`:
# for each kernel build the initramfs, boot it, judge the result channel,
# and finish with one "N passed, N failed, N skipped" line.
#
# usage: run.sh check|bench|demo
#
# Environment (set by the Makefile): BUILD, CACHE, KERNELS, KDIR, VMLINUZ,
# TESTS, GUEST_MODULES, VM_TIMEOUT, APPEND, V.
#
# The debug lane (selftests/debug, `make check-debug`): DEBUG_KDIR is the
# build tree of the debug kernel, whose module is $BUILD/debug/kmod; it
# runs as one more kernel, "debug", with DEBUG_APPEND on its command line,
# DEBUG_VM_MEM of memory and every time limit times DEBUG_SCALE.
# DEBUG_ONLY=1 runs it alone.  DEBUG_EXCLUDE names the tests it leaves
# out (qemu_test: QEMU inside the guest, emulated twice over, is no test
# of the module's debug checks and would take most of an hour there).
#
# BIN_DIR replaces $BUILD/bin as the programs the guests get, and
# GUEST_LIB_DIR is where shared libraries of those programs that the host
# does not have are found (the DKMS lane: the installed libpca.so.0).
#
# `make check` also builds the suite inside a kernel tree (intree-build.sh;
# INTREE_CHECK=0 leaves that out), which counts as one test.
#
# Guests have VM_MEM of memory, by default 1G, and BENCH_VM_MEM (2G) for
# `make bench`, whose huge_* benchmarks hold a 256 MiB source, 256 MiB of
# hugetlbfs pool and 256 MiB of region (or memcpy target) at once.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

mode=${1:-check}
case $mode in
check) vmmode=test ;;
bench) vmmode=bench ;;
demo) vmmode=demo ;;
*) die "unknown mode $mode" ;;
esac

BUILD=${BUILD:-$(pwd)/build}
KERNELS=${KERNELS-6.1 6.12}
bindir=${BIN_DIR:-$BUILD/bin}
stdir=$BUILD/selftests

[ -d "$bindir" ] || die "$bindir missing: run 'make userspace'"
[ "$mode" = check ] && { [ -f "$stdir/TESTS" ] || die "$stdir/TESTS missing: run 'make userspace'"; }

# Per-test guest timeout, as in kselftest's settings file.
test_timeout=45
if [ -f "$stdir/settings" ]; then
	v=$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' "$stdir/settings" | tail -n1)
	[ -n "$v" ] && test_timeout=$v
	# benchmarks run outside kselftest, each under bench_timeout=
	v=$(sed -n 's/^bench_timeout=\([0-9][0-9]*\)$/\1/p' "$stdir/settings" | tail -n1)
	[ "$mode" = bench ] && [ -n "$v" ] && test_timeout=$v
fi

list_file=
ntests=1
case $mode in
check) list_file=$stdir/TESTS ;;
bench) list_file=$stdir/BENCH ;;
esac
if [ -n "$list_file" ]; then
	ntests=0
	[ -f "$list_file" ] &&
		ntests=$(grep -c -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$list_file" || true)
	[ -n "${TESTS:-}" ] && ntests=$(echo "$TESTS" | wc -w)
	if [ "$ntests" = 0 ]; then
		say "$mode: nothing listed in $list_file"
		[ "$mode" = bench ] && exit 0
		die "no tests to run"
	fi
fi
# Boot and shutdown take ~10 s under TCG; the rest is the tests' own limits.
limit=${VM_TIMEOUT:-$((120 + ntests * (test_timeout + 15)))}

# The kernel's ynl CLI for ynl_test (make check unpacks it: ynl-tree.sh).
ynltree=$(ynl_tree 2>/dev/null) || ynltree=
# kselftest's runner (make userspace unpacks it: ksft-tree.sh).
ksfttree=$(ksft_tree) && [ -f "$ksfttree/.stamp" ] ||
	die "no kselftest tree: run 'make userspace'"

gmods=${GUEST_MODULES:-}
if [ -f "$stdir/MODULES" ]; then
	gmods="$gmods $(grep -v -e '^[[:space:]]*#' "$stdir/MODULES" | tr '\n' ' ')"
fi

DEBUG_KDIR=${DEBUG_KDIR:-}
DEBUG_SCALE=${DEBUG_SCALE:-8}
DEBUG_VM_MEM=${DEBUG_VM_MEM:-2G}
BENCH_VM_MEM=${BENCH_VM_MEM:-2G}
# debug_pagealloc unmaps freed pages; the fuzzer does 100k operations.
DEBUG_APPEND=${DEBUG_APPEND:-debug_pagealloc=on PCA_FUZZ_OPS=100000}
DEBUG_EXCLUDE=${DEBUG_EXCLUDE-qemu_test}

# One target per kernel: "name abi vmlinuz module-source module.ko".
targets=()
if [ "${DEBUG_ONLY:-0}" = 1 ]; then
	[ -n "$DEBUG_KDIR" ] || die "DEBUG_ONLY=1 without DEBUG_KDIR"
elif [ -n "${KDIR:-}" ]; then
	[ -d "$KDIR" ] || die "KDIR=$KDIR is not a directory"
	# utsrelease.h is what the module's vermagic says.
	if [ -f "$KDIR/include/generated/utsrelease.h" ]; then
		abi=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"$/\1/p' \
			"$KDIR/include/generated/utsrelease.h")
	elif [ -f "$KDIR/include/config/kernel.release" ]; then
		abi=$(cat "$KDIR/include/config/kernel.release")
	else
		abi=$(make -s -C "$KDIR" kernelrelease)
	fi
	vmlinuz=${VMLINUZ:-$KDIR/arch/x86/boot/bzImage}
	[ -f "$vmlinuz" ] || die "no kernel image at $vmlinuz: build the kernel or set VMLINUZ="
	targets+=("custom $abi $vmlinuz $KDIR")
else
	[ "$mode" = demo ] && KERNELS=${DEMO_KERNEL:-6.1}
	for line in $KERNELS; do
		abi=$(kernel_abi "$line") || die "no headers for kernel line $line: run 'make deps'"
		kd=$(kernel_dir "$abi")
		vmlinuz=${VMLINUZ:-$kd/boot/vmlinuz-$abi}
		[ -f "$vmlinuz" ] || die "$vmlinuz missing: run 'make deps'"
		targets+=("$abi $abi $vmlinuz $kd")
	done
fi
if [ -n "$DEBUG_KDIR" ] && [ "$mode" != demo ]; then
	abi=$(cat "$DEBUG_KDIR/include/config/kernel.release") ||
		die "DEBUG_KDIR=$DEBUG_KDIR is not a built kernel tree"
	targets+=("debug $abi $DEBUG_KDIR/arch/x86/boot/bzImage $DEBUG_KDIR")
fi

total_pass=0 total_fail=0 total_skip=0
summary=()

# A check on the host that counts as one test: run "$@", add its verdict
# to the totals and a line named @1 to the summary.
host_check() {
	local name=$1 title=$2 t0 p f verdict
	shift 2
	say "== check: $title"
	t0=$(date +%s)
	if "$@"; then
		total_pass=$((total_pass + 1)) verdict=ok p=1 f=0
	else
		total_fail=$((total_fail + 1)) verdict=FAILED p=0 f=1
	fi
	summary+=("$(printf '%-24s pass %d, fail %d, skip 0  %ds  %s' \
		"$name:" "$p" "$f" $(($(date +%s) - t0)) "$verdict")")
	say
}

# The suite built the upstream way, as tools/testing/selftests/
# postcopy_assist of the kernel tree (intree-build.sh).
if [ "$mode" = check ] && [ "${INTREE_CHECK:-1}" = 1 ]; then
	host_check intree-build "kselftest in-tree build" "$here/intree-build.sh"
fi
# Packaging on the host (scripts/pkg-check.sh): man pages, make install,
# libpca's exports and pkg-config file, the systemd unit.  PKG_CHECK=0
# leaves it out, PKG_DEB=0 leaves out make deb and lintian.
if [ "$mode" = check ] && [ "${PKG_CHECK:-1}" = 1 ]; then
	host_check pkg-check packaging env BUILD="$BUILD" \
		"$here/../../scripts/pkg-check.sh"
fi
: >"$BUILD/.bench.jsonl"
for t in "${targets[@]}"; do
	# shellcheck disable=SC2086
	set -- $t
	name=$1 abi=$2 vmlinuz=$3 modsrc=$4
	ko=$BUILD/$name/kmod/postcopy_assist.ko
	# a module built elsewhere (scripts/dkms-lane.sh: DKMS's)
	[ -n "${MODULE_KO_DIR:-}" ] && ko=$MODULE_KO_DIR/$abi/postcopy_assist.ko
	out=$BUILD/$name/$mode
	[ -f "$ko" ] || die "$ko missing: run 'make modules'"
	mkdir -p "$out"

	t_limit=$limit t_append=${APPEND:-} t_mem=${VM_MEM:-1G} t_args=
	[ "$mode" = bench ] && t_mem=${VM_MEM:-$BENCH_VM_MEM}
	if [ "$name" = debug ]; then
		t_limit=${VM_TIMEOUT:-$(((limit + 60) * DEBUG_SCALE))}
		t_append="$DEBUG_APPEND PCA_TIMEOUT_SCALE=$DEBUG_SCALE $t_append"
		t_mem=$DEBUG_VM_MEM
		t_args=$here/../debug/ksft-args
	fi
	# harness arguments from the command line: "bin args; bin args"
	if [ -n "${KSFT_ARGS:-}" ]; then
		[ -n "$t_args" ] && cat "$t_args" >"$out/ksft-args" ||
			: >"$out/ksft-args"
		printf '%s\n' "$KSFT_ARGS" | tr ';' '\n' >>"$out/ksft-args"
		t_args=$out/ksft-args
	fi

	# the debug lane's list, without DEBUG_EXCLUDE
	t_list=$list_file t_tests=${TESTS:-}
	if [ "$name" = debug ] && [ -n "$list_file" ] && [ -n "$DEBUG_EXCLUDE" ]; then
		t_list=$out/LIST
		t_tests=
		for x in $(grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$list_file"); do
			case " $DEBUG_EXCLUDE " in *" $x "*) ;; *) echo "$x" ;; esac
		done >"$t_list"
		for x in ${TESTS:-}; do
			case " $DEBUG_EXCLUDE " in
			*" $x "* | *" ${x}_test "*) ;;
			*) t_tests="$t_tests $x" ;;
			esac
		done
		if [ -n "${TESTS:-}" ] && [ -z "$t_tests" ]; then
			say "== $mode: $abi: nothing to run (the debug lane leaves out $DEBUG_EXCLUDE)"
			say
			continue
		fi
	fi

	say "== $mode: $abi ($out)"
	"$here/mkinitramfs.sh" -o "$out/initramfs.cpio" -a "$abi" -k "$ko" \
		-b "$bindir" -s "$stdir" -l "$t_list" -t "$t_tests" \
		-m "$modsrc" -g "$gmods" -y "$ynltree" -K "$ksfttree" \
		${t_args:+-A "$t_args"}

	t0=$(date +%s)
	for attempt in 1 2; do
		rc=0
		VM_MEM=$t_mem "$here/run-vm.sh" -k "$vmlinuz" \
			-i "$out/initramfs.cpio" -d "$out" -t "$t_limit" \
			-m "$vmmode" -a "$t_append" || rc=$?
		# A guest kernel that died before /init said a word never
		# loaded the module: nothing of ours ran, so boot it once
		# more (QEMU TCG has been seen to miss a cross-CPU code
		# patch at boot), keeping that console.
		[ "$attempt" = 1 ] && [ ! -s "$out/result.txt" ] &&
			! grep -q '^pca-init: mode ' "$out/console.log" || break
		cp "$out/console.log" "$out/console-boot-failed.log"
		warn "$abi: the guest kernel died before /init ran (no module loaded; console-boot-failed.log); booting it once more"
	done
	t1=$(date +%s)
	[ "$rc" = 124 ] && warn "$abi: guest killed after ${t_limit}s"

	say "-- $abi results (guest ran $((t1 - t0))s; console: $out/console.log)"
	: >"$out/bench.jsonl"
	"$here/parse-results.sh" -r "$out/result.txt" -c "$out/console.log" \
		-n "$abi" -o "$out/counts" -j "$out/bench.jsonl"
	read -r p f s <"$out/counts"
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		# The guest reported everything but QEMU itself failed.
		say "   FAIL: qemu exited with status $rc"
		f=1
	fi
	cat "$out/bench.jsonl" >>"$BUILD/.bench.jsonl"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	total_skip=$((total_skip + s))
	verdict=ok
	[ "$f" = 0 ] || verdict=FAILED
	summary+=("$(printf '%-24s pass %d, fail %d, skip %d  %ds  %s' "$abi:" "$p" "$f" "$s" $((t1 - t0)) "$verdict")")
	say
done

if [ "$mode" = bench ]; then
	{
		echo "["
		sed '$!s/$/,/' "$BUILD/.bench.jsonl"
		echo "]"
	} >"$BUILD/bench.json"
	say "bench: $(grep -c . "$BUILD/.bench.jsonl" || true) results in $BUILD/bench.json"
fi
rm -f "$BUILD/.bench.jsonl"

if [ "$mode" = demo ]; then
	[ "$total_fail" = 0 ] && say "demo: ok" && exit 0
	say "demo: FAILED"
	exit 1
fi
say "== summary"
for l in "${summary[@]}"; do
	say "$l"
done
if [ "$total_skip" -gt 0 ]; then
	say "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	say "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" = 0 ]
