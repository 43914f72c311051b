/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A region created and mapped for a test, as a VMM would map guest RAM.
 */
#ifndef PCA_REGION_UTIL_H
#define PCA_REGION_UTIL_H

#include "pca_harness.h"

#define PAGE		4096UL

struct region {
	int fd;
	uint32_t id;
	size_t pages;
	uint8_t *mem;
};

static inline void region_new(struct pca_test_ctx *t, struct region *r,
			      size_t pages, uint64_t flags)
{
	r->pages = pages;
	r->fd = PCA_ASSERT_OK(t, pca_region_create(pages * PAGE, flags, &r->id));
	r->mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r->fd, 0);
	PCA_ASSERT(t, r->mem != MAP_FAILED, "mmap: %s", strerror(errno));
}

static inline void region_free(struct region *r)
{
	munmap(r->mem, r->pages * PAGE);
	close(r->fd);
}

#endif /* PCA_REGION_UTIL_H */
