/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/postcopy_assist.yaml */
/* by scripts/libpca-gen.py */

#include "spec-gen.h"

const char *const pca_spec_feature_names[PCA_SPEC_FEATURES] = {
	"missing",
	"copy_batch",
	"fd_resolve",
	"user_only",
	"wait_policy",
	"sharded_queues",
	"dirty_log",
	"discard",
	"migrate",
	"region_open",
	"huge",
	"fault_ring",
	"overwrite",
	"page_bitmaps",
	[14] = "recv",
};

const char *const pca_spec_cmd_names[__PCA_CMD_MAX] = {
	[PCA_CMD_API] = "api",
	[PCA_CMD_REGION_GET] = "region_get",
	[PCA_CMD_ATTACH] = "attach",
	[PCA_CMD_DETACH] = "detach",
	[PCA_CMD_FAULT_RESEND] = "fault_resend",
	[PCA_CMD_COPY] = "copy",
	[PCA_CMD_ZERO] = "zero",
	[PCA_CMD_WAKE] = "wake",
	[PCA_CMD_DIRTY_TRACK] = "dirty_track",
	[PCA_CMD_DIRTY_GET] = "dirty_get",
	[PCA_CMD_DIRTY_CLEAR] = "dirty_clear",
	[PCA_CMD_DISCARD] = "discard",
	[PCA_CMD_MIGRATE] = "migrate",
	[PCA_CMD_MIGRATE_ACCEPT] = "migrate_accept",
	[PCA_CMD_MIGRATE_UPDATE] = "migrate_update",
	[PCA_CMD_MIGRATE_PAUSED] = "migrate_paused",
	[PCA_CMD_MIGRATE_CANCEL] = "migrate_cancel",
	[PCA_CMD_MIGRATE_GET] = "migrate_get",
	[PCA_CMD_FAULT] = "fault",
	[PCA_CMD_MIGRATE_REQUEST] = "migrate_request",
	[PCA_CMD_MIGRATE_EVENT] = "migrate_event",
	[PCA_CMD_MIGRATE_RUNNING] = "migrate_running",
};

const char *const pca_spec_attr_names[PCA_A_MAX + 1] = {
	[PCA_A_PAD] = "pad",
	[PCA_A_API_VERSION] = "api_version",
	[PCA_A_FEATURES] = "features",
	[PCA_A_COMMANDS] = "commands",
	[PCA_A_REGION_ID] = "region_id",
	[PCA_A_REGION_SIZE] = "region_size",
	[PCA_A_REGION_FLAGS] = "region_flags",
	[PCA_A_PAGES_PRESENT] = "pages_present",
	[PCA_A_QUEUES] = "queues",
	[PCA_A_POLICY] = "policy",
	[PCA_A_QUEUE_ID] = "queue_id",
	[PCA_A_OFFSET] = "offset",
	[PCA_A_LENGTH] = "length",
	[PCA_A_RESOLVE_FLAGS] = "resolve_flags",
	[PCA_A_PAGE] = "page",
	[PCA_A_FAULT_RECORDS] = "fault_records",
	[PCA_A_STATS] = "stats",
	[PCA_A_DIRTY_ENABLE] = "dirty_enable",
	[PCA_A_DIRTY_FLAGS] = "dirty_flags",
	[PCA_A_DIRTY_BITMAP] = "dirty_bitmap",
	[PCA_A_DIRTY_PAGES] = "dirty_pages",
	[PCA_A_DIRTY_TRACKING] = "dirty_tracking",
	[PCA_A_MIG_ID] = "mig_id",
	[PCA_A_MIG_ROLE] = "mig_role",
	[PCA_A_MIG_PEER] = "mig_peer",
	[PCA_A_MIG_ARGS] = "mig_args",
	[PCA_A_MIG_PHASE] = "mig_phase",
	[PCA_A_MIG_PROGRESS] = "mig_progress",
	[PCA_A_MIG_ERROR] = "mig_error",
	[PCA_A_MIG_MESSAGE] = "mig_message",
	[PCA_A_REGION_UNIT] = "region_unit",
	[PCA_A_REGION_PATH] = "region_path",
	[PCA_A_RING_ENTRIES] = "ring_entries",
	[PCA_A_RING_FD] = "ring_fd",
	[PCA_A_MIG_RUNNING] = "mig_running",
};

const struct nla_policy pca_spec_attr_policy[PCA_A_MAX + 1] = {
	[PCA_A_API_VERSION] = { .type = NLA_U32 },
	[PCA_A_FEATURES] = { .type = NLA_U64 },
	[PCA_A_COMMANDS] = { .type = NLA_U64 },
	[PCA_A_REGION_ID] = { .type = NLA_U32 },
	[PCA_A_REGION_SIZE] = { .type = NLA_U64 },
	[PCA_A_REGION_FLAGS] = { .type = NLA_U64 },
	[PCA_A_PAGES_PRESENT] = { .type = NLA_U64 },
	[PCA_A_QUEUES] = { .type = NLA_U32 },
	[PCA_A_POLICY] = { .type = NLA_U32 },
	[PCA_A_QUEUE_ID] = { .type = NLA_U32 },
	[PCA_A_OFFSET] = { .type = NLA_U64 },
	[PCA_A_LENGTH] = { .type = NLA_U64 },
	[PCA_A_RESOLVE_FLAGS] = { .type = NLA_U32 },
	[PCA_A_PAGE] = { .type = NLA_NESTED },
	[PCA_A_STATS] = { .type = NLA_NESTED },
	[PCA_A_DIRTY_ENABLE] = { .type = NLA_U32 },
	[PCA_A_DIRTY_FLAGS] = { .type = NLA_U32 },
	[PCA_A_DIRTY_PAGES] = { .type = NLA_U64 },
	[PCA_A_DIRTY_TRACKING] = { .type = NLA_U32 },
	[PCA_A_MIG_ID] = { .type = NLA_U32 },
	[PCA_A_MIG_ROLE] = { .type = NLA_U32 },
	[PCA_A_MIG_PEER] = { .type = NLA_STRING },
	[PCA_A_MIG_ARGS] = { .type = NLA_STRING },
	[PCA_A_MIG_PHASE] = { .type = NLA_U32 },
	[PCA_A_MIG_ERROR] = { .type = NLA_U32 },
	[PCA_A_MIG_MESSAGE] = { .type = NLA_STRING },
	[PCA_A_REGION_UNIT] = { .type = NLA_U64 },
	[PCA_A_REGION_PATH] = { .type = NLA_STRING },
	[PCA_A_RING_ENTRIES] = { .type = NLA_U32 },
	[PCA_A_RING_FD] = { .type = NLA_U32 },
	[PCA_A_MIG_RUNNING] = { .type = NLA_FLAG },
};

const char *const pca_spec_page_attr_names[PCA_PAGE_A_MAX + 1] = {
	[PCA_PAGE_A_OFFSET] = "offset",
	[PCA_PAGE_A_DATA] = "data",
};

const struct nla_policy pca_spec_page_attr_policy[PCA_PAGE_A_MAX + 1] = {
	[PCA_PAGE_A_OFFSET] = { .type = NLA_U64 },
};

const char *const pca_spec_stat_attr_names[PCA_STAT_MAX + 1] = {
	[PCA_STAT_PAD] = "pad",
	[PCA_STAT_FAULTS] = "faults",
	[PCA_STAT_FAULTS_COALESCED] = "faults_coalesced",
	[PCA_STAT_PAGES_COPIED] = "pages_copied",
	[PCA_STAT_PAGES_ZEROED] = "pages_zeroed",
	[PCA_STAT_COPY_EEXIST] = "copy_eexist",
	[PCA_STAT_WAIT_HIST] = "wait_hist",
	[PCA_STAT_FAULTS_PENDING] = "faults_pending",
	[PCA_STAT_FAULTS_PREMAPPED] = "faults_premapped",
};

const struct nla_policy pca_spec_stat_attr_policy[PCA_STAT_MAX + 1] = {
	[PCA_STAT_FAULTS] = { .type = NLA_U64 },
	[PCA_STAT_FAULTS_COALESCED] = { .type = NLA_U64 },
	[PCA_STAT_PAGES_COPIED] = { .type = NLA_U64 },
	[PCA_STAT_PAGES_ZEROED] = { .type = NLA_U64 },
	[PCA_STAT_COPY_EEXIST] = { .type = NLA_U64 },
	[PCA_STAT_FAULTS_PENDING] = { .type = NLA_U64 },
	[PCA_STAT_FAULTS_PREMAPPED] = { .type = NLA_U64 },
};
