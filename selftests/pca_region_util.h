/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A region created and mapped for a test, as a VMM would map guest RAM:
 * by ioctl (region_new) or as a file of the region filesystem (pcafs_*).
 */
#ifndef PCA_REGION_UTIL_H
#define PCA_REGION_UTIL_H

#include <sys/mount.h>

#include "pca_harness.h"

#define PAGE		4096UL

struct region {
	int fd;
	uint32_t id;
	size_t pages;
	uint8_t *mem;
};

/* @size bytes of @fd mapped shared, as a VMM maps guest RAM. */
static inline uint8_t *region_map(struct pca_test_ctx *t, int fd, size_t size)
{
	uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			  0);

	if (p == MAP_FAILED)
		PCA_FATAL(t, "mmap: %s", strerror(errno));
	return p;
}

/* The region filesystem mounted on @dir (made if need be) with @opts. */
static inline void pcafs_mount(struct pca_test_ctx *t, const char *dir,
			       const char *opts)
{
	if (mkdir(dir, 0755) && errno != EEXIST)
		PCA_FATAL(t, "mkdir %s: %s", dir, strerror(errno));
	if (mount("none", dir, "pcafs", 0, opts))
		PCA_FATAL(t, "mount -t pcafs -o %s %s: %s", opts ? opts : "",
			  dir, strerror(errno));
}

/* @path on a region filesystem made a region of @size bytes: its fd. */
static inline int pcafs_create(struct pca_test_ctx *t, const char *path,
			       size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		PCA_FATAL(t, "open %s: %s", path, strerror(errno));
	if (ftruncate(fd, size))
		PCA_FATAL(t, "ftruncate %s: %s", path, strerror(errno));
	return fd;
}

static inline void region_new(struct pca_test_ctx *t, struct region *r,
			      size_t pages, uint64_t flags)
{
	r->pages = pages;
	r->fd = PCA_ASSERT_OK(t, pca_region_create(pages * PAGE, flags, &r->id));
	r->mem = region_map(t, r->fd, pages * PAGE);
}

/*
 * Whether @addr's page is mapped in this process: the present bit (63) of
 * its /proc/self/pagemap entry, which needs no privilege.  -1 on error.
 */
static inline int page_mapped(const void *addr)
{
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pread(fd, &ent, sizeof(ent), (uintptr_t)addr / PAGE * sizeof(ent));
	close(fd);
	return n == sizeof(ent) ? (int)(ent >> 63) : -1;
}

static inline void region_free(struct region *r)
{
	munmap(r->mem, r->pages * PAGE);
	close(r->fd);
}

#endif /* PCA_REGION_UTIL_H */
