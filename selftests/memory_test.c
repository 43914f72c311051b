// SPDX-License-Identifier: GPL-2.0
/*
 * memory_test: how a region's memory lives in the kernel's page cache.
 *
 * Guest memory must never be lost behind the VMM's back: not to the page
 * cache being dropped, not to fadvise or madvise, not to reclaim.  Pages
 * placed ahead of the guest are mapped by fault-around, several to a
 * fault.  A VMM discards guest memory the way it does on any file
 * (fallocate PUNCH_HOLE, MADV_REMOVE), and cannot resize it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>

#include "pca_region_util.h"

#define WAIT_MS		5000
#define PMD_BYTES	(2UL << 20)	/* what one x86-64 page table maps */

/* A recognisable byte for every page of every region of a test. */
static uint8_t pattern(size_t pg, size_t i)
{
	return (uint8_t)(pg * 31 + i * 7 + 1);
}

static void fill_pattern(struct region *r)
{
	size_t pg, i;

	for (pg = 0; pg < r->pages; pg++)
		for (i = 0; i < PAGE; i += 512)
			r->mem[pg * PAGE + i] = pattern(pg, i);
}

static size_t check_pattern(struct pca_test_ctx *t, struct region *r)
{
	size_t pg, i, bad = 0;

	for (pg = 0; pg < r->pages; pg++)
		for (i = 0; i < PAGE; i += 512)
			if (r->mem[pg * PAGE + i] != pattern(pg, i)) {
				if (!bad)
					pca_t_diag(t, "page %zu byte %zu: %#x",
						   pg, i, r->mem[pg * PAGE + i]);
				bad++;
			}
	return bad;
}

static uint64_t present(struct pca_test_ctx *t, uint32_t id)
{
	struct pca_region_info info;

	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	return info.pages_present;
}

/*
 * Every way the kernel drops file pages, against a region: its pages are
 * dirty and unevictable, so none of them may go.  In a missing-mode
 * region a dropped page would come back as a fault nobody serves; its
 * present count must not move.
 */
static void test_never_dropped(struct pca_test_ctx *t)
{
	static const int advice[] = { MADV_DONTNEED, MADV_COLD, MADV_PAGEOUT,
				      MADV_FREE };
	struct region r, m;
	uint8_t page[PAGE];
	size_t i;

	region_new(t, &r, 256, 0);
	region_new(t, &m, 64, PCA_REGION_MISSING);
	fill_pattern(&r);
	for (i = 0; i < m.pages; i++) {
		memset(page, (int)i + 1, sizeof(page));
		PCA_ASSERT_OK(t, pca_fd_copy(m.fd, i * PAGE, page, PAGE, 0,
					     NULL));
	}

	/* unmapped pages are what the page cache would drop first */
	munmap(r.mem, r.pages * PAGE);
	PCA_EXPECT_OK(t, -posix_fadvise(r.fd, 0, 0, POSIX_FADV_DONTNEED));
	PCA_EXPECT_OK(t, -posix_fadvise(m.fd, 0, 0, POSIX_FADV_DONTNEED));
	PCA_EXPECT_OK(t, pca_write_file("/proc/sys/vm/drop_caches", "3"));
	r.mem = mmap(NULL, r.pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		     r.fd, 0);
	PCA_ASSERT(t, r.mem != MAP_FAILED, "mmap: %s", strerror(errno));
	PCA_EXPECT_EQ(t, present(t, r.id), r.pages);
	PCA_EXPECT_EQ(t, present(t, m.id), m.pages);
	PCA_EXPECT_EQ(t, check_pattern(t, &r), 0);

	/* and mapped: every advice that reclaims or forgets */
	for (i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		int ret = madvise(r.mem, r.pages * PAGE, advice[i]);

		pca_t_diag(t, "madvise %d: %s", advice[i],
			   ret ? strerror(errno) : "ok");
		madvise(m.mem, m.pages * PAGE, advice[i]);
	}
	PCA_EXPECT_OK(t, pca_write_file("/proc/sys/vm/drop_caches", "3"));
	PCA_EXPECT_EQ(t, present(t, r.id), r.pages);
	PCA_EXPECT_EQ(t, present(t, m.id), m.pages);
	PCA_EXPECT_EQ(t, check_pattern(t, &r), 0);
	/* no agent is attached: a lost page would be SIGBUS here */
	for (i = 0; i < m.pages; i++)
		PCA_EXPECT_EQ(t, m.mem[i * PAGE + 100], (uint8_t)(i + 1));
	region_free(&m);
	region_free(&r);
}

/* PTE-present bits of [@addr, @addr + @pages pages) from pagemap. */
static size_t mapped_pages(struct pca_test_ctx *t, void *addr, size_t pages)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e;
	size_t i, n = 0;

	PCA_ASSERT(t, fd >= 0, "pagemap: %s", strerror(errno));
	for (i = 0; i < pages; i++) {
		off_t at = ((uintptr_t)addr / PAGE + i) * sizeof(e);

		if (pread(fd, &e, sizeof(e), at) == sizeof(e) && (e >> 63))
			n++;
	}
	close(fd);
	return n;
}

/*
 * Pages placed before the guest reads them are mapped around the one it
 * touches (fault-around, 64 KiB by default): one fault maps several.
 */
static void test_fault_around(struct pca_test_ctx *t)
{
	const size_t pages = 64;
	volatile uint8_t v;
	struct region r;
	uint8_t *at;
	uint8_t page[PAGE];
	size_t i, n;

	region_new(t, &r, pages, PCA_REGION_MISSING);
	for (i = 0; i < pages; i++) {
		memset(page, (int)i, sizeof(page));
		PCA_ASSERT_OK(t, pca_fd_copy(r.fd, i * PAGE, page, PAGE, 0,
					     NULL));
	}
	/*
	 * Fault-around stays within one page table and the VMA: map the
	 * region at a 2 MiB boundary, so the window of the first page is
	 * whole wherever mmap() would have put it.
	 */
	munmap(r.mem, pages * PAGE);
	r.mem = mmap(NULL, 2 * PMD_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		     -1, 0);
	PCA_ASSERT(t, r.mem != MAP_FAILED, "mmap: %s", strerror(errno));
	at = (uint8_t *)(((uintptr_t)r.mem + PMD_BYTES - 1) &
			 ~(uintptr_t)(PMD_BYTES - 1));
	munmap(r.mem, 2 * PMD_BYTES);
	r.mem = mmap(at, pages * PAGE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_FIXED_NOREPLACE, r.fd, 0);
	PCA_ASSERT(t, r.mem == at, "mmap at %p: %s", (void *)at,
		   strerror(errno));
	PCA_EXPECT_EQ(t, mapped_pages(t, r.mem, pages), 0);
	v = r.mem[0];
	(void)v;
	n = mapped_pages(t, r.mem, pages);
	pca_t_diag(t, "one read fault mapped %zu of %zu placed pages", n,
		   pages);
	PCA_EXPECT(t, n >= 8, "only %zu pages mapped by one fault", n);
	/* what it mapped is the data placed, and writes still work */
	for (i = 0; i < n; i++)
		PCA_EXPECT_EQ(t, r.mem[i * PAGE + 9], (uint8_t)i);
	r.mem[PAGE] = 0xaa;
	PCA_EXPECT_EQ(t, r.mem[PAGE], 0xaa);
	region_free(&r);
}

/*
 * fallocate(PUNCH_HOLE | KEEP_SIZE) and MADV_REMOVE are DISCARD: in a
 * present-mode region the range reads zero again, in a missing-mode
 * region it is missing again.  Other modes and partial pages are refused.
 */
static void test_punch_hole(struct pca_test_ctx *t)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	struct region r, m;
	uint8_t page[PAGE];
	size_t i;

	region_new(t, &r, 16, 0);
	fill_pattern(&r);
	PCA_ASSERT_OK(t, fallocate(r.fd, punch, 2 * PAGE, 3 * PAGE) ?
			 -errno : 0);
	PCA_EXPECT_OK(t, madvise(r.mem + 8 * PAGE, 2 * PAGE, MADV_REMOVE) ?
			 -errno : 0);
	PCA_EXPECT_EQ(t, present(t, r.id), 16 - 5);
	for (i = 0; i < 16; i++) {
		int gone = (i >= 2 && i < 5) || i == 8 || i == 9;

		PCA_EXPECT_EQ(t, r.mem[i * PAGE + 512],
			      gone ? 0 : pattern(i, 512));
	}

	PCA_EXPECT_ERR(t, fallocate(r.fd, 0, 0, PAGE) ? -errno : 0,
		       EOPNOTSUPP);
	PCA_EXPECT_ERR(t, fallocate(r.fd, FALLOC_FL_ZERO_RANGE, 0, PAGE) ?
		       -errno : 0, EOPNOTSUPP);
	PCA_EXPECT_ERR(t, fallocate(r.fd, punch, 100, PAGE) ? -errno : 0,
		       EINVAL);
	PCA_EXPECT_ERR(t, fallocate(r.fd, punch, 0, 100) ? -errno : 0,
		       EINVAL);
	PCA_EXPECT_ERR(t, fallocate(r.fd, punch, 15 * PAGE, 2 * PAGE) ?
		       -errno : 0, EINVAL);
	/* nothing refused was done (the reads above placed zero pages) */
	PCA_EXPECT_EQ(t, present(t, r.id), 16);
	PCA_EXPECT_EQ(t, r.mem[512], pattern(0, 512));
	PCA_EXPECT_EQ(t, r.mem[15 * PAGE + 512], pattern(15, 512));

	region_new(t, &m, 4, PCA_REGION_MISSING);
	memset(page, 0x5c, sizeof(page));
	PCA_ASSERT_OK(t, pca_fd_copy(m.fd, 0, page, PAGE, 0, NULL));
	PCA_ASSERT_OK(t, pca_fd_copy(m.fd, PAGE, page, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, m.mem[PAGE], 0x5c);
	PCA_EXPECT_OK(t, fallocate(m.fd, punch, PAGE, PAGE) ? -errno : 0);
	PCA_EXPECT_EQ(t, present(t, m.id), 1);
	/* missing again: placing it works, and is seen through the map */
	memset(page, 0x6d, sizeof(page));
	PCA_EXPECT_OK(t, pca_fd_copy(m.fd, PAGE, page, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, m.mem[PAGE], 0x6d);
	region_free(&m);
	region_free(&r);
}

/* A region is a regular file of a fixed size. */
static void test_fixed_size_file(struct pca_test_ctx *t)
{
	struct region r;
	struct stat st;

	region_new(t, &r, 8, 0);
	PCA_ASSERT_OK(t, fstat(r.fd, &st) ? -errno : 0);
	PCA_EXPECT(t, S_ISREG(st.st_mode), "mode %#o", st.st_mode);
	PCA_EXPECT_EQ(t, st.st_size, 8 * PAGE);
	fill_pattern(&r);
	/* a VMM sizing its file to what it is: fine */
	PCA_EXPECT_OK(t, ftruncate(r.fd, 8 * PAGE) ? -errno : 0);
	PCA_EXPECT_ERR(t, ftruncate(r.fd, 4 * PAGE) ? -errno : 0, EPERM);
	PCA_EXPECT_ERR(t, ftruncate(r.fd, 16 * PAGE) ? -errno : 0, EPERM);
	PCA_EXPECT_ERR(t, ftruncate(r.fd, 0) ? -errno : 0, EPERM);
	PCA_ASSERT_OK(t, fstat(r.fd, &st) ? -errno : 0);
	PCA_EXPECT_EQ(t, st.st_size, 8 * PAGE);
	PCA_EXPECT_EQ(t, present(t, r.id), 8);
	PCA_EXPECT_EQ(t, check_pattern(t, &r), 0);
	region_free(&r);
}

static const struct pca_test tests[] = {
	PCA_TEST("never_dropped", test_never_dropped, PCA_FEATURE_FD_RESOLVE),
	PCA_TEST("fault_around", test_fault_around, PCA_FEATURE_FD_RESOLVE),
	PCA_TEST("punch_hole", test_punch_hole, PCA_FEATURE_FD_RESOLVE),
	PCA_TEST("fixed_size_file", test_fixed_size_file, 0),
};

PCA_TEST_MAIN(tests)
