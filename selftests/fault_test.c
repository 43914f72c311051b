// SPDX-License-Identifier: GPL-2.0
/*
 * fault_test: regions, missing-page faults forwarded over netlink, and
 * their resolution with COPY, ZERO and WAKE.
 *
 * Threads that touch a missing page stand for vCPUs; the test itself (or a
 * resolver thread) plays the agent: it attaches a netlink socket to the
 * region, reads fault records and resolves them.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "pca_region_util.h"

#define WAIT_MS		5000	/* longest wait for an event that must come */
#define QUIET_MS	300	/* how long "nothing happens" is watched */
#define NOBODY		65534

static void fill(uint8_t *buf, uint64_t seed)
{
	uint64_t *w = (uint64_t *)buf;
	size_t i;

	for (i = 0; i < PAGE / 8; i++)
		w[i] = seed * 0x9e3779b97f4a7c15ULL + i;
}

static int check(const uint8_t *buf, uint64_t seed)
{
	uint8_t want[PAGE];

	fill(want, seed);
	return !memcmp(buf, want, PAGE);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* A thread that touches one page, as a vCPU would. */
struct toucher {
	pthread_t th;
	volatile uint8_t *addr;
	int write;
	pid_t tid;
	uint8_t first;		/* the byte read */
	atomic_int done;
};

static void *toucher_fn(void *arg)
{
	struct toucher *k = arg;

	k->tid = syscall(SYS_gettid);
	if (k->write)
		*k->addr = 0x5a;
	else
		k->first = *k->addr;
	atomic_store(&k->done, 1);
	return NULL;
}

static void touch_start(struct pca_test_ctx *t, struct toucher *k,
			void *addr, int write)
{
	memset(k, 0, sizeof(*k));
	k->addr = addr;
	k->write = write;
	PCA_ASSERT_EQ(t, pthread_create(&k->th, NULL, toucher_fn, k), 0);
}

static int wait_done(struct toucher *k, int ms)
{
	uint64_t end = now_ns() + ms * 1000000ULL;

	while (!atomic_load(&k->done)) {
		if (now_ns() > end)
			return 0;
		usleep(1000);
	}
	pthread_join(k->th, NULL);
	return 1;
}

static struct pca_fault_record one_fault(struct pca_test_ctx *t,
					 struct pca_client *c)
{
	struct pca_fault_record rec;
	int n = pca_recv_faults(c, &rec, 1, WAIT_MS);

	PCA_ASSERT(t, n == 1, "expected a fault record, got %d: %s", n,
		   n < 0 ? pca_strerror(c) : "timeout");
	/* a region of pages: a fault is resolved a page at a time */
	PCA_EXPECT_EQ(t, rec.length, PAGE);
	/* room to grow, zeroed until a feature gives it meaning */
	for (n = 0; n < (int)(sizeof(rec.reserved) / sizeof(rec.reserved[0]));
	     n++)
		PCA_EXPECT(t, !rec.reserved[n], "record reserved[%d] = %#llx",
			   n, (unsigned long long)rec.reserved[n]);
	return rec;
}

/* No fault record arrives for QUIET_MS. */
static void no_fault(struct pca_test_ctx *t, struct pca_client *c)
{
	struct pca_fault_record rec;
	int n = pca_recv_faults(c, &rec, 1, QUIET_MS);

	PCA_EXPECT(t, n == 0, "unexpected record (%d), offset %llu", n,
		   n > 0 ? (unsigned long long)rec.offset : 0ULL);
}

static void get_info(struct pca_test_ctx *t, uint32_t id,
		     struct pca_region_info *info)
{
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, info));
}

/* ---- basic resolution ------------------------------------------------ */

static void test_single_fault_copy(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct pca_fault_record rec;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem + 2 * PAGE + 100, 0);

	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.region_id, r.id);
	PCA_EXPECT_EQ(t, rec.offset, 2 * PAGE);
	PCA_EXPECT_EQ(t, rec.flags, 0);
	PCA_EXPECT(t, rec.time_ns > 0 && rec.time_ns <= now_ns(), "time");
	PCA_EXPECT(t, !atomic_load(&k.done), "toucher ran past a missing page");

	fill(data, 7);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 2 * PAGE, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	PCA_EXPECT_EQ(t, rec.tid, k.tid);
	PCA_EXPECT_EQ(t, k.first, data[100]);
	PCA_EXPECT(t, check(r.mem + 2 * PAGE, 7), "page content differs");

	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.pages_present, 1);
	PCA_EXPECT_EQ(t, info.stats.faults, 1);
	PCA_EXPECT_EQ(t, info.stats.pages_copied, 1);
	PCA_EXPECT_EQ(t, info.stats.faults_pending, 0);
	region_free(&r);
}

static void test_write_fault_flags(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem + 8, 1);
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.flags, PCA_FAULT_WRITE);
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	PCA_EXPECT_EQ(t, r.mem[8], 0x5a);
	PCA_EXPECT_EQ(t, r.mem[9], data[9]);
	region_free(&r);
}

static void test_zero(struct pca_test_ctx *t)
{
	struct toucher k[2];
	struct region r;
	size_t i;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k[0], r.mem + PAGE, 0);
	touch_start(t, &k[1], r.mem + 3 * PAGE, 0);
	one_fault(t, t->c);
	one_fault(t, t->c);
	PCA_ASSERT_OK(t, pca_zero(t->c, r.id, PAGE, 3 * PAGE, 0, NULL));
	PCA_ASSERT(t, wait_done(&k[0], WAIT_MS), "toucher 0 not woken");
	PCA_ASSERT(t, wait_done(&k[1], WAIT_MS), "toucher 1 not woken");
	for (i = PAGE; i < 4 * PAGE; i++)
		if (r.mem[i])
			PCA_FATAL(t, "byte %zu not zero", i);
	/* Page 0 stayed missing: ZERO over present pages says so. */
	PCA_EXPECT_ERR(t, pca_zero(t->c, r.id, 0, 2 * PAGE, 0, NULL), EEXIST);
	region_free(&r);
}

static void test_fd_copy(struct pca_test_ctx *t)
{
	struct toucher k;
	struct region r;
	uint8_t data[2 * PAGE];
	int64_t copied = 0;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem + PAGE, 0);
	one_fault(t, t->c);
	fill(data, 3);
	fill(data + PAGE, 4);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, 2 * PAGE, 0, &copied));
	PCA_EXPECT_EQ(t, copied, 2 * PAGE);
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	PCA_EXPECT(t, check(r.mem, 3) && check(r.mem + PAGE, 4), "content");
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, &copied),
		       EEXIST);
	PCA_EXPECT_EQ(t, copied, 0);
	region_free(&r);
}

static void test_wake_after_dontwake(struct pca_test_ctx *t)
{
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem, 0);
	one_fault(t, t->c);
	fill(data, 9);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, PCA_RESOLVE_DONTWAKE,
				  NULL));
	usleep(QUIET_MS * 1000);
	PCA_EXPECT(t, !atomic_load(&k.done), "DONTWAKE woke the waiter");
	PCA_ASSERT_OK(t, pca_wake(t->c, r.id, 0, PAGE));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "WAKE did not wake");
	PCA_EXPECT_EQ(t, k.first, data[0]);
	region_free(&r);
}

static void test_wake_without_page_refaults(struct pca_test_ctx *t)
{
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem, 0);
	one_fault(t, t->c);
	/* A spurious WAKE: the thread retries and faults again. */
	PCA_ASSERT_OK(t, pca_wake(t->c, r.id, 0, PAGE));
	one_fault(t, t->c);
	PCA_EXPECT(t, !atomic_load(&k.done), "woke without a page");
	fill(data, 2);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "not woken");
	region_free(&r);
}

static void test_two_threads_one_page(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct toucher k[2];
	struct region r;
	uint8_t data[PAGE];

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k[0], r.mem + 1, 0);
	one_fault(t, t->c);
	touch_start(t, &k[1], r.mem + 2000, 0);
	usleep(QUIET_MS * 1000);
	no_fault(t, t->c);	/* the second thread joined the first fault */
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.stats.faults, 1);
	PCA_EXPECT_EQ(t, info.stats.faults_coalesced, 1);
	fill(data, 5);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k[0], WAIT_MS), "first not woken");
	PCA_ASSERT(t, wait_done(&k[1], WAIT_MS), "second not woken");
	PCA_EXPECT_EQ(t, k[0].first, data[1]);
	PCA_EXPECT_EQ(t, k[1].first, data[2000]);
	region_free(&r);
}

static void test_eexist_still_wakes(struct pca_test_ctx *t)
{
	struct toucher k;
	struct region r;
	uint8_t data[PAGE], other[PAGE];
	int64_t copied;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem, 0);
	one_fault(t, t->c);
	/* The background stream places the page but does not wake... */
	fill(data, 11);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE,
				     PCA_RESOLVE_DONTWAKE, &copied));
	usleep(100 * 1000);
	PCA_EXPECT(t, !atomic_load(&k.done), "DONTWAKE woke");
	/* ...then the urgent reply loses the race: EEXIST, and it wakes. */
	fill(other, 12);
	PCA_EXPECT_ERR(t, pca_copy(t->c, r.id, 0, other, 0, NULL), EEXIST);
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "EEXIST did not wake");
	PCA_EXPECT(t, check(r.mem, 11), "first copy must win");
	region_free(&r);
}

/* ---- many threads ---------------------------------------------------- */

struct resolver {
	pthread_t th;
	struct pca_client *c;
	struct region *r;
	atomic_int stop;
	atomic_long served;
	int zero;		/* serve zero pages instead of patterns */
	int err;
};

static void *resolver_fn(void *arg)
{
	struct pca_fault_record recs[64];
	struct resolver *s = arg;
	uint8_t data[PAGE];
	int n, i, ret;

	while (!atomic_load(&s->stop)) {
		n = pca_recv_faults(s->c, recs, 64, 50);
		if (n == -ENOBUFS) {
			pca_fault_resend(s->c, s->r->id);
			continue;
		}
		if (n < 0) {
			s->err = n;
			break;
		}
		for (i = 0; i < n; i++) {
			if (s->zero)
				memset(data, 0, PAGE);
			else
				fill(data, recs[i].offset / PAGE);
			ret = pca_fd_copy(s->r->fd, recs[i].offset, data, PAGE,
					  0, NULL);
			if (ret && ret != -EEXIST) {
				s->err = ret;
				return NULL;
			}
			atomic_fetch_add(&s->served, 1);
		}
	}
	return NULL;
}

static void resolver_start(struct pca_test_ctx *t, struct resolver *s,
			   struct region *r, int zero)
{
	memset(s, 0, sizeof(*s));
	s->r = r;
	s->zero = zero;
	PCA_ASSERT_OK(t, pca_client_open(&s->c));
	PCA_ASSERT_OK(t, pca_attach(s->c, r->id, PCA_POLICY_FAIL, NULL));
	PCA_ASSERT_EQ(t, pthread_create(&s->th, NULL, resolver_fn, s), 0);
}

static void resolver_stop(struct pca_test_ctx *t, struct resolver *s)
{
	atomic_store(&s->stop, 1);
	pthread_join(s->th, NULL);
	PCA_EXPECT_EQ(t, s->err, 0);
	pca_client_close(s->c);
}

#define MT_THREADS	8
#define MT_PAGES	64

struct mt_arg {
	struct region *r;
	int idx;
	int bad;
};

static void *mt_fn(void *arg)
{
	struct mt_arg *a = arg;
	size_t p;

	/* Every thread reads every page, from a different starting point. */
	for (p = 0; p < MT_PAGES; p++) {
		size_t pg = (p + a->idx * 7) % MT_PAGES;

		if (!check(a->r->mem + pg * PAGE, pg))
			a->bad++;
	}
	return NULL;
}

static void test_many_threads_many_pages(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct mt_arg args[MT_THREADS];
	pthread_t th[MT_THREADS];
	struct resolver s;
	struct region r;
	int i;

	region_new(t, &r, MT_PAGES, PCA_REGION_MISSING);
	resolver_start(t, &s, &r, 0);
	for (i = 0; i < MT_THREADS; i++) {
		args[i] = (struct mt_arg){ .r = &r, .idx = i };
		PCA_ASSERT_EQ(t, pthread_create(&th[i], NULL, mt_fn, &args[i]),
			      0);
	}
	for (i = 0; i < MT_THREADS; i++) {
		pthread_join(th[i], NULL);
		PCA_EXPECT_EQ(t, args[i].bad, 0);
	}
	resolver_stop(t, &s);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.pages_present, MT_PAGES);
	PCA_EXPECT_EQ(t, info.stats.pages_copied, MT_PAGES);
	PCA_EXPECT(t, info.stats.faults >= MT_PAGES, "faults %llu",
		   (unsigned long long)info.stats.faults);
	pca_t_diag(t, "faults %llu coalesced %llu eexist %llu",
		   (unsigned long long)info.stats.faults,
		   (unsigned long long)info.stats.faults_coalesced,
		   (unsigned long long)info.stats.copy_eexist);
	region_free(&r);
}

/*
 * Stress in the spirit of uffd-stress: threads increment their own counter
 * slot in random pages while a resolver serves zero pages.  A page placed
 * twice, or a write lost to a late placement, breaks the final sums.
 */
#define ST_THREADS	4
#define ST_PAGES	256
#define ST_INCS		20000

struct st_arg {
	struct region *r;
	int idx;
};

static void *st_fn(void *arg)
{
	struct st_arg *a = arg;
	unsigned int seed = a->idx + 1;
	int i;

	for (i = 0; i < ST_INCS; i++) {
		size_t pg = rand_r(&seed) % ST_PAGES;
		uint64_t *slot = (uint64_t *)(a->r->mem + pg * PAGE) + a->idx;

		__atomic_fetch_add(slot, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void test_stress_counts_exact(struct pca_test_ctx *t)
{
	struct st_arg args[ST_THREADS];
	pthread_t th[ST_THREADS];
	struct resolver s;
	struct region r;
	int i;
	size_t pg;

	region_new(t, &r, ST_PAGES, PCA_REGION_MISSING);
	resolver_start(t, &s, &r, 1);
	for (i = 0; i < ST_THREADS; i++) {
		args[i] = (struct st_arg){ .r = &r, .idx = i };
		PCA_ASSERT_EQ(t, pthread_create(&th[i], NULL, st_fn, &args[i]),
			      0);
	}
	for (i = 0; i < ST_THREADS; i++)
		pthread_join(th[i], NULL);
	resolver_stop(t, &s);
	for (i = 0; i < ST_THREADS; i++) {
		uint64_t sum = 0;

		for (pg = 0; pg < ST_PAGES; pg++)
			sum += ((uint64_t *)(r.mem + pg * PAGE))[i];
		PCA_EXPECT_EQ(t, sum, ST_INCS);
	}
	region_free(&r);
}

/* Two queues on one region: faults from both CPUs reach both sockets. */
static void test_sharded_queues(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct pca_client *c2;
	struct toucher k;
	struct region r;
	uint32_t q1, q2, seen = 0;
	uint8_t data[PAGE];
	int cpu, n;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		PCA_SKIP(t, "needs 2 CPUs");
	region_new(t, &r, 16, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_client_open(&c2));
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, &q1));
	PCA_ASSERT_OK(t, pca_attach(c2, r.id, PCA_POLICY_FAIL, &q2));
	PCA_EXPECT(t, q1 != q2, "queue ids must differ");
	fill(data, 0);
	for (cpu = 0; cpu < 2; cpu++) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		PCA_ASSERT_OK(t, sched_setaffinity(0, sizeof(set), &set));
		/* The thread inherits the affinity. */
		touch_start(t, &k, r.mem + cpu * PAGE, 0);
		n = pca_recv_faults(t->c, &rec, 1, 1000);
		if (n != 1)
			n = pca_recv_faults(c2, &rec, 1, WAIT_MS);
		PCA_ASSERT(t, n == 1, "no record for cpu %d", cpu);
		seen |= 1U << (rec.queue_id == q1 ? 0 : 1);
		PCA_ASSERT_OK(t, pca_copy(t->c, r.id, cpu * PAGE, data, 0,
					  NULL));
		PCA_ASSERT(t, wait_done(&k, WAIT_MS), "not woken");
	}
	PCA_EXPECT_EQ(t, seen, 3);
	pca_client_close(c2);
	region_free(&r);
}

/* ---- kernel-originated accesses --------------------------------------- */

static void *pipe_read_fn(void *arg)
{
	void **a = arg;
	long n = read((int)(long)a[0], a[1], PAGE);

	a[2] = (void *)(n < 0 ? (long)-errno : n);
	return NULL;
}

static void test_kernel_read_into_region(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	uint8_t src[PAGE], data[PAGE];
	struct region r;
	pthread_t th;
	void *a[3];
	int p[2];

	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	PCA_ASSERT_OK(t, pipe(p));
	fill(src, 21);
	PCA_ASSERT_EQ(t, write(p[1], src, PAGE), PAGE);
	a[0] = (void *)(long)p[0];
	a[1] = r.mem + PAGE;
	a[2] = NULL;
	/* read() copies into the missing page from inside the kernel. */
	PCA_ASSERT_EQ(t, pthread_create(&th, NULL, pipe_read_fn, a), 0);
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.offset, PAGE);
	PCA_EXPECT_EQ(t, rec.flags, PCA_FAULT_WRITE | PCA_FAULT_KERNEL);
	fill(data, 22);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, PAGE, data, 0, NULL));
	pthread_join(th, NULL);
	PCA_EXPECT_EQ(t, (long)a[2], PAGE);
	PCA_EXPECT(t, check(r.mem + PAGE, 21), "read() data not in region");
	close(p[0]);
	close(p[1]);
	region_free(&r);
}

static void test_user_only(struct pca_test_ctx *t)
{
	uint8_t src[PAGE], data[PAGE];
	struct toucher k;
	struct region r;
	int p[2];

	region_new(t, &r, 1, PCA_REGION_MISSING | PCA_REGION_USER_ONLY);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	PCA_ASSERT_OK(t, pipe(p));
	fill(src, 1);
	PCA_ASSERT_EQ(t, write(p[1], src, PAGE), PAGE);
	/* The kernel may not wait: read() fails at once, nothing queued. */
	errno = 0;
	PCA_EXPECT_EQ(t, read(p[0], r.mem, PAGE), -1);
	PCA_EXPECT_EQ(t, errno, EFAULT);
	no_fault(t, t->c);
	/* User accesses still wait and resolve. */
	touch_start(t, &k, r.mem, 0);
	one_fault(t, t->c);
	fill(data, 2);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "not woken");
	/* Present now, so the kernel access works too. */
	PCA_EXPECT_EQ(t, read(p[0], r.mem, PAGE), PAGE);
	PCA_EXPECT(t, check(r.mem, 1), "read() data");
	close(p[0]);
	close(p[1]);
	region_free(&r);
}

/* ---- agents that go away ---------------------------------------------- */

/* Fork a child that touches page @pg; returns its pid. */
static pid_t child_touch(struct pca_test_ctx *t, struct region *r, size_t pg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		volatile uint8_t v;

		/* Agent sockets must not live on in the child. */
		close_range(3, ~0U, 0);
		v = r->mem[pg * PAGE];

		_exit(v == (uint8_t)0xee ? 3 : 0);
	}
	return pid;
}

static int child_status(pid_t pid, int ms)
{
	uint64_t end = now_ns() + ms * 1000000ULL;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ns() > end)
			return -1;
		usleep(2000);
	}
	return status;
}

static void test_no_agent_sigbus(struct pca_test_ctx *t)
{
	struct region r;
	int status;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	status = child_status(child_touch(t, &r, 0), WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status) &&
		   WTERMSIG(status) == SIGBUS, "status %#x", status);
	region_free(&r);
}

static void test_detach_fail_sigbus(struct pca_test_ctx *t)
{
	struct region r;
	pid_t pid;
	int status;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	pid = child_touch(t, &r, 1);
	one_fault(t, t->c);
	PCA_EXPECT_EQ(t, child_status(pid, QUIET_MS), -1);
	PCA_ASSERT_OK(t, pca_detach(t->c, r.id));
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status) &&
		   WTERMSIG(status) == SIGBUS, "status %#x", status);
	PCA_EXPECT_ERR(t, pca_detach(t->c, r.id), ENOENT);
	region_free(&r);
}

static void test_agent_death_fail_sigbus(struct pca_test_ctx *t)
{
	struct pca_client *c2;
	struct region r;
	pid_t pid;
	int status;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_client_open(&c2));
	PCA_ASSERT_OK(t, pca_attach(c2, r.id, PCA_POLICY_FAIL, NULL));
	pid = child_touch(t, &r, 0);
	one_fault(t, c2);
	/* Closing the socket is what an agent's death does. */
	pca_client_close(c2);
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status) &&
		   WTERMSIG(status) == SIGBUS, "status %#x", status);
	region_free(&r);
}

static void test_detach_wait_reattach(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct pca_fault_record rec;
	struct pca_client *c2;
	struct region r;
	uint8_t data[PAGE];
	pid_t pid;
	int status;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_client_open(&c2));
	PCA_ASSERT_OK(t, pca_attach(c2, r.id, PCA_POLICY_WAIT, NULL));
	pid = child_touch(t, &r, 1);
	one_fault(t, c2);
	pca_client_close(c2);	/* the agent crashes */
	PCA_EXPECT_EQ(t, child_status(pid, QUIET_MS), -1);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.queues, 0);
	PCA_EXPECT_EQ(t, info.stats.faults_pending, 1);

	/* A new agent attaches and is told about the blocked fault. */
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_WAIT, NULL));
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.offset, PAGE);
	fill(data, 0);
	data[0] = 0xee;
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, PAGE, data, 0, NULL));
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 3, "status %#x", status);
	region_free(&r);
}

/*
 * An agent restarted after a crash attaches without naming a policy: the
 * region keeps the one its VMM chose, so a blocked guest is not failed
 * (SIGBUS) by the agent that is about to serve it.
 */
static void test_attach_keeps_policy(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct pca_client *c2;
	struct region r;
	uint8_t data[PAGE];
	pid_t pid;
	int status;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.policy, PCA_POLICY_FAIL);
	PCA_ASSERT_OK(t, pca_client_open(&c2));
	PCA_ASSERT_OK(t, pca_attach(c2, r.id, PCA_POLICY_WAIT, NULL));
	pid = child_touch(t, &r, 1);
	one_fault(t, c2);
	pca_client_close(c2);	/* the agent crashes */

	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_UNCHANGED, NULL));
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.policy, PCA_POLICY_WAIT);
	one_fault(t, t->c);
	/* detaching again leaves the fault waiting, as WAIT says */
	PCA_ASSERT_OK(t, pca_detach(t->c, r.id));
	PCA_EXPECT_EQ(t, child_status(pid, QUIET_MS), -1);

	/* naming a policy still sets it */
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.policy, PCA_POLICY_FAIL);
	one_fault(t, t->c);
	fill(data, 0);
	data[0] = 0xee;
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, PAGE, data, 0, NULL));
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 3, "status %#x", status);
	region_free(&r);
}

/* ---- signals ---------------------------------------------------------- */

static atomic_int signals_handled;

static void count_signal(int sig)
{
	(void)sig;
	atomic_fetch_add(&signals_handled, 1);
}

/*
 * A thread waiting for a missing page handles a non-fatal signal at once
 * (a VMM kicks a vCPU thread out of the guest with one), then waits again
 * for the same page, without a second fault record; it gets its page when
 * the agent places it.
 */
static void test_signal_while_waiting(struct pca_test_ctx *t)
{
	struct sigaction sa = { .sa_handler = count_signal }, old;
	struct pca_fault_record rec;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	uint64_t end;
	int i;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	atomic_store(&signals_handled, 0);
	sigemptyset(&sa.sa_mask);
	PCA_ASSERT_OK(t, sigaction(SIGUSR1, &sa, &old) ? -errno : 0);
	touch_start(t, &k, r.mem, 0);
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.offset, 0);

	for (i = 1; i <= 3; i++) {
		pthread_kill(k.th, SIGUSR1);
		end = now_ns() + pca_scaled_ms(WAIT_MS) * 1000000ULL;
		while (atomic_load(&signals_handled) < i && now_ns() < end)
			usleep(1000);
		PCA_EXPECT_EQ(t, atomic_load(&signals_handled), i);
	}
	PCA_EXPECT(t, !atomic_load(&k.done), "the access completed unserved");
	/* back to waiting for the same fault: no new record */
	no_fault(t, t->c);

	fill(data, 7);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, pca_scaled_ms(WAIT_MS)),
		   "not woken by COPY after the signals");
	PCA_EXPECT_EQ(t, k.first, data[0]);
	sigaction(SIGUSR1, &old, NULL);
	region_free(&r);
}

/* ---- memory cgroups -------------------------------------------------- */

#define CGROOT		"/sys/fs/cgroup"

static long long cg_read(const char *path)
{
	char buf[64] = "";
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoll(buf) : -EIO;
}

static void cg_enter(struct pca_test_ctx *t, const char *dir)
{
	char path[128], pid[32];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	PCA_ASSERT_OK(t, pca_write_file(path, pid));
}

/*
 * Guest memory is charged to the memory cgroup of the process that
 * created the region (the VMM), never to the agent that placed the page.
 */
static void test_memcg_charges_creator(struct pca_test_ctx *t)
{
	const size_t pages = 2048;	/* 8 MiB */
	const char *vmm = CGROOT "/pca-vmm", *agent = CGROOT "/pca-agent";
	long long vmm0, agent0, vmm1, agent1;
	int64_t done = 0;
	struct region r;

	mkdir(CGROOT, 0755);
	if (mount("cgroup2", CGROOT, "cgroup2", 0, NULL) && errno != EBUSY)
		PCA_SKIP(t, "no cgroup2: %s", strerror(errno));
	if (pca_write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		PCA_SKIP(t, "no memory controller");
	rmdir(vmm);
	rmdir(agent);
	PCA_ASSERT_OK(t, mkdir(vmm, 0755) ? -errno : 0);
	PCA_ASSERT_OK(t, mkdir(agent, 0755) ? -errno : 0);

	cg_enter(t, vmm);
	region_new(t, &r, pages, 0);
	cg_enter(t, agent);
	vmm0 = cg_read(CGROOT "/pca-vmm/memory.current");
	agent0 = cg_read(CGROOT "/pca-agent/memory.current");
	PCA_ASSERT_OK(t, pca_fd_zero(r.fd, 0, pages * PAGE, 0, &done));
	PCA_EXPECT_EQ(t, done, (int64_t)(pages * PAGE));
	vmm1 = cg_read(CGROOT "/pca-vmm/memory.current");
	agent1 = cg_read(CGROOT "/pca-agent/memory.current");
	pca_t_diag(t, "vmm %lld -> %lld, agent %lld -> %lld bytes", vmm0,
		   vmm1, agent0, agent1);
	/* other charges of the cgroup come and go: allow a tenth */
	PCA_EXPECT(t, vmm1 - vmm0 >= (long long)(pages * PAGE) * 9 / 10,
		   "the creator's cgroup grew by %lld bytes for %zu pages",
		   vmm1 - vmm0, pages);
	PCA_EXPECT(t, agent1 - agent0 < (long long)(pages * PAGE) / 4,
		   "the placing process's cgroup grew by %lld bytes",
		   agent1 - agent0);

	region_free(&r);
	cg_enter(t, CGROOT);
	rmdir(vmm);
	rmdir(agent);
}

static void test_resend_on_request(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem, 0);
	one_fault(t, t->c);
	/* An agent that lost track asks again: the fault is still pending. */
	PCA_ASSERT_OK(t, pca_fault_resend(t->c, r.id));
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.offset, 0);
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "not woken");
	region_free(&r);
}

/* The VMM dies while its threads wait: nothing stays behind. */
static void test_vmm_killed_while_waiting(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	int sync[2], go[2], status;
	uint32_t id;
	pid_t pid;

	PCA_ASSERT_OK(t, pipe(sync));
	PCA_ASSERT_OK(t, pipe(go));
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		struct region r;
		struct toucher k[3];
		char c;
		int i;

		region_new(t, &r, 4, PCA_REGION_MISSING);
		if (write(sync[1], &r.id, sizeof(r.id)) != sizeof(r.id))
			_exit(1);
		/* Touch only once the agent is attached. */
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		for (i = 0; i < 3; i++)
			touch_start(t, &k[i], r.mem + i * PAGE, 0);
		pause();
		_exit(0);
	}
	PCA_ASSERT_EQ(t, read(sync[0], &id, sizeof(id)), sizeof(id));
	PCA_ASSERT_OK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL));
	PCA_ASSERT_EQ(t, write(go[1], "g", 1), 1);
	one_fault(t, t->c);
	kill(pid, SIGKILL);
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status), "status %#x",
		   status);
	/* The region went with its last user. */
	PCA_EXPECT_ERR(t, pca_region_get(t->c, id, &info), ENOENT);
	close(sync[0]);
	close(sync[1]);
	close(go[0]);
	close(go[1]);
}

static void test_fork_child_maps(struct pca_test_ctx *t)
{
	struct region r;
	uint8_t data[PAGE];
	pid_t pid;
	int status;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		/* A mapping of its own, from the inherited fd, and the old. */
		uint8_t *m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
				  MAP_SHARED, r.fd, PAGE);

		if (m == MAP_FAILED)
			_exit(2);
		m[5] = 0x77;
		_exit(check(r.mem, 30) ? 0 : 4);
	}
	one_fault(t, t->c);
	fill(data, 31);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, PAGE, data, 0, NULL));
	one_fault(t, t->c);
	fill(data, 30);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0, "child status %#x", status);
	/* The child's write went to the shared page. */
	PCA_EXPECT_EQ(t, r.mem[PAGE + 5], 0x77);
	region_free(&r);
}

/* ---- agent sockets and their ports -------------------------------------- */

/*
 * A bare generic netlink socket, bound to a port of our choosing, as an
 * agent whose netlink library picks its own port numbers would have.
 */
struct raw_sock {
	int fd;
	uint16_t family;
	uint32_t seq;
	int faults;			/* PCA_CMD_FAULT records received */
	struct pca_fault_record last;	/* the last of them */
};

/* Bind to @portid (0: the kernel picks one); 0 or -errno. */
static int raw_open(struct raw_sock *rs, uint16_t family, uint32_t portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = portid };
	int err;

	memset(rs, 0, sizeof(*rs));
	rs->family = family;
	rs->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (rs->fd < 0)
		return -errno;
	if (bind(rs->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(rs->fd);
		rs->fd = -1;
		return err;
	}
	return 0;
}

static uint32_t raw_portid(int fd)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);

	if (getsockname(fd, (struct sockaddr *)&sa, &len))
		return 0;
	return sa.nl_pid;
}

/* PCA_CMD_FAULT records in the message at @h, or 0 if it is none. */
static int raw_fault_records(uint16_t family, const struct nlmsghdr *h,
			     struct pca_fault_record *last)
{
	const struct genlmsghdr *g = NLMSG_DATA(h);
	const struct nlattr *a;
	int len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	if (h->nlmsg_type != family || len < 0 || g->cmd != PCA_CMD_FAULT)
		return 0;
	a = (const struct nlattr *)((const uint8_t *)g + GENL_HDRLEN);
	for (; len >= (int)NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (const struct nlattr *)((const uint8_t *)a +
					 NLA_ALIGN(a->nla_len))) {
		int n = (a->nla_len - NLA_HDRLEN) / sizeof(*last);

		if ((a->nla_type & NLA_TYPE_MASK) != PCA_A_FAULT_RECORDS)
			continue;
		if (n && last)
			memcpy(last, (const uint8_t *)a + NLA_HDRLEN +
			       (n - 1) * sizeof(*last), sizeof(*last));
		return n;
	}
	return 0;
}

/*
 * Read what arrives for at most @ms, counting fault records; stop early at
 * the answer to @seq (when not 0).  Returns that answer's error (0: ACK),
 * or 1 if it did not come.
 */
static int raw_recv(struct raw_sock *rs, uint32_t seq, int ms)
{
	static uint8_t buf[64 * 1024];
	uint64_t end = now_ns() + ms * 1000000ULL;
	int result = 1;

	while (result == 1) {
		struct pollfd p = { .fd = rs->fd, .events = POLLIN };
		int64_t left = (int64_t)(end - now_ns()) / 1000000;
		struct nlmsghdr *h;
		ssize_t n;

		if (poll(&p, 1, left > 0 ? left : 0) <= 0)
			break;
		n = recv(rs->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			rs->faults += raw_fault_records(rs->family, h,
							&rs->last);
			if (seq && h->nlmsg_seq == seq &&
			    h->nlmsg_type == NLMSG_ERROR)
				result = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
	return result;
}

/* Send @cmd about @region (and @policy unless < 0); its answer, as above. */
static int raw_request(struct raw_sock *rs, uint8_t cmd, uint32_t region,
		       int policy)
{
	struct pca_raw_queue_req req;
	size_t len = pca_raw_queue_req(&req, rs->family, ++rs->seq, cmd,
				       region, policy);

	if (send(rs->fd, &req, len, 0) < 0)
		return -errno;
	return raw_recv(rs, req.h.nlmsg_seq, pca_scaled_ms(WAIT_MS));
}

/*
 * An agent closes its socket and another process binds the same port at
 * once: that process must get none of the region's fault records.  The
 * module used to address a queue by port number, and netlink frees the
 * number (unhashes the socket) before it tells the module about the close,
 * so records sent in between reached whoever took the port, here a process
 * without any privilege.  Faults keep coming throughout: threads wait on
 * missing pages and a WAKE pump makes them fault again and again.  Idle
 * regions created before the one under test make the module's release
 * handler take longer to reach it, as on a host with many guests.
 */
#define LEAK_IDLE_REGIONS	200
#define LEAK_TOUCHERS		4
#define LEAK_TRIALS_MS		4000

struct leak_result {
	int bound;		/* the port was ours within the time limit */
	int faults;		/* fault records received on it */
	int msgs;		/* messages of any kind received on it */
};

/* As nobody: bind each port the parent names and report what arrives. */
static void leak_thief(int in, int out, uint16_t family)
{
	uint32_t portid;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		_exit(2);
	while (read(in, &portid, sizeof(portid)) == sizeof(portid) && portid) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
					  .nl_pid = portid };
		struct leak_result res = { 0 };
		uint64_t end = now_ns() + pca_scaled_ms(2000) * 1000000ULL;
		struct raw_sock rs = { .family = family };

		rs.fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			       NETLINK_GENERIC);
		if (rs.fd < 0)
			_exit(3);
		/* taken while the agent's socket lives: try until it is not */
		while (bind(rs.fd, (struct sockaddr *)&sa, sizeof(sa))) {
			if (errno != EADDRINUSE || now_ns() > end)
				break;
		}
		res.bound = raw_portid(rs.fd) == portid;
		if (res.bound) {
			static uint8_t buf[64 * 1024];
			struct nlmsghdr *h;
			uint64_t stop = now_ns() + 200 * 1000000ULL;
			ssize_t n;

			while (now_ns() < stop) {
				struct pollfd p = { .fd = rs.fd,
						    .events = POLLIN };

				if (poll(&p, 1, 20) <= 0)
					continue;
				n = recv(rs.fd, buf, sizeof(buf), MSG_DONTWAIT);
				if (n <= 0)
					continue;
				for (h = (struct nlmsghdr *)buf;
				     NLMSG_OK(h, (size_t)n);
				     h = NLMSG_NEXT(h, n)) {
					res.msgs++;
					res.faults += raw_fault_records(family,
									h, NULL);
				}
			}
		}
		close(rs.fd);
		if (write(out, &res, sizeof(res)) != sizeof(res))
			_exit(4);
	}
	_exit(0);
}

struct wake_pump {
	pthread_t th;
	struct pca_client *c;
	uint32_t id;
	uint64_t len;
	atomic_int stop;
	atomic_long wakes;
};

static void *wake_pump_fn(void *arg)
{
	struct wake_pump *w = arg;

	while (!atomic_load(&w->stop)) {
		if (!pca_wake(w->c, w->id, 0, w->len))
			atomic_fetch_add(&w->wakes, 1);
	}
	return NULL;
}

static void test_port_reuse_no_leak(struct pca_test_ctx *t)
{
	struct region idle[LEAK_IDLE_REGIONS], r;
	struct toucher k[LEAK_TOUCHERS];
	int to_thief[2], from_thief[2], i, trials = 0, bound = 0;
	int leaked = 0, msgs = 0, status;
	uint16_t family = pca_client_family(t->c);
	struct pca_fault_record recs[64];
	struct wake_pump w = { 0 };
	unsigned int seed = 1;
	uint64_t end;
	pid_t thief;

	PCA_ASSERT_OK(t, pipe(to_thief));
	PCA_ASSERT_OK(t, pipe(from_thief));
	/* before any agent socket exists: it must not hold a copy of one */
	fflush(stdout);
	thief = fork();
	PCA_ASSERT(t, thief >= 0, "fork");
	if (!thief) {
		close(pca_client_fd(t->c));
		leak_thief(to_thief[0], from_thief[1], family);
	}

	for (i = 0; i < LEAK_IDLE_REGIONS; i++)
		idle[i].fd = PCA_ASSERT_OK(t, pca_region_create(PAGE, 0,
								&idle[i].id));
	region_new(t, &r, LEAK_TOUCHERS, PCA_REGION_MISSING);
	/* faults wait while no agent is attached */
	{
		struct pca_client *a;

		PCA_ASSERT_OK(t, pca_client_open(&a));
		PCA_ASSERT_OK(t, pca_attach(a, r.id, PCA_POLICY_WAIT, NULL));
		for (i = 0; i < LEAK_TOUCHERS; i++)
			touch_start(t, &k[i], r.mem + i * PAGE, 0);
		pca_client_close(a);
	}
	w.id = r.id;
	w.len = r.pages * PAGE;
	PCA_ASSERT_OK(t, pca_client_open(&w.c));
	PCA_ASSERT_EQ(t, pthread_create(&w.th, NULL, wake_pump_fn, &w), 0);

	end = now_ns() + LEAK_TRIALS_MS * 1000000ULL;
	while (now_ns() < end) {
		struct leak_result res;
		struct pca_client *agent;
		struct pollfd p = { .fd = from_thief[0], .events = POLLIN };
		uint32_t portid;
		int n;

		PCA_ASSERT_OK(t, pca_client_open(&agent));
		PCA_ASSERT_OK(t, pca_attach(agent, r.id, PCA_POLICY_WAIT,
					    NULL));
		portid = raw_portid(pca_client_fd(agent));
		PCA_ASSERT(t, portid, "getsockname: %s", strerror(errno));
		/* the agent gets the faults... */
		n = pca_recv_faults(agent, recs, 64, pca_scaled_ms(WAIT_MS));
		PCA_ASSERT(t, n > 0 || n == -ENOBUFS,
			   "no fault record for the agent: %d", n);
		/* ...and goes, while the thief waits for its port */
		PCA_ASSERT_EQ(t, write(to_thief[1], &portid, sizeof(portid)),
			      sizeof(portid));
		usleep(rand_r(&seed) % 2000);
		pca_client_close(agent);
		PCA_ASSERT(t, poll(&p, 1, pca_scaled_ms(WAIT_MS)) == 1,
			   "the thief does not answer");
		PCA_ASSERT_EQ(t, read(from_thief[0], &res, sizeof(res)),
			      sizeof(res));
		trials++;
		bound += res.bound;
		leaked += res.faults;
		msgs += res.msgs;
	}
	i = 0;	/* port 0: the thief is done */
	PCA_EXPECT_EQ(t, write(to_thief[1], &i, sizeof(i)), sizeof(i));
	status = child_status(thief, pca_scaled_ms(WAIT_MS));
	PCA_EXPECT(t, status >= 0 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0, "thief status %#x", status);

	atomic_store(&w.stop, 1);
	pthread_join(w.th, NULL);
	pca_t_diag(t, "%d trials, port taken over in %d, %ld wakes, %d fault records and %d messages reached the new owner",
		   trials, bound, atomic_load(&w.wakes), leaked, msgs);
	PCA_EXPECT_EQ(t, leaked, 0);
	PCA_EXPECT_EQ(t, msgs, 0);
	/* a run in which the port was never taken over proves nothing */
	PCA_EXPECT(t, bound > 0, "the thief never got the port");

	PCA_ASSERT_OK(t, pca_zero(t->c, r.id, 0, r.pages * PAGE, 0, NULL));
	for (i = 0; i < LEAK_TOUCHERS; i++)
		PCA_EXPECT(t, wait_done(&k[i], pca_scaled_ms(WAIT_MS)),
			   "toucher %d not woken", i);
	pca_client_close(w.c);
	region_free(&r);
	for (i = 0; i < LEAK_IDLE_REGIONS; i++)
		close(idle[i].fd);
}

/*
 * The same port, one socket after the other: the new socket attaches
 * (the old socket's queue is not in its way), gets the pending fault,
 * and can ask for it again and detach; the old socket's queue is gone.
 */
static void test_port_reuse_reattach(struct pca_test_ctx *t)
{
	uint16_t family = pca_client_family(t->c);
	struct pca_region_info info;
	struct raw_sock a, b;
	struct region r;
	struct toucher k;
	uint8_t data[PAGE];
	uint32_t portid;
	int i;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	for (i = 0; i < 3; i++) {
		PCA_ASSERT_OK(t, raw_open(&a, family, 0));
		portid = raw_portid(a.fd);
		PCA_ASSERT(t, portid, "getsockname: %s", strerror(errno));
		PCA_ASSERT_EQ(t, raw_request(&a, PCA_CMD_ATTACH, r.id,
					     PCA_POLICY_WAIT), 0);
		if (!i)
			touch_start(t, &k, r.mem + PAGE, 0);
		if (!a.faults)
			raw_recv(&a, 0, pca_scaled_ms(WAIT_MS));
		PCA_ASSERT(t, a.faults > 0, "round %d: no fault record", i);
		PCA_EXPECT_EQ(t, a.last.offset, PAGE);
		close(a.fd);

		/* the very port again, at once */
		PCA_ASSERT_OK(t, raw_open(&b, family, portid));
		get_info(t, r.id, &info);
		PCA_EXPECT_EQ(t, info.queues, 0);
		PCA_ASSERT_EQ(t, raw_request(&b, PCA_CMD_ATTACH, r.id,
					     PCA_POLICY_WAIT), 0);
		/* the first queue gets what is pending */
		if (!b.faults)
			raw_recv(&b, 0, pca_scaled_ms(WAIT_MS));
		PCA_EXPECT(t, b.faults > 0, "round %d: no resent record", i);
		PCA_EXPECT_EQ(t, raw_request(&b, PCA_CMD_ATTACH, r.id, -1),
			      -EEXIST);
		b.faults = 0;
		PCA_EXPECT_EQ(t, raw_request(&b, PCA_CMD_FAULT_RESEND, r.id, -1), 0);
		PCA_EXPECT(t, b.faults > 0, "round %d: FAULT sent nothing", i);
		get_info(t, r.id, &info);
		PCA_EXPECT_EQ(t, info.queues, 1);
		PCA_EXPECT_EQ(t, raw_request(&b, PCA_CMD_DETACH, r.id, -1), 0);
		PCA_EXPECT_EQ(t, raw_request(&b, PCA_CMD_DETACH, r.id, -1),
			      -ENOENT);
		/* attached again, then closed with the queue in place */
		PCA_EXPECT_EQ(t, raw_request(&b, PCA_CMD_ATTACH, r.id,
					     PCA_POLICY_WAIT), 0);
		close(b.fd);
		get_info(t, r.id, &info);
		PCA_EXPECT_EQ(t, info.queues, 0);
		PCA_EXPECT_EQ(t, info.stats.faults_pending, 1);
	}
	PCA_EXPECT(t, !atomic_load(&k.done), "woke without a page");
	fill(data, 3);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, PAGE, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, pca_scaled_ms(WAIT_MS)), "not woken");
	region_free(&r);
}

/*
 * Full agent sockets keep their queues resending (every 10 ms, each send
 * failing again) when the queues go, by the agents' close or the region's,
 * and the module is unloaded at once.  A resend queued after its queue was
 * disposed would hold the queue and the region with no module reference
 * and run after the module's exit: the unload fails, or the kernel crashes
 * when the timer fires into freed module text.  The window the module
 * closes (a resend being queued just while the queue is disposed) is a few
 * instructions wide, so a pass says little about it; what this checks is
 * that the unload, every round, finds nothing of the queues left, with the
 * module removed as soon as the last process that used it is reaped, well
 * within the 10 ms a resend waits.
 */
#define UNLOAD_ROUNDS	10
#define UNLOAD_AGENTS	8
#define UNLOAD_PAGES	8

static void unload_vmm(struct pca_test_ctx *parent, int out, int go)
{
	struct pca_test_ctx t = pca_part_ctx(parent);
	struct toucher k[UNLOAD_PAGES];
	struct region r;
	char c;
	int i;

	region_new(&t, &r, UNLOAD_PAGES, PCA_REGION_MISSING);
	if (write(out, &r.id, sizeof(r.id)) != sizeof(r.id) ||
	    read(go, &c, 1) != 1)
		_exit(1);
	for (i = 0; i < UNLOAD_PAGES; i++)
		touch_start(&t, &k[i], r.mem + i * PAGE, 0);
	pause();
	_exit(0);
}

static void test_resend_unload(struct pca_test_ctx *t)
{
	const char *mod = getenv("PCA_MODULE");
	char *insmod[] = { "insmod", (char *)mod, NULL };
	struct raw_sock agent[UNLOAD_AGENTS];
	int round, i, ret, tries, tiny = 1, records = 0;
	unsigned int seed = 7;

	if (!mod)
		PCA_SKIP(t, "PCA_MODULE not set");
	for (round = 0; round < UNLOAD_ROUNDS; round++) {
		int ids[2], go[2], status;
		struct pca_client *c;
		uint16_t family;
		uint32_t id;
		pid_t vmm;

		/* the family id is new after every reload */
		PCA_ASSERT_OK(t, pca_client_open(&c));
		family = pca_client_family(c);
		pca_client_close(c);

		PCA_ASSERT_OK(t, pipe(ids));
		PCA_ASSERT_OK(t, pipe(go));
		fflush(stdout);
		vmm = fork();
		PCA_ASSERT(t, vmm >= 0, "fork");
		if (!vmm)
			unload_vmm(t, ids[1], go[0]);
		PCA_ASSERT_EQ(t, read(ids[0], &id, sizeof(id)), sizeof(id));
		for (i = 0; i < UNLOAD_AGENTS; i++) {
			PCA_ASSERT_OK(t, raw_open(&agent[i], family, 0));
			/* the smallest buffer: one message fills it */
			setsockopt(agent[i].fd, SOL_SOCKET, SO_RCVBUF, &tiny,
				   sizeof(tiny));
			PCA_ASSERT_EQ(t, raw_request(&agent[i], PCA_CMD_ATTACH,
						     id, PCA_POLICY_WAIT), 0);
		}
		PCA_ASSERT_EQ(t, write(go[1], "g", 1), 1);
		/* some records get through; then the queues resend and fail */
		raw_recv(&agent[0], 0, pca_scaled_ms(WAIT_MS) / 50);
		records += agent[0].faults;
		usleep(50000 + rand_r(&seed) % 50000);

		/* the agents and the VMM go, in either order */
		if (round % 2)
			kill(vmm, SIGKILL);
		for (i = 0; i < UNLOAD_AGENTS; i++)
			close(agent[i].fd);
		if (!(round % 2))
			kill(vmm, SIGKILL);
		/* killable waits: the harness's timeout covers a hang */
		PCA_ASSERT_EQ(t, waitpid(vmm, &status, 0), vmm);
		PCA_ASSERT(t, WIFSIGNALED(status), "round %d: VMM status %#x",
			   round, status);

		/* at once: nothing may be left that needs the module */
		for (tries = 0; syscall(SYS_delete_module, "postcopy_assist",
					O_NONBLOCK); tries++) {
			ret = -errno;
			PCA_ASSERT(t, tries < pca_scaled_ms(2000) / 10,
				   "round %d: delete_module: %s", round,
				   strerror(-ret));
			usleep(10000);
		}
		close(ids[0]);
		close(ids[1]);
		close(go[0]);
		close(go[1]);
		if (tries)
			pca_t_diag(t, "round %d: unloaded after %d tries",
				   round, tries + 1);
		ret = pca_run_cmd(insmod);
		PCA_ASSERT(t, ret == 0, "round %d: insmod %s: %d", round, mod,
			   ret);
	}
	pca_t_diag(t, "%d rounds, %d records reached an agent before its buffer filled",
		   UNLOAD_ROUNDS, records);
	PCA_EXPECT(t, records > 0, "no fault was sent");
}

/* ---- discard ----------------------------------------------------------- */

static int fd_discard(int fd, uint64_t off, uint64_t len, int64_t *done)
{
	struct pca_range rg = { .offset = off, .len = len };

	if (ioctl(fd, PCA_IOC_DISCARD, &rg))
		return -errno;
	if (done)
		*done = rg.done;
	return 0;
}

/*
 * DISCARD over the largest region there is, 1 TiB with one page present:
 * the walk costs what is present, and a caller killed in it stops.
 * Before, it stepped through 2^28 absent pages under a mutex without a
 * reschedule point (a soft lockup) and ignored SIGKILL for tens of
 * seconds.
 */
static void test_discard_huge_range(struct pca_test_ctx *t)
{
	const uint64_t size = 1ULL << 40;
	int64_t done = -1;
	int fd, status;
	uint32_t id;
	pid_t pid;

	fd = PCA_ASSERT_OK(t, pca_region_create(size, 0, &id));
	PCA_ASSERT_OK(t, pca_fd_zero(fd, size - PAGE, PAGE, 0, NULL));
	PCA_ASSERT_OK(t, pca_fd_zero(fd, size / 2, PAGE, 0, NULL));
	PCA_EXPECT_OK(t, fd_discard(fd, 0, size, &done));
	PCA_EXPECT_EQ(t, done, 2 * PAGE);

	/* killed while discarding (or just after): gone promptly */
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		for (;;)
			fd_discard(fd, 0, size, NULL);
	}
	usleep(200 * 1000);
	kill(pid, SIGKILL);
	status = child_status(pid, pca_scaled_ms(WAIT_MS));
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status),
		   "discarding child not gone after SIGKILL: status %#x",
		   status);
	if (status < 0)
		waitpid(pid, &status, 0);
	close(fd);
}

static void test_discard_back_to_missing(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct pca_fault_record rec;
	uint8_t data[PAGE], *m2;
	struct region r;
	struct nl_msg *m;
	int64_t done = -1;
	pid_t pid;
	int status;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, PAGE, data, PAGE, 0, NULL));
	m2 = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, r.fd, 0);
	PCA_ASSERT(t, m2 != MAP_FAILED, "mmap");
	/* Both mappings have the page mapped. */
	PCA_ASSERT(t, check(r.mem + PAGE, 1) && check(m2 + PAGE, 1), "copy");

	PCA_ASSERT_OK(t, fd_discard(r.fd, 0, 4 * PAGE, &done));
	PCA_EXPECT_EQ(t, done, PAGE);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.pages_present, 0);

	/* The next touch, through either mapping, is a fault again. */
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		close_range(3, ~0U, 0);
		_exit(check(m2 + PAGE, 2) ? 0 : 1);
	}
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.offset, PAGE);
	fill(data, 2);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, PAGE, data, 0, NULL));
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 0, "child saw stale data: %#x",
		   status);
	PCA_EXPECT(t, check(r.mem + PAGE, 2), "stale page through mapping 1");

	/* Over netlink too; discarding absent pages is not an error. */
	m = pca_msg_new(t->c, PCA_CMD_DISCARD, 0);
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	nla_put_u64(m, PCA_A_OFFSET, 0);
	nla_put_u64(m, PCA_A_LENGTH, 2 * PAGE);
	PCA_ASSERT_OK(t, pca_request(t->c, m, NULL, NULL));
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.pages_present, 0);
	PCA_EXPECT_ERR(t, fd_discard(r.fd, PAGE, 4 * PAGE, NULL), ERANGE);
	PCA_EXPECT_ERR(t, fd_discard(r.fd, 1, PAGE, NULL), EINVAL);
	munmap(m2, 4 * PAGE);
	region_free(&r);
}

static void test_discard_present_mode_zero(struct pca_test_ctx *t)
{
	struct region r;
	int64_t done = -1;

	region_new(t, &r, 2, 0);
	memset(r.mem, 0x11, 2 * PAGE);
	PCA_ASSERT_OK(t, fd_discard(r.fd, PAGE, PAGE, &done));
	PCA_EXPECT_EQ(t, done, PAGE);
	PCA_EXPECT_EQ(t, r.mem[0], 0x11);
	PCA_EXPECT_EQ(t, r.mem[PAGE + 100], 0);	/* a balloon page */
	region_free(&r);
}

/* Discards racing with faults and copies never leave a stale mapping. */
static void test_discard_race(struct pca_test_ctx *t)
{
	struct resolver s;
	struct region r;
	int i, round, bad = 0;

	region_new(t, &r, 32, PCA_REGION_MISSING);
	resolver_start(t, &s, &r, 0);
	for (round = 0; round < 50; round++) {
		for (i = 0; i < 32; i++)
			if (!check(r.mem + i * PAGE, i))
				bad++;
		PCA_ASSERT_OK(t, fd_discard(r.fd, (round % 4) * 8 * PAGE,
					    8 * PAGE, NULL));
	}
	resolver_stop(t, &s);
	PCA_EXPECT_EQ(t, bad, 0);
	region_free(&r);
}

/*
 * A thread faults on a page (read, then write: both write-fault paths)
 * while DISCARD takes it away.  Afterwards the page must be gone from
 * every mapping and the dirty log; the kernel must not free it twice.
 */
static char *race_area;
static atomic_ulong race_go, race_done;
static atomic_int race_stop;
static sigjmp_buf race_jb;

static void race_sigbus(int sig)
{
	(void)sig;
	siglongjmp(race_jb, 1);
}

/* The race needs both sides running at once: one per CPU. */
static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *race_writer(void *arg)
{
	volatile unsigned long seen = 0, it;

	(void)arg;
	pin_cpu(1);
	signal(SIGBUS, race_sigbus);
	while (!atomic_load(&race_stop)) {
		it = atomic_load(&race_go);
		if (it == seen)
			continue;
		seen = it;
		if (!sigsetjmp(race_jb, 1)) {
			if (it % 2)
				(void)*(volatile char *)race_area;
			*(volatile char *)race_area = (char)it;
		}
		atomic_store(&race_done, it);
	}
	return NULL;
}

static void test_discard_fault_race(struct pca_test_ctx *t)
{
	struct pca_dirty_log dl = { .len = PAGE,
				    .flags = PCA_DIRTY_COUNT_ONLY };
	struct nl_msg *m;
	unsigned int seed = 1;
	unsigned long it;
	struct region r;
	uint8_t data[PAGE];
	uint64_t e;
	pthread_t th;
	int pm, spin;
	uint64_t end = now_ns() + 6000000000ULL;

	pin_cpu(0);
	region_new(t, &r, 1, PCA_REGION_MISSING);
	race_area = (char *)r.mem;
	m = pca_msg_new(t->c, PCA_CMD_DIRTY_TRACK, 0);
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	nla_put_u32(m, PCA_A_DIRTY_ENABLE, 1);
	PCA_ASSERT_OK(t, pca_request(t->c, m, NULL, NULL));
	memset(data, 1, PAGE);
	PCA_ASSERT_EQ(t, pthread_create(&th, NULL, race_writer, NULL), 0);
	for (it = 1; now_ns() < end; it++) {
		PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, NULL));
		atomic_store(&race_go, it);
		for (spin = rand_r(&seed) % 20000; spin > 0; spin--)
			__asm__ volatile("" ::: "memory");
		PCA_ASSERT_OK(t, fd_discard(r.fd, 0, PAGE, NULL));
		while (atomic_load(&race_done) != it)
			;
		/* Discarded: a PTE left now would map an orphan page. */
		PCA_ASSERT_OK(t, fd_discard(r.fd, 0, PAGE, NULL));
	}
	atomic_store(&race_stop, 1);
	pthread_join(th, NULL);
	pm = open("/proc/self/pagemap", O_RDONLY);
	PCA_ASSERT(t, pm >= 0, "pagemap");
	PCA_ASSERT_EQ(t, pread(pm, &e, 8, (uintptr_t)r.mem / PAGE * 8), 8);
	close(pm);
	PCA_EXPECT(t, !(e >> 63), "an orphan page is still mapped");
	PCA_ASSERT_OK(t, ioctl(r.fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0);
	PCA_EXPECT_EQ(t, dl.dirty, 0);
	pca_t_diag(t, "%lu rounds", it);
	region_free(&r);
}

/* ---- present mode, listing, module life ------------------------------- */

static void test_present_mode(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct region r;
	size_t i;

	region_new(t, &r, 8, 0);
	for (i = 0; i < 8 * PAGE; i += 997)
		PCA_ASSERT_EQ(t, r.mem[i], 0);
	memset(r.mem + 3 * PAGE, 0xab, PAGE);
	PCA_EXPECT_EQ(t, r.mem[3 * PAGE + 17], 0xab);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.flags, 0);
	PCA_EXPECT_EQ(t, info.size, 8 * PAGE);
	PCA_EXPECT_EQ(t, info.pages_present, 8);
	PCA_EXPECT_EQ(t, info.stats.faults, 0);
	region_free(&r);
}

static void test_region_list(struct pca_test_ctx *t)
{
	struct pca_region_info *list = NULL;
	struct region a, b;
	size_t n = 0, i;
	int found = 0;

	region_new(t, &a, 3, PCA_REGION_MISSING);
	region_new(t, &b, 5, PCA_REGION_MISSING | PCA_REGION_USER_ONLY);
	PCA_ASSERT_OK(t, pca_region_list(t->c, &list, &n));
	for (i = 0; i < n; i++) {
		if (list[i].id == a.id && list[i].size == 3 * PAGE &&
		    list[i].flags == PCA_REGION_MISSING)
			found |= 1;
		if (list[i].id == b.id && list[i].size == 5 * PAGE &&
		    list[i].flags == (PCA_REGION_MISSING |
				      PCA_REGION_USER_ONLY))
			found |= 2;
	}
	free(list);
	PCA_EXPECT_EQ(t, found, 3);
	region_free(&a);
	region_free(&b);
	PCA_EXPECT_ERR(t, pca_region_get(t->c, a.id, NULL), ENOENT);
}

static void test_wait_histogram(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	uint64_t sum = 0;
	int i;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem, 0);
	one_fault(t, t->c);
	usleep(20 * 1000);
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 0, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "not woken");
	get_info(t, r.id, &info);
	for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++) {
		sum += info.stats.wait_hist[i];
		/* waited >= 20 ms: nothing below 2^14 us = 16 ms */
		if (i < 15)
			PCA_EXPECT_EQ(t, info.stats.wait_hist[i], 0);
	}
	PCA_EXPECT_EQ(t, sum, 1);
	region_free(&r);
}

/* ---- tracepoints ------------------------------------------------------- */

#define TRACEFS		"/sys/kernel/tracing"
#define PCA_EVENTS	TRACEFS "/events/postcopy_assist"

static int trace_write(const char *file, const char *val)
{
	int fd = open(file, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* atexit(): a failed test leaves no event enabled for the next. */
static void trace_events_off(void)
{
	trace_write(PCA_EVENTS "/enable", "0");
	trace_write(TRACEFS "/options/record-cmd", "1");
}

/* The whole trace buffer, NUL-terminated; the caller frees it. */
static char *trace_read(struct pca_test_ctx *t)
{
	size_t len = 0, size = 1 << 16;
	char *buf = malloc(size);
	int fd = open(TRACEFS "/trace", O_RDONLY);
	ssize_t n;

	PCA_ASSERT(t, buf && fd >= 0, "open trace: %s", strerror(errno));
	while ((n = read(fd, buf + len, size - len - 1)) > 0) {
		len += n;
		if (size - len - 1 == 0) {
			size *= 2;
			buf = realloc(buf, size);
			PCA_ASSERT(t, buf, "realloc");
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/*
 * The line of event @name (followed by ": ") that contains every string
 * of @want, or NULL.  Lines are "<task>-<pid> [cpu] ... <name>: <fields>".
 */
static const char *trace_find(const char *trace, const char *name,
			      const char *const *want)
{
	static char line[512];
	const char *p = trace, *end;
	char tag[64];
	int i;

	snprintf(tag, sizeof(tag), " %s: ", name);
	for (; *p; p = *end ? end + 1 : end) {
		end = strchrnul(p, '\n');
		if ((size_t)(end - p) >= sizeof(line))
			continue;
		memcpy(line, p, end - p);
		line[end - p] = '\0';
		if (!strstr(line, tag))
			continue;
		for (i = 0; want[i] && strstr(line, want[i]); i++)
			;
		if (!want[i])
			return line;
	}
	return NULL;
}

#define TRACE_EXPECT(t, trace, name, ...) ({ \
	const char *const __want[] = { __VA_ARGS__, NULL }; \
	const char *__l = trace_find(trace, name, __want); \
	PCA_EXPECT(t, __l, "no %s event with the fields %s", name, \
		   #__VA_ARGS__); \
	__l; \
})

/*
 * The module's tracepoints, through tracefs: a write fault resolved by a
 * netlink COPY, a write logged and read with DIRTY_GET, a DISCARD, and
 * attach and detach each leave their event with this region's id and the
 * offsets and counts the test caused.
 */
static void test_trace_events(struct pca_test_ctx *t)
{
	char id[32], off[32], tid[32], line[512];
	struct pca_fault_record rec;
	unsigned long long wait_ns;
	uint64_t bitmap = 0, dirty = 0;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	const char *l;
	int64_t done = -1;
	char *trace;

	if (access(TRACEFS "/events", F_OK) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY)
		PCA_SKIP(t, "no tracefs at " TRACEFS ": %s", strerror(errno));
	/* A kernel without event tracing has tracefs but no events. */
	if (access(TRACEFS "/events", F_OK))
		PCA_SKIP(t, "the kernel has no trace events (CONFIG_EVENT_TRACING)");
	/* It has: then the module's must be there. */
	PCA_ASSERT(t, !access(PCA_EVENTS "/enable", W_OK),
		   "no %s/enable: %s", PCA_EVENTS, strerror(errno));

	region_new(t, &r, 4, PCA_REGION_MISSING);
	atexit(trace_events_off);
	PCA_ASSERT_OK(t, trace_write(TRACEFS "/tracing_on", "1"));
	/* Opening the buffer for writing with O_TRUNC empties it. */
	PCA_ASSERT_OK(t, trace_write(TRACEFS "/trace", ""));
	/*
	 * Without recording task names: that hooks sched_switch, which
	 * patches __schedule() on every CPU while the others run it (under
	 * QEMU TCG, once, a CPU never left the patch site's int3).  The
	 * module's own tracepoints are patched in the module only.
	 */
	trace_write(TRACEFS "/options/record-cmd", "0");
	PCA_ASSERT_OK(t, trace_write(PCA_EVENTS "/enable", "1"));

	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	touch_start(t, &k, r.mem + 2 * PAGE + 8, 1);
	rec = one_fault(t, t->c);
	fill(data, 5);
	PCA_ASSERT_OK(t, pca_copy(t->c, r.id, 2 * PAGE, data, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");

	/* A write after tracking starts is logged; DIRTY_GET reads it. */
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, r.id, 1));
	r.mem[2 * PAGE + 16] = 1;
	PCA_ASSERT_OK(t, pca_dirty_get(t->c, r.id, 0, 4 * PAGE, 0, &bitmap,
				       sizeof(bitmap), &dirty));
	PCA_EXPECT_EQ(t, bitmap, 1ULL << 2);
	PCA_ASSERT_OK(t, fd_discard(r.fd, 2 * PAGE, PAGE, &done));
	PCA_EXPECT_EQ(t, done, PAGE);
	PCA_ASSERT_OK(t, pca_detach(t->c, r.id));

	PCA_ASSERT_OK(t, trace_write(PCA_EVENTS "/enable", "0"));
	trace = trace_read(t);
	snprintf(id, sizeof(id), "region=%u ", r.id);
	snprintf(off, sizeof(off), "offset=0x%lx ", 2 * PAGE);
	snprintf(tid, sizeof(tid), "tid=%u ", rec.tid);

	TRACE_EXPECT(t, trace, "pca_queue_attach", id, "queue=0 ",
		     "policy=fail nr_queues=1");
	TRACE_EXPECT(t, trace, "pca_fault_raised", id, off, "len=4096 ",
		     "write=1 kernel=0 ", tid, "queue=0");
	TRACE_EXPECT(t, trace, "pca_place", id, "how=copy ", off,
		     "pages=1 existed=0 err=0");
	l = TRACE_EXPECT(t, trace, "pca_fault_resolved", id, off,
			 "how=woken");
	/* The toucher slept from the record until the COPY. */
	if (l) {
		strcpy(line, l);
		l = strstr(line, "wait_ns=");
		PCA_EXPECT(t, l && sscanf(l, "wait_ns=%llu", &wait_ns) == 1 &&
			   wait_ns > 0, "wait_ns in: %s", line);
	}
	TRACE_EXPECT(t, trace, "pca_dirty_collect", id, "offset=0x0 ",
		     "pages=4 dirty=1 cleared=0 ");
	TRACE_EXPECT(t, trace, "pca_discard", id, off,
		     "pages=1 discarded=1 err=0");
	TRACE_EXPECT(t, trace, "pca_queue_detach", id, "queue=0 ",
		     "nr_queues=0");
	/* What the module did trace, to compare with what was expected. */
	if (pca_failed(t))
		for (l = strtok(trace, "\n"); l; l = strtok(NULL, "\n"))
			if (l[0] != '#')
				pca_t_diag(t, "trace: %s", l);
	free(trace);
	region_free(&r);
}

static void test_rmmod_refused_in_use(struct pca_test_ctx *t)
{
	char *rmmod[] = { "rmmod", "postcopy_assist", NULL };
	const char *mod = getenv("PCA_MODULE");
	struct region r;
	int ret;

	if (!mod)
		PCA_SKIP(t, "PCA_MODULE not set");
	region_new(t, &r, 1, PCA_REGION_MISSING);
	munmap(r.mem, PAGE);
	/* The fd alone holds the module. */
	ret = pca_run_cmd(rmmod);
	PCA_EXPECT(t, ret != 0, "rmmod succeeded with a region open");
	PCA_EXPECT_OK(t, pca_api(t->c, PCA_API_VERSION, 0, NULL));
	close(r.fd);
}

/* ---- bad input --------------------------------------------------------- */

static int send_raw(struct pca_test_ctx *t, uint8_t cmd, uint32_t id,
		    int with_id, uint64_t off, uint64_t len, int with_range,
		    const void *data, size_t data_len, int64_t flags)
{
	struct nl_msg *m = pca_msg_new_size(t->c, cmd, 0, 2 * PAGE);

	PCA_ASSERT(t, m, "pca_msg_new");
	if (with_id)
		nla_put_u32(m, PCA_A_REGION_ID, id);
	if (flags >= 0)
		nla_put_u32(m, PCA_A_RESOLVE_FLAGS, (uint32_t)flags);
	if (with_range) {
		nla_put_u64(m, PCA_A_OFFSET, off);
		nla_put_u64(m, PCA_A_LENGTH, len);
	}
	if (data) {
		struct nlattr *pg = nla_nest_start(m, PCA_A_PAGE);

		nla_put_u64(m, PCA_PAGE_A_OFFSET, off);
		nla_put(m, PCA_PAGE_A_DATA, data_len, data);
		nla_nest_end(m, pg);
	}
	return pca_request(t->c, m, NULL, NULL);
}

static void test_bad_netlink_input(struct pca_test_ctx *t)
{
	struct pca_region_info before, after;
	static uint8_t data[2 * PAGE];
	struct region r;
	struct nl_msg *m;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	get_info(t, r.id, &before);

	/* COPY */
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, r.id, 1, 4 * PAGE, 0, 0,
				      data, PAGE, -1), ERANGE);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, r.id, 1, 100, 0, 0,
				      data, PAGE, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, r.id, 1, 0, 0, 0,
				      data, PAGE - 1, -1), ERANGE);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, r.id, 1, 0, 0, 0,
				      data, PAGE + 8, -1), ERANGE);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, r.id, 1, 0, 0, 0,
				      NULL, 0, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, 0, 0, 0, 0, 0,
				      data, PAGE, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, 0x7ffffff0, 1, 0, 0, 0,
				      data, PAGE, -1), ENOENT);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_COPY, r.id, 1, 0, 0, 0,
				      data, PAGE, 0x80), EINVAL);
	/* A batch with one bad page places none of the good ones. */
	m = pca_msg_new_size(t->c, PCA_CMD_COPY, 0, 3 * PAGE);
	PCA_ASSERT(t, m, "msg");
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	{
		struct nlattr *pg = nla_nest_start(m, PCA_A_PAGE);

		nla_put_u64(m, PCA_PAGE_A_OFFSET, 0);
		nla_put(m, PCA_PAGE_A_DATA, PAGE, data);
		nla_nest_end(m, pg);
		pg = nla_nest_start(m, PCA_A_PAGE);
		nla_put_u64(m, PCA_PAGE_A_OFFSET, 64 * PAGE);
		nla_put(m, PCA_PAGE_A_DATA, PAGE, data);
		nla_nest_end(m, pg);
	}
	PCA_EXPECT_EXTACK(t, pca_request(t->c, m, NULL, NULL), ERANGE);

	/* ZERO and WAKE ranges */
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_ZERO, r.id, 1, 0, 0, 1,
				      NULL, 0, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_ZERO, r.id, 1, 0, 100, 1,
				      NULL, 0, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_ZERO, r.id, 1, PAGE + 1, PAGE,
				      1, NULL, 0, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_ZERO, r.id, 1, 2 * PAGE,
				      4 * PAGE, 1, NULL, 0, -1), ERANGE);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_ZERO, r.id, 1, -PAGE, 2 * PAGE,
				      1, NULL, 0, -1), ERANGE);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_ZERO, r.id, 1, 0, 0, 0,
				      NULL, 0, -1), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_WAKE, r.id, 1, 0, PAGE, 1,
				      NULL, 0, PCA_RESOLVE_DONTWAKE), EINVAL);
	PCA_EXPECT_EXTACK(t, send_raw(t, PCA_CMD_WAKE, r.id, 1, 0, -PAGE, 1,
				      NULL, 0, -1), ERANGE);

	/* queues */
	PCA_EXPECT_EXTACK(t, pca_detach(t->c, r.id), ENOENT);
	PCA_EXPECT_EXTACK(t, pca_fault_resend(t->c, r.id), ENOENT);
	PCA_EXPECT_EXTACK(t, pca_attach(t->c, r.id, 7, NULL), ERANGE);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	PCA_EXPECT_EXTACK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL),
			  EEXIST);
	/* Output-only attributes are refused in requests. */
	m = pca_msg_new(t->c, PCA_CMD_WAKE, 0);
	nla_put_u32(m, PCA_A_REGION_ID, r.id);
	nla_put_u64(m, PCA_A_OFFSET, 0);
	nla_put_u64(m, PCA_A_LENGTH, PAGE);
	nla_put_u64(m, PCA_A_PAGES_PRESENT, 1);
	PCA_EXPECT_EXTACK(t, pca_request(t->c, m, NULL, NULL), EINVAL);

	get_info(t, r.id, &after);
	PCA_EXPECT_EQ(t, after.pages_present, before.pages_present);
	PCA_EXPECT_EQ(t, after.stats.pages_copied, 0);
	PCA_EXPECT_EQ(t, after.stats.pages_zeroed, 0);
	region_free(&r);
}

static void test_bad_ioctl_input(struct pca_test_ctx *t)
{
	static uint8_t data[2 * PAGE];
	struct pca_copy_entry ent[2];
	struct pca_region_info info;
	struct region r;
	uint64_t copied, existed;
	int64_t done = -1;
	uint32_t id;
	void *p;
	int dev;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 100, data, PAGE, 0, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, data, 100, 0, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, data, 0, 0, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 4 * PAGE, data, PAGE, 0, NULL),
		       ERANGE);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 3 * PAGE, data, 2 * PAGE, 0, NULL),
		       ERANGE);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, data, PAGE, 0x10, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_copy(r.fd, 0, (void *)16, PAGE, 0, NULL),
		       EFAULT);
	PCA_EXPECT_ERR(t, pca_fd_zero(r.fd, 0, 0, 0, &done), EINVAL);
	PCA_EXPECT_ERR(t, pca_fd_zero(r.fd, -PAGE, 2 * PAGE, 0, &done), ERANGE);
	PCA_EXPECT_ERR(t, pca_fd_wake(r.fd, 0, 8 * PAGE), ERANGE);
	ent[0] = (struct pca_copy_entry){ .offset = 0,
					  .src = (uintptr_t)data };
	ent[1] = (struct pca_copy_entry){ .offset = 9 * PAGE,
					  .src = (uintptr_t)data };
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(r.fd, ent, 2, 0, &copied,
					    &existed), ERANGE);
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(r.fd, ent, 1ULL << 40, 0, &copied,
					    &existed), E2BIG);
	PCA_EXPECT_ERR(t, ioctl(r.fd, _IO(PCA_IOC_MAGIC, 0x7f)) ? -errno : 0,
		       ENOTTY);
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_REGION_CREATE, NULL) ? -errno : 0,
		       ENOTTY);

	/* mmap */
	p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, r.fd, 0);
	PCA_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE");
	p = mmap(NULL, 5 * PAGE, PROT_READ, MAP_SHARED, r.fd, 0);
	PCA_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "beyond size");
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, r.fd, 4 * PAGE);
	PCA_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "offset past end");

	/* region creation */
	PCA_EXPECT_ERR(t, pca_region_create(0, 0, &id), EINVAL);
	PCA_EXPECT_ERR(t, pca_region_create(PAGE + 1, 0, &id), EINVAL);
	PCA_EXPECT_ERR(t, pca_region_create(1ULL << 50, 0, &id), EINVAL);
	PCA_EXPECT_ERR(t, pca_region_create(PAGE, 1ULL << 20, &id), EINVAL);
	dev = PCA_ASSERT_OK(t, pca_dev_open());
	PCA_EXPECT_ERR(t, ioctl(dev, PCA_IOC_COPY, NULL) ? -errno : 0, ENOTTY);
	PCA_EXPECT_ERR(t, ioctl(dev, PCA_IOC_REGION_CREATE, 16) ? -errno : 0,
		       EFAULT);
	close(dev);

	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.pages_present, 0);
	region_free(&r);
}

static void test_region_open(struct pca_test_ctx *t)
{
	struct pca_region_open ro = { 0 };
	struct region r;
	uint64_t size = 0;
	uint8_t *mem2;
	int fd2, dev;

	/* a second fd by id: the same memory, the region lives on with it */
	region_new(t, &r, 4, 0);
	memset(r.mem + PAGE, 0x5a, PAGE);
	fd2 = PCA_ASSERT_OK(t, pca_region_open(r.id, &size));
	PCA_EXPECT_EQ(t, size, 4 * PAGE);
	PCA_EXPECT(t, fcntl(fd2, F_GETFD) & FD_CLOEXEC, "not close-on-exec");
	mem2 = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
	PCA_ASSERT(t, mem2 != MAP_FAILED, "mmap: %s", strerror(errno));
	PCA_EXPECT_EQ(t, mem2[PAGE + 100], 0x5a);
	mem2[2 * PAGE] = 0xa5;
	PCA_EXPECT_EQ(t, r.mem[2 * PAGE], 0xa5);
	region_free(&r);
	PCA_EXPECT_OK(t, pca_region_get(t->c, r.id, NULL));
	PCA_EXPECT_EQ(t, mem2[PAGE + 100], 0x5a);
	munmap(mem2, 4 * PAGE);
	close(fd2);
	PCA_EXPECT_ERR(t, pca_region_get(t->c, r.id, NULL), ENOENT);
	PCA_EXPECT_ERR(t, pca_region_open(r.id, NULL), ENOENT);

	/* bad input */
	region_new(t, &r, 1, PCA_REGION_MISSING);
	dev = PCA_ASSERT_OK(t, pca_dev_open());
	ro.region_id = r.id;
	ro.flags = 1;
	PCA_EXPECT_ERR(t, ioctl(dev, PCA_IOC_REGION_OPEN, &ro) < 0 ? -errno : 0,
		       EINVAL);
	ro.flags = 0;
	ro.region_id = 1ULL << 32 | r.id;
	PCA_EXPECT_ERR(t, ioctl(dev, PCA_IOC_REGION_OPEN, &ro) < 0 ? -errno : 0,
		       EINVAL);
	ro.region_id = 0;
	PCA_EXPECT_ERR(t, ioctl(dev, PCA_IOC_REGION_OPEN, &ro) < 0 ? -errno : 0,
		       ENOENT);
	PCA_EXPECT_ERR(t, ioctl(dev, PCA_IOC_REGION_OPEN, NULL) < 0 ? -errno : 0,
		       EFAULT);
	PCA_EXPECT_ERR(t, ioctl(r.fd, PCA_IOC_REGION_OPEN, &ro) < 0 ?
		       -errno : 0, ENOTTY);
	close(dev);
	region_free(&r);
}

static uint32_t unpriv_region;
static int unpriv_dev = -1;

static void unpriv_part(struct pca_test_ctx *t)
{
	struct pca_region_open ro = { .region_id = unpriv_region };

	if (!t->c)
		PCA_FATAL(t, "client: %s", pca_strerror(NULL));
	PCA_EXPECT_REFUSED(t, pca_attach(t->c, unpriv_region, 0, NULL), EPERM,
			   PCA_MSG_NEED_ADMIN);
	PCA_EXPECT_REFUSED(t, pca_wake(t->c, unpriv_region, 0, PAGE), EPERM,
			   PCA_MSG_NEED_ADMIN);
	PCA_EXPECT_REFUSED(t, pca_region_get(t->c, unpriv_region, NULL),
			   EPERM, PCA_MSG_NEED_ADMIN);
	/* the node is root's, 0600: the file permissions refuse first */
	PCA_EXPECT_ERR(t, pca_region_open(unpriv_region, NULL), EACCES);
	/*
	 * Past them, with a device fd root opened: the module still gives
	 * no fd of a region the caller does not own.
	 */
	PCA_EXPECT_ERR(t, ioctl(unpriv_dev, PCA_IOC_REGION_OPEN, &ro) < 0 ?
		       -errno : 0, EPERM);
}

/* ---- fault rings ----------------------------------------------------- */

/* One record from @ring within WAIT_MS, checked as one_fault() does. */
static struct pca_fault_record ring_fault(struct pca_test_ctx *t,
					  struct pca_ring *ring)
{
	struct pca_fault_record rec;
	int n = pca_ring_recv(ring, &rec, 1, WAIT_MS);
	size_t i;

	PCA_ASSERT(t, n == 1, "expected a ring record, got %d (%s)", n,
		   n < 0 ? strerror(-n) : "timeout");
	PCA_EXPECT_EQ(t, rec.length, PAGE);
	for (i = 0; i < sizeof(rec.reserved) / sizeof(rec.reserved[0]); i++)
		PCA_EXPECT(t, !rec.reserved[i], "record reserved[%zu] = %#llx",
			   i, (unsigned long long)rec.reserved[i]);
	return rec;
}

static void test_ring_fault_copy(struct pca_test_ctx *t)
{
	const struct pca_ring_header *hdr;
	struct pca_region_info info;
	struct pca_fault_record rec;
	struct pca_ring *ring;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	uint32_t qid = 99;
	size_t len;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL, 16,
					 &ring, &qid));
	/* The header, read through a second mapping of the ring fd. */
	len = PCA_RING_MAP_SIZE(16);
	hdr = mmap(NULL, len, PROT_READ, MAP_SHARED, pca_ring_fd(ring), 0);
	PCA_ASSERT(t, hdr != MAP_FAILED, "mmap: %s", strerror(errno));
	PCA_EXPECT_EQ(t, hdr->entries, 16);
	PCA_EXPECT_EQ(t, hdr->queue_id, qid);
	PCA_EXPECT_EQ(t, hdr->region_id, r.id);
	PCA_EXPECT_EQ(t, hdr->head, 0);

	touch_start(t, &k, r.mem + 3 * PAGE + 5, 1);
	rec = ring_fault(t, ring);
	PCA_EXPECT_EQ(t, rec.region_id, r.id);
	PCA_EXPECT_EQ(t, rec.offset, 3 * PAGE);
	PCA_EXPECT_EQ(t, rec.flags, PCA_FAULT_WRITE);
	PCA_EXPECT_EQ(t, rec.queue_id, qid);
	PCA_EXPECT_EQ(t, hdr->head, 1);
	PCA_EXPECT_EQ(t, hdr->tail, 1);
	PCA_EXPECT(t, !atomic_load(&k.done), "toucher ran past a missing page");
	fill(data, 11);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 3 * PAGE, data, PAGE, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	PCA_EXPECT_EQ(t, rec.tid, k.tid);
	PCA_EXPECT_EQ(t, r.mem[3 * PAGE + 5], 0x5a);

	/* The ring is the queue, not the client's socket. */
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.queues, 1);
	PCA_EXPECT_ERR(t, pca_detach(t->c, r.id), ENOENT);
	/* The socket may attach beside its ring. */
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_UNCHANGED, NULL));
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.queues, 2);
	PCA_ASSERT_OK(t, pca_detach(t->c, r.id));
	munmap((void *)hdr, len);
	pca_ring_close(ring);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.queues, 0);
	region_free(&r);
}

/* Closing the ring fd is an agent leaving: FAIL fails the waiters. */
static void test_ring_close_fail_sigbus(struct pca_test_ctx *t)
{
	struct pca_ring *ring;
	struct region r;
	pid_t pid;
	int status;

	region_new(t, &r, 2, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL, 16,
					 &ring, NULL));
	pid = child_touch(t, &r, 1);
	ring_fault(t, ring);
	PCA_EXPECT_EQ(t, child_status(pid, QUIET_MS), -1);
	pca_ring_close(ring);
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status) &&
		   WTERMSIG(status) == SIGBUS, "status %#x", status);
	region_free(&r);
}

#define RING_OVERFLOW_PAGES	40

/*
 * More faults than the ring holds: the rest wait in the kernel and come
 * once there is room, none lost, with busy-polling on.
 */
static void test_ring_overflow(struct pca_test_ctx *t)
{
	struct toucher k[RING_OVERFLOW_PAGES];
	struct pca_fault_record recs[8];
	struct pca_region_info info;
	struct pca_ring *ring;
	uint8_t data[PAGE];
	struct region r;
	uint64_t end;
	size_t i, placed = 0;
	int n;

	region_new(t, &r, RING_OVERFLOW_PAGES, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL, 16,
					 &ring, NULL));
	pca_ring_set_busy_poll(ring, 200);
	for (i = 0; i < RING_OVERFLOW_PAGES; i++)
		touch_start(t, &k[i], r.mem + i * PAGE, 0);
	/* Everyone waits before anything is taken: the ring overflows. */
	end = now_ns() + pca_scaled_ms(WAIT_MS) * 1000000ULL;
	do {
		usleep(10000);
		get_info(t, r.id, &info);
	} while (info.stats.faults_pending < RING_OVERFLOW_PAGES &&
		 now_ns() < end);
	PCA_ASSERT_EQ(t, info.stats.faults_pending, RING_OVERFLOW_PAGES);
	fill(data, 5);
	end = now_ns() + pca_scaled_ms(4 * WAIT_MS) * 1000000ULL;
	while (placed < RING_OVERFLOW_PAGES && now_ns() < end) {
		n = pca_ring_recv(ring, recs, 8, 100);
		PCA_ASSERT(t, n >= 0, "pca_ring_recv: %s", strerror(-n));
		for (i = 0; i < (size_t)n; i++) {
			int ret;

			PCA_ASSERT(t, recs[i].offset / PAGE < RING_OVERFLOW_PAGES,
				   "offset %llu",
				   (unsigned long long)recs[i].offset);
			ret = pca_fd_copy(r.fd, recs[i].offset, data, PAGE, 0,
					  NULL);
			/* a fault written again after the overflow */
			if (ret == -EEXIST)
				continue;
			PCA_ASSERT_OK(t, ret);
			placed++;
		}
	}
	PCA_EXPECT_EQ(t, placed, RING_OVERFLOW_PAGES);
	for (i = 0; i < RING_OVERFLOW_PAGES; i++)
		PCA_EXPECT(t, wait_done(&k[i], WAIT_MS), "toucher %zu not woken",
			   i);
	pca_ring_close(ring);
	region_free(&r);
}

/* A tail the agent wrote wrong: EPOLLERR, nothing lost once fixed. */
static void test_ring_bad_tail(struct pca_test_ctx *t)
{
	struct pca_ring_header *hdr;
	struct pca_fault_record rec;
	struct pca_ring *ring;
	struct pollfd pfd;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	size_t len = PCA_RING_MAP_SIZE(16);

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL, 16,
					 &ring, NULL));
	hdr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		   pca_ring_fd(ring), 0);
	PCA_ASSERT(t, hdr != MAP_FAILED, "mmap: %s", strerror(errno));
	hdr->tail = 12345;	/* ahead of the kernel's head */
	hdr->head = 777;	/* the kernel keeps its own */
	pfd = (struct pollfd){ .fd = pca_ring_fd(ring), .events = POLLIN };
	PCA_EXPECT_EQ(t, poll(&pfd, 1, 0), 1);
	PCA_EXPECT(t, pfd.revents & POLLERR, "revents %#x", pfd.revents);
	touch_start(t, &k, r.mem, 0);
	usleep(pca_scaled_ms(QUIET_MS) * 1000);
	PCA_EXPECT(t, !atomic_load(&k.done), "toucher ran past a missing page");
	/* Sane again: the fault is written once the kernel retries. */
	hdr->head = 0;
	hdr->tail = 0;
	rec = ring_fault(t, ring);
	PCA_EXPECT_EQ(t, rec.offset, 0);
	fill(data, 2);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	munmap(hdr, len);
	pca_ring_close(ring);
	region_free(&r);
}

/* Refused: bad sizes, mappings the kernel cannot share, any ioctl. */
static void test_ring_bad_input(struct pca_test_ctx *t)
{
	static const uint32_t bad[] = { 0, 1, 8, 15, 17, 48, 131072,
					0x80000000U };
	struct pca_region_info info;
	struct pca_ring *ring;
	struct region r;
	size_t i, len = PCA_RING_MAP_SIZE(16);
	void *p;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		PCA_EXPECT_ERR(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL,
						  bad[i], &ring, NULL), EINVAL);
		PCA_EXPECT(t, !ring, "a ring for %u entries", bad[i]);
	}
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.queues, 0);
	PCA_ASSERT_OK(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL, 16,
					 &ring, NULL));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 pca_ring_fd(ring), 0);
	PCA_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "MAP_PRIVATE");
	p = mmap(NULL, len + 4096, PROT_READ, MAP_SHARED, pca_ring_fd(ring), 0);
	PCA_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "too long");
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, pca_ring_fd(ring), 4096);
	PCA_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "offset");
	PCA_EXPECT(t, ioctl(pca_ring_fd(ring), PCA_IOC_API, NULL) < 0 &&
		   errno == ENOTTY, "ioctl on a ring fd");
	PCA_EXPECT(t, fcntl(pca_ring_fd(ring), F_GETFD) & FD_CLOEXEC,
		   "ring fd not close-on-exec");
	pca_ring_close(ring);
	region_free(&r);
}

/* The region closes under its ring: POLLHUP, and -EPIPE once empty. */
static void test_ring_region_gone(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct pca_ring *ring;
	struct region r;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach_ring(t->c, r.id, PCA_POLICY_FAIL, 16,
					 &ring, NULL));
	region_free(&r);
	PCA_EXPECT_EQ(t, pca_ring_recv(ring, &rec, 1, WAIT_MS), -EPIPE);
	pca_ring_close(ring);
}

static void test_unprivileged_refused(struct pca_test_ctx *t)
{
	struct region r;

	region_new(t, &r, 1, PCA_REGION_MISSING);
	unpriv_region = r.id;
	unpriv_dev = PCA_ASSERT_OK(t, pca_dev_open());
	pca_run_as(t, 65534, 65534, unpriv_part);
	close(unpriv_dev);
	region_free(&r);
}

/* ---- the pre-map: COPY maps the waiter's page ------------------------ */

/*
 * Run on CPU 0 at SCHED_FIFO, or back to SCHED_OTHER: a FIFO thread is
 * never preempted by a woken SCHED_OTHER one on its CPU.
 */
static int set_fifo(int on)
{
	struct sched_param sp = { .sched_priority = on ? 1 : 0 };

	return sched_setscheduler(0, on ? SCHED_FIFO : SCHED_OTHER, &sp);
}

/*
 * Page @pg of @r (a 4 KiB region with an agent on t->c) faulted by a read
 * of a thread on this CPU, resolved by PCA_IOC_COPY with @seed's contents
 * while this thread runs at SCHED_FIFO on the same CPU: the woken thread
 * cannot run, so neither can its retried fault, until the test has read
 * the page's pagemap entry.  Present there, the COPY mapped it.  Page 0
 * is placed and read first, so that the page table is there (the pre-map
 * maps into an existing table only).  Returns whether it was mapped.
 */
static int premap_one(struct pca_test_ctx *t, struct region *r, size_t pg,
		      uint64_t seed)
{
	uint8_t data[PAGE];
	struct toucher k;
	int mapped, ran;

	if (!page_mapped(r->mem)) {
		fill(data, 1000);
		PCA_ASSERT_OK(t, pca_fd_copy(r->fd, 0, data, PAGE, 0, NULL));
		PCA_ASSERT(t, check(r->mem, 1000), "page 0");
	}
	PCA_ASSERT_EQ(t, page_mapped(r->mem), 1);
	PCA_ASSERT_EQ(t, page_mapped(r->mem + pg * PAGE), 0);

	pin_cpu(0);
	touch_start(t, &k, r->mem + pg * PAGE + 8, 0);	/* inherits CPU 0 */
	one_fault(t, t->c);
	if (set_fifo(1))
		PCA_FATAL(t, "SCHED_FIFO: %s", strerror(errno));
	fill(data, seed);
	if (pca_fd_copy(r->fd, pg * PAGE, data, PAGE, 0, NULL)) {
		set_fifo(0);
		PCA_FATAL(t, "COPY: %s", strerror(errno));
	}
	mapped = page_mapped(r->mem + pg * PAGE);
	ran = atomic_load(&k.done);
	set_fifo(0);
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	PCA_EXPECT(t, !ran, "the woken thread ran before the check");
	PCA_EXPECT_EQ(t, k.first, data[8]);
	PCA_EXPECT(t, check(r->mem + pg * PAGE, seed), "page content differs");
	return mapped == 1;
}

/*
 * After PCA_IOC_COPY returns, the page of the thread that waited for it
 * is mapped where it faulted, before that thread ran again; the thread
 * returns from its fault without a retry and reads the new contents.
 */
static void test_premap_maps_waiter(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct region r;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	PCA_EXPECT(t, premap_one(t, &r, 2, 5),
		   "page not mapped when COPY returned");
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.stats.faults, 1);
	PCA_EXPECT_EQ(t, info.stats.faults_premapped, 1);
	PCA_EXPECT_EQ(t, info.stats.faults_pending, 0);
	region_free(&r);
}

/*
 * A page mapped by the pre-map is a mapping like any other: DISCARD
 * unmaps it, and the next touch faults on the missing page again.
 */
static void test_premap_then_discard(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	int64_t done = 0;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	PCA_EXPECT(t, premap_one(t, &r, 3, 6),
		   "page not mapped when COPY returned");
	PCA_ASSERT_OK(t, fd_discard(r.fd, 3 * PAGE, PAGE, &done));
	PCA_EXPECT_EQ(t, done, PAGE);
	PCA_EXPECT_EQ(t, page_mapped(r.mem + 3 * PAGE), 0);
	PCA_EXPECT_EQ(t, page_mapped(r.mem), 1);	/* page 0 stays */

	touch_start(t, &k, r.mem + 3 * PAGE + 8, 0);
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.offset, 3 * PAGE);
	fill(data, 9);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 3 * PAGE, data, PAGE, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, WAIT_MS), "toucher not woken");
	PCA_EXPECT_EQ(t, k.first, data[8]);
	PCA_EXPECT(t, check(r.mem + 3 * PAGE, 9), "page content differs");
	region_free(&r);
}

/*
 * A child reads page @first (present: its page table comes), then page
 * @pg; exits 3 if it reads 0xee there.
 */
static pid_t child_touch_after(struct pca_test_ctx *t, struct region *r,
			       size_t first, size_t pg)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		volatile uint8_t v;

		close_range(3, ~0U, 0);
		v = r->mem[first * PAGE];
		v = r->mem[pg * PAGE];
		_exit(v == (uint8_t)0xee ? 3 : 0);
	}
	return pid;
}

/*
 * A waiter killed before its page comes: the COPY maps nothing into its
 * dead process and does not stall; the region's pages stay.  The same
 * with a process that exits while the page is being placed is covered by
 * the reference the pre-map takes (mmget_not_zero(), mmput_async()).
 */
static void test_premap_waiter_killed(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct region r;
	uint8_t data[PAGE];
	int status;
	pid_t pid;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, NULL));
	PCA_ASSERT(t, check(r.mem, 1), "page 0");
	pid = child_touch_after(t, &r, 0, 1);	/* it gets the table */
	one_fault(t, t->c);
	kill(pid, SIGKILL);
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status), "status %#x",
		   status);
	fill(data, 2);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, PAGE, data, PAGE, 0, NULL));
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.stats.faults_premapped, 0);
	PCA_EXPECT_EQ(t, info.stats.faults_pending, 0);
	PCA_EXPECT_EQ(t, info.pages_present, 2);
	PCA_EXPECT(t, check(r.mem + PAGE, 2), "page content differs");
	region_free(&r);
}

/*
 * Another process's fault (a forked VMM child mapping the same region):
 * the COPY maps the page into that process, whose fault then returns.
 */
static void test_premap_other_process(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct region r;
	uint8_t data[PAGE];
	int status;
	pid_t pid;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, NULL));
	pid = child_touch_after(t, &r, 0, 2);
	one_fault(t, t->c);
	memset(data, 0xee, sizeof(data));	/* the child exits 3 on it */
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 2 * PAGE, data, PAGE, 0, NULL));
	status = child_status(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFEXITED(status) &&
		   WEXITSTATUS(status) == 3, "status %#x", status);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.stats.faults_premapped, 1);
	region_free(&r);
}

/*
 * The waiter a signal takes out of its wait stops being the one the
 * resolution maps for; back in the same wait after the handler, it is
 * again, and its page is mapped for it.
 */
static void test_premap_after_signal(struct pca_test_ctx *t)
{
	struct sigaction sa = { .sa_handler = count_signal }, old;
	struct pca_region_info info;
	struct toucher k;
	struct region r;
	uint8_t data[PAGE];
	uint64_t end;

	region_new(t, &r, 4, PCA_REGION_MISSING);
	PCA_ASSERT_OK(t, pca_attach(t->c, r.id, PCA_POLICY_FAIL, NULL));
	fill(data, 1);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 0, data, PAGE, 0, NULL));
	PCA_ASSERT(t, check(r.mem, 1), "page 0");	/* the page table */
	atomic_store(&signals_handled, 0);
	sigemptyset(&sa.sa_mask);
	PCA_ASSERT_OK(t, sigaction(SIGUSR1, &sa, &old) ? -errno : 0);
	touch_start(t, &k, r.mem + 2 * PAGE, 0);
	one_fault(t, t->c);

	pthread_kill(k.th, SIGUSR1);
	/* handled, then the same access joins the pending entry again */
	end = now_ns() + pca_scaled_ms(WAIT_MS) * 1000000ULL;
	do {
		usleep(1000);
		get_info(t, r.id, &info);
	} while ((atomic_load(&signals_handled) < 1 ||
		  info.stats.faults_coalesced < 1) && now_ns() < end);
	PCA_ASSERT_EQ(t, atomic_load(&signals_handled), 1);
	PCA_ASSERT_EQ(t, info.stats.faults_coalesced, 1);
	PCA_EXPECT(t, !atomic_load(&k.done), "the access completed unserved");

	fill(data, 2);
	PCA_ASSERT_OK(t, pca_fd_copy(r.fd, 2 * PAGE, data, PAGE, 0, NULL));
	PCA_ASSERT(t, wait_done(&k, pca_scaled_ms(WAIT_MS)),
		   "not woken by COPY after the signal");
	PCA_EXPECT_EQ(t, k.first, data[0]);
	get_info(t, r.id, &info);
	PCA_EXPECT_EQ(t, info.stats.faults, 1);
	PCA_EXPECT_EQ(t, info.stats.faults_premapped, 1);
	sigaction(SIGUSR1, &old, NULL);
	region_free(&r);
}

PCA_TEST_F(single_fault_copy, test_single_fault_copy,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(write_fault_flags, test_write_fault_flags,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(zero, test_zero, PCA_FEATURE_MISSING)
PCA_TEST_F(fd_copy, test_fd_copy, PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(wake_after_dontwake, test_wake_after_dontwake,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(wake_without_page_refaults, test_wake_without_page_refaults,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(two_threads_one_page, test_two_threads_one_page,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(eexist_still_wakes, test_eexist_still_wakes,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(many_threads_many_pages, test_many_threads_many_pages,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(stress_counts_exact, test_stress_counts_exact,
	 PCA_FEATURE_FD_RESOLVE, .timeout = 120)
PCA_TEST_F(sharded_queues, test_sharded_queues,
	 PCA_FEATURE_SHARDED_QUEUES)
PCA_TEST_F(kernel_read_into_region, test_kernel_read_into_region,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(user_only, test_user_only, PCA_FEATURE_USER_ONLY)
PCA_TEST_F(no_agent_sigbus, test_no_agent_sigbus, PCA_FEATURE_MISSING)
PCA_TEST_F(detach_fail_sigbus, test_detach_fail_sigbus,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(agent_death_fail_sigbus, test_agent_death_fail_sigbus,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(detach_wait_reattach, test_detach_wait_reattach,
	 PCA_FEATURE_WAIT_POLICY)
PCA_TEST_F(attach_keeps_policy, test_attach_keeps_policy,
	 PCA_FEATURE_WAIT_POLICY)
PCA_TEST_F(discard_huge_range, test_discard_huge_range,
	 PCA_FEATURE_DISCARD)
PCA_TEST_F(signal_while_waiting, test_signal_while_waiting,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(memcg_charges_creator, test_memcg_charges_creator,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(resend_on_request, test_resend_on_request,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(vmm_killed_while_waiting, test_vmm_killed_while_waiting,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(fork_child_maps, test_fork_child_maps, PCA_FEATURE_MISSING)
PCA_TEST_F(port_reuse_no_leak, test_port_reuse_no_leak,
	 PCA_FEATURE_WAIT_POLICY, .timeout = 60)
PCA_TEST_F(port_reuse_reattach, test_port_reuse_reattach,
	 PCA_FEATURE_WAIT_POLICY)
PCA_TEST_F(discard_back_to_missing, test_discard_back_to_missing,
	 PCA_FEATURE_DISCARD)
PCA_TEST_F(discard_present_mode_zero, test_discard_present_mode_zero,
	 PCA_FEATURE_DISCARD)
PCA_TEST_F(discard_race, test_discard_race, PCA_FEATURE_DISCARD)
PCA_TEST_F(discard_fault_race, test_discard_fault_race,
	 PCA_FEATURE_DISCARD | PCA_FEATURE_DIRTY_LOG, .timeout = 60)
PCA_TEST_F(present_mode, test_present_mode, 0)
PCA_TEST_F(region_list, test_region_list, 0)
PCA_TEST_F(wait_histogram, test_wait_histogram, PCA_FEATURE_MISSING)
PCA_TEST_F(trace_events, test_trace_events,
	 PCA_FEATURE_MISSING | PCA_FEATURE_DIRTY_LOG |
	 PCA_FEATURE_DISCARD)
PCA_TEST_F(rmmod_refused_in_use, test_rmmod_refused_in_use, 0)
PCA_TEST_F(bad_netlink_input, test_bad_netlink_input,
	 PCA_FEATURE_COPY_BATCH)
PCA_TEST_F(bad_ioctl_input, test_bad_ioctl_input,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(unprivileged_refused, test_unprivileged_refused, 0)
PCA_TEST_F(ring_fault_copy, test_ring_fault_copy,
	 PCA_FEATURE_FAULT_RING | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(ring_close_fail_sigbus, test_ring_close_fail_sigbus,
	 PCA_FEATURE_FAULT_RING)
PCA_TEST_F(ring_overflow, test_ring_overflow,
	 PCA_FEATURE_FAULT_RING | PCA_FEATURE_FD_RESOLVE, .timeout = 60)
PCA_TEST_F(ring_bad_tail, test_ring_bad_tail,
	 PCA_FEATURE_FAULT_RING | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(ring_bad_input, test_ring_bad_input, PCA_FEATURE_FAULT_RING)
PCA_TEST_F(ring_region_gone, test_ring_region_gone, PCA_FEATURE_FAULT_RING)
PCA_TEST_F(region_open, test_region_open, PCA_FEATURE_REGION_OPEN)
PCA_TEST_F(premap_maps_waiter, test_premap_maps_waiter,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(premap_then_discard, test_premap_then_discard,
	 PCA_FEATURE_FD_RESOLVE | PCA_FEATURE_DISCARD)
PCA_TEST_F(premap_waiter_killed, test_premap_waiter_killed,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(premap_other_process, test_premap_other_process,
	 PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(premap_after_signal, test_premap_after_signal,
	 PCA_FEATURE_FD_RESOLVE)
/* last: it unloads and reloads the module */
PCA_TEST_F(resend_unload, test_resend_unload, PCA_FEATURE_WAIT_POLICY,
	 .timeout = 120, .flags = PCA_TEST_NO_CLIENT)

TEST_HARNESS_MAIN
