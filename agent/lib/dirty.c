// SPDX-License-Identifier: GPL-2.0
/*
 * libpca: the dirty log, over netlink and through a region fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <netlink/genl/genl.h>

#include "pca-internal.h"

/* -------------------------------------------------------------------------
 * Dirty log
 */

int pca_dirty_track(struct pca_client *c, uint32_t region_id, int enable)
{
	struct nl_msg *msg = pca_msg_new(c, PCA_CMD_DIRTY_TRACK, 0);

	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u32(msg, PCA_A_DIRTY_ENABLE, !!enable)))
		msg = pca_msg_discard(msg);
	return pca_request(c, msg, NULL, NULL);
}

struct dirty_reply {
	struct pca_client *c;
	uint64_t offset;	/* of the request */
	uint64_t pages;		/* of the request; 0: unknown (whole) */
	uint64_t *bitmap;
	size_t bitmap_size;
	uint64_t dirty;
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

	pca_clear_error(c);
	if (!length && offset)
		return pca_set_error(c, -EINVAL,
				     "a whole-region request starts at offset 0");
	if (r.bitmap && length && bitmap_size < pca_bitmap_bytes(pages))
		return pca_set_error(c, -ENOSPC,
				     "bitmap of %zu bytes too small for %llu pages",
				     bitmap_size, (unsigned long long)pages);
	if (!r.bitmap && !(flags & PCA_DIRTY_COUNT_ONLY))
		return pca_set_error(c, -EINVAL, "no bitmap to fill");
	if (r.bitmap)
		memset(r.bitmap, 0, bitmap_size);

	/* A count is one message whatever the range; a bitmap may not be. */
	dump = !(flags & PCA_DIRTY_COUNT_ONLY) &&
	       (!length || pages > PCA_DIRTY_MSG_PAGES);
	msg = pca_msg_new(c, PCA_CMD_DIRTY_GET, dump ? NLM_F_DUMP : 0);
	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) ||
		    nla_put_u32(msg, PCA_A_DIRTY_FLAGS, flags) ||
		    (length && (nla_put_u64(msg, PCA_A_OFFSET, offset) ||
				nla_put_u64(msg, PCA_A_LENGTH, length)))))
		msg = pca_msg_discard(msg);
	ret = pca_request_reply(c, msg, parse_dirty, &r, "dirty log");
	if (!ret && dirty)
		*dirty = r.dirty;
	return ret;
}

int pca_dirty_clear(struct pca_client *c, uint32_t region_id,
		    uint64_t offset, uint64_t length)
{
	return pca_request(c, pca_range_msg(c, PCA_CMD_DIRTY_CLEAR, region_id,
					    offset, length, 0), NULL, NULL);
}

/* -------------------------------------------------------------------------
 * Dirty log through a region fd
 */

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
	int ret = pca_resolve_ioctl(fd, PCA_IOC_DIRTY_LOG, &a);

	if (dirty)
		*dirty = ret < 0 ? 0 : a.dirty;
	return ret;
}

int pca_fd_dirty_clear(int fd, uint64_t offset, uint64_t len)
{
	struct pca_range a = { .offset = offset, .len = len };
	int ret = pca_xioctl(fd, PCA_IOC_DIRTY_CLEAR, &a);

	return ret < 0 ? ret : 0;
}
