#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot one guest under QEMU (TCG; KVM with PCA_KVM=1) and wait for it
# to power off, killing it after a time limit.
#
# usage: run-vm.sh -k KERNEL -i INITRD -d OUTDIR [-t SECONDS] [-a APPEND]
#        [-m MODE]
#
# OUTDIR gets console.log (ttyS0, everything) and result.txt (ttyS1, the
# result channel written only by the guest's /init).  The console is shown
# from the first line of /init on, or whole with V=1.
# Exit status: QEMU's, or 124 when the time limit was hit.
set -eu
. "$(dirname "$0")/lib.sh"

kernel='' initrd='' outdir='' limit=600 append='' mode=test
while getopts k:i:d:t:a:m: opt; do
	case $opt in
	k) kernel=$OPTARG ;;
	i) initrd=$OPTARG ;;
	d) outdir=$OPTARG ;;
	t) limit=$OPTARG ;;
	a) append=$OPTARG ;;
	m) mode=$OPTARG ;;
	*) die "bad option" ;;
	esac
done
[ -f "$kernel" ] && [ -f "$initrd" ] && [ -n "$outdir" ] ||
	die "usage: -k KERNEL -i INITRD -d OUTDIR"

QEMU=${QEMU:-qemu-system-x86_64}
command -v "$QEMU" >/dev/null || die "$QEMU missing (apt-get install qemu-system-x86)"

# TCG unless asked for KVM (PCA_KVM=1): a nested or restricted KVM may
# refuse MSRs that "-cpu max" sets or hang the guest early in boot, and a
# run must not depend on how the host's KVM behaves.  The suite's timeouts
# are made for TCG and hold under KVM too.
accel=tcg
if [ "${PCA_KVM:-0}" = 1 ]; then
	[ -w /dev/kvm ] || die "PCA_KVM=1 but /dev/kvm is not usable"
	accel=kvm
fi

# panic_on_warn and oops=panic turn any WARN or oops into a panic, and
# panic=-1 with -no-reboot turns the panic into QEMU exiting at once, so a
# broken kernel ends the run instead of limping on.
cmdline="console=ttyS0,115200 loglevel=7 printk.time=1 panic_on_warn=1"
cmdline="$cmdline oops=panic panic=-1 nokaslr"
# Slab redzones and page poisoning catch memory corruption in tests; they
# would only distort the numbers of a benchmark.
[ "$mode" = bench ] || cmdline="$cmdline slub_debug=FZP page_poison=1"
cmdline="$cmdline pca.mode=$mode $append"

mkdir -p "$outdir"
console=$outdir/console.log
result=$outdir/result.txt
rm -f "$console" "$result"

show='/pca-init:/ { on = 1 } on'
[ "${V:-0}" != 0 ] && show=1

set +e
timeout -k 10 "$limit" "$QEMU" \
	-machine q35,accel=$accel -cpu max -m "${VM_MEM:-1G}" -smp "${VM_SMP:-2}" \
	-nographic -no-reboot -nic none \
	-serial mon:stdio -serial "file:$result" \
	-kernel "$kernel" -initrd "$initrd" -append "$cmdline" \
	</dev/null 2>&1 |
	sed -u 's/\r$//' | tee "$console" | awk "$show { print; fflush() }"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	warn "guest did not power off within ${limit}s, killed"
	rc=124
fi
exit "$rc"
