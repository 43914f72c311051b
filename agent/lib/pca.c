// SPDX-License-Identifier: GPL-2.0
/*
 * libpca: userspace access to postcopy_assist.
 *
 * libnl-genl-3 connects the socket, resolves the family, builds messages
 * and parses attributes.  Receiving is done here, straight on the socket
 * fd: libnl's callback machinery insists on strict sequence ordering, which
 * breaks as soon as unsolicited fault events share the socket with
 * requests, and it hides the extended ack TLVs we want to report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "pca.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK		270
#endif

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

/* pca_client_open() failures, for pca_strerror(NULL). */
static __thread char open_errtext[PCA_ERRTEXT_LEN];

static const char *errno_text(int err)
{
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "Unknown error";
}

/* -------------------------------------------------------------------------
 * Names
 */

static const char *const feature_names[] = {
	"missing", "copy_batch", "fd_resolve", "user_only", "wait_policy",
	"sharded_queues", "dirty_log", "discard", "migrate", "region_open",
	"huge",
};

static const char *const cmd_names[] = {
	[PCA_CMD_UNSPEC] = "unspec",
	[PCA_CMD_API] = "api",
	[PCA_CMD_REGION_GET] = "region_get",
	[PCA_CMD_ATTACH] = "attach",
	[PCA_CMD_DETACH] = "detach",
	[PCA_CMD_FAULT] = "fault",
	[PCA_CMD_COPY] = "copy",
	[PCA_CMD_ZERO] = "zero",
	[PCA_CMD_WAKE] = "wake",
	[PCA_CMD_DIRTY_TRACK] = "dirty_track",
	[PCA_CMD_DIRTY_GET] = "dirty_get",
	[PCA_CMD_DIRTY_CLEAR] = "dirty_clear",
	[PCA_CMD_DISCARD] = "discard",
	[PCA_CMD_MIGRATE] = "migrate",
	[PCA_CMD_MIGRATE_REQUEST] = "migrate_request",
	[PCA_CMD_MIGRATE_ACCEPT] = "migrate_accept",
	[PCA_CMD_MIGRATE_UPDATE] = "migrate_update",
	[PCA_CMD_MIGRATE_PAUSED] = "migrate_paused",
	[PCA_CMD_MIGRATE_CANCEL] = "migrate_cancel",
	[PCA_CMD_MIGRATE_GET] = "migrate_get",
	[PCA_CMD_MIGRATE_EVENT] = "migrate_event",
};

static const char *const attr_names[] = {
	[PCA_A_UNSPEC] = "unspec",
	[PCA_A_PAD] = "pad",
	[PCA_A_API_VERSION] = "api_version",
	[PCA_A_FEATURES] = "features",
	[PCA_A_COMMANDS] = "commands",
	[PCA_A_REGION_ID] = "region_id",
	[PCA_A_REGION_SIZE] = "region_size",
	[PCA_A_REGION_FLAGS] = "region_flags",
	[PCA_A_REGION_UNIT] = "region_unit",
	[PCA_A_PAGES_PRESENT] = "pages_present",
	[PCA_A_QUEUES] = "queues",
	[PCA_A_POLICY] = "policy",
	[PCA_A_QUEUE_ID] = "queue_id",
	[PCA_A_OFFSET] = "offset",
	[PCA_A_LENGTH] = "length",
	[PCA_A_RESOLVE_FLAGS] = "resolve_flags",
	[PCA_A_PAGE] = "page",
	[PCA_A_DATA] = "data",
	[PCA_A_FAULT_RECORDS] = "fault_records",
	[PCA_A_STATS] = "stats",
	[PCA_A_DIRTY_ENABLE] = "dirty_enable",
	[PCA_A_DIRTY_FLAGS] = "dirty_flags",
	[PCA_A_DIRTY_BITMAP] = "dirty_bitmap",
	[PCA_A_DIRTY_PAGES] = "dirty_pages",
	[PCA_A_DIRTY_TRACKING] = "dirty_tracking",
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

const char *pca_feature_name(unsigned int bit)
{
	return bit < ARRAY_SIZE(feature_names) ? feature_names[bit] : NULL;
}

const char *pca_cmd_name(unsigned int cmd)
{
	return cmd < ARRAY_SIZE(cmd_names) ? cmd_names[cmd] : NULL;
}

const char *pca_attr_name(unsigned int attr)
{
	return attr < ARRAY_SIZE(attr_names) ? attr_names[attr] : NULL;
}

/* -------------------------------------------------------------------------
 * Errors
 */

static void clear_error(struct pca_client *c)
{
	c->err = 0;
	c->extack[0] = '\0';
	c->extack_offs = -1;
	c->errtext[0] = '\0';
}

/* Record @err (-errno) with a message of our own; returns @err. */
static int __attribute__((format(printf, 3, 4)))
set_error(struct pca_client *c, int err, const char *fmt, ...)
{
	va_list ap;

	c->err = err;
	va_start(ap, fmt);
	vsnprintf(c->errtext, sizeof(c->errtext), fmt, ap);
	va_end(ap);
	return err;
}

/* Record @err as the kernel reported it, with its extack if any. */
static int set_kernel_error(struct pca_client *c, int err)
{
	if (c->extack[0])
		return set_error(c, err, "%s (kernel reports: %s)",
				 errno_text(err), c->extack);
	return set_error(c, err, "%s", errno_text(err));
}

const char *pca_strerror(struct pca_client *c)
{
	if (!c)
		return open_errtext[0] ? open_errtext : "Success";
	if (!c->err)
		return "Success";
	return c->errtext[0] ? c->errtext : errno_text(c->err);
}

int pca_errno(struct pca_client *c)
{
	return c ? c->err : 0;
}

const char *pca_extack(struct pca_client *c)
{
	return c ? c->extack : "";
}

int pca_extack_offset(struct pca_client *c)
{
	return c ? c->extack_offs : -1;
}

/* Map a libnl error code (negative NLE_*) to -errno. */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:			return 0;
	case NLE_INTR:		return -EINTR;
	case NLE_BAD_SOCK:	return -EBADF;
	case NLE_AGAIN:		return -EAGAIN;
	case NLE_NOMEM:		return -ENOMEM;
	case NLE_EXIST:		return -EEXIST;
	case NLE_INVAL:		return -EINVAL;
	case NLE_RANGE:		return -ERANGE;
	case NLE_MSGSIZE:	return -EMSGSIZE;
	case NLE_OPNOTSUPP:	return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:	return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:	return -ENOENT;
	case NLE_NOATTR:	return -ENOENT;
	case NLE_MISSING_ATTR:	return -EINVAL;
	case NLE_BUSY:		return -EBUSY;
	case NLE_PROTO_MISMATCH: return -EPROTONOSUPPORT;
	case NLE_NOACCESS:	return -EACCES;
	case NLE_PERM:		return -EPERM;
	case NLE_NODEV:		return -ENODEV;
	case NLE_MSG_TRUNC:
	case NLE_MSG_TOOSHORT:
	case NLE_MSG_OVERFLOW:
	case NLE_PARSE_ERR:	return -EPROTO;
	default:		return -EIO;
	}
}

/*
 * Extended ack TLVs.  Only the message, the offending offset and the
 * missing-attribute type are of use to a human; the rest is skipped.
 */
static void parse_extack(struct pca_client *c, const void *tlvs, int len)
{
	struct nlattr *a;
	int rem, miss_type = -1;

	nla_for_each_attr(a, (struct nlattr *)tlvs, len, rem) {
		switch (nla_type(a)) {
		case NLMSGERR_ATTR_MSG: {
			int n = strnlen(nla_data(a), nla_len(a));

			if (n >= (int)sizeof(c->extack))
				n = sizeof(c->extack) - 1;
			memcpy(c->extack, nla_data(a), n);
			c->extack[n] = '\0';
			/* the kernel's messages carry no trailing newline,
			 * but modules' may
			 */
			while (n && c->extack[n - 1] == '\n')
				c->extack[--n] = '\0';
			break;
		}
		case NLMSGERR_ATTR_OFFS:
			if (nla_len(a) >= 4)
				c->extack_offs = nla_get_u32(a);
			break;
		case NLMSGERR_ATTR_MISS_TYPE:
			if (nla_len(a) >= 4)
				miss_type = nla_get_u32(a);
			break;
		}
	}

	/* GENL_REQ_ATTR_CHECK() reports only the type, no text. */
	if (!c->extack[0] && miss_type >= 0) {
		const char *name = pca_attr_name(miss_type);

		if (name)
			snprintf(c->extack, sizeof(c->extack),
				 "missing attribute %s", name);
		else
			snprintf(c->extack, sizeof(c->extack),
				 "missing attribute %d", miss_type);
	}
}

/*
 * NLMSG_ERROR: 0 for an ACK, else the kernel's -errno.  The TLVs follow
 * the struct nlmsgerr when the request was not echoed (NLM_F_CAPPED, which
 * NETLINK_CAP_ACK gives us), or the echoed request otherwise.
 */
static int handle_error_msg(struct pca_client *c, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = NLMSG_DATA(nlh);
	size_t payload = sizeof(*e);
	int err;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
		return set_error(c, -EPROTO,
				 "truncated netlink error message");
	err = e->error > 0 ? -e->error : e->error;
	if (!err)
		return 0;

	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED) &&
		    e->msg.nlmsg_len >= NLMSG_HDRLEN)
			payload += e->msg.nlmsg_len - NLMSG_HDRLEN;
		payload = NLMSG_ALIGN(payload);
		if (NLMSG_LENGTH(payload) < nlh->nlmsg_len)
			parse_extack(c, (const char *)NLMSG_DATA(nlh) + payload,
				     nlh->nlmsg_len - NLMSG_LENGTH(payload));
	}
	return set_kernel_error(c, err);
}

/* NLMSG_DONE ends a dump; a failing dump carries its error and TLVs. */
static int handle_done_msg(struct pca_client *c, const struct nlmsghdr *nlh)
{
	int err;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(int)))
		return 0;
	memcpy(&err, NLMSG_DATA(nlh), sizeof(err));
	if (err > 0)
		err = -err;
	if (!err)
		return 0;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    nlh->nlmsg_len > NLMSG_LENGTH(NLMSG_ALIGN(sizeof(int))))
		parse_extack(c, (const char *)NLMSG_DATA(nlh) +
			     NLMSG_ALIGN(sizeof(int)),
			     nlh->nlmsg_len -
			     NLMSG_LENGTH(NLMSG_ALIGN(sizeof(int))));
	return set_kernel_error(c, err);
}

/* -------------------------------------------------------------------------
 * Client life cycle
 */

static int __attribute__((format(printf, 2, 3)))
open_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(open_errtext, sizeof(open_errtext), fmt, ap);
	va_end(ap);
	return err;
}

/*
 * Big buffers need the *FORCE variants (root only) to exceed
 * net.core.[rw]mem_max; unprivileged callers get what the sysctl allows.
 */
static void set_sock_buf(int fd, int force_opt, int opt, int size)
{
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
}

int pca_client_open(struct pca_client **cp)
{
	struct pca_client *c;
	int one = 1, sndbuf = 0, ret;
	socklen_t len = sizeof(sndbuf);

	*cp = NULL;
	open_errtext[0] = '\0';

	c = calloc(1, sizeof(*c));
	if (!c)
		return open_fail(-ENOMEM, "%s", errno_text(ENOMEM));
	c->fd = -1;
	c->timeout_ms = PCA_DEFAULT_TIMEOUT_MS;
	c->rcvtimeo_ms = -1;
	c->page_size = sysconf(_SC_PAGESIZE);
	clear_error(c);
	c->rxbuf = malloc(PCA_RXBUF_SIZE);
	c->stash = calloc(PCA_STASH_RECS, sizeof(*c->stash));
	c->sk = nl_socket_alloc();
	if (!c->rxbuf || !c->stash || !c->sk) {
		ret = open_fail(-ENOMEM, "%s", errno_text(ENOMEM));
		goto err;
	}

	errno = 0;
	ret = genl_connect(c->sk);
	if (ret < 0) {
		ret = errno ? -errno : nl_to_errno(ret);
		open_fail(ret, "generic netlink socket: %s", errno_text(ret));
		goto err;
	}
	c->fd = nl_socket_get_fd(c->sk);

	if (setsockopt(c->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
		       sizeof(one)) ||
	    setsockopt(c->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one,
		       sizeof(one))) {
		ret = -errno;
		open_fail(ret, "enabling extended netlink acks: %s",
			  errno_text(ret));
		goto err;
	}
	set_sock_buf(c->fd, SO_RCVBUFFORCE, SO_RCVBUF, PCA_SOCK_BUF);
	set_sock_buf(c->fd, SO_SNDBUFFORCE, SO_SNDBUF, PCA_SOCK_BUF);
	/* netlink_sendmsg() refuses len > sk_sndbuf - 32 */
	if (getsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) ||
	    sndbuf <= 32)
		sndbuf = 64 * 1024;
	c->max_msg = sndbuf - 32;

	ret = genl_ctrl_resolve(c->sk, POSTCOPY_ASSIST_GENL_NAME);
	if (ret < 0) {
		if (ret == -NLE_OBJ_NOTFOUND) {
			ret = open_fail(-ENOENT,
					"generic netlink family %s not found: is the module loaded?",
					POSTCOPY_ASSIST_GENL_NAME);
		} else {
			int err = nl_to_errno(ret);

			open_fail(err, "resolving generic netlink family %s: %s",
				  POSTCOPY_ASSIST_GENL_NAME, nl_geterror(ret));
			ret = err;
		}
		goto err;
	}
	c->family = ret;
	/* distinct from the sequence numbers libnl used for the resolve */
	c->seq = (uint32_t)time(NULL) ^ 0x5a5a0000;

	*cp = c;
	return 0;
err:
	pca_client_close(c);
	return ret;
}

void pca_client_close(struct pca_client *c)
{
	if (!c)
		return;
	if (c->sk)
		nl_socket_free(c->sk);	/* closes the fd */
	free(c->rxbuf);
	free(c->stash);
	free(c->mig_stash);
	free(c);
}

int pca_client_fd(struct pca_client *c)
{
	return c->fd;
}

int pca_client_family(struct pca_client *c)
{
	return c->family;
}

void pca_client_set_timeout(struct pca_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms;
}

/* -------------------------------------------------------------------------
 * Receiving
 */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before @deadline (-1: none), for poll(). */
static int remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	if (left <= 0)
		return 0;
	return left > INT32_MAX ? INT32_MAX : (int)left;
}

/*
 * One datagram into c->rxbuf without blocking.  Returns its length, 0 for
 * nothing usable (not from the kernel), or -errno (-EAGAIN: empty).
 */
static ssize_t recv_datagram_flags(struct pca_client *c, int flags)
{
	struct sockaddr_nl sa;
	struct iovec iov = {
		.iov_base = c->rxbuf,
		.iov_len = PCA_RXBUF_SIZE,
	};
	struct msghdr mh = {
		.msg_name = &sa,
		.msg_namelen = sizeof(sa),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	ssize_t n;

	do {
		n = recvmsg(c->fd, &mh, flags);
	} while (n < 0 && errno == EINTR && (flags & MSG_DONTWAIT));
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if (mh.msg_flags & MSG_TRUNC)
		return -EMSGSIZE;
	/* other sockets may unicast to us; only the kernel is trusted */
	if (mh.msg_namelen < sizeof(sa) || sa.nl_pid != 0)
		return 0;
	return n;
}

static ssize_t recv_datagram(struct pca_client *c)
{
	return recv_datagram_flags(c, MSG_DONTWAIT);
}

/*
 * One datagram, waiting up to @timeout_ms (-1: forever) in recvmsg()
 * itself: one system call per datagram on the fault path, where poll()
 * and a second recvmsg() would double it.  -EAGAIN on timeout, -EINTR
 * when a signal came first.
 */
static ssize_t recv_datagram_wait(struct pca_client *c, int timeout_ms)
{
	if (!timeout_ms)
		return recv_datagram(c);
	if (timeout_ms != c->rcvtimeo_ms) {
		struct timeval tv = {
			.tv_sec = timeout_ms < 0 ? 0 : timeout_ms / 1000,
			.tv_usec = timeout_ms < 0 ? 0 :
				   (timeout_ms % 1000) * 1000,
		};

		if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
			       sizeof(tv)))
			return -errno;
		c->rcvtimeo_ms = timeout_ms;
	}
	return recv_datagram_flags(c, 0);
}

/* Wait for the socket to become readable: 1, 0 on timeout, or -errno. */
static int wait_readable(struct pca_client *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return errno == EINTR ? 1 : -errno;
	return ret;
}

static int is_fault_msg(struct pca_client *c, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);

	return nlh->nlmsg_type == c->family &&
	       nlh->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN) &&
	       g->cmd == PCA_CMD_FAULT;
}

/*
 * Hand out the records of one fault message: the first @room go to @recs,
 * the rest to the stash.  Returns how many went to @recs.
 */
static int take_faults(struct pca_client *c, const struct nlmsghdr *nlh,
		       struct pca_fault_record *recs, int room)
{
	const size_t rsz = sizeof(struct pca_fault_record);
	struct nlattr *a;
	int rem, taken = 0;

	nla_for_each_attr(a, (struct nlattr *)((const char *)NLMSG_DATA(nlh) +
					       GENL_HDRLEN),
			  nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), rem) {
		const char *p = nla_data(a);
		size_t i, n;

		if (nla_type(a) != PCA_A_FAULT_RECORDS)
			continue;
		n = nla_len(a) / rsz;
		for (i = 0; i < n; i++, p += rsz) {
			unsigned int slot;

			/* attribute data is only 4-byte aligned: memcpy */
			if (taken < room) {
				memcpy(&recs[taken++], p, rsz);
				continue;
			}
			if (c->stash_count == PCA_STASH_RECS) {
				c->faults_lost = 1;
				continue;
			}
			slot = (c->stash_head + c->stash_count) %
			       PCA_STASH_RECS;
			memcpy(&c->stash[slot], p, rsz);
			c->stash_count++;
		}
	}
	return taken;
}

/* What the kernel sends us; attributes it does not send are not listed. */
static const struct nla_policy reply_policy[PCA_A_MAX + 1] = {
	[PCA_A_API_VERSION]	= { .type = NLA_U32 },
	[PCA_A_FEATURES]	= { .type = NLA_U64 },
	[PCA_A_COMMANDS]	= { .type = NLA_U64 },
	[PCA_A_REGION_ID]	= { .type = NLA_U32 },
	[PCA_A_REGION_SIZE]	= { .type = NLA_U64 },
	[PCA_A_REGION_FLAGS]	= { .type = NLA_U64 },
	[PCA_A_REGION_UNIT]	= { .type = NLA_U64 },
	[PCA_A_PAGES_PRESENT]	= { .type = NLA_U64 },
	[PCA_A_QUEUES]		= { .type = NLA_U32 },
	[PCA_A_POLICY]		= { .type = NLA_U32 },
	[PCA_A_QUEUE_ID]	= { .type = NLA_U32 },
	[PCA_A_OFFSET]		= { .type = NLA_U64 },
	[PCA_A_LENGTH]		= { .type = NLA_U64 },
	[PCA_A_RESOLVE_FLAGS]	= { .type = NLA_U32 },
	[PCA_A_PAGE]		= { .type = NLA_NESTED },
	[PCA_A_STATS]		= { .type = NLA_NESTED },
	[PCA_A_DIRTY_PAGES]	= { .type = NLA_U64 },
	[PCA_A_DIRTY_TRACKING]	= { .type = NLA_U32 },
	[PCA_A_MIG_ID]		= { .type = NLA_U32 },
	[PCA_A_MIG_ROLE]	= { .type = NLA_U32 },
	[PCA_A_MIG_PEER]	= { .type = NLA_STRING },
	[PCA_A_MIG_ARGS]	= { .type = NLA_STRING },
	[PCA_A_MIG_PHASE]	= { .type = NLA_U32 },
	[PCA_A_MIG_ERROR]	= { .type = NLA_U32 },
	[PCA_A_MIG_MESSAGE]	= { .type = NLA_STRING },
};

/* A relay message the kernel sent on its own (not an answer). */
static int is_mig_msg(struct pca_client *c, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);

	return nlh->nlmsg_type == c->family && nlh->nlmsg_seq == 0 &&
	       nlh->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN) &&
	       (g->cmd == PCA_CMD_MIGRATE_REQUEST ||
		g->cmd == PCA_CMD_MIGRATE_EVENT);
}

static void copy_str(char *dst, size_t len, const struct nlattr *a)
{
	dst[0] = '\0';
	if (a)
		snprintf(dst, len, "%.*s", nla_len(a), (const char *)nla_data(a));
	dst[strnlen(dst, len - 1)] = '\0';
}

/* An older or newer kernel may send a shorter or longer progress. */
static size_t progress_len(const struct nlattr *a)
{
	size_t len = nla_len(a);

	return len < sizeof(struct pca_mig_progress) ?
	       len : sizeof(struct pca_mig_progress);
}

static int parse_mig(struct nlattr **tb, void *arg)
{
	struct pca_mig_info *m = arg;

	if (!tb[PCA_A_MIG_ID] || !tb[PCA_A_MIG_PHASE])
		return -EPROTO;
	m->mig_id = nla_get_u32(tb[PCA_A_MIG_ID]);
	m->phase = nla_get_u32(tb[PCA_A_MIG_PHASE]);
	m->region_id = tb[PCA_A_REGION_ID] ?
		       nla_get_u32(tb[PCA_A_REGION_ID]) : 0;
	m->role = tb[PCA_A_MIG_ROLE] ? nla_get_u32(tb[PCA_A_MIG_ROLE]) : 0;
	m->error = tb[PCA_A_MIG_ERROR] ? nla_get_u32(tb[PCA_A_MIG_ERROR]) : 0;
	memset(&m->progress, 0, sizeof(m->progress));
	if (tb[PCA_A_MIG_PROGRESS])
		memcpy(&m->progress, nla_data(tb[PCA_A_MIG_PROGRESS]),
		       progress_len(tb[PCA_A_MIG_PROGRESS]));
	copy_str(m->peer, sizeof(m->peer), tb[PCA_A_MIG_PEER]);
	copy_str(m->args, sizeof(m->args), tb[PCA_A_MIG_ARGS]);
	copy_str(m->message, sizeof(m->message), tb[PCA_A_MIG_MESSAGE]);
	return 0;
}

/* Parse relay message @nlh into @m: 0 or -EPROTO. */
static int mig_from_msg(struct nlmsghdr *nlh, struct pca_mig_info *m)
{
	struct nlattr *tb[PCA_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, PCA_A_MAX, reply_policy) < 0)
		return -EPROTO;
	m->cmd = ((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd;
	return parse_mig(tb, m);
}

/* Keep a relay message for pca_mig_recv(). */
static void stash_mig(struct pca_client *c, struct nlmsghdr *nlh)
{
	unsigned int slot;

	if (!c->mig_stash) {
		c->mig_stash = calloc(PCA_MIG_STASH, sizeof(*c->mig_stash));
		if (!c->mig_stash) {
			c->mig_lost = 1;
			return;
		}
	}
	if (c->mig_count == PCA_MIG_STASH) {
		c->mig_lost = 1;
		return;
	}
	slot = (c->mig_head + c->mig_count) % PCA_MIG_STASH;
	if (mig_from_msg(nlh, &c->mig_stash[slot]) == 0)
		c->mig_count++;
}

/*
 * Wait for the answer to request @seq.  Messages of other sequence numbers
 * are stale answers of abandoned requests and are dropped; fault events
 * are stashed.
 */
static int wait_answer(struct pca_client *c, uint32_t seq,
		       int (*parse)(struct nlattr **tb, void *arg), void *arg)
{
	int64_t deadline = c->timeout_ms < 0 ? -1 : now_ms() + c->timeout_ms;
	int parse_err = 0;

	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n;
		int ret;

		n = recv_datagram(c);
		if (n == -EAGAIN) {
			ret = wait_readable(c, remaining_ms(deadline));
			if (ret < 0)
				return set_error(c, ret, "poll: %s",
						 errno_text(ret));
			if (!ret)
				return set_error(c, -ETIMEDOUT,
						 "no answer from the kernel within %d ms",
						 c->timeout_ms);
			continue;
		}
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			/*
			 * Overrun: the kernel dropped messages, fault events
			 * most likely.  Our answer may still come; if it was
			 * dropped, the deadline ends the wait.
			 */
			c->faults_lost = 1;
			continue;
		}
		if (n < 0)
			return set_error(c, n, "recvmsg: %s", errno_text(n));

		for (nlh = (struct nlmsghdr *)c->rxbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			struct nlattr *tb[PCA_A_MAX + 1];

			if (is_fault_msg(c, nlh)) {
				take_faults(c, nlh, NULL, 0);
				continue;
			}
			if (is_mig_msg(c, nlh)) {
				stash_mig(c, nlh);
				continue;
			}
			if (nlh->nlmsg_seq != seq)
				continue;

			switch (nlh->nlmsg_type) {
			case NLMSG_NOOP:
				continue;
			case NLMSG_ERROR:
				ret = handle_error_msg(c, nlh);
				goto done;
			case NLMSG_DONE:
				ret = handle_done_msg(c, nlh);
				goto done;
			case NLMSG_OVERRUN:
				c->faults_lost = 1;
				continue;
			}
			if (nlh->nlmsg_type != c->family || !parse || parse_err)
				continue;
			ret = genlmsg_parse(nlh, 0, tb, PCA_A_MAX,
					    reply_policy);
			if (ret < 0) {
				parse_err = set_error(c, -EPROTO,
						      "malformed reply from the kernel: %s",
						      nl_geterror(ret));
				continue;
			}
			parse_err = parse(tb, arg);
			if (parse_err)
				set_error(c, parse_err, "parsing the reply: %s",
					  errno_text(parse_err));
			continue;
done:
			if (ret)
				return ret;
			if (parse_err)
				return parse_err;
			return 0;
		}
	}
}

/* -------------------------------------------------------------------------
 * Requests
 */

struct nl_msg *pca_msg_new_size(struct pca_client *c, uint8_t cmd, int flags,
				size_t size)
{
	struct nl_msg *msg;

	if (!c)
		return NULL;
	msg = nlmsg_alloc_size(NLMSG_HDRLEN + GENL_HDRLEN + size);
	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, c->family, 0, flags,
			 cmd, POSTCOPY_ASSIST_GENL_VERSION)) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

struct nl_msg *pca_msg_new(struct pca_client *c, uint8_t cmd, int flags)
{
	/* room for any handshake, control or crafted message */
	return pca_msg_new_size(c, cmd, flags, 4096);
}

int pca_request(struct pca_client *c, struct nl_msg *msg,
		int (*parse)(struct nlattr **tb, void *arg), void *arg)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct nlmsghdr *nlh;
	uint32_t seq;
	ssize_t n;

	clear_error(c);
	if (!msg)
		return set_error(c, -ENOMEM, "building the request: %s",
				 errno_text(ENOMEM));

	nlh = nlmsg_hdr(msg);
	nlh->nlmsg_flags |= NLM_F_REQUEST;
	/* a dump answers with NLMSG_DONE, not with an ACK */
	if ((nlh->nlmsg_flags & NLM_F_DUMP) != NLM_F_DUMP)
		nlh->nlmsg_flags |= NLM_F_ACK;
	/* 0 is what kernel-originated events carry */
	if (++c->seq == 0)
		++c->seq;
	seq = nlh->nlmsg_seq = c->seq;
	nlh->nlmsg_pid = 0;

	do {
		n = sendto(c->fd, nlh, nlh->nlmsg_len, 0,
			   (struct sockaddr *)&kernel, sizeof(kernel));
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;

		if (err == -EMSGSIZE)
			set_error(c, err,
				  "request of %u bytes exceeds the socket send buffer",
				  nlh->nlmsg_len);
		else
			set_error(c, err, "sendto: %s", errno_text(err));
		nlmsg_free(msg);
		return err;
	}
	nlmsg_free(msg);
	return wait_answer(c, seq, parse, arg);
}

/* -------------------------------------------------------------------------
 * Handshake
 */

struct api_reply {
	struct pca_api_info *info;
	int seen;
};

static int parse_api(struct nlattr **tb, void *arg)
{
	struct api_reply *r = arg;

	r->seen = 1;
	if (tb[PCA_A_API_VERSION])
		r->info->version = nla_get_u32(tb[PCA_A_API_VERSION]);
	if (tb[PCA_A_FEATURES])
		r->info->features = nla_get_u64(tb[PCA_A_FEATURES]);
	if (tb[PCA_A_COMMANDS])
		r->info->commands = nla_get_u64(tb[PCA_A_COMMANDS]);
	return 0;
}

int pca_api(struct pca_client *c, uint32_t version, uint64_t want,
	    struct pca_api_info *out)
{
	struct pca_api_info info = { 0 };
	struct api_reply r = { .info = &info };
	struct nl_msg *msg;
	int ret;

	msg = pca_msg_new(c, PCA_CMD_API, 0);
	if (msg && (nla_put_u32(msg, PCA_A_API_VERSION, version) ||
		    nla_put_u64(msg, PCA_A_FEATURES, want))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = pca_request(c, msg, parse_api, &r);
	if (ret)
		return ret;
	if (!r.seen)
		return set_error(c, -EPROTO, "the kernel sent no API reply");
	if (out)
		*out = info;
	return 0;
}

/* -------------------------------------------------------------------------
 * Regions
 */

static void parse_stats(struct nlattr *nest, struct pca_region_stats *s)
{
	static const struct nla_policy policy[PCA_STAT_MAX + 1] = {
		[PCA_STAT_FAULTS]		= { .type = NLA_U64 },
		[PCA_STAT_FAULTS_COALESCED]	= { .type = NLA_U64 },
		[PCA_STAT_PAGES_COPIED]		= { .type = NLA_U64 },
		[PCA_STAT_PAGES_ZEROED]		= { .type = NLA_U64 },
		[PCA_STAT_COPY_EEXIST]		= { .type = NLA_U64 },
		[PCA_STAT_FAULTS_PENDING]	= { .type = NLA_U64 },
	};
	struct nlattr *tb[PCA_STAT_MAX + 1];

	if (nla_parse_nested(tb, PCA_STAT_MAX, nest, policy) < 0)
		return;
#define STAT(field, attr) \
	do { if (tb[attr]) s->field = nla_get_u64(tb[attr]); } while (0)
	STAT(faults, PCA_STAT_FAULTS);
	STAT(faults_coalesced, PCA_STAT_FAULTS_COALESCED);
	STAT(pages_copied, PCA_STAT_PAGES_COPIED);
	STAT(pages_zeroed, PCA_STAT_PAGES_ZEROED);
	STAT(copy_eexist, PCA_STAT_COPY_EEXIST);
	STAT(faults_pending, PCA_STAT_FAULTS_PENDING);
#undef STAT
	if (tb[PCA_STAT_WAIT_HIST]) {
		size_t len = nla_len(tb[PCA_STAT_WAIT_HIST]);

		if (len > sizeof(s->wait_hist))
			len = sizeof(s->wait_hist);
		memcpy(s->wait_hist, nla_data(tb[PCA_STAT_WAIT_HIST]), len);
	}
}

static int region_from_attrs(struct nlattr **tb, struct pca_region_info *r)
{
	memset(r, 0, sizeof(*r));
	if (!tb[PCA_A_REGION_ID])
		return -EPROTO;
	r->id = nla_get_u32(tb[PCA_A_REGION_ID]);
	if (tb[PCA_A_REGION_SIZE])
		r->size = nla_get_u64(tb[PCA_A_REGION_SIZE]);
	if (tb[PCA_A_REGION_FLAGS])
		r->flags = nla_get_u64(tb[PCA_A_REGION_FLAGS]);
	r->unit = tb[PCA_A_REGION_UNIT] ?
		  nla_get_u64(tb[PCA_A_REGION_UNIT]) :
		  (uint64_t)sysconf(_SC_PAGESIZE);
	if (tb[PCA_A_PAGES_PRESENT])
		r->pages_present = nla_get_u64(tb[PCA_A_PAGES_PRESENT]);
	if (tb[PCA_A_QUEUES])
		r->queues = nla_get_u32(tb[PCA_A_QUEUES]);
	if (tb[PCA_A_POLICY])
		r->policy = nla_get_u32(tb[PCA_A_POLICY]);
	if (tb[PCA_A_STATS]) {
		r->has_stats = 1;
		parse_stats(tb[PCA_A_STATS], &r->stats);
	}
	if (tb[PCA_A_DIRTY_TRACKING]) {
		r->has_dirty = 1;
		r->dirty_tracking = nla_get_u32(tb[PCA_A_DIRTY_TRACKING]);
	}
	if (tb[PCA_A_DIRTY_PAGES])
		r->dirty_pages = nla_get_u64(tb[PCA_A_DIRTY_PAGES]);
	return 0;
}

struct region_one {
	struct pca_region_info *info;
	int seen;
};

static int parse_region_one(struct nlattr **tb, void *arg)
{
	struct region_one *r = arg;

	r->seen = 1;
	return region_from_attrs(tb, r->info);
}

int pca_region_get(struct pca_client *c, uint32_t id,
		   struct pca_region_info *out)
{
	struct pca_region_info info;
	struct region_one r = { .info = &info };
	struct nl_msg *msg;
	int ret;

	msg = pca_msg_new(c, PCA_CMD_REGION_GET, 0);
	if (msg && nla_put_u32(msg, PCA_A_REGION_ID, id)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = pca_request(c, msg, parse_region_one, &r);
	if (ret)
		return ret;
	if (!r.seen)
		return set_error(c, -EPROTO, "the kernel sent no region");
	if (out)
		*out = info;
	return 0;
}

/*
 * A dump into a growing array: @parse_one fills one element of @size
 * bytes from a message's attributes.
 */
struct dump_list {
	void *v;
	size_t n, cap, size;
	int (*parse_one)(struct nlattr **tb, void *elem);
};

static int parse_dump_elem(struct nlattr **tb, void *arg)
{
	struct dump_list *l = arg;
	int ret;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		void *v = realloc(l->v, cap * l->size);

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	ret = l->parse_one(tb, (char *)l->v + l->n * l->size);
	if (!ret)
		l->n++;
	return ret;
}

static int dump_request(struct pca_client *c, uint8_t cmd, size_t size,
			int (*parse_one)(struct nlattr **tb, void *elem),
			void **out, size_t *n)
{
	struct dump_list l = { .size = size, .parse_one = parse_one };
	int ret;

	*out = NULL;
	*n = 0;
	ret = pca_request(c, pca_msg_new(c, cmd, NLM_F_DUMP),
			  parse_dump_elem, &l);
	if (ret) {
		free(l.v);
		return ret;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

static int parse_region_elem(struct nlattr **tb, void *elem)
{
	return region_from_attrs(tb, elem) ? -EPROTO : 0;
}

int pca_region_list(struct pca_client *c, struct pca_region_info **out,
		    size_t *n)
{
	return dump_request(c, PCA_CMD_REGION_GET, sizeof(**out),
			    parse_region_elem, (void **)out, n);
}

static int parse_queue_id(struct nlattr **tb, void *arg)
{
	uint32_t *queue_id = arg;

	if (tb[PCA_A_QUEUE_ID])
		*queue_id = nla_get_u32(tb[PCA_A_QUEUE_ID]);
	return 0;
}

int pca_attach(struct pca_client *c, uint32_t region_id, uint32_t policy,
	       uint32_t *queue_id)
{
	struct nl_msg *msg;
	uint32_t qid = 0;
	int ret;

	msg = pca_msg_new(c, PCA_CMD_ATTACH, 0);
	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    (policy != PCA_POLICY_UNCHANGED &&
		     nla_put_u32(msg, PCA_A_POLICY, policy)))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = pca_request(c, msg, parse_queue_id, &qid);
	if (!ret && queue_id)
		*queue_id = qid;
	return ret;
}

/* A request carrying only PCA_A_REGION_ID. */
static int region_request(struct pca_client *c, uint8_t cmd,
			  uint32_t region_id)
{
	struct nl_msg *msg = pca_msg_new(c, cmd, 0);

	if (msg && nla_put_u32(msg, PCA_A_REGION_ID, region_id)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return pca_request(c, msg, NULL, NULL);
}

int pca_detach(struct pca_client *c, uint32_t region_id)
{
	return region_request(c, PCA_CMD_DETACH, region_id);
}

int pca_fault_resend(struct pca_client *c, uint32_t region_id)
{
	return region_request(c, PCA_CMD_FAULT, region_id);
}

/* -------------------------------------------------------------------------
 * Resolution over netlink
 */

struct resolve_reply {
	struct pca_resolve_result r;
	int seen;
};

/* Resolution commands answer with an ACK only; a reply is a protocol error. */
static int parse_resolve(struct nlattr **tb, void *arg)
{
	struct resolve_reply *rr = arg;

	(void)tb;
	rr->seen = 1;
	return 0;
}

/*
 * Send a resolution request and add its counts to @res.  A kernel that
 * sends no counts placed all @pages on success.
 */
static int resolve_request(struct pca_client *c, struct nl_msg *msg,
			   uint64_t pages, struct pca_resolve_result *res)
{
	struct resolve_reply rr = { .seen = 0 };
	int ret;

	ret = pca_request(c, msg, parse_resolve, &rr);
	if (!ret && !rr.seen)
		rr.r.done = pages;
	if (res) {
		res->done += rr.r.done;
		res->existed += rr.r.existed;
	}
	return ret;
}

static size_t copy_page_size(struct pca_client *c)
{
	return NLA_HDRLEN + nla_total_size(sizeof(uint64_t)) +
	       nla_total_size(c->page_size);
}

/* Header room of a COPY message: region id and resolve flags. */
#define COPY_FIXED	(2 * NLA_HDRLEN + 2 * NLA_ALIGN(sizeof(uint32_t)))

int pca_copy_pages(struct pca_client *c, uint32_t region_id,
		   const struct pca_page *pages, size_t n, uint32_t flags,
		   struct pca_resolve_result *res)
{
	size_t per_msg, room, i = 0;
	int ret = 0, existed = 0;

	if (res)
		memset(res, 0, sizeof(*res));
	room = c->max_msg - NLMSG_HDRLEN - GENL_HDRLEN - COPY_FIXED;
	per_msg = room / copy_page_size(c);
	if (per_msg > PCA_COPY_MSG_PAGES)
		per_msg = PCA_COPY_MSG_PAGES;
	if (!per_msg)
		per_msg = 1;	/* let the kernel say EMSGSIZE */

	while (i < n) {
		size_t cnt = n - i < per_msg ? n - i : per_msg, j;
		struct nl_msg *msg;

		msg = pca_msg_new_size(c, PCA_CMD_COPY, 0,
				       COPY_FIXED + cnt * copy_page_size(c));
		if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
			    nla_put_u32(msg, PCA_A_RESOLVE_FLAGS, flags))) {
			nlmsg_free(msg);
			msg = NULL;
		}
		for (j = 0; msg && j < cnt; j++) {
			const struct pca_page *p = &pages[i + j];
			struct nlattr *nest;

			nest = nla_nest_start(msg, PCA_A_PAGE | NLA_F_NESTED);
			if (!nest ||
			    nla_put_u64(msg, PCA_A_OFFSET, p->offset) ||
			    nla_put(msg, PCA_A_DATA, c->page_size, p->data)) {
				nlmsg_free(msg);
				msg = NULL;
				break;
			}
			nla_nest_end(msg, nest);
		}
		ret = resolve_request(c, msg, cnt, res);
		/*
		 * -EEXIST: some pages of this message were present, the
		 * kernel placed all the others.  Racing a VMM's own writes
		 * makes that common, so go on with the rest.
		 */
		if (ret == -EEXIST) {
			existed = 1;
			ret = 0;
		}
		if (ret)
			return ret;
		i += cnt;
	}
	if (existed)
		return set_error(c, -EEXIST,
				 "%s (some pages were already present, the others were placed)",
				 errno_text(EEXIST));
	return 0;
}

int pca_copy(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     const void *data, uint32_t flags, struct pca_resolve_result *res)
{
	struct pca_page p = { .offset = offset, .data = data };

	return pca_copy_pages(c, region_id, &p, 1, flags, res);
}

static struct nl_msg *range_msg(struct pca_client *c, uint8_t cmd,
				uint32_t region_id, uint64_t offset,
				uint64_t length, uint32_t flags)
{
	struct nl_msg *msg = pca_msg_new(c, cmd, 0);

	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u64(msg, PCA_A_OFFSET, offset) ||
		    nla_put_u64(msg, PCA_A_LENGTH, length) ||
		    nla_put_u32(msg, PCA_A_RESOLVE_FLAGS, flags))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

int pca_zero(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     uint64_t length, uint32_t flags, struct pca_resolve_result *res)
{
	if (res)
		memset(res, 0, sizeof(*res));
	return resolve_request(c, range_msg(c, PCA_CMD_ZERO, region_id,
					    offset, length, flags),
			       length / c->page_size, res);
}

int pca_wake(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     uint64_t length)
{
	return pca_request(c, range_msg(c, PCA_CMD_WAKE, region_id, offset,
					length, 0), NULL, NULL);
}

/* -------------------------------------------------------------------------
 * Dirty log
 */

int pca_dirty_track(struct pca_client *c, uint32_t region_id, int enable)
{
	struct nl_msg *msg = pca_msg_new(c, PCA_CMD_DIRTY_TRACK, 0);

	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u32(msg, PCA_A_DIRTY_ENABLE, !!enable))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return pca_request(c, msg, NULL, NULL);
}

struct dirty_reply {
	struct pca_client *c;
	uint64_t offset;	/* of the request */
	uint64_t pages;		/* of the request; 0: unknown (whole) */
	uint64_t *bitmap;
	size_t bitmap_size;
	uint64_t dirty;
	int seen;
};

/*
 * One DIRTY_GET reply: its bitmap covers [PCA_A_OFFSET, + PCA_A_LENGTH),
 * a part of the request starting on a 64-page boundary relative to it.
 */
static int parse_dirty(struct nlattr **tb, void *arg)
{
	struct dirty_reply *r = arg;
	uint64_t off, len, first, words;
	size_t at, n;

	r->seen = 1;
	if (tb[PCA_A_DIRTY_PAGES])
		r->dirty += nla_get_u64(tb[PCA_A_DIRTY_PAGES]);
	if (!tb[PCA_A_DIRTY_BITMAP] || !r->bitmap)
		return 0;
	if (!tb[PCA_A_OFFSET] || !tb[PCA_A_LENGTH])
		return -EPROTO;
	off = nla_get_u64(tb[PCA_A_OFFSET]);
	len = nla_get_u64(tb[PCA_A_LENGTH]);
	if (off < r->offset || (off - r->offset) % r->c->page_size ||
	    len % r->c->page_size)
		return -EPROTO;
	first = (off - r->offset) / r->c->page_size;
	if (first % 64)
		return -EPROTO;
	words = (len / r->c->page_size + 63) / 64;
	n = nla_len(tb[PCA_A_DIRTY_BITMAP]);
	if (n > words * sizeof(uint64_t))
		n = words * sizeof(uint64_t);
	at = first / 64 * sizeof(uint64_t);
	if (at > r->bitmap_size || n > r->bitmap_size - at)
		return -ENOSPC;
	/* attribute data is only 4-byte aligned: memcpy */
	memcpy((char *)r->bitmap + at, nla_data(tb[PCA_A_DIRTY_BITMAP]), n);
	return 0;
}

int pca_dirty_get(struct pca_client *c, uint32_t region_id, uint64_t offset,
		  uint64_t length, uint32_t flags, uint64_t *bitmap,
		  size_t bitmap_size, uint64_t *dirty)
{
	struct dirty_reply r = {
		.c = c,
		.offset = offset,
		.bitmap = (flags & PCA_DIRTY_COUNT_ONLY) ? NULL : bitmap,
		.bitmap_size = bitmap_size,
	};
	uint64_t pages = length / c->page_size;
	int dump, ret;
	struct nl_msg *msg;

	clear_error(c);
	if (!length && offset)
		return set_error(c, -EINVAL,
				 "a whole-region request starts at offset 0");
	if (r.bitmap && length && bitmap_size < pca_bitmap_bytes(pages))
		return set_error(c, -ENOSPC,
				 "bitmap of %zu bytes too small for %llu pages",
				 bitmap_size, (unsigned long long)pages);
	if (!r.bitmap && !(flags & PCA_DIRTY_COUNT_ONLY))
		return set_error(c, -EINVAL, "no bitmap to fill");
	if (r.bitmap)
		memset(r.bitmap, 0, bitmap_size);

	/* A count is one message whatever the range; a bitmap may not be. */
	dump = !(flags & PCA_DIRTY_COUNT_ONLY) &&
	       (!length || pages > PCA_DIRTY_MSG_PAGES);
	msg = pca_msg_new(c, PCA_CMD_DIRTY_GET, dump ? NLM_F_DUMP : 0);
	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u32(msg, PCA_A_DIRTY_FLAGS, flags) ||
		    (length && (nla_put_u64(msg, PCA_A_OFFSET, offset) ||
				nla_put_u64(msg, PCA_A_LENGTH, length))))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = pca_request(c, msg, parse_dirty, &r);
	if (ret)
		return ret;
	if (!r.seen)
		return set_error(c, -EPROTO, "the kernel sent no dirty log");
	if (dirty)
		*dirty = r.dirty;
	return 0;
}

int pca_dirty_clear(struct pca_client *c, uint32_t region_id,
		    uint64_t offset, uint64_t length)
{
	return pca_request(c, range_msg(c, PCA_CMD_DIRTY_CLEAR, region_id,
					offset, length, 0), NULL, NULL);
}

/* -------------------------------------------------------------------------
 * Migration relay
 */

static const char *const mig_phase_names[] = {
	[PCA_MIG_REQUESTED] = "requested",
	[PCA_MIG_ACCEPTED] = "accepted",
	[PCA_MIG_PRECOPY] = "precopy",
	[PCA_MIG_SWITCHOVER] = "switchover",
	[PCA_MIG_PAUSED] = "paused",
	[PCA_MIG_POSTCOPY] = "postcopy",
	[PCA_MIG_COMPLETED] = "completed",
	[PCA_MIG_FAILED] = "failed",
	[PCA_MIG_CANCELLED] = "cancelled",
};

const char *pca_mig_phase_name(uint32_t phase)
{
	if (phase < sizeof(mig_phase_names) / sizeof(mig_phase_names[0]))
		return mig_phase_names[phase];
	return "unknown";
}

const char *pca_mig_role_name(uint32_t role)
{
	switch (role) {
	case PCA_MIG_SOURCE:
		return "source";
	case PCA_MIG_DESTINATION:
		return "destination";
	}
	return "unknown";
}

int pca_join_group(struct pca_client *c, const char *group)
{
	int grp, ret;

	clear_error(c);
	grp = genl_ctrl_resolve_grp(c->sk, POSTCOPY_ASSIST_GENL_NAME, group);
	if (grp < 0)
		return set_error(c, grp == -NLE_OBJ_NOTFOUND ? -ENOENT :
				 nl_to_errno(grp),
				 "multicast group %s of %s: %s", group,
				 POSTCOPY_ASSIST_GENL_NAME, nl_geterror(grp));
	ret = nl_socket_add_membership(c->sk, grp);
	if (ret < 0) {
		ret = nl_to_errno(ret);
		return set_error(c, ret, "joining multicast group %s: %s%s",
				 group, errno_text(ret),
				 ret == -EPERM ?
				 " (needs CAP_SYS_ADMIN in the network namespace)" : "");
	}
	return 0;
}

static struct nl_msg *mig_msg(struct pca_client *c, uint8_t cmd,
			      uint32_t mig_id)
{
	struct nl_msg *msg = pca_msg_new(c, cmd, 0);

	if (msg && nla_put_u32(msg, PCA_A_MIG_ID, mig_id) < 0) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

int pca_migrate(struct pca_client *c, uint32_t region_id, uint32_t role,
		const char *peer, const char *args, uint32_t *mig_id)
{
	struct nl_msg *msg = pca_msg_new(c, PCA_CMD_MIGRATE, 0);
	struct pca_mig_info m;
	int ret;

	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) < 0 ||
		    nla_put_u32(msg, PCA_A_MIG_ROLE, role) < 0 ||
		    nla_put_string(msg, PCA_A_MIG_PEER, peer) < 0 ||
		    (args && *args &&
		     nla_put_string(msg, PCA_A_MIG_ARGS, args) < 0))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	ret = pca_request(c, msg, parse_mig, &m);
	if (!ret && mig_id)
		*mig_id = m.mig_id;
	return ret;
}

int pca_migrate_paused(struct pca_client *c, uint32_t mig_id)
{
	return pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_PAUSED, mig_id),
			   NULL, NULL);
}

int pca_migrate_cancel(struct pca_client *c, uint32_t mig_id)
{
	return pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_CANCEL, mig_id),
			   NULL, NULL);
}

int pca_migrate_accept(struct pca_client *c, uint32_t mig_id,
		       struct pca_mig_info *info)
{
	struct pca_mig_info m;
	int ret;

	ret = pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_ACCEPT, mig_id),
			  parse_mig, &m);
	if (!ret && info) {
		*info = m;
		info->cmd = PCA_CMD_MIGRATE_ACCEPT;
	}
	return ret;
}

int pca_migrate_update(struct pca_client *c, uint32_t mig_id, uint32_t phase,
		       const struct pca_mig_progress *progress, uint32_t error,
		       const char *message)
{
	struct nl_msg *msg = mig_msg(c, PCA_CMD_MIGRATE_UPDATE, mig_id);

	if (msg && (nla_put_u32(msg, PCA_A_MIG_PHASE, phase) < 0 ||
		    (progress &&
		     nla_put(msg, PCA_A_MIG_PROGRESS, sizeof(*progress),
			     progress) < 0) ||
		    (error && nla_put_u32(msg, PCA_A_MIG_ERROR, error) < 0) ||
		    (message && *message &&
		     nla_put_string(msg, PCA_A_MIG_MESSAGE, message) < 0))) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return pca_request(c, msg, NULL, NULL);
}

int pca_migrate_get(struct pca_client *c, uint32_t mig_id,
		    struct pca_mig_info *info)
{
	struct pca_mig_info m;
	int ret;

	ret = pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_GET, mig_id),
			  parse_mig, &m);
	if (!ret && info) {
		*info = m;
		info->cmd = PCA_CMD_MIGRATE_GET;
	}
	return ret;
}

static int parse_mig_elem(struct nlattr **tb, void *elem)
{
	struct pca_mig_info *m = elem;

	m->cmd = PCA_CMD_MIGRATE_GET;
	return parse_mig(tb, m);
}

int pca_migrate_list(struct pca_client *c, struct pca_mig_info **out,
		     size_t *count)
{
	return dump_request(c, PCA_CMD_MIGRATE_GET, sizeof(**out),
			    parse_mig_elem, (void **)out, count);
}

int pca_mig_recv(struct pca_client *c, struct pca_mig_info *info,
		 int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	clear_error(c);
	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n;
		int ret;

		if (c->mig_lost) {
			c->mig_lost = 0;
			return set_error(c, -ENOBUFS,
					 "migration messages were lost: ask for the state");
		}
		if (c->mig_count) {
			*info = c->mig_stash[c->mig_head];
			c->mig_head = (c->mig_head + 1) % PCA_MIG_STASH;
			c->mig_count--;
			return 1;
		}
		n = recv_datagram(c);
		if (n == -EAGAIN) {
			ret = wait_readable(c, remaining_ms(deadline));
			if (ret < 0)
				return set_error(c, ret, "poll: %s",
						 errno_text(ret));
			if (!ret)
				return 0;
			continue;
		}
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			c->mig_lost = 1;
			continue;
		}
		if (n < 0)
			return set_error(c, n, "recvmsg: %s", errno_text(n));
		for (nlh = (struct nlmsghdr *)c->rxbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (is_mig_msg(c, nlh))
				stash_mig(c, nlh);
			else if (is_fault_msg(c, nlh))
				take_faults(c, nlh, NULL, 0);
		}
	}
}

/* -------------------------------------------------------------------------
 * Fault reception
 */

int pca_recv_faults(struct pca_client *c, struct pca_fault_record *recs,
		    int max, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	int got = 0, first = 1;

	clear_error(c);
	if (max <= 0)
		return set_error(c, -EINVAL, "no room for fault records");
	if (c->faults_lost) {
		c->faults_lost = 0;
		return set_error(c, -ENOBUFS,
				 "fault events were lost: ask for a resend");
	}

	/* first what arrived while requests were waiting */
	while (got < max && c->stash_count) {
		recs[got++] = c->stash[c->stash_head];
		c->stash_head = (c->stash_head + 1) % PCA_STASH_RECS;
		c->stash_count--;
	}

	/*
	 * One datagram per call once there is something to return: the next
	 * call takes the next one as cheaply, and the caller resolves sooner.
	 */
	while (!got) {
		struct nlmsghdr *nlh;
		ssize_t n;

		/* the caller's timeout as is, so SO_RCVTIMEO stays set */
		n = recv_datagram_wait(c, first ? timeout_ms :
					  remaining_ms(deadline));
		first = 0;
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			if (got) {
				/* report the loss on the next call */
				c->faults_lost = 1;
				break;
			}
			return set_error(c, -ENOBUFS,
					 "fault events were lost: ask for a resend");
		}
		if (n < 0)
			return set_error(c, n, "recvmsg: %s", errno_text(n));

		/* answers of abandoned requests are dropped here */
		for (nlh = (struct nlmsghdr *)c->rxbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (is_fault_msg(c, nlh))
				got += take_faults(c, nlh, recs + got,
						   max - got);
			else if (is_mig_msg(c, nlh))
				stash_mig(c, nlh);
		}
	}
	return got;
}

/* -------------------------------------------------------------------------
 * Device and region fds
 */

/* For idempotent ioctls only: a resolution must not be silently redone. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

static int resolve_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

int pca_dev_open(void)
{
	int fd = open(PCA_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int pca_dev_api(int fd, uint64_t version, uint64_t want, struct pca_api *out)
{
	struct pca_api a = { .api = version, .features = want };
	int ret;

	ret = xioctl(fd, PCA_IOC_API, &a);
	if (ret < 0)
		return ret;
	if (out)
		*out = a;
	return 0;
}

int pca_region_create(uint64_t size, uint64_t flags, uint32_t *id)
{
	struct pca_region_create rc = { .size = size, .flags = flags };
	int fd, ret;

	fd = pca_dev_open();
	if (fd < 0)
		return fd;
	ret = xioctl(fd, PCA_IOC_REGION_CREATE, &rc);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	if (id)
		*id = rc.region_id;
	/*
	 * The ioctl returns the new region fd (fd 0 cannot be: the device
	 * fd is open); 0 means the device fd itself now is the region.
	 */
	if (ret > 0) {
		close(fd);
		return ret;
	}
	return fd;
}

int pca_region_open(uint32_t id, uint64_t *size)
{
	struct pca_region_open ro = { .region_id = id };
	int fd, ret;

	fd = pca_dev_open();
	if (fd < 0)
		return fd;
	ret = xioctl(fd, PCA_IOC_REGION_OPEN, &ro);
	close(fd);
	if (ret < 0)
		return ret;
	if (size)
		*size = ro.size;
	return ret;
}

int pca_fd_copy(int fd, uint64_t offset, const void *src, uint64_t len,
		uint64_t flags, int64_t *copied)
{
	struct pca_copy a = {
		.offset = offset,
		.src = (uintptr_t)src,
		.len = len,
		.flags = flags,
	};
	int ret = resolve_ioctl(fd, PCA_IOC_COPY, &a);

	if (copied)
		*copied = a.copied;
	return ret < 0 ? ret : 0;
}

int pca_fd_zero(int fd, uint64_t offset, uint64_t len, uint64_t flags,
		int64_t *done)
{
	struct pca_range a = { .offset = offset, .len = len, .flags = flags };
	int ret = resolve_ioctl(fd, PCA_IOC_ZERO, &a);

	if (done)
		*done = a.done;
	return ret < 0 ? ret : 0;
}

int pca_fd_wake(int fd, uint64_t offset, uint64_t len)
{
	struct pca_range a = { .offset = offset, .len = len };
	int ret = resolve_ioctl(fd, PCA_IOC_WAKE, &a);

	return ret < 0 ? ret : 0;
}

int pca_fd_copy_batch(int fd, const struct pca_copy_entry *entries,
		      uint64_t count, uint64_t flags, uint64_t *copied,
		      uint64_t *existed)
{
	struct pca_copy_batch a = {
		.entries = (uintptr_t)entries,
		.count = count,
		.flags = flags,
	};
	int ret = resolve_ioctl(fd, PCA_IOC_COPY_BATCH, &a);

	if (copied)
		*copied = a.copied;
	if (existed)
		*existed = a.existed;
	return ret < 0 ? ret : 0;
}

int pca_fd_dirty_log(int fd, uint64_t offset, uint64_t len, uint64_t flags,
		     uint64_t *bitmap, uint64_t bitmap_size, uint64_t *dirty)
{
	struct pca_dirty_log a = {
		.offset = offset,
		.len = len,
		.bitmap = (uintptr_t)bitmap,
		.bitmap_size = bitmap ? bitmap_size : 0,
		.flags = flags,
	};
	/* clearing is not idempotent: an interrupted call is not redone */
	int ret = resolve_ioctl(fd, PCA_IOC_DIRTY_LOG, &a);

	if (dirty)
		*dirty = ret < 0 ? 0 : a.dirty;
	return ret < 0 ? ret : 0;
}

int pca_fd_dirty_clear(int fd, uint64_t offset, uint64_t len)
{
	struct pca_range a = { .offset = offset, .len = len };
	int ret = xioctl(fd, PCA_IOC_DIRTY_CLEAR, &a);

	return ret < 0 ? ret : 0;
}

int64_t pca_fd_region_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		return -errno;
	return end;
}
