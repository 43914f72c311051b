/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * postcopy_assist: kernel-assisted demand paging for live migration.
 *
 * Guest RAM lives in a *region*: memory owned by the module and mapped by a
 * VMM through a region file descriptor.  Pages of a region may be *missing*;
 * a thread touching one sleeps while the fault is forwarded to an agent over
 * the generic netlink family POSTCOPY_ASSIST_GENL_NAME, and wakes once the
 * agent has resolved the page (COPY, ZERO or WAKE).
 *
 * Two interfaces:
 *  - generic netlink (control, fault events, resolution with data inline);
 *  - ioctls on /dev/postcopy_assist and on region fds (region creation and a
 *    fast resolution path that copies straight from user buffers).
 *
 * Callers start with an API handshake (PCA_CMD_API / PCA_IOC_API): they
 * name PCA_API_VERSION and the PCA_FEATURE_* bits they need; unknown bits
 * are refused with -EINVAL.  The handshake keeps no state.
 *
 * Every structure below has only naturally aligned __u64/__u32 fields and no
 * implicit padding.  Released structures never change; new behaviour gets a
 * new command.
 */
#ifndef _UAPI_LINUX_POSTCOPY_ASSIST_H
#define _UAPI_LINUX_POSTCOPY_ASSIST_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define POSTCOPY_ASSIST_GENL_NAME	"postcopy_assist"
#define POSTCOPY_ASSIST_GENL_VERSION	1
#define POSTCOPY_ASSIST_DEVICE_NAME	"postcopy_assist"

/* The one API version this header describes. */
#define PCA_API_VERSION			2

/* Feature bits negotiated by the handshake. */
#define PCA_FEATURE_MISSING		(1ULL << 0) /* missing regions, fault events */
#define PCA_FEATURE_COPY_BATCH		(1ULL << 1) /* many pages per COPY */
#define PCA_FEATURE_FD_RESOLVE		(1ULL << 2) /* COPY/ZERO/WAKE ioctls */
#define PCA_FEATURE_USER_ONLY		(1ULL << 3) /* PCA_REGION_USER_ONLY */
#define PCA_FEATURE_WAIT_POLICY		(1ULL << 4) /* PCA_POLICY_WAIT */
#define PCA_FEATURE_SHARDED_QUEUES	(1ULL << 5) /* several queues a region */
#define PCA_FEATURE_DIRTY_LOG		(1ULL << 6) /* write tracking */
#define PCA_FEATURE_DISCARD		(1ULL << 7) /* pages back to missing */
#define PCA_FEATURE_MIGRATE		(1ULL << 8) /* VMM <-> agent relay */
#define PCA_FEATURE_REGION_OPEN		(1ULL << 9) /* PCA_IOC_REGION_OPEN */
#define PCA_FEATURE_HUGE		(1ULL << 10) /* PCA_REGION_HUGE */

/*
 * Multicast groups.  An agent daemon listens on "agent" for migration
 * requests; VMMs (and operators) listen on "vmm" for migration events.
 * Both need CAP_SYS_ADMIN.
 */
#define PCA_MCGRP_AGENT		"agent"
#define PCA_MCGRP_VMM		"vmm"

/* Generic netlink commands. */
enum pca_cmd {
	PCA_CMD_UNSPEC,
	PCA_CMD_API,		/* handshake: version, features -> supported */
	PCA_CMD_REGION_GET,	/* one region (REGION_ID) or dump all */
	PCA_CMD_ATTACH,		/* attach the sending socket as a fault queue */
	PCA_CMD_DETACH,		/* detach the sending socket's queue */
	PCA_CMD_FAULT,		/* records to agent; resend request */
	PCA_CMD_COPY,		/* place PCA_A_PAGE(s) and wake */
	PCA_CMD_ZERO,		/* place zero pages over a range and wake */
	PCA_CMD_WAKE,		/* wake waiters over a range */
	PCA_CMD_DIRTY_TRACK,	/* PCA_A_DIRTY_ENABLE: start/stop logging */
	PCA_CMD_DIRTY_GET,	/* bitmap of a range, or dump all in chunks */
	PCA_CMD_DIRTY_CLEAR,	/* clear a range of the log */
	PCA_CMD_DISCARD,	/* drop pages: missing again (zero in present
				 * mode)
				 */
	PCA_CMD_MIGRATE,	/* VMM: migrate a region (role, peer, args) */
	PCA_CMD_MIGRATE_REQUEST, /* to "agent": a migration waits for one */
	PCA_CMD_MIGRATE_ACCEPT,	/* agent: take a requested migration */
	PCA_CMD_MIGRATE_UPDATE,	/* agent: phase, progress, result */
	PCA_CMD_MIGRATE_PAUSED,	/* VMM: vCPUs paused, as asked */
	PCA_CMD_MIGRATE_CANCEL,	/* VMM: stop a migration */
	PCA_CMD_MIGRATE_GET,	/* status of one migration, or dump all */
	PCA_CMD_MIGRATE_EVENT,	/* to "vmm" (and the agent): state changed */

	__PCA_CMD_MAX,
	PCA_CMD_MAX = __PCA_CMD_MAX - 1
};

/* Generic netlink attributes (one flat space). */
enum pca_attr {
	PCA_A_UNSPEC,
	PCA_A_PAD,
	PCA_A_API_VERSION,	/* u32 */
	PCA_A_FEATURES,		/* u64, PCA_FEATURE_* */
	PCA_A_COMMANDS,		/* u64, bit n set: command n supported */
	PCA_A_REGION_ID,	/* u32 */
	PCA_A_REGION_SIZE,	/* u64, bytes */
	PCA_A_REGION_FLAGS,	/* u64, PCA_REGION_* */
	PCA_A_PAGES_PRESENT,	/* u64 */
	PCA_A_QUEUES,		/* u32, attached fault queues */
	PCA_A_POLICY,		/* u32, enum pca_policy */
	PCA_A_QUEUE_ID,		/* u32 */
	PCA_A_OFFSET,		/* u64, bytes, page aligned */
	PCA_A_LENGTH,		/* u64, bytes, page aligned, non-zero */
	PCA_A_RESOLVE_FLAGS,	/* u32, PCA_RESOLVE_* */
	PCA_A_PAGE,		/* nest: PCA_A_OFFSET + PCA_A_DATA; repeatable */
	PCA_A_DATA,		/* binary, exactly one page */
	PCA_A_FAULT_RECORDS,	/* binary, struct pca_fault_record[] */
	PCA_A_STATS,		/* nest: enum pca_stat_attr */
	PCA_A_DIRTY_ENABLE,	/* u32, 0 or 1 */
	PCA_A_DIRTY_FLAGS,	/* u32, PCA_DIRTY_* */
	PCA_A_DIRTY_BITMAP,	/* binary, __u64 words, see below */
	PCA_A_DIRTY_PAGES,	/* u64, dirty pages in the range / region */
	PCA_A_DIRTY_TRACKING,	/* u32, 1 while writes are logged */
	PCA_A_MIG_ID,		/* u32 */
	PCA_A_MIG_ROLE,		/* u32, enum pca_mig_role */
	PCA_A_MIG_PEER,		/* string, "host:port" */
	PCA_A_MIG_ARGS,		/* string, agent options, passed through */
	PCA_A_MIG_PHASE,	/* u32, enum pca_mig_phase */
	PCA_A_MIG_PROGRESS,	/* binary, struct pca_mig_progress */
	PCA_A_MIG_ERROR,	/* u32, errno of a failed migration */
	PCA_A_MIG_MESSAGE,	/* string, what went wrong or what is done */
	PCA_A_REGION_UNIT,	/* u64, bytes: PAGE_SIZE, or a huge unit */

	__PCA_A_MAX,
	PCA_A_MAX = __PCA_A_MAX - 1
};

/* Nested in PCA_A_STATS; all u64 except the histogram. */
enum pca_stat_attr {
	PCA_STAT_UNSPEC,
	PCA_STAT_PAD,
	PCA_STAT_FAULTS,		/* fault events raised */
	PCA_STAT_FAULTS_COALESCED,	/* faults that joined a pending one */
	PCA_STAT_PAGES_COPIED,
	PCA_STAT_PAGES_ZEROED,
	PCA_STAT_COPY_EEXIST,		/* resolutions that found the page */
	PCA_STAT_WAIT_HIST,		/* binary, __u64[PCA_WAIT_HIST_BUCKETS] */
	PCA_STAT_FAULTS_PENDING,	/* pages waiting right now */

	__PCA_STAT_MAX,
	PCA_STAT_MAX = __PCA_STAT_MAX - 1
};

/*
 * Bucket n of the wait-time histogram counts faults that waited less than
 * 2^n microseconds (and at least 2^(n-1)); the last bucket takes the rest.
 */
#define PCA_WAIT_HIST_BUCKETS		24

/* Region flags, fixed at creation. */
#define PCA_REGION_MISSING	(1ULL << 0) /* every page starts missing */
/* Kernel accesses to a missing page fail with -EFAULT, never wait. */
#define PCA_REGION_USER_ONLY	(1ULL << 1)
/*
 * Pages in units of the kernel's PMD size (2 MiB on x86-64), mapped with
 * one PMD each where the mapping is aligned to the unit.  The size is a
 * multiple of the unit, which the region file reports as st_blksize (and
 * REGION_GET as PCA_A_REGION_UNIT).  Every range named on such a region
 * is in whole units: COPY takes a unit of data per offset, faults and the
 * dirty log name whole units, DISCARD drops whole units.
 */
#define PCA_REGION_HUGE		(1ULL << 2)

/* What happens to faults when no agent is attached. */
enum pca_policy {
	PCA_POLICY_FAIL,	/* pending and new faults get SIGBUS */
	PCA_POLICY_WAIT,	/* faults stay blocked until an agent attaches */
};

/*
 * Dirty log.  A bitmap covers [offset, offset + length) of a region: page
 * (offset >> PAGE_SHIFT) + n is bit (n % 64) of little-endian-host __u64
 * word n / 64, as KVM_GET_DIRTY_LOG; in a PCA_REGION_HUGE region a written
 * unit sets the bits of all its pages.  One DIRTY_GET message carries at most
 * PCA_DIRTY_MSG_PAGES pages; a dump covers any range in such chunks.
 */
#define PCA_DIRTY_MSG_PAGES	(256 * 1024)

/*
 * Flag constants are 64-bit so that "flags & ~KNOWN" tests every bit of a
 * __u64 field; netlink carries them in u32 attributes.
 */
#define PCA_DIRTY_CLEAR		(1ULL << 0) /* fetch and clear, atomically */
#define PCA_DIRTY_COUNT_ONLY	(1ULL << 1) /* PCA_A_DIRTY_PAGES, no bitmap */

/* Migrations relayed between a VMM and the agent daemon. */
enum pca_mig_role {
	PCA_MIG_SOURCE,
	PCA_MIG_DESTINATION,
};

/*
 * Phases only move forward.  REQUESTED: waiting for an agent.  ACCEPTED:
 * an agent took it.  SWITCHOVER: the agent asks the VMM to pause its
 * vCPUs; the VMM answers with MIGRATE_PAUSED, which moves it to PAUSED.
 * COMPLETED, FAILED and CANCELLED are final.
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
};

/* Progress as the agent reports it; the kernel only relays it. */
struct pca_mig_progress {
	__u64 pages_total;
	__u64 pages_sent;	/* or placed, on the destination */
	__u64 pages_remaining;
	__u64 round;
	__u64 bytes_wire;
	__u64 dirty_rate;	/* pages/s */
	__u64 faults;		/* postcopy faults */
	__u64 elapsed_ns;
	__u64 downtime_ns;
	__u64 fault_p50_ns;	/* postcopy fault latency, destination */
	__u64 fault_p99_ns;
	__u64 reserved[5];
};

/* Resolution flags. */
#define PCA_RESOLVE_DONTWAKE	(1ULL << 0) /* place, wake later with WAKE */

/*
 * One fault, as carried in PCA_A_FAULT_RECORDS: 64 bytes.  The kernel
 * zeroes @reserved; a later API version may give it meaning (a vCPU hint)
 * behind a feature bit, and agents that did not ask for that feature keep
 * seeing zeroes.
 */
struct pca_fault_record {
	__u64 offset;		/* byte offset in the region of the unit */
	__u64 time_ns;		/* CLOCK_MONOTONIC when the fault was raised */
	__u32 region_id;
	__u32 flags;		/* PCA_FAULT_* */
	__u32 tid;		/* faulting thread, in the pid namespace
				 * of the region's creator
				 */
	__u32 queue_id;		/* queue the record was sent to */
	__u64 length;		/* bytes to resolve from @offset: the unit,
				 * PAGE_SIZE or that of a PCA_REGION_HUGE
				 * region
				 */
	__u64 reserved[3];	/* zero */
};

#define PCA_FAULT_WRITE		(1U << 0)
#define PCA_FAULT_KERNEL	(1U << 1) /* raised by a kernel access */

/*
 * ioctls.  On /dev/postcopy_assist: API, REGION_CREATE, REGION_OPEN.  On a
 * region fd: API, COPY, ZERO, WAKE, COPY_BATCH, DIRTY_LOG, DIRTY_CLEAR,
 * DISCARD.  Anything else: -ENOTTY.  Type 0xBA, numbers 0x00-0x1F, is
 * free in the kernel's Documentation/userspace-api/ioctl/ioctl-number.rst;
 * this interface takes all of it.
 */
#define PCA_IOC_MAGIC		0xBA

struct pca_api {
	__u64 api;		/* in: PCA_API_VERSION */
	__u64 features;		/* in: wanted; out: all supported */
	__u64 ioctls;		/* out: bit n set: ioctl nr n supported */
};

/*
 * PCA_IOC_REGION_CREATE returns a new region fd (O_RDWR, close-on-exec) to
 * mmap(MAP_SHARED); the device fd stays a control fd.  The region lives
 * until its fd and every mapping of it are gone.
 */
struct pca_region_create {
	__u64 size;		/* in: bytes, page multiple, non-zero */
	__u64 flags;		/* in: PCA_REGION_* */
	__u64 region_id;	/* out */
};

/*
 * PCA_IOC_REGION_OPEN returns a new fd (O_RDWR, close-on-exec) of an
 * existing region of the caller's network namespace, given its id: how an
 * agent daemon that took a migration over the relay reaches the region's
 * memory.  Needs CAP_SYS_ADMIN over the region's user namespace.  The
 * region stays open while this fd is.
 */
struct pca_region_open {
	__u64 region_id;	/* in */
	__u64 flags;		/* in: 0 */
	__u64 size;		/* out: the region's size */
};

struct pca_copy {
	__u64 offset;		/* in: page-aligned destination offset */
	__u64 src;		/* in: user address of the data */
	__u64 len;		/* in: bytes, page multiple */
	__u64 flags;		/* in: PCA_RESOLVE_* */
	__s64 copied;		/* out: bytes placed */
};

struct pca_range {
	__u64 offset;		/* in: page aligned */
	__u64 len;		/* in: bytes, page multiple */
	__u64 flags;		/* in: PCA_RESOLVE_* (ZERO only) */
	__s64 done;		/* out: bytes placed (ZERO) or dropped
				 * (DISCARD)
				 */
};

struct pca_copy_entry {
	__u64 offset;		/* unit-aligned destination offset */
	__u64 src;		/* user address of one unit of data */
};

struct pca_copy_batch {
	__u64 entries;		/* in: user address of pca_copy_entry[] */
	__u64 count;		/* in: number of entries */
	__u64 flags;		/* in: PCA_RESOLVE_* */
	__u64 copied;		/* out: entries placed */
	__u64 existed;		/* out: entries that were already present */
};

/*
 * PCA_IOC_DIRTY_LOG: the dirty bitmap of [offset, offset + len) into a
 * user buffer of bitmap_size bytes (at least 8 * DIV_ROUND_UP(pages, 64)),
 * cleared at the same time with PCA_DIRTY_CLEAR.
 */
struct pca_dirty_log {
	__u64 offset;		/* in: page aligned */
	__u64 len;		/* in: bytes, page multiple */
	__u64 bitmap;		/* in: user address of the bitmap */
	__u64 bitmap_size;	/* in: bytes available at bitmap */
	__u64 flags;		/* in: PCA_DIRTY_CLEAR, PCA_DIRTY_COUNT_ONLY */
	__u64 dirty;		/* out: dirty pages in the range */
};

#define PCA_IOC_API		_IOWR(PCA_IOC_MAGIC, 0x00, struct pca_api)
#define PCA_IOC_REGION_CREATE	_IOWR(PCA_IOC_MAGIC, 0x01, struct pca_region_create)
#define PCA_IOC_COPY		_IOWR(PCA_IOC_MAGIC, 0x02, struct pca_copy)
#define PCA_IOC_ZERO		_IOWR(PCA_IOC_MAGIC, 0x03, struct pca_range)
#define PCA_IOC_WAKE		_IOW(PCA_IOC_MAGIC, 0x04, struct pca_range)
#define PCA_IOC_COPY_BATCH	_IOWR(PCA_IOC_MAGIC, 0x05, struct pca_copy_batch)
#define PCA_IOC_DIRTY_LOG	_IOWR(PCA_IOC_MAGIC, 0x06, struct pca_dirty_log)
#define PCA_IOC_DIRTY_CLEAR	_IOW(PCA_IOC_MAGIC, 0x07, struct pca_range)
#define PCA_IOC_DISCARD		_IOWR(PCA_IOC_MAGIC, 0x08, struct pca_range)
#define PCA_IOC_REGION_OPEN	_IOWR(PCA_IOC_MAGIC, 0x09, struct pca_region_open)

#endif /* _UAPI_LINUX_POSTCOPY_ASSIST_H */
