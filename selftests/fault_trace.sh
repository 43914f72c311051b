#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fault_trace.sh: where the time of a resolved fault goes, by phase, with
# the function graph tracer.  A benchmark (make bench), idle unless the
# guest's command line sets FAULT_TRACE=1:
#
#   make bench KERNELS=6.12 TESTS="fault_bench fault_trace.sh" \
#	APPEND="FAULT_TRACE=1 FAULT_BENCH_TESTS=fault_1t"
#
# runs fault_bench's fault_1t untraced (the figures without the tracer's
# cost), then again here, -n FAULT_TRACE_PAGES pages (default 2000), with
# function_graph limited by set_ftrace_filter to the functions of the
# resolution path: the module's COPY ioctl (pca_region_ioctl()), the folio
# allocation (get_page_from_freelist() includes the clearing under
# init_on_alloc: clear_page() is assembly, not traceable), the page-cache
# insertion and its memcg charge, the pre-map, the wake; userfaultfd's
# UFFDIO_COPY and its mfill path (mfill_atomic_copy(), mcopy_atomic() on
# 6.1); the faulting thread's handle_mm_fault().  The copy from user
# memory is inline (rep movs): it is pca_region_place()'s own time, what
# its callees leave.  Names a kernel does not have are skipped.  Only those
# functions are hooked, so the tracer costs a few microseconds per call
# rather than per kernel function; it still inflates every duration, so
# read shares, not absolute times.  APPEND="... init_on_alloc=0" shows
# what the clearing costs.
#
# Printed: one graph as a sample, then one line per call path
# (caller/callee names, hooked functions only), the count and the median
# duration in microseconds, and "<ioctl>:wake->return": from the first
# try_to_wake_up() of the resolver's ioctl to the exit of the woken
# thread's handle_mm_fault().  Durations leave out time scheduled out.
T=/sys/kernel/tracing

if [ "${FAULT_TRACE:-0}" = 0 ]; then
	echo "fault_trace: FAULT_TRACE unset on the command line, nothing to do"
	exit 0
fi
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
if [ ! -w $T/current_tracer ] || ! grep -qw function_graph $T/available_tracers; then
	echo "fault_trace: no function_graph tracer at $T, skipped"
	exit 0
fi

here=$(dirname "$0")
pages=${FAULT_TRACE_PAGES:-2000}

funcs="pca_region_ioctl pca_fs_ioctl pca_ioctl_copy pca_region_copy pca_region_place
pca_region_insert pca_region_premap
pca_bucket_premap pca_fault_wake_range pca_fault_wake pca_vm_fault
get_page_from_freelist folio_alloc folio_alloc_noprof __folio_alloc __folio_alloc_noprof
vma_alloc_folio vma_alloc_folio_noprof __alloc_pages __alloc_pages_noprof
filemap_add_folio __filemap_add_folio
__mem_cgroup_charge folio_add_lru folio_add_lru_vma filemap_map_pages
__wake_up try_to_wake_up userfaultfd_ioctl mfill_atomic_copy mcopy_atomic
mfill_atomic mfill_atomic_pte mcopy_atomic_pte mfill_atomic_pte_copy
mfill_atomic_install_pte handle_userfault handle_mm_fault"

echo 0 >$T/tracing_on
echo nop >$T/current_tracer
: >$T/set_ftrace_filter
hooked=
for f in $funcs; do
	echo "$f" >>$T/set_ftrace_filter 2>/dev/null && hooked="$hooked $f"
done
echo "fault_trace: $(uname -r), hooked:$hooked"
echo 65536 >$T/buffer_size_kb
echo function_graph >$T/current_tracer
# the tracer's own options exist once it is the current tracer
# (nosleep-time: a call's duration leaves out the time its task was
# scheduled out, as the resolver is when the thread it woke preempts it)
for o in funcgraph-proc funcgraph-abstime funcgraph-tail nofuncgraph-irqs \
	 nosleep-time nooverwrite; do
	echo $o >$T/trace_options ||
		echo "fault_trace: no trace option $o"
done
: >$T/trace
echo 1 >$T/tracing_on
"$here/fault_bench" -t fault_1t -n "$pages" >/tmp/fault_trace.bench 2>&1
rc=$?
echo 0 >$T/tracing_on
grep -v BENCH-JSON /tmp/fault_trace.bench
echo "fault_trace: traced fault_bench exit $rc, $(wc -l <$T/trace) trace lines"
grep -m 1 -A 30 'pca_region_ioctl.*{' $T/trace | sed 's/^/fault_trace: sample: /'

# Lines: "ts | cpu) comm-pid | duration | text".  A stack of open
# functions per task gives each call its path.
awk -F'|' '
function us(s) { gsub(/[^0-9.]/, "", s); return s + 0 }
/^ *[0-9]+\.[0-9]+ *\|/ {
	ts = $1 + 0; task = $2; sub(/^ *[0-9]+\) */, "", task); gsub(/ /, "", task)
	d = $3; txt = $4; sub(/^ +/, "", txt); sub(/ +$/, "", txt)
	if (txt ~ /\) \{$/) {
		name = txt; sub(/[ (].*/, "", name)
		n = ++depth[task]; st[task, n] = name
		if (name == "try_to_wake_up" && !wts && path(task) ~ /ioctl/) { wts = ts; wtask = task; wroot = st[task, 1] }
		next
	}
	if (txt ~ /^\}/) {
		name = txt; sub(/.*\/\* */, "", name); sub(/[ *].*/, "", name)
		n = depth[task]
		while (n > 0 && st[task, n] != name) n--
		if (n == 0) next
		depth[task] = n
		p = path(task); depth[task] = n - 1
		print p, us(d)
		if (name == "handle_mm_fault" && wts && task != wtask) {
			printf "%s:wake->return %.3f\n", wroot, (ts - wts) * 1e6
			wts = 0
		}
		next
	}
	if (txt ~ /\);$/) {
		name = txt; sub(/[ (].*/, "", name)
		n = depth[task]; st[task, n + 1] = name; depth[task] = n + 1
		p = path(task); depth[task] = n
		print p, us(d)
		if (name == "try_to_wake_up" && !wts && p ~ /ioctl/) { wts = ts; wtask = task; wroot = st[task, 1] }
	}
}
function path(t,   i, s) {
	s = st[t, 1]
	for (i = 2; i <= depth[t]; i++) s = s "/" st[t, i]
	return s
}' $T/trace | sort -k1,1 -k2,2n | awk '
function flush() {
	if (n >= 20) printf "fault_trace: %-90s n=%-6d median=%.2f us\n", key, n, v[int((n + 1) / 2)]
}
$1 != key { flush(); key = $1; n = 0 }
{ v[++n] = $2 }
END { flush() }'

echo nop >$T/current_tracer
: >$T/set_ftrace_filter
echo 1408 >$T/buffer_size_kb
exit $rc
