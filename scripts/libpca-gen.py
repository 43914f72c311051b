#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write libpca's tables of the family's spec: names and reply policies.

libpca speaks the family through libnl, which the kernel's C generator does
not target (it writes a library over its own ynl.h); the names libpca prints
and the attribute types it parses with come from the spec all the same.

    libpca-gen.py SPEC OUT   (writes OUT.h and OUT.c)
"""
import sys

import yaml

NL_TYPE = {'u8': 'NLA_U8', 'u16': 'NLA_U16', 'u32': 'NLA_U32',
           'u64': 'NLA_U64', 'string': 'NLA_STRING', 'nest': 'NLA_NESTED',
           'flag': 'NLA_FLAG'}


def c_upper(name):
    return name.upper().replace('-', '_')


def c_lower(name):
    return name.lower().replace('-', '_')


def header(p, spec_path):
    p('/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */')
    p('/* Do not edit directly, auto-generated from: */')
    p(f'/*\t{spec_path} */')
    p('/* by scripts/libpca-gen.py */')
    p('')


def main():
    spec_path, out_base = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    sets = {s['name']: s for s in spec['attribute-sets']}
    defs = {d['name']: d for d in spec['definitions']}
    ops = spec['operations']
    hdr, src = [], []
    h, c = hdr.append, src.append
    guard = '_PCA_SPEC_GEN_H'
    name = out_base.split('/')[-1]

    header(h, spec_path)
    h(f'#ifndef {guard}')
    h(f'#define {guard}')
    h('')
    h('#include <netlink/attr.h>')
    h('#include <linux/postcopy_assist.h>')
    header(c, spec_path)
    c(f'#include "{name}.h"')

    # (bit, name, whether the spec gives the bit): entries without a
    # value take the bit after the previous one, as in the ynl tools.
    features, bit = [], 0
    for e in defs['feature']['entries']:
        e = e if isinstance(e, dict) else {'name': e}
        bit = e.get('value', bit)
        features.append((bit, e['name'], 'value' in e))
        bit += 1
    h('')
    h('/*')
    h(' * Names of the bits of enum pca_feature, of the commands and of the')
    h(' * attributes of each set; the types of each set\'s attributes.')
    h(' */')
    h(f'#define PCA_SPEC_FEATURES\t{max(f[0] for f in features) + 1}')
    h('extern const char *const pca_spec_feature_names[PCA_SPEC_FEATURES];')
    c('')
    c('const char *const pca_spec_feature_names[PCA_SPEC_FEATURES] = {')
    for bit, f, given in features:
        at = f'[{bit}] = ' if given else ''
        c(f'\t{at}"{c_lower(f)}",')
    c('};')

    cnt = c_upper(spec['cmd-cnt-name'])
    h(f'extern const char *const pca_spec_cmd_names[{cnt}];')
    c('')
    c(f'const char *const pca_spec_cmd_names[{cnt}] = {{')
    for op in ops['list']:
        c(f'\t[{c_upper(ops["name-prefix"] + op["name"])}] = "{c_lower(op["name"])}",')
    c('};')

    for set_name, var in (('pca', 'attr'), ('page', 'page_attr'),
                          ('stats', 'stat_attr')):
        aset = sets[set_name]
        prefix = aset['name-prefix']
        size = c_upper(aset['attr-max-name']) + ' + 1'
        h(f'extern const char *const pca_spec_{var}_names[{size}];')
        h(f'extern const struct nla_policy pca_spec_{var}_policy[{size}];')
        c('')
        c(f'const char *const pca_spec_{var}_names[{size}] = {{')
        for a in aset['attributes']:
            c(f'\t[{c_upper(prefix + a["name"])}] = "{c_lower(a["name"])}",')
        c('};')
        c('')
        c(f'const struct nla_policy pca_spec_{var}_policy[{size}] = {{')
        for a in aset['attributes']:
            t = NL_TYPE.get(a['type'])
            if t:
                c(f'\t[{c_upper(prefix + a["name"])}] = {{ .type = {t} }},')
        c('};')

    h('')
    h(f'#endif /* {guard} */')
    with open(out_base + '.h', 'w') as f:
        f.write('\n'.join(hdr) + '\n')
    with open(out_base + '.c', 'w') as f:
        f.write('\n'.join(src) + '\n')


if __name__ == '__main__':
    main()
