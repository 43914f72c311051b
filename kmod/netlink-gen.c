// SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause)
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/postcopy_assist.yaml */
/* YNL-GEN kernel source */

#include <net/netlink.h>
#include <net/genetlink.h>

#include "netlink-gen.h"

#include <uapi/linux/postcopy_assist_netlink.h>

/* Common nested types */
const struct nla_policy postcopy_assist_page_nl_policy[PCA_PAGE_A_DATA + 1] = {
	[PCA_PAGE_A_OFFSET] = { .type = NLA_U64, },
	[PCA_PAGE_A_DATA] = NLA_POLICY_EXACT_LEN(PAGE_SIZE),
};

/* PCA_CMD_API - do */
const struct nla_policy postcopy_assist_api_nl_policy[PCA_A_FEATURES + 1] = {
	[PCA_A_API_VERSION] = { .type = NLA_U32, },
	[PCA_A_FEATURES] = { .type = NLA_U64, },
};

/* PCA_CMD_REGION_GET - do */
const struct nla_policy postcopy_assist_region_get_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* PCA_CMD_ATTACH - do */
const struct nla_policy postcopy_assist_attach_nl_policy[PCA_A_RING_ENTRIES + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_POLICY] = NLA_POLICY_MAX(NLA_U32, 1),
	[PCA_A_RING_ENTRIES] = { .type = NLA_U32, },
};

/* PCA_CMD_DETACH - do */
const struct nla_policy postcopy_assist_detach_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* PCA_CMD_FAULT_RESEND - do */
const struct nla_policy postcopy_assist_fault_resend_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
};

/* PCA_CMD_COPY - do */
const struct nla_policy postcopy_assist_copy_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_RESOLVE_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x3),
	[PCA_A_PAGE] = NLA_POLICY_NESTED(postcopy_assist_page_nl_policy),
};

/* PCA_CMD_ZERO - do */
const struct nla_policy postcopy_assist_zero_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_OFFSET] = { .type = NLA_U64, },
	[PCA_A_LENGTH] = { .type = NLA_U64, },
	[PCA_A_RESOLVE_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x3),
};

/* PCA_CMD_WAKE - do */
const struct nla_policy postcopy_assist_wake_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_OFFSET] = { .type = NLA_U64, },
	[PCA_A_LENGTH] = { .type = NLA_U64, },
	[PCA_A_RESOLVE_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x3),
};

/* PCA_CMD_DIRTY_TRACK - do */
const struct nla_policy postcopy_assist_dirty_track_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_DIRTY_ENABLE] = NLA_POLICY_MAX(NLA_U32, 1),
};

/* PCA_CMD_DIRTY_GET - do */
const struct nla_policy postcopy_assist_dirty_get_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_OFFSET] = { .type = NLA_U64, },
	[PCA_A_LENGTH] = { .type = NLA_U64, },
	[PCA_A_DIRTY_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0x3),
};

/* PCA_CMD_DIRTY_CLEAR - do */
const struct nla_policy postcopy_assist_dirty_clear_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_OFFSET] = { .type = NLA_U64, },
	[PCA_A_LENGTH] = { .type = NLA_U64, },
};

/* PCA_CMD_DISCARD - do */
const struct nla_policy postcopy_assist_discard_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_OFFSET] = { .type = NLA_U64, },
	[PCA_A_LENGTH] = { .type = NLA_U64, },
};

/* PCA_CMD_MIGRATE - do */
const struct nla_policy postcopy_assist_migrate_nl_policy[PCA_A_REGION_PATH + 1] = {
	[PCA_A_REGION_ID] = { .type = NLA_U32, },
	[PCA_A_REGION_PATH] = { .type = NLA_NUL_STRING, .len = 4095, },
	[PCA_A_MIG_ROLE] = NLA_POLICY_MAX(NLA_U32, 1),
	[PCA_A_MIG_PEER] = { .type = NLA_NUL_STRING, .len = 63, },
	[PCA_A_MIG_ARGS] = { .type = NLA_NUL_STRING, .len = 1023, },
};

/* PCA_CMD_MIGRATE_ACCEPT - do */
const struct nla_policy postcopy_assist_migrate_accept_nl_policy[PCA_A_MIG_ID + 1] = {
	[PCA_A_MIG_ID] = { .type = NLA_U32, },
};

/* PCA_CMD_MIGRATE_UPDATE - do */
const struct nla_policy postcopy_assist_migrate_update_nl_policy[PCA_A_MIG_MESSAGE + 1] = {
	[PCA_A_MIG_ID] = { .type = NLA_U32, },
	[PCA_A_MIG_PHASE] = NLA_POLICY_MAX(NLA_U32, 9),
	[PCA_A_MIG_PROGRESS] = NLA_POLICY_EXACT_LEN(128),
	[PCA_A_MIG_ERROR] = NLA_POLICY_MAX(NLA_U32, 4095),
	[PCA_A_MIG_MESSAGE] = { .type = NLA_NUL_STRING, .len = 127, },
};

/* PCA_CMD_MIGRATE_PAUSED - do */
const struct nla_policy postcopy_assist_migrate_paused_nl_policy[PCA_A_MIG_ID + 1] = {
	[PCA_A_MIG_ID] = { .type = NLA_U32, },
};

/* PCA_CMD_MIGRATE_CANCEL - do */
const struct nla_policy postcopy_assist_migrate_cancel_nl_policy[PCA_A_MIG_ID + 1] = {
	[PCA_A_MIG_ID] = { .type = NLA_U32, },
};

/* PCA_CMD_MIGRATE_GET - do */
const struct nla_policy postcopy_assist_migrate_get_nl_policy[PCA_A_MIG_ID + 1] = {
	[PCA_A_MIG_ID] = { .type = NLA_U32, },
};

/* PCA_CMD_MIGRATE_RUNNING - do */
const struct nla_policy postcopy_assist_migrate_running_nl_policy[PCA_A_MIG_ID + 1] = {
	[PCA_A_MIG_ID] = { .type = NLA_U32, },
};

/* Ops table for postcopy_assist */
const struct genl_ops postcopy_assist_nl_ops[19] = {
	{
		.cmd		= PCA_CMD_API,
		.doit		= postcopy_assist_nl_api_doit,
		.policy		= postcopy_assist_api_nl_policy,
		.maxattr	= PCA_A_FEATURES,
	},
	{
		.cmd		= PCA_CMD_REGION_GET,
		.doit		= postcopy_assist_nl_region_get_doit,
		.dumpit		= postcopy_assist_nl_region_get_dumpit,
		.policy		= postcopy_assist_region_get_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_ATTACH,
		.doit		= postcopy_assist_nl_attach_doit,
		.policy		= postcopy_assist_attach_nl_policy,
		.maxattr	= PCA_A_RING_ENTRIES,
	},
	{
		.cmd		= PCA_CMD_DETACH,
		.doit		= postcopy_assist_nl_detach_doit,
		.policy		= postcopy_assist_detach_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_FAULT_RESEND,
		.doit		= postcopy_assist_nl_fault_resend_doit,
		.policy		= postcopy_assist_fault_resend_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_COPY,
		.doit		= postcopy_assist_nl_copy_doit,
		.policy		= postcopy_assist_copy_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_ZERO,
		.doit		= postcopy_assist_nl_zero_doit,
		.policy		= postcopy_assist_zero_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_WAKE,
		.doit		= postcopy_assist_nl_wake_doit,
		.policy		= postcopy_assist_wake_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_DIRTY_TRACK,
		.doit		= postcopy_assist_nl_dirty_track_doit,
		.policy		= postcopy_assist_dirty_track_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_DIRTY_GET,
		.doit		= postcopy_assist_nl_dirty_get_doit,
		.dumpit		= postcopy_assist_nl_dirty_get_dumpit,
		.policy		= postcopy_assist_dirty_get_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_DIRTY_CLEAR,
		.doit		= postcopy_assist_nl_dirty_clear_doit,
		.policy		= postcopy_assist_dirty_clear_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_DISCARD,
		.doit		= postcopy_assist_nl_discard_doit,
		.policy		= postcopy_assist_discard_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_MIGRATE,
		.doit		= postcopy_assist_nl_migrate_doit,
		.policy		= postcopy_assist_migrate_nl_policy,
		.maxattr	= PCA_A_REGION_PATH,
	},
	{
		.cmd		= PCA_CMD_MIGRATE_ACCEPT,
		.doit		= postcopy_assist_nl_migrate_accept_doit,
		.policy		= postcopy_assist_migrate_accept_nl_policy,
		.maxattr	= PCA_A_MIG_ID,
	},
	{
		.cmd		= PCA_CMD_MIGRATE_UPDATE,
		.doit		= postcopy_assist_nl_migrate_update_doit,
		.policy		= postcopy_assist_migrate_update_nl_policy,
		.maxattr	= PCA_A_MIG_MESSAGE,
	},
	{
		.cmd		= PCA_CMD_MIGRATE_PAUSED,
		.doit		= postcopy_assist_nl_migrate_paused_doit,
		.policy		= postcopy_assist_migrate_paused_nl_policy,
		.maxattr	= PCA_A_MIG_ID,
	},
	{
		.cmd		= PCA_CMD_MIGRATE_CANCEL,
		.doit		= postcopy_assist_nl_migrate_cancel_doit,
		.policy		= postcopy_assist_migrate_cancel_nl_policy,
		.maxattr	= PCA_A_MIG_ID,
	},
	{
		.cmd		= PCA_CMD_MIGRATE_GET,
		.doit		= postcopy_assist_nl_migrate_get_doit,
		.dumpit		= postcopy_assist_nl_migrate_get_dumpit,
		.policy		= postcopy_assist_migrate_get_nl_policy,
		.maxattr	= PCA_A_MIG_ID,
	},
	{
		.cmd		= PCA_CMD_MIGRATE_RUNNING,
		.doit		= postcopy_assist_nl_migrate_running_doit,
		.policy		= postcopy_assist_migrate_running_nl_policy,
		.maxattr	= PCA_A_MIG_ID,
	},
};

static const struct genl_multicast_group postcopy_assist_nl_mcgrps[] = {
	[POSTCOPY_ASSIST_NLGRP_AGENT] = { "agent", },
	[POSTCOPY_ASSIST_NLGRP_VMM] = { "vmm", },
};
