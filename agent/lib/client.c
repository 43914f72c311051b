// SPDX-License-Identifier: GPL-2.0
/*
 * libpca: userspace access to postcopy_assist.
 *
 * libnl-genl-3 connects the socket, resolves the family, builds messages
 * and parses attributes.  Receiving is done here, straight on the socket
 * fd: libnl's callback machinery insists on strict sequence ordering, which
 * breaks as soon as unsolicited fault events share the socket with
 * requests, and it hides the extended ack TLVs we want to report.
 *
 * This file is the client: its socket, errors, the receive loop requests
 * wait in, and the API handshake.  The commands of each concern are in
 * region.c, fault.c, dirty.c and relay.c (see pca-internal.h).
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

#include "pca-internal.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK		270
#endif

/* pca_client_open() failures, for pca_strerror(NULL). */
static __thread char open_errtext[PCA_ERRTEXT_LEN];

const char *pca_errno_text(int err)
{
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "Unknown error";
}

/* -------------------------------------------------------------------------
 * Names
 */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The names are the spec's (spec-gen.c), with underscores for dashes. */
const char *pca_feature_name(unsigned int bit)
{
	return bit < ARRAY_SIZE(pca_spec_feature_names) ?
	       pca_spec_feature_names[bit] : NULL;
}

const char *pca_cmd_name(unsigned int cmd)
{
	return cmd < ARRAY_SIZE(pca_spec_cmd_names) ?
	       pca_spec_cmd_names[cmd] : NULL;
}

const char *pca_attr_name(unsigned int attr)
{
	return attr < ARRAY_SIZE(pca_spec_attr_names) ?
	       pca_spec_attr_names[attr] : NULL;
}

/* -------------------------------------------------------------------------
 * Errors
 */

void pca_clear_error(struct pca_client *c)
{
	c->err = 0;
	c->extack[0] = '\0';
	c->extack_offs = -1;
	c->errtext[0] = '\0';
}

/* Record @err (-errno) with a message of our own; returns @err. */
int __attribute__((format(printf, 3, 4)))
pca_set_error(struct pca_client *c, int err, const char *fmt, ...)
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
		return pca_set_error(c, err, "%s (kernel reports: %s)",
				     pca_errno_text(err), c->extack);
	return pca_set_error(c, err, "%s", pca_errno_text(err));
}

const char *pca_strerror(struct pca_client *c)
{
	if (!c)
		return open_errtext[0] ? open_errtext : "Success";
	if (!c->err)
		return "Success";
	return c->errtext[0] ? c->errtext : pca_errno_text(c->err);
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
int pca_nl_to_errno(int nlerr)
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
		return pca_set_error(c, -EPROTO,
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
		return open_fail(-ENOMEM, "%s", pca_errno_text(ENOMEM));
	c->fd = -1;
	c->timeout_ms = PCA_DEFAULT_TIMEOUT_MS;
	c->rcvtimeo_ms = -1;
	c->page_size = sysconf(_SC_PAGESIZE);
	pca_clear_error(c);
	c->rxbuf = malloc(PCA_RXBUF_SIZE);
	c->stash = calloc(PCA_STASH_RECS, sizeof(*c->stash));
	c->sk = nl_socket_alloc();
	if (!c->rxbuf || !c->stash || !c->sk) {
		ret = open_fail(-ENOMEM, "%s", pca_errno_text(ENOMEM));
		goto err;
	}

	errno = 0;
	ret = genl_connect(c->sk);
	if (ret < 0) {
		ret = errno ? -errno : pca_nl_to_errno(ret);
		open_fail(ret, "generic netlink socket: %s",
			  pca_errno_text(ret));
		goto err;
	}
	c->fd = nl_socket_get_fd(c->sk);

	if (setsockopt(c->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one,
		       sizeof(one)) ||
	    setsockopt(c->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one,
		       sizeof(one))) {
		ret = -errno;
		open_fail(ret, "enabling extended netlink acks: %s",
			  pca_errno_text(ret));
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
			int err = pca_nl_to_errno(ret);

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

int64_t pca_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before @deadline (-1: none), for poll(). */
int pca_remaining_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - pca_now_ms();
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

ssize_t pca_recv_datagram(struct pca_client *c)
{
	return recv_datagram_flags(c, MSG_DONTWAIT);
}

/*
 * One datagram, waiting up to @timeout_ms (-1: forever) in recvmsg()
 * itself: one system call per datagram on the fault path, where poll()
 * and a second recvmsg() would double it.  -EAGAIN on timeout, -EINTR
 * when a signal came first.
 */
ssize_t pca_recv_datagram_wait(struct pca_client *c, int timeout_ms)
{
	if (!timeout_ms)
		return pca_recv_datagram(c);
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

ssize_t pca_recv_until(struct pca_client *c, int64_t deadline, int *lost)
{
	for (;;) {
		ssize_t n = pca_recv_datagram(c);
		int ret;

		if (n == -EAGAIN) {
			ret = wait_readable(c, pca_remaining_ms(deadline));
			if (ret < 0)
				return pca_set_error(c, ret, "poll: %s",
						     pca_errno_text(ret));
			if (!ret)
				return 0;
			continue;
		}
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			*lost = 1;
			return -EAGAIN;
		}
		if (n < 0)
			return pca_set_error(c, n, "recvmsg: %s",
					     pca_errno_text(n));
		/* nothing usable (not from the kernel): wait on */
		if (n)
			return n;
	}
}

/*
 * Wait for the answer to request @seq.  Messages of other sequence numbers
 * are stale answers of abandoned requests and are dropped; fault events
 * are stashed.
 */
static int wait_answer(struct pca_client *c, uint32_t seq,
		       int (*parse)(struct nlattr **tb, void *arg), void *arg)
{
	int64_t deadline = c->timeout_ms < 0 ? -1 :
			   pca_now_ms() + c->timeout_ms;
	int parse_err = 0;

	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n;
		int ret;

		n = pca_recv_until(c, deadline, &c->faults_lost);
		if (!n)
			return pca_set_error(c, -ETIMEDOUT,
					     "no answer from the kernel within %d ms",
					     c->timeout_ms);
		/*
		 * An overrun: the kernel dropped messages, fault events most
		 * likely.  Our answer may still come; if it was dropped, the
		 * deadline ends the wait.
		 */
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return n;

		for (nlh = (struct nlmsghdr *)c->rxbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			struct nlattr *tb[PCA_A_MAX + 1];

			if (pca_is_fault_msg(c, nlh)) {
				pca_take_faults(c, nlh, NULL, 0);
				continue;
			}
			if (pca_is_mig_msg(c, nlh)) {
				pca_stash_mig(c, nlh);
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
					    pca_spec_attr_policy);
			if (ret < 0) {
				parse_err = pca_set_error(c, -EPROTO,
							  "malformed reply from the kernel: %s",
							  nl_geterror(ret));
				continue;
			}
			parse_err = parse(tb, arg);
			if (parse_err)
				pca_set_error(c, parse_err,
					      "parsing the reply: %s",
					      pca_errno_text(parse_err));
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

struct nl_msg *pca_msg_discard(struct nl_msg *msg)
{
	nlmsg_free(msg);
	return NULL;
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

	pca_clear_error(c);
	if (!msg)
		return pca_set_error(c, -ENOMEM, "building the request: %s",
				     pca_errno_text(ENOMEM));

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
			pca_set_error(c, err,
				      "request of %u bytes exceeds the socket send buffer",
				      nlh->nlmsg_len);
		else
			pca_set_error(c, err, "sendto: %s",
				      pca_errno_text(err));
		nlmsg_free(msg);
		return err;
	}
	nlmsg_free(msg);
	return wait_answer(c, seq, parse, arg);
}

/* pca_request_reply()'s parser around the caller's: notes that one came. */
struct seen_reply {
	int (*parse)(struct nlattr **tb, void *arg);
	void *arg;
	int seen;
};

static int parse_seen(struct nlattr **tb, void *arg)
{
	struct seen_reply *r = arg;

	r->seen = 1;
	return r->parse(tb, r->arg);
}

int pca_request_reply(struct pca_client *c, struct nl_msg *msg,
		      int (*parse)(struct nlattr **tb, void *arg), void *arg,
		      const char *what)
{
	struct seen_reply r = { .parse = parse, .arg = arg };
	int ret = pca_request(c, msg, parse_seen, &r);

	if (!ret && !r.seen)
		ret = pca_set_error(c, -EPROTO, "the kernel sent no %s", what);
	return ret;
}

/* -------------------------------------------------------------------------
 * Handshake
 */

static int parse_api(struct nlattr **tb, void *arg)
{
	struct pca_api_info *info = arg;

	if (tb[PCA_A_API_VERSION])
		info->version = nla_get_u32(tb[PCA_A_API_VERSION]);
	if (tb[PCA_A_FEATURES])
		info->features = nla_get_u64(tb[PCA_A_FEATURES]);
	if (tb[PCA_A_COMMANDS])
		info->commands = nla_get_u64(tb[PCA_A_COMMANDS]);
	return 0;
}

int pca_api(struct pca_client *c, uint32_t version, uint64_t want,
	    struct pca_api_info *out)
{
	struct pca_api_info info = { 0 };
	struct nl_msg *msg;
	int ret;

	msg = pca_msg_new(c, PCA_CMD_API, 0);
	if (msg && (nla_put_u32(msg, PCA_A_API_VERSION, version) ||
		    nla_put_u64(msg, PCA_A_FEATURES, want)))
		msg = pca_msg_discard(msg);
	ret = pca_request_reply(c, msg, parse_api, &info, "API reply");
	if (!ret && out)
		*out = info;
	return ret;
}

/* -------------------------------------------------------------------------
 * Device
 */

/* For idempotent ioctls only: a resolution must not be silently redone. */
int pca_xioctl(int fd, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : ret;
}

int pca_resolve_ioctl(int fd, unsigned long req, void *arg)
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

	ret = pca_xioctl(fd, PCA_IOC_API, &a);
	if (ret < 0)
		return ret;
	if (out)
		*out = a;
	return 0;
}
