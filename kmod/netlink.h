/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_NETLINK_H
#define _PCA_NETLINK_H

#include <linux/types.h>

struct net;
struct pca_fault_record;

int pca_netlink_init(void);
void pca_netlink_exit(void);
int pca_nl_send_faults(struct net *net, u32 portid,
		       const struct pca_fault_record *recs, unsigned int n);

#endif /* _PCA_NETLINK_H */
