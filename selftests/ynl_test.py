#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ynl_test: the module's generic netlink family through the kernel's ynl.

Runs tools/net/ynl/cli.py, as shipped with the kernel, against the module:
with the kernel's own nlctrl.yaml first (python and ynl work, the family is
registered), then with Documentation/netlink/specs/postcopy_assist.yaml
(the spec validates against its schema, the handshake, a region made by
ynl_region_helper seen by REGION_GET and its dirty log by DIRTY_GET, and
errors with their extack text).  Prints KTAP through kselftest's ksft.py,
one test per check; the family's tests are skipped while the tree has no
spec.

Environment: YNL_TREE, the directory holding tools/net/ynl and
Documentation/netlink (default /ynl, where the guest has them);
YNL_SPEC, another spec of the family.
"""

import json
import os
import subprocess
import sys

# kselftest's KTAP helpers: ../kselftest/ksft.py in a kernel tree and in
# an installed suite (the guest's /selftests), from the kernel's source.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'kselftest'))
import ksft  # noqa: E402

TREE = os.environ.get('YNL_TREE', '/ynl')
CLI = os.path.join(TREE, 'tools/net/ynl/cli.py')
SPECS = os.path.join(TREE, 'Documentation/netlink/specs')
NLCTRL = os.path.join(SPECS, 'nlctrl.yaml')
SPEC = os.environ.get('YNL_SPEC', os.path.join(SPECS, 'postcopy_assist.yaml'))
HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'ynl_region_helper')

FAMILY = 'postcopy_assist'
API_VERSION = 2              # PCA_API_VERSION
PAGE = 4096
REGION_PAGES = 16
WRITTEN = (1, 5, 6, 15)      # pages ynl_region_helper writes
NO_REGION = 999999           # a region id never handed out in one boot
CLI_TIMEOUT = 60 * int(os.environ.get('PCA_TIMEOUT_SCALE', '1'))


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def diag(msg):
    for line in str(msg).splitlines() or ['']:
        print('# ' + line)
    sys.stdout.flush()


def ynl(spec, *args, schema=False):
    """Run cli.py; returns (exit status, stdout + stderr)."""
    cmd = [sys.executable, CLI, '--spec', spec]
    if not schema:
        # Validating on every call would import jsonschema every time:
        # seconds under TCG.  spec_validates does it once.
        cmd.append('--no-schema')
    cmd += list(args)
    diag('$ ' + ' '.join(a if ' ' not in a and '"' not in a else
                         "'" + a + "'" for a in cmd[1:]))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise Fail(f'cli.py still running after {CLI_TIMEOUT}s: {e.output}')
    return p.returncode, p.stdout


def ynl_json(spec, *args):
    """Run cli.py with --output-json; returns its decoded reply."""
    rc, out = ynl(spec, '--output-json', *args)
    if rc != 0:
        raise Fail(f'cli.py exited with {rc}:\n{out}')
    lines = [l for l in out.splitlines() if l.strip()]
    if not lines:
        raise Fail('cli.py printed no reply')
    try:
        return json.loads(lines[-1])
    except ValueError as e:
        raise Fail(f'reply is not JSON ({e}):\n{out}')


def ynl_error(spec, errno_text, extack_text, *args):
    """Run cli.py expecting a netlink error carrying extack_text."""
    rc, out = ynl(spec, *args)
    diag(out.rstrip())
    if rc == 0:
        raise Fail('cli.py succeeded; an error was expected')
    if 'Netlink error: ' + errno_text not in out:
        raise Fail(f'no "Netlink error: {errno_text}" in the output')
    if extack_text not in out:
        raise Fail(f'extack message "{extack_text}" not in the output')


def need_spec():
    if not os.path.isfile(SPEC):
        raise Skip(f'no spec of the family ({SPEC})')


def need_region():
    need_spec()
    if 'region' not in state:
        raise Fail('no region: ynl_region_helper failed')
    return state['region']


def expect(cond, msg):
    if not cond:
        raise Fail(msg)


def as_int(v, what):
    """An integer attribute, whatever the spec made of it."""
    if isinstance(v, bool) or not isinstance(v, int):
        raise Fail(f'{what} is {v!r}, not a number')
    return v


def bitmap_pages(v):
    """Pages set in a dirty bitmap: binary (hex in JSON) or u64 words."""
    if isinstance(v, str):
        raw = bytes.fromhex(v)
        words = [int.from_bytes(raw[i:i + 8], 'little')
                 for i in range(0, len(raw), 8)]
    elif isinstance(v, list):
        words = [as_int(w, 'bitmap word') for w in v]
    else:
        raise Fail(f'dirty bitmap is {v!r}')
    return sorted(w * 64 + b for w, word in enumerate(words)
                  for b in range(64) if word >> b & 1)


class Region:
    """A region held open by ynl_region_helper."""

    def __init__(self, pages):
        self.p = subprocess.Popen([HELPER, str(pages)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline().split()
        if len(line) != 4 or line[0] != 'region':
            self.close()
            raise Fail(f'ynl_region_helper said {line!r}')
        self.id, self.size, self.flags = map(int, line[1:])
        diag(f'region {self.id}: {self.size} bytes, flags {self.flags}')

    def write(self, page):
        self.p.stdin.write(f'write {page}\n')
        self.p.stdin.flush()
        ans = self.p.stdout.readline().strip()
        expect(ans == 'ok', f'write {page}: {ans}')

    def close(self):
        if self.p.stdin:
            self.p.stdin.close()
        self.p.wait(timeout=CLI_TIMEOUT)


state = {}


def test_nlctrl_family():
    """nlctrl.yaml, the kernel's spec: the family and its commands."""
    r = ynl_json(NLCTRL, '--do', 'getfamily',
                 '--json', json.dumps({'family-name': FAMILY}))
    expect(r.get('family-name') == FAMILY,
           f'family-name {r.get("family-name")!r}')
    as_int(r.get('family-id'), 'family-id')
    ops = [v['id'] for o in r.get('ops', []) for v in o.values()]
    groups = sorted(v['name'] for g in r.get('mcast-groups', [])
                    for v in g.values())
    diag(f'family id {r["family-id"]}, version {r.get("version")}, '
         f'ops {ops}, groups {groups}')
    expect(len(ops) > 0, 'the family lists no operations')
    expect(groups == ['agent', 'vmm'], f'multicast groups {groups}')
    state['ops'] = set(ops)


def test_spec_validates():
    """The spec against its schema (jsonschema), and its operations."""
    need_spec()
    rc, out = ynl(SPEC, '--list-ops', schema=True)
    if rc != 0:
        raise Fail(f'cli.py --list-ops exited with {rc}:\n{out}')
    ops = [l.split()[0] for l in out.splitlines() if l.strip()]
    diag('operations: ' + ' '.join(ops))
    for op in ('api', 'region-get', 'dirty-track', 'dirty-get'):
        expect(op in ops, f'operation {op} not in the spec')


def test_api():
    """The handshake: api-version, features and commands come back."""
    need_spec()
    r = ynl_json(SPEC, '--do', 'api', '--json',
                 json.dumps({'api-version': API_VERSION, 'features': 0}))
    diag(f'reply: {r}')
    for a in ('api-version', 'features', 'commands'):
        expect(a in r, f'no {a} in the reply')
    expect(r['api-version'] == API_VERSION,
           f'api-version {r["api-version"]}, expected {API_VERSION}')
    if isinstance(r['commands'], int) and 'ops' in state:
        cmds = {b for b in range(64) if r['commands'] >> b & 1}
        expect(cmds == state['ops'],
               f'commands {sorted(cmds)}, nlctrl lists {sorted(state["ops"])}')


def test_api_bad_version():
    """An API version the module does not speak: EINVAL and why."""
    need_spec()
    ynl_error(SPEC, 'Invalid argument', 'unsupported API version',
              '--do', 'api', '--json',
              json.dumps({'api-version': API_VERSION + 100}))


def find_region(regions, rid):
    for r in regions:
        if r.get('region-id') == rid:
            return r
    raise Fail(f'region {rid} not listed: {regions}')


def check_region(r, region):
    expect(as_int(r.get('region-size'), 'region-size') == region.size,
           f'region-size {r.get("region-size")}, expected {region.size}')
    flags = r.get('region-flags')
    expect(flags in (0, []), f'region-flags {flags!r}, expected none')


def test_region_dump():
    """--dump region-get lists the helper's region, size and flags."""
    region = need_region()
    regions = ynl_json(SPEC, '--dump', 'region-get')
    expect(isinstance(regions, list), f'dump reply {regions!r}')
    diag(f'{len(regions)} regions')
    check_region(find_region(regions, region.id), region)


def test_region_get():
    """--do region-get of the helper's region."""
    region = need_region()
    r = ynl_json(SPEC, '--do', 'region-get',
                 '--json', json.dumps({'region-id': region.id}))
    expect(r.get('region-id') == region.id, f'region-id {r.get("region-id")}')
    check_region(r, region)


def test_dirty_get():
    """dirty-track on, pages written, dirty-get: exactly those pages."""
    region = need_region()
    ynl_json(SPEC, '--do', 'dirty-track', '--json',
             json.dumps({'region-id': region.id, 'dirty-enable': 1}))
    for p in WRITTEN:
        region.write(p)
    r = ynl_json(SPEC, '--do', 'dirty-get', '--json',
                 json.dumps({'region-id': region.id, 'offset': 0,
                             'length': region.size}))
    for a in ('dirty-bitmap', 'dirty-pages'):
        expect(a in r, f'no {a} in the reply: {r}')
    pages = bitmap_pages(r['dirty-bitmap'])
    diag(f'dirty-pages {r["dirty-pages"]}, bitmap pages {pages}')
    expect(as_int(r['dirty-pages'], 'dirty-pages') == len(WRITTEN),
           f'dirty-pages {r["dirty-pages"]}, expected {len(WRITTEN)}')
    expect(pages == list(WRITTEN),
           f'bitmap has pages {pages}, expected {list(WRITTEN)}')


def test_region_get_enoent():
    """region-get of a region that does not exist: ENOENT and why."""
    need_spec()
    ynl_error(SPEC, 'No such file or directory', 'no such region',
              '--do', 'region-get',
              '--json', json.dumps({'region-id': NO_REGION}))


TESTS = [
    ('nlctrl_family', test_nlctrl_family),
    ('spec_validates', test_spec_validates),
    ('api', test_api),
    ('api_bad_version', test_api_bad_version),
    ('region_dump', test_region_dump),
    ('region_get', test_region_get),
    ('dirty_get', test_dirty_get),
    ('region_get_enoent', test_region_get_enoent),
]


def main():
    ksft.print_header()
    ksft.set_plan(len(TESTS))
    sys.stdout.flush()
    if not os.path.isfile(CLI):
        diag(f'no ynl CLI at {CLI}')

    region = None
    if os.path.isfile(SPEC):
        try:
            region = state['region'] = Region(REGION_PAGES)
        except (Fail, OSError) as e:
            diag(f'ynl_region_helper: {e}')

    for name, fn in TESTS:
        try:
            if not os.path.isfile(CLI):
                raise Skip('no ynl CLI')
            fn()
        except Skip as e:
            diag(f'{name}: skipped: {e}')
            ksft.test_result_skip(name)
        except (Fail, KeyError, OSError, ValueError) as e:
            if isinstance(e, KeyError):
                e = f'missing: {e}'
            diag(f'{name}: {e}')
            ksft.test_result_fail(name)
        else:
            ksft.test_result_pass(name)
        sys.stdout.flush()

    if region:
        region.close()
    ksft.finished()


if __name__ == '__main__':
    main()
