/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_MIGRATE_H
#define _PCA_MIGRATE_H

#include <linux/types.h>

struct genl_info;
struct net;
struct netlink_callback;
struct sk_buff;

int pca_nl_migrate(struct sk_buff *skb, struct genl_info *info);
int pca_nl_migrate_accept(struct sk_buff *skb, struct genl_info *info);
int pca_nl_migrate_update(struct sk_buff *skb, struct genl_info *info);
int pca_nl_migrate_paused(struct sk_buff *skb, struct genl_info *info);
int pca_nl_migrate_cancel(struct sk_buff *skb, struct genl_info *info);
int pca_nl_migrate_get(struct sk_buff *skb, struct genl_info *info);
int pca_nl_migrate_dump(struct sk_buff *skb, struct netlink_callback *cb);
void pca_migrate_release_portid(struct net *net, u32 portid);
void pca_migrate_exit(void);

#endif /* _PCA_MIGRATE_H */
