/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_NETLINK_H
#define _PCA_NETLINK_H

#include <linux/types.h>

struct genl_info;
struct net;
struct pca_fault_record;
struct pca_region;
struct sk_buff;

/* Indices into the family's multicast groups. */
enum {
	PCA_NL_MCGRP_AGENT,
	PCA_NL_MCGRP_VMM,
};

extern struct genl_family pca_family;

int pca_nl_admin(struct sk_buff *skb, struct genl_info *info);
struct pca_region *pca_nl_region(struct sk_buff *skb, struct genl_info *info);

int pca_netlink_init(void);
void pca_netlink_exit(void);
int pca_nl_send_faults(struct net *net, u32 portid,
		       const struct pca_fault_record *recs, unsigned int n);

#endif /* _PCA_NETLINK_H */
