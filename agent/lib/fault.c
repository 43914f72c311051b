// SPDX-License-Identifier: GPL-2.0
/*
 * libpca: faults and their resolution.  Attaching to a region, receiving
 * its fault records, and resolving faults with COPY, ZERO and WAKE over
 * netlink or with the ioctls of a region fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <netlink/genl/genl.h>

#include "pca-internal.h"

/* -------------------------------------------------------------------------
 * Fault records
 */

int pca_is_fault_msg(struct pca_client *c, const struct nlmsghdr *nlh)
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
int pca_take_faults(struct pca_client *c, const struct nlmsghdr *nlh,
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

/* -------------------------------------------------------------------------
 * Attach and detach
 */

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
		     nla_put_u32(msg, PCA_A_POLICY, policy))))
		msg = pca_msg_discard(msg);
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

	if (msg && nla_put_u32(msg, PCA_A_REGION_ID, region_id))
		msg = pca_msg_discard(msg);
	return pca_request(c, msg, NULL, NULL);
}

int pca_detach(struct pca_client *c, uint32_t region_id)
{
	return region_request(c, PCA_CMD_DETACH, region_id);
}

int pca_fault_resend(struct pca_client *c, uint32_t region_id)
{
	return region_request(c, PCA_CMD_FAULT_RESEND, region_id);
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
			    nla_put_u32(msg, PCA_A_RESOLVE_FLAGS, flags)))
			msg = pca_msg_discard(msg);
		for (j = 0; msg && j < cnt; j++) {
			const struct pca_page *p = &pages[i + j];
			struct nlattr *nest;

			nest = nla_nest_start(msg, PCA_A_PAGE | NLA_F_NESTED);
			if (!nest ||
			    nla_put_u64(msg, PCA_PAGE_A_OFFSET, p->offset) ||
			    nla_put(msg, PCA_PAGE_A_DATA, c->page_size,
				    p->data)) {
				msg = pca_msg_discard(msg);
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
		return pca_set_error(c, -EEXIST,
				     "%s (some pages were already present, the others were placed)",
				     pca_errno_text(EEXIST));
	return 0;
}

int pca_copy(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     const void *data, uint32_t flags, struct pca_resolve_result *res)
{
	struct pca_page p = { .offset = offset, .data = data };

	return pca_copy_pages(c, region_id, &p, 1, flags, res);
}

struct nl_msg *pca_range_msg(struct pca_client *c, uint8_t cmd,
			     uint32_t region_id, uint64_t offset,
			     uint64_t length, uint32_t flags)
{
	struct nl_msg *msg = pca_msg_new(c, cmd, 0);

	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u64(msg, PCA_A_OFFSET, offset) ||
		    nla_put_u64(msg, PCA_A_LENGTH, length) ||
		    nla_put_u32(msg, PCA_A_RESOLVE_FLAGS, flags)))
		msg = pca_msg_discard(msg);
	return msg;
}

int pca_zero(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     uint64_t length, uint32_t flags, struct pca_resolve_result *res)
{
	if (res)
		memset(res, 0, sizeof(*res));
	return resolve_request(c, pca_range_msg(c, PCA_CMD_ZERO, region_id,
						offset, length, flags),
			       length / c->page_size, res);
}

int pca_wake(struct pca_client *c, uint32_t region_id, uint64_t offset,
	     uint64_t length)
{
	return pca_request(c, pca_range_msg(c, PCA_CMD_WAKE, region_id, offset,
					    length, 0), NULL, NULL);
}

/* -------------------------------------------------------------------------
 * Fault reception
 */

int pca_recv_faults(struct pca_client *c, struct pca_fault_record *recs,
		    int max, int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : pca_now_ms() + timeout_ms;
	int got = 0, first = 1;

	pca_clear_error(c);
	if (max <= 0)
		return pca_set_error(c, -EINVAL, "no room for fault records");
	if (c->faults_lost) {
		c->faults_lost = 0;
		return pca_set_error(c, -ENOBUFS,
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
		n = pca_recv_datagram_wait(c, first ? timeout_ms :
					      pca_remaining_ms(deadline));
		first = 0;
		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n == -ENOBUFS || n == -EMSGSIZE) {
			if (got) {
				/* report the loss on the next call */
				c->faults_lost = 1;
				break;
			}
			return pca_set_error(c, -ENOBUFS,
					     "fault events were lost: ask for a resend");
		}
		if (n < 0)
			return pca_set_error(c, n, "recvmsg: %s",
					     pca_errno_text(n));

		/* answers of abandoned requests are dropped here */
		for (nlh = (struct nlmsghdr *)c->rxbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (pca_is_fault_msg(c, nlh))
				got += pca_take_faults(c, nlh, recs + got,
						       max - got);
			else if (pca_is_mig_msg(c, nlh))
				pca_stash_mig(c, nlh);
		}
	}
	return got;
}

/* -------------------------------------------------------------------------
 * Fault rings
 */

struct pca_ring {
	int fd;
	void *map;
	size_t map_len;
	struct pca_ring_header *hdr;
	const struct pca_fault_record *recs;
	uint64_t mask;
	uint64_t tail;		/* ours; the header's is what we publish */
	unsigned int busy_usec;
};

struct ring_reply {
	uint32_t queue_id;
	int fd;
};

static int parse_ring(struct nlattr **tb, void *arg)
{
	struct ring_reply *rr = arg;

	if (tb[PCA_A_QUEUE_ID])
		rr->queue_id = nla_get_u32(tb[PCA_A_QUEUE_ID]);
	if (tb[PCA_A_RING_FD])
		rr->fd = (int)nla_get_u32(tb[PCA_A_RING_FD]);
	return 0;
}

int pca_attach_ring(struct pca_client *c, uint32_t region_id,
		    uint32_t policy, uint32_t entries, struct pca_ring **ring,
		    uint32_t *queue_id)
{
	struct ring_reply rr = { .queue_id = 0, .fd = -1 };
	long psz = sysconf(_SC_PAGESIZE);
	struct pca_ring *r;
	struct nl_msg *msg;
	int ret;

	*ring = NULL;
	msg = pca_msg_new(c, PCA_CMD_ATTACH, 0);
	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u32(msg, PCA_A_RING_ENTRIES, entries) ||
		    (policy != PCA_POLICY_UNCHANGED &&
		     nla_put_u32(msg, PCA_A_POLICY, policy))))
		msg = pca_msg_discard(msg);
	ret = pca_request_reply(c, msg, parse_ring, &rr, "ring fd");
	if (ret)
		return ret;
	if (rr.fd < 0)
		return pca_set_error(c, -EPROTO, "the kernel sent no ring fd");
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(rr.fd);
		return pca_set_error(c, -ENOMEM, "out of memory");
	}
	r->fd = rr.fd;
	r->mask = entries - 1;
	r->map_len = (PCA_RING_MAP_SIZE(entries) + psz - 1) / psz * psz;
	r->map = mmap(NULL, r->map_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r->fd, 0);
	if (r->map == MAP_FAILED) {
		ret = -errno;
		close(r->fd);
		free(r);
		return pca_set_error(c, ret, "mmap of the fault ring: %s",
				     pca_errno_text(-ret));
	}
	r->hdr = r->map;
	r->recs = (const void *)((char *)r->map + PCA_RING_RECORDS_OFFSET);
	r->tail = __atomic_load_n(&r->hdr->tail, __ATOMIC_RELAXED);
	if (queue_id)
		*queue_id = rr.queue_id;
	*ring = r;
	return 0;
}

void pca_ring_close(struct pca_ring *ring)
{
	if (!ring)
		return;
	munmap(ring->map, ring->map_len);
	close(ring->fd);
	free(ring);
}

int pca_ring_fd(const struct pca_ring *ring)
{
	return ring->fd;
}

void pca_ring_set_busy_poll(struct pca_ring *ring, unsigned int usec)
{
	ring->busy_usec = usec;
}

/* Copy out what the kernel has written, up to @max, and publish the tail. */
static int ring_take(struct pca_ring *ring, struct pca_fault_record *recs,
		     int max)
{
	uint64_t head = __atomic_load_n(&ring->hdr->head, __ATOMIC_ACQUIRE);
	int n = 0;

	/* A head further than a ring ahead is not the kernel's: ignore it. */
	if (head - ring->tail > ring->mask + 1)
		return 0;
	while (ring->tail != head && n < max)
		recs[n++] = ring->recs[ring->tail++ & ring->mask];
	if (n)
		__atomic_store_n(&ring->hdr->tail, ring->tail,
				 __ATOMIC_RELEASE);
	return n;
}

static uint64_t ring_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int pca_ring_recv(struct pca_ring *ring, struct pca_fault_record *recs,
		  int max, int timeout_ms)
{
	struct pollfd pfd = { .fd = ring->fd, .events = POLLIN };
	int n;

	if (max <= 0)
		return -EINVAL;
	n = ring_take(ring, recs, max);
	if (n || !timeout_ms)
		return n;
	if (ring->busy_usec) {
		uint64_t until = ring_now_ns() + ring->busy_usec * 1000ULL;

		do {
			n = ring_take(ring, recs, max);
			if (n)
				return n;
		} while (ring_now_ns() < until);
	}
	if (poll(&pfd, 1, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	n = ring_take(ring, recs, max);
	if (n)
		return n;
	if (pfd.revents & POLLERR)
		return -EPROTO;
	if (pfd.revents & (POLLHUP | POLLNVAL))
		return -EPIPE;
	return 0;
}

int pca_attach_fastest(struct pca_client *c, uint32_t region_id,
		       uint32_t policy, struct pca_ring **ring)
{
	struct pca_api_info api;

	*ring = NULL;
	if (!pca_api(c, PCA_API_VERSION, 0, &api) &&
	    (api.features & PCA_FEATURE_FAULT_RING))
		return pca_attach_ring(c, region_id, policy,
				       PCA_RING_DEFAULT_ENTRIES, ring, NULL);
	return pca_attach(c, region_id, policy, NULL);
}

/* -------------------------------------------------------------------------
 * Resolution through a region fd
 */

int pca_fd_copy(int fd, uint64_t offset, const void *src, uint64_t len,
		uint64_t flags, int64_t *copied)
{
	struct pca_copy a = {
		.offset = offset,
		.src = (uintptr_t)src,
		.len = len,
		.flags = flags,
	};
	int ret = pca_resolve_ioctl(fd, PCA_IOC_COPY, &a);

	if (copied)
		*copied = a.copied;
	return ret;
}

int pca_fd_zero(int fd, uint64_t offset, uint64_t len, uint64_t flags,
		int64_t *done)
{
	struct pca_range a = { .offset = offset, .len = len, .flags = flags };
	int ret = pca_resolve_ioctl(fd, PCA_IOC_ZERO, &a);

	if (done)
		*done = a.done;
	return ret;
}

int pca_fd_wake(int fd, uint64_t offset, uint64_t len)
{
	struct pca_range a = { .offset = offset, .len = len };

	return pca_resolve_ioctl(fd, PCA_IOC_WAKE, &a);
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
	int ret = pca_resolve_ioctl(fd, PCA_IOC_COPY_BATCH, &a);

	if (copied)
		*copied = a.copied;
	if (existed)
		*existed = a.existed;
	return ret;
}
