#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Judge one guest run from its result channel (and console log), print a
# summary, and write "PASS FAIL SKIP" counts.
#
# usage: parse-results.sh -r result.txt -c console.log -n NAME -o COUNTS
#        [-j BENCH_JSON_LINES]
#
# The tests' output is the KTAP of kselftest's runner (PCA-KTAP lines): per
# test binary a "# selftests: postcopy_assist: NAME" header, the binary's
# own KTAP indented by "# ", and the runner's verdict, "ok N selftests: ...
# NAME [# SKIP]" or "not ok N ... # TIMEOUT S seconds | # exit=RC".
# Benchmarks print their output directly (PCA-OUT lines, exit status on
# PCA-TEST-END).
#
# Counting: every "ok"/"not ok" line of a binary's own KTAP is one test
# ("ok ... # SKIP" is a skip); a binary that printed none counts as one
# test by its exit status (4 is kselftest's skip).  One more failure for a
# binary whose exit status or plan disagrees with its lines, one for each
# failed harness check, and one for a kernel run that died (no RESULT-END)
# or splatted in dmesg or on the console.
set -eu
. "$(dirname "$0")/lib.sh"

result='' console='' name='' counts='' json=/dev/null
while getopts r:c:n:o:j: opt; do
	case $opt in
	r) result=$OPTARG ;;
	c) console=$OPTARG ;;
	n) name=$OPTARG ;;
	o) counts=$OPTARG ;;
	j) json=$OPTARG ;;
	*) die "bad option" ;;
	esac
done
[ -n "$result" ] && [ -n "$name" ] && [ -n "$counts" ] || die "usage: -r RESULT -n NAME -o COUNTS"
[ -f "$result" ] || : >"$result"
[ -n "$console" ] && [ -f "$console" ] || console=/dev/null

# Kernel messages that mean the kernel or the module is broken.  Matched
# only on timestamped kernel lines, so test output cannot trip them, and
# precisely, so messages that merely say "report a bug" do not.
SPLAT='BUG:|BUG [^ ]+ \((Not t|T)ainted\)|kernel BUG at|WARNING:|Oops|Call Trace|'
SPLAT="$SPLAT"'general protection fault|Kernel panic|[Bb]ad page (state|map)|'
SPLAT="$SPLAT"'possible [a-z ]*(deadlock|locking)|\*\*\* DEADLOCK|inconsistent lock state|'
SPLAT="$SPLAT"'kmemleak: [0-9]+ new suspected|unreferenced object 0x|UBSAN:|'
SPLAT="$SPLAT"'blocked for more than [0-9]+ seconds|rcu.*detected stall|'
SPLAT="$SPLAT"'list_(add|del) corruption|refcount_t: |stack-protector:'

# Taint bits a clean run may carry: O (out-of-tree) and E (unsigned).
TAINT_OK=$((4096 | 8192))

# Through the environment: awk -v would eat the regex's backslashes.
export PCA_SPLAT=$SPLAT
tr -d '\r' <"$result" | awk -v name="$name" -v counts="$counts" -v json="$json" \
	-v taint_ok="$TAINT_OK" -v console="$console" '
function flush_test(   p, f, s, note) {
	p = tp; f = tf; s = ts; note = ""
	if (p + f + s == 0) {
		if (texit == 0) p = 1
		else if (texit == 4) s = 1
		else f = 1
	} else {
		# A binary that broke off counts once, however it shows.
		if (texit != 0 && texit != 4 && f == 0)
			note = note " exit status " texit " with no failed test line;"
		if (tplan > 0 && tp + tf + ts < tplan)
			note = note " plan 1.." tplan " but " tp + tf + ts " results;"
		if (note != "") f++
	}
	if (ttimeout) note = note " timed out;"
	pass += p; fail += f; skip += s
	line = sprintf("   %-20s pass:%d fail:%d skip:%d  exit=%s %ss", tname, p, f, s, texit, ttime)
	if (ttotals != "") line = line "  [" ttotals "]"
	print line
	if (note != "") print "      FAIL:" note
	if (f > 0 && tnotok != "") printf "%s", tnotok
	intest = 0
}
function reset_test(n) {
	tname = n; tp = tf = ts = tplan = 0; texit = "?"; ttime = "?"
	ttimeout = 0; ttotals = ""; tnotok = ""; tlogs = 0; intest = 1
}
function add_splat(l) {
	if (l in seen) return
	seen[l] = 1
	if (nsplat < 20) splats = splats "      " l "\n"
	nsplat++
}
function problem(msg) { fail++; problems = problems "   FAIL: " msg "\n" }
BEGIN {
	pass = fail = skip = 0; intest = 0; ended = 0; begun = 0; nsplat = 0
	splat = ENVIRON["PCA_SPLAT"]
}
/^PCA-RESULT-BEGIN / { begun = 1; header = substr($0, 18); next }
/^PCA-CHECK / {
	if ($3 == "fail") problem($2 " failed:" substr($0, index($0, " fail") + 5))
	next
}
/^PCA-PLAN/ { plan = substr($0, 10); next }
/^PCA-TEST-BEGIN / { reset_test($2); ran[$2] = 1; next }
function test_line(l) {
	if (l ~ /^1\.\.[0-9]+/) { split(substr(l, 4), a, /[^0-9]/); tplan = a[1] + 0 }
	else if (l ~ /^# Totals:/) ttotals = substr(l, 3)
	else if (l ~ /^ok [0-9]+/) {
		if (l ~ /# *[Ss][Kk][Ii][Pp]/) ts++; else tp++
	} else if (l ~ /^# [A-Za-z0-9_.-]+\.c:[0-9]+:/) {
		# a failed check (TH_LOG: "file.c:line:test: what"), the first few
		if (tlogs++ < 5) tnotok = tnotok "      " substr(l, 3) "\n"
	} else if (l ~ /^not ok [0-9]+/) {
		if (l ~ /# *[Ss][Kk][Ii][Pp]/) ts++
		else { tf++; tnotok = tnotok "      " l "\n" }
	}
}
/^PCA-KTAP / {
	if (!intest) next
	l = substr($0, 10)
	if (l ~ /^# /) { test_line(substr(l, 3)); next }
	# the verdict of the runner on the binary
	if (l ~ /^ok [0-9]+ selftests: /) {
		texit = (l ~ /# SKIP/) ? 4 : 0
	} else if (l ~ /^not ok [0-9]+ selftests: /) {
		if (l ~ /# TIMEOUT/) { ttimeout = 1; texit = 124 }
		else if (match(l, /# exit=[0-9]+/)) texit = substr(l, RSTART + 7, RLENGTH - 7) + 0
		else texit = 1
	}
	next
}
/^PCA-OUT / {
	if (!intest) next
	l = substr($0, 9)
	if (l ~ /^BENCH-JSON \{/) {
		obj = substr(l, 12)
		sub(/^\{/, "{\"kernel\":\"" name "\",\"test\":\"" tname "\",", obj)
		print obj > json
		next
	}
	test_line(l)
	next
}
/^PCA-TEST-END / {
	for (i = 3; i <= NF; i++) {
		if ($i ~ /^exit=/) texit = substr($i, 6) + 0
		else if ($i ~ /^time=/) ttime = substr($i, 6)
		else if ($i == "timeout") ttimeout = 1
	}
	flush_test()
	next
}
/^PCA-TAINT / {
	t = $2 + 0; bad = 0
	# mawk has no bit operators: test the bits one by one.
	for (b = 1; b <= 2^20; b *= 2)
		if (int(t / b) % 2 == 1 && int(taint_ok / b) % 2 == 0) bad = 1
	if (bad) problem("kernel tainted " t " (beyond out-of-tree/unsigned)")
	next
}
/^PCA-DMESG / {
	l = substr($0, 11)
	if (l ~ /^\[ *[0-9]+\.[0-9]+\]/ && l ~ splat) add_splat(l)
	next
}
/^PCA-KMEMLEAK / {
	# the report behind a failed kmemleak check: its first lines
	if (nleak < 40) leaks = leaks "      " substr($0, 14) "\n"
	nleak++
	next
}
/^RESULT-END$/ { ended = 1; next }
END {
	# A dead guest and its splat are one failure of the kernel run, not
	# one per symptom.
	broken = ""
	if (intest)
		broken = broken "   FAIL: test " tname " never finished\n"
	if (!ended && !begun)
		broken = broken "   FAIL: no result from the guest (did not boot, or /init failed)\n"
	else if (!ended)
		broken = broken "   FAIL: result channel has no RESULT-END (guest died or was killed)\n"
	n = split(plan, planned, " ")
	for (i = 1; i <= n; i++)
		if (!(planned[i] in ran)) notrun = notrun " " planned[i]
	if (notrun != "") broken = broken "   not run:" notrun "\n"
	# The console catches what a dying kernel could not hand to init.
	while ((getline l < console) > 0) {
		sub(/\r$/, "", l)
		if (l ~ /^\[ *[0-9]+\.[0-9]+\]/ && l ~ splat) add_splat(l)
	}
	if (nsplat > 0)
		broken = broken "   FAIL: kernel splat (" nsplat " lines):\n" splats
	if (nleak > 0) {
		problems = problems "   kmemleak report (" nleak " lines):\n" leaks
		if (nleak > 40) problems = problems "      ...\n"
	}
	printf "%s%s", problems, broken
	if (broken != "") fail++
	printf "%d %d %d\n", pass, fail, skip > counts
}
'
