/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/postcopy_assist.yaml */
/* YNL-GEN kernel header */

#ifndef _LINUX_POSTCOPY_ASSIST_GEN_H
#define _LINUX_POSTCOPY_ASSIST_GEN_H

#include <net/netlink.h>
#include <net/genetlink.h>

#include <uapi/linux/postcopy_assist_netlink.h>

/* Common nested types */
extern const struct nla_policy postcopy_assist_page_nl_policy[PCA_PAGE_A_DATA + 1];

extern const struct nla_policy postcopy_assist_api_nl_policy[PCA_A_FEATURES + 1];

extern const struct nla_policy postcopy_assist_region_get_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_attach_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_detach_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_fault_resend_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_copy_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_zero_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_wake_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_dirty_track_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_dirty_get_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_dirty_clear_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_discard_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_migrate_nl_policy[PCA_A_REGION_PATH + 1];

extern const struct nla_policy postcopy_assist_migrate_accept_nl_policy[PCA_A_MIG_ID + 1];

extern const struct nla_policy postcopy_assist_migrate_update_nl_policy[PCA_A_MIG_MESSAGE + 1];

extern const struct nla_policy postcopy_assist_migrate_paused_nl_policy[PCA_A_MIG_ID + 1];

extern const struct nla_policy postcopy_assist_migrate_cancel_nl_policy[PCA_A_MIG_ID + 1];

extern const struct nla_policy postcopy_assist_migrate_get_nl_policy[PCA_A_MIG_ID + 1];

extern const struct nla_policy postcopy_assist_migrate_running_nl_policy[PCA_A_MIG_ID + 1];

/* Ops table for postcopy_assist */
extern const struct genl_ops postcopy_assist_nl_ops[19];

int postcopy_assist_nl_api_doit(struct sk_buff *skb, struct genl_info *info);
int postcopy_assist_nl_region_get_doit(struct sk_buff *skb,
				       struct genl_info *info);
int postcopy_assist_nl_region_get_dumpit(struct sk_buff *skb,
					 struct netlink_callback *cb);
int postcopy_assist_nl_attach_doit(struct sk_buff *skb, struct genl_info *info);
int postcopy_assist_nl_detach_doit(struct sk_buff *skb, struct genl_info *info);
int postcopy_assist_nl_fault_resend_doit(struct sk_buff *skb,
					 struct genl_info *info);
int postcopy_assist_nl_copy_doit(struct sk_buff *skb, struct genl_info *info);
int postcopy_assist_nl_zero_doit(struct sk_buff *skb, struct genl_info *info);
int postcopy_assist_nl_wake_doit(struct sk_buff *skb, struct genl_info *info);
int postcopy_assist_nl_dirty_track_doit(struct sk_buff *skb,
					struct genl_info *info);
int postcopy_assist_nl_dirty_get_doit(struct sk_buff *skb,
				      struct genl_info *info);
int postcopy_assist_nl_dirty_get_dumpit(struct sk_buff *skb,
					struct netlink_callback *cb);
int postcopy_assist_nl_dirty_clear_doit(struct sk_buff *skb,
					struct genl_info *info);
int postcopy_assist_nl_discard_doit(struct sk_buff *skb,
				    struct genl_info *info);
int postcopy_assist_nl_migrate_doit(struct sk_buff *skb,
				    struct genl_info *info);
int postcopy_assist_nl_migrate_accept_doit(struct sk_buff *skb,
					   struct genl_info *info);
int postcopy_assist_nl_migrate_update_doit(struct sk_buff *skb,
					   struct genl_info *info);
int postcopy_assist_nl_migrate_paused_doit(struct sk_buff *skb,
					   struct genl_info *info);
int postcopy_assist_nl_migrate_cancel_doit(struct sk_buff *skb,
					   struct genl_info *info);
int postcopy_assist_nl_migrate_get_doit(struct sk_buff *skb,
					struct genl_info *info);
int postcopy_assist_nl_migrate_get_dumpit(struct sk_buff *skb,
					  struct netlink_callback *cb);
int postcopy_assist_nl_migrate_running_doit(struct sk_buff *skb,
					    struct genl_info *info);

enum {
	POSTCOPY_ASSIST_NLGRP_AGENT,
	POSTCOPY_ASSIST_NLGRP_VMM,
};

#endif /* _LINUX_POSTCOPY_ASSIST_GEN_H */
