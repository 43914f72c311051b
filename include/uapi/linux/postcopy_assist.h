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
/*
 * The generic netlink family: commands, attributes, the flag and enum types
 * shared with the ioctls below (enum pca_feature, pca_region_flags,
 * pca_resolve_flags, pca_dirty_flags, pca_fault_flags, pca_policy, ...) and
 * the multicast groups.  Generated from the family's YAML spec,
 * Documentation/netlink/specs/postcopy_assist.yaml.
 */
#include <linux/postcopy_assist_netlink.h>

#define POSTCOPY_ASSIST_DEVICE_NAME	"postcopy_assist"

/* The one API version this header describes. */
#define PCA_API_VERSION			2

/*
 * Bucket n of the wait-time histogram (PCA_STAT_WAIT_HIST) counts faults
 * that waited less than 2^n microseconds (and at least 2^(n-1)); the last
 * bucket takes the rest.
 */
#define PCA_WAIT_HIST_BUCKETS		24

/*
 * Dirty log.  A bitmap covers [offset, offset + length) of a region: page
 * (offset >> PAGE_SHIFT) + n is bit (n % 64) of little-endian-host __u64
 * word n / 64, as KVM_GET_DIRTY_LOG; in a PCA_REGION_HUGE region a written
 * unit sets the bits of all its pages.  One DIRTY_GET message carries at most
 * PCA_DIRTY_MSG_PAGES pages; a dump covers any range in such chunks.
 */
#define PCA_DIRTY_MSG_PAGES	(256 * 1024)

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
	__u64 guest_downtime_ns; /* source pause -> destination VMM runs */
	__u64 reconnects;	/* the agents lost each other, counting a
				 * recovery under way
				 */
	__u64 broken_ns;	/* disconnected in all, the same */
	__u64 reserved[2];
};

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

/*
 * Fault rings (PCA_FEATURE_FAULT_RING).  ATTACH with PCA_A_RING_ENTRIES (a
 * power of two, 16 to 65536) attaches a queue whose records are written to
 * memory shared with the agent instead of netlink messages, and answers
 * with PCA_A_RING_FD, a new fd (close-on-exec) that owns the queue: closing
 * it detaches the queue.  mmap() it, MAP_SHARED, PROT_READ | PROT_WRITE, at
 * offset 0, PCA_RING_MAP_SIZE(entries) bytes (or fewer pages: the kernel
 * checks only the upper bound): the header below at offset 0, then record n
 * at PCA_RING_RECORDS_OFFSET + (n & (entries - 1)) * 64.
 * Mappings of a ring are not inherited by fork(), so that a child cannot
 * keep a queue alive after the agent closed the ring fd.
 *
 * @head and @tail count records since the ring was made, free-running.
 * The kernel writes records, then @head (release); the agent reads @head
 * (acquire), the records up to it, then sets @tail (release) to the count
 * it consumed.  The kernel never trusts @head or @tail: it keeps its own
 * head and reads @tail only to see how much room there is.  A @tail behind
 * what the kernel wrote by more than @entries, or ahead of it, counts as a
 * full ring, and poll() says EPOLLERR until @tail is sane again.  When the
 * ring is full, records wait in the kernel (its list of pending faults is
 * complete) and are written again once there is room: agents accept a
 * record for a fault they already know, as on netlink.
 *
 * poll(): EPOLLIN while @head != @tail, EPOLLERR for a bad @tail, EPOLLHUP
 * once the region closed.  Every ioctl on a ring fd fails with -ENOTTY.
 */
#define PCA_RING_MIN_ENTRIES	16
#define PCA_RING_MAX_ENTRIES	65536
#define PCA_RING_RECORDS_OFFSET	4096ULL
#define PCA_RING_MAP_SIZE(entries)	\
	(PCA_RING_RECORDS_OFFSET + (__u64)(entries) * 64)

struct pca_ring_header {
	__u64 head;		/* kernel: records written */
	__u64 reserved0[7];	/* zero; @head alone in its cache line */
	__u64 tail;		/* agent: records consumed */
	__u64 reserved1[7];	/* zero; @tail alone in its cache line */
	__u64 entries;		/* records the ring holds */
	__u64 queue_id;		/* the queue, as in the records */
	__u64 region_id;
	__u64 reserved2[5];	/* zero */
};

/*
 * ioctls.  On /dev/postcopy_assist: API, REGION_CREATE, REGION_OPEN.  On a
 * region fd: API, COPY, ZERO, WAKE, COPY_BATCH, DIRTY_LOG, DIRTY_CLEAR,
 * DISCARD, SET_FLAGS, DISCARD_BITMAP, PRESENT_LOG, RECV.  Anything else
 * (another number, or a known number with another size or direction):
 * -ENOTTY.  Type 0xBA, numbers 0x00-0x1F, is free in the kernel's
 * Documentation/userspace-api/ioctl/ioctl-number.rst; this interface takes
 * all of it.
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

/*
 * COPY and COPY_BATCH with PCA_RESOLVE_OVERWRITE (PCA_FEATURE_OVERWRITE):
 * a unit already present gets the new data instead of counting as
 * -EEXIST/existed, atomically for every mapping of it: a thread reading it
 * meanwhile sees all of the old unit or all of the new, never a mix.  For
 * placing precopy pages straight into the region, pages sent again
 * replacing what an earlier round placed.  Refused with -EPERM once the
 * region's precopy is sealed (PCA_IOC_DISCARD_BITMAP, PCA_DISCARD_SEAL).
 * ZERO takes no PCA_RESOLVE_OVERWRITE (-EINVAL).
 */
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

/*
 * PCA_IOC_DISCARD_BITMAP (PCA_FEATURE_PAGE_BITMAPS): every page of
 * [offset, offset + len) whose bit is set in the user bitmap (laid out as
 * the dirty log's, bitmap_size bytes, at least 8 * DIV_ROUND_UP(pages, 64))
 * goes back to missing, as with PCA_IOC_DISCARD, in one call whose cost
 * follows the bits set.  In a PCA_REGION_HUGE region a unit goes whole
 * when any bit of its pages is set.  @discarded: pages that were present
 * and went (all the pages of a unit), also when the call fails part way
 * (-EINTR, -EFAULT: pages after that point are untouched).
 * With PCA_DISCARD_SEAL the region's precopy is sealed once the discard
 * is done: PCA_RESOLVE_OVERWRITE is refused (-EPERM) from then on, for
 * good.  A copy with PCA_RESOLVE_OVERWRITE racing the call either lands
 * before the discard (which drops it if its bit is set) or fails; a call
 * that fails does not seal.  Unknown flags: -EINVAL.
 */
struct pca_discard_bitmap {
	__u64 offset;		/* in: page (unit) aligned */
	__u64 len;		/* in: bytes, page (unit) multiple */
	__u64 bitmap;		/* in: user address of the bitmap */
	__u64 bitmap_size;	/* in: bytes available at bitmap */
	__u64 flags;		/* in: PCA_DISCARD_SEAL */
	__u64 discarded;	/* out: pages dropped */
};

/*
 * PCA_IOC_PRESENT_LOG (PCA_FEATURE_PAGE_BITMAPS): the pages present in
 * [offset, offset + len) as a bitmap laid out as the dirty log's, written
 * whole; @present counts them.  In a PCA_REGION_HUGE region a present unit
 * sets the bits of all its pages.  The cost follows the pages present, not
 * the length of the range: how an agent that restarts learns what the
 * region holds already.  A snapshot: pages placed or dropped meanwhile may
 * or may not show.  @flags must be 0.
 */
struct pca_present_log {
	__u64 offset;		/* in: page (unit) aligned */
	__u64 len;		/* in: bytes, page (unit) multiple */
	__u64 bitmap;		/* in: user address of the bitmap */
	__u64 bitmap_size;	/* in: bytes available at bitmap */
	__u64 flags;		/* in: 0 */
	__u64 present;		/* out: pages present in the range */
};

/*
 * PCA_IOC_SET_FLAGS on a region fd: the region's mode, PCA_REGION_MISSING
 * and PCA_REGION_USER_ONLY (PCA_REGION_HUGE stays as made), chosen before
 * the region is used: -EBUSY once it has been mapped, holds pages or has
 * an agent.  How a file of a region filesystem gets a mode other than its
 * mount's, between ftruncate() and the first mmap().
 */
struct pca_set_flags {
	__u64 flags;		/* in: PCA_REGION_MISSING, PCA_REGION_USER_ONLY */
};

/*
 * PCA_IOC_RECV (PCA_FEATURE_RECV): receive units from a connected stream
 * socket (TCP, kernel TLS over TCP, AF_UNIX SOCK_STREAM) straight into the
 * region, one copy after the socket.  Entry n of @entries is the
 * unit-aligned offset where the n-th unit read from @sockfd goes; each
 * unit is exactly one unit of payload (PAGE_SIZE, or 2 MiB in a
 * PCA_REGION_HUGE region), nothing between.  A unit is placed as by COPY:
 * whole and uptodate before it is seen, waiters woken unless
 * PCA_RESOLVE_DONTWAKE.  A unit present already keeps its contents: its
 * bytes are read and dropped, so the stream stays aligned, and the call
 * ends with -EEXIST once the rest is placed.
 *
 * At most PCA_RECV_MAX entries a call (-E2BIG); every offset is checked
 * before anything is read (-EINVAL, -ERANGE), @reserved must be zero.
 * @sockfd: -EBADF, -ENOTSOCK for an fd that is not a socket, -EINVAL for
 * one that is not SOCK_STREAM.  The call blocks for data even on an
 * O_NONBLOCK socket.  The socket's SO_RCVTIMEO bounds the wait for a
 * unit to begin (-EAGAIN: nothing of entry @received was read, the stream
 * is still in sync and a later call goes on); once a unit is begun, its
 * rest is waited for until it is in, end of stream (-ECONNRESET, also
 * after the caller's own shutdown()), a socket error or a signal
 * (-EINTR).
 *
 * @received says how many entries are done (placed, or found present and
 * dropped): entries [0, @received).  After any other error that came from
 * the socket, or -ENOMEM, part of the next unit may have been consumed
 * and was not placed: the stream is out of sync and the caller drops the
 * connection.  Nothing partial is ever mapped.
 */
#define PCA_RECV_MAX		512

struct pca_recv {
	__u64 sockfd;		/* in: a stream socket's fd */
	__u64 entries;		/* in: user address of __u64 offsets[] */
	__u64 count;		/* in: number of entries */
	__u64 flags;		/* in: PCA_RESOLVE_DONTWAKE, _OVERWRITE */
	__u64 received;		/* out: entries done */
	__u64 reserved[3];	/* in: zero */
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
#define PCA_IOC_SET_FLAGS	_IOW(PCA_IOC_MAGIC, 0x0a, struct pca_set_flags)
#define PCA_IOC_DISCARD_BITMAP	_IOWR(PCA_IOC_MAGIC, 0x0b, struct pca_discard_bitmap)
#define PCA_IOC_PRESENT_LOG	_IOWR(PCA_IOC_MAGIC, 0x0c, struct pca_present_log)
#define PCA_IOC_RECV		_IOWR(PCA_IOC_MAGIC, 0x0d, struct pca_recv)

#endif /* _UAPI_LINUX_POSTCOPY_ASSIST_H */
