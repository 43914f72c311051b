/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/postcopy_assist.yaml */
/* by scripts/libpca-gen.py */

#ifndef _PCA_SPEC_GEN_H
#define _PCA_SPEC_GEN_H

#include <netlink/attr.h>
#include <linux/postcopy_assist.h>

/*
 * Names of the bits of enum pca_feature, of the commands and of the
 * attributes of each set; the types of each set's attributes.
 */
#define PCA_SPEC_FEATURES	15
extern const char *const pca_spec_feature_names[PCA_SPEC_FEATURES];
extern const char *const pca_spec_cmd_names[__PCA_CMD_MAX];
extern const char *const pca_spec_attr_names[PCA_A_MAX + 1];
extern const struct nla_policy pca_spec_attr_policy[PCA_A_MAX + 1];
extern const char *const pca_spec_page_attr_names[PCA_PAGE_A_MAX + 1];
extern const struct nla_policy pca_spec_page_attr_policy[PCA_PAGE_A_MAX + 1];
extern const char *const pca_spec_stat_attr_names[PCA_STAT_MAX + 1];
extern const struct nla_policy pca_spec_stat_attr_policy[PCA_STAT_MAX + 1];

#endif /* _PCA_SPEC_GEN_H */
