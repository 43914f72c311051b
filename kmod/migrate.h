/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_MIGRATE_H
#define _PCA_MIGRATE_H

#include <linux/types.h>

struct net;

void pca_migrate_release_portid(struct net *net, u32 portid);
void pca_migrate_exit(void);

#endif /* _PCA_MIGRATE_H */
