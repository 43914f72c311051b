// SPDX-License-Identifier: GPL-2.0
/*
 * dirty_bench: the dirty log against soft-dirty and userfaultfd
 * write-protect, side by side in one run.
 *
 * get_clear - one get+clear of the log of an area of -m MiB (default 512:
 *	the bench guest has 1 GiB) with 0.1 %, 1 % and 10 % of its pages
 *	written since the last clear.  Each round writes one byte to a
 *	random set of pages (the same sets, from the same seed, on every
 *	side), then times fetching the log and clearing it; -r rounds per
 *	fraction, the median is reported in ms.  Every log is checked
 *	against the set written, untimed: a missing or extra page fails the
 *	test.  The sides run one after the other (the guest cannot hold
 *	three such areas at once), each in a fresh area populated by
 *	writing every page; the first get+clear after populating (100 %
 *	dirty) is shown as a diagnostic.
 *	Ours: a region (present mode) mapped MAP_SHARED with tracking on;
 *	PCA_IOC_DIRTY_LOG with PCA_DIRTY_CLEAR over the whole region
 *	("ioctl"), and a netlink PCA_CMD_DIRTY_GET dump with PCA_DIRTY_CLEAR
 *	("nldump"), alternating in each round on the same set.  A peek
 *	(DIRTY_LOG without CLEAR) before the ioctl's get+clear splits the
 *	time into scanning the log and re-arming the pages.
 *	Baseline soft-dirty: anonymous MAP_PRIVATE memory; a pread() of the
 *	area's /proc/self/pagemap entries (bit 55: soft-dirty) and a write
 *	of "4" to /proc/self/clear_refs.  Not atomic: a write between the
 *	two is lost, and the clear write-protects every page of the process.
 *	Turning entries into a bitmap is left out of the timing, and so are
 *	the faults the clear causes on the reader's own buffer (touched
 *	again, untimed, before the read).
 *	Baseline uffd-wp (6.7 and later; checked at run time, skipped with
 *	the reason before): anonymous memory registered with a userfaultfd
 *	in UFFD_FEATURE_WP_ASYNC mode; one PAGEMAP_SCAN ioctl with
 *	PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC for PAGE_IS_WRITTEN
 *	returns the written ranges and write-protects them, atomically.
 *	Turning ranges into a bitmap is left out of the timing.
 *
 * first_write - what a write costs the guest: -n pages are cleared
 *	(re-armed, untimed), then one byte is written to each, in order;
 *	the time per page, then the same loop again over the now writable
 *	pages as a control (what a write costs without a fault).  Ours,
 *	soft-dirty and uffd-wp take turns within each of -r rounds, in
 *	areas of their own; the median is reported in us per page.
 *
 * Everything runs pinned to CPU 0 (-c): under TCG a migration between
 * vCPUs in the middle of a measurement costs more than many of them.
 * The sides of get_clear cannot run interleaved, so each round also times
 * a fixed loop ("speed probe"): a host busier during one side than during
 * the others shows there.
 *
 * Every measurement prints a human "# " row and one line
 *	BENCH-JSON {"name":...,"ours":X,"baseline":Y,"unit":U,"ratio":R}
 * with U ms or us and R = baseline / ours, so R > 1 means we are faster.
 * A side that cannot run here (uffd-wp before 6.7, soft-dirty without
 * CONFIG_MEM_SOFT_DIRTY, ours with -b) is null, and so is the ratio.  The
 * VM harness (selftests/vm/parse-results.sh) prepends "kernel" and
 * "test".  A table of all rows follows the KTAP totals.
 */
#include "pca_harness.h"
#include "bench_report.h"

#include <math.h>
#include <sched.h>
#include <stdbool.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>

#include <linux/fs.h>
#include <linux/userfaultfd.h>

/*
 * UAPI the build host's headers may lack (Debian 12 ships 6.1's): the
 * values are the kernel's, from include/uapi/linux/{fs,userfaultfd}.h.
 */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW		_IO(0xAA, 0x00)
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED	(1 << 13)	/* 6.4 */
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC		(1 << 15)	/* 6.7 */
#endif

#ifndef PAGEMAP_SCAN				/* 6.7 */
struct page_region {
	__u64 start;
	__u64 end;
	__u64 categories;
};

struct pm_scan_arg {
	__u64 size;
	__u64 flags;
	__u64 start;
	__u64 end;
	__u64 walk_end;
	__u64 vec;
	__u64 vec_len;
	__u64 max_pages;
	__u64 category_inverted;
	__u64 category_mask;
	__u64 category_anyof_mask;
	__u64 return_mask;
};

#define PAGEMAP_SCAN			_IOWR('f', 16, struct pm_scan_arg)
#endif
#ifndef PAGE_IS_WRITTEN
#define PAGE_IS_WRITTEN			(1 << 1)
#endif
#ifndef PM_SCAN_WP_MATCHING
#define PM_SCAN_WP_MATCHING		(1 << 0)
#endif
#ifndef PM_SCAN_CHECK_WPASYNC
#define PM_SCAN_CHECK_WPASYNC		(1 << 1)
#endif

/* /proc/<pid>/pagemap entries (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_SOFT_DIRTY			(1ULL << 55)
#define PM_PRESENT			(1ULL << 63)

#define MIB			(1024UL * 1024)
#define NSEC_PER_SEC		1000000000ULL

#define MAX_REPEATS		15
#define MAX_SAMPLES		64	/* a median over at most this many */
/* Headroom the guest keeps beyond the area: kernel, initramfs, buffers. */
#define HEADROOM_MIB		160

/* -------------------------------------------------------------------------
 * Options, shared results
 */

static struct {
	size_t mib;		/* -m: get_clear area */
	int rounds;		/* -r */
	size_t write_pages;	/* -n: first_write pages */
	uint64_t seed;		/* -s */
	int cpu;		/* -c: pinned there; -1: not pinned */
	bool cpu_given;
	bool baseline_only;	/* -b */
} cfg = {
	.mib = 512,
	.rounds = 9,
	.write_pages = 16384,
	.seed = 1,
	.cpu = 0,
	.baseline_only = false,
};

static size_t pg;			/* page size */

static const struct bench_style style = BENCH_STYLE("%.3f");

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static double ms_between(uint64_t t0, uint64_t t1)
{
	return (t1 - t0) / 1e6;
}

/* -------------------------------------------------------------------------
 * Small helpers
 */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median_d(const double *v, int n)
{
	double s[MAX_SAMPLES];

	if (n <= 0 || n > MAX_SAMPLES)
		return NAN;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void *xcalloc(struct pca_test_ctx *t, size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		PCA_FATAL(t, "out of memory for %zu x %zu bytes", n, size);
	return p;
}

static char *map_anon(struct pca_test_ctx *t, size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		PCA_FATAL(t, "mmap of %zu MiB anonymous memory: %s",
			  len / MIB, strerror(errno));
	/* 4 KiB pages, as in the region: one PTE per page on every side */
	madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

/* Write one byte to every page: populated, and dirty on every side. */
static double populate(char *area, size_t npages)
{
	uint64_t t0 = now_ns();
	size_t i;

	for (i = 0; i < npages; i++)
		((volatile char *)area)[i * pg] = 1;
	return ms_between(t0, now_ns());
}

static int bit_of(const uint64_t *bits, size_t n)
{
	return (bits[n / 64] >> (n % 64)) & 1;
}

static void set_bit_of(uint64_t *bits, size_t n)
{
	bits[n / 64] |= 1ULL << (n % 64);
}

/*
 * A random set of @k distinct pages of @npages: the pages in the order
 * they are written, and as a bitmap.  The same @seed gives the same set.
 */
struct pset {
	size_t n;
	uint32_t *pages;
	uint64_t *want;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static void make_set(struct pset *s, size_t npages, size_t k, uint64_t seed)
{
	uint64_t st = (seed + 1) * 0x9E3779B97F4A7C15ULL;

	if (!st)
		st = 1;
	memset(s->want, 0, (npages + 63) / 64 * sizeof(uint64_t));
	s->n = 0;
	while (s->n < k) {
		size_t p = (xorshift(&st) >> 11) % npages;

		if (bit_of(s->want, p))
			continue;
		set_bit_of(s->want, p);
		s->pages[s->n++] = p;
	}
}

/*
 * How much CPU the machine gets right now: a fixed loop of arithmetic, in
 * ms, long enough (~10 ms) to span the host's time slices.  The sides of
 * get_clear run one after the other, so a host busy with something else
 * during one of them shows here.  A vCPU that gets a share s of a host CPU
 * stretches operations longer than a time slice by about 1/s, while short
 * ones mostly run whole within a slice: under contention the ratios favour
 * the faster side.
 */
static volatile uint64_t probe_sink;

static double probe_ms(void)
{
	uint64_t st = 1, t0 = now_ns();
	int i;

	for (i = 0; i < 6000000; i++)
		xorshift(&st);
	probe_sink = st;
	return ms_between(t0, now_ns());
}

static void write_set(char *area, const struct pset *s, uint8_t v)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		((volatile uint8_t *)area)[(size_t)s->pages[i] * pg] = v;
}

/*
 * Compare a log with what was written; 0 when equal, else a failure with
 * the first differences.  Pages in @want missing from @got are writes the
 * log lost; pages in @got not in @want are false positives.
 */
static int check_log(struct pca_test_ctx *t, const char *who,
		     const uint64_t *got, const uint64_t *want, size_t npages,
		     const char *what)
{
	size_t w, missing = 0, extra = 0, first_missing = 0, first_extra = 0;

	for (w = 0; w < (npages + 63) / 64; w++) {
		uint64_t m = want[w] & ~got[w], e = got[w] & ~want[w];

		if (m && !missing)
			first_missing = w * 64 + __builtin_ctzll(m);
		if (e && !extra)
			first_extra = w * 64 + __builtin_ctzll(e);
		missing += __builtin_popcountll(m);
		extra += __builtin_popcountll(e);
	}
	if (!missing && !extra)
		return 0;
	PCA_FAIL(t, "%s, %s: %zu written pages missing from the log (first %zu), %zu pages logged but not written (first %zu)",
		 who, what, missing, first_missing, extra, first_extra);
	return -1;
}

/* -------------------------------------------------------------------------
 * Ours
 */

struct ours {
	int fd;
	uint32_t id;
	char *area;
	size_t npages;
};

static const char *pca_err(struct pca_test_ctx *t, int ret)
{
	return pca_t_errtext(t, ret);
}

static void ours_setup(struct pca_test_ctx *t, struct ours *o, size_t npages)
{
	struct nl_msg *m;
	int ret;

	o->npages = npages;
	o->fd = pca_region_create(npages * pg, 0, &o->id);
	if (o->fd < 0)
		PCA_FATAL(t, "pca_region_create(%zu MiB): %s",
			  npages * pg / MIB, strerror(-o->fd));
	o->area = mmap(NULL, npages * pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		       o->fd, 0);
	if (o->area == MAP_FAILED)
		PCA_FATAL(t, "mmap of the region: %s", strerror(errno));
	m = pca_msg_new(t->c, PCA_CMD_DIRTY_TRACK, 0);
	if (!m)
		PCA_FATAL(t, "out of memory");
	nla_put_u32(m, PCA_A_REGION_ID, o->id);
	nla_put_u32(m, PCA_A_DIRTY_ENABLE, 1);
	ret = pca_request(t->c, m, NULL, NULL);
	if (ret)
		PCA_FATAL(t, "PCA_CMD_DIRTY_TRACK on: %s", pca_err(t, ret));
}

static void ours_teardown(struct ours *o)
{
	munmap(o->area, o->npages * pg);
	close(o->fd);
}

/* PCA_IOC_DIRTY_LOG over the whole region: 0 or -errno. */
static int ours_ioctl(const struct ours *o, uint64_t *bits, uint64_t flags,
		      uint64_t *dirty)
{
	struct pca_dirty_log dl = {
		.offset = 0,
		.len = o->npages * pg,
		.bitmap = (uintptr_t)bits,
		.bitmap_size = bits ? (o->npages + 63) / 64 * 8 : 0,
		.flags = flags,
	};

	if (ioctl(o->fd, PCA_IOC_DIRTY_LOG, &dl))
		return -errno;
	*dirty = dl.dirty;
	return 0;
}

struct dump_state {
	uint64_t *bits;
	size_t npages;
	uint64_t dirty, pages_seen;
	int bad;
};

/* One message of a DIRTY_GET dump: its bits into the whole bitmap. */
static int parse_dump(struct nlattr **tb, void *arg)
{
	struct dump_state *d = arg;
	const uint64_t *src;
	uint64_t first, nr, i;

	if (!tb[PCA_A_OFFSET] || !tb[PCA_A_LENGTH] || !tb[PCA_A_DIRTY_PAGES] ||
	    !tb[PCA_A_DIRTY_BITMAP]) {
		d->bad++;
		return 0;
	}
	first = nla_get_u64(tb[PCA_A_OFFSET]) / pg;
	nr = nla_get_u64(tb[PCA_A_LENGTH]) / pg;
	if (first + nr > d->npages ||
	    (uint64_t)nla_len(tb[PCA_A_DIRTY_BITMAP]) < (nr + 63) / 64 * 8) {
		d->bad++;
		return 0;
	}
	d->pages_seen += nr;
	d->dirty += nla_get_u64(tb[PCA_A_DIRTY_PAGES]);
	src = nla_data(tb[PCA_A_DIRTY_BITMAP]);
	if (first % 64 == 0) {
		/* every chunk but the last is a multiple of 64 pages */
		for (i = 0; i < (nr + 63) / 64; i++)
			d->bits[first / 64 + i] |= src[i];
		return 0;
	}
	for (i = 0; i < nr; i++)
		if (bit_of(src, i))
			set_bit_of(d->bits, first + i);
	return 0;
}

/* A netlink DIRTY_GET dump of the whole region: 0 or -errno. */
static int ours_nl_dump(struct pca_test_ctx *t, const struct ours *o,
			uint64_t *bits, uint32_t flags, uint64_t *dirty)
{
	struct dump_state d = { .bits = bits, .npages = o->npages };
	struct nl_msg *m = pca_msg_new(t->c, PCA_CMD_DIRTY_GET, NLM_F_DUMP);
	int ret;

	if (!m)
		return -ENOMEM;
	nla_put_u32(m, PCA_A_REGION_ID, o->id);
	nla_put_u32(m, PCA_A_DIRTY_FLAGS, flags);
	ret = pca_request(t->c, m, parse_dump, &d);
	if (ret)
		return ret;
	if (d.bad || d.pages_seen != o->npages) {
		PCA_FAIL(t, "DIRTY_GET dump: %d malformed messages, %llu of %zu pages covered",
			 d.bad, (unsigned long long)d.pages_seen, o->npages);
		return -EPROTO;
	}
	*dirty = d.dirty;
	return 0;
}

/* The log must be empty right after a get+clear. */
static void ours_check_empty(struct pca_test_ctx *t, const struct ours *o,
			     const char *what)
{
	uint64_t dirty = 0;
	int ret = ours_ioctl(o, NULL, PCA_DIRTY_COUNT_ONLY, &dirty);

	if (ret)
		PCA_FAIL(t, "%s: DIRTY_LOG COUNT_ONLY: %s", what, strerror(-ret));
	else if (dirty)
		PCA_FAIL(t, "%s: %llu pages still dirty after a get+clear",
			 what, (unsigned long long)dirty);
}

/* -------------------------------------------------------------------------
 * Soft-dirty
 */

struct softdirty {
	int pm, cr;		/* /proc/self/pagemap, /proc/self/clear_refs */
	char *area;
	size_t npages;
	uint64_t *ents;		/* pagemap entries of the area */
};

static int sd_open(struct softdirty *s, char *why, size_t len)
{
	s->pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (s->pm < 0) {
		snprintf(why, len, "open /proc/self/pagemap: %s",
			 strerror(errno));
		return -1;
	}
	s->cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (s->cr < 0) {
		snprintf(why, len, "open /proc/self/clear_refs: %s",
			 strerror(errno));
		close(s->pm);
		return -1;
	}
	return 0;
}

static void sd_close(struct softdirty *s)
{
	close(s->pm);
	close(s->cr);
}

/* The pagemap entries of @npages pages at @addr: 0 or -errno. */
static int sd_read(int pm, const char *addr, size_t npages, uint64_t *ents)
{
	size_t want = npages * sizeof(*ents), got = 0;
	off_t off = (uintptr_t)addr / pg * sizeof(*ents);

	while (got < want) {
		ssize_t n = pread(pm, (char *)ents + got, want - got,
				  off + got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -EIO;
		got += n;
	}
	return 0;
}

/* Clear every soft-dirty bit of the process: 0 or -errno. */
static int sd_clear(int cr)
{
	if (write(cr, "4", 1) != 1)
		return errno ? -errno : -EIO;
	return 0;
}

/* Whether soft-dirty works here: a written page shows, a clear hides it. */
static bool sd_usable(struct pca_test_ctx *t)
{
	struct softdirty s;
	uint64_t ent[2];
	char why[200];
	char *p;
	int ret;

	if (sd_open(&s, why, sizeof(why))) {
		pca_t_diag(t, "SKIP soft-dirty baseline: %s", why);
		return false;
	}
	p = map_anon(t, 2 * pg);
	p[0] = 1;
	p[pg] = 1;
	ret = sd_clear(s.cr);
	if (!ret) {
		p[pg] = 2;
		ret = sd_read(s.pm, p, 2, ent);
	}
	munmap(p, 2 * pg);
	sd_close(&s);
	if (ret) {
		pca_t_diag(t, "SKIP soft-dirty baseline: %s", strerror(-ret));
		return false;
	}
	if ((ent[0] & PM_SOFT_DIRTY) || !(ent[1] & PM_SOFT_DIRTY)) {
		pca_t_diag(t, "SKIP soft-dirty baseline: bit 55 does not follow writes (pagemap %#llx %#llx; CONFIG_MEM_SOFT_DIRTY off?)",
			   (unsigned long long)ent[0],
			   (unsigned long long)ent[1]);
		return false;
	}
	return true;
}

/* Soft-dirty pages of the entries into @bits; -1 if a page went away. */
static int sd_to_bits(const uint64_t *ents, size_t npages, uint64_t *bits)
{
	size_t i;

	memset(bits, 0, (npages + 63) / 64 * sizeof(uint64_t));
	for (i = 0; i < npages; i++) {
		if (!(ents[i] & PM_PRESENT))
			return -1;
		if (ents[i] & PM_SOFT_DIRTY)
			set_bit_of(bits, i);
	}
	return 0;
}

/* The reader's buffer was write-protected by the clear: fault it back. */
static void sd_touch_buffer(struct softdirty *s)
{
	size_t i, len = s->npages * sizeof(uint64_t);

	for (i = 0; i < len; i += pg)
		((volatile char *)s->ents)[i] = 0;
}

/*
 * One get+clear: the pagemap read and the clear, timed apart (ms).
 * The entries are left in s->ents.
 */
static int sd_get_clear(struct softdirty *s, double *read_ms,
			double *clear_ms)
{
	uint64_t t0, t1, t2;
	int ret;

	sd_touch_buffer(s);
	t0 = now_ns();
	ret = sd_read(s->pm, s->area, s->npages, s->ents);
	t1 = now_ns();
	if (!ret)
		ret = sd_clear(s->cr);
	t2 = now_ns();
	*read_ms = ms_between(t0, t1);
	*clear_ms = ms_between(t1, t2);
	return ret;
}

/* -------------------------------------------------------------------------
 * userfaultfd write-protect, asynchronous, with PAGEMAP_SCAN
 */

/*
 * A userfaultfd past UFFDIO_API with @features, or -errno with the reason
 * in @why; *@supported gets what the kernel offers.
 */
static int uffd_open(uint64_t features, uint64_t *supported, char *why,
		     size_t len)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
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
		snprintf(why, len, "UFFDIO_API(features %#llx): %s",
			 (unsigned long long)features, strerror(err));
		close(fd);
		return -err;
	}
	if (supported)
		*supported = api.features;
	return fd;
}

#define UWP_FEATURES	(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED)

struct uffdwp {
	int uffd, pm;
	char *area;
	size_t npages;
	struct page_region *vec;
	size_t vec_len;
	size_t nruns;		/* ranges the last scan returned */
};

/*
 * Fetch the written ranges of the area and write-protect them again, in
 * one PAGEMAP_SCAN (more if the vector fills up, which it is sized not
 * to): the number of ranges, or -errno.
 */
static long uwp_scan(struct uffdwp *u)
{
	uint64_t start = (uintptr_t)u->area, end = start + u->npages * pg;
	size_t used = 0;

	while (start < end) {
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = start,
			.end = end,
			.vec = (uintptr_t)(u->vec + used),
			.vec_len = u->vec_len - used,
			.category_mask = PAGE_IS_WRITTEN,
			.return_mask = PAGE_IS_WRITTEN,
		};
		long n;

		if (used == u->vec_len)
			return -ENOSPC;
		n = ioctl(u->pm, PAGEMAP_SCAN, &a);
		if (n < 0)
			return -errno;
		used += n;
		if (a.walk_end <= start)
			return -EPROTO;	/* no progress */
		start = a.walk_end;
	}
	u->nruns = used;
	return used;
}

/* The ranges of the last scan into @bits; -1 on a range off the area. */
static int uwp_to_bits(const struct uffdwp *u, uint64_t *bits)
{
	uint64_t base = (uintptr_t)u->area, a, p;
	size_t i;

	memset(bits, 0, (u->npages + 63) / 64 * sizeof(uint64_t));
	for (i = 0; i < u->nruns; i++) {
		const struct page_region *r = &u->vec[i];

		if (r->start < base || r->end > base + u->npages * pg ||
		    r->start >= r->end || !(r->categories & PAGE_IS_WRITTEN))
			return -1;
		for (a = r->start; a < r->end; a += pg) {
			p = (a - base) / pg;
			set_bit_of(bits, p);
		}
	}
	return 0;
}

/*
 * Whether the uffd-wp baseline can run: UFFD_FEATURE_WP_ASYNC (6.7) and
 * the PAGEMAP_SCAN ioctl (6.7).  Says why not.
 */
static bool uwp_usable(struct pca_test_ctx *t)
{
	struct pm_scan_arg a;
	uint64_t supported = 0;
	char why[200];
	int fd, pm;
	char *p;

	fd = uffd_open(0, &supported, why, sizeof(why));
	if (fd < 0) {
		pca_t_diag(t, "SKIP uffd-wp baseline: userfaultfd unavailable: %s",
			   why);
		return false;
	}
	close(fd);
	if (!(supported & UFFD_FEATURE_WP_ASYNC)) {
		pca_t_diag(t, "SKIP uffd-wp baseline: UFFD_FEATURE_WP_ASYNC not offered (features %#llx; needs 6.7+)",
			   (unsigned long long)supported);
		return false;
	}
	pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pm < 0) {
		pca_t_diag(t, "SKIP uffd-wp baseline: open /proc/self/pagemap: %s",
			   strerror(errno));
		return false;
	}
	p = map_anon(t, pg);
	p[0] = 1;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.start = (uintptr_t)p;
	a.end = (uintptr_t)p + pg;
	a.category_mask = PAGE_IS_WRITTEN;
	a.return_mask = PAGE_IS_WRITTEN;
	if (ioctl(pm, PAGEMAP_SCAN, &a) < 0) {
		int err = errno;

		munmap(p, pg);
		close(pm);
		pca_t_diag(t, "SKIP uffd-wp baseline: PAGEMAP_SCAN: %s%s",
			   strerror(err), err == ENOTTY ? " (needs 6.7+)" : "");
		return false;
	}
	munmap(p, pg);
	close(pm);
	return true;
}

static void uwp_setup(struct pca_test_ctx *t, struct uffdwp *u,
		      size_t npages)
{
	struct uffdio_register reg;
	char why[200];

	u->npages = npages;
	u->area = map_anon(t, npages * pg);
	u->uffd = uffd_open(UWP_FEATURES, NULL, why, sizeof(why));
	if (u->uffd < 0)
		PCA_FATAL(t, "userfaultfd with WP_ASYNC: %s", why);
	reg = (struct uffdio_register){
		.range = { .start = (uintptr_t)u->area, .len = npages * pg },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	if (ioctl(u->uffd, UFFDIO_REGISTER, &reg))
		PCA_FATAL(t, "UFFDIO_REGISTER(MODE_WP) of %zu MiB: %s",
			  npages * pg / MIB, strerror(errno));
	u->pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (u->pm < 0)
		PCA_FATAL(t, "open /proc/self/pagemap: %s", strerror(errno));
	/* worst case: every other page written */
	u->vec_len = npages / 2 + 2;
	u->vec = xcalloc(t, u->vec_len, sizeof(*u->vec));
}

static void uwp_teardown(struct uffdwp *u)
{
	close(u->pm);
	close(u->uffd);
	munmap(u->area, u->npages * pg);
	free(u->vec);
}

/* -------------------------------------------------------------------------
 * The tests
 */

enum side { S_IOCTL, S_NL, S_SD, S_UWP, NR_SIDES };

static const char *const side_tag[NR_SIDES] = {
	[S_IOCTL] = "ioctl", [S_NL] = "nldump",
	[S_SD] = "softdirty", [S_UWP] = "uffdwp",
};

static const struct {
	const char *tag;
	const char *text;
	unsigned int permille;
} fracs[] = {
	{ "0.1pct", "0.1 %", 1 },
	{ "1pct", "1 %", 10 },
	{ "10pct", "10 %", 100 },
};

#define NR_FRACS	ARRAY_SIZE(fracs)

static bool need_ours(struct pca_test_ctx *t, uint64_t features)
{
	uint64_t missing = features & ~t->api.features;
	char names[200];

	if (cfg.baseline_only)
		return false;
	if (!t->api.version)
		PCA_FATAL(t, "no postcopy_assist handshake (module not loaded?); -b measures the baselines alone");
	if (missing) {
		pca_features_text(missing, names, sizeof(names));
		PCA_SKIP(t, "feature(s) not supported: %s", names);
	}
	/* tracking is switched on over netlink; the harness closes it */
	if (!t->c && pca_client_open(&t->c))
		PCA_FATAL(t, "pca_client_open: %s", pca_strerror(NULL));
	pca_client_set_timeout(t->c, 10000);
	return true;
}

static void bench_header(void)
{
	struct utsname u;
	char cs[64] = "?", pin[32];
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
	pca_diag("dirty_bench: kernel %s, %ld CPUs, %ld MiB RAM (%ld MiB available), clocksource %s, clock_gettime %.0f ns",
		 u.release, sysconf(_SC_NPROCESSORS_ONLN),
		 pca_meminfo("MemTotal") / 1024,
		 pca_meminfo("MemAvailable") / 1024, cs, (t1 - t0) / 10000.0);
	if (cfg.cpu < 0)
		snprintf(pin, sizeof(pin), "not pinned");
	else
		snprintf(pin, sizeof(pin), "pinned to CPU %d", cfg.cpu);
	pca_diag("dirty_bench: -m %zu MiB -r %d -n %zu pages -s %llu, %s%s",
		 cfg.mib, cfg.rounds, cfg.write_pages,
		 (unsigned long long)cfg.seed, pin,
		 cfg.baseline_only ? ", baselines only" : "");
}

/* The get_clear area in pages: -m, or less when the guest lacks room. */
static size_t area_pages(struct pca_test_ctx *t)
{
	long avail = pca_meminfo("MemAvailable");
	size_t mib = cfg.mib;

	if (avail > 0 && (size_t)avail / 1024 < mib + HEADROOM_MIB) {
		size_t fit = (size_t)avail / 1024 > 2 * HEADROOM_MIB ?
			     (size_t)avail / 1024 - HEADROOM_MIB : 64;

		pca_t_diag(t, "only %ld MiB available: the area is %zu MiB, not %zu",
			   avail / 1024, fit, mib);
		mib = fit;
	}
	return mib * MIB / pg;
}

static size_t frac_pages(size_t npages, unsigned int permille)
{
	size_t k = npages * permille / 1000;

	return k ? k : 1;
}

/* The set of round @r of fraction @f: the same on every side. */
static uint64_t set_seed(size_t f, int r)
{
	return cfg.seed * 1000003ULL + f * MAX_REPEATS + r;
}

struct gc_result {
	double ms[NR_SIDES][NR_FRACS][MAX_REPEATS];
	double peek_ms[NR_FRACS][MAX_REPEATS];		/* ours, no clear */
	double sd_read_ms[NR_FRACS][MAX_REPEATS];	/* soft-dirty parts */
	double sd_clear_ms[NR_FRACS][MAX_REPEATS];
	double probe_ms[NR_SIDES][NR_FRACS * MAX_REPEATS];
};

static void gc_ours(struct pca_test_ctx *t, size_t npages, struct pset *set,
		    uint64_t *got, struct gc_result *res)
{
	size_t words = (npages + 63) / 64, f;
	struct ours o;
	uint64_t t0, t1, dirty;
	double pop;
	int r, ret;

	ours_setup(t, &o, npages);
	pop = populate(o.area, npages);

	memset(got, 0, words * 8);
	t0 = now_ns();
	ret = ours_ioctl(&o, got, PCA_DIRTY_CLEAR, &dirty);
	t1 = now_ns();
	if (ret)
		PCA_FATAL(t, "DIRTY_LOG CLEAR: %s", strerror(-ret));
	PCA_EXPECT_EQ(t, dirty, npages);
	ours_check_empty(t, &o, "after populating");
	pca_t_diag(t, "%-10s %zu MiB: populated in %.0f ms; first get+clear (100 %% dirty) %.1f ms",
		   side_tag[S_IOCTL], npages * pg / MIB, pop,
		   ms_between(t0, t1));

	for (f = 0; f < NR_FRACS; f++) {
		size_t k = frac_pages(npages, fracs[f].permille);

		for (r = 0; r < cfg.rounds; r++) {
			make_set(set, npages, k, set_seed(f, r));
			res->probe_ms[S_IOCTL][f * cfg.rounds + r] = probe_ms();

			/* the ioctl: a peek first, then get+clear */
			write_set(o.area, set, r + 2);
			memset(got, 0, words * 8);
			t0 = now_ns();
			ret = ours_ioctl(&o, got, 0, &dirty);
			t1 = now_ns();
			if (ret)
				PCA_FATAL(t, "DIRTY_LOG: %s", strerror(-ret));
			res->peek_ms[f][r] = ms_between(t0, t1);
			check_log(t, "ioctl peek", got, set->want, npages,
				  fracs[f].text);

			memset(got, 0, words * 8);
			t0 = now_ns();
			ret = ours_ioctl(&o, got, PCA_DIRTY_CLEAR, &dirty);
			t1 = now_ns();
			if (ret)
				PCA_FATAL(t, "DIRTY_LOG CLEAR: %s",
					  strerror(-ret));
			res->ms[S_IOCTL][f][r] = ms_between(t0, t1);
			check_log(t, "ioctl get+clear", got, set->want, npages,
				  fracs[f].text);
			PCA_EXPECT_EQ(t, dirty, k);
			ours_check_empty(t, &o, "ioctl get+clear");

			/* the same set again, through a netlink dump */
			write_set(o.area, set, r + 3);
			memset(got, 0, words * 8);
			t0 = now_ns();
			ret = ours_nl_dump(t, &o, got, PCA_DIRTY_CLEAR, &dirty);
			t1 = now_ns();
			if (ret)
				PCA_FATAL(t, "DIRTY_GET dump CLEAR: %s",
					  pca_err(t, ret));
			res->ms[S_NL][f][r] = ms_between(t0, t1);
			check_log(t, "netlink dump get+clear", got, set->want,
				  npages, fracs[f].text);
			PCA_EXPECT_EQ(t, dirty, k);
			ours_check_empty(t, &o, "netlink dump get+clear");
		}
		pca_t_diag(t, "%-10s %6s (%zu pages): get+clear median %.3f ms (peek without clear %.3f ms), netlink dump %.3f ms",
			   side_tag[S_IOCTL], fracs[f].text, k,
			   median_d(res->ms[S_IOCTL][f], cfg.rounds),
			   median_d(res->peek_ms[f], cfg.rounds),
			   median_d(res->ms[S_NL][f], cfg.rounds));
	}
	ours_teardown(&o);
}

static void gc_softdirty(struct pca_test_ctx *t, size_t npages,
			 struct pset *set, uint64_t *got,
			 struct gc_result *res)
{
	struct softdirty s = { .npages = npages };
	double pop, rd, cl;
	char why[200];
	size_t f;
	int r, ret;

	if (sd_open(&s, why, sizeof(why)))
		PCA_FATAL(t, "soft-dirty: %s", why);
	s.area = map_anon(t, npages * pg);
	s.ents = xcalloc(t, npages, sizeof(uint64_t));
	pop = populate(s.area, npages);

	ret = sd_get_clear(&s, &rd, &cl);
	if (ret)
		PCA_FATAL(t, "soft-dirty get+clear: %s", strerror(-ret));
	if (sd_to_bits(s.ents, npages, got))
		PCA_FATAL(t, "soft-dirty: a page of the area is not present");
	memset(set->want, 0xff, (npages + 63) / 64 * 8);
	if (npages % 64)
		set->want[npages / 64] = (1ULL << (npages % 64)) - 1;
	check_log(t, "soft-dirty", got, set->want, npages, "100 %");
	pca_t_diag(t, "%-10s %zu MiB: populated in %.0f ms; first get+clear (100 %% dirty) %.1f ms (pagemap %.1f + clear_refs %.1f)",
		   side_tag[S_SD], npages * pg / MIB, pop, rd + cl, rd, cl);

	for (f = 0; f < NR_FRACS; f++) {
		size_t k = frac_pages(npages, fracs[f].permille);

		for (r = 0; r < cfg.rounds; r++) {
			make_set(set, npages, k, set_seed(f, r));
			res->probe_ms[S_SD][f * cfg.rounds + r] = probe_ms();
			write_set(s.area, set, r + 2);
			ret = sd_get_clear(&s, &rd, &cl);
			if (ret)
				PCA_FATAL(t, "soft-dirty get+clear: %s",
					  strerror(-ret));
			res->sd_read_ms[f][r] = rd;
			res->sd_clear_ms[f][r] = cl;
			res->ms[S_SD][f][r] = rd + cl;
			if (sd_to_bits(s.ents, npages, got))
				PCA_FATAL(t, "soft-dirty: a page of the area is not present");
			check_log(t, "soft-dirty", got, set->want, npages,
				  fracs[f].text);
		}
		pca_t_diag(t, "%-10s %6s (%zu pages): get+clear median %.3f ms (pagemap read %.3f ms, clear_refs %.3f ms)",
			   side_tag[S_SD], fracs[f].text, k,
			   median_d(res->ms[S_SD][f], cfg.rounds),
			   median_d(res->sd_read_ms[f], cfg.rounds),
			   median_d(res->sd_clear_ms[f], cfg.rounds));
	}
	free(s.ents);
	munmap(s.area, npages * pg);
	sd_close(&s);
}

static void gc_uffdwp(struct pca_test_ctx *t, size_t npages, struct pset *set,
		      uint64_t *got, struct gc_result *res)
{
	struct uffdwp u;
	uint64_t t0, t1;
	double pop;
	size_t f;
	long n;
	int r;

	/* registered, then populated: every page starts written */
	uwp_setup(t, &u, npages);
	pop = populate(u.area, npages);

	t0 = now_ns();
	n = uwp_scan(&u);
	t1 = now_ns();
	if (n < 0)
		PCA_FATAL(t, "PAGEMAP_SCAN: %s", strerror(-n));
	if (uwp_to_bits(&u, got))
		PCA_FATAL(t, "PAGEMAP_SCAN returned a range off the area");
	memset(set->want, 0xff, (npages + 63) / 64 * 8);
	if (npages % 64)
		set->want[npages / 64] = (1ULL << (npages % 64)) - 1;
	check_log(t, "uffd-wp", got, set->want, npages, "100 %");
	pca_t_diag(t, "%-10s %zu MiB: populated in %.0f ms; first get+clear (100 %% dirty) %.1f ms",
		   side_tag[S_UWP], npages * pg / MIB, pop, ms_between(t0, t1));

	for (f = 0; f < NR_FRACS; f++) {
		size_t k = frac_pages(npages, fracs[f].permille);

		for (r = 0; r < cfg.rounds; r++) {
			make_set(set, npages, k, set_seed(f, r));
			res->probe_ms[S_UWP][f * cfg.rounds + r] = probe_ms();
			write_set(u.area, set, r + 2);
			t0 = now_ns();
			n = uwp_scan(&u);
			t1 = now_ns();
			if (n < 0)
				PCA_FATAL(t, "PAGEMAP_SCAN: %s", strerror(-n));
			res->ms[S_UWP][f][r] = ms_between(t0, t1);
			if (uwp_to_bits(&u, got))
				PCA_FATAL(t, "PAGEMAP_SCAN returned a range off the area");
			check_log(t, "uffd-wp", got, set->want, npages,
				  fracs[f].text);
		}
		pca_t_diag(t, "%-10s %6s (%zu pages): get+clear median %.3f ms (%zu ranges in the last)",
			   side_tag[S_UWP], fracs[f].text, k,
			   median_d(res->ms[S_UWP][f], cfg.rounds), u.nruns);
	}
	uwp_teardown(&u);
}

static void test_get_clear(struct pca_test_ctx *t)
{
	static const enum side ours_sides[] = { S_IOCTL, S_NL };
	static const enum side base_sides[] = { S_SD, S_UWP };
	struct gc_result *res;
	bool on[NR_SIDES];
	double m[NR_SIDES][NR_FRACS];
	size_t npages, f, i, j;
	uint64_t *got;
	struct pset set;
	char name[64];
	int s;

	bench_header();
	on[S_IOCTL] = on[S_NL] = need_ours(t, PCA_FEATURE_DIRTY_LOG);
	on[S_SD] = sd_usable(t);
	on[S_UWP] = uwp_usable(t);
	npages = area_pages(t);

	res = xcalloc(t, 1, sizeof(*res));
	got = xcalloc(t, (npages + 63) / 64, sizeof(uint64_t));
	set.want = xcalloc(t, (npages + 63) / 64, sizeof(uint64_t));
	set.pages = xcalloc(t, frac_pages(npages, fracs[NR_FRACS - 1].permille),
			    sizeof(uint32_t));

	/* one side after the other: one area of this size at a time */
	if (on[S_IOCTL])
		gc_ours(t, npages, &set, got, res);
	if (on[S_SD])
		gc_softdirty(t, npages, &set, got, res);
	if (on[S_UWP])
		gc_uffdwp(t, npages, &set, got, res);

	for (s = 0; s < NR_SIDES; s++)
		for (f = 0; f < NR_FRACS; f++)
			m[s][f] = on[s] ? median_d(res->ms[s][f], cfg.rounds) :
				  NAN;
	for (f = 0; f < NR_FRACS; f++)
		for (i = 0; i < ARRAY_SIZE(ours_sides); i++)
			for (j = 0; j < ARRAY_SIZE(base_sides); j++) {
				enum side o = ours_sides[i], b = base_sides[j];

				snprintf(name, sizeof(name), "dirty_%s_%s_vs_%s",
					 fracs[f].tag, side_tag[o],
					 side_tag[b]);
				bench_row(name, "ms", true, on[o], m[o][f],
					  on[b], m[b][f]);
			}

	{
		char p[3][32];

		pca_t_diag(t, "speed probe (a fixed loop, median over the rounds; higher: the host gave this guest less CPU): ours %s ms, soft-dirty %s ms, uffd-wp %s ms",
			   bench_jnum(p[0], sizeof(p[0]), on[S_IOCTL],
				median_d(res->probe_ms[S_IOCTL],
					 NR_FRACS * cfg.rounds), "%.3f"),
			   bench_jnum(p[1], sizeof(p[1]), on[S_SD],
				median_d(res->probe_ms[S_SD],
					 NR_FRACS * cfg.rounds), "%.3f"),
			   bench_jnum(p[2], sizeof(p[2]), on[S_UWP],
				median_d(res->probe_ms[S_UWP],
					 NR_FRACS * cfg.rounds), "%.3f"));
	}

	/* where our time goes: scanning the log vs re-arming pages */
	for (f = 0; f < NR_FRACS && on[S_IOCTL]; f++) {
		size_t k = frac_pages(npages, fracs[f].permille);
		double peek = median_d(res->peek_ms[f], cfg.rounds);

		pca_t_diag(t, "ours %6s: scan + copy out %.3f ms, re-arm %.3f ms = %.2f us per dirty page",
			   fracs[f].text, peek, m[S_IOCTL][f] - peek,
			   (m[S_IOCTL][f] - peek) * 1e3 / k);
	}
	free(set.pages);
	free(set.want);
	free(got);
	free(res);
}

/*
 * first_write: -n pages per side, each side re-armed and written in turn,
 * rounds rotating who goes first.
 */
struct fw_side {
	bool on;
	char *area;
	struct ours o;
	struct softdirty s;
	struct uffdwp u;
	uint64_t *bits;
	double us[MAX_REPEATS], ctl_us[MAX_REPEATS];
};

static void fw_arm(struct pca_test_ctx *t, enum side side, struct fw_side *fs)
{
	uint64_t dirty;
	long n;
	int ret;

	switch (side) {
	case S_IOCTL:
		ret = ours_ioctl(&fs->o, fs->bits, PCA_DIRTY_CLEAR, &dirty);
		if (ret)
			PCA_FATAL(t, "DIRTY_LOG CLEAR: %s", strerror(-ret));
		break;
	case S_SD:
		ret = sd_clear(fs->s.cr);
		if (ret)
			PCA_FATAL(t, "clear_refs: %s", strerror(-ret));
		break;
	case S_UWP:
		n = uwp_scan(&fs->u);
		if (n < 0)
			PCA_FATAL(t, "PAGEMAP_SCAN: %s", strerror(-n));
		break;
	default:
		break;
	}
}

/* One byte into every page, in order: us per page. */
static double fw_write(char *area, size_t npages, size_t at, uint8_t v)
{
	uint64_t t0 = now_ns(), t1;
	size_t i;

	for (i = 0; i < npages; i++)
		((volatile uint8_t *)area)[i * pg + at] = v;
	t1 = now_ns();
	return (t1 - t0) / 1e3 / npages;
}

static void test_first_write(struct pca_test_ctx *t)
{
	static const enum side sides[] = { S_IOCTL, S_SD, S_UWP };
	struct fw_side fs[NR_SIDES];
	size_t npages = cfg.write_pages, words = (npages + 63) / 64, k;
	double m[NR_SIDES], ctl[NR_SIDES];
	uint64_t dirty;
	char why[200];
	int r, ret;

	bench_header();
	memset(fs, 0, sizeof(fs));
	fs[S_IOCTL].on = need_ours(t, PCA_FEATURE_DIRTY_LOG);
	fs[S_SD].on = sd_usable(t);
	fs[S_UWP].on = uwp_usable(t);

	if (fs[S_IOCTL].on) {
		ours_setup(t, &fs[S_IOCTL].o, npages);
		fs[S_IOCTL].area = fs[S_IOCTL].o.area;
		fs[S_IOCTL].bits = xcalloc(t, words, sizeof(uint64_t));
	}
	if (fs[S_SD].on) {
		if (sd_open(&fs[S_SD].s, why, sizeof(why)))
			PCA_FATAL(t, "soft-dirty: %s", why);
		fs[S_SD].area = map_anon(t, npages * pg);
	}
	if (fs[S_UWP].on) {
		uwp_setup(t, &fs[S_UWP].u, npages);
		fs[S_UWP].area = fs[S_UWP].u.area;
	}
	for (k = 0; k < ARRAY_SIZE(sides); k++)
		if (fs[sides[k]].on)
			populate(fs[sides[k]].area, npages);

	for (r = 0; r < cfg.rounds; r++) {
		for (k = 0; k < ARRAY_SIZE(sides); k++) {
			enum side side = sides[(k + r) % ARRAY_SIZE(sides)];
			struct fw_side *x = &fs[side];

			if (!x->on)
				continue;
			fw_arm(t, side, x);
			x->us[r] = fw_write(x->area, npages, r % 64, r + 1);
			x->ctl_us[r] = fw_write(x->area, npages, 64 + r % 64,
						r + 1);
			if (side != S_IOCTL)
				continue;
			/* every page written once is in the log, once */
			ret = ours_ioctl(&x->o, NULL, PCA_DIRTY_COUNT_ONLY,
					 &dirty);
			if (ret)
				PCA_FATAL(t, "DIRTY_LOG COUNT_ONLY: %s",
					  strerror(-ret));
			PCA_EXPECT_EQ(t, dirty, npages);
		}
	}

	for (k = 0; k < ARRAY_SIZE(sides); k++) {
		enum side side = sides[k];

		m[side] = fs[side].on ? median_d(fs[side].us, cfg.rounds) : NAN;
		ctl[side] = fs[side].on ? median_d(fs[side].ctl_us, cfg.rounds) :
			    NAN;
		if (fs[side].on)
			pca_t_diag(t, "%-10s first write %.3f us/page, a second write %.3f us/page: the fault costs %.3f us",
				   side_tag[side], m[side], ctl[side],
				   m[side] - ctl[side]);
	}
	bench_row("first_write_vs_softdirty", "us", true, fs[S_IOCTL].on,
		  m[S_IOCTL], fs[S_SD].on, m[S_SD]);
	bench_row("first_write_vs_uffdwp", "us", true, fs[S_IOCTL].on,
		  m[S_IOCTL], fs[S_UWP].on, m[S_UWP]);

	if (fs[S_IOCTL].on) {
		ours_teardown(&fs[S_IOCTL].o);
		free(fs[S_IOCTL].bits);
	}
	if (fs[S_SD].on) {
		munmap(fs[S_SD].area, npages * pg);
		sd_close(&fs[S_SD].s);
	}
	if (fs[S_UWP].on)
		uwp_teardown(&fs[S_UWP].u);
}

/* -------------------------------------------------------------------------
 * Main
 */

PCA_TEST_F(get_clear, test_get_clear, 0, .timeout = 90,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(first_write, test_first_write, 0, .timeout = 40,
	 .flags = PCA_TEST_NO_CLIENT)

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"Usage: %s [-m MIB] [-r ROUNDS] [-n PAGES] [-s SEED] [-c CPU] [-b] [-l] [-t TEST]... [-T SECONDS]\n"
		"  -m MIB      get_clear area, per side (default %zu; less if the\n"
		"              machine has not that much room)\n"
		"  -r ROUNDS   rounds per measurement, median reported (default %d)\n"
		"  -n PAGES    pages written by first_write (default %zu)\n"
		"  -s SEED     seed of the random page sets (default %llu)\n"
		"  -c CPU      run pinned to CPU, or 'none' (default 0: no migrations\n"
		"              between vCPUs in the middle of a measurement)\n"
		"  -b          baselines only: no module needed\n"
		"  -l, -t, -T  list tests, run only TEST, override timeouts\n"
		"Rounds are at most %d.\n",
		argv0, cfg.mib, cfg.rounds, cfg.write_pages,
		(unsigned long long)cfg.seed, MAX_REPEATS);
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
	char **hargv;
	int opt, hargc = 0, list = 0;

	pg = sysconf(_SC_PAGESIZE);
	hargv = calloc(2 * argc + 1, sizeof(*hargv));
	if (!hargv) {
		perror("calloc");
		return KSFT_FAIL;
	}
	hargv[hargc++] = argv[0];
	while ((opt = getopt(argc, argv, "m:r:n:s:c:blt:T:h")) != -1) {
		switch (opt) {
		case 'm':
			cfg.mib = parse_num(argv[0], opt, optarg, 1, 1U << 20);
			break;
		case 'r':
			cfg.rounds = parse_num(argv[0], opt, optarg, 1,
					       MAX_REPEATS);
			break;
		case 'n':
			cfg.write_pages = parse_num(argv[0], opt, optarg, 1,
						    1U << 24);
			break;
		case 's':
			cfg.seed = parse_num(argv[0], opt, optarg, 0,
					     SIZE_MAX);
			break;
		case 'c':
			cfg.cpu = !strcmp(optarg, "none") ? -1 :
				  (int)parse_num(argv[0], opt, optarg, 0,
						 CPU_SETSIZE - 1);
			cfg.cpu_given = true;
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
	if ((uint64_t)cfg.mib * MIB / pg > UINT32_MAX) {
		fprintf(stderr, "%s: -m %zu: too large\n", argv[0], cfg.mib);
		return 2;
	}

	if (cfg.cpu >= 0 && !cfg.cpu_given) {
		cpu_set_t set;

		/* the default leaves alone a run confined elsewhere */
		if (sched_getaffinity(0, sizeof(set), &set) ||
		    !CPU_ISSET(cfg.cpu, &set))
			cfg.cpu = -1;
	}
	if (cfg.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cfg.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			if (cfg.cpu_given) {
				fprintf(stderr, "%s: -c %d: %s\n", argv[0],
					cfg.cpu, strerror(errno));
				return 2;
			}
			cfg.cpu = -1;	/* the default CPU is not ours */
		}
	}

	if (bench_report_init(&style))
		return KSFT_FAIL;

	/* the harness parses its own options from a fresh start */
	optind = 1;
	if (!list)
		bench_table_at_exit();
	return test_harness_run(hargc, hargv);
}
