/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libpca: a small userspace library over libnl-genl-3 for the
 * postcopy_assist generic netlink family and its device ioctls.
 *
 * Used by postcopy-agent, the selftests and the benchmarks.
 *
 * Conventions:
 *  - every function that can fail returns 0 (or a count / fd) on success
 *    and -errno on failure; nothing here calls exit() or prints;
 *  - a struct pca_client owns one netlink socket and is not thread safe:
 *    use one client per thread;
 *  - after a failed client call, pca_strerror() describes the failure,
 *    including the kernel's extended ack text when there is one.
 */
#ifndef PCA_H
#define PCA_H

#include <stddef.h>
#include <stdint.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include <linux/postcopy_assist.h>

/* libpca.so exports what this header declares, and only that */
#pragma GCC visibility push(default)

#define PCA_DEVICE_PATH		"/dev/" POSTCOPY_ASSIST_DEVICE_NAME

/* Most pages carried by one netlink COPY message. */
#define PCA_COPY_MSG_PAGES	64

struct pca_client;

/* -------------------------------------------------------------------------
 * Client life cycle and errors
 */

/*
 * Connect a generic netlink socket and resolve the postcopy_assist family.
 * On failure *c is NULL, the return value is -errno (-ENOENT when the family
 * is not registered) and pca_strerror(NULL) describes the failure.
 */
int pca_client_open(struct pca_client **c);
void pca_client_close(struct pca_client *c);

/* The netlink socket, e.g. for poll(). */
int pca_client_fd(struct pca_client *c);
/* The resolved family id. */
int pca_client_family(struct pca_client *c);
/* How long a request waits for its answer; default 10000 ms, <0: forever. */
void pca_client_set_timeout(struct pca_client *c, int timeout_ms);

/*
 * The last error of @c as text, e.g.
 * "Invalid argument (kernel reports: unknown feature bits 0x80)".
 * With @c NULL: the last pca_client_open() failure of this thread.
 * Never NULL; "Success" when the last call succeeded.
 */
const char *pca_strerror(struct pca_client *c);
/* The last error of @c as -errno (0: success). */
int pca_errno(struct pca_client *c);
/*
 * The kernel's extended ack text of the last error ("" when none).  A
 * missing-attribute report without text is rendered as
 * "missing attribute <name>".
 */
const char *pca_extack(struct pca_client *c);
/* Offset of the offending attribute in the request, or -1. */
int pca_extack_offset(struct pca_client *c);

/* Names; NULL when unknown. */
const char *pca_feature_name(unsigned int bit);
const char *pca_cmd_name(unsigned int cmd);
const char *pca_attr_name(unsigned int attr);

/* -------------------------------------------------------------------------
 * Generic requests, for callers that craft their own (or bad) messages
 */

/*
 * A new request for @cmd.  @flags are extra nlmsg flags: pass NLM_F_DUMP for
 * a dump; NLM_F_REQUEST and NLM_F_ACK are added by pca_request().
 * pca_msg_new_size() reserves room for a payload of @size bytes.
 * NULL on allocation failure.
 */
struct nl_msg *pca_msg_new(struct pca_client *c, uint8_t cmd, int flags);
struct nl_msg *pca_msg_new_size(struct pca_client *c, uint8_t cmd, int flags,
				size_t size);

/*
 * Send @msg (always consumed), call @parse (may be NULL) for every reply
 * message with its attributes in tb[PCA_A_MAX + 1] (indexed by enum
 * pca_attr; the parser returns 0 or -errno), then wait for the ACK (or
 * NLMSG_DONE of a dump).  Returns 0 or
 * the kernel's -errno with the extack captured; a parser error is returned
 * after the exchange has completed, so the socket stays in step.
 * Fault events that arrive meanwhile are kept for pca_recv_faults().
 */
int pca_request(struct pca_client *c, struct nl_msg *msg,
		int (*parse)(struct nlattr **tb, void *arg), void *arg);

/* -------------------------------------------------------------------------
 * Handshake
 */

struct pca_api_info {
	uint32_t version;	/* PCA_A_API_VERSION of the reply */
	uint64_t features;	/* supported PCA_FEATURE_* */
	uint64_t commands;	/* bit n: command n supported */
};

/* PCA_CMD_API: @version, @want (PCA_FEATURE_*); @out may be NULL. */
int pca_api(struct pca_client *c, uint32_t version, uint64_t want,
	    struct pca_api_info *out);

/* -------------------------------------------------------------------------
 * Regions
 */

struct pca_region_stats {
	uint64_t faults;
	uint64_t faults_coalesced;
	uint64_t pages_copied;
	uint64_t pages_zeroed;
	uint64_t copy_eexist;
	uint64_t faults_pending;
	uint64_t wait_hist[PCA_WAIT_HIST_BUCKETS];
	uint64_t faults_premapped;	/* mapped for the waiter at resolution */
};

struct pca_region_info {
	uint32_t id;
	uint32_t queues;
	uint32_t policy;	/* enum pca_policy */
	uint64_t size;
	uint64_t flags;		/* PCA_REGION_* */
	uint64_t unit;		/* bytes placed, faulted, logged as one */
	uint64_t pages_present;
	int has_stats;		/* the reply carried PCA_A_STATS */
	struct pca_region_stats stats;
	int has_dirty;		/* the reply carried the dirty-log state */
	uint32_t dirty_tracking; /* 1 while writes are logged */
	uint64_t dirty_pages;	/* pages in the log right now */
};

/* PCA_CMD_REGION_GET for one region. */
int pca_region_get(struct pca_client *c, uint32_t id,
		   struct pca_region_info *out);
/*
 * PCA_CMD_REGION_GET for the region that is the file @path of a mounted
 * region filesystem (resolved by the kernel in the caller's context, with
 * its permissions: read access to the file is needed).
 */
int pca_region_get_path(struct pca_client *c, const char *path,
			struct pca_region_info *out);
/*
 * A region named as a user names one: a decimal (or 0x) id, or a path to
 * a file of a region filesystem.  *@id gets its id.
 */
int pca_region_resolve(struct pca_client *c, const char *name, uint32_t *id);
/*
 * PCA_CMD_REGION_GET dump: *out is a malloc()ed array of *n regions (NULL
 * when there are none); free() it.
 */
int pca_region_list(struct pca_client *c, struct pca_region_info **out,
		    size_t *n);

/*
 * PCA_CMD_ATTACH: make this client's socket a fault queue of the region,
 * and set its policy (PCA_POLICY_*), or leave it as it is with
 * PCA_POLICY_UNCHANGED (what an agent restarted after a crash should
 * pass: the VMM's choice stays).  @queue_id (may be NULL) receives
 * PCA_A_QUEUE_ID when the kernel sends it.
 */
#define PCA_POLICY_UNCHANGED	UINT32_MAX
int pca_attach(struct pca_client *c, uint32_t region_id, uint32_t policy,
	       uint32_t *queue_id);
/* PCA_CMD_DETACH: detach this socket's queues from the region. */
int pca_detach(struct pca_client *c, uint32_t region_id);

/* -------------------------------------------------------------------------
 * Resolution over netlink
 */

struct pca_page {
	uint64_t offset;	/* page-aligned offset in the region */
	const void *data;	/* one page */
};

struct pca_resolve_result {
	uint64_t done;		/* pages placed */
	uint64_t existed;	/* pages already present */
};

/* COPY one page. @res may be NULL. */
int pca_copy(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     const void *data, uint32_t flags, struct pca_resolve_result *res);
/*
 * COPY @n pages, up to PCA_COPY_MSG_PAGES (fewer if the socket's send
 * buffer is small) per message.  -EEXIST (pages already present) does not
 * stop the batch: every page that was missing is placed and -EEXIST is
 * returned at the end.  Any other error stops at the failing message.
 * @res (may be NULL) counts the pages of the messages that fully
 * succeeded; a kernel that sends no counts placed all of those.
 */
int pca_copy_pages(struct pca_client *c, uint32_t region_id,
		   const struct pca_page *pages, size_t n, uint32_t flags,
		   struct pca_resolve_result *res);
/* ZERO [offset, offset + length).  @res may be NULL. */
int pca_zero(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     uint64_t length, uint32_t flags, struct pca_resolve_result *res);
/* WAKE waiters on [offset, offset + length). */
int pca_wake(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     uint64_t length);

/* -------------------------------------------------------------------------
 * Fault reception (allocation free)
 */

/*
 * Receive up to @max fault records, waiting up to @timeout_ms (0: poll,
 * <0: forever) for the first: those kept from earlier, or else those of
 * the next message (a message carries up to 64), with one recvmsg() per
 * message.  Returns the number of records, 0 on timeout or a signal, or
 * -errno.  -ENOBUFS means fault events were lost (socket overrun or the
 * client's holding area overflowed): call pca_fault_resend() and go on.
 */
int pca_recv_faults(struct pca_client *c, struct pca_fault_record *recs,
		    int max, int timeout_ms);
/* PCA_CMD_FAULT_RESEND: ask the kernel to resend the pending faults. */
int pca_fault_resend(struct pca_client *c, uint32_t region_id);

/* -------------------------------------------------------------------------
 * Fault rings (PCA_FEATURE_FAULT_RING): records in shared memory
 */

struct pca_ring;

/*
 * PCA_CMD_ATTACH with PCA_A_RING_ENTRIES: attach a fault ring of @entries
 * records (a power of two, PCA_RING_MIN_ENTRIES to PCA_RING_MAX_ENTRIES)
 * to the region, with @policy as pca_attach(), and map it.  The ring, not
 * the client's socket, is the queue: it stays attached until
 * pca_ring_close(), and the client is free for other requests.
 */
int pca_attach_ring(struct pca_client *c, uint32_t region_id,
		    uint32_t policy, uint32_t entries, struct pca_ring **ring,
		    uint32_t *queue_id);
/* Detach and unmap the ring. */
void pca_ring_close(struct pca_ring *ring);
/* The ring's fd, to poll() beside others (POLLIN: records to take). */
int pca_ring_fd(const struct pca_ring *ring);
/*
 * Spin up to @usec microseconds on the ring's head before pca_ring_recv()
 * sleeps in poll(): no system call at all while faults keep coming, at the
 * price of a busy CPU.  0 (the default) does not spin.
 */
void pca_ring_set_busy_poll(struct pca_ring *ring, unsigned int usec);
/*
 * Take up to @max records, waiting up to @timeout_ms (0: do not wait, <0:
 * forever) when there are none: no system call when records are there,
 * one poll() otherwise.  Returns the number taken, 0 on timeout or a
 * signal, -EPIPE once the queue was detached (the region closed) and the
 * ring is empty, -EPROTO if the kernel found the ring's tail corrupt, or
 * another -errno.  A record may name a fault already taken: the kernel
 * writes every pending fault again after the ring was full.
 */
int pca_ring_recv(struct pca_ring *ring, struct pca_fault_record *recs,
		  int max, int timeout_ms);

/*
 * The fastest way to receive a region's faults: a fault ring of
 * PCA_RING_DEFAULT_ENTRIES where the module has them (*@ring set), else
 * the client's socket (*@ring NULL; pca_recv_faults()).  Detach with
 * pca_ring_close(), or pca_detach() for the socket.
 */
#define PCA_RING_DEFAULT_ENTRIES	1024
int pca_attach_fastest(struct pca_client *c, uint32_t region_id,
		       uint32_t policy, struct pca_ring **ring);

/* -------------------------------------------------------------------------
 * Dirty log (PCA_FEATURE_DIRTY_LOG)
 *
 * Bitmaps are arrays of uint64_t: page (offset / page size) + n of the
 * range is bit n % 64 of word n / 64.  A bitmap for @pages pages needs
 * pca_bitmap_bytes(@pages) bytes.
 */

static inline size_t pca_bitmap_bytes(uint64_t pages)
{
	return (size_t)((pages + 63) / 64) * sizeof(uint64_t);
}

/* PCA_CMD_DIRTY_TRACK: start (with an empty log) or stop logging writes. */
int pca_dirty_track(struct pca_client *c, uint32_t region_id, int enable);
/*
 * PCA_CMD_DIRTY_GET over [offset, offset + length); length 0 means the
 * whole region (offset must then be 0).  @flags: PCA_DIRTY_CLEAR (fetch
 * and clear), PCA_DIRTY_COUNT_ONLY (no bitmap: @bitmap may be NULL).
 * Ranges above PCA_DIRTY_MSG_PAGES pages, and whole-region requests, are
 * fetched with a dump.  @bitmap (@bitmap_size bytes, zeroed here first)
 * receives the bits; *@dirty (may be NULL) the number of dirty pages.
 * -ENOSPC when the bitmap is too small for the range, -ENODATA when the
 * region never tracked writes.
 */
int pca_dirty_get(struct pca_client *c, uint32_t region_id, uint64_t offset,
		  uint64_t length, uint32_t flags, uint64_t *bitmap,
		  size_t bitmap_size, uint64_t *dirty);
/* PCA_CMD_DIRTY_CLEAR: clear the log of [offset, offset + length). */
int pca_dirty_clear(struct pca_client *c, uint32_t region_id,
		    uint64_t offset, uint64_t length);

/* -------------------------------------------------------------------------
 * Migration relay (Documentation/relay.rst)
 */

#define PCA_MIG_PEER_MAX	64	/* with the NUL, as the kernel keeps it */
#define PCA_MIG_ARGS_MAX	1024
#define PCA_MIG_MESSAGE_MAX	128

/* A migration's state, as every relay message carries it. */
struct pca_mig_info {
	uint8_t cmd;			/* the message: PCA_CMD_MIGRATE_* */
	uint32_t mig_id;
	uint32_t region_id;
	uint32_t role;			/* enum pca_mig_role */
	uint32_t phase;			/* enum pca_mig_phase */
	uint32_t error;			/* errno of a failed migration, or 0 */
	struct pca_mig_progress progress;
	char peer[PCA_MIG_PEER_MAX];
	char args[PCA_MIG_ARGS_MAX];	/* "" when none were given */
	char message[PCA_MIG_MESSAGE_MAX];
	int running;			/* the VMM said the guest runs again */
};

const char *pca_mig_phase_name(uint32_t phase);
const char *pca_mig_role_name(uint32_t role);
/*
 * Whether @phase is final (completed, failed, cancelled).  Phases are
 * ordered but for PCA_MIG_RECOVERING, which comes and goes in between:
 * compare with this, not with PCA_MIG_COMPLETED.
 */
int pca_mig_phase_final(uint32_t phase);

/* Join a multicast group of the family: PCA_MCGRP_AGENT or _VMM. */
int pca_join_group(struct pca_client *c, const char *group);

/* VMM: ask for a migration of @region_id; *@mig_id gets its id. */
int pca_migrate(struct pca_client *c, uint32_t region_id, uint32_t role,
		const char *peer, const char *args, uint32_t *mig_id);
/*
 * VMM, destination: the guest runs again (device state loaded, vCPUs
 * running); in POSTCOPY or COMPLETED, once.
 */
int pca_migrate_running(struct pca_client *c, uint32_t mig_id);
/* VMM: the vCPUs are paused, as the agent asked (SWITCHOVER). */
int pca_migrate_paused(struct pca_client *c, uint32_t mig_id);
/* VMM: stop a migration that has not ended. */
int pca_migrate_cancel(struct pca_client *c, uint32_t mig_id);
/* Agent: take a requested migration; @info (may be NULL) gets its state. */
int pca_migrate_accept(struct pca_client *c, uint32_t mig_id,
		       struct pca_mig_info *info);
/*
 * Agent: report @phase, with @progress (may be NULL), and for a failure
 * @error (an errno, 0 for none) and @message (may be NULL).
 */
int pca_migrate_update(struct pca_client *c, uint32_t mig_id, uint32_t phase,
		       const struct pca_mig_progress *progress, uint32_t error,
		       const char *message);
/* Anyone privileged: the current state of one migration. */
int pca_migrate_get(struct pca_client *c, uint32_t mig_id,
		    struct pca_mig_info *info);
/* Every migration of the namespace; free(*out). */
int pca_migrate_list(struct pca_client *c, struct pca_mig_info **out,
		     size_t *count);
/*
 * The next relay message sent to us by the kernel (a MIGRATE_REQUEST on
 * the agent group, a MIGRATE_EVENT on the vmm group or to the accepting
 * agent), waiting up to @timeout_ms (-1: forever).  Messages that arrive
 * while a request waits for its answer are kept for this call.  Returns
 * 1 with *@info filled, 0 on timeout, -errno (-ENOBUFS: messages were
 * lost; MIGRATE_GET has the state).
 */
int pca_mig_recv(struct pca_client *c, struct pca_mig_info *info,
		 int timeout_ms);

/* -------------------------------------------------------------------------
 * Device and region fd ioctls (no client needed; 0 or -errno)
 */

/* Open PCA_DEVICE_PATH read-write, close-on-exec: fd or -errno. */
int pca_dev_open(void);
/* PCA_IOC_API on the device or a region fd; @out (may be NULL) gets the
 * kernel's answer.
 */
int pca_dev_api(int fd, uint64_t version, uint64_t want, struct pca_api *out);
/* Create a region: returns its fd (close-on-exec) or -errno. */
int pca_region_create(uint64_t size, uint64_t flags, uint32_t *id);
/*
 * Another fd (close-on-exec) of the existing region @id, e.g. for the agent
 * that took its migration; *@size (may be NULL) gets its size.  fd or
 * -errno (-ENOENT: no such region).
 */
int pca_region_open(uint32_t id, uint64_t *size);

/*
 * Fast path on a region fd.  Counts are returned even when failing.
 * pca_fd_copy() and pca_fd_copy_batch() take PCA_RESOLVE_OVERWRITE
 * (PCA_FEATURE_OVERWRITE) in @flags: present pages get the new data.
 */
int pca_fd_copy(int fd, uint64_t offset, const void *src, uint64_t len,
		uint64_t flags, int64_t *copied);
int pca_fd_zero(int fd, uint64_t offset, uint64_t len, uint64_t flags,
		int64_t *done);
int pca_fd_wake(int fd, uint64_t offset, uint64_t len);
int pca_fd_copy_batch(int fd, const struct pca_copy_entry *entries,
		      uint64_t count, uint64_t flags, uint64_t *copied,
		      uint64_t *existed);
/*
 * PCA_IOC_DIRTY_LOG: the log of [offset, offset + len) into @bitmap
 * (@bitmap_size bytes; may be NULL with PCA_DIRTY_COUNT_ONLY), cleared at
 * the same time with PCA_DIRTY_CLEAR.  *@dirty (may be NULL): dirty pages.
 */
int pca_fd_dirty_log(int fd, uint64_t offset, uint64_t len, uint64_t flags,
		     uint64_t *bitmap, uint64_t bitmap_size, uint64_t *dirty);
/* PCA_IOC_DIRTY_CLEAR over [offset, offset + len). */
int pca_fd_dirty_clear(int fd, uint64_t offset, uint64_t len);
/*
 * PCA_IOC_DISCARD_BITMAP (PCA_FEATURE_PAGE_BITMAPS): the pages of
 * [offset, offset + len) whose bit is set in @bitmap (@bitmap_size bytes,
 * laid out as the dirty log's) go back to missing; @flags PCA_DISCARD_SEAL
 * seals the precopy (PCA_RESOLVE_OVERWRITE refused from then on).
 * *@discarded (may be NULL): pages dropped, also when failing part way.
 * Not redone when interrupted.
 */
int pca_fd_discard_bitmap(int fd, uint64_t offset, uint64_t len,
			  const uint64_t *bitmap, size_t bitmap_size,
			  uint64_t flags, uint64_t *discarded);
/*
 * PCA_IOC_PRESENT_LOG (PCA_FEATURE_PAGE_BITMAPS): the pages of [offset,
 * offset + len) present in the region, as a bitmap laid out as the dirty
 * log's, into @bitmap (@bitmap_size bytes, written whole).  *@present (may
 * be NULL): their count.
 */
int pca_fd_present_log(int fd, uint64_t offset, uint64_t len,
		       uint64_t *bitmap, size_t bitmap_size,
		       uint64_t *present);
/*
 * The region's size in bytes, from the region fd (SEEK_END), or -errno.
 * Kernels without it answer -ESPIPE or -EINVAL.
 */
int64_t pca_fd_region_size(int fd);
/*
 * PCA_IOC_RECV: read @count units from the stream socket @sockfd straight
 * into the region at @offsets[] (unit aligned; at most PCA_RECV_MAX).
 * *@received (may be NULL): entries done, also on failure.  0, -EEXIST
 * when a unit was present already (its bytes dropped), or -errno; after an
 * error from the socket the stream is out of sync.
 */
int pca_fd_recv(int fd, int sockfd, const uint64_t *offsets, uint64_t count,
		uint64_t flags, uint64_t *received);

#pragma GCC visibility pop

#endif /* PCA_H */
