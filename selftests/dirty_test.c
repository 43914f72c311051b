// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_test: the dirty log used by precopy rounds, and regions reopened
 * by path.
 *
 * The central check is the one precopy depends on: after every round the
 * copy of a page taken from the log must end up equal to the page, i.e. no
 * write is ever missed, whoever writes and through whichever mapping.
 */
#define _GNU_SOURCE
#include <linux/loop.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>

#include "pca_region_util.h"

static int track(struct pca_test_ctx *t, uint32_t id, uint32_t on)
{
	struct nl_msg *m = pca_msg_new(t->c, PCA_CMD_DIRTY_TRACK, 0);

	PCA_ASSERT(t, m, "msg");
	nla_put_u32(m, PCA_A_REGION_ID, id);
	nla_put_u32(m, PCA_A_DIRTY_ENABLE, on);
	return pca_request(t->c, m, NULL, NULL);
}

/* PCA_IOC_DIRTY_LOG over the whole region; returns the dirty count. */
static long fd_log(int fd, size_t pages, uint64_t *bits, uint64_t flags)
{
	struct pca_dirty_log dl = {
		.offset = 0,
		.len = pages * PAGE,
		.bitmap = (uintptr_t)bits,
		.bitmap_size = (pages + 63) / 64 * 8,
		.flags = flags,
	};

	if (bits)
		memset(bits, 0, dl.bitmap_size);
	if (ioctl(fd, PCA_IOC_DIRTY_LOG, &dl))
		return -errno;
	return dl.dirty;
}

static int bit(const uint64_t *bits, size_t n)
{
	return (bits[n / 64] >> (n % 64)) & 1;
}

static void expect_log(struct pca_test_ctx *t, struct region *r,
		       const size_t *want, size_t nwant, uint64_t flags)
{
	uint64_t bits[64] = { 0 };
	size_t i, n = 0;
	long dirty;

	PCA_ASSERT(t, r->pages <= 64 * 64, "test region too large");
	dirty = PCA_ASSERT_OK(t, fd_log(r->fd, r->pages, bits, flags));
	for (i = 0; i < r->pages; i++)
		n += bit(bits, i);
	PCA_EXPECT_EQ(t, dirty, nwant);
	PCA_EXPECT_EQ(t, n, nwant);
	for (i = 0; i < nwant; i++)
		PCA_EXPECT(t, bit(bits, want[i]), "page %zu not logged",
			   want[i]);
}

static void test_basic(struct pca_test_ctx *t)
{
	struct region r;
	volatile uint8_t v;
	size_t p3[] = { 3 }, p3_10[] = { 3, 10 };

	region_new(t, &r, 64, 0);
	r.mem[3 * PAGE] = 1;			/* before tracking: not logged */
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	expect_log(t, &r, NULL, 0, PCA_DIRTY_CLEAR);
	r.mem[3 * PAGE + 1] = 2;		/* writable before: must fault */
	r.mem[10 * PAGE] = 3;			/* first touch is a write */
	v = r.mem[20 * PAGE];			/* reads dirty nothing */
	(void)v;
	expect_log(t, &r, p3_10, 2, 0);		/* peek: nothing cleared */
	expect_log(t, &r, p3_10, 2, PCA_DIRTY_CLEAR);
	expect_log(t, &r, NULL, 0, PCA_DIRTY_CLEAR);
	r.mem[3 * PAGE + 5] = 4;		/* re-armed by the clear */
	expect_log(t, &r, p3, 1, PCA_DIRTY_CLEAR);
	region_free(&r);
}

struct log_call {
	int fd;
	size_t pages;
	uint64_t *bits;
	long ret;
	uint64_t dirty;
};

/* PCA_IOC_DIRTY_LOG with CLEAR into a bitmap nobody touched before. */
static void *log_call_fn(void *arg)
{
	struct log_call *lc = arg;
	struct pca_dirty_log dl = {
		.len = lc->pages * PAGE,
		.bitmap = (uintptr_t)lc->bits,
		.bitmap_size = (lc->pages + 63) / 64 * 8,
		.flags = PCA_DIRTY_CLEAR,
	};

	lc->ret = ioctl(lc->fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0;
	lc->dirty = dl.dirty;
	return NULL;
}

/*
 * A report is delivered with the log's lock dropped, and cleared after.
 * Here delivery waits as long as the test likes: the bitmap lies on a
 * missing page of another region, so the ioctl's copy to userspace
 * faults and waits for this test, acting as agent, to place that page.
 * Meanwhile a DISCARD takes the reported page away.  The clear that
 * follows must cope with the page being gone (it once warned, which
 * panics a panic_on_warn host).
 */
static void test_discard_during_report(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct region r, out;
	struct pca_range rg = { .offset = 3 * PAGE, .len = PAGE };
	struct log_call lc;
	uint8_t data[PAGE];
	pthread_t th;
	long dirty;
	int n;

	region_new(t, &r, 8, 0);
	region_new(t, &out, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, out.id, PCA_POLICY_FAIL, NULL));
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	r.mem[3 * PAGE] = 1;

	lc = (struct log_call){
		.fd = r.fd, .pages = r.pages, .bits = (uint64_t *)out.mem,
	};
	PCA_ASSERT_EQ(t, pthread_create(&th, NULL, log_call_fn, &lc), 0);
	/* the report is out of the lock and on its way to a missing page */
	n = pca_recv_faults(t->c, &rec, 1, pca_scaled_ms(5000));
	PCA_ASSERT(t, n == 1, "no fault from the report's delivery: %d", n);
	PCA_EXPECT_EQ(t, rec.region_id, out.id);
	PCA_EXPECT(t, rec.flags & PCA_FAULT_KERNEL, "flags %#x", rec.flags);

	PCA_EXPECT_OK(t, ioctl(r.fd, PCA_IOC_DISCARD, &rg) ? -errno : 0);
	PCA_EXPECT_EQ(t, rg.done, PAGE);

	memset(data, 0, sizeof(data));
	PCA_ASSERT_OK(t, pca_copy(t->c, out.id, 0, data, 0, NULL));
	pthread_join(th, NULL);
	PCA_EXPECT_OK(t, lc.ret);
	PCA_EXPECT_EQ(t, lc.dirty, 1);
	PCA_EXPECT_EQ(t, ((uint64_t *)out.mem)[0], 1ULL << 3);

	/* the page is zero now, and the log is empty */
	PCA_EXPECT_EQ(t, r.mem[3 * PAGE], 0);
	dirty = fd_log(r.fd, r.pages, NULL, PCA_DIRTY_COUNT_ONLY);
	PCA_EXPECT_EQ(t, dirty, 0);
	/* and logging goes on for the page placed again */
	r.mem[3 * PAGE] = 2;
	dirty = fd_log(r.fd, r.pages, NULL, PCA_DIRTY_COUNT_ONLY);
	PCA_EXPECT_EQ(t, dirty, 1);
	region_free(&out);
	region_free(&r);
}

static void test_second_mapping_and_fork(struct pca_test_ctx *t)
{
	size_t want[] = { 2, 5 };
	struct region r;
	uint8_t *m2;
	pid_t pid;
	int status;

	region_new(t, &r, 8, 0);
	memset(r.mem, 0, 8 * PAGE);		/* all present and writable */
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	m2 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	PCA_ASSERT(t, m2 != MAP_FAILED, "mmap");
	m2[2 * PAGE] = 1;
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		r.mem[5 * PAGE + 7] = 9;
		_exit(0);
	}
	PCA_ASSERT_EQ(t, waitpid(pid, &status, 0), pid);
	expect_log(t, &r, want, 2, PCA_DIRTY_CLEAR);
	/* Both mappings were write-protected again. */
	m2[5 * PAGE] = 1;
	r.mem[2 * PAGE + 1] = 1;
	expect_log(t, &r, want, 2, PCA_DIRTY_CLEAR);
	munmap(m2, 8 * PAGE);
	region_free(&r);
}

/*
 * Mappings take write faults only while the log runs, so starting it
 * must reach every mapping made before: another process's (forked before
 * tracking began), a second mmap(), and the pieces of a split one.
 * Stopping and starting again must reach them again.
 */
static void test_mappings_made_before(struct pca_test_ctx *t)
{
	size_t want[] = { 3, 5, 6 };
	int go[2], done[2], round;
	struct region r;
	uint8_t *m2;
	pid_t pid;
	char c;

	region_new(t, &r, 8, 0);
	memset(r.mem, 0, 8 * PAGE);	/* present and writable everywhere */
	m2 = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	PCA_ASSERT(t, m2 != MAP_FAILED, "mmap");
	memset(m2, 0, 8 * PAGE);
	/* split the first mapping in three */
	PCA_ASSERT_OK(t, mprotect(r.mem + PAGE, PAGE, PROT_READ) ? -errno : 0);
	PCA_ASSERT_OK(t, pipe(go));
	PCA_ASSERT_OK(t, pipe(done));
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		close(go[1]);
		close(done[0]);
		while (read(go[0], &c, 1) == 1) {
			r.mem[3 * PAGE + 1] = (uint8_t)c;
			if (write(done[1], &c, 1) != 1)
				break;
		}
		_exit(0);
	}
	for (round = 0; round < 2; round++) {
		c = (char)(round + 1);
		PCA_ASSERT_OK(t, track(t, r.id, 1));
		PCA_ASSERT_EQ(t, write(go[1], &c, 1), 1);
		PCA_ASSERT_EQ(t, read(done[0], &c, 1), 1);
		m2[5 * PAGE + 2] = c;
		r.mem[6 * PAGE + 3] = c;
		expect_log(t, &r, want, 3, PCA_DIRTY_CLEAR);
		PCA_ASSERT_OK(t, track(t, r.id, 0));
		/* not logged, and no longer write-protected */
		r.mem[4 * PAGE] = c;
	}
	close(go[1]);
	PCA_ASSERT_EQ(t, waitpid(pid, NULL, 0), pid);
	PCA_EXPECT_EQ(t, r.mem[3 * PAGE + 1], 2);
	close(go[0]);
	close(done[0]);
	close(done[1]);
	munmap(m2, 8 * PAGE);
	region_free(&r);
}

/*
 * A fork() that fails while it copies the VMAs (here: SIGKILL to the
 * forking process) leaves a child mm that the region knows (its VMA was
 * copied and opened) with a VMA tree cut short by a zero entry (6.8 on).
 * Switching the dirty log's write notification walks every mm of the
 * region and must stop at that entry, not take it for a VMA.  The forker
 * maps the region low, with FAILED_FORK_VMAS VMAs above it, so that a
 * fork spends its time copying after the region's VMA; a killer process
 * kills it at a random moment while this process switches tracking on
 * and off as fast as it can (a switch blocks on the child's mmap_lock
 * while the fork copies, and walks the tree after it failed).
 */
#define FAILED_FORK_VMAS	4000
#define FAILED_FORK_ROUNDS	60

static void __attribute__((noreturn)) failed_fork_forker(int fd, int ready)
{
	size_t len = (2 * FAILED_FORK_VMAS + 8) * PAGE, i;
	uint8_t *base, *m;

	base = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		_exit(1);
	m = mmap(base, 8 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0);
	if (m != base)
		_exit(1);
	/* every other page another protection: no two neighbours merge */
	for (i = 8; i < 8 + 2 * FAILED_FORK_VMAS; i += 2)
		if (mprotect(base + i * PAGE, PAGE, PROT_NONE))
			_exit(1);
	m[0] = 1;
	if (write(ready, "r", 1) != 1)
		_exit(1);
	for (;;) {
		pid_t pid = fork();

		if (!pid)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	}
}

static void test_failed_fork(struct pca_test_ctx *t)
{
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	size_t want[] = { 2 };
	unsigned long switches = 0;
	int round, ready[2];
	struct region r;
	char c;

	region_new(t, &r, 8, 0);
	PCA_ASSERT_OK(t, pipe(ready));
	for (round = 0; round < FAILED_FORK_ROUNDS; round++) {
		pid_t forker, killer;
		int st;

		fflush(stdout);
		forker = fork();
		PCA_ASSERT(t, forker >= 0, "fork");
		if (!forker)
			failed_fork_forker(r.fd, ready[1]);
		PCA_ASSERT_EQ(t, read(ready[0], &c, 1), 1);
		seed = seed * 1103515245 + 12345;
		killer = fork();
		PCA_ASSERT(t, killer >= 0, "fork");
		if (!killer) {
			usleep(1000 + (seed >> 8) % 20000);
			kill(forker, SIGKILL);
			_exit(0);
		}
		do {
			PCA_ASSERT_OK(t, track(t, r.id, 1));
			PCA_ASSERT_OK(t, track(t, r.id, 0));
			switches++;
		} while (waitpid(forker, &st, WNOHANG) == 0);
		PCA_EXPECT(t, WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			   "forker: status %#x", st);
		PCA_ASSERT_EQ(t, waitpid(killer, NULL, 0), killer);
	}
	pca_t_diag(t, "%d forkers killed, %lu switches of tracking",
		   FAILED_FORK_ROUNDS, switches);
	/* the log still works */
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	r.mem[2 * PAGE] = 1;
	expect_log(t, &r, want, 1, PCA_DIRTY_CLEAR);
	PCA_ASSERT_OK(t, track(t, r.id, 0));
	close(ready[0]);
	close(ready[1]);
	region_free(&r);
}

static void test_kernel_write(struct pca_test_ctx *t)
{
	size_t want[] = { 5 };
	uint8_t src[PAGE];
	struct region r;
	int p[2];

	region_new(t, &r, 8, 0);
	memset(r.mem, 0, 8 * PAGE);
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	PCA_ASSERT_OK(t, pipe(p));
	memset(src, 0x3c, PAGE);
	PCA_ASSERT_EQ(t, write(p[1], src, PAGE), PAGE);
	/* The kernel writes into the region on our behalf. */
	PCA_ASSERT_EQ(t, read(p[0], r.mem + 5 * PAGE, PAGE), PAGE);
	expect_log(t, &r, want, 1, PCA_DIRTY_CLEAR);
	close(p[0]);
	close(p[1]);
	region_free(&r);
}

static void test_clear_range(struct pca_test_ctx *t)
{
	struct pca_range cr = { .offset = 2 * PAGE, .len = PAGE };
	size_t want[] = { 1, 3 };
	struct region r;
	struct nl_msg *m;

	region_new(t, &r, 8, 0);
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	r.mem[1 * PAGE] = 1;
	r.mem[2 * PAGE] = 1;
	r.mem[3 * PAGE] = 1;
	PCA_ASSERT_OK(t, ioctl(r.fd, PCA_IOC_DIRTY_CLEAR, &cr) ? -errno : 0);
	expect_log(t, &r, want, 2, 0);
	/* The same over netlink. */
	m = pca_msg_new(t->c, PCA_CMD_DIRTY_CLEAR, 0);
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	nla_put_u64(m, PCA_A_OFFSET, PAGE);
	nla_put_u64(m, PCA_A_LENGTH, PAGE);
	PCA_ASSERT_OK(t, pca_request(t->c, m, NULL, NULL));
	expect_log(t, &r, want + 1, 1, 0);
	region_free(&r);
}

static void test_tracking_off(struct pca_test_ctx *t)
{
	size_t want[] = { 1 };
	struct region r;

	region_new(t, &r, 4, 0);
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	r.mem[1 * PAGE] = 1;
	PCA_ASSERT_OK(t, track(t, r.id, 0));
	r.mem[2 * PAGE] = 1;			/* not logged any more */
	expect_log(t, &r, want, 1, PCA_DIRTY_CLEAR);
	r.mem[1 * PAGE] = 2;
	expect_log(t, &r, NULL, 0, 0);
	/* On again: an empty log, and writes are seen again. */
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	expect_log(t, &r, NULL, 0, 0);
	r.mem[2 * PAGE] = 3;
	want[0] = 2;
	expect_log(t, &r, want, 1, 0);
	region_free(&r);
}

static void test_copy_starts_clean(struct pca_test_ctx *t)
{
	uint8_t data[2 * PAGE];
	size_t want[] = { 1 };
	struct region r;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	memset(data, 7, sizeof(data));
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, 2 * PAGE, 0, NULL));
	expect_log(t, &r, NULL, 0, 0);
	PCA_EXPECT_EQ(t, r.mem[PAGE], 7);	/* reading keeps it clean */
	expect_log(t, &r, NULL, 0, 0);
	r.mem[PAGE] = 8;
	expect_log(t, &r, want, 1, 0);
	region_free(&r);
}

/* A thread that reads one byte, as a vCPU would. */
struct reader {
	pthread_t th;
	volatile uint8_t *addr;
	uint8_t seen;
};

static void *reader_fn(void *arg)
{
	struct reader *k = arg;

	k->seen = *k->addr;
	return NULL;
}

/*
 * A read fault on a missing page while the log runs, resolved by COPY,
 * which maps the page for the waiting thread (the pre-map): the entry it
 * installs is read-only like any other under write notification, so the
 * first write after it still faults and is logged.
 */
static void test_write_after_premap(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct pca_fault_record rec;
	uint8_t data[PAGE];
	size_t want[] = { 2 };
	struct reader k;
	struct region r;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	/* Page 0 read first: the page table the pre-map maps into. */
	memset(data, 1, sizeof(data));
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, r.mem[0], 1);

	k.addr = r.mem + 2 * PAGE;
	PCA_ASSERT_OK(t, pthread_create(&k.th, NULL, reader_fn, &k));
	PCA_ASSERT_EQ(t, pca_recv_faults(t->c, &rec, 1, 5000), 1);
	PCA_EXPECT_EQ(t, rec.offset, 2 * PAGE);
	memset(data, 2, sizeof(data));
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 2 * PAGE, data, PAGE, 0, NULL));
	pthread_join(k.th, NULL);
	PCA_EXPECT_EQ(t, k.seen, 2);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	PCA_EXPECT_EQ(t, info.stats.faults_premapped, 1);

	expect_log(t, &r, NULL, 0, 0);		/* placed and read: clean */
	r.mem[2 * PAGE + 5] = 3;
	expect_log(t, &r, want, 1, 0);
	PCA_EXPECT_EQ(t, r.mem[2 * PAGE + 5], 3);
	region_free(&r);
}

/* Netlink: one message, count only, and a dump over a large region. */
struct nl_log {
	uint64_t pages_seen;	/* pages covered by the messages */
	uint64_t dirty;
	uint64_t bits_set;
	int bad;
	uint64_t want_bit;	/* a page expected dirty */
	int want_seen;
};

static int parse_log(struct nlattr **tb, void *arg)
{
	struct nl_log *l = arg;
	uint64_t off, len, i;
	const uint64_t *bits;

	if (!tb[PCA_A_OFFSET] || !tb[PCA_A_LENGTH] || !tb[PCA_A_DIRTY_PAGES]) {
		l->bad++;
		return 0;
	}
	off = nla_get_u64(tb[PCA_A_OFFSET]) / PAGE;
	len = nla_get_u64(tb[PCA_A_LENGTH]) / PAGE;
	l->pages_seen += len;
	l->dirty += nla_get_u64(tb[PCA_A_DIRTY_PAGES]);
	if (!tb[PCA_A_DIRTY_BITMAP])
		return 0;
	if ((uint64_t)nla_len(tb[PCA_A_DIRTY_BITMAP]) < (len + 63) / 64 * 8) {
		l->bad++;
		return 0;
	}
	bits = nla_data(tb[PCA_A_DIRTY_BITMAP]);
	for (i = 0; i < len; i++) {
		if (!bit(bits, i))
			continue;
		l->bits_set++;
		if (off + i == l->want_bit)
			l->want_seen = 1;
	}
	return 0;
}

static int nl_get(struct pca_test_ctx *t, uint32_t id, int dump,
		  uint32_t flags, int64_t off, uint64_t len, struct nl_log *l)
{
	struct nl_msg *m = pca_msg_new(t->c, PCA_CMD_DIRTY_GET,
				       dump ? NLM_F_DUMP : 0);

	PCA_ASSERT(t, m, "msg");
	nla_put_u32(m, PCA_A_REGION_ID, id);
	if (flags)
		nla_put_u32(m, PCA_A_DIRTY_FLAGS, flags);
	if (off >= 0) {
		nla_put_u64(m, PCA_A_OFFSET, off);
		nla_put_u64(m, PCA_A_LENGTH, len);
	}
	return pca_request(t->c, m, parse_log, l);
}

static void test_netlink_get_and_dump(struct pca_test_ctx *t)
{
	const size_t pages = 300000;	/* > 1 GiB: more than one message */
	struct pca_region_info info;
	struct nl_log l;
	struct region r;
	size_t i;

	region_new(t, &r, pages, 0);
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	for (i = 0; i < pages; i += 997)
		r.mem[i * PAGE] = 1;

	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));

	memset(&l, 0, sizeof(l));
	l.want_bit = 997 * 3;
	PCA_ASSERT_OK(t, nl_get(t, r.id, 0, 0, 0, 8192 * PAGE, &l));
	PCA_EXPECT_EQ(t, l.pages_seen, 8192);
	PCA_EXPECT_EQ(t, l.dirty, (8192 + 996) / 997);
	PCA_EXPECT_EQ(t, l.bits_set, l.dirty);
	PCA_EXPECT(t, l.want_seen, "page %llu missing",
		   (unsigned long long)l.want_bit);

	memset(&l, 0, sizeof(l));
	PCA_ASSERT_OK(t, nl_get(t, r.id, 0, PCA_DIRTY_COUNT_ONLY, -1, 0, &l));
	PCA_EXPECT_EQ(t, l.dirty, (pages + 996) / 997);
	PCA_EXPECT_EQ(t, l.bits_set, 0);

	/* Whole region in one message is too much: dump it, clearing. */
	memset(&l, 0, sizeof(l));
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 0, 0, -1, 0, &l), E2BIG);
	memset(&l, 0, sizeof(l));
	l.want_bit = 997 * 99;
	PCA_ASSERT_OK(t, nl_get(t, r.id, 1, PCA_DIRTY_CLEAR, -1, 0, &l));
	PCA_EXPECT_EQ(t, l.bad, 0);
	PCA_EXPECT_EQ(t, l.pages_seen, pages);
	PCA_EXPECT_EQ(t, l.dirty, (pages + 996) / 997);
	PCA_EXPECT_EQ(t, l.bits_set, l.dirty);
	PCA_EXPECT(t, l.want_seen, "page %llu missing",
		   (unsigned long long)l.want_bit);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	memset(&l, 0, sizeof(l));
	PCA_ASSERT_OK(t, nl_get(t, r.id, 0, PCA_DIRTY_COUNT_ONLY, -1, 0, &l));
	PCA_EXPECT_EQ(t, l.dirty, 0);
	region_free(&r);
}

/*
 * Ground truth: writers bump generation numbers in random pages while the
 * "agent" loops get+clear and copies the pages logged; after a last round
 * with the writers stopped, its copy must equal the region exactly.
 */
#define GT_PAGES	2048
#define GT_WRITERS	3

struct gt {
	struct region *r;
	atomic_int stop;
	int idx;
	uint64_t writes;
};

static void *gt_writer(void *arg)
{
	struct gt *g = arg;
	unsigned int seed = 77 + g->idx;
	uint64_t gen = 0;

	while (!atomic_load(&g->stop)) {
		size_t pg = rand_r(&seed) % GT_PAGES;
		size_t slot = rand_r(&seed) % (PAGE / 8);

		((volatile uint64_t *)(g->r->mem + pg * PAGE))[slot] =
			((uint64_t)g->idx << 56) | ++gen;
		g->writes++;
	}
	return NULL;
}

static void test_ground_truth(struct pca_test_ctx *t)
{
	static uint64_t bits[GT_PAGES / 64];
	struct gt g[GT_WRITERS];
	pthread_t th[GT_WRITERS];
	uint64_t rounds = 0, sent = 0, fp = 0, writes = 0;
	uint8_t *shadow;
	struct region r;
	struct timespec end, now;
	size_t i, missed = 0;
	int w, last = 0;

	region_new(t, &r, GT_PAGES, 0);
	shadow = calloc(GT_PAGES, PAGE);
	PCA_ASSERT(t, shadow, "calloc");
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	/* Round 0 sends everything (all zero: nothing written yet). */
	for (w = 0; w < GT_WRITERS; w++) {
		g[w] = (struct gt){ .r = &r, .idx = w };
		PCA_ASSERT_EQ(t, pthread_create(&th[w], NULL, gt_writer, &g[w]),
			      0);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 2;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!last && (now.tv_sec > end.tv_sec ||
			      (now.tv_sec == end.tv_sec &&
			       now.tv_nsec >= end.tv_nsec))) {
			for (w = 0; w < GT_WRITERS; w++) {
				atomic_store(&g[w].stop, 1);
				pthread_join(th[w], NULL);
				writes += g[w].writes;
			}
			last = 1;
		}
		PCA_ASSERT_OK(t, fd_log(r.fd, GT_PAGES, bits, PCA_DIRTY_CLEAR));
		rounds++;
		for (i = 0; i < GT_PAGES; i++) {
			if (!bit(bits, i))
				continue;
			sent++;
			if (last && !memcmp(shadow + i * PAGE, r.mem + i * PAGE,
					    PAGE))
				fp++;
			memcpy(shadow + i * PAGE, r.mem + i * PAGE, PAGE);
		}
		if (last)
			break;
	}
	for (i = 0; i < GT_PAGES; i++)
		if (memcmp(shadow + i * PAGE, r.mem + i * PAGE, PAGE))
			missed++;
	pca_t_diag(t, "%llu writes, %llu rounds, %llu pages sent, %zu missed, %llu unchanged in the last round",
		   (unsigned long long)writes, (unsigned long long)rounds,
		   (unsigned long long)sent, missed, (unsigned long long)fp);
	PCA_EXPECT_EQ(t, missed, 0);
	PCA_EXPECT(t, rounds > 1, "only %llu rounds",
		   (unsigned long long)rounds);
	free(shadow);
	region_free(&r);
}

/*
 * O_DIRECT reads into region memory: the block layer takes the
 * destination pages with GUP and the device (here the loop driver's
 * worker, copying from its backing file) writes them later, through the
 * kernel's own mapping, with no fault on any user mapping: the DMA case.
 * The pages are taken before the data arrives and let go after, and a
 * clear in between must leave them in the log.
 *
 * The device is a loop device over an unlinked file in /tmp (tmpfs),
 * configured here; the loop driver comes from the selftests' MODULES or
 * is built in.  Every page of the region holds a stamp in each of its 512 words: the
 * page's version in the low half, a hash of page and version in the high
 * half, so that a copy taken while a write is in flight shows which words
 * are whole, and a word that went astray shows too.
 */
#define OD_UNIT_PAGES	512	/* a PCA_REGION_HUGE unit, in pages */

struct loopdev {
	int ctl;		/* /dev/loop-control */
	int nr;			/* N of /dev/loopN */
	int bfd;		/* the backing file, buffered */
	int fd;			/* /dev/loopN, O_DIRECT */
};

/* /dev/loopN, made from sysfs if devtmpfs has not made it. */
static int loop_node(int nr, char *path, size_t len)
{
	unsigned int maj, min;
	char sys[64], buf[32];
	struct stat st;
	ssize_t n;
	int fd;

	snprintf(path, len, "/dev/loop%d", nr);
	if (!stat(path, &st))
		return 0;
	snprintf(sys, sizeof(sys), "/sys/block/loop%d/dev", nr);
	fd = open(sys, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	if (sscanf(buf, "%u:%u", &maj, &min) != 2)
		return -EIO;
	if (mknod(path, S_IFBLK | 0600, makedev(maj, min)) && errno != EEXIST)
		return -errno;
	return 0;
}

/* A free loop device over a new file of @blocks pages, opened O_DIRECT. */
static void loop_new(struct pca_test_ctx *t, struct loopdev *ld, size_t blocks)
{
	struct loop_config cfg;
	char path[64];
	int i, lfd = -1;

	ld->ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ld->ctl < 0 && errno == ENOENT &&
	    !mknod("/dev/loop-control", S_IFCHR | 0600, makedev(10, 237)))
		ld->ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ld->ctl < 0)
		PCA_SKIP(t, "no loop devices (/dev/loop-control: %s)",
			 strerror(errno));

	snprintf(path, sizeof(path), "/tmp/dirty_test.%d", (int)getpid());
	ld->bfd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	PCA_ASSERT(t, ld->bfd >= 0, "%s: %s", path, strerror(errno));
	unlink(path);
	PCA_ASSERT_OK(t, ftruncate(ld->bfd, blocks * PAGE) ? -errno : 0);

	/* another process may take the free device first: try again */
	for (i = 0; i < 8; i++) {
		ld->nr = ioctl(ld->ctl, LOOP_CTL_GET_FREE);
		PCA_ASSERT(t, ld->nr >= 0, "LOOP_CTL_GET_FREE: %s",
			   strerror(errno));
		PCA_ASSERT_OK(t, loop_node(ld->nr, path, sizeof(path)));
		lfd = open(path, O_RDWR | O_CLOEXEC);
		PCA_ASSERT(t, lfd >= 0, "%s: %s", path, strerror(errno));
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = ld->bfd;
		cfg.block_size = PAGE;
		/* unbound again when the last fd goes */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (!ioctl(lfd, LOOP_CONFIGURE, &cfg))
			break;
		PCA_ASSERT(t, errno == EBUSY, "LOOP_CONFIGURE %s: %s", path,
			   strerror(errno));
		close(lfd);
		lfd = -1;
	}
	PCA_ASSERT(t, lfd >= 0, "no free loop device");
	ld->fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	PCA_ASSERT(t, ld->fd >= 0, "%s with O_DIRECT: %s", path,
		   strerror(errno));
	close(lfd);
}

static void loop_free(struct loopdev *ld)
{
	close(ld->fd);
	close(ld->bfd);
	/* the device unbinds on the last close; drop it if it is idle */
	ioctl(ld->ctl, LOOP_CTL_REMOVE, ld->nr);
	close(ld->ctl);
}

static uint32_t od_hash(size_t pg, uint32_t ver)
{
	uint64_t x = (pg + 1) * 0x9e3779b97f4a7c15ULL ^
		     (ver + 1ULL) * 0xc2b2ae3d27d4eb4fULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	return (uint32_t)(x >> 32) | 1;	/* never 0: zeroes never check */
}

static void od_fill(uint8_t *dst, size_t pg, uint32_t ver)
{
	volatile uint64_t *w = (volatile uint64_t *)dst;
	uint64_t v = (uint64_t)od_hash(pg, ver) << 32 | ver;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = v;
}

/*
 * Copy page @pg from @src to @dst and return the version the copy shows:
 * the lowest of its whole words (words only ever go from one version to a
 * later one, so a copy taken during a write has the older version in some
 * words, the newer in others and maybe a torn word).  -1 if no word is
 * whole.  *@torn counts words that are not.
 */
static int64_t od_copy(uint8_t *dst, const uint8_t *src, size_t pg,
		       size_t *torn)
{
	const volatile uint64_t *s = (const volatile uint64_t *)src;
	uint64_t *d = (uint64_t *)dst, w, prev = 0;
	int64_t lo = -1;
	int whole = 0;
	size_t i;

	*torn = 0;
	/* word by word: TCG runs this faster than a vector memcpy() */
	for (i = 0; i < PAGE / 8; i++) {
		d[i] = w = s[i];
		/* mostly the word before: hash once */
		if (!i || w != prev) {
			whole = (uint32_t)(w >> 32) == od_hash(pg, (uint32_t)w);
			if (whole && (lo < 0 || (uint32_t)w < lo))
				lo = (uint32_t)w;
			prev = w;
		}
		*torn += !whole;
	}
	return lo;
}

static int64_t od_version(const uint8_t *page, size_t pg, size_t *torn)
{
	uint8_t copy[PAGE];

	return od_copy(copy, page, pg, torn);
}

/* One get+clear round of the whole region: by ioctl, netlink, dump. */
static void od_round(struct pca_test_ctx *t, struct region *r, uint64_t k,
		     uint64_t *bits, size_t *nbits)
{
	size_t size = pca_bitmap_bytes(r->pages), i, n = 0;
	uint64_t dirty = 0;

	switch (k % 3) {
	case 0:
		PCA_ASSERT_OK(t, pca_fd_dirty_log(r->fd, 0, r->pages * PAGE,
						  PCA_DIRTY_CLEAR, bits, size,
						  &dirty));
		break;
	case 1:
		PCA_ASSERT_OK(t, pca_dirty_get(t->c, r->id, 0, r->pages * PAGE,
					       PCA_DIRTY_CLEAR, bits, size,
					       &dirty));
		break;
	default:
		PCA_ASSERT_OK(t, pca_dirty_get(t->c, r->id, 0, 0,
					       PCA_DIRTY_CLEAR, bits, size,
					       &dirty));
		break;
	}
	for (i = 0; i < size / 8; i++)
		n += __builtin_popcountll(bits[i]);
	PCA_ASSERT(t, n == dirty, "round %llu: %zu bits set, %llu dirty",
		   (unsigned long long)k, n, (unsigned long long)dirty);
	*nbits = n;
}

struct od_reader {
	struct loopdev *ld;
	struct iovec iov[2];
	ssize_t ret;
	int err;
};

static void *od_reader_fn(void *arg)
{
	struct od_reader *rd = arg;

	rd->ret = preadv(rd->ld->fd, rd->iov, 2, 0);
	rd->err = errno;
	return NULL;
}

/*
 * An O_DIRECT read held between taking its pages and writing them: its
 * destination is a region page and then a missing page of another region,
 * so the block layer has taken the first and waits in the fault of the
 * second, before the I/O is issued, until this test (the agent) places
 * it.  Meanwhile get+clear rounds run: the first page is pinned, so a
 * clear must leave it in the log, and once the read has written it the
 * next round must report it.  Once with the page write-protected when the
 * read takes it (GUP faults, page_mkwrite logs it) and once with it
 * writable (GUP-fast, logged by the CPU write that made it so).
 */
static void odirect_pinned_at_clear(struct pca_test_ctx *t, int huge)
{
	const size_t unit = huge ? OD_UNIT_PAGES : 1, pg = huge ? 37 : 5;
	const size_t pages = huge ? OD_UNIT_PAGES : 16;
	uint64_t bits[OD_UNIT_PAGES / 64], k = 0;
	struct pca_range rg = { .offset = 0, .len = PAGE };
	struct pca_fault_record rec;
	struct region r, b;
	struct od_reader rd;
	struct loopdev ld;
	uint8_t blk[2 * PAGE] __attribute__((aligned(4096)));
	uint32_t ver = 0;
	size_t i, n, torn;
	pthread_t th;
	int variant, got;

	region_new(t, &r, pages, huge ? PCA_REGION_HUGE : 0);
	region_new(t, &b, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, b.id, PCA_POLICY_FAIL, NULL));
	loop_new(t, &ld, 2);
	for (i = 0; i < pages; i++)
		od_fill(r.mem + i * PAGE, i, 0);
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, r.id, 1));

	for (variant = 0; variant < 2; variant++) {
		const char *how = variant ? "writable" : "write-protected";

		od_round(t, &r, k++, bits, &n);	/* drain: all clean */
		if (variant)
			od_fill(r.mem + pg * PAGE, pg, ++ver);
		od_fill(blk, pg, ++ver);
		memset(blk + PAGE, 0x5a, PAGE);
		PCA_ASSERT_EQ(t, pwrite(ld.bfd, blk, 2 * PAGE, 0), 2 * PAGE);

		rd = (struct od_reader){
			.ld = &ld,
			.iov = { { r.mem + pg * PAGE, PAGE },
				 { b.mem, PAGE } },
		};
		PCA_ASSERT_EQ(t, pthread_create(&th, NULL, od_reader_fn, &rd),
			      0);
		got = pca_recv_faults(t->c, &rec, 1, pca_scaled_ms(5000));
		PCA_ASSERT(t, got == 1,
			   "%s: the read did not fault on the missing page: %d",
			   how, got);
		PCA_EXPECT_EQ(t, rec.region_id, b.id);

		/* the read holds the page and has not written it yet */
		PCA_EXPECT_EQ(t, od_version(r.mem + pg * PAGE, pg, &torn),
			      ver - 1);
		od_round(t, &r, k++, bits, &n);
		PCA_EXPECT(t, n == unit && bit(bits, pg),
			   "%s: page %zu taken by the read is not in the first round (%zu bits)",
			   how, pg, n);
		od_round(t, &r, k++, bits, &n);
		PCA_EXPECT(t, n == unit && bit(bits, pg),
			   "%s: page %zu, held by the read, left the log at the first round's clear (%zu bits in the second)",
			   how, pg, n);

		/* place the missing page: the read goes on and writes */
		memset(blk, 0, PAGE);
		PCA_ASSERT_OK(t, pca_fd_copy(b.fd, 0, blk, PAGE, 0, NULL));
		pthread_join(th, NULL);
		PCA_ASSERT(t, rd.ret == 2 * PAGE, "%s: preadv: %zd (%s)", how,
			   rd.ret, strerror(rd.err));
		PCA_EXPECT_EQ(t, od_version(r.mem + pg * PAGE, pg, &torn),
			      ver);
		PCA_EXPECT_EQ(t, b.mem[7], 0x5a);

		od_round(t, &r, k++, bits, &n);
		PCA_EXPECT(t, n == unit && bit(bits, pg),
			   "%s: MISSED: the read wrote page %zu after the second round and the third does not report it (%zu bits)",
			   how, pg, n);
		od_round(t, &r, k++, bits, &n);
		PCA_EXPECT(t, n == 0,
			   "%s: %zu bits after the read let go of the page",
			   how, n);

		/* missing again for the next read */
		PCA_ASSERT_OK(t, ioctl(b.fd, PCA_IOC_DISCARD, &rg) ?
				 -errno : 0);
	}
	loop_free(&ld);
	region_free(&b);
	region_free(&r);
}

static void test_odirect_pinned_at_clear(struct pca_test_ctx *t)
{
	odirect_pinned_at_clear(t, 0);
}

static void test_odirect_huge_pinned_at_clear(struct pca_test_ctx *t)
{
	odirect_pinned_at_clear(t, 1);
}

/*
 * Ground truth with O_DIRECT: writer threads each own a stretch of the
 * region's pages and give a page a new version with every write, by
 * O_DIRECT reads of 1 to OD_MAX_RUN pages (rewriting their blocks of the
 * backing file first) and now and then a store to every word; one more
 * writer only stores, to pages of its own.  A writer publishes a page's
 * version once its write has returned.  The test is the agent: it loops
 * get+clear rounds (ioctl, netlink, netlink dump) and copies the pages
 * each round reports.  Before a round it notes the versions published;
 * after the round its copy of every page must be at least that version.
 * So a write that returned before a round began is in that round's
 * report or was in the copy of an earlier one: a write is missed if
 * neither the round during which it ended nor the next reports the page
 * after it.  After a last round with the writers stopped the copy must
 * equal the region.
 */
#define OD_DIO_WRITERS	2
#define OD_WRITERS	(OD_DIO_WRITERS + 1)
#define OD_MAX_RUN	4	/* pages one O_DIRECT read fills */
#define OD_SECONDS	3
#define OD_SHOW		10	/* misses shown in full */

enum { OD_NONE, OD_DIO, OD_CPU };

struct od_writer {
	struct od *o;
	int idx;
	int dio;		/* does O_DIRECT reads (else only stores) */
	unsigned int pause_us;	/* longest pause after a write */
	size_t first, n;	/* its pages */
	uint64_t dio_reads, dio_pages, cpu_writes;
	int err;		/* errno of a failed read, or 0 */
	ssize_t ret;		/* and what it returned */
	pthread_t th;
};

struct od {
	struct region *r;
	struct loopdev ld;
	_Atomic uint32_t *done;	/* a page's version once written */
	uint64_t *done_round;	/* the round it returned in */
	uint8_t *kind;		/* OD_DIO or OD_CPU: how it was written */
	_Atomic uint64_t round;	/* rounds begun */
	atomic_int stop;
	struct od_writer w[OD_WRITERS];
};

static void *od_writer_fn(void *arg)
{
	struct od_writer *w = arg;
	struct od *o = w->o;
	uint32_t vers[OD_MAX_RUN];
	unsigned int seed = 1234 + w->idx;
	off_t boff = (off_t)w->idx * OD_MAX_RUN * PAGE;
	size_t pg, run, i;
	uint8_t *buf;
	uint64_t rnd;
	int cpu;

	buf = aligned_alloc(PAGE, OD_MAX_RUN * PAGE);
	if (!buf) {
		w->err = ENOMEM;
		return NULL;
	}
	while (!atomic_load(&o->stop)) {
		pg = w->first + rand_r(&seed) % w->n;
		cpu = !w->dio || rand_r(&seed) % 8 == 0;
		run = cpu ? 1 : 1 + rand_r(&seed) % OD_MAX_RUN;
		if (pg + run > w->first + w->n)
			run = w->first + w->n - pg;
		/* the writer owns its pages: nobody else changes them */
		for (i = 0; i < run; i++) {
			vers[i] = 1 + atomic_load_explicit(
				&o->done[pg + i], memory_order_relaxed);
			od_fill(cpu ? o->r->mem + (pg + i) * PAGE :
				      buf + i * PAGE, pg + i, vers[i]);
		}
		if (cpu) {
			w->cpu_writes++;
		} else {
			w->ret = pwrite(o->ld.bfd, buf, run * PAGE, boff);
			if (w->ret != (ssize_t)(run * PAGE)) {
				w->err = w->ret < 0 ? errno : EIO;
				break;
			}
			w->ret = pread(o->ld.fd, o->r->mem + pg * PAGE,
				       run * PAGE, boff);
			if (w->ret != (ssize_t)(run * PAGE)) {
				w->err = w->ret < 0 ? errno : EIO;
				break;
			}
			w->dio_reads++;
			w->dio_pages += run;
		}
		/* the write has returned: from here on a round must see it */
		rnd = atomic_load(&o->round);
		for (i = 0; i < run; i++) {
			o->done_round[pg + i] = rnd;
			o->kind[pg + i] = cpu ? OD_CPU : OD_DIO;
			atomic_store_explicit(&o->done[pg + i], vers[i],
					      memory_order_release);
		}
		if (w->pause_us)
			usleep(rand_r(&seed) % w->pause_us);
	}
	free(buf);
	return NULL;
}

static void odirect_ground_truth(struct pca_test_ctx *t, int huge)
{
	const size_t pages = huge ? 2 * OD_WRITERS * OD_UNIT_PAGES : 1536;
	const size_t unit = huge ? OD_UNIT_PAGES : 1;
	uint64_t k, sent = 0, unchanged = 0, missed = 0, torn_copies = 0;
	uint64_t dio_reads = 0, dio_pages = 0, cpu_writes = 0;
	uint64_t *bits, *last_rep;
	uint32_t *want;
	int64_t *have;
	size_t i, j, n, torn, differ = 0;
	struct timespec end, now;
	struct region r;
	struct od o;
	uint8_t *shadow;
	int w, last = 0;

	region_new(t, &r, pages, huge ? PCA_REGION_HUGE : 0);
	memset(&o, 0, sizeof(o));
	o.r = &r;
	loop_new(t, &o.ld, OD_WRITERS * OD_MAX_RUN);
	o.done = calloc(pages, sizeof(*o.done));
	o.done_round = calloc(pages, sizeof(*o.done_round));
	o.kind = calloc(pages, 1);
	want = calloc(pages, sizeof(*want));
	have = calloc(pages, sizeof(*have));
	last_rep = calloc(pages, sizeof(*last_rep));
	bits = calloc(1, pca_bitmap_bytes(pages));
	shadow = malloc(pages * PAGE);
	PCA_ASSERT(t, o.done && o.done_round && o.kind && want && have &&
		   last_rep && bits && shadow, "out of memory");

	/* version 0 everywhere, in the region and in the agent's copy */
	for (i = 0; i < pages; i++)
		od_fill(r.mem + i * PAGE, i, 0);
	memcpy(shadow, r.mem, pages * PAGE);
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, r.id, 1));

	/*
	 * The CPU writer pauses, or the rounds would spend their time copying
	 * its pages, and the more rounds, the more clears land while a read
	 * is in flight.  In a huge region any write to a unit logs all of
	 * it, so a write the log missed is healed by the next write to its
	 * unit that faults: there every writer owns whole units and pauses,
	 * to leave units untouched for a round now and then, where a miss
	 * shows.
	 */
	for (w = 0; w < OD_WRITERS; w++) {
		i = pages * w / OD_WRITERS;
		o.w[w] = (struct od_writer){
			.o = &o, .idx = w, .dio = w < OD_DIO_WRITERS,
			.pause_us = huge ? 4000 :
				    w >= OD_DIO_WRITERS ? 2000 : 0,
			.first = i,
			.n = pages * (w + 1) / OD_WRITERS - i,
		};
		PCA_ASSERT_EQ(t, pthread_create(&o.w[w].th, NULL, od_writer_fn,
						&o.w[w]), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += OD_SECONDS;
	for (k = 1;; k++) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!last && (now.tv_sec > end.tv_sec ||
			      (now.tv_sec == end.tv_sec &&
			       now.tv_nsec >= end.tv_nsec))) {
			atomic_store(&o.stop, 1);
			for (w = 0; w < OD_WRITERS; w++)
				pthread_join(o.w[w].th, NULL);
			last = 1;
		}
		/* every write that returned before this round begins */
		atomic_store(&o.round, k);
		for (i = 0; i < pages; i++)
			want[i] = atomic_load_explicit(&o.done[i],
						       memory_order_acquire);
		od_round(t, &r, k, bits, &n);

		/* the agent copies what the round reports */
		for (i = 0; i < pages; i += unit) {
			for (j = 1; j < unit; j++)
				if (bit(bits, i + j) != bit(bits, i))
					break;
			PCA_ASSERT(t, j == unit,
				   "round %llu: unit at page %zu reported in part",
				   (unsigned long long)k, i);
			if (!bit(bits, i))
				continue;
			for (j = i; j < i + unit; j++) {
				int64_t before = have[j];

				have[j] = od_copy(shadow + j * PAGE,
						  r.mem + j * PAGE, j, &torn);
				torn_copies += !!torn;
				PCA_ASSERT(t, have[j] >= 0,
					   "round %llu: page %zu holds no stamp of its own: %#llx",
					   (unsigned long long)k, j,
					   *(unsigned long long *)
					   (shadow + j * PAGE));
				unchanged += have[j] == before;
				last_rep[j] = k;
				sent++;
			}
		}

		/* the ground truth: what returned before the round is in */
		for (i = 0; i < pages; i++) {
			if (have[i] >= (int64_t)want[i])
				continue;
			if (missed++ < OD_SHOW)
				pca_t_diag(t, "round %llu: MISSED page %zu: version %u (%s, returned in round %llu) is not in the agent's copy, which has version %lld from round %llu",
					   (unsigned long long)k, i, want[i],
					   o.kind[i] == OD_DIO ?
					   "O_DIRECT read" : "CPU stores",
					   (unsigned long long)o.done_round[i],
					   (long long)have[i],
					   (unsigned long long)last_rep[i]);
			/* once a version: a later report may bring it */
			have[i] = want[i];
		}
		if (last)
			break;
	}

	for (w = 0; w < OD_WRITERS; w++) {
		PCA_EXPECT(t, !o.w[w].err, "writer %d: %zd: %s", w,
			   o.w[w].ret, strerror(o.w[w].err));
		dio_reads += o.w[w].dio_reads;
		dio_pages += o.w[w].dio_pages;
		cpu_writes += o.w[w].cpu_writes;
	}
	for (i = 0; i < pages; i++) {
		if (!memcmp(shadow + i * PAGE, r.mem + i * PAGE, PAGE) ||
		    differ++ >= OD_SHOW)
			continue;
		pca_t_diag(t, "page %zu differs at the end: the copy has version %lld, the region %lld",
			   i,
			   (long long)od_version(shadow + i * PAGE, i, &torn),
			   (long long)od_version(r.mem + i * PAGE, i, &torn));
	}
	pca_t_diag(t, "%llu O_DIRECT reads (%llu pages), %llu CPU writes, %llu rounds, %llu pages sent (%llu unchanged, %llu torn copies), %llu writes missed, %zu pages differ at the end",
		   (unsigned long long)dio_reads, (unsigned long long)dio_pages,
		   (unsigned long long)cpu_writes, (unsigned long long)k,
		   (unsigned long long)sent, (unsigned long long)unchanged,
		   (unsigned long long)torn_copies, (unsigned long long)missed,
		   differ);
	PCA_EXPECT_EQ(t, missed, 0);
	PCA_EXPECT_EQ(t, differ, 0);
	PCA_EXPECT(t, dio_reads >= 50 && k > 10,
		   "too little done: %llu reads, %llu rounds",
		   (unsigned long long)dio_reads, (unsigned long long)k);
	free(shadow);
	free(bits);
	free(last_rep);
	free(have);
	free(want);
	free(o.kind);
	free(o.done_round);
	free(o.done);
	loop_free(&o.ld);
	region_free(&r);
}

static void test_odirect_ground_truth(struct pca_test_ctx *t)
{
	odirect_ground_truth(t, 0);
}

static void test_odirect_huge_ground_truth(struct pca_test_ctx *t)
{
	odirect_ground_truth(t, 1);
}

static void test_bad_input(struct pca_test_ctx *t)
{
	struct pca_dirty_log dl;
	uint64_t bits[2];
	struct region r;
	struct nl_log l;
	struct nl_msg *m;

	region_new(t, &r, 100, 0);
	/* Never tracked: nothing to read. */
	PCA_EXPECT_ERR(t, fd_log(r.fd, 100, NULL, PCA_DIRTY_COUNT_ONLY),
		       ENODATA);
	memset(&l, 0, sizeof(l));
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 0, 0, -1, 0, &l), ENODATA);
	PCA_ASSERT_OK(t, track(t, r.id, 1));
	r.mem[0] = 1;

	dl = (struct pca_dirty_log){ .len = 100 * PAGE,
				     .bitmap = (uintptr_t)bits,
				     .bitmap_size = 8 };
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0,
		       ENOSPC);
	dl.bitmap_size = 16;
	dl.offset = 100;
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0,
		       EINVAL);
	dl.offset = PAGE;
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0,
		       ERANGE);
	dl.offset = 0;
	dl.flags = 0x80;
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0,
		       EINVAL);
	dl.flags = PCA_DIRTY_CLEAR | PCA_DIRTY_COUNT_ONLY;
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0,
		       EINVAL);
	dl.flags = PCA_DIRTY_CLEAR;
	dl.bitmap = 16;
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0,
		       EFAULT);

	memset(&l, 0, sizeof(l));
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 0, 0, 3, PAGE, &l), EINVAL);
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 0, 0, 0, 101 * PAGE, &l), ERANGE);
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 0, 0x10, -1, 0, &l), EINVAL);
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 0, PCA_DIRTY_CLEAR |
				    PCA_DIRTY_COUNT_ONLY, -1, 0, &l), EINVAL);
	PCA_EXPECT_EXTACK(t, nl_get(t, r.id, 1, 0, 0, 0, &l), EINVAL);
	PCA_EXPECT_EXTACK(t, track(t, r.id, 2), ERANGE);
	m = pca_msg_new(t->c, PCA_CMD_DIRTY_TRACK, 0);
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	PCA_EXPECT_EXTACK(t, pca_request(t->c, m, NULL, NULL), EINVAL);
	m = pca_msg_new(t->c, PCA_CMD_DIRTY_CLEAR, 0);
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	PCA_EXPECT_EXTACK(t, pca_request(t->c, m, NULL, NULL), EINVAL);

	/* Nothing was lost to the bad calls, the EFAULT one included. */
	PCA_EXPECT_EQ(t, fd_log(r.fd, 100, NULL, PCA_DIRTY_COUNT_ONLY), 1);
	region_free(&r);
}

/* QEMU's memory-backend-file takes a path: /proc/<pid>/fd/<n> is one. */
static void test_reopen_by_path(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	uint8_t data[PAGE];
	struct region r;
	char path[64];
	uint8_t *m2;
	int fd2;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", r.fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	PCA_ASSERT(t, fd2 >= 0, "open %s: %s", path, strerror(errno));
	PCA_EXPECT_EQ(t, lseek(fd2, 0, SEEK_END), 4 * PAGE);
	PCA_EXPECT_EQ(t, lseek(fd2, 0, SEEK_SET), 0);
	m2 = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	PCA_ASSERT(t, m2 != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(data, 0x42, PAGE);
	PCA_ASSERT_OK(t, pca_fd_copy(fd2, PAGE, data, PAGE, 0, NULL));
	PCA_EXPECT_EQ(t, m2[PAGE + 9], 0x42);
	PCA_EXPECT_EQ(t, r.mem[PAGE + 9], 0x42);

	/* The first fd goes; the region lives on through the second. */
	region_free(&r);
	PCA_ASSERT_OK(t, pca_region_get(t->c, r.id, &info));
	m2[PAGE] = 1;
	munmap(m2, 4 * PAGE);
	close(fd2);
	PCA_EXPECT_ERR(t, pca_region_get(t->c, r.id, &info), ENOENT);
}

PCA_TEST_F(basic, test_basic, PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(discard_during_report, test_discard_during_report,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_DISCARD)
PCA_TEST_F(second_mapping_and_fork, test_second_mapping_and_fork,
	 PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(mappings_made_before, test_mappings_made_before,
	 PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(failed_fork, test_failed_fork, PCA_FEATURE_DIRTY_LOG,
	 .timeout = 300)
PCA_TEST_F(kernel_write, test_kernel_write, PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(clear_range, test_clear_range, PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(tracking_off, test_tracking_off, PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(copy_starts_clean, test_copy_starts_clean,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(write_after_premap, test_write_after_premap,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(netlink_get_and_dump, test_netlink_get_and_dump,
	 PCA_FEATURE_DIRTY_LOG, .timeout = 120)
PCA_TEST_F(ground_truth, test_ground_truth, PCA_FEATURE_DIRTY_LOG,
	 .timeout = 120)
PCA_TEST_F(odirect_pinned_at_clear, test_odirect_pinned_at_clear,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_MISSING |
	 PCA_FEATURE_FD_RESOLVE | PCA_FEATURE_DISCARD)
PCA_TEST_F(odirect_huge_pinned_at_clear,
	 test_odirect_huge_pinned_at_clear,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_HUGE |
	 PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE |
	 PCA_FEATURE_DISCARD)
PCA_TEST_F(odirect_ground_truth, test_odirect_ground_truth,
	 PCA_FEATURE_DIRTY_LOG, .timeout = 120)
PCA_TEST_F(odirect_huge_ground_truth, test_odirect_huge_ground_truth,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_HUGE, .timeout = 120)
PCA_TEST_F(bad_input, test_bad_input, PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(reopen_by_path, test_reopen_by_path, PCA_FEATURE_FD_RESOLVE)

TEST_HARNESS_MAIN
