#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Move a selftest source from the old table style onto pca_harness.h.

usage: scripts/selftest-convert.py selftests/foo_test.c [...]

Rewrites each file in place, mechanically (Documentation/testing.rst,
"Converting a table-style test"):

- #include "kselftest_pca.h"             -> #include "pca_harness.h"
- static const struct pca_test tests[] = {
      PCA_TEST("x", test_x, F, opts),     -> PCA_TEST_F(x, test_x, F, opts)
  };                                         (one per entry, comments kept)
- PCA_TEST_MAIN(tests)                    -> TEST_HARNESS_MAIN
- forked parts: ct.failed = 0 dropped, __pca_test_exit(&ct, ct.failed ?
  ...) -> pca_part_exit(&ct), __pca_test_exit -> pca_test_exit,
  t->failed -> pca_failed(t)

Test bodies stay as they are.  A file with its own main() (options of its
own) still needs that main() adapted by hand: test_harness_run(argc, argv)
replaces pca_test_main(), and does not return.
"""
import re
import sys


def match_paren(s, i):
    """Index just past the parenthesis closing the one at s[i]."""
    depth = 0
    in_str = None
    j = i
    while j < len(s):
        ch = s[j]
        if in_str:
            if ch == '\\':
                j += 2
                continue
            if ch == in_str:
                in_str = None
        elif ch in '"\'':
            in_str = ch
        elif ch == '(':
            depth += 1
        elif ch == ')':
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise ValueError('unbalanced parentheses')


def convert_table(body):
    out = []
    i = 0
    while True:
        k = body.find('PCA_TEST(', i)
        if k < 0:
            break
        out.append(body[i:k])
        end = match_paren(body, k + len('PCA_TEST'))
        entry = body[k:end]
        m = re.match(r'PCA_TEST\(\s*"([A-Za-z0-9_]+)"\s*,', entry)
        if not m:
            raise ValueError('test name is not an identifier: ' + entry[:60])
        entry = 'PCA_TEST_F(' + m.group(1) + ',' + entry[m.end():]
        out.append(entry)
        i = end
        # the entry's comma
        m = re.match(r'\s*,', body[i:])
        if m:
            i += m.end()
    out.append(body[i:])
    text = ''.join(out)
    # file scope: one tab less
    return '\n'.join(l[1:] if l.startswith('\t') else l
                     for l in text.split('\n'))


def convert(src):
    src = src.replace('#include "kselftest_pca.h"', '#include "pca_harness.h"')
    m = re.search(r'static (const )?struct pca_test (\w+)\[\] = \{\n', src)
    if m:
        end = src.index('\n};\n', m.end())
        table = convert_table(src[m.end():end])
        src = src[:m.start()] + table.strip('\n') + '\n' + src[end + 4:]
        src = src.replace('PCA_TEST_MAIN(%s)' % m.group(2),
                          'TEST_HARNESS_MAIN')
    src = re.sub(r'\n\t*ct\.failed = 0;', '', src)
    src = re.sub(r'__pca_test_exit\(&ct, ct\.failed \? KSFT_FAIL : KSFT_PASS\)',
                 'pca_part_exit(&ct)', src)
    src = src.replace('__pca_test_exit(', 'pca_test_exit(')
    src = re.sub(r'\bt->failed\b', 'pca_failed(t)', src)
    return src


for path in sys.argv[1:]:
    with open(path) as f:
        old = f.read()
    new = convert(old)
    if new != old:
        with open(path, 'w') as f:
            f.write(new)
        print('converted', path)
