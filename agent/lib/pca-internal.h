/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libpca internals: what its files share.  Callers use pca.h only.
 *
 *   client.c	the netlink socket, errors, the receive loop, requests and
 *		the API handshake (netlink and ioctl)
 *   region.c	regions: create, open, REGION_GET, dumps
 *   fault.c	attach and detach, fault records, COPY/ZERO/WAKE over
 *		netlink and the region fd's resolution ioctls
 *   dirty.c	the dirty log, over netlink and the region fd
 *   relay.c	the migration relay (MIGRATE_*), VMM side and agent side
 *
 * A VMM links libpca statically, so every name shared here carries the
 * pca_ prefix: none may clash with the VMM's own.
 */
#ifndef PCA_INTERNAL_H
#define PCA_INTERNAL_H

#include <stdint.h>
#include <sys/types.h>

#include <linux/netlink.h>

#include <netlink/attr.h>
#include <netlink/msg.h>

#include "pca.h"
#include "spec-gen.h"

/*
 * Replies and fault events are received into one buffer.  The kernel caps
 * dump skbs at 32 KiB, so 256 KiB leaves room for large unicast events.
 */
#define PCA_RXBUF_SIZE		(256 * 1024)
/* Fault records that arrive while a request waits for its ACK. */
#define PCA_STASH_RECS		4096
/* Relay messages that arrive while a request waits for its ACK. */
#define PCA_MIG_STASH		64
/* Socket buffers: fault bursts and 64-page COPY messages. */
#define PCA_SOCK_BUF		(4 * 1024 * 1024)
#define PCA_DEFAULT_TIMEOUT_MS	10000
#define PCA_ERRTEXT_LEN		512
#define PCA_EXTACK_LEN		256

struct pca_client {
	struct nl_sock *sk;
	int fd;
	int family;
	uint32_t seq;
	int timeout_ms;
	int rcvtimeo_ms;	/* SO_RCVTIMEO as set; -1: none (block) */
	size_t max_msg;		/* largest request the send buffer takes */
	long page_size;

	/* last error */
	int err;
	int extack_offs;
	char extack[PCA_EXTACK_LEN];
	char errtext[PCA_ERRTEXT_LEN];

	unsigned char *rxbuf;

	/* ring of fault records received during requests */
	struct pca_fault_record *stash;
	unsigned int stash_head;
	unsigned int stash_count;
	int faults_lost;

	/* the same for relay messages, allocated on first use */
	struct pca_mig_info *mig_stash;
	unsigned int mig_head;
	unsigned int mig_count;
	int mig_lost;
};

/* client.c */
const char *pca_errno_text(int err);
void pca_clear_error(struct pca_client *c);
/* Record @err (-errno) with a message of our own; returns @err. */
int __attribute__((format(printf, 3, 4)))
pca_set_error(struct pca_client *c, int err, const char *fmt, ...);
int pca_nl_to_errno(int nlerr);
/*
 * Frees a request whose attributes did not fit and returns NULL, which
 * pca_request() reports as out of memory.
 */
struct nl_msg *pca_msg_discard(struct nl_msg *msg);
/*
 * pca_request() for a command that must answer with a message: -EPROTO,
 * "the kernel sent no @what", when @parse was never called.
 */
int pca_request_reply(struct pca_client *c, struct nl_msg *msg,
		      int (*parse)(struct nlattr **tb, void *arg), void *arg,
		      const char *what);
int64_t pca_now_ms(void);
int pca_remaining_ms(int64_t deadline);
ssize_t pca_recv_datagram(struct pca_client *c);
ssize_t pca_recv_datagram_wait(struct pca_client *c, int timeout_ms);
/*
 * The next datagram from the kernel into c->rxbuf, waiting until @deadline
 * (pca_now_ms() time, -1: forever).  Returns its length, 0 once the
 * deadline passed, -EAGAIN after an overrun (the kernel dropped messages;
 * *@lost is set and the caller decides whether to wait on), or another
 * -errno, recorded in @c.
 */
ssize_t pca_recv_until(struct pca_client *c, int64_t deadline, int *lost);
/* An ioctl retried on EINTR: for idempotent ones only.  -errno on error. */
int pca_xioctl(int fd, unsigned long req, void *arg);
/* A resolution ioctl, never redone: 0 or -errno. */
int pca_resolve_ioctl(int fd, unsigned long req, void *arg);

/* region.c */
int pca_dump_request(struct pca_client *c, uint8_t cmd, size_t size,
		     int (*parse_one)(struct nlattr **tb, void *elem),
		     void **out, size_t *n);

/* fault.c */
int pca_is_fault_msg(struct pca_client *c, const struct nlmsghdr *nlh);
int pca_take_faults(struct pca_client *c, const struct nlmsghdr *nlh,
		    struct pca_fault_record *recs, int room);
struct nl_msg *pca_range_msg(struct pca_client *c, uint8_t cmd,
			     uint32_t region_id, uint64_t offset,
			     uint64_t length, uint32_t flags);

/* relay.c */
int pca_is_mig_msg(struct pca_client *c, const struct nlmsghdr *nlh);
void pca_stash_mig(struct pca_client *c, struct nlmsghdr *nlh);

#endif /* PCA_INTERNAL_H */
