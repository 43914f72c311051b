// SPDX-License-Identifier: GPL-2.0
/*
 * memory_test: how a region's memory lives in the kernel's page cache.
 *
 * Guest memory must never be lost behind the VMM's back: not to the page
 * cache being dropped, not to fadvise or madvise, not to reclaim.  Pages
 * placed ahead of the guest are mapped by fault-around, several to a
 * fault.  A VMM discards guest memory the way it does on any file
 * (fallocate PUNCH_HOLE, MADV_REMOVE), and cannot resize it.
 *
 * Huge regions (PCA_REGION_HUGE) keep 2 MiB folios: a fault maps one with
 * a PMD (smaps' FilePmdMapped), every range is in whole units, a fault
 * record names its unit, DISCARD drops units, and the dirty log logs
 * units and keeps the PMD mappings across its rounds.
 *
 * PCA_IOC_RECV reads units from a stream socket (AF_UNIX, loopback TCP,
 * kernel TLS) straight into the region: pages land whole at their
 * offsets and wake faults; a present unit keeps its contents and the
 * stream stays aligned; a peer that ends the stream inside a unit leaves
 * nothing partial; SO_RCVTIMEO ends only the wait for a unit to begin,
 * with the stream still in sync; a signal ends the wait.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "pca_region_util.h"
#include "pca_stream_util.h"

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

/* Read @len bytes of @fd into registered buffer 0 at @buf: no page fault. */
static int read_fixed(struct io_uring *ring, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	io_uring_prep_read_fixed(sqe, fd, buf, len, 0, 0);
	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/*
 * Long-term write pins (io_uring fixed buffers here; VFIO and RDMA pin the
 * same way): a kernel from 6.5 on refuses them on a mapping that takes
 * write faults, which a region's mappings do only while the dirty log
 * runs.  Pages pinned before the log started are in every report (the
 * pinner writes them without a fault), and a write through the pin lands.
 * 6.1's io_uring refuses file-backed buffers itself (EOPNOTSUPP).
 */
static void test_longterm_pin(struct pca_test_ctx *t)
{
	const size_t pages = 16;
	uint64_t bitmap[1], dirty;
	struct io_uring ring, ring2;
	struct iovec iov;
	struct region r;
	uint8_t data[PAGE];
	int fd, ret, round;

	region_new(t, &r, pages, 0);
	fill_pattern(&r);
	PCA_ASSERT_OK(t, io_uring_queue_init(4, &ring, 0));
	iov = (struct iovec){ .iov_base = r.mem, .iov_len = pages * PAGE };
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret == -EOPNOTSUPP) {
		pca_t_diag(t, "io_uring refuses file-backed buffers here");
		PCA_EXPECT_OK(t, pca_dirty_track(t->c, r.id, 1));
		PCA_EXPECT_ERR(t, io_uring_register_buffers(&ring, &iov, 1),
			       EOPNOTSUPP);
		goto out;
	}
	PCA_ASSERT_OK(t, ret);

	/* a source file for writes through the pin */
	fd = open("/tmp/longterm_pin", O_RDWR | O_CREAT | O_TRUNC, 0600);
	PCA_ASSERT(t, fd >= 0, "open: %s", strerror(errno));
	memset(data, 0xe7, sizeof(data));
	PCA_ASSERT_EQ(t, pwrite(fd, data, PAGE, 0), PAGE);

	PCA_ASSERT_OK(t, pca_dirty_track(t->c, r.id, 1));
	/* the log takes write faults now: no new long-term pin */
	PCA_ASSERT_OK(t, io_uring_queue_init(4, &ring2, 0));
	PCA_EXPECT_ERR(t, io_uring_register_buffers(&ring2, &iov, 1), EFAULT);
	io_uring_queue_exit(&ring2);
	for (round = 0; round < 2; round++) {
		PCA_ASSERT_OK(t, pca_fd_dirty_log(r.fd, 0, pages * PAGE,
						  PCA_DIRTY_CLEAR, bitmap,
						  sizeof(bitmap), &dirty));
		PCA_EXPECT_EQ(t, dirty, pages);
	}
	PCA_EXPECT_EQ(t, read_fixed(&ring, fd, r.mem + 5 * PAGE, PAGE), PAGE);
	PCA_EXPECT_EQ(t, r.mem[5 * PAGE + 100], 0xe7);
	PCA_ASSERT_OK(t, pca_fd_dirty_log(r.fd, 0, pages * PAGE,
					  PCA_DIRTY_CLEAR, bitmap,
					  sizeof(bitmap), &dirty));
	PCA_EXPECT_EQ(t, bitmap[0] & (1ULL << 5), 1ULL << 5);

	/* unpinned: reported once more at most, then only when written */
	PCA_ASSERT_OK(t, io_uring_unregister_buffers(&ring));
	PCA_ASSERT_OK(t, pca_fd_dirty_log(r.fd, 0, pages * PAGE,
					  PCA_DIRTY_CLEAR, bitmap,
					  sizeof(bitmap), &dirty));
	r.mem[2 * PAGE] = 1;
	PCA_ASSERT_OK(t, pca_fd_dirty_log(r.fd, 0, pages * PAGE,
					  PCA_DIRTY_CLEAR, bitmap,
					  sizeof(bitmap), &dirty));
	PCA_EXPECT_EQ(t, dirty, 1);
	PCA_EXPECT_EQ(t, bitmap[0], 1ULL << 2);

	/* the log stopped: pins are allowed again */
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, r.id, 0));
	PCA_EXPECT_OK(t, io_uring_register_buffers(&ring, &iov, 1));
	PCA_EXPECT_EQ(t, read_fixed(&ring, fd, r.mem + 9 * PAGE, PAGE), PAGE);
	PCA_EXPECT_EQ(t, r.mem[9 * PAGE + 7], 0xe7);
	io_uring_unregister_buffers(&ring);
	close(fd);
	unlink("/tmp/longterm_pin");
out:
	io_uring_queue_exit(&ring);
	region_free(&r);
}

/* ---- 2 MiB units ---- */

#define UNIT		PMD_BYTES
#define UNIT_PAGES	(UNIT / PAGE)

static void huge_new(struct pca_test_ctx *t, struct region *r, size_t units,
		     uint64_t flags)
{
	region_new(t, r, units * UNIT_PAGES, flags | PCA_REGION_HUGE);
	/* the region file aligns the mapping for PMDs */
	PCA_ASSERT(t, !((uintptr_t)r->mem % UNIT), "mapping at %p",
		   (void *)r->mem);
}

/* smaps' FilePmdMapped of the mapping at @addr, in bytes; -1 if absent. */
static long pmd_mapped(struct pca_test_ctx *t, void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long start, end;
	long kb = -1;
	int ours = 0;

	PCA_ASSERT(t, f, "smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			ours = start == (uintptr_t)addr;
			continue;
		}
		if (ours && sscanf(line, "FilePmdMapped: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static uint8_t unit_byte(size_t unit, size_t at)
{
	return (uint8_t)(unit * 13 + at / PAGE + 3);
}

static void fill_unit(uint8_t *buf, size_t unit)
{
	size_t at;

	for (at = 0; at < UNIT; at += PAGE)
		memset(buf + at, unit_byte(unit, at), PAGE);
}

/* Pages of unit @unit that do not hold fill_unit()'s bytes. */
static size_t check_unit(struct pca_test_ctx *t, const uint8_t *mem,
			 size_t unit)
{
	size_t at, bad = 0;

	for (at = 0; at < UNIT; at += PAGE)
		if (mem[unit * UNIT + at] != unit_byte(unit, at) ||
		    mem[unit * UNIT + at + PAGE - 1] != unit_byte(unit, at)) {
			if (!bad)
				pca_t_diag(t, "unit %zu page %zu: %#x", unit,
					   at / PAGE, mem[unit * UNIT + at]);
			bad++;
		}
	return bad;
}

/* The unit is announced everywhere, and sizes must be whole units. */
static void test_huge_create(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct region r;
	struct stat st;
	uint32_t id;

	PCA_EXPECT(t, t->api.features & PCA_FEATURE_HUGE,
		   "features %#llx", (unsigned long long)t->api.features);
	PCA_EXPECT_ERR(t, pca_region_create(UNIT / 2, PCA_REGION_HUGE, &id),
		       EINVAL);
	PCA_EXPECT_ERR(t, pca_region_create(UNIT + PAGE, PCA_REGION_HUGE,
					    &id), EINVAL);
	huge_new(t, &r, 2, 0);
	PCA_ASSERT_OK(t, fstat(r.fd, &st) ? -errno : 0);
	PCA_EXPECT_EQ(t, st.st_blksize, UNIT);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.unit, UNIT);
	PCA_EXPECT_EQ(t, info.flags, PCA_REGION_HUGE);
	region_free(&r);
	region_new(t, &r, 1, 0);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.unit, PAGE);
	region_free(&r);
}

/* Touching a present-mode huge region maps each unit with one PMD. */
static void test_huge_pmd_mapped(struct pca_test_ctx *t)
{
	const size_t units = 4;
	struct region r;
	size_t u;
	long pmd;

	huge_new(t, &r, units, 0);
	PCA_EXPECT_EQ(t, pmd_mapped(t, r.mem), 0);
	for (u = 0; u < units; u++)
		fill_unit(r.mem + u * UNIT, u);
	pmd = pmd_mapped(t, r.mem);
	pca_t_diag(t, "FilePmdMapped %ld kB after writing %zu units",
		   pmd / 1024, units);
	PCA_EXPECT_EQ(t, pmd, (long)(units * UNIT));
	PCA_EXPECT_EQ(t, present(t, r.id), units * UNIT_PAGES);
	for (u = 0; u < units; u++)
		PCA_EXPECT_EQ(t, check_unit(t, r.mem, u), 0);
	/* another mapping of the same units maps them with PMDs too */
	munmap(r.mem, units * UNIT);
	r.mem = mmap(NULL, units * UNIT, PROT_READ, MAP_SHARED, r.fd, 0);
	PCA_ASSERT(t, r.mem != MAP_FAILED, "mmap: %s", strerror(errno));
	for (u = 0; u < units; u++)
		PCA_EXPECT_EQ(t, check_unit(t, r.mem, u), 0);
	PCA_EXPECT_EQ(t, pmd_mapped(t, r.mem), (long)(units * UNIT));
	region_free(&r);
}

struct huge_toucher {
	pthread_t th;
	volatile uint8_t *addr;
	uint8_t seen;
	atomic_int done;
};

static void *huge_touch_fn(void *arg)
{
	struct huge_toucher *k = arg;

	k->seen = *k->addr;
	atomic_store(&k->done, 1);
	return NULL;
}

/*
 * A fault anywhere in a missing unit is one record for the whole unit,
 * shared by every thread waiting in it; placing the unit wakes them all
 * and maps it with a PMD.
 */
static void test_huge_fault_unit(struct pca_test_ctx *t)
{
	struct huge_toucher k[2] = {};
	struct pca_fault_record rec;
	struct pca_region_info info;
	struct region r;
	uint8_t *buf;
	int i, n;

	huge_new(t, &r, 3, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_WAIT, NULL));
	k[0].addr = r.mem + UNIT + 5 * PAGE + 17;
	k[1].addr = r.mem + 2 * UNIT - 1;
	for (i = 0; i < 2; i++)
		PCA_ASSERT_EQ(t, pthread_create(&k[i].th, NULL, huge_touch_fn,
						&k[i]), 0);
	n = pca_recv_faults(t->c, &rec, 1, WAIT_MS);
	PCA_ASSERT(t, n == 1, "expected a fault record, got %d", n);
	PCA_EXPECT_EQ(t, rec.offset, UNIT);
	PCA_EXPECT_EQ(t, rec.length, UNIT);
	for (i = 0; i < 3; i++)
		PCA_EXPECT(t, !rec.reserved[i], "reserved[%d] %#llx", i,
			   (unsigned long long)rec.reserved[i]);
	/* the second thread joins the first's wait: no second record */
	usleep(300 * 1000);
	n = pca_recv_faults(t->c, &rec, 1, 300);
	PCA_EXPECT(t, n == 0, "second record (%d) at %llu", n,
		   n > 0 ? (unsigned long long)rec.offset : 0ULL);
	PCA_EXPECT(t, !atomic_load(&k[0].done) && !atomic_load(&k[1].done),
		   "a thread got through a missing unit");

	/* half a unit, or a page of it, is not a unit */
	buf = malloc(UNIT);
	PCA_ASSERT(t, buf, "malloc");
	fill_unit(buf, 1);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, UNIT, buf, PAGE, 0, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, UNIT + PAGE, buf, UNIT, 0, NULL),
		       EINVAL);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, UNIT, buf, UNIT, 0, NULL));
	for (i = 0; i < 2; i++) {
		PCA_EXPECT_EQ(t, pthread_join(k[i].th, NULL), 0);
		PCA_EXPECT(t, atomic_load(&k[i].done), "thread %d", i);
	}
	PCA_EXPECT_EQ(t, k[0].seen, unit_byte(1, 5 * PAGE));
	PCA_EXPECT_EQ(t, k[1].seen, unit_byte(1, UNIT - PAGE));
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 1), 0);
	PCA_EXPECT_EQ(t, pmd_mapped(t, r.mem), (long)UNIT);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, UNIT_PAGES);
	PCA_EXPECT_EQ(t, info.stats.faults, 1);
	PCA_EXPECT_EQ(t, info.stats.pages_copied, UNIT_PAGES);
	free(buf);
	region_free(&r);
}

static int range_ioctl(int fd, unsigned long cmd, uint64_t offset,
		       uint64_t len, int64_t *done)
{
	struct pca_range rg = { .offset = offset, .len = len };
	int ret = ioctl(fd, cmd, &rg) ? -errno : 0;

	if (done)
		*done = rg.done;
	return ret;
}

/*
 * Every range on a huge region is whole units, on every path; netlink
 * COPY, which carries a page an attribute, is refused with a reason.
 */
static void test_huge_units_only(struct pca_test_ctx *t)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	static const unsigned long cmds[] = { PCA_IOC_ZERO, PCA_IOC_WAKE,
					      PCA_IOC_DISCARD,
					      PCA_IOC_DIRTY_CLEAR };
	struct pca_copy_entry ents[2];
	uint64_t copied, existed;
	uint8_t page[PAGE] = {};
	struct region r;
	uint8_t *buf;
	size_t i;

	huge_new(t, &r, 4, PCA_REGION_MISSING);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		PCA_EXPECT_ERR(t, range_ioctl(r.fd, cmds[i], 0, PAGE, NULL),
			       EINVAL);
		PCA_EXPECT_ERR(t, range_ioctl(r.fd, cmds[i], PAGE, UNIT, NULL),
			       EINVAL);
	}
	PCA_EXPECT_ERR(t, fallocate(r.fd, punch, 0, PAGE) ? -errno : 0,
		       EINVAL);
	PCA_EXPECT_REFUSED(t, pca_copy(t->c, r.id, 0, page, 0, NULL),
			   EOPNOTSUPP,
			   "huge region");
	PCA_EXPECT_REFUSED(t, pca_zero(t->c, r.id, 0, PAGE, 0, NULL), EINVAL,
			   "length is not a multiple of the region's unit");
	PCA_EXPECT_REFUSED(t, pca_wake(t->c, r.id, PAGE, UNIT), EINVAL,
			   "offset is not aligned to the region's unit");
	PCA_EXPECT_EQ(t, present(t, r.id), 0);

	/* a batch places a unit an entry, and counts entries */
	buf = malloc(2 * UNIT);
	PCA_ASSERT(t, buf, "malloc");
	fill_unit(buf, 0);
	fill_unit(buf + UNIT, 3);
	ents[0] = (struct pca_copy_entry){ .offset = 0,
					   .src = (uintptr_t)buf };
	ents[1] = (struct pca_copy_entry){ .offset = 3 * UNIT,
					   .src = (uintptr_t)(buf + UNIT) };
	PCA_EXPECT_OK(t, pca_fd_copy_batch(r.fd, ents, 2, 0, &copied,
					   &existed));
	PCA_EXPECT_EQ(t, copied, 2);
	PCA_EXPECT_EQ(t, existed, 0);
	ents[0].offset = PAGE;
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(r.fd, ents, 2, 0, &copied,
					    &existed), EINVAL);
	PCA_EXPECT_EQ(t, present(t, r.id), 2 * UNIT_PAGES);
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 0), 0);
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 3), 0);
	free(buf);
	region_free(&r);
}

/* DISCARD, PUNCH_HOLE and MADV_REMOVE drop whole units, nothing else. */
static void test_huge_discard(struct pca_test_ctx *t)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	struct region r, z;
	int64_t done = 0;
	uint8_t *buf;
	size_t u;

	huge_new(t, &r, 4, PCA_REGION_MISSING);
	buf = malloc(UNIT);
	PCA_ASSERT(t, buf, "malloc");
	for (u = 0; u < 4; u++) {
		fill_unit(buf, u);
		PCA_ASSERT_OK(t, pca_fd_copy(r.fd, u * UNIT, buf, UNIT, 0,
					     NULL));
		PCA_EXPECT_EQ(t, check_unit(t, r.mem, u), 0);
	}
	PCA_EXPECT_EQ(t, pmd_mapped(t, r.mem), (long)(4 * UNIT));
	PCA_EXPECT_OK(t, range_ioctl(r.fd, PCA_IOC_DISCARD, UNIT, UNIT,
				     &done));
	PCA_EXPECT_EQ(t, done, UNIT);
	PCA_EXPECT_OK(t, fallocate(r.fd, punch, 2 * UNIT, UNIT) ? -errno : 0);
	PCA_EXPECT_EQ(t, present(t, r.id), 2 * UNIT_PAGES);
	PCA_EXPECT_EQ(t, pmd_mapped(t, r.mem), (long)(2 * UNIT));
	/* missing again: placing new data is seen through the mapping */
	fill_unit(buf, 9);
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, UNIT, buf, UNIT, 0, NULL));
	PCA_EXPECT_EQ(t, r.mem[UNIT + 7 * PAGE], unit_byte(9, 7 * PAGE));
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 0), 0);
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 3), 0);
	region_free(&r);

	/* present mode: a removed unit reads zero again */
	huge_new(t, &z, 2, 0);
	memset(z.mem, 0x77, 2 * UNIT);
	PCA_EXPECT_OK(t, madvise(z.mem + UNIT, UNIT, MADV_REMOVE) ? -errno : 0);
	PCA_EXPECT_ERR(t, madvise(z.mem, PAGE, MADV_REMOVE) ? -errno : 0,
		       EINVAL);
	PCA_EXPECT_EQ(t, present(t, z.id), UNIT_PAGES);
	PCA_EXPECT_EQ(t, z.mem[UNIT + 12345], 0);
	PCA_EXPECT_EQ(t, z.mem[12345], 0x77);
	free(buf);
	region_free(&z);
}

/*
 * The dirty log of a huge region logs units: a byte written sets the
 * bits of its whole unit, a clear re-arms the unit, and the unit stays
 * mapped by a PMD across rounds (written again after a clear).
 */
static void test_huge_dirty_units(struct pca_test_ctx *t)
{
	const size_t units = 4;
	uint64_t bitmap[units * UNIT_PAGES / 64], dirty;
	struct region r;
	size_t i, round;

	huge_new(t, &r, units, 0);
	memset(r.mem, 1, units * UNIT);
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, r.id, 1));
	for (round = 0; round < 3; round++) {
		r.mem[2 * UNIT + 3 * PAGE + round] = (uint8_t)round;
		r.mem[2 * UNIT + 300 * PAGE] = (uint8_t)round;
		if (round == 2)
			r.mem[0] = 9;
		PCA_ASSERT_OK(t, pca_fd_dirty_log(r.fd, 0, units * UNIT,
						  PCA_DIRTY_CLEAR, bitmap,
						  sizeof(bitmap), &dirty));
		PCA_EXPECT_EQ(t, dirty, (round == 2 ? 2 : 1) * UNIT_PAGES);
		for (i = 0; i < units * UNIT_PAGES / 64; i++) {
			int want = i / (UNIT_PAGES / 64) == 2 ||
				   (round == 2 && i < UNIT_PAGES / 64);

			PCA_EXPECT(t, bitmap[i] == (want ? ~0ULL : 0),
				   "round %zu word %zu: %#llx", round, i,
				   (unsigned long long)bitmap[i]);
		}
		/* nothing written since: an empty log */
		PCA_ASSERT_OK(t, pca_fd_dirty_log(r.fd, 0, units * UNIT,
						  PCA_DIRTY_COUNT_ONLY, NULL, 0,
						  &dirty));
		PCA_EXPECT_EQ(t, dirty, 0);
	}
	/* written after a clear: mapped with PMDs still (or again) */
	r.mem[2 * UNIT + 5] = 5;
	pca_t_diag(t, "FilePmdMapped %ld kB after three rounds",
		   pmd_mapped(t, r.mem) / 1024);
	PCA_EXPECT_EQ(t, pmd_mapped(t, r.mem), (long)(units * UNIT));
	PCA_EXPECT_ERR(t, pca_fd_dirty_log(r.fd, PAGE, UNIT, 0, bitmap,
					   sizeof(bitmap), &dirty), EINVAL);
	region_free(&r);
}

/* -------------------------------------------------------------------------
 * PCA_IOC_RECV: units read from a stream socket straight into the region
 */

#define RECV_PAGES	64

enum recv_chan { CHAN_UNIX, CHAN_TCP, CHAN_KTLS };
static const char *const chan_name[] = { "unix", "tcp", "ktls" };

/* Byte @i of the page that goes to page @pg, written the @tag'th time. */
static uint8_t recv_byte(size_t pg, size_t i, unsigned int tag)
{
	return (uint8_t)(pg * 13 + i * 5 + tag * 101 + 3);
}

static void recv_fill(uint8_t *p, size_t pg, unsigned int tag)
{
	size_t i;

	for (i = 0; i < PAGE; i++)
		p[i] = recv_byte(pg, i, tag);
}

/* Bytes of page @pg of @mem that recv_fill(@tag) did not write. */
static size_t recv_check(struct pca_test_ctx *t, const uint8_t *mem,
			 size_t pg, unsigned int tag)
{
	size_t i, bad = 0;

	for (i = 0; i < PAGE; i++)
		if (mem[pg * PAGE + i] != recv_byte(pg, i, tag)) {
			if (!bad)
				pca_t_diag(t, "page %zu byte %zu: %#x, not %#x",
					   pg, i, mem[pg * PAGE + i],
					   recv_byte(pg, i, tag));
			bad++;
		}
	return bad;
}

static void recv_send_start(struct pca_test_ctx *t,
			    struct pca_stream_sender *s, int fd,
			    const uint8_t *buf, size_t len, bool eof)
{
	PCA_ASSERT_EQ(t, pca_stream_send_start(s, fd, buf, len, eof), 0);
}

static void recv_send_end(struct pca_test_ctx *t, struct pca_stream_sender *s)
{
	int err = pca_stream_send_join(s);

	PCA_EXPECT(t, !err, "send: %s", strerror(err));
}

/*
 * fds[0] receives, fds[1] sends; kernel TLS keyed by hand with @ktls,
 * skipped where the kernel has no TLS.
 */
static void stream_pair(struct pca_test_ctx *t, int fds[2], bool ktls)
{
	const char *why;
	int ret = pca_stream_pair(fds, ktls, &why);

	if (ret && why == pca_stream_why_ulp)
		PCA_SKIP(t, "no kernel TLS (TCP_ULP tls: %s)", strerror(-ret));
	PCA_ASSERT(t, !ret, "%s: %s", why, strerror(-ret));
}

static void chan_open(struct pca_test_ctx *t, enum recv_chan c, int fds[2])
{
	if (c == CHAN_UNIX)
		PCA_ASSERT(t, !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					  0, fds),
			   "socketpair: %s", strerror(errno));
	else
		stream_pair(t, fds, c == CHAN_KTLS);
}

static void chan_close(int fds[2])
{
	close(fds[0]);
	close(fds[1]);
}

struct recv_toucher {
	pthread_t th;
	volatile uint8_t *addr;
	uint8_t seen;
	atomic_int done;
};

static void *recv_touch_fn(void *arg)
{
	struct recv_toucher *k = arg;

	k->seen = *k->addr;
	atomic_store(&k->done, 1);
	return NULL;
}

/*
 * Units received over @c land at their offsets, in any order, over two
 * calls (the stream stays aligned between them), with the payload's bytes;
 * a thread waiting in a fault on one of them wakes and reads it.
 */
static void recv_pages(struct pca_test_ctx *t, enum recv_chan c)
{
	const size_t first = 20, touched = 5;
	uint64_t offs[RECV_PAGES], got = ~0ULL;
	struct pca_region_info info;
	struct recv_toucher k = {};
	struct pca_fault_record rec;
	struct pca_stream_sender s;
	struct region r;
	uint8_t *buf;
	int fds[2], n;
	size_t i;

	chan_open(t, c, fds);
	pca_t_diag(t, "over %s", chan_name[c]);
	buf = malloc(RECV_PAGES * PAGE);
	PCA_ASSERT(t, buf, "malloc");
	/* 7 is prime to 64: every page once, none in order */
	for (i = 0; i < RECV_PAGES; i++) {
		offs[i] = (i * 7 % RECV_PAGES) * PAGE;
		recv_fill(buf + i * PAGE, offs[i] / PAGE, 1);
	}
	region_new(t, &r, RECV_PAGES, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_WAIT, NULL));
	k.addr = r.mem + touched * PAGE + 7;
	PCA_ASSERT_EQ(t, pthread_create(&k.th, NULL, recv_touch_fn, &k), 0);
	n = pca_recv_faults(t->c, &rec, 1, pca_scaled_ms(WAIT_MS));
	PCA_ASSERT(t, n == 1, "expected a fault record, got %d", n);
	PCA_EXPECT_EQ(t, rec.offset, touched * PAGE);

	recv_send_start(t, &s, fds[1], buf, RECV_PAGES * PAGE, 0);
	PCA_EXPECT_OK(t, pca_fd_recv(r.fd, fds[0], offs, first, 0, &got));
	PCA_EXPECT_EQ(t, got, first);
	PCA_EXPECT_OK(t, pca_fd_recv(r.fd, fds[0], offs + first,
				     RECV_PAGES - first, 0, &got));
	PCA_EXPECT_EQ(t, got, RECV_PAGES - first);
	recv_send_end(t, &s);

	PCA_EXPECT_EQ(t, pthread_join(k.th, NULL), 0);
	PCA_EXPECT(t, atomic_load(&k.done), "the faulting thread is stuck");
	PCA_EXPECT_EQ(t, k.seen, recv_byte(touched, 7, 1));
	for (i = 0; i < RECV_PAGES; i++)
		PCA_EXPECT_EQ(t, recv_check(t, r.mem, i, 1), 0);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, RECV_PAGES);
	PCA_EXPECT_EQ(t, info.stats.pages_copied, RECV_PAGES);
	free(buf);
	region_free(&r);
	chan_close(fds);
}

static void test_recv_unix(struct pca_test_ctx *t)
{
	recv_pages(t, CHAN_UNIX);
}

static void test_recv_tcp(struct pca_test_ctx *t)
{
	recv_pages(t, CHAN_TCP);
}

static void test_recv_ktls(struct pca_test_ctx *t)
{
	recv_pages(t, CHAN_KTLS);
}

/*
 * A unit present already keeps its contents; its bytes are read and
 * dropped, so what follows in the stream still lands where it should.
 */
static void test_recv_present(struct pca_test_ctx *t)
{
	const uint64_t offs[] = { 1 * PAGE, 2 * PAGE, 3 * PAGE, 4 * PAGE };
	uint8_t page[PAGE], buf[4 * PAGE];
	struct pca_region_info info;
	struct pca_stream_sender s;
	struct region r;
	uint64_t got = 0;
	int fds[2];
	size_t i;

	chan_open(t, CHAN_TCP, fds);
	region_new(t, &r, 8, PCA_REGION_MISSING);
	recv_fill(page, 2, 2);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 2 * PAGE, page, PAGE, 0, NULL));
	for (i = 0; i < 4; i++)
		recv_fill(buf + i * PAGE, offs[i] / PAGE, 1);
	recv_send_start(t, &s, fds[1], buf, sizeof(buf), 0);
	PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], offs, 3, 0, &got),
		       EEXIST);
	PCA_EXPECT_EQ(t, got, 3);
	PCA_EXPECT_OK(t, pca_fd_recv(r.fd, fds[0], offs + 3, 1, 0, &got));
	PCA_EXPECT_EQ(t, got, 1);
	recv_send_end(t, &s);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 1, 1), 0);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 2, 2), 0);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 3, 1), 0);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 4, 1), 0);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 4);
	PCA_EXPECT_EQ(t, info.stats.pages_copied, 4);
	region_free(&r);
	chan_close(fds);
}

/*
 * PCA_RESOLVE_OVERWRITE from a socket: a present unit gets the bytes
 * received, a missing one is placed; once the precopy is sealed the call
 * is refused before it reads anything.
 */
static void test_recv_overwrite(struct pca_test_ctx *t)
{
	const uint64_t offs[] = { 1 * PAGE, 2 * PAGE };
	uint8_t page[PAGE], buf[2 * PAGE];
	uint64_t got = 0, bits = 0, n;
	struct pca_stream_sender s;
	struct region r;
	int fds[2];

	chan_open(t, CHAN_TCP, fds);
	region_new(t, &r, 8, PCA_REGION_MISSING);
	recv_fill(page, 2, 2);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 2 * PAGE, page, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 2, 2), 0);
	recv_fill(buf, 1, 3);
	recv_fill(buf + PAGE, 2, 3);
	recv_send_start(t, &s, fds[1], buf, sizeof(buf), 0);
	PCA_EXPECT_OK(t, pca_fd_recv(r.fd, fds[0], offs, 2,
				     PCA_RESOLVE_OVERWRITE, &got));
	PCA_EXPECT_EQ(t, got, 2);
	recv_send_end(t, &s);
	/* the mapping that saw the old bytes sees the new ones */
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 1, 3), 0);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 2, 3), 0);

	/* sealed: refused, nothing read, the next plain call finds it all */
	PCA_ASSERT_OK(t, pca_fd_discard_bitmap(r.fd, 0, 8 * PAGE, &bits,
					       sizeof(bits), PCA_DISCARD_SEAL,
					       &n));
	recv_fill(buf, 1, 4);
	recv_fill(buf + PAGE, 2, 4);
	recv_send_start(t, &s, fds[1], buf, sizeof(buf), 0);
	PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], offs, 2,
				      PCA_RESOLVE_OVERWRITE, &got), EPERM);
	PCA_EXPECT_EQ(t, got, 0);
	PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], offs, 2, 0, &got),
		       EEXIST);
	PCA_EXPECT_EQ(t, got, 2);
	recv_send_end(t, &s);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 1, 3), 0);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 2, 3), 0);
	region_free(&r);
	chan_close(fds);
}

/*
 * The peer ends the stream inside a unit, or right after one: the units
 * before are placed and counted, the short one is not placed at all.
 */
static void test_recv_peer_close(struct pca_test_ctx *t)
{
	const uint64_t offs[] = { 0, 1 * PAGE, 2 * PAGE };
	struct pca_region_info info;
	uint8_t buf[3 * PAGE];
	struct pca_stream_sender s;
	struct region r;
	uint64_t got;
	int fds[2], cut;
	size_t i;

	for (i = 0; i < 3; i++)
		recv_fill(buf + i * PAGE, i, 1);
	for (cut = 0; cut < 2; cut++) {
		/* a page and a half, then exactly one page */
		size_t len = cut ? PAGE : PAGE + PAGE / 2;

		chan_open(t, cut ? CHAN_UNIX : CHAN_TCP, fds);
		region_new(t, &r, 4, PCA_REGION_MISSING);
		recv_send_start(t, &s, fds[1], buf, len, 1);
		got = ~0ULL;
		PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], offs, 3, 0, &got),
			       ECONNRESET);
		PCA_EXPECT_EQ(t, got, 1);
		recv_send_end(t, &s);
		PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
		PCA_EXPECT_EQ(t, info.pages_present, 1);
		PCA_EXPECT_EQ(t, recv_check(t, r.mem, 0, 1), 0);
		/* nothing of the cut unit: a touch would fault, none mapped */
		PCA_EXPECT_EQ(t, mapped_pages(t, r.mem + PAGE, 3), 0);
		region_free(&r);
		chan_close(fds);
	}
}

/* After @ms: @len bytes of @buf sent on @fd, or @fd shut down (no @buf). */
struct recv_later {
	pthread_t th;
	int fd;
	unsigned int ms;
	const uint8_t *buf;
	size_t len;
	int err;
};

static void *recv_later_fn(void *arg)
{
	struct recv_later *l = arg;

	usleep(l->ms * 1000);
	if (!l->buf) {
		if (shutdown(l->fd, SHUT_RDWR))
			l->err = errno;
	} else if (send(l->fd, l->buf, l->len, MSG_NOSIGNAL) !=
		   (ssize_t)l->len) {
		l->err = errno ? errno : EIO;
	}
	return NULL;
}

static void recv_later(struct pca_test_ctx *t, struct recv_later *l, int fd,
		       unsigned int ms, const uint8_t *buf, size_t len)
{
	*l = (struct recv_later){ .fd = fd, .ms = ms, .buf = buf,
				  .len = len };
	PCA_ASSERT_EQ(t, pthread_create(&l->th, NULL, recv_later_fn, l), 0);
}

/*
 * SO_RCVTIMEO bounds the wait for a unit to begin: EAGAIN, nothing read,
 * and the stream goes on from there.  A unit begun is waited for past it
 * (a peer that pauses inside a unit loses nothing), until the rest comes
 * or the socket is shut down.
 */
static void recv_timeout(struct pca_test_ctx *t, enum recv_chan c)
{
	struct timeval tv = { .tv_usec = 200 * 1000 };
	const uint64_t offs[] = { 0, PAGE, 2 * PAGE };
	struct pca_region_info info;
	uint8_t buf[3 * PAGE];
	struct recv_later l;
	struct region r;
	uint64_t got = ~0ULL;
	int fds[2];

	chan_open(t, c, fds);
	PCA_ASSERT(t, !setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv,
				  sizeof(tv)), "SO_RCVTIMEO: %s",
		   strerror(errno));
	region_new(t, &r, 4, PCA_REGION_MISSING);
	recv_fill(buf, 0, 3);
	recv_fill(buf + PAGE, 1, 3);
	recv_fill(buf + 2 * PAGE, 2, 3);

	/* nothing at all: the wait for a unit to begin ends, nothing read */
	PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], offs, 2, 0, &got),
		       EAGAIN);
	PCA_EXPECT_EQ(t, got, 0);

	/* half a unit, then a pause of three receive timeouts: no error */
	PCA_ASSERT_EQ(t, send(fds[1], buf, PAGE / 2, 0), PAGE / 2);
	recv_later(t, &l, fds[1], 600, buf + PAGE / 2, PAGE + PAGE / 2);
	PCA_EXPECT_OK(t, pca_fd_recv(r.fd, fds[0], offs, 2, 0, &got));
	PCA_EXPECT_EQ(t, got, 2);
	PCA_EXPECT_EQ(t, pthread_join(l.th, NULL), 0);
	PCA_EXPECT(t, !l.err, "send: %s", strerror(l.err));
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 0, 3), 0);
	PCA_EXPECT_EQ(t, recv_check(t, r.mem, 1, 3), 0);

	/* half a unit, and the receiver's own shutdown() ends the wait */
	PCA_ASSERT_EQ(t, send(fds[1], buf + 2 * PAGE, PAGE / 2, 0), PAGE / 2);
	recv_later(t, &l, fds[0], 600, NULL, 0);
	PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], offs + 2, 1, 0, &got),
		       ECONNRESET);
	PCA_EXPECT_EQ(t, got, 0);
	PCA_EXPECT_EQ(t, pthread_join(l.th, NULL), 0);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 2);
	PCA_EXPECT_EQ(t, mapped_pages(t, r.mem + 2 * PAGE, 1), 0);
	region_free(&r);
	chan_close(fds);
}

static void test_recv_timeout(struct pca_test_ctx *t)
{
	recv_timeout(t, CHAN_TCP);
}

static void test_recv_timeout_ktls(struct pca_test_ctx *t)
{
	recv_timeout(t, CHAN_KTLS);
}

static void recv_sig(int sig)
{
	(void)sig;
}

struct recv_waiter {
	int fd, sock;
	uint64_t off;
	int ret;
	atomic_int done;
};

static void *recv_wait_fn(void *arg)
{
	struct recv_waiter *w = arg;

	w->ret = pca_fd_recv(w->fd, w->sock, &w->off, 1, 0, NULL);
	atomic_store(&w->done, 1);
	return NULL;
}

/* A signal ends a wait for data with EINTR, not a restart. */
static void test_recv_signal(struct pca_test_ctx *t)
{
	struct sigaction sa = { .sa_handler = recv_sig };
	struct recv_waiter w = {};
	uint8_t buf[PAGE / 4] = { 0 };
	struct region r;
	pthread_t th;
	int fds[2], i;

	chan_open(t, CHAN_UNIX, fds);
	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT(t, !sigaction(SIGUSR1, &sa, NULL), "sigaction");
	PCA_ASSERT_EQ(t, send(fds[1], buf, sizeof(buf), 0), sizeof(buf));
	w.fd = r.fd;
	w.sock = fds[0];
	PCA_ASSERT_EQ(t, pthread_create(&th, NULL, recv_wait_fn, &w), 0);
	/* until it is in the call: a signal before it is lost */
	for (i = 0; i < 200 && !atomic_load(&w.done); i++) {
		usleep(50 * 1000);
		pthread_kill(th, SIGUSR1);
	}
	if (!atomic_load(&w.done))
		shutdown(fds[1], SHUT_WR);	/* not to hang the test */
	PCA_EXPECT_EQ(t, pthread_join(th, NULL), 0);
	PCA_EXPECT_EQ(t, w.ret, -EINTR);
	region_free(&r);
	chan_close(fds);
}

/* A huge region's unit is 2 MiB of the stream. */
static void test_recv_huge(struct pca_test_ctx *t)
{
	const uint64_t off = UNIT;
	struct pca_stream_sender s;
	struct region r;
	uint64_t got = 0;
	uint8_t *buf;
	int fds[2];

	chan_open(t, CHAN_TCP, fds);
	huge_new(t, &r, 2, PCA_REGION_MISSING);
	buf = malloc(UNIT);
	PCA_ASSERT(t, buf, "malloc");
	fill_unit(buf, 1);
	recv_send_start(t, &s, fds[1], buf, UNIT, 0);
	PCA_EXPECT_OK(t, pca_fd_recv(r.fd, fds[0], &off, 1, 0, &got));
	PCA_EXPECT_EQ(t, got, 1);
	recv_send_end(t, &s);
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 1), 0);
	/* a page is not a unit: nothing read */
	PCA_EXPECT_ERR(t, pca_fd_recv(r.fd, fds[0], (const uint64_t[]){ PAGE },
				      1, 0, &got), EINVAL);
	free(buf);
	region_free(&r);
	chan_close(fds);
}

/* ---- precopy placement: overwrite, discard by bitmap, present log ---- */

static int discard_bitmap(int fd, uint64_t off, uint64_t len,
			  const uint64_t *bits, size_t size, uint64_t flags,
			  uint64_t *discarded)
{
	return pca_fd_discard_bitmap(fd, off, len, bits, size, flags,
				     discarded);
}

/* The present log of all of @r: the count, the bitmap in @bits. */
static uint64_t present_log(struct pca_test_ctx *t, struct region *r,
			    uint64_t *bits, size_t size)
{
	uint64_t n = ~0ULL;

	PCA_EXPECT_OK(t, pca_fd_present_log(r->fd, 0, r->pages * PAGE, bits,
					    size, &n));
	return n;
}

static double mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int bit_test(const uint64_t *bits, size_t n)
{
	return !!(bits[n / 64] & (1ULL << (n % 64)));
}

static void bit_set(uint64_t *bits, size_t n)
{
	bits[n / 64] |= 1ULL << (n % 64);
}

/* Pages of @r whose byte 100 is not @v + page number, among [@a, @b). */
static size_t check_bytes(struct pca_test_ctx *t, struct region *r,
			  size_t a, size_t b, uint8_t v)
{
	size_t i, bad = 0;

	for (i = a; i < b; i++)
		if (r->mem[i * PAGE + 100] != (uint8_t)(v + i) ||
		    r->mem[i * PAGE + PAGE - 1] != (uint8_t)(v + i)) {
			if (!bad)
				pca_t_diag(t, "page %zu: %#x, not %#x", i,
					   r->mem[i * PAGE + 100],
					   (uint8_t)(v + i));
			bad++;
		}
	return bad;
}

/*
 * PCA_RESOLVE_OVERWRITE: a present page gets the new data, seen through
 * a mapping that had the old; a missing one is placed; without the flag
 * a present page is still EEXIST.  COPY_BATCH and netlink COPY alike;
 * ZERO refuses the flag.  The source may be a mapping of the page itself.
 */
static void test_overwrite(struct pca_test_ctx *t)
{
	struct pca_copy_entry e[4];
	uint8_t buf[4 * PAGE];
	uint64_t copied, existed;
	int64_t done;
	struct region r;
	size_t i;

	region_new(t, &r, 8, PCA_REGION_MISSING);
	memset(buf, 0x11, PAGE);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, buf, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, r.mem[100], 0x11);	/* mapped now */

	memset(buf, 0x22, PAGE);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, PAGE, 0, &done), EEXIST);
	PCA_EXPECT_EQ(t, done, 0);
	PCA_EXPECT_EQ(t, r.mem[100], 0x11);
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, buf, PAGE,
				     PCA_RESOLVE_OVERWRITE, &done));
	PCA_EXPECT_EQ(t, done, PAGE);
	for (i = 0; i < PAGE; i += 64)
		if (r.mem[i] != 0x22)
			break;
	PCA_EXPECT_EQ(t, i, PAGE);
	PCA_EXPECT_EQ(t, present(t, r.id), 1);

	/* a range over present and missing pages: all of it placed */
	for (i = 0; i < 4; i++)
		memset(buf + i * PAGE, (int)(0x30 + i), PAGE);
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, buf, 3 * PAGE,
				     PCA_RESOLVE_OVERWRITE, &done));
	PCA_EXPECT_EQ(t, done, 3 * PAGE);
	PCA_EXPECT_EQ(t, check_bytes(t, &r, 0, 3, 0x30), 0);
	PCA_EXPECT_EQ(t, present(t, r.id), 3);
	/* a write through the mapping is replaced too */
	r.mem[PAGE + 100] = 0x99;
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, PAGE, buf + PAGE, PAGE,
				     PCA_RESOLVE_OVERWRITE, NULL));
	PCA_EXPECT_EQ(t, r.mem[PAGE + 100], 0x31);

	/* the source a mapping of the page itself, or of another page */
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, r.mem, PAGE,
				     PCA_RESOLVE_OVERWRITE, NULL));
	PCA_EXPECT_EQ(t, r.mem[100], 0x30);
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, r.mem + 2 * PAGE, PAGE,
				     PCA_RESOLVE_OVERWRITE, NULL));
	PCA_EXPECT_EQ(t, r.mem[100], 0x32);

	/* COPY_BATCH: present units count as copied; the last entry wins */
	for (i = 0; i < 4; i++) {
		memset(buf + i * PAGE, (int)(0x40 + i), PAGE);
		e[i].offset = (i % 3) * PAGE;
		e[i].src = (uintptr_t)(buf + i * PAGE);
	}
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(r.fd, e, 4, 0, &copied,
					    &existed), EEXIST);
	PCA_EXPECT_EQ(t, copied, 0);
	PCA_EXPECT_EQ(t, existed, 4);
	PCA_EXPECT_OK(t, pca_fd_copy_batch(r.fd, e, 4, PCA_RESOLVE_OVERWRITE,
					   &copied, &existed));
	PCA_EXPECT_EQ(t, copied, 4);
	PCA_EXPECT_EQ(t, existed, 0);
	PCA_EXPECT_EQ(t, r.mem[100], 0x43);
	PCA_EXPECT_EQ(t, r.mem[PAGE + 100], 0x41);
	PCA_EXPECT_EQ(t, r.mem[2 * PAGE + 100], 0x42);

	/* netlink COPY takes it; ZERO, over both paths, does not */
	memset(buf, 0x55, PAGE);
	PCA_EXPECT_EXTACK(t, pca_copy(t->c, r.id, 0, buf, 0, NULL), EEXIST);
	PCA_EXPECT_OK(t, pca_copy(t->c, r.id, 0, buf, PCA_RESOLVE_OVERWRITE,
				  NULL));
	PCA_EXPECT_EQ(t, r.mem[100], 0x55);
	PCA_EXPECT_EXTACK(t, pca_zero(t->c, r.id, 4 * PAGE, PAGE,
				      PCA_RESOLVE_OVERWRITE, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_zero(r.fd, 4 * PAGE, PAGE,
				      PCA_RESOLVE_OVERWRITE, NULL), EINVAL);
	/* other unknown bits are still refused */
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, PAGE, 4, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, PAGE, 1ULL << 63, NULL),
		       EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(r.fd, e, 1, 1ULL << 32, NULL,
					    NULL), EINVAL);
	PCA_EXPECT_EQ(t, present(t, r.id), 3);
	PCA_EXPECT_EQ(t, r.mem[100], 0x55);
	region_free(&r);
}

struct page_reader {
	pthread_t th;
	const volatile uint64_t *page;
	size_t words;
	atomic_int stop;
	unsigned long passes, changes, torn;
	uint64_t torn_at, torn_was, torn_now;
};

/*
 * Word i of generation g holds g << 20 | i.  Scanning upwards, a reader
 * may see the generation change between two words (the overwrite came
 * between its loads), but never go back: a word of an older generation
 * after a newer one means it read a page half copied.
 */
static void *page_read_fn(void *arg)
{
	struct page_reader *k = arg;
	uint64_t v, gen, last = 0;
	size_t i;

	while (!atomic_load(&k->stop)) {
		gen = 0;
		for (i = 0; i < k->words; i++) {
			v = k->page[i];
			if ((v & 0xfffff) != i || (v >> 20) < gen) {
				if (!k->torn++) {
					k->torn_at = i;
					k->torn_was = gen;
					k->torn_now = v;
				}
				break;
			}
			gen = v >> 20;
		}
		if (gen != last)
			k->changes++;
		last = gen;
		k->passes++;
	}
	return NULL;
}

static void fill_gen(uint64_t *w, size_t words, uint64_t gen)
{
	size_t i;

	for (i = 0; i < words; i++)
		w[i] = gen << 20 | i;
}

/* One region unit overwritten in a loop under a reader: never torn. */
static void overwrite_under_reader(struct pca_test_ctx *t, struct region *r,
				   size_t unit, unsigned int rounds)
{
	struct page_reader k = { .words = unit / 8 };
	uint64_t *buf = malloc(unit);
	unsigned int g;

	PCA_ASSERT(t, buf, "malloc");
	fill_gen(buf, unit / 8, 1);
	PCA_ASSERT_OK(t, pca_fd_copy(r->fd, 0, buf, unit, 0, NULL));
	k.page = (const volatile uint64_t *)r->mem;
	PCA_ASSERT_EQ(t, pthread_create(&k.th, NULL, page_read_fn, &k), 0);
	for (g = 2; g < rounds + 2; g++) {
		fill_gen(buf, unit / 8, g);
		PCA_EXPECT_OK(t, pca_fd_copy(r->fd, 0, buf, unit,
					     PCA_RESOLVE_OVERWRITE, NULL));
		/* let the reader see some generations whole */
		if (g % 16 == 0)
			usleep(1000);
	}
	atomic_store(&k.stop, 1);
	PCA_EXPECT_EQ(t, pthread_join(k.th, NULL), 0);
	pca_t_diag(t, "unit %zu: %u overwrites, %lu passes, %lu changes seen",
		   unit, rounds, k.passes, k.changes);
	PCA_EXPECT(t, !k.torn,
		   "%lu torn passes; first at word %llu: %#llx after gen %llu",
		   k.torn, (unsigned long long)k.torn_at,
		   (unsigned long long)k.torn_now,
		   (unsigned long long)k.torn_was);
	PCA_EXPECT_EQ(t, k.page[k.words - 1], (uint64_t)(rounds + 1) << 20 |
		      (k.words - 1));
	free(buf);
}

static void test_overwrite_atomic(struct pca_test_ctx *t)
{
	struct region r;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	overwrite_under_reader(t, &r, PAGE, 3000);
	region_free(&r);
}

/*
 * After DISCARD_BITMAP with PCA_DISCARD_SEAL: overwrite is refused on
 * every path, plain copies still work.  A thread overwriting pages in a
 * loop while the seal comes leaves none of them behind the discard.
 */
struct overwriter {
	pthread_t th;
	int fd;
	size_t pages;
	const uint8_t *src;
	atomic_int started;
	unsigned long ok, eperm, other;
};

static void *overwrite_fn(void *arg)
{
	struct overwriter *w = arg;
	size_t i;
	int ret;

	for (;;) {
		for (i = 0; i < w->pages; i++) {
			ret = pca_fd_copy(w->fd, i * PAGE, w->src, PAGE,
					  PCA_RESOLVE_OVERWRITE, NULL);
			if (!ret)
				w->ok++;
			else if (ret == -EPERM)
				w->eperm++;
			else
				w->other++;
			atomic_store(&w->started, 1);
			if (w->eperm)
				return NULL;
		}
	}
}

static void test_overwrite_sealed(struct pca_test_ctx *t)
{
	const size_t pages = 64;
	struct overwriter w = { .pages = pages };
	uint64_t bits[pages / 64], log[pages / 64], got;
	struct pca_copy_entry e;
	uint8_t buf[PAGE];
	struct region r;
	size_t i;

	region_new(t, &r, pages, PCA_REGION_MISSING);
	memset(buf, 0x21, sizeof(buf));
	memset(bits, 0xff, sizeof(bits));
	w.fd = r.fd;
	w.src = buf;
	PCA_ASSERT_EQ(t, pthread_create(&w.th, NULL, overwrite_fn, &w), 0);
	while (!atomic_load(&w.started))
		usleep(100);
	usleep(20 * 1000);
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 0, pages * PAGE, bits,
					sizeof(bits), PCA_DISCARD_SEAL, &got));
	PCA_EXPECT_EQ(t, pthread_join(w.th, NULL), 0);
	pca_t_diag(t, "%lu overwrites before the seal, %llu pages discarded",
		   w.ok, (unsigned long long)got);
	PCA_EXPECT(t, w.ok > 0 && w.eperm == 1 && !w.other,
		   "ok %lu eperm %lu other %lu", w.ok, w.eperm, w.other);
	/* whatever landed came before the discard, which took it */
	PCA_EXPECT_EQ(t, present_log(t, &r, log, sizeof(log)), 0);
	PCA_EXPECT_EQ(t, present(t, r.id), 0);

	/* sealed for good, on every path */
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, PAGE,
				      PCA_RESOLVE_OVERWRITE, NULL), EPERM);
	e = (struct pca_copy_entry){ .offset = 0, .src = (uintptr_t)buf };
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(r.fd, &e, 1, PCA_RESOLVE_OVERWRITE,
					    NULL, NULL), EPERM);
	PCA_EXPECT_EXTACK(t, pca_copy(t->c, r.id, 0, buf,
				      PCA_RESOLVE_OVERWRITE, NULL), EPERM);
	PCA_EXPECT_EQ(t, present(t, r.id), 0);
	/* plain copies (the postcopy's) still place, and EEXIST as ever */
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, buf, PAGE, 0, NULL));
	PCA_EXPECT_OK(t, pca_copy(t->c, r.id, PAGE, buf, 0, NULL));
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, PAGE, 0, NULL), EEXIST);
	PCA_EXPECT_EQ(t, r.mem[PAGE + 9], 0x21);
	/* discarding after the seal still works; sealing again too */
	memset(bits, 0, sizeof(bits));
	bit_set(bits, 1);
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 0, pages * PAGE, bits,
					sizeof(bits), PCA_DISCARD_SEAL, &got));
	PCA_EXPECT_EQ(t, got, 1);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, PAGE,
				      PCA_RESOLVE_OVERWRITE, NULL), EPERM);
	for (i = 0; i < pages / 64; i++)
		PCA_EXPECT_EQ(t, log[i], 0);
	region_free(&r);

	/* a call that fails does not seal */
	region_new(t, &r, pages, PCA_REGION_MISSING);
	PCA_EXPECT_ERR(t, discard_bitmap(r.fd, 0, pages * PAGE, NULL,
					 sizeof(bits), PCA_DISCARD_SEAL, &got),
		       EFAULT);
	PCA_EXPECT_ERR(t, discard_bitmap(r.fd, 0, pages * PAGE, bits, 4,
					 PCA_DISCARD_SEAL, &got), ENOSPC);
	PCA_EXPECT_ERR(t, discard_bitmap(r.fd, 0, pages * PAGE, bits,
					 sizeof(bits), PCA_DISCARD_SEAL | 2,
					 &got), EINVAL);
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, buf, PAGE, 0, NULL));
	memset(buf, 0x23, sizeof(buf));
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, buf, PAGE,
				     PCA_RESOLVE_OVERWRITE, NULL));
	PCA_EXPECT_EQ(t, r.mem[9], 0x23);
	region_free(&r);
}

struct toucher {
	pthread_t th;
	volatile uint8_t *addr;
	uint8_t seen;
	atomic_int done;
};

static void *touch_fn(void *arg)
{
	struct toucher *k = arg;

	k->seen = *k->addr;
	atomic_store(&k->done, 1);
	return NULL;
}

/*
 * DISCARD_BITMAP drops exactly the pages whose bits are set, in one call;
 * the others keep their data, and a touch of a dropped page faults to the
 * agent again.
 */
static void test_discard_bitmap(struct pca_test_ctx *t)
{
	const size_t pages = 300, words = (pages + 63) / 64;
	uint64_t bits[words + 1], log[words + 1], got, want = 0;
	struct pca_fault_record rec;
	struct toucher k = {};
	uint8_t buf[PAGE];
	struct region r;
	size_t i;
	int n;

	region_new(t, &r, pages, PCA_REGION_MISSING);
	for (i = 0; i < pages; i++) {
		memset(buf, (int)(0x60 + i), sizeof(buf));
		if (i != 7)	/* one page never placed */
			PCA_ASSERT_OK(t, pca_fd_copy(r.fd, i * PAGE, buf, PAGE,
						     0, NULL));
	}
	memset(bits, 0, sizeof(bits));
	for (i = 0; i < pages; i++)
		if (i % 3 == 0 || (i >= 60 && i < 130) || i == pages - 1 ||
		    i == 7)
			bit_set(bits, i);
	for (i = 0; i < pages; i++)
		want += bit_test(bits, i) && i != 7;
	/* a bit past the range is ignored */
	bits[words - 1] |= 1ULL << 63;
	bits[words] = ~0ULL;
	PCA_ASSERT_OK(t, discard_bitmap(r.fd, 0, pages * PAGE, bits,
					words * 8, 0, &got));
	PCA_EXPECT_EQ(t, got, want);
	PCA_EXPECT_EQ(t, present(t, r.id), pages - 1 - want);
	memset(log, 0xa5, sizeof(log));
	PCA_EXPECT_EQ(t, present_log(t, &r, log, words * 8), pages - 1 - want);
	PCA_EXPECT_EQ(t, log[words], 0xa5a5a5a5a5a5a5a5ULL);
	for (i = 0; i < pages; i++) {
		int gone = bit_test(bits, i) || i == 7;

		PCA_EXPECT(t, bit_test(log, i) == !gone, "page %zu", i);
		if (!gone && r.mem[i * PAGE + 100] != (uint8_t)(0x60 + i))
			PCA_FAIL(t, "page %zu: %#x", i, r.mem[i * PAGE + 100]);
	}
	PCA_EXPECT_EQ(t, log[words - 1] >> (pages % 64), 0);

	/* a dropped page is missing again: its touch faults */
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_WAIT, NULL));
	k.addr = r.mem + 61 * PAGE + 5;
	PCA_ASSERT_EQ(t, pthread_create(&k.th, NULL, touch_fn, &k), 0);
	n = pca_recv_faults(t->c, &rec, 1, pca_scaled_ms(WAIT_MS));
	PCA_EXPECT(t, n == 1, "expected a fault record, got %d", n);
	PCA_EXPECT_EQ(t, rec.offset, 61 * PAGE);
	PCA_EXPECT(t, !atomic_load(&k.done), "a touch got through");
	memset(buf, 0x77, sizeof(buf));
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 61 * PAGE, buf, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, pthread_join(k.th, NULL), 0);
	PCA_EXPECT_EQ(t, k.seen, 0x77);

	/* nothing set, or set over absent pages: nothing dropped */
	memset(bits, 0, sizeof(bits));
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 0, pages * PAGE, bits,
					words * 8, 0, &got));
	PCA_EXPECT_EQ(t, got, 0);
	bit_set(bits, 0);
	bit_set(bits, 7);
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 0, pages * PAGE, bits,
					words * 8, 0, &got));
	PCA_EXPECT_EQ(t, got, 0);
	/* a sub-range: bit 0 is its first page (202 is present) */
	memset(bits, 0, sizeof(bits));
	bit_set(bits, 2);
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 200 * PAGE, 10 * PAGE, bits, 8,
					0, &got));
	PCA_EXPECT_EQ(t, got, 1);
	PCA_EXPECT_OK(t, pca_fd_present_log(r.fd, 200 * PAGE, 10 * PAGE, log,
					    8, &got));
	for (i = 0, want = 0; i < 10; i++)
		if (i != 2 && (200 + i) % 3)
			want |= 1ULL << i;
	PCA_EXPECT_EQ(t, log[0], want);
	PCA_EXPECT_EQ(t, got, __builtin_popcountll(want));
	region_free(&r);
}

/* Error cases of both ioctls, and nothing done by a refused call. */
static void test_page_bitmaps_errors(struct pca_test_ctx *t)
{
	const size_t pages = 128;
	uint64_t bits[2] = { ~0ULL, ~0ULL }, got;
	struct pca_discard_bitmap db;
	struct pca_present_log pl;
	uint8_t buf[PAGE];
	struct region r;
	int fd, i;

	region_new(t, &r, pages, PCA_REGION_MISSING);
	memset(buf, 1, sizeof(buf));
	for (i = 0; i < (int)pages; i++)
		PCA_ASSERT_OK(t, pca_fd_copy(r.fd, i * PAGE, buf, PAGE, 0,
					     NULL));
	fd = r.fd;
#define BOTH(off, len, size, e) do { \
	PCA_EXPECT_ERR(t, discard_bitmap(fd, off, len, bits, size, 0, &got), \
		       e); \
	PCA_EXPECT_ERR(t, pca_fd_present_log(fd, off, len, bits, size, \
					     &got), e); \
} while (0)
	BOTH(0, 0, 16, EINVAL);
	BOTH(1, PAGE, 16, EINVAL);
	BOTH(PAGE / 2, PAGE, 16, EINVAL);
	BOTH(0, PAGE + 1, 16, EINVAL);
	BOTH(0, (pages + 1) * PAGE, 24, ERANGE);
	BOTH(pages * PAGE, PAGE, 16, ERANGE);
	BOTH(PAGE, ~0ULL & ~(PAGE - 1), 16, ERANGE);
	BOTH(1ULL << 62, PAGE, 16, ERANGE);
	BOTH(0, pages * PAGE, 15, ENOSPC);
	BOTH(0, pages * PAGE, 8, ENOSPC);
	BOTH(0, 65 * PAGE, 8, ENOSPC);
	BOTH(0, pages * PAGE, 0, ENOSPC);
#undef BOTH
	/* unknown flags, every bit */
	for (i = 1; i < 64; i++)
		PCA_EXPECT_ERR(t, discard_bitmap(fd, 0, pages * PAGE, bits, 16,
						 1ULL << i, &got), EINVAL);
	pl = (struct pca_present_log){ .len = PAGE, .bitmap = (uintptr_t)bits,
				       .bitmap_size = 8 };
	for (i = 0; i < 64; i++) {
		pl.flags = 1ULL << i;
		PCA_EXPECT_ERR(t, ioctl(fd, PCA_IOC_PRESENT_LOG, &pl) ? -errno :
				  0, EINVAL);
	}
	/* bad pointers: the argument, the bitmap */
	PCA_EXPECT_ERR(t, ioctl(fd, PCA_IOC_DISCARD_BITMAP, (void *)8) ?
			  -errno : 0, EFAULT);
	PCA_EXPECT_ERR(t, ioctl(fd, PCA_IOC_PRESENT_LOG, (void *)8) ?
			  -errno : 0, EFAULT);
	PCA_EXPECT_ERR(t, discard_bitmap(fd, 0, pages * PAGE,
					 (const uint64_t *)8, 16, 0, &got),
		       EFAULT);
	PCA_EXPECT_EQ(t, got, 0);
	PCA_EXPECT_ERR(t, pca_fd_present_log(fd, 0, pages * PAGE,
					     (uint64_t *)8, 16, &got), EFAULT);
	/* a bitmap in read-only memory is fine to discard from, not to log */
	db = (struct pca_discard_bitmap){ .len = PAGE,
		.bitmap = (uintptr_t)"\0\0\0\0\0\0\0", .bitmap_size = 8 };
	PCA_EXPECT_OK(t, ioctl(fd, PCA_IOC_DISCARD_BITMAP, &db) ? -errno : 0);
	PCA_EXPECT_EQ(t, db.discarded, 0);
	PCA_EXPECT_ERR(t, pca_fd_present_log(fd, 0, PAGE,
					     (uint64_t *)(uintptr_t)"1234567",
					     8, &got), EFAULT);
	/* announced on the region fd; the wrong size is another ioctl */
	{
		struct pca_api api;

		PCA_EXPECT_OK(t, pca_dev_api(fd, PCA_API_VERSION,
					     PCA_FEATURE_PAGE_BITMAPS, &api));
		PCA_EXPECT_EQ(t, api.ioctls >> 11 & 3, 3);
		PCA_EXPECT_EQ(t, api.features & (PCA_FEATURE_OVERWRITE |
						 PCA_FEATURE_PAGE_BITMAPS),
			      PCA_FEATURE_OVERWRITE | PCA_FEATURE_PAGE_BITMAPS);
	}
	PCA_EXPECT_ERR(t, ioctl(fd, _IOWR(PCA_IOC_MAGIC, 0x0b, uint64_t),
				bits) ? -errno : 0, ENOTTY);
	PCA_EXPECT_ERR(t, ioctl(fd, _IOR(PCA_IOC_MAGIC, 0x0c,
					 struct pca_present_log), &pl) ?
			  -errno : 0, ENOTTY);
	/* on the device fd: not an ioctl of it */
	i = pca_dev_open();
	PCA_ASSERT_OK(t, i);
	PCA_EXPECT_ERR(t, ioctl(i, PCA_IOC_PRESENT_LOG, &pl) ? -errno : 0,
		       ENOTTY);
	PCA_EXPECT_ERR(t, ioctl(i, PCA_IOC_DISCARD_BITMAP, &db) ? -errno : 0,
		       ENOTTY);
	close(i);
	/* nothing refused dropped anything */
	PCA_EXPECT_EQ(t, present(t, r.id), pages);
	region_free(&r);
}

/*
 * A bitmap whose second 4 KiB cannot be read: the pages of the first
 * part go, the rest stay, and the count says so.
 */
static void test_discard_bitmap_partial(struct pca_test_ctx *t)
{
	const size_t step = 4096 * 8, pages = 2 * step;
	uint64_t got, *bits;
	uint8_t buf[PAGE], *map;
	struct region r;
	int fd;

	fd = PCA_ASSERT_OK(t, pca_region_create(pages * PAGE,
						PCA_REGION_MISSING, &r.id));
	memset(buf, 3, sizeof(buf));
	PCA_ASSERT_OK(t, pca_fd_copy(fd, 5 * PAGE, buf, PAGE, 0, NULL));
	PCA_ASSERT_OK(t, pca_fd_copy(fd, (step + 5) * PAGE, buf, PAGE, 0,
				     NULL));
	map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	PCA_ASSERT(t, map != MAP_FAILED, "mmap: %s", strerror(errno));
	PCA_ASSERT_OK(t, mprotect(map + PAGE, PAGE, PROT_NONE) ? -errno : 0);
	bits = (uint64_t *)map;
	memset(bits, 0xff, PAGE);
	PCA_EXPECT_ERR(t, discard_bitmap(fd, 0, pages * PAGE, bits, 2 * PAGE,
					 PCA_DISCARD_SEAL, &got), EFAULT);
	PCA_EXPECT_EQ(t, got, 1);
	PCA_EXPECT_EQ(t, present(t, r.id), 1);
	/* not sealed by a failed call */
	PCA_EXPECT_OK(t, pca_fd_copy(fd, 5 * PAGE, buf, PAGE,
				     PCA_RESOLVE_OVERWRITE, NULL));
	/* the log cannot be written there either: EFAULT, nothing else */
	PCA_EXPECT_ERR(t, pca_fd_present_log(fd, 0, pages * PAGE, bits,
					     2 * PAGE, &got), EFAULT);
	PCA_EXPECT_OK(t, pca_fd_present_log(fd, 0, step * PAGE, bits, PAGE,
					    &got));
	PCA_EXPECT_EQ(t, got, 1);
	PCA_EXPECT_EQ(t, bits[0], 1ULL << 5);
	munmap(map, 2 * PAGE);
	close(fd);
}

/*
 * The present log after copies, zeroes and discards matches what was
 * done, over the whole region and over sub-ranges at any page; on a
 * large sparse region it walks the pages present, not the range.
 */
static void test_present_log(struct pca_test_ctx *t)
{
	const size_t pages = 1000, words = (pages + 63) / 64;
	const uint64_t big = 256ULL << 30;
	uint64_t want[words], log[words + 1], got, n = 0, *bits;
	double ms;
	int64_t done;
	uint8_t buf[PAGE];
	struct region r;
	size_t i, off, len;
	int fd;
	uint32_t id;

	region_new(t, &r, pages, PCA_REGION_MISSING);
	memset(want, 0, sizeof(want));
	PCA_EXPECT_EQ(t, present_log(t, &r, log, sizeof(want)), 0);
	memset(buf, 9, sizeof(buf));
	for (i = 0; i < pages; i += 7)
		PCA_ASSERT_OK(t, pca_fd_copy(r.fd, i * PAGE, buf, PAGE, 0,
					     NULL));
	PCA_EXPECT_ERR(t, pca_fd_zero(r.fd, 100 * PAGE, 200 * PAGE, 0, &done),
		       EEXIST);
	PCA_EXPECT_ERR(t, pca_zero(t->c, r.id, 900 * PAGE, 64 * PAGE, 0,
				   NULL), EEXIST);
	PCA_EXPECT_OK(t, fallocate(r.fd, FALLOC_FL_PUNCH_HOLE |
				   FALLOC_FL_KEEP_SIZE, 150 * PAGE,
				   20 * PAGE) ? -errno : 0);
	for (i = 0; i < pages; i++)
		if ((i % 7 == 0 || (i >= 100 && i < 300) ||
		     (i >= 900 && i < 964)) && !(i >= 150 && i < 170)) {
			bit_set(want, i);
			n++;
		}
	PCA_EXPECT_EQ(t, present_log(t, &r, log, sizeof(want)), n);
	PCA_EXPECT_EQ(t, present(t, r.id), n);
	PCA_EXPECT(t, !memcmp(log, want, sizeof(want)), "log differs");
	/* sub-ranges starting at odd pages */
	for (off = 0; off < pages; off += 97) {
		len = pages - off < 130 ? pages - off : 130;
		memset(log, 0xee, sizeof(log));
		PCA_ASSERT_OK(t, pca_fd_present_log(r.fd, off * PAGE,
						    len * PAGE, log,
						    sizeof(log), &got));
		n = 0;
		for (i = 0; i < len; i++) {
			n += bit_test(want, off + i);
			if (bit_test(log, i) != bit_test(want, off + i)) {
				PCA_FAIL(t, "range %zu+%zu page %zu", off, len,
					 i);
				break;
			}
		}
		PCA_EXPECT_EQ(t, got, n);
		PCA_EXPECT_EQ(t, log[(len + 63) / 64 - 1] >> 1 >>
			      ((len - 1) % 64), 0);
		PCA_EXPECT_EQ(t, log[(len + 63) / 64], 0xeeeeeeeeeeeeeeeeULL);
	}
	region_free(&r);

	/* 256 GiB with three pages: quick (the test's time limit says) */
	fd = PCA_ASSERT_OK(t, pca_region_create(big, PCA_REGION_MISSING, &id));
	PCA_ASSERT_OK(t, pca_fd_copy(fd, 0, buf, PAGE, 0, NULL));
	PCA_ASSERT_OK(t, pca_fd_copy(fd, (big / 2) + 64 * PAGE, buf, PAGE, 0,
				     NULL));
	PCA_ASSERT_OK(t, pca_fd_copy(fd, big - PAGE, buf, PAGE, 0, NULL));
	bits = malloc(big / PAGE / 8);
	PCA_ASSERT(t, bits, "malloc");
	memset(bits, 0xff, big / PAGE / 8);
	ms = mono_ms();
	PCA_EXPECT_OK(t, pca_fd_present_log(fd, 0, big, bits, big / PAGE / 8,
					    &got));
	pca_t_diag(t, "present log of 256 GiB holding 3 pages: %.1f ms",
		   mono_ms() - ms);
	PCA_EXPECT_EQ(t, got, 3);
	n = 0;
	for (i = 0; i < big / PAGE / 64; i++)
		if (bits[i])
			n += __builtin_popcountll(bits[i]);
	PCA_EXPECT_EQ(t, n, 3);
	PCA_EXPECT_EQ(t, bits[0], 1);
	PCA_EXPECT_EQ(t, bits[big / PAGE / 128 + 1], 1);
	PCA_EXPECT_EQ(t, bits[big / PAGE / 64 - 1], 1ULL << 63);
	/* and a discard by bitmap of all of it drops the three */
	memset(bits, 0xff, big / PAGE / 8);
	ms = mono_ms();
	PCA_EXPECT_OK(t, discard_bitmap(fd, 0, big, bits, big / PAGE / 8, 0,
					&got));
	pca_t_diag(t, "discard bitmap of 256 GiB, every bit set: %.1f ms",
		   mono_ms() - ms);
	PCA_EXPECT_EQ(t, got, 3);
	PCA_EXPECT_EQ(t, present(t, id), 0);
	free(bits);
	close(fd);
}

/*
 * Huge regions: a unit is overwritten whole (and atomically), a unit
 * goes when any bit of its pages is set, and a present unit sets the bits
 * of all its pages.  Ranges are in units.
 */
static void test_huge_page_bitmaps(struct pca_test_ctx *t)
{
	const size_t units = 4, words = units * UNIT_PAGES / 64;
	uint64_t bits[words], log[words], got;
	struct region r;
	uint8_t *buf;
	size_t u, i;

	huge_new(t, &r, units, PCA_REGION_MISSING);
	buf = malloc(UNIT);
	PCA_ASSERT(t, buf, "malloc");
	for (u = 0; u < units; u++) {
		fill_unit(buf, u);
		PCA_ASSERT_OK(t, pca_fd_copy(r.fd, u * UNIT, buf, UNIT, 0,
					     NULL));
	}
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 0), 0);
	/* overwrite: the whole unit, seen through the PMD mapping */
	fill_unit(buf, 7);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, UNIT, 0, NULL), EEXIST);
	PCA_EXPECT_OK(t, pca_fd_copy(r.fd, 0, buf, UNIT,
				     PCA_RESOLVE_OVERWRITE, NULL));
	PCA_EXPECT_EQ(t, r.mem[5 * PAGE + 1], unit_byte(7, 5 * PAGE));
	PCA_EXPECT_EQ(t, r.mem[UNIT - 1], unit_byte(7, UNIT - PAGE));
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 1), 0);
	pca_t_diag(t, "FilePmdMapped %ld kB after the overwrite",
		   pmd_mapped(t, r.mem) / 1024);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, PAGE, buf, UNIT,
				      PCA_RESOLVE_OVERWRITE, NULL), EINVAL);

	/* present log: units whole */
	PCA_EXPECT_EQ(t, present_log(t, &r, log, sizeof(log)),
		      units * UNIT_PAGES);
	for (i = 0; i < words; i++)
		PCA_EXPECT_EQ(t, log[i], ~0ULL);
	/* one bit drops its unit; units 1 and 3 go */
	memset(bits, 0, sizeof(bits));
	bit_set(bits, UNIT_PAGES + 7);
	bit_set(bits, units * UNIT_PAGES - 1);
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 0, units * UNIT, bits,
					sizeof(bits), 0, &got));
	PCA_EXPECT_EQ(t, got, 2 * UNIT_PAGES);
	PCA_EXPECT_EQ(t, present(t, r.id), 2 * UNIT_PAGES);
	PCA_EXPECT_EQ(t, present_log(t, &r, log, sizeof(log)),
		      2 * UNIT_PAGES);
	for (i = 0; i < words; i++) {
		u = i / (UNIT_PAGES / 64);
		PCA_EXPECT(t, log[i] == (u == 0 || u == 2 ? ~0ULL : 0),
			   "word %zu: %#llx", i, (unsigned long long)log[i]);
	}
	PCA_EXPECT_EQ(t, check_unit(t, r.mem, 2), 0);
	/* a sub-range of one unit, and units only */
	PCA_EXPECT_OK(t, pca_fd_present_log(r.fd, 2 * UNIT, UNIT, log,
					    UNIT_PAGES / 8, &got));
	PCA_EXPECT_EQ(t, got, UNIT_PAGES);
	PCA_EXPECT_ERR(t, pca_fd_present_log(r.fd, PAGE, UNIT, log,
					     sizeof(log), &got), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_present_log(r.fd, 0, PAGE, log, sizeof(log),
					     &got), EINVAL);
	PCA_EXPECT_ERR(t, discard_bitmap(r.fd, UNIT + PAGE, UNIT, bits,
					 sizeof(bits), 0, &got), EINVAL);
	PCA_EXPECT_ERR(t, discard_bitmap(r.fd, 0, UNIT / 2, bits,
					 sizeof(bits), 0, &got), EINVAL);
	PCA_EXPECT_ERR(t, discard_bitmap(r.fd, 0, units * UNIT, bits,
					 sizeof(bits) - 8, 0, &got), ENOSPC);

	/* a unit overwritten under a reader is never seen half copied */
	region_free(&r);
	huge_new(t, &r, 1, PCA_REGION_MISSING);
	overwrite_under_reader(t, &r, UNIT, 40);
	/* sealed: units too */
	memset(bits, 0, sizeof(bits));
	PCA_EXPECT_OK(t, discard_bitmap(r.fd, 0, UNIT, bits, UNIT_PAGES / 8,
					PCA_DISCARD_SEAL, &got));
	PCA_EXPECT_EQ(t, got, 0);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, buf, UNIT,
				      PCA_RESOLVE_OVERWRITE, NULL), EPERM);
	free(buf);
	region_free(&r);
}

PCA_TEST_F(never_dropped, test_never_dropped, PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(fault_around, test_fault_around, PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(punch_hole, test_punch_hole, PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(fixed_size_file, test_fixed_size_file, 0)
PCA_TEST_F(longterm_pin, test_longterm_pin, PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(huge_create, test_huge_create, PCA_FEATURE_HUGE)
PCA_TEST_F(huge_pmd_mapped, test_huge_pmd_mapped, PCA_FEATURE_HUGE)
PCA_TEST_F(huge_fault_unit, test_huge_fault_unit,
	 PCA_FEATURE_HUGE | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(huge_units_only, test_huge_units_only,
	 PCA_FEATURE_HUGE | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(huge_discard, test_huge_discard,
	 PCA_FEATURE_HUGE | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(huge_dirty_units, test_huge_dirty_units,
	 PCA_FEATURE_HUGE | PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(overwrite, test_overwrite, PCA_FEATURE_OVERWRITE)
PCA_TEST_F(overwrite_atomic, test_overwrite_atomic, PCA_FEATURE_OVERWRITE)
PCA_TEST_F(overwrite_sealed, test_overwrite_sealed,
	 PCA_FEATURE_OVERWRITE | PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(discard_bitmap, test_discard_bitmap, PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(discard_bitmap_partial, test_discard_bitmap_partial,
	 PCA_FEATURE_OVERWRITE | PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(page_bitmaps_errors, test_page_bitmaps_errors,
	 PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(present_log, test_present_log, PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(huge_page_bitmaps, test_huge_page_bitmaps,
	 PCA_FEATURE_HUGE | PCA_FEATURE_OVERWRITE | PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(recv_unix, test_recv_unix, PCA_FEATURE_RECV)
PCA_TEST_F(recv_tcp, test_recv_tcp, PCA_FEATURE_RECV)
PCA_TEST_F(recv_ktls, test_recv_ktls, PCA_FEATURE_RECV)
PCA_TEST_F(recv_present, test_recv_present, PCA_FEATURE_RECV)
PCA_TEST_F(recv_overwrite, test_recv_overwrite,
	   PCA_FEATURE_RECV | PCA_FEATURE_OVERWRITE | PCA_FEATURE_PAGE_BITMAPS)
PCA_TEST_F(recv_peer_close, test_recv_peer_close, PCA_FEATURE_RECV)
PCA_TEST_F(recv_timeout, test_recv_timeout, PCA_FEATURE_RECV)
PCA_TEST_F(recv_timeout_ktls, test_recv_timeout_ktls, PCA_FEATURE_RECV)
PCA_TEST_F(recv_signal, test_recv_signal, PCA_FEATURE_RECV)
PCA_TEST_F(recv_huge, test_recv_huge, PCA_FEATURE_RECV | PCA_FEATURE_HUGE)

TEST_HARNESS_MAIN
