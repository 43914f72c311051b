#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch --strict over the module and uapi sources, then a clean build
# of the module with sparse (C=2) and W=1 against each kernel line.  Any
# report fails.
#
# checkpatch.pl and the two data files it reads come from Debian's
# linux-source-6.1 tarball, unpacked once into the cache.
#
# Environment: BUILD, CACHE, KERNELS, KDIR.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$(cd "$here/../.." && pwd)

BUILD=${BUILD:-$top/build}
KERNELS=${KERNELS-6.1 6.12}
tarball=${LINUX_SOURCE:-$(ls /usr/src/linux-source-6.1.tar.* 2>/dev/null | head -n1)}
[ -n "$tarball" ] && [ -f "$tarball" ] ||
	die "no linux-source-6.1 tarball in /usr/src: run 'make deps'"

cpdir=$CACHE/checkpatch/$(basename "$tarball" | sed 's/\.tar\..*//')-$(stat -c %Y "$tarball")
if [ ! -f "$cpdir/.stamp" ]; then
	say "style: extracting checkpatch from $tarball"
	rm -rf "$cpdir"
	mkdir -p "$cpdir"
	tar -xf "$tarball" -C "$cpdir" --strip-components=1 --wildcards \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch'
	touch "$cpdir/.stamp"
fi

problems=0
cd "$top"
# Generated files are checked against their spec instead (make spec-check).
files=$(ls kmod/*.c kmod/*.h include/uapi/linux/*.h 2>/dev/null |
	grep -v -e '-gen\.[ch]$' -e '_netlink\.h$' || true)
say "== checkpatch --strict: $(echo $files | wc -w) files"
# shellcheck disable=SC2086
if ! perl "$cpdir/scripts/checkpatch.pl" --no-tree --strict --quiet \
	--show-types -f $files; then
	problems=$((problems + 1))
else
	say "checkpatch: clean"
fi

# The documentation parses as reStructuredText without a warning; the
# roles and directives only Sphinx knows (the kernel's :c:func:, toctree)
# are not ours to check here.
say "== rst: Documentation"
if ! python3 - Documentation/*.rst Documentation/*/*.rst <<'PYEOF'
import io, re, sys
import docutils.core

SPHINX_ONLY = ("Unknown interpreted text role", 'Unknown directive type "toctree"')
bad = 0
for path in sys.argv[1:]:
    with open(path) as f:
        src = f.read()
    err = io.StringIO()
    docutils.core.publish_doctree(src, source_path=path, settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": err})
    for line in err.getvalue().splitlines():
        if re.search(r":\d+: \((WARNING|ERROR|SEVERE)/", line) and \
           not any(s in line for s in SPHINX_ONLY):
            print(line)
            bad += 1
sys.exit(1 if bad else 0)
PYEOF
then
	problems=$((problems + 1))
else
	say "rst: clean"
fi

build_checked() {
	local name=$1 kdir=$2 log
	log=$BUILD/style/$name.log
	rm -rf "${BUILD:?}/style/$name"
	mkdir -p "$BUILD/style"
	say "== sparse + W=1: $name"
	if ! "$here/build-module.sh" "$BUILD/style/$name" "$kdir" C=2 W=1 \
		>"$log" 2>&1; then
		cat "$log"
		say "style: build failed against $name"
		problems=$((problems + 1))
		return
	fi
	if grep -i -E 'warning:|error:' "$log"; then
		problems=$((problems + 1))
	fi
}

if [ -n "${KDIR:-}" ]; then
	build_checked custom "$KDIR"
else
	for line in $KERNELS; do
		abi=$(kernel_abi "$line") || die "no headers for kernel line $line"
		build_checked "$abi" "/lib/modules/$abi/build"
	done
fi

if [ "$problems" != 0 ]; then
	say "style: FAILED ($problems reports)"
	exit 1
fi
say "style: clean"
