// SPDX-License-Identifier: GPL-2.0
/*
 * libpca: regions.  Creating and opening them through the device, their
 * size, and their state and statistics from REGION_GET.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <netlink/genl/genl.h>

#include "pca-internal.h"

/* -------------------------------------------------------------------------
 * Regions
 */

static void parse_stats(struct nlattr *nest, struct pca_region_stats *s)
{
	struct nlattr *tb[PCA_STAT_MAX + 1];

	if (nla_parse_nested(tb, PCA_STAT_MAX, nest,
			     pca_spec_stat_attr_policy) < 0)
		return;
#define STAT(field, attr) \
	do { if (tb[attr]) s->field = nla_get_u64(tb[attr]); } while (0)
	STAT(faults, PCA_STAT_FAULTS);
	STAT(faults_coalesced, PCA_STAT_FAULTS_COALESCED);
	STAT(pages_copied, PCA_STAT_PAGES_COPIED);
	STAT(pages_zeroed, PCA_STAT_PAGES_ZEROED);
	STAT(copy_eexist, PCA_STAT_COPY_EEXIST);
	STAT(faults_pending, PCA_STAT_FAULTS_PENDING);
	STAT(faults_premapped, PCA_STAT_FAULTS_PREMAPPED);
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

static int parse_region_one(struct nlattr **tb, void *arg)
{
	return region_from_attrs(tb, arg);
}

int pca_region_get(struct pca_client *c, uint32_t id,
		   struct pca_region_info *out)
{
	struct pca_region_info info;
	struct nl_msg *msg;
	int ret;

	msg = pca_msg_new(c, PCA_CMD_REGION_GET, 0);
	if (msg && nla_put_u32(msg, PCA_A_REGION_ID, id))
		msg = pca_msg_discard(msg);
	ret = pca_request_reply(c, msg, parse_region_one, &info, "region");
	if (!ret && out)
		*out = info;
	return ret;
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

int pca_dump_request(struct pca_client *c, uint8_t cmd, size_t size,
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

int pca_region_get_path(struct pca_client *c, const char *path,
			struct pca_region_info *out)
{
	struct pca_region_info info;
	struct nl_msg *msg;
	int ret;

	msg = pca_msg_new(c, PCA_CMD_REGION_GET, 0);
	if (msg && nla_put_string(msg, PCA_A_REGION_PATH, path) < 0)
		msg = pca_msg_discard(msg);
	ret = pca_request_reply(c, msg, parse_region_one, &info, "region");
	if (!ret && out)
		*out = info;
	return ret;
}

int pca_region_resolve(struct pca_client *c, const char *name, uint32_t *id)
{
	struct pca_region_info info;
	unsigned long long v;
	char *end;
	int ret;

	errno = 0;
	v = strtoull(name, &end, 0);
	if (*name >= '0' && *name <= '9' && !errno && !*end &&
	    v && v <= UINT32_MAX) {
		*id = v;
		return 0;
	}
	ret = pca_region_get_path(c, name, &info);
	if (!ret)
		*id = info.id;
	return ret;
}

int pca_region_list(struct pca_client *c, struct pca_region_info **out,
		    size_t *n)
{
	return pca_dump_request(c, PCA_CMD_REGION_GET, sizeof(**out),
				parse_region_elem, (void **)out, n);
}

/* -------------------------------------------------------------------------
 * Region fds
 */

int pca_region_create(uint64_t size, uint64_t flags, uint32_t *id)
{
	struct pca_region_create rc = { .size = size, .flags = flags };
	int fd, ret;

	fd = pca_dev_open();
	if (fd < 0)
		return fd;
	ret = pca_xioctl(fd, PCA_IOC_REGION_CREATE, &rc);
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
	ret = pca_xioctl(fd, PCA_IOC_REGION_OPEN, &ro);
	close(fd);
	if (ret < 0)
		return ret;
	if (size)
		*size = ro.size;
	return ret;
}

int64_t pca_fd_region_size(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		return -errno;
	return end;
}

/* -------------------------------------------------------------------------
 * Page bitmaps of a region fd
 */

int pca_fd_discard_bitmap(int fd, uint64_t offset, uint64_t len,
			  const uint64_t *bitmap, size_t bitmap_size,
			  uint64_t flags, uint64_t *discarded)
{
	struct pca_discard_bitmap a = {
		.offset = offset,
		.len = len,
		.bitmap = (uintptr_t)bitmap,
		.bitmap_size = bitmap_size,
		.flags = flags,
	};
	/* what an interrupted call dropped stays dropped: not redone */
	int ret = pca_resolve_ioctl(fd, PCA_IOC_DISCARD_BITMAP, &a);

	if (discarded)
		*discarded = a.discarded;
	return ret;
}

int pca_fd_present_log(int fd, uint64_t offset, uint64_t len,
		       uint64_t *bitmap, size_t bitmap_size,
		       uint64_t *present)
{
	struct pca_present_log a = {
		.offset = offset,
		.len = len,
		.bitmap = (uintptr_t)bitmap,
		.bitmap_size = bitmap_size,
	};
	int ret = pca_xioctl(fd, PCA_IOC_PRESENT_LOG, &a);

	if (ret > 0)
		ret = 0;
	if (present)
		*present = ret < 0 ? 0 : a.present;
	return ret;
}

int pca_fd_recv(int fd, int sockfd, const uint64_t *offsets, uint64_t count,
		uint64_t flags, uint64_t *received)
{
	struct pca_recv a = {
		.sockfd = sockfd < 0 ? UINT64_MAX : (uint64_t)sockfd,
		.entries = (uintptr_t)offsets,
		.count = count,
		.flags = flags,
	};
	/* Never redone: an interrupted call has consumed bytes. */
	int ret = pca_resolve_ioctl(fd, PCA_IOC_RECV, &a);

	if (received)
		*received = a.received;
	return ret;
}
