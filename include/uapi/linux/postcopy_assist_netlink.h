/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-3-Clause) */
/* Do not edit directly, auto-generated from: */
/*	Documentation/netlink/specs/postcopy_assist.yaml */
/* YNL-GEN uapi header */

#ifndef _UAPI_LINUX_POSTCOPY_ASSIST_NETLINK_H
#define _UAPI_LINUX_POSTCOPY_ASSIST_NETLINK_H

#define POSTCOPY_ASSIST_GENL_NAME	"postcopy_assist"
#define POSTCOPY_ASSIST_GENL_VERSION	1

/**
 * enum pca_feature - Features negotiated by the api handshake.
 * @PCA_FEATURE_MISSING: Missing regions and fault events.
 * @PCA_FEATURE_COPY_BATCH: Many pages per copy.
 * @PCA_FEATURE_FD_RESOLVE: COPY, ZERO and WAKE ioctls on a region fd.
 * @PCA_FEATURE_USER_ONLY: The region flag user-only.
 * @PCA_FEATURE_WAIT_POLICY: The wait policy.
 * @PCA_FEATURE_SHARDED_QUEUES: Several fault queues on a region.
 * @PCA_FEATURE_DIRTY_LOG: Write tracking.
 * @PCA_FEATURE_DISCARD: Pages back to missing.
 * @PCA_FEATURE_MIGRATE: The VMM to agent relay.
 * @PCA_FEATURE_REGION_OPEN: The REGION_OPEN ioctl.
 * @PCA_FEATURE_HUGE: The region flag huge.
 * @PCA_FEATURE_FAULT_RING: Fault rings, attached with ring-entries
 *   (PCA_RING_*).
 * @PCA_FEATURE_OVERWRITE: The resolve flag overwrite, for copy.
 * @PCA_FEATURE_PAGE_BITMAPS: The DISCARD_BITMAP and PRESENT_LOG ioctls.
 * @PCA_FEATURE_RECV: The RECV ioctl, pages received from a socket in place.
 */
enum pca_feature {
	PCA_FEATURE_MISSING = 1,
	PCA_FEATURE_COPY_BATCH = 2,
	PCA_FEATURE_FD_RESOLVE = 4,
	PCA_FEATURE_USER_ONLY = 8,
	PCA_FEATURE_WAIT_POLICY = 16,
	PCA_FEATURE_SHARDED_QUEUES = 32,
	PCA_FEATURE_DIRTY_LOG = 64,
	PCA_FEATURE_DISCARD = 128,
	PCA_FEATURE_MIGRATE = 256,
	PCA_FEATURE_REGION_OPEN = 512,
	PCA_FEATURE_HUGE = 1024,
	PCA_FEATURE_FAULT_RING = 2048,
	PCA_FEATURE_OVERWRITE = 4096,
	PCA_FEATURE_PAGE_BITMAPS = 8192,
	PCA_FEATURE_RECV = 16384,
};

/**
 * enum pca_region_flags - Region flags, fixed when the region is created.
 * @PCA_REGION_MISSING: Every page starts missing.
 * @PCA_REGION_USER_ONLY: Kernel accesses to a missing page fail with EFAULT,
 *   never wait.
 * @PCA_REGION_HUGE: Pages in units of the kernel's PMD size (2 MiB on x86-64),
 *   each mapped with one PMD where the mapping is aligned to the unit. The
 *   size is a multiple of the unit, which the region file reports as
 *   st_blksize and region-get as region-unit. Every range named on such a
 *   region is in whole units: copy takes a unit of data per offset, faults and
 *   the dirty log name whole units, discard drops whole units.
 */
enum pca_region_flags {
	PCA_REGION_MISSING = 1,
	PCA_REGION_USER_ONLY = 2,
	PCA_REGION_HUGE = 4,
};

/**
 * enum pca_policy - What happens to faults while no agent is attached to a
 *   region.
 * @PCA_POLICY_FAIL: Pending and new faults get SIGBUS.
 * @PCA_POLICY_WAIT: Faults stay blocked until an agent attaches.
 */
enum pca_policy {
	PCA_POLICY_FAIL,
	PCA_POLICY_WAIT,
};

/**
 * enum pca_resolve_flags - How copy and zero resolve.
 * @PCA_RESOLVE_DONTWAKE: Place the pages; wake their waiters later, with wake.
 * @PCA_RESOLVE_OVERWRITE: Copy only: a page already present gets the new
 *   content instead of counting as already present, atomically for every
 *   mapping of it (a reader sees the old or the new page, never a mix).
 *   Refused with EPERM once the region's precopy is sealed (discard-seal).
 */
enum pca_resolve_flags {
	PCA_RESOLVE_DONTWAKE = 1,
	PCA_RESOLVE_OVERWRITE = 2,
};

/**
 * enum pca_discard_flags - How the DISCARD_BITMAP ioctl drops pages.
 * @PCA_DISCARD_SEAL: After the discard, seal the region's precopy: overwrite
 *   is refused from then on. A copy with overwrite racing the seal lands
 *   before the discard or fails.
 */
enum pca_discard_flags {
	PCA_DISCARD_SEAL = 1,
};

/**
 * enum pca_dirty_flags - How dirty-get reads the log.
 * @PCA_DIRTY_CLEAR: Fetch and clear, atomically.
 * @PCA_DIRTY_COUNT_ONLY: Only the count (dirty-pages), no bitmap.
 */
enum pca_dirty_flags {
	PCA_DIRTY_CLEAR = 1,
	PCA_DIRTY_COUNT_ONLY = 2,
};

/**
 * enum pca_fault_flags - Flags of a fault record.
 * @PCA_FAULT_WRITE: The access was a write.
 * @PCA_FAULT_KERNEL: The fault was raised by a kernel access (a syscall's
 *   copy).
 */
enum pca_fault_flags {
	PCA_FAULT_WRITE = 1,
	PCA_FAULT_KERNEL = 2,
};

/**
 * enum pca_mig_role - The side of a relayed migration.
 */
enum pca_mig_role {
	PCA_MIG_SOURCE,
	PCA_MIG_DESTINATION,
};

/**
 * enum pca_mig_phase - Phases of a relayed migration; they only move forward,
 *   but for recovering, which goes back to the phase it was in (or a later
 *   one) when the agents are connected again, or fails.
 * @PCA_MIG_REQUESTED: Waiting for an agent.
 * @PCA_MIG_ACCEPTED: An agent took it.
 * @PCA_MIG_PRECOPY: Pages are sent while the guest runs on the source.
 * @PCA_MIG_SWITCHOVER: The agent asks the VMM to pause its vCPUs.
 * @PCA_MIG_PAUSED: The VMM paused them (migrate-paused).
 * @PCA_MIG_POSTCOPY: The guest runs on the destination; missing pages fault.
 * @PCA_MIG_COMPLETED: Every page is on the destination (final).
 * @PCA_MIG_FAILED: The migration ended on an error (final).
 * @PCA_MIG_CANCELLED: The VMM cancelled it (final).
 * @PCA_MIG_RECOVERING: The agents lost each other and reconnect (mig-progress
 *   counts the reconnects and the time broken); faults wait meanwhile.
 */
enum pca_mig_phase {
	PCA_MIG_REQUESTED,
	PCA_MIG_ACCEPTED,
	PCA_MIG_PRECOPY,
	PCA_MIG_SWITCHOVER,
	PCA_MIG_PAUSED,
	PCA_MIG_POSTCOPY,
	PCA_MIG_COMPLETED,
	PCA_MIG_FAILED,
	PCA_MIG_CANCELLED,
	PCA_MIG_RECOVERING,
};

enum pca_attr {
	PCA_A_PAD = 1,
	PCA_A_API_VERSION,
	PCA_A_FEATURES,
	PCA_A_COMMANDS,
	PCA_A_REGION_ID,
	PCA_A_REGION_SIZE,
	PCA_A_REGION_FLAGS,
	PCA_A_PAGES_PRESENT,
	PCA_A_QUEUES,
	PCA_A_POLICY,
	PCA_A_QUEUE_ID,
	PCA_A_OFFSET,
	PCA_A_LENGTH,
	PCA_A_RESOLVE_FLAGS,
	PCA_A_PAGE,
	PCA_A_FAULT_RECORDS,
	PCA_A_STATS,
	PCA_A_DIRTY_ENABLE,
	PCA_A_DIRTY_FLAGS,
	PCA_A_DIRTY_BITMAP,
	PCA_A_DIRTY_PAGES,
	PCA_A_DIRTY_TRACKING,
	PCA_A_MIG_ID,
	PCA_A_MIG_ROLE,
	PCA_A_MIG_PEER,
	PCA_A_MIG_ARGS,
	PCA_A_MIG_PHASE,
	PCA_A_MIG_PROGRESS,
	PCA_A_MIG_ERROR,
	PCA_A_MIG_MESSAGE,
	PCA_A_REGION_UNIT,
	PCA_A_REGION_PATH,
	PCA_A_RING_ENTRIES,
	PCA_A_RING_FD,
	PCA_A_MIG_RUNNING,

	__PCA_A_MAX,
	PCA_A_MAX = (__PCA_A_MAX - 1)
};

enum pca_page_attr {
	PCA_PAGE_A_OFFSET = 1,
	PCA_PAGE_A_DATA,

	__PCA_PAGE_A_MAX,
	PCA_PAGE_A_MAX = (__PCA_PAGE_A_MAX - 1)
};

enum pca_stat_attr {
	PCA_STAT_PAD = 1,
	PCA_STAT_FAULTS,
	PCA_STAT_FAULTS_COALESCED,
	PCA_STAT_PAGES_COPIED,
	PCA_STAT_PAGES_ZEROED,
	PCA_STAT_COPY_EEXIST,
	PCA_STAT_WAIT_HIST,
	PCA_STAT_FAULTS_PENDING,
	PCA_STAT_FAULTS_PREMAPPED,

	__PCA_STAT_MAX,
	PCA_STAT_MAX = (__PCA_STAT_MAX - 1)
};

enum pca_cmd {
	PCA_CMD_API = 1,
	PCA_CMD_REGION_GET,
	PCA_CMD_ATTACH,
	PCA_CMD_DETACH,
	PCA_CMD_FAULT_RESEND,
	PCA_CMD_COPY,
	PCA_CMD_ZERO,
	PCA_CMD_WAKE,
	PCA_CMD_DIRTY_TRACK,
	PCA_CMD_DIRTY_GET,
	PCA_CMD_DIRTY_CLEAR,
	PCA_CMD_DISCARD,
	PCA_CMD_MIGRATE,
	PCA_CMD_MIGRATE_ACCEPT,
	PCA_CMD_MIGRATE_UPDATE,
	PCA_CMD_MIGRATE_PAUSED,
	PCA_CMD_MIGRATE_CANCEL,
	PCA_CMD_MIGRATE_GET,
	PCA_CMD_FAULT,
	PCA_CMD_MIGRATE_REQUEST,
	PCA_CMD_MIGRATE_EVENT,
	PCA_CMD_MIGRATE_RUNNING,

	__PCA_CMD_MAX,
	PCA_CMD_MAX = (__PCA_CMD_MAX - 1)
};

#define PCA_MCGRP_AGENT	"agent"
#define PCA_MCGRP_VMM	"vmm"

#endif /* _UAPI_LINUX_POSTCOPY_ASSIST_NETLINK_H */
