/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_LIMITS_H
#define _PCA_LIMITS_H

#include <linux/types.h>

struct net;
struct netlink_ext_ack;

int pca_limits_init(void);
void pca_limits_exit(void);

int pca_limit_migration_add(struct net *net, struct netlink_ext_ack *extack);
void pca_limit_migration_del(struct net *net);
int pca_limit_region_add(struct net *net, u64 size);
void pca_limit_region_del(struct net *net, u64 size);

#endif /* _PCA_LIMITS_H */
