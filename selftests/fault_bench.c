// SPDX-License-Identifier: GPL-2.0
/*
 * fault_bench: postcopy_assist against userfaultfd, side by side in one run.
 *
 * fault_1t, fault_1t_xcpu, fault_2t_1r, fault_2t_2r - missing-page fault
 *	round trips.  An area of -n pages, all missing, is touched once per
 *	page (one load, timed with CLOCK_MONOTONIC around it) by one or two
 *	faulting threads pinned to CPUs 0 and 1, for at most -d seconds a
 *	run (TCG guests are slow; the pages touched are reported).
 *	Resolver threads receive the faults and place each page from a
 *	source buffer in memory.  They are pinned to the CPU of the faulting
 *	thread of the same index (-P local, the default: cross-vCPU wakeups
 *	under TCG cost milliseconds and would drown everything else), or
 *	left to the scheduler (-P free); fault_1t_xcpu puts the one resolver
 *	on CPU 1 on purpose, to show what a cross-CPU round trip costs.
 *	Ours: a PCA_REGION_MISSING region mapped MAP_SHARED; every resolver
 *	has its own pca_client attached with pca_attach() (two resolvers:
 *	two queues, which the module picks by faulting CPU), takes records
 *	with pca_recv_faults() and resolves with pca_fd_copy() on the region
 *	fd (fault_1t also with a netlink COPY, pca_copy()).
 *	Baseline: an anonymous MAP_PRIVATE area registered with userfaultfd
 *	(UFFDIO_REGISTER_MODE_MISSING); resolvers poll() + read() uffd_msg
 *	and UFFDIO_COPY; two resolvers read the one userfaultfd.
 *	Where the module has fault rings (PCA_FEATURE_FAULT_RING), every
 *	fault test also runs ours with each resolver attached through a
 *	ring of 256 records (pca_attach_ring(), pca_ring_recv(): records
 *	read from shared memory, poll() only when the ring is empty) and
 *	resolving with pca_fd_copy() ("ringcopy" rows).
 *
 * fault_8t_1q, fault_8t_pcpu, fault_16t_*, fault_64t_* - 8, 16 or 64
 *	faulting threads (thread i on CPU i modulo the online CPUs; more
 *	threads than CPUs measures what waiting costs), served by one
 *	queue and resolver (_1q) or one per online CPU (_pcpu), against one
 *	userfaultfd read by as many handler threads, and ("_vs_uffd_pt"
 *	rows) one userfaultfd per faulting thread over its own slice of
 *	the area, as a VMM with a userfaultfd per vCPU would, the handlers
 *	poll()ing their share of them.  "_ring_per_thread_vs_1t" compares
 *	the ring's pages/s per faulting thread with the ring's rate with one
 *	faulting thread, measured right after (ours: per thread; baseline
 *	column: our own 1-thread rate).
 *	FAULT_BENCH_TESTS=a,b (environment, or the guest's kernel command
 *	line: APPEND=) runs only the tests named, as -t does.
 *
 *	Reported: pages/s over the run, p50/p99 of the per-touch latency,
 *	and, as diagnostics, medians of the segments of a round trip from
 *	the timestamps taken on the way (the kernel's in the fault record,
 *	the resolver's around its receive and its copy).
 *
 * bulk_copy - -m MiB placed with nothing faulting: PCA_IOC_COPY_BATCH with
 *	-B entries a call, and one PCA_IOC_COPY over the whole range, into a
 *	missing region, against one UFFDIO_COPY per page (and one over the
 *	whole range) into a registered area, and against memcpy() into an
 *	already populated buffer.  -R runs of each, alternating the order.
 *	Reported in MiB/s; the placed pages are checked afterwards.
 *
 * placed_touch - the first touch of pages placed before anything touched
 *	them: 4096 pages placed (COPY_BATCH into a missing region; one
 *	UFFDIO_COPY over a registered anonymous area, which installs the
 *	PTEs), then each page read once, in address order and in a fixed
 *	shuffled order, one load timed around it.  Reported: p50 and mean
 *	of the per-touch time, median of -R runs.  userfaultfd maps the
 *	page as it copies it; the region maps it on the first touch, with
 *	its placed neighbours (fault-around).
 *
 * huge_place - -H MiB (256) placed in 2 MiB units with nothing faulting:
 *	one PCA_IOC_COPY per unit into a missing PCA_REGION_HUGE region,
 *	against one UFFDIO_COPY per unit into a MAP_SHARED hugetlbfs area
 *	(a memfd_create(MFD_HUGETLB) of 2 MiB pages) registered with
 *	userfaultfd for missing faults (huge_place_vs_uffd), and against
 *	memcpy() into an already populated buffer (huge_place_vs_memcpy;
 *	the target is a ratio of at least 0.5).  -R runs of each, in MiB/s,
 *	the placed data checked afterwards.  The source of both huge_*
 *	tests starts 17 pages past a 2 MiB boundary (src_alloc_huge() says
 *	why); the rows of single runs name the compaction, migration and
 *	THP work /proc/vmstat counted meanwhile, if any.
 *
 * huge_touch - -H MiB of a missing area touched by one faulting thread,
 *	one load per 4 KiB page in address order (the fault runs above,
 *	with 2 MiB units and no time cap): ours a PCA_REGION_HUGE region,
 *	whose resolver takes each fault record (one per unit, its length
 *	the unit) with pca_recv_faults() and places the whole unit with
 *	PCA_IOC_COPY; baseline the hugetlbfs area, whose resolver reads
 *	uffd_msgs and places the unit with one UFFDIO_COPY.  Reported
 *	(huge_touch_faults): MiB touched per second from the first touch
 *	to the last, the median of -R runs; "# " rows give each side's
 *	fault count (one per unit: 128 for 256 MiB) and how much of the
 *	mapping /proc/self/smaps shows mapped by PMD (FilePmdMapped for
 *	the region, Private_Hugetlb + Shared_Hugetlb for hugetlbfs, which
 *	counts a page mapped once as private; all of it when every
 *	unit got a PMD).  The data of every page is checked as it is
 *	touched and again, sampled, afterwards.
 *	The hugetlbfs baseline needs free 2 MiB huge pages: the huge_*
 *	tests raise /proc/sys/vm/nr_hugepages for their run and set it
 *	back at the end; where that fails (no hugetlbfs, memory too
 *	fragmented) the baseline is null and a "# " row says why.  The
 *	pool is filled before anything is timed, so UFFDIO_COPY finds its
 *	huge pages allocated, whereas the region allocates a 2 MiB folio
 *	in each timed COPY, which a kernel with init_on_alloc (Debian's
 *	default; the "mem auto-init" row at the start says "heap alloc:on")
 *	also clears before the copy fills it.  The three 256 MiB areas
 *	(source, hugetlbfs, region or memcpy target) are why `make bench`
 *	guests get 2 GiB.
 *
 * recv_place - -m MiB received over loopback TCP, as a migration's data
 *	channel carries pages, into a missing region, -B units a call (at
 *	most PCA_RECV_MAX): ours PCA_IOC_RECV, each unit read from the
 *	socket straight into its page (recv_place_vs_recv_copy); baseline
 *	recv(MSG_WAITALL) of the batch into a buffer, then
 *	PCA_IOC_COPY_BATCH from it, one copy more.  The same over kernel
 *	TLS (keys set by hand on both ends; the record layer decrypts into
 *	the region's pages, or into the buffer), a quarter of the MiB as
 *	software AES-GCM is slow under TCG (recv_place_vs_recv_copy_ktls;
 *	null where the kernel has no TLS).  A sender thread writes the
 *	source from the start of the timed run; -R runs of each, alternating
 *	the order, MiB/s, the placed data checked afterwards.
 *
 * Every measurement prints a human "# " row and one line
 *	BENCH-JSON {"name":...,"ours":X,"baseline":Y,"unit":U,"ratio":R}
 * with U one of pages/s, us, MiB/s, and R > 1 meaning we are better:
 * ours/baseline for throughput, baseline/ours for latency.  Without
 * userfaultfd, baseline and ratio are null (and ours with -b).  The VM
 * harness (selftests/vm/parse-results.sh) prepends "kernel" (the guest's
 * release, uname -r) and "test" (this binary) to every object, so this
 * binary does not print them a second time; the release is in the "# "
 * header.  With -r/-R N every figure is the median of N runs.  A table
 * of all rows follows the KTAP totals.
 *
 * A hang cannot outlive its test: the harness runs each test under a
 * timeout, the main thread of a fault run gives up (with the kernel's
 * view of the region) when no page has been touched for
 * PCA_BENCH_STALL_S seconds - faulting threads sleep killably on both
 * sides - and every receive loop polls with a short timeout.
 */
#include "pca_harness.h"
#include "bench_report.h"
#include "pca_stream_util.h"

#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <linux/userfaultfd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW	_IO(0xAA, 0x00)
#endif
#ifndef MFD_HUGE_2MB
#define MFD_HUGE_2MB		(21U << 26)	/* log2(2 MiB) << MFD_HUGE_SHIFT */
#endif

#define MIB			(1024UL * 1024)
#define NSEC_PER_SEC		1000000000ULL

#define MAX_REPEATS		9
#define RECS_PER_CALL		64	/* records / uffd_msgs per receive */
#define POLL_MS			50	/* receive loops check for the end */
#define PCA_BENCH_STALL_S	10	/* no progress this long: give up */
#define WARMUP_PAGES		256
#define WARMUP_SECONDS		1
#define HUGE_UNIT		(2 * MIB)	/* PCA_REGION_HUGE, hugetlbfs */
#define HUGE_WARMUP_UNITS	4

/* -------------------------------------------------------------------------
 * Options, shared results
 */

static struct {
	size_t fault_pages;	/* -n */
	size_t bulk_mib;	/* -m */
	size_t batch;		/* -B */
	bool shuffle;		/* -o shuffle */
	unsigned int seconds;	/* -d: time cap of one fault run */
	bool pin_local;		/* -P local: resolver i on faulter i's CPU */
	int repeats;		/* -r: fault runs */
	int bulk_repeats;	/* -R: bulk runs */
	size_t huge_mib;	/* -H: area of the huge_* benches */
	bool baseline_only;	/* -b */
} cfg = {
	.fault_pages = 10000,
	.bulk_mib = 64,
	.batch = 256,
	.shuffle = false,
	.seconds = 4,
	.pin_local = true,
	.repeats = 1,
	.bulk_repeats = 3,
	.huge_mib = 256,
	.baseline_only = false,
};

static size_t pg;			/* page size */

static const struct bench_style style = BENCH_STYLE("%.2f");
static const char *cur_test = "fault_bench";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* -------------------------------------------------------------------------
 * Small helpers
 */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_s64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint64_t pct_u64(const uint64_t *v, size_t n, unsigned int p)
{
	size_t rank = (n * p + 99) / 100;

	return v[rank ? rank - 1 : 0];
}

static double median_d(const double *v, int n)
{
	double s[MAX_REPEATS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static uint64_t stamp_head(size_t page)
{
	return 0x5043414245000000ULL ^ page;	/* "PCABE" */
}

static uint64_t stamp_tail(size_t page)
{
	return ~stamp_head(page);
}

static void *map_anon(struct pca_test_ctx *t, size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		PCA_FATAL(t, "mmap of %zu MiB anonymous memory: %s",
			  len / MIB, strerror(errno));
	/* 4 KiB pages everywhere, as in the region; no THP where unbuilt */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* Populate @npages of @src, each page stamped at both ends. */
static void src_fill(char *src, size_t npages)
{
	size_t i;

	memset(src, 0x5a, npages * pg);
	for (i = 0; i < npages; i++) {
		uint64_t *p = (uint64_t *)(src + i * pg);

		p[0] = stamp_head(i);
		p[pg / 8 - 1] = stamp_tail(i);
	}
}

/* The source of every copy: populated, each page stamped at both ends. */
static char *src_alloc(struct pca_test_ctx *t, size_t npages)
{
	char *src = map_anon(t, npages * pg);

	src_fill(src, npages);
	return src;
}

#define HUGE_SRC_SKEW	17	/* pages past a 2 MiB boundary */

/*
 * The source of the huge_* benches, as src_alloc()'s, but starting
 * HUGE_SRC_SKEW pages past a 2 MiB boundary (6.7 and later align large
 * anonymous mappings to 2 MiB), so that page n of the source and page n
 * of a 2 MiB destination do not share an entry of QEMU's TCG TLB, which
 * made every kernel copy of a unit several times slower on both sides.
 */
static char *src_alloc_huge(struct pca_test_ctx *t, size_t npages)
{
	size_t len = npages * pg, maplen = len + 2 * HUGE_UNIT;
	char *base = map_anon(t, maplen), *src, *end;

	src = (char *)(((uintptr_t)base + HUGE_UNIT - 1) &
		       ~(uintptr_t)(HUGE_UNIT - 1)) + HUGE_SRC_SKEW * pg;
	end = src + len;
	/* keep exactly [src, src + len), for munmap(src, len) */
	munmap(base, src - base);
	munmap(end, base + maplen - end);
	src_fill(src, npages);
	return src;
}

/* Pages of @area whose stamps are not those of the source. */
static size_t verify_area(const char *area, size_t npages)
{
	size_t i, bad = 0;

	for (i = 0; i < npages; i++) {
		const volatile uint64_t *p =
			(const volatile uint64_t *)(area + i * pg);

		if (p[0] != stamp_head(i) || p[pg / 8 - 1] != stamp_tail(i))
			bad++;
	}
	return bad;
}

/* -1 when CPU @cpu is not ours to run on. */
static int usable_cpu(int cpu)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	return CPU_ISSET(cpu, &set) ? cpu : -1;
}

/* Write a SIGBUS report with async-signal-safe calls only. */
static void sigbus_handler(int sig, siginfo_t *si, void *uc)
{
	static const char hex[] = "0123456789abcdef";
	char buf[200], *p = buf;
	uintptr_t a = (uintptr_t)si->si_addr;
	const char *s;
	int shift;

	(void)sig;
	(void)uc;
	for (s = "# "; *s; s++)
		*p++ = *s;
	for (s = cur_test; *s && p < buf + 64; s++)
		*p++ = *s;
	for (s = ": SIGBUS touching 0x"; *s; s++)
		*p++ = *s;
	for (shift = 60; shift >= 0; shift -= 4)
		*p++ = hex[(a >> shift) & 0xf];
	for (s = ": the fault was refused (no agent attached?)\n"; *s; s++)
		*p++ = *s;
	if (write(STDOUT_FILENO, buf, p - buf) < 0)
		_exit(KSFT_FAIL);
	_exit(KSFT_FAIL);
}

/* -------------------------------------------------------------------------
 * userfaultfd
 */

/* A userfaultfd past UFFDIO_API, or -errno with the reason in @why. */
static int uffd_open(char *why, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, err;

	fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && (errno == EPERM || errno == ENOSYS)) {
		/* 6.1+: the device works where the syscall is restricted */
		int sys_err = errno, dev;

		dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev < 0) {
			snprintf(why, len, "userfaultfd(2): %s; /dev/userfaultfd: %s",
				 strerror(sys_err), strerror(errno));
			return -sys_err;
		}
		fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
		err = errno;
		close(dev);
		if (fd < 0) {
			snprintf(why, len, "userfaultfd(2): %s; USERFAULTFD_IOC_NEW: %s",
				 strerror(sys_err), strerror(err));
			return -err;
		}
	} else if (fd < 0) {
		err = errno;
		snprintf(why, len, "userfaultfd(2): %s", strerror(err));
		return -err;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		err = errno;
		snprintf(why, len, "UFFDIO_API: %s", strerror(err));
		close(fd);
		return -err;
	}
	return fd;
}

/* Whether the baseline can run; says why not once per test. */
static bool uffd_usable(struct pca_test_ctx *t)
{
	char why[200];
	int fd = uffd_open(why, sizeof(why));

	if (fd < 0) {
		pca_t_diag(t, "SKIP baseline: userfaultfd unavailable: %s", why);
		return false;
	}
	close(fd);
	return true;
}

/* A fresh userfaultfd with @area registered for missing faults. */
static int uffd_register_area(struct pca_test_ctx *t, char *area, size_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)area, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	char why[200];
	int fd;

	fd = uffd_open(why, sizeof(why));
	if (fd < 0)
		PCA_FATAL(t, "userfaultfd: %s", why);
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		PCA_FATAL(t, "UFFDIO_REGISTER of %zu MiB: %s", len / MIB,
			  strerror(errno));
	if (!(reg.ioctls & (1ULL << _UFFDIO_COPY)))
		PCA_FATAL(t, "UFFDIO_REGISTER: no UFFDIO_COPY (ioctls %#llx)",
			  (unsigned long long)reg.ioctls);
	return fd;
}

/*
 * UFFDIO_COPY of [@dst, @dst + @len): 0, -EEXIST (the page was there;
 * waiters are woken all the same), or -errno.
 */
static int uffd_copy(int fd, uintptr_t dst, const char *src, size_t len)
{
	while (len) {
		struct uffdio_copy cp = {
			.dst = dst,
			.src = (uintptr_t)src,
			.len = len,
			.mode = 0,
		};

		if (!ioctl(fd, UFFDIO_COPY, &cp))
			return 0;
		if (errno == EEXIST) {
			struct uffdio_range r = { .start = dst, .len = len };

			/* UFFDIO_COPY wakes only on success */
			if (ioctl(fd, UFFDIO_WAKE, &r))
				return -errno;
			return -EEXIST;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		/* partial copy: go on after what was placed */
		if (cp.copy > 0) {
			dst += cp.copy;
			src += cp.copy;
			len -= cp.copy;
		}
	}
	return 0;
}

/* -------------------------------------------------------------------------
 * 2 MiB units: huge regions, and hugetlbfs for the baseline
 */

/*
 * The huge page pool the baseline takes its pages from, grown for a test
 * and given back at its end (also when the test fails: atexit).
 */
static struct {
	long old;		/* nr_hugepages before; -1: untouched */
} hpool = { .old = -1 };

#define NR_HUGEPAGES	"/proc/sys/vm/nr_hugepages"

static long read_long_file(const char *path)
{
	char buf[32];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	fclose(f);
	return v;
}

static void hpool_restore(void)
{
	char buf[32];

	if (hpool.old < 0)
		return;
	snprintf(buf, sizeof(buf), "%ld", hpool.old);
	if (pca_write_file(NR_HUGEPAGES, buf))
		printf("# %s: could not set %s back to %ld\n", cur_test,
		       NR_HUGEPAGES, hpool.old);
	hpool.old = -1;
}

/*
 * Make @units free 2 MiB huge pages available through nr_hugepages: true,
 * or false with the reason in @why.
 */
static bool hpool_reserve(size_t units, char *why, size_t len)
{
	static bool registered;
	long nr, free_pages, size_kb, want;
	char buf[32];
	int ret;

	size_kb = pca_meminfo("Hugepagesize");
	nr = read_long_file(NR_HUGEPAGES);
	if (size_kb < 0 || nr < 0) {
		snprintf(why, len, "no hugetlbfs in this kernel (no %s)",
			 NR_HUGEPAGES);
		return false;
	}
	if ((size_t)size_kb * 1024 != HUGE_UNIT) {
		snprintf(why, len, "default huge page size is %ld kB, not %zu",
			 size_kb, HUGE_UNIT / 1024);
		return false;
	}
	free_pages = pca_meminfo("HugePages_Free");
	if (free_pages >= (long)units)
		return true;
	if (!registered) {
		atexit(hpool_restore);
		registered = true;
	}
	if (hpool.old < 0)
		hpool.old = nr;
	want = nr + (long)units - (free_pages > 0 ? free_pages : 0);
	snprintf(buf, sizeof(buf), "%ld", want);
	ret = pca_write_file(NR_HUGEPAGES, buf);
	free_pages = pca_meminfo("HugePages_Free");
	if (ret || free_pages < (long)units) {
		snprintf(why, len, "%s: asked for %ld huge pages: %s, %ld free of the %zu needed",
			 NR_HUGEPAGES, want, ret ? strerror(-ret) : "ok",
			 free_pages, units);
		hpool_restore();
		return false;
	}
	return true;
}

/* A MAP_SHARED hugetlbfs area of @len bytes (a memfd), its fd in *@fd. */
static char *hugetlb_map(struct pca_test_ctx *t, size_t len, int *fd)
{
	char *p;

	*fd = memfd_create("fault_bench", MFD_CLOEXEC | MFD_HUGETLB |
			   MFD_HUGE_2MB);
	if (*fd < 0)
		PCA_FATAL(t, "memfd_create(MFD_HUGETLB | MFD_HUGE_2MB): %s",
			  strerror(errno));
	if (ftruncate(*fd, len))
		PCA_FATAL(t, "ftruncate of the hugetlbfs memfd to %zu MiB: %s",
			  len / MIB, strerror(errno));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		PCA_FATAL(t, "mmap of %zu MiB of hugetlbfs: %s", len / MIB,
			  strerror(errno));
	return p;
}

/* A missing PCA_REGION_HUGE region of @len bytes; checks its unit. */
static int huge_region_create(struct pca_test_ctx *t, size_t len,
			      uint32_t *id)
{
	struct stat st;
	int fd;

	fd = pca_region_create(len, PCA_REGION_MISSING | PCA_REGION_HUGE, id);
	if (fd < 0)
		PCA_FATAL(t, "pca_region_create(%zu MiB, MISSING | HUGE): %s",
			  len / MIB, strerror(-fd));
	if (fstat(fd, &st))
		PCA_FATAL(t, "fstat of the region fd: %s", strerror(errno));
	if ((size_t)st.st_blksize != HUGE_UNIT)
		PCA_FATAL(t, "huge region: st_blksize %ld, expected the unit, %zu",
			  (long)st.st_blksize, HUGE_UNIT);
	return fd;
}

/*
 * Field @field (kB) of the /proc/self/smaps entry of the mapping that
 * holds @addr, or -1.
 */
static long smaps_kb(const void *addr, const char *field)
{
	uintptr_t a = (uintptr_t)addr;
	size_t n = strlen(field);
	bool in = false;
	char line[512];
	long v = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			if (in)
				break;
			in = a >= lo && a < hi;
			continue;
		}
		if (in && !strncmp(line, field, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/*
 * Pages of @area that differ from the source: the stamps of every page
 * (verify_area()) and, compared whole, one page of every 61.
 */
static size_t verify_sample(const char *area, const char *src, size_t npages)
{
	size_t i, bad = verify_area(area, npages);

	for (i = 0; i < npages; i += 61)
		if (memcmp(area + i * pg, src + i * pg, pg))
			bad++;
	return bad;
}

/*
 * Memory management work in the background that a timed copy into huge
 * pages competes with (or waits for): compaction, page migration, THP
 * collapses, from /proc/vmstat.
 */
static const char *const vm_events[] = {
	"compact_stall", "compact_daemon_wake", "pgmigrate_success",
	"thp_collapse_alloc", "thp_split_pmd",
};

struct vm_snap {
	long long v[ARRAY_SIZE(vm_events)];
};

static void vm_snap_read(struct vm_snap *s)
{
	char name[64];
	long long v;
	size_t i;
	FILE *f = fopen("/proc/vmstat", "r");

	for (i = 0; i < ARRAY_SIZE(vm_events); i++)
		s->v[i] = -1;
	if (!f)
		return;
	while (fscanf(f, "%63s %lld", name, &v) == 2)
		for (i = 0; i < ARRAY_SIZE(vm_events); i++)
			if (!strcmp(name, vm_events[i]))
				s->v[i] = v;
	fclose(f);
}

/* "; meanwhile name +N, ..." for the counters that moved, or "". */
static void vm_snap_diff(const struct vm_snap *a, const struct vm_snap *b,
			 char *out, size_t len)
{
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(vm_events) && off < len; i++) {
		if (a->v[i] < 0 || b->v[i] <= a->v[i])
			continue;
		off += snprintf(out + off, len - off, "%s%s +%lld",
				off ? ", " : "; meanwhile ", vm_events[i],
				b->v[i] - a->v[i]);
	}
}

/* -------------------------------------------------------------------------
 * Fault round trips
 */

enum backend {
	BE_UFFD, BE_PCA_FD, BE_PCA_NL, BE_PCA_RING, BE_UFFD_PT, NR_BACKENDS
};

static const char *const be_name[NR_BACKENDS] = {
	[BE_UFFD] = "userfaultfd",
	[BE_PCA_FD] = "pca fd_copy",
	[BE_PCA_NL] = "pca netlink COPY",
	[BE_PCA_RING] = "pca ring+fd_copy",
	[BE_UFFD_PT] = "uffd per thread",
};

/* One userfaultfd for the area, or one per faulting thread's slice. */
static bool is_uffd(enum backend be)
{
	return be == BE_UFFD || be == BE_UFFD_PT;
}

#define MAX_FAULTERS		64
#define MAX_RESOLVERS		64
#define RING_ENTRIES		256

static int ncpus = 1;			/* online CPUs */

struct frun;

struct faulter {
	struct frun *run;
	pthread_t th;
	int cpu;		/* -1: not pinned */
	size_t first, count;	/* slice of run->order */
	size_t done;		/* pages touched before the time cap */
	uint64_t start, end;
	unsigned long bad;
};

struct resolver {
	struct frun *run;
	pthread_t th;
	int idx;
	int cpu;		/* -1: not pinned */
	struct pca_client *c;	/* ours only */
	struct pca_ring *ring;	/* BE_PCA_RING only */
	uint32_t queue_id;
	int nfds;		/* userfaultfds read, and which */
	int fds[MAX_FAULTERS];
	atomic_ulong calls, records, dup, enobufs;
};

struct frun {
	enum backend be;
	size_t npages;
	size_t unit;		/* what one fault resolves: pg, or HUGE_UNIT */
	const uint32_t *order;
	char *area;
	const char *src;
	int fd;			/* region fd or userfaultfd; -1: per thread */
	int pt_fd[MAX_FAULTERS];	/* BE_UFFD_PT: faulting thread i's */
	int hfd;		/* hugetlbfs memfd of the baseline, or -1 */
	uint32_t region_id;
	int nf, nr;
	uint64_t cap_ns;	/* a faulting thread stops touching after; 0: never */
	struct faulter f[MAX_FAULTERS];
	struct resolver r[MAX_RESOLVERS];

	/* per page, CLOCK_MONOTONIC ns; 0: not seen */
	uint64_t *t_touch, *t_back;	/* faulting thread, around the load */
	uint64_t *t_raise;		/* kernel, in the fault record (ours) */
	uint64_t *t_recv, *t_done;	/* resolver: got it, copy returned */

	pthread_barrier_t barrier;
	atomic_int faulters_done;
	atomic_int stop;
	atomic_ulong touched;
	atomic_int failed;
	pthread_mutex_t lock;
	char err[300];
};

struct fault_result {
	size_t pages;		/* touched within the time cap */
	double secs;
	double rate;		/* pages/s */
	double p50_us, p99_us;
	double seg_us[4];	/* medians of the round trip's segments */
	int nseg;
	double recs_per_call;
	unsigned long records;	/* fault records / uffd_msgs received */
	unsigned long dup, enobufs;
	struct pca_region_info info;	/* ours: the kernel's view */
	bool has_info;
	long pmd_kb;		/* huge: smaps, kB mapped by PMD; -1: unknown */
	char vm_activity[160];	/* huge: vm_snap_diff() over the run */
	bool aligned;		/* huge: the mapping starts on a unit */
};

static const char *const seg_pca[] = {
	"touch->raised", "raised->agent", "agent->copied", "copied->resumed",
};
static const char *const seg_uffd[] = {
	"touch->agent", "agent->copied", "copied->resumed",
};

static void __attribute__((format(printf, 2, 3)))
run_fail(struct frun *run, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&run->lock);
	if (!run->err[0]) {
		va_start(ap, fmt);
		vsnprintf(run->err, sizeof(run->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&run->lock);
	atomic_store(&run->failed, 1);
	atomic_store(&run->stop, 1);
}

static void set_once(uint64_t *p, uint64_t v)
{
	uint64_t zero = 0;

	__atomic_compare_exchange_n(p, &zero, v, false, __ATOMIC_RELAXED,
				    __ATOMIC_RELAXED);
}

/* Pin the calling thread to @cpu (-1: leave it), then wait for the start. */
static void thread_start(struct frun *run, int cpu, const char *who)
{
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		/* pid 0: the calling thread */
		if (sched_setaffinity(0, sizeof(set), &set))
			run_fail(run, "%s: sched_setaffinity(CPU %d): %s", who,
				 cpu, strerror(errno));
	}
	pthread_barrier_wait(&run->barrier);
}

static void *faulter_main(void *arg)
{
	struct faulter *f = arg;
	struct frun *run = f->run;
	uint64_t last = 0, deadline;
	size_t i;

	thread_start(run, f->cpu, "faulting thread");
	f->start = now_ns();
	deadline = run->cap_ns ? f->start + run->cap_ns : UINT64_MAX;
	for (i = f->first; i < f->first + f->count; i++) {
		size_t page = run->order[i];
		const volatile uint64_t *p =
			(const volatile uint64_t *)(run->area + page * pg);
		uint64_t t0, t1, head, tail;

		if (atomic_load_explicit(&run->stop, memory_order_relaxed) ||
		    last > deadline)
			break;
		t0 = now_ns();
		head = p[0];		/* the first touch: faults */
		t1 = now_ns();
		tail = p[pg / 8 - 1];
		run->t_touch[page] = t0;
		run->t_back[page] = t1;
		last = t1;
		if (head != stamp_head(page) || tail != stamp_tail(page))
			f->bad++;
		f->done++;
		atomic_fetch_add_explicit(&run->touched, 1,
					  memory_order_relaxed);
	}
	f->end = now_ns();
	atomic_fetch_add(&run->faulters_done, 1);
	return NULL;
}

static void *resolver_pca(void *arg)
{
	struct resolver *rv = arg;
	struct frun *run = rv->run;
	struct pca_fault_record recs[RECS_PER_CALL];

	thread_start(run, rv->cpu, "resolver");
	while (!atomic_load(&run->stop)) {
		uint64_t trecv;
		int n, i;

		if (rv->ring)
			n = pca_ring_recv(rv->ring, recs, RECS_PER_CALL,
					  POLL_MS);
		else
			n = pca_recv_faults(rv->c, recs, RECS_PER_CALL,
					    POLL_MS);
		if (!n)
			continue;
		if (n == -ENOBUFS) {
			/* events were dropped; the kernel still has them */
			atomic_fetch_add(&rv->enobufs, 1);
			if (pca_fault_resend(rv->c, run->region_id)) {
				run_fail(run, "resolver %d: pca_fault_resend: %s",
					 rv->idx, pca_strerror(rv->c));
				break;
			}
			continue;
		}
		if (n < 0) {
			run_fail(run, "resolver %d: %s: %s", rv->idx,
				 rv->ring ? "pca_ring_recv" : "pca_recv_faults",
				 rv->ring ? strerror(-n) : pca_strerror(rv->c));
			break;
		}
		trecv = now_ns();
		atomic_fetch_add_explicit(&rv->calls, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&rv->records, n,
					  memory_order_relaxed);
		for (i = 0; i < n; i++) {
			const struct pca_fault_record *rec = &recs[i];
			uint64_t off = rec->offset;
			size_t page = off / pg;
			int ret;

			if (rec->region_id != run->region_id ||
			    off % run->unit || page >= run->npages) {
				run_fail(run, "resolver %d: bogus fault record: region %u offset %#llx (expected region %u, size %zu, unit %zu)",
					 rv->idx, rec->region_id,
					 (unsigned long long)off,
					 run->region_id, run->npages * pg,
					 run->unit);
				return NULL;
			}
			/* 0: a kernel from before the field, 4 KiB regions */
			if (rec->length != run->unit &&
			    (rec->length || run->unit != pg)) {
				run_fail(run, "resolver %d: fault record at offset %#llx has length %llu, expected the unit, %zu",
					 rv->idx, (unsigned long long)off,
					 (unsigned long long)rec->length,
					 run->unit);
				return NULL;
			}
			set_once(&run->t_raise[page], rec->time_ns);
			set_once(&run->t_recv[page], trecv);
			if (run->be != BE_PCA_NL)
				ret = pca_fd_copy(run->fd, off, run->src + off,
						  run->unit, 0, NULL);
			else
				ret = pca_copy(rv->c, run->region_id, off,
					       run->src + off, 0, NULL);
			if (ret == -EEXIST) {
				/* a record sent again; it woke the waiter */
				atomic_fetch_add(&rv->dup, 1);
				continue;
			}
			if (ret) {
				run_fail(run, "resolver %d: %s of offset %#llx: %s",
					 rv->idx, run->be != BE_PCA_NL ?
					 "pca_fd_copy" : "pca_copy",
					 (unsigned long long)off,
					 run->be != BE_PCA_NL ? strerror(-ret) :
					 pca_strerror(rv->c));
				return NULL;
			}
			set_once(&run->t_done[page], now_ns());
		}
	}
	return NULL;
}

/* Read and resolve what userfaultfd @fd has: 0, or -1 after run_fail(). */
static int uffd_serve(struct resolver *rv, int fd)
{
	struct frun *run = rv->run;
	struct uffd_msg msgs[RECS_PER_CALL];
	uint64_t trecv;
	ssize_t n;
	size_t i, cnt;
	int ret;

	n = read(fd, msgs, sizeof(msgs));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;	/* the other reader got it */
	if (n < 0 || n % sizeof(msgs[0])) {
		run_fail(run, "resolver %d: read(userfaultfd): %s", rv->idx,
			 n < 0 ? strerror(errno) : "partial uffd_msg");
		return -1;
	}
	trecv = now_ns();
	cnt = n / sizeof(msgs[0]);
	atomic_fetch_add_explicit(&rv->calls, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rv->records, cnt, memory_order_relaxed);
	for (i = 0; i < cnt; i++) {
		uintptr_t addr, base = (uintptr_t)run->area;
		size_t off, page;

		if (msgs[i].event != UFFD_EVENT_PAGEFAULT) {
			run_fail(run, "resolver %d: unexpected userfaultfd event %u",
				 rv->idx, msgs[i].event);
			return -1;
		}
		addr = msgs[i].arg.pagefault.address &
		       ~(uintptr_t)(run->unit - 1);
		if (addr < base || addr >= base + run->npages * pg) {
			run_fail(run, "resolver %d: fault at %#lx outside the area",
				 rv->idx, (unsigned long)addr);
			return -1;
		}
		off = addr - base;
		page = off / pg;
		set_once(&run->t_recv[page], trecv);
		ret = uffd_copy(fd, addr, run->src + off, run->unit);
		if (ret == -EEXIST) {
			atomic_fetch_add(&rv->dup, 1);
			continue;
		}
		if (ret) {
			run_fail(run, "resolver %d: UFFDIO_COPY at offset %#zx: %s",
				 rv->idx, off, strerror(-ret));
			return -1;
		}
		set_once(&run->t_done[page], now_ns());
	}
	return 0;
}

/* poll() the resolver's userfaultfds, read() and UFFDIO_COPY. */
static void *resolver_uffd(void *arg)
{
	struct resolver *rv = arg;
	struct frun *run = rv->run;
	struct pollfd pfd[MAX_FAULTERS];
	int k, ret;

	for (k = 0; k < rv->nfds; k++)
		pfd[k] = (struct pollfd){ .fd = rv->fds[k], .events = POLLIN };
	thread_start(run, rv->cpu, "resolver");
	while (!atomic_load(&run->stop)) {
		ret = poll(pfd, rv->nfds, POLL_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0) {
			run_fail(run, "resolver %d: poll(userfaultfd): %s",
				 rv->idx, strerror(errno));
			break;
		}
		for (k = 0; k < rv->nfds && ret > 0; k++) {
			if (!pfd[k].revents)
				continue;
			if (pfd[k].revents & (POLLERR | POLLNVAL)) {
				run_fail(run, "resolver %d: poll(userfaultfd): revents %#x",
					 rv->idx, pfd[k].revents);
				return NULL;
			}
			if (uffd_serve(rv, pfd[k].fd))
				return NULL;
		}
	}
	return NULL;
}

/* What the kernel says about a stalled region, for the failure report. */
static void stall_report(struct pca_test_ctx *t, struct frun *run)
{
	struct pca_region_info info;
	struct pca_client *c;
	int i;

	pca_t_diag(t, "%s: no page resolved for %d s: %lu of %zu pages touched, %d of %d faulting threads done",
		   be_name[run->be], PCA_BENCH_STALL_S,
		   atomic_load(&run->touched), run->npages,
		   atomic_load(&run->faulters_done), run->nf);
	for (i = 0; i < run->nr; i++)
		pca_t_diag(t, "  resolver %d: %lu receives, %lu records, %lu duplicates, %lu ENOBUFS",
			   i, atomic_load(&run->r[i].calls),
			   atomic_load(&run->r[i].records),
			   atomic_load(&run->r[i].dup),
			   atomic_load(&run->r[i].enobufs));
	if (is_uffd(run->be))
		return;
	if (pca_client_open(&c)) {
		pca_t_diag(t, "  region stats: %s", pca_strerror(NULL));
		return;
	}
	pca_client_set_timeout(c, 2000);
	if (pca_region_get(c, run->region_id, &info))
		pca_t_diag(t, "  pca_region_get: %s", pca_strerror(c));
	else
		pca_t_diag(t, "  region %u: %u queues, %llu pages present, faults %llu, coalesced %llu, copied %llu, eexist %llu, pending %llu",
			   info.id, info.queues,
			   (unsigned long long)info.pages_present,
			   (unsigned long long)info.stats.faults,
			   (unsigned long long)info.stats.faults_coalesced,
			   (unsigned long long)info.stats.pages_copied,
			   (unsigned long long)info.stats.copy_eexist,
			   (unsigned long long)info.stats.faults_pending);
	pca_client_close(c);
}

/* Lower bound (us) of the wait-histogram bucket holding percentile @p. */
static double hist_pct_us(const struct pca_region_stats *s, unsigned int p,
			  double *hi)
{
	uint64_t total = 0, acc = 0;
	int i;

	for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++)
		total += s->wait_hist[i];
	*hi = 0;
	if (!total)
		return 0;
	for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++) {
		acc += s->wait_hist[i];
		if (acc * 100 >= total * p)
			break;
	}
	if (i == PCA_WAIT_HIST_BUCKETS)
		i--;
	*hi = (double)(1ULL << i);
	return i ? (double)(1ULL << (i - 1)) : 0;
}

static void fault_results(struct frun *run, struct fault_result *res)
{
	uint64_t start = UINT64_MAX, end = 0, *lat;
	int64_t *seg;
	size_t i, n = 0, ns;
	unsigned long calls = 0, records = 0;
	int s;

	for (i = 0; i < (size_t)run->nf; i++) {
		if (run->f[i].start < start)
			start = run->f[i].start;
		if (run->f[i].end > end)
			end = run->f[i].end;
		n += run->f[i].done;
	}
	res->pages = n;
	res->secs = end > start ? (end - start) / 1e9 : 0;
	res->rate = end > start ? n * 1e9 / (end - start) : 0;

	lat = calloc(run->npages, sizeof(*lat));
	seg = calloc(run->npages, sizeof(*seg));
	if (!lat || !seg) {
		/* tiny next to the mappings; fail loudly all the same */
		fprintf(stdout, "# %s: out of memory for %zu latencies\n",
			cur_test, n);
		fflush(stdout);
		_exit(KSFT_FAIL);
	}
	/* the pages touched before the time cap */
	for (i = 0, ns = 0; i < run->npages; i++)
		if (run->t_back[i])
			lat[ns++] = run->t_back[i] - run->t_touch[i];
	n = ns;
	if (!n) {
		fprintf(stdout, "# %s: %s: no page touched\n", cur_test,
			be_name[run->be]);
		fflush(stdout);
		_exit(KSFT_FAIL);
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	res->p50_us = pct_u64(lat, n, 50) / 1e3;
	res->p99_us = pct_u64(lat, n, 99) / 1e3;

	/* where the time goes, from the timestamps taken on the way */
	res->nseg = is_uffd(run->be) ? ARRAY_SIZE(seg_uffd) :
		    ARRAY_SIZE(seg_pca);
	for (s = 0; s < res->nseg; s++) {
		for (i = 0, ns = 0; i < run->npages; i++) {
			uint64_t pts[5] = {
				run->t_touch[i], run->t_raise[i],
				run->t_recv[i], run->t_done[i], run->t_back[i],
			};
			uint64_t a, b;

			if (is_uffd(run->be)) {
				/* no raise time: touch, recv, done, back */
				a = pts[s == 0 ? 0 : s + 1];
				b = pts[s + 2];
			} else {
				a = pts[s];
				b = pts[s + 1];
			}
			if (!a || !b)
				continue;
			seg[ns++] = (int64_t)(b - a);
		}
		if (!ns) {
			res->seg_us[s] = NAN;
			continue;
		}
		qsort(seg, ns, sizeof(*seg), cmp_s64);
		res->seg_us[s] = seg[(ns - 1) / 2] / 1e3;
	}
	free(lat);
	free(seg);

	res->dup = res->enobufs = 0;
	for (i = 0; i < (size_t)run->nr; i++) {
		calls += atomic_load(&run->r[i].calls);
		records += atomic_load(&run->r[i].records);
		res->dup += atomic_load(&run->r[i].dup);
		res->enobufs += atomic_load(&run->r[i].enobufs);
	}
	res->recs_per_call = calls ? (double)records / calls : 0;
	res->records = records;
}

static void fault_report(struct pca_test_ctx *t, enum backend be, int nf,
			 int nr, size_t npages, const struct fault_result *res)
{
	const char *const *names = is_uffd(be) ? seg_uffd : seg_pca;
	char segs[256];
	size_t off = 0;
	int s;

	pca_t_diag(t, "%-16s %dT/%dR: %zu of %zu pages in %.2f s: %.0f pages/s, p50 %.1f us, p99 %.1f us, %.2f records/receive, %lu dup, %lu ENOBUFS",
		   be_name[be], nf, nr, res->pages, npages, res->secs,
		   res->rate, res->p50_us, res->p99_us, res->recs_per_call,
		   res->dup, res->enobufs);
	for (s = 0; s < res->nseg; s++)
		off += snprintf(segs + off, sizeof(segs) - off, "%s%s %.1f",
				s ? ", " : "", names[s], res->seg_us[s]);
	pca_t_diag(t, "%-16s   medians (us): %s", "", segs);
	if (res->has_info) {
		const struct pca_region_stats *st = &res->info.stats;
		double lo50, hi50, lo99, hi99;

		lo50 = hist_pct_us(st, 50, &hi50);
		lo99 = hist_pct_us(st, 99, &hi99);
		pca_t_diag(t, "%-16s   kernel: faults %llu, coalesced %llu, copied %llu, eexist %llu, premapped %llu; in-kernel wait p50 in [%.0f, %.0f) us, p99 in [%.0f, %.0f) us",
			   "", (unsigned long long)st->faults,
			   (unsigned long long)st->faults_coalesced,
			   (unsigned long long)st->pages_copied,
			   (unsigned long long)st->copy_eexist,
			   (unsigned long long)st->faults_premapped,
			   lo50, hi50, lo99, hi99);
	}
}

/*
 * One fault run: @nf faulting threads touch @npages pages of a missing
 * area in @order, @nr resolvers serve them through backend @be, each
 * fault with a copy of @unit bytes: the page, or with HUGE_UNIT a huge
 * region (ours) or a hugetlbfs area (userfaultfd), in which case every
 * page must be touched (@seconds 0: no time cap) and the data is checked
 * again afterwards.
 */
static void fault_run(struct pca_test_ctx *t, enum backend be, int nf,
		      int nr, const int *rcpu, const char *src,
		      const uint32_t *order, size_t npages, size_t unit,
		      unsigned int seconds, struct fault_result *res)
{
	struct vm_snap vm0, vm1;
	struct frun *run;
	size_t len = npages * pg;
	uint64_t tlast;
	unsigned long last;
	int i, ret;

	run = calloc(1, sizeof(*run));
	if (!run)
		PCA_FATAL(t, "out of memory");
	run->be = be;
	run->npages = npages;
	run->unit = unit;
	run->order = order;
	run->src = src;
	run->nf = nf;
	run->nr = nr;
	run->cap_ns = seconds * NSEC_PER_SEC;
	run->fd = -1;
	run->hfd = -1;
	pthread_mutex_init(&run->lock, NULL);
	run->t_touch = calloc(npages, sizeof(uint64_t));
	run->t_back = calloc(npages, sizeof(uint64_t));
	run->t_raise = calloc(npages, sizeof(uint64_t));
	run->t_recv = calloc(npages, sizeof(uint64_t));
	run->t_done = calloc(npages, sizeof(uint64_t));
	if (!run->t_touch || !run->t_back || !run->t_raise || !run->t_recv ||
	    !run->t_done)
		PCA_FATAL(t, "out of memory for %zu timestamps", npages);

	if (be == BE_UFFD) {
		run->area = unit == pg ? map_anon(t, len) :
			    hugetlb_map(t, len, &run->hfd);
		run->fd = uffd_register_area(t, run->area, len);
	} else if (be == BE_UFFD_PT) {
		/* pages only; thread i's slice is its own (sequential order) */
		run->area = map_anon(t, len);
		for (i = 0; i < nf; i++) {
			size_t first = npages * i / nf;
			size_t end = npages * (i + 1) / nf;

			run->pt_fd[i] = uffd_register_area(t,
						run->area + first * pg,
						(end - first) * pg);
		}
	} else {
		if (unit == pg)
			run->fd = pca_region_create(len, PCA_REGION_MISSING,
						    &run->region_id);
		else
			run->fd = huge_region_create(t, len, &run->region_id);
		if (run->fd < 0)
			PCA_FATAL(t, "pca_region_create(%zu MiB, MISSING): %s",
				  len / MIB, strerror(-run->fd));
		/* a huge region's file aligns the address to the unit */
		run->area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
				 run->fd, 0);
		if (run->area == MAP_FAILED)
			PCA_FATAL(t, "mmap of the region: %s", strerror(errno));
		/* attach order is queue order: queue i serves CPU i (of nr) */
		for (i = 0; i < nr; i++) {
			struct resolver *rv = &run->r[i];

			if (pca_client_open(&rv->c))
				PCA_FATAL(t, "pca_client_open: %s",
					  pca_strerror(NULL));
			pca_client_set_timeout(rv->c, 5000);
			if (be == BE_PCA_RING) {
				if (pca_attach_ring(rv->c, run->region_id,
						    PCA_POLICY_FAIL,
						    RING_ENTRIES, &rv->ring,
						    &rv->queue_id))
					PCA_FATAL(t, "pca_attach_ring(region %u) #%d: %s",
						  run->region_id, i,
						  pca_strerror(rv->c));
				continue;
			}
			if (pca_attach(rv->c, run->region_id, PCA_POLICY_FAIL,
				       &rv->queue_id))
				PCA_FATAL(t, "pca_attach(region %u) #%d: %s",
					  run->region_id, i,
					  pca_strerror(rv->c));
		}
	}

	ret = pthread_barrier_init(&run->barrier, NULL, nf + nr + 1);
	if (ret)
		PCA_FATAL(t, "pthread_barrier_init: %s", strerror(ret));
	for (i = 0; i < nr; i++) {
		run->r[i].run = run;
		run->r[i].idx = i;
		run->r[i].cpu = rcpu[i];
		run->r[i].nfds = 0;
		if (be == BE_UFFD) {
			run->r[i].fds[run->r[i].nfds++] = run->fd;
		} else if (be == BE_UFFD_PT) {
			int k;

			/* resolver i serves the threads i, i + nr, ... */
			for (k = i; k < nf; k += nr)
				run->r[i].fds[run->r[i].nfds++] = run->pt_fd[k];
		}
		ret = pthread_create(&run->r[i].th, NULL,
				     is_uffd(be) ? resolver_uffd :
				     resolver_pca, &run->r[i]);
		if (ret)
			PCA_FATAL(t, "pthread_create(resolver): %s",
				  strerror(ret));
	}
	for (i = 0; i < nf; i++) {
		struct faulter *f = &run->f[i];

		f->run = run;
		f->first = npages * i / nf;
		f->count = npages * (i + 1) / nf - f->first;
		f->cpu = nf == 1 ? usable_cpu(0) : i % ncpus;
		ret = pthread_create(&f->th, NULL, faulter_main, f);
		if (ret)
			PCA_FATAL(t, "pthread_create(faulter): %s",
				  strerror(ret));
	}
	vm_snap_read(&vm0);
	pthread_barrier_wait(&run->barrier);

	/* watchdog: faulting threads sleep in the kernel if nobody serves */
	last = 0;
	tlast = now_ns();
	while (atomic_load(&run->faulters_done) < nf) {
		unsigned long cur;

		sleep_ms(10);
		if (atomic_load(&run->failed)) {
			pthread_mutex_lock(&run->lock);
			PCA_FATAL(t, "%s: %s", be_name[be], run->err);
		}
		cur = atomic_load(&run->touched);
		if (cur != last) {
			last = cur;
			tlast = now_ns();
		} else if (now_ns() - tlast >
			   PCA_BENCH_STALL_S * NSEC_PER_SEC) {
			stall_report(t, run);
			PCA_FATAL(t, "%s: fault round trips stalled", be_name[be]);
		}
	}
	for (i = 0; i < nf; i++)
		pthread_join(run->f[i].th, NULL);
	vm_snap_read(&vm1);
	vm_snap_diff(&vm0, &vm1, res->vm_activity, sizeof(res->vm_activity));
	atomic_store(&run->stop, 1);
	for (i = 0; i < nr; i++) {
		/* resolvers look at stop every POLL_MS, unless the kernel holds them */
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += PCA_BENCH_STALL_S;
		ret = pthread_timedjoin_np(run->r[i].th, NULL, &until);
		if (ret)
			PCA_FATAL(t, "%s: resolver %d did not stop within %d s (%s): stuck in a receive or a COPY?",
				  be_name[be], i, PCA_BENCH_STALL_S,
				  strerror(ret));
	}
	if (atomic_load(&run->failed))
		PCA_FATAL(t, "%s: %s", be_name[be], run->err);
	for (i = 0; i < nf; i++)
		if (run->f[i].bad)
			PCA_FATAL(t, "%s: faulting thread %d read %lu pages with wrong contents",
				  be_name[be], i, run->f[i].bad);

	res->pmd_kb = -1;
	res->aligned = !((uintptr_t)run->area % unit);
	if (unit != pg) {
		size_t bad;

		/*
		 * Mapped by PMD: FilePmdMapped for the region; hugetlbfs
		 * counts a page mapped once as Private_Hugetlb, even in a
		 * shared mapping, and by several as Shared_Hugetlb.
		 */
		if (is_uffd(be)) {
			long p = smaps_kb(run->area, "Private_Hugetlb");
			long s = smaps_kb(run->area, "Shared_Hugetlb");

			res->pmd_kb = p < 0 || s < 0 ? -1 : p + s;
		} else {
			res->pmd_kb = smaps_kb(run->area, "FilePmdMapped");
		}
		/* everything was touched, nothing faults any more */
		bad = verify_sample(run->area, src, npages);
		if (bad)
			PCA_FATAL(t, "%s: %zu of %zu pages hold wrong data after the run",
				  be_name[be], bad, npages);
	}
	fault_results(run, res);
	res->has_info = false;
	if (!is_uffd(be)) {
		/* the resolvers are done: their client is free to use */
		if (pca_region_get(run->r[0].c, run->region_id, &res->info))
			pca_t_diag(t, "pca_region_get(%u): %s", run->region_id,
				   pca_strerror(run->r[0].c));
		else
			res->has_info = res->info.has_stats;
		for (i = 0; i < nr; i++) {
			pca_ring_close(run->r[i].ring);
			pca_client_close(run->r[i].c);
		}
	}
	munmap(run->area, len);
	if (run->fd >= 0)
		close(run->fd);
	if (be == BE_UFFD_PT)
		for (i = 0; i < nf; i++)
			close(run->pt_fd[i]);
	if (run->hfd >= 0)
		close(run->hfd);
	pthread_barrier_destroy(&run->barrier);
	pthread_mutex_destroy(&run->lock);
	free(run->t_touch);
	free(run->t_back);
	free(run->t_raise);
	free(run->t_recv);
	free(run->t_done);
	free(run);
}

static uint32_t *make_order(struct pca_test_ctx *t, size_t npages)
{
	uint32_t *order = calloc(npages, sizeof(*order));
	uint64_t x = 0x9e3779b97f4a7c15ULL;	/* fixed: same for both */
	size_t i;

	if (!order)
		PCA_FATAL(t, "out of memory");
	for (i = 0; i < npages; i++)
		order[i] = i;
	if (!cfg.shuffle)
		return order;
	for (i = npages - 1; i > 0; i--) {
		size_t j;
		uint32_t tmp;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		j = x % (i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	return order;
}

/* Fail unless the handshake reported @features; false in -b mode. */
static bool need_ours(struct pca_test_ctx *t, uint64_t features)
{
	uint64_t missing = features & ~t->api.features;
	char names[200];

	if (cfg.baseline_only)
		return false;
	if (!t->api.version)
		PCA_FATAL(t, "no postcopy_assist handshake (module not loaded?); -b measures userfaultfd alone");
	if (missing) {
		pca_features_text(missing, names, sizeof(names));
		PCA_SKIP(t, "feature(s) not supported: %s", names);
	}
	return true;
}

/*
 * The kernel's boot line on memory auto-initialisation ("mem auto-init:
 * stack:..., heap alloc:on, ..."), without its timestamp, into @out; ""
 * when the log does not have it (any more).
 */
static void mem_auto_init(char *out, size_t len)
{
	static const char key[] = "mem auto-init: stack";
	char *buf, *p, *hit = NULL;
	int size, n;

	out[0] = '\0';
	size = klogctl(10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	if (size <= 0)
		return;
	buf = malloc(size + 1);
	if (!buf)
		return;
	n = klogctl(3, buf, size);	/* SYSLOG_ACTION_READ_ALL */
	if (n > 0) {
		buf[n] = '\0';
		for (p = strstr(buf, key); p; p = strstr(p + 1, key))
			hit = p;
		if (hit)
			snprintf(out, len, "%.*s", (int)strcspn(hit, "\n"), hit);
	}
	free(buf);
}

static void bench_header(void)
{
	struct utsname u;
	char cs[64] = "?", autoinit[160];
	uint64_t t0, t1;
	int i;
	FILE *f;

	if (bench->header_done)
		return;
	bench->header_done = 1;
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "?");
	f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		  "r");
	if (f) {
		if (fgets(cs, sizeof(cs), f))
			cs[strcspn(cs, "\n")] = '\0';
		fclose(f);
	}
	t0 = now_ns();
	for (i = 0; i < 10000; i++)
		now_ns();
	t1 = now_ns();
	pca_diag("fault_bench: kernel %s, %ld CPUs, clocksource %s, clock_gettime %.0f ns",
		 u.release, sysconf(_SC_NPROCESSORS_ONLN), cs,
		 (t1 - t0) / 10000.0);
	mem_auto_init(autoinit, sizeof(autoinit));
	pca_diag("fault_bench: %s", autoinit[0] ? autoinit :
		 "mem auto-init: not in the kernel log");
	pca_diag("fault_bench: -n %zu pages (%zu MiB, %s) -d %u s -P %s -r %d; -m %zu MiB -B %zu -R %d; -H %zu MiB%s",
		 cfg.fault_pages, cfg.fault_pages * pg / MIB,
		 cfg.shuffle ? "shuffled" : "sequential", cfg.seconds,
		 cfg.pin_local ? "local" : "free", cfg.repeats, cfg.bulk_mib,
		 cfg.batch, cfg.bulk_repeats, cfg.huge_mib,
		 cfg.baseline_only ? ", userfaultfd only" : "");
}

static void bench_start(struct pca_test_ctx *t)
{
	cur_test = t->test->name;
	bench_header();
}

/*
 * Fault round trips, @nf faulting threads (thread i on CPU i modulo the
 * online CPUs) and @nr resolvers, userfaultfd and ours (fd_copy; netlink
 * COPY too with @with_nl; a fault ring with fd_copy where the module has
 * rings), runs interleaved.  Resolvers run on the CPU of the faulting
 * thread of the same index (-P local), anywhere (-P free), or, with
 * @xcpu, on CPU 1 while the one faulting thread is on CPU 0.  With @nf
 * above 1, a row compares the ring's pages/s per faulting thread with
 * its one-thread rate (fault_1t, which runs first).
 */
static void fault_compare(struct pca_test_ctx *t, int nf, int nr,
			  bool with_nl, bool xcpu, uint64_t features)
{
	static const char *const tag[NR_BACKENDS] = {
		[BE_PCA_FD] = "fdcopy", [BE_PCA_NL] = "nlcopy",
		[BE_PCA_RING] = "ringcopy",
	};
	static const char *const what[3] = { "rate", "p50", "p99" };
	struct fault_result res[NR_BACKENDS][MAX_REPEATS];
	double m[NR_BACKENDS][3] = { { 0 } };
	bool on[NR_BACKENDS] = { false };
	size_t npages = cfg.fault_pages, wn;
	int rcpu[MAX_RESOLVERS], r, k, b, w;
	uint32_t *order, *worder;
	char name[64];
	char *src;

	bench_start(t);
	for (k = 0; k < MAX_RESOLVERS; k++)
		rcpu[k] = -1;
	on[BE_PCA_FD] = need_ours(t, features);
	on[BE_PCA_NL] = on[BE_PCA_FD] && with_nl;
	on[BE_PCA_RING] = on[BE_PCA_FD] &&
			  (t->api.features & PCA_FEATURE_FAULT_RING);
	/* what a VMM would do with many vCPUs: a userfaultfd per vCPU */
	on[BE_UFFD_PT] = uffd_usable(t) && nf > 1 && !cfg.shuffle &&
			 nf <= MAX_FAULTERS;
	on[BE_UFFD] = uffd_usable(t);
	if ((nf > 1 || xcpu || (cfg.pin_local && nr > 1)) &&
	    (usable_cpu(0) < 0 || usable_cpu(1) < 0))
		PCA_SKIP(t, "needs CPUs 0 and 1 to pin the threads");
	if (xcpu)
		rcpu[0] = 1;
	else if (cfg.pin_local)
		for (k = 0; k < nr; k++)
			rcpu[k] = nf == 1 ? usable_cpu(0) : k % nf;
	for (k = 0, wn = 0; k < nr && wn < sizeof(name) - 8; k++) {
		if (rcpu[k] >= 0)
			wn += snprintf(name + wn, sizeof(name) - wn, " %d",
				       rcpu[k]);
		else
			wn += snprintf(name + wn, sizeof(name) - wn, " any");
	}
	pca_t_diag(t, "%d faulting thread%s on CPU%s; %d resolver%s on CPU%s",
		   nf, nf == 1 ? "" : "s", nf == 1 ? " 0" :
		   nf == 2 || ncpus == 2 ? "s 0 1" : "s 0 to n-1 (round robin)",
		   nr, nr == 1 ? "" : "s", name);

	src = src_alloc(t, npages);
	order = make_order(t, npages);

	/* warm up each path (slab caches, socket buffers), not reported */
	wn = npages < WARMUP_PAGES ? npages : WARMUP_PAGES;
	worder = make_order(t, wn);
	for (b = 0; b < NR_BACKENDS; b++)
		if (on[b])
			fault_run(t, b, 1, 1, rcpu, src, worder, wn, pg,
				  WARMUP_SECONDS, &res[b][0]);
	free(worder);

	for (r = 0; r < cfg.repeats; r++) {
		/* rotate who goes first, so neither side always does */
		for (k = 0; k < NR_BACKENDS; k++) {
			b = (k + r) % NR_BACKENDS;
			if (!on[b])
				continue;
			fault_run(t, b, nf, nr, rcpu, src, order, npages, pg,
				  cfg.seconds, &res[b][r]);
			fault_report(t, b, nf, nr, npages, &res[b][r]);
		}
	}

	for (b = 0; b < NR_BACKENDS; b++) {
		double v[MAX_REPEATS];

		for (w = 0; w < 3 && on[b]; w++) {
			for (r = 0; r < cfg.repeats; r++)
				v[r] = w == 0 ? res[b][r].rate :
				       w == 1 ? res[b][r].p50_us : res[b][r].p99_us;
			m[b][w] = median_d(v, cfg.repeats);
		}
	}
	/* rows for fd_copy (even in -b mode, ours null), netlink COPY, ring */
	for (b = BE_PCA_FD; b < NR_BACKENDS; b++) {
		if ((b == BE_PCA_NL && !with_nl) ||
		    (b == BE_PCA_RING && !on[b]) || b == BE_UFFD_PT)
			continue;
		for (w = 0; w < 3; w++) {
			snprintf(name, sizeof(name), "%s_%s_%s", t->test->name,
				 tag[b], what[w]);
			bench_row(name, w ? "us" : "pages/s", w != 0, on[b],
				  m[b][w], on[BE_UFFD], m[BE_UFFD][w]);
		}
	}
	/* the ring against a userfaultfd per faulting thread */
	if (on[BE_UFFD_PT]) {
		b = on[BE_PCA_RING] ? BE_PCA_RING : BE_PCA_FD;
		snprintf(name, sizeof(name), "%s_%s_rate_vs_uffd_pt",
			 t->test->name, tag[b]);
		bench_row(name, "pages/s", false, on[b], m[b][0],
			  true, m[BE_UFFD_PT][0]);
	}
	if (nf > 1 && on[BE_PCA_RING]) {
		struct fault_result one;
		int cpu0 = usable_cpu(0);

		/* our own one-thread rate, measured here, in the same state */
		fault_run(t, BE_PCA_RING, 1, 1, &cpu0, src, order, npages, pg,
			  cfg.seconds, &one);
		fault_report(t, BE_PCA_RING, 1, 1, npages, &one);
		/* ours: per faulting thread; "baseline": our 1-thread rate */
		snprintf(name, sizeof(name), "%s_ring_per_thread_vs_1t",
			 t->test->name);
		pca_t_diag(t, "ring, per faulting thread: %.0f pages/s at %d threads, %.0f pages/s with one: %.3f",
			   m[BE_PCA_RING][0] / nf, nf, one.rate,
			   one.rate > 0 ? m[BE_PCA_RING][0] / nf / one.rate : 0);
		bench_row(name, "pages/s", false, true,
			  m[BE_PCA_RING][0] / nf, true, one.rate);
	}
	free(order);
	munmap(src, npages * pg);
}

static void test_fault_1t(struct pca_test_ctx *t)
{
	fault_compare(t, 1, 1, true, false,
		      PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE);
}

static void test_fault_1t_xcpu(struct pca_test_ctx *t)
{
	fault_compare(t, 1, 1, false, true,
		      PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE);
}

static void test_fault_2t_1r(struct pca_test_ctx *t)
{
	fault_compare(t, 2, 1, false, false,
		      PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE);
}

static void test_fault_2t_2r(struct pca_test_ctx *t)
{
	fault_compare(t, 2, 2, false, false,
		      PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE |
		      PCA_FEATURE_SHARDED_QUEUES);
}

/*
 * Many faulting threads, more than CPUs: one queue (one resolver) or one
 * queue and resolver per online CPU, against one userfaultfd read by as
 * many handler threads.
 */
static void fault_many(struct pca_test_ctx *t, int nf, bool per_cpu)
{
	int nr = per_cpu ? ncpus : 1;

	if (nr > MAX_RESOLVERS)
		nr = MAX_RESOLVERS;
	fault_compare(t, nf, nr, false, false,
		      PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE |
		      (nr > 1 ? PCA_FEATURE_SHARDED_QUEUES : 0));
}

static void test_fault_8t_1q(struct pca_test_ctx *t)
{
	fault_many(t, 8, false);
}

static void test_fault_8t_pcpu(struct pca_test_ctx *t)
{
	fault_many(t, 8, true);
}

static void test_fault_16t_1q(struct pca_test_ctx *t)
{
	fault_many(t, 16, false);
}

static void test_fault_16t_pcpu(struct pca_test_ctx *t)
{
	fault_many(t, 16, true);
}

static void test_fault_64t_1q(struct pca_test_ctx *t)
{
	fault_many(t, 64, false);
}

static void test_fault_64t_pcpu(struct pca_test_ctx *t)
{
	fault_many(t, 64, true);
}

/* -------------------------------------------------------------------------
 * Bulk placement
 */

enum bulk_kind {
	BULK_PCA_BATCH,
	BULK_PCA_CONTIG,
	BULK_UFFD_PAGE,
	BULK_UFFD_CONTIG,
	BULK_MEMCPY,
	NR_BULK
};

static const char *const bulk_name[NR_BULK] = {
	[BULK_PCA_BATCH] = "pca COPY_BATCH",
	[BULK_PCA_CONTIG] = "pca COPY (one call)",
	[BULK_UFFD_PAGE] = "UFFDIO_COPY per page",
	[BULK_UFFD_CONTIG] = "UFFDIO_COPY (one call)",
	[BULK_MEMCPY] = "memcpy, populated",
};

/* Place @npages pages of @src one way; MiB/s.  Checked afterwards. */
static double bulk_run(struct pca_test_ctx *t, enum bulk_kind kind,
		       const char *src, size_t npages)
{
	size_t len = npages * pg, i, bad;
	struct pca_copy_entry *ents = NULL;
	char *area = NULL;
	uint64_t t0, t1;
	uint32_t id = 0;
	int fd = -1, ret;

	/* setup, untimed */
	switch (kind) {
	case BULK_PCA_BATCH:
		ents = calloc(npages, sizeof(*ents));
		if (!ents)
			PCA_FATAL(t, "out of memory");
		for (i = 0; i < npages; i++) {
			ents[i].offset = i * pg;
			ents[i].src = (uintptr_t)(src + i * pg);
		}
		/* fall through */
	case BULK_PCA_CONTIG:
		fd = pca_region_create(len, PCA_REGION_MISSING, &id);
		if (fd < 0)
			PCA_FATAL(t, "pca_region_create(%zu MiB, MISSING): %s",
				  len / MIB, strerror(-fd));
		break;
	case BULK_UFFD_PAGE:
	case BULK_UFFD_CONTIG:
		area = map_anon(t, len);
		fd = uffd_register_area(t, area, len);
		break;
	case BULK_MEMCPY:
		area = map_anon(t, len);
		memset(area, 0, len);	/* populated: no fault below */
		break;
	case NR_BULK:
		break;
	}

	t0 = now_ns();
	switch (kind) {
	case BULK_PCA_BATCH:
		for (i = 0; i < npages; i += cfg.batch) {
			uint64_t n = npages - i < cfg.batch ? npages - i :
				     cfg.batch, copied = 0, existed = 0;

			ret = pca_fd_copy_batch(fd, ents + i, n, 0, &copied,
						&existed);
			if (ret || copied != n || existed)
				PCA_FATAL(t, "pca_fd_copy_batch(%llu entries at page %zu): %s, copied %llu, existed %llu",
					  (unsigned long long)n, i,
					  ret ? strerror(-ret) : "ok",
					  (unsigned long long)copied,
					  (unsigned long long)existed);
		}
		break;
	case BULK_PCA_CONTIG: {
		int64_t copied = 0;

		ret = pca_fd_copy(fd, 0, src, len, 0, &copied);
		if (ret || copied != (int64_t)len)
			PCA_FATAL(t, "pca_fd_copy(%zu MiB): %s, copied %lld",
				  len / MIB, ret ? strerror(-ret) : "ok",
				  (long long)copied);
		break;
	}
	case BULK_UFFD_PAGE:
		for (i = 0; i < npages; i++) {
			ret = uffd_copy(fd, (uintptr_t)area + i * pg,
					src + i * pg, pg);
			if (ret)
				PCA_FATAL(t, "UFFDIO_COPY of page %zu: %s", i,
					  strerror(-ret));
		}
		break;
	case BULK_UFFD_CONTIG:
		ret = uffd_copy(fd, (uintptr_t)area, src, len);
		if (ret)
			PCA_FATAL(t, "UFFDIO_COPY of %zu MiB: %s", len / MIB,
				  strerror(-ret));
		break;
	case BULK_MEMCPY:
		memcpy(area, src, len);
		break;
	case NR_BULK:
		break;
	}
	t1 = now_ns();

	/* check, untimed: the pages must hold the source's data */
	if (kind == BULK_PCA_BATCH || kind == BULK_PCA_CONTIG) {
		area = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		if (area == MAP_FAILED)
			PCA_FATAL(t, "mmap of the region: %s", strerror(errno));
	}
	bad = verify_area(area, npages);
	if (bad)
		PCA_FATAL(t, "%s: %zu of %zu pages hold wrong data",
			  bulk_name[kind], bad, npages);
	munmap(area, len);
	if (fd >= 0)
		close(fd);
	free(ents);
	return t1 > t0 ? (double)len / MIB * 1e9 / (t1 - t0) : 0;
}

static void test_bulk_copy(struct pca_test_ctx *t)
{
	static const struct {
		const char *name;
		enum bulk_kind ours, base;
	} rows[] = {
		{ "bulk_batch_vs_uffd_page", BULK_PCA_BATCH, BULK_UFFD_PAGE },
		{ "bulk_contig_vs_uffd_page", BULK_PCA_CONTIG, BULK_UFFD_PAGE },
		{ "bulk_contig_vs_uffd_contig", BULK_PCA_CONTIG,
		  BULK_UFFD_CONTIG },
		{ "bulk_batch_vs_memcpy", BULK_PCA_BATCH, BULK_MEMCPY },
		{ "bulk_contig_vs_memcpy", BULK_PCA_CONTIG, BULK_MEMCPY },
	};
	double v[NR_BULK][MAX_REPEATS], m[NR_BULK];
	bool on[NR_BULK];
	size_t npages = cfg.bulk_mib * MIB / pg;
	char *src;
	int r, k, kind;
	size_t i;

	bench_start(t);
	on[BULK_PCA_BATCH] = need_ours(t, PCA_FEATURE_MISSING |
				       PCA_FEATURE_FD_RESOLVE |
				       PCA_FEATURE_COPY_BATCH);
	on[BULK_PCA_CONTIG] = on[BULK_PCA_BATCH];
	on[BULK_UFFD_PAGE] = on[BULK_UFFD_CONTIG] = uffd_usable(t);
	on[BULK_MEMCPY] = true;

	src = src_alloc(t, npages);
	for (r = 0; r < cfg.bulk_repeats; r++) {
		for (k = 0; k < NR_BULK; k++) {
			/* alternate: ours first, then the baselines first */
			kind = r % 2 ? NR_BULK - 1 - k : k;
			if (!on[kind])
				continue;
			v[kind][r] = bulk_run(t, kind, src, npages);
			pca_t_diag(t, "%-24s %zu MiB: %.1f MiB/s", bulk_name[kind],
				   cfg.bulk_mib, v[kind][r]);
		}
	}
	for (kind = 0; kind < NR_BULK; kind++)
		m[kind] = on[kind] ? median_d(v[kind], cfg.bulk_repeats) : 0;
	for (i = 0; i < ARRAY_SIZE(rows); i++)
		bench_row(rows[i].name, "MiB/s", false, on[rows[i].ours],
			  m[rows[i].ours], on[rows[i].base], m[rows[i].base]);
	munmap(src, npages * pg);
}

/* -------------------------------------------------------------------------
 * First touch of placed pages
 */

#define TOUCH_PAGES	4096

/* Place TOUCH_PAGES of @src, touch each once in @order: p50 and mean, us. */
static void touch_run(struct pca_test_ctx *t, bool ours, const char *src,
		      const uint32_t *order, double *p50, double *mean)
{
	size_t len = TOUCH_PAGES * pg, i, bad = 0;
	uint64_t *lat = calloc(TOUCH_PAGES, sizeof(*lat)), sum = 0;
	char *area;
	uint32_t id;
	int fd;

	if (!lat)
		PCA_FATAL(t, "out of memory");
	if (ours) {
		struct pca_copy_entry *ents = calloc(TOUCH_PAGES,
						     sizeof(*ents));
		uint64_t copied = 0, existed = 0;

		if (!ents)
			PCA_FATAL(t, "out of memory");
		fd = pca_region_create(len, PCA_REGION_MISSING, &id);
		if (fd < 0)
			PCA_FATAL(t, "pca_region_create: %s", strerror(-fd));
		for (i = 0; i < TOUCH_PAGES; i++) {
			ents[i].offset = i * pg;
			ents[i].src = (uintptr_t)(src + i * pg);
		}
		for (i = 0; i < TOUCH_PAGES; i += cfg.batch)
			if (pca_fd_copy_batch(fd, ents + i,
					      TOUCH_PAGES - i < cfg.batch ?
					      TOUCH_PAGES - i : cfg.batch, 0,
					      &copied, &existed))
				PCA_FATAL(t, "pca_fd_copy_batch failed");
		free(ents);
		area = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			    0);
		if (area == MAP_FAILED)
			PCA_FATAL(t, "mmap of the region: %s", strerror(errno));
	} else {
		area = map_anon(t, len);
		fd = uffd_register_area(t, area, len);
		if (uffd_copy(fd, (uintptr_t)area, src, len))
			PCA_FATAL(t, "UFFDIO_COPY of the area failed");
	}

	for (i = 0; i < TOUCH_PAGES; i++) {
		const volatile uint64_t *p =
			(const volatile uint64_t *)(area + order[i] * pg);
		uint64_t t0 = now_ns(), head;

		head = p[0];
		lat[i] = now_ns() - t0;
		sum += lat[i];
		if (head != stamp_head(order[i]))
			bad++;
	}
	if (bad)
		PCA_FATAL(t, "%zu pages read wrong after placement", bad);
	qsort(lat, TOUCH_PAGES, sizeof(*lat), cmp_u64);
	*p50 = lat[TOUCH_PAGES / 2] / 1000.0;
	*mean = (double)sum / TOUCH_PAGES / 1000.0;
	munmap(area, len);
	close(fd);
	free(lat);
}

static void test_placed_touch(struct pca_test_ctx *t)
{
	double v[2][2][2][MAX_REPEATS];	/* [ours][shuffled][p50/mean][run] */
	static const char *const names[2][2] = {
		{ "placed_touch_seq_p50", "placed_touch_seq_mean" },
		{ "placed_touch_rand_p50", "placed_touch_rand_mean" },
	};
	bool base = uffd_usable(t), saved = cfg.shuffle, ours;
	uint32_t *order[2];
	int r, o, s, k;
	char *src;

	bench_start(t);
	ours = need_ours(t, PCA_FEATURE_MISSING | PCA_FEATURE_COPY_BATCH);
	src = src_alloc(t, TOUCH_PAGES);
	cfg.shuffle = false;
	order[0] = make_order(t, TOUCH_PAGES);
	cfg.shuffle = true;
	order[1] = make_order(t, TOUCH_PAGES);
	cfg.shuffle = saved;
	for (r = 0; r < cfg.bulk_repeats; r++)
		for (s = 0; s < 2; s++)
			for (k = 0; k < 2; k++) {
				/* alternate which goes first */
				o = (r + k) % 2;
				if ((!o && !base) || (o && !ours))
					continue;
				touch_run(t, o, src, order[s], &v[o][s][0][r],
					  &v[o][s][1][r]);
			}
	for (s = 0; s < 2; s++)
		for (k = 0; k < 2; k++)
			bench_row(names[s][k], "us", true, ours,
				  ours ? median_d(v[1][s][k],
						  cfg.bulk_repeats) : 0,
				  base,
				  base ? median_d(v[0][s][k],
						  cfg.bulk_repeats) : 0);
	free(order[0]);
	free(order[1]);
	munmap(src, TOUCH_PAGES * pg);
}

/* -------------------------------------------------------------------------
 * 2 MiB units
 */

/*
 * Whether the hugetlbfs baseline can run, with the pool grown for
 * @npages pages; says why not once per test.
 */
static bool huge_base_usable(struct pca_test_ctx *t, size_t npages)
{
	char why[200];

	if (!uffd_usable(t))
		return false;
	if (!hpool_reserve(npages * pg / HUGE_UNIT, why, sizeof(why))) {
		pca_t_diag(t, "SKIP baseline: no huge pages for hugetlbfs: %s",
			   why);
		return false;
	}
	return true;
}

enum hplace_kind { HPL_PCA, HPL_UFFD, HPL_MEMCPY, NR_HPL };

static const char *const hplace_name[NR_HPL] = {
	[HPL_PCA] = "pca COPY per 2 MiB",
	[HPL_UFFD] = "UFFDIO_COPY per 2 MiB",
	[HPL_MEMCPY] = "memcpy, populated",
};

/*
 * Place @len bytes of @src in 2 MiB units one way; MiB/s.  Checked
 * afterwards (with @show, ours says how much of it is mapped by PMD).
 */
static double hplace_run(struct pca_test_ctx *t, enum hplace_kind kind,
			 const char *src, size_t len, bool show,
			 char *activity, size_t alen)
{
	struct vm_snap vm0, vm1;
	size_t npages = len / pg, off, bad;
	char *area = NULL;
	int fd = -1, hfd = -1, ret;
	uint64_t t0, t1;
	uint32_t id;

	/* setup, untimed */
	switch (kind) {
	case HPL_PCA:
		fd = huge_region_create(t, len, &id);
		break;
	case HPL_UFFD:
		area = hugetlb_map(t, len, &hfd);
		fd = uffd_register_area(t, area, len);
		break;
	case HPL_MEMCPY:
		area = map_anon(t, len);
		memset(area, 0, len);	/* populated: no fault below */
		break;
	case NR_HPL:
		break;
	}

	vm_snap_read(&vm0);
	t0 = now_ns();
	switch (kind) {
	case HPL_PCA:
		for (off = 0; off < len; off += HUGE_UNIT) {
			int64_t copied = 0;

			ret = pca_fd_copy(fd, off, src + off, HUGE_UNIT, 0,
					  &copied);
			if (ret || copied != (int64_t)HUGE_UNIT)
				PCA_FATAL(t, "pca_fd_copy(2 MiB at %#zx): %s, copied %lld",
					  off, ret ? strerror(-ret) : "ok",
					  (long long)copied);
		}
		break;
	case HPL_UFFD:
		for (off = 0; off < len; off += HUGE_UNIT) {
			ret = uffd_copy(fd, (uintptr_t)area + off, src + off,
					HUGE_UNIT);
			if (ret)
				PCA_FATAL(t, "UFFDIO_COPY of 2 MiB at %#zx: %s",
					  off, strerror(-ret));
		}
		break;
	case HPL_MEMCPY:
		memcpy(area, src, len);
		break;
	case NR_HPL:
		break;
	}
	t1 = now_ns();
	vm_snap_read(&vm1);
	vm_snap_diff(&vm0, &vm1, activity, alen);

	/* check, untimed: the units must hold the source's data */
	if (kind == HPL_PCA) {
		area = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
		if (area == MAP_FAILED)
			PCA_FATAL(t, "mmap of the region: %s", strerror(errno));
	}
	bad = verify_sample(area, src, npages);
	if (bad)
		PCA_FATAL(t, "%s: %zu of %zu pages hold wrong data",
			  hplace_name[kind], bad, npages);
	if (show && kind == HPL_PCA)
		pca_t_diag(t, "placed region read back: FilePmdMapped %ld kB of %zu kB, mapping %s",
			   smaps_kb(area, "FilePmdMapped"), len / 1024,
			   (uintptr_t)area % HUGE_UNIT ? "NOT 2 MiB aligned" :
			   "2 MiB aligned");
	munmap(area, len);
	if (fd >= 0)
		close(fd);
	if (hfd >= 0)
		close(hfd);
	return t1 > t0 ? (double)len / MIB * 1e9 / (t1 - t0) : 0;
}

static void test_huge_place(struct pca_test_ctx *t)
{
	static const struct {
		const char *name;
		enum hplace_kind ours, base;
	} rows[] = {
		{ "huge_place_vs_uffd", HPL_PCA, HPL_UFFD },
		{ "huge_place_vs_memcpy", HPL_PCA, HPL_MEMCPY },
	};
	double v[NR_HPL][MAX_REPEATS], m[NR_HPL];
	size_t len = cfg.huge_mib * MIB, i;
	char activity[160];
	bool on[NR_HPL];
	int r, k, kind;
	char *src;

	bench_start(t);
	on[HPL_PCA] = need_ours(t, PCA_FEATURE_MISSING |
				PCA_FEATURE_FD_RESOLVE | PCA_FEATURE_HUGE);
	on[HPL_UFFD] = huge_base_usable(t, len / pg);
	on[HPL_MEMCPY] = true;

	src = src_alloc_huge(t, len / pg);
	for (r = 0; r < cfg.bulk_repeats; r++) {
		for (k = 0; k < NR_HPL; k++) {
			/* alternate: ours first, then the baselines first */
			kind = r % 2 ? NR_HPL - 1 - k : k;
			if (!on[kind])
				continue;
			v[kind][r] = hplace_run(t, kind, src, len, !r,
						activity, sizeof(activity));
			pca_t_diag(t, "%-24s %zu MiB: %.1f MiB/s%s",
				   hplace_name[kind], cfg.huge_mib, v[kind][r],
				   activity);
		}
	}
	hpool_restore();
	for (kind = 0; kind < NR_HPL; kind++)
		m[kind] = on[kind] ? median_d(v[kind], cfg.bulk_repeats) : 0;
	for (i = 0; i < ARRAY_SIZE(rows); i++)
		bench_row(rows[i].name, "MiB/s", false, on[rows[i].ours],
			  m[rows[i].ours], on[rows[i].base], m[rows[i].base]);
	if (on[HPL_PCA] && m[HPL_PCA] < 0.5 * m[HPL_MEMCPY])
		pca_t_diag(t, "placement below the target of half memcpy's rate: ratio %.3f < 0.5",
			   m[HPL_PCA] / m[HPL_MEMCPY]);
	munmap(src, len);
}

/* What one side of huge_touch_faults saw, as a "# " row. */
static void huge_touch_report(struct pca_test_ctx *t, enum backend be,
			      size_t len, const struct fault_result *res)
{
	char kernel[64] = "";

	if (res->has_info)
		snprintf(kernel, sizeof(kernel), " (kernel: %llu faults)",
			 (unsigned long long)res->info.stats.faults);
	pca_t_diag(t, "%-16s %zu MiB in %.3f s: %.1f MiB/s, %lu faults%s, %lu duplicates; %s %ld kB of %zu kB%s%s",
		   be_name[be], len / MIB, res->secs,
		   res->secs > 0 ? (double)len / MIB / res->secs : 0,
		   res->records, kernel, res->dup,
		   be == BE_UFFD ? "Hugetlb" : "FilePmdMapped",
		   res->pmd_kb, len / 1024,
		   res->aligned ? "" : ", mapping NOT 2 MiB aligned",
		   res->vm_activity);
}

static void test_huge_touch(struct pca_test_ctx *t)
{
	static const enum backend sides[] = { BE_PCA_FD, BE_UFFD };
	struct fault_result res[NR_BACKENDS][MAX_REPEATS];
	double v[NR_BACKENDS][MAX_REPEATS], m[NR_BACKENDS] = { 0 };
	size_t len = cfg.huge_mib * MIB, npages = len / pg;
	size_t units = len / HUGE_UNIT, wn = HUGE_WARMUP_UNITS * HUGE_UNIT / pg;
	bool on[NR_BACKENDS] = { false };
	unsigned long faults[NR_BACKENDS] = { 0 };
	long pmd[NR_BACKENDS] = { 0 };
	int rcpu[2] = { -1, -1 }, r, k, b;
	uint32_t *order;
	char *src;
	size_t i;

	bench_start(t);
	on[BE_PCA_FD] = need_ours(t, PCA_FEATURE_MISSING |
				  PCA_FEATURE_FD_RESOLVE | PCA_FEATURE_HUGE);
	on[BE_UFFD] = huge_base_usable(t, npages);
	if (cfg.pin_local)
		rcpu[0] = usable_cpu(0);
	pca_t_diag(t, "one faulting thread on CPU 0 touches each 4 KiB page once, in order; the resolver on CPU %s places each 2 MiB unit",
		   rcpu[0] >= 0 ? "0" : "any");

	src = src_alloc_huge(t, npages);
	order = calloc(npages, sizeof(*order));
	if (!order)
		PCA_FATAL(t, "out of memory");
	for (i = 0; i < npages; i++)
		order[i] = i;

	/* warm up each path, not reported */
	for (k = 0; k < (int)ARRAY_SIZE(sides); k++)
		if (on[sides[k]])
			fault_run(t, sides[k], 1, 1, rcpu, src, order, wn,
				  HUGE_UNIT, 0, &res[sides[k]][0]);

	for (r = 0; r < cfg.bulk_repeats; r++) {
		for (k = 0; k < (int)ARRAY_SIZE(sides); k++) {
			/* alternate which side goes first */
			b = sides[(k + r) % ARRAY_SIZE(sides)];
			if (!on[b])
				continue;
			fault_run(t, b, 1, 1, rcpu, src, order, npages,
				  HUGE_UNIT, 0, &res[b][r]);
			fault_report(t, b, 1, 1, npages, &res[b][r]);
			huge_touch_report(t, b, len, &res[b][r]);
			v[b][r] = res[b][r].secs > 0 ?
				  (double)len / MIB / res[b][r].secs : 0;
			/* the last run's, for the summary */
			faults[b] = res[b][r].records;
			pmd[b] = res[b][r].pmd_kb;
		}
	}
	hpool_restore();
	for (k = 0; k < (int)ARRAY_SIZE(sides); k++) {
		b = sides[k];
		if (on[b])
			m[b] = median_d(v[b], cfg.bulk_repeats);
	}
	bench_row("huge_touch_faults", "MiB/s", false, on[BE_PCA_FD],
		  m[BE_PCA_FD], on[BE_UFFD], m[BE_UFFD]);
	pca_t_diag(t, "faults to touch %zu MiB (expected %zu): ours %s%lu, userfaultfd %s%lu; kB mapped by PMD (expected %zu): ours FilePmdMapped %ld, userfaultfd Hugetlb %ld",
		   cfg.huge_mib, units, on[BE_PCA_FD] ? "" : "not run ",
		   faults[BE_PCA_FD], on[BE_UFFD] ? "" : "not run ",
		   faults[BE_UFFD], len / 1024, pmd[BE_PCA_FD], pmd[BE_UFFD]);
	free(order);
	munmap(src, len);
}

/* -------------------------------------------------------------------------
 * Main
 */

PCA_TEST_F(fault_1t, test_fault_1t, 0, .timeout = 60,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_1t_xcpu, test_fault_1t_xcpu, 0, .timeout = 30,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_2t_1r, test_fault_2t_1r, 0, .timeout = 30,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_2t_2r, test_fault_2t_2r, 0, .timeout = 40,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_8t_1q, test_fault_8t_1q, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_8t_pcpu, test_fault_8t_pcpu, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_16t_1q, test_fault_16t_1q, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_16t_pcpu, test_fault_16t_pcpu, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_64t_1q, test_fault_64t_1q, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(fault_64t_pcpu, test_fault_64t_pcpu, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
/* -------------------------------------------------------------------------
 * Receiving pages from a socket
 */

/*
 * @npages of @src received into a missing region, PCA_IOC_RECV (@ours)
 * or recv() + COPY_BATCH; MiB/s, or -1 without kernel TLS (*@why says).
 */
static double rx_run(struct pca_test_ctx *t, bool ours, bool ktls,
		     const char *src, size_t npages, const char **why)
{
	size_t len = npages * pg, batch = cfg.batch, i, j, n, bad;
	struct pca_copy_entry *ents;
	struct pca_stream_sender s;
	uint64_t t0, t1, *offs;
	char *buf, *area;
	int fd, fds[2], ret;
	uint32_t id;

	if (batch > PCA_RECV_MAX)
		batch = PCA_RECV_MAX;
	ret = pca_stream_pair(fds, ktls, why);
	if (ret && ktls)
		return -1;
	if (ret)
		PCA_FATAL(t, "%s: %s", *why, strerror(-ret));
	fd = pca_region_create(len, PCA_REGION_MISSING, &id);
	if (fd < 0)
		PCA_FATAL(t, "pca_region_create(%zu MiB, MISSING): %s",
			  len / MIB, strerror(-fd));
	offs = calloc(npages, sizeof(*offs));
	ents = calloc(batch, sizeof(*ents));
	buf = map_anon(t, batch * pg);
	if (!offs || !ents)
		PCA_FATAL(t, "out of memory");
	memset(buf, 0, batch * pg);	/* populated: no fault below */
	for (i = 0; i < npages; i++)
		offs[i] = i * pg;

	t0 = now_ns();
	if (pca_stream_send_start(&s, fds[1], src, len, false))
		PCA_FATAL(t, "pthread_create");
	for (i = 0; i < npages; i += n) {
		uint64_t got = 0, copied = 0, existed = 0;

		n = npages - i < batch ? npages - i : batch;
		if (ours) {
			ret = pca_fd_recv(fd, fds[0], offs + i, n, 0, &got);
			if (ret || got != n)
				PCA_FATAL(t, "pca_fd_recv(%zu units at page %zu): %s, received %llu",
					  n, i, ret ? strerror(-ret) : "ok",
					  (unsigned long long)got);
			continue;
		}
		for (j = 0; j < n * pg; j += ret) {
			ret = recv(fds[0], buf + j, n * pg - j, MSG_WAITALL);
			if (ret <= 0)
				PCA_FATAL(t, "recv at page %zu: %s", i,
					  ret ? strerror(errno) : "end of stream");
		}
		for (j = 0; j < n; j++) {
			ents[j].offset = offs[i + j];
			ents[j].src = (uintptr_t)(buf + j * pg);
		}
		ret = pca_fd_copy_batch(fd, ents, n, 0, &copied, &existed);
		if (ret || copied != n)
			PCA_FATAL(t, "pca_fd_copy_batch(%zu entries at page %zu): %s, copied %llu",
				  n, i, ret ? strerror(-ret) : "ok",
				  (unsigned long long)copied);
	}
	t1 = now_ns();
	ret = pca_stream_send_join(&s);
	if (ret)
		PCA_FATAL(t, "send: %s", strerror(ret));

	/* check, untimed: the pages must hold the source's data */
	area = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	if (area == MAP_FAILED)
		PCA_FATAL(t, "mmap of the region: %s", strerror(errno));
	bad = verify_area(area, npages);
	if (bad)
		PCA_FATAL(t, "%s%s: %zu of %zu pages hold wrong data",
			  ours ? "PCA_IOC_RECV" : "recv + COPY_BATCH",
			  ktls ? " (kTLS)" : "", bad, npages);
	munmap(area, len);
	munmap(buf, batch * pg);
	free(ents);
	free(offs);
	close(fd);
	close(fds[0]);
	close(fds[1]);
	return t1 > t0 ? (double)len / MIB * 1e9 / (t1 - t0) : 0;
}

static void test_recv_place(struct pca_test_ctx *t)
{
	static const char *const row[2] = {
		"recv_place_vs_recv_copy", "recv_place_vs_recv_copy_ktls",
	};
	double v[2][MAX_REPEATS];
	const char *why = NULL;
	size_t npages;
	int r, k, tls;
	bool on, has[2];
	char *src;

	bench_start(t);
	on = need_ours(t, PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE |
		       PCA_FEATURE_COPY_BATCH | PCA_FEATURE_RECV);
	for (tls = 0; tls < 2; tls++) {
		/* software AES-GCM under TCG: a quarter of the data */
		npages = cfg.bulk_mib * MIB / pg / (tls ? 4 : 1);
		src = src_alloc(t, npages);
		has[0] = has[1] = on;
		for (r = 0; on && r < cfg.bulk_repeats; r++) {
			for (k = 0; k < 2; k++) {
				/* alternate: ours first, then the baseline */
				int ours = r % 2 ? k : !k;
				double mibs = rx_run(t, ours, tls, src, npages,
						     &why);

				if (mibs < 0) {
					has[0] = has[1] = false;
					break;
				}
				v[ours][r] = mibs;
				pca_t_diag(t, "%-28s %zu MiB: %.1f MiB/s",
					   ours ? "PCA_IOC_RECV" :
					   "recv + COPY_BATCH",
					   npages * pg / MIB, mibs);
			}
			if (!has[0])
				break;
		}
		if (on && !has[0])
			pca_t_diag(t, "%s: no %s in this kernel", row[tls],
				   why);
		bench_row(row[tls], "MiB/s", false, has[1],
			  has[1] ? median_d(v[1], cfg.bulk_repeats) : 0,
			  has[0], has[0] ? median_d(v[0], cfg.bulk_repeats) : 0);
		munmap(src, npages * pg);
	}
}

PCA_TEST_F(bulk_copy, test_bulk_copy, 0, .timeout = 40,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(placed_touch, test_placed_touch, 0, .timeout = 40,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(huge_place, test_huge_place, 0, .timeout = 150,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(huge_touch, test_huge_touch, 0, .timeout = 150,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(recv_place, test_recv_place, 0, .timeout = 150,
	 .flags = PCA_TEST_NO_CLIENT)

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"Usage: %s [-n PAGES] [-d SECONDS] [-o seq|shuffle] [-P local|free] [-r REPEATS]\n"
		"          [-m MIB] [-B ENTRIES] [-R REPEATS] [-H MIB] [-b] [-l] [-t TEST]...\n"
		"          [-T SECONDS]\n"
		"  -n PAGES    pages of the fault area (default %zu)\n"
		"  -d SECONDS  time cap of one fault run: a faulting thread stops\n"
		"              touching pages after it (default %u)\n"
		"  -o ORDER    page touch order: seq or shuffle (default seq)\n"
		"  -P WHERE    resolvers pinned to the CPU of their faulting thread\n"
		"              (local, default) or not pinned (free)\n"
		"  -r REPEATS  fault runs of each side, median reported (default %d)\n"
		"  -m MIB      MiB placed by bulk_copy (default %zu)\n"
		"  -B ENTRIES  entries per COPY_BATCH call (default %zu)\n"
		"  -R REPEATS  bulk and huge_* runs of each kind, median reported\n"
		"              (default %d)\n"
		"  -H MIB      MiB placed and touched by huge_place and huge_touch, a\n"
		"              multiple of 2 (default %zu)\n"
		"  -b          userfaultfd and memcpy only: no module needed\n"
		"  -l, -t, -T  list tests, run only TEST, override timeouts\n"
		"Repeats are at most %d.\n",
		argv0, cfg.fault_pages, cfg.seconds, cfg.repeats,
		cfg.bulk_mib, cfg.batch, cfg.bulk_repeats, cfg.huge_mib,
		MAX_REPEATS);
}

static size_t parse_num(const char *argv0, char opt, const char *s,
			size_t min, size_t max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "%s: -%c %s: expected a number from %zu to %zu\n",
			argv0, opt, s, min, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static char opt_l[] = "-l", opt_t[] = "-t";
	struct sigaction sa = { .sa_sigaction = sigbus_handler,
				.sa_flags = SA_SIGINFO };
	char **hargv;
	int opt, hargc = 0, list = 0;

	pg = sysconf(_SC_PAGESIZE);
	ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpus < 1)
		ncpus = 1;
	hargv = calloc(2 * argc + 1, sizeof(*hargv));
	if (!hargv) {
		perror("calloc");
		return KSFT_FAIL;
	}
	hargv[hargc++] = argv[0];
	while ((opt = getopt(argc, argv, "n:d:o:P:r:m:B:R:H:blt:T:h")) != -1) {
		switch (opt) {
		case 'n':
			cfg.fault_pages = parse_num(argv[0], opt, optarg, 1,
						    1U << 22);
			break;
		case 'd':
			cfg.seconds = parse_num(argv[0], opt, optarg, 1, 600);
			break;
		case 'P':
			if (!strcmp(optarg, "local")) {
				cfg.pin_local = true;
			} else if (!strcmp(optarg, "free")) {
				cfg.pin_local = false;
			} else {
				fprintf(stderr, "%s: -P %s: expected local or free\n",
					argv[0], optarg);
				return 2;
			}
			break;
		case 'R':
			cfg.bulk_repeats = parse_num(argv[0], opt, optarg, 1,
						     MAX_REPEATS);
			break;
		case 'm':
			cfg.bulk_mib = parse_num(argv[0], opt, optarg, 1, 1024);
			break;
		case 'B':
			cfg.batch = parse_num(argv[0], opt, optarg, 1, 1U << 20);
			break;
		case 'H':
			cfg.huge_mib = parse_num(argv[0], opt, optarg, 2, 1024);
			if (cfg.huge_mib % (HUGE_UNIT / MIB)) {
				fprintf(stderr, "%s: -H %s: expected a multiple of %zu\n",
					argv[0], optarg, HUGE_UNIT / MIB);
				return 2;
			}
			break;
		case 'o':
			if (!strcmp(optarg, "seq")) {
				cfg.shuffle = false;
			} else if (!strcmp(optarg, "shuffle")) {
				cfg.shuffle = true;
			} else {
				fprintf(stderr, "%s: -o %s: expected seq or shuffle\n",
					argv[0], optarg);
				return 2;
			}
			break;
		case 'r':
			cfg.repeats = parse_num(argv[0], opt, optarg, 1,
						MAX_REPEATS);
			break;
		case 'b':
			cfg.baseline_only = true;
			break;
		case 'l':
			list = 1;
			hargv[hargc++] = opt_l;
			break;
		case 't':
			hargv[hargc++] = opt_t;
			hargv[hargc++] = optarg;
			break;
		case 'T':
			pca_set_all_timeouts(strtoul(optarg, NULL, 0));
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	/* FAULT_BENCH_TESTS=a,b: -t a -t b, from a guest's command line */
	if (!list && getenv("FAULT_BENCH_TESTS")) {
		char *names = strdup(getenv("FAULT_BENCH_TESTS")), *save, *tok;
		char **more = names ? realloc(hargv, (hargc + 2 * strlen(names) + 2) *
					      sizeof(*hargv)) : NULL;

		if (!more) {
			perror("FAULT_BENCH_TESTS");
			return KSFT_FAIL;
		}
		hargv = more;
		for (tok = strtok_r(names, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			hargv[hargc++] = opt_t;
			hargv[hargc++] = tok;
		}
		hargv[hargc] = NULL;
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0],
			argv[optind]);
		usage(stderr, argv[0]);
		return 2;
	}
	if (pg < 4096 || pg % 8) {
		fprintf(stderr, "%s: odd page size %zu\n", argv[0], pg);
		return KSFT_FAIL;
	}

	if (bench_report_init(&style))
		return KSFT_FAIL;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL)) {
		perror("sigaction");
		return KSFT_FAIL;
	}

	/* the harness parses its own options from a fresh start */
	optind = 1;
	if (!list)
		bench_table_at_exit();
	return test_harness_run(hargc, hargv);
}
