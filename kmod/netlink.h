/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_NETLINK_H
#define _PCA_NETLINK_H

#include <linux/types.h>
#include <linux/netlink.h>

struct genl_info;
struct netlink_callback;
struct net;
struct pca_fault_record;
struct pca_region;
struct sk_buff;
struct sock;

extern struct genl_family pca_family;

bool pca_nl_dump_admin(struct netlink_callback *cb);

int pca_netlink_init(void);
void pca_netlink_exit(void);
int pca_nl_deliver(struct sock *sk, struct sk_buff *msg);
void pca_nl_report_loss(struct sock *sk);
int pca_nl_send_faults(struct sock *sk, const struct pca_fault_record *recs,
		       unsigned int n);

/*
 * The socket a request came from (netlink_unicast_kernel() sets it), which
 * is alive and bound for as long as the request is handled: the sender is
 * inside sendmsg() on it.
 */
static inline struct sock *pca_nl_sender(struct sk_buff *skb)
{
	return NETLINK_CB(skb).sk;
}

#endif /* _PCA_NETLINK_H */
