// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz_test: a seeded interface fuzzer for postcopy_assist.
 *
 *   fuzz_test [-s SEED] [-n OPS] [harness options: -l, -t NAME, -T SECS]
 *
 * Environment (the guest's kernel command line can set both, e.g.
 * APPEND="PCA_FUZZ_OPS=100000"): PCA_FUZZ_SEED, PCA_FUZZ_OPS.  Options win.
 * Default: a seed from the clock, 20000 operations.  PCA_FUZZ_VERBOSE=1
 * traces every netlink message and ioctl on stderr.
 *
 * OPS is split over the parts below, each with a seed derived from SEED, so
 * one part can be rerun alone (-t NAME) with the same -s and -n.  Where
 * the module has PCA_REGION_HUGE, a fifth of the regions the parts make
 * are huge (2 to 8 units of 2 MiB): their offsets and lengths are mostly
 * whole units, some deliberately not (EINVAL), and data comes a unit at a
 * time.
 *
 *  netlink     random and mutated generic netlink messages for every
 *              command and for unknown ones: wrong attribute types, short
 *              and oversized attributes, wrong nesting, repeated attributes,
 *              random region ids, offsets and lengths, bad header fields,
 *              truncated and padded datagrams, dumps, the migration
 *              relay with the socket in the "agent" and "vmm" groups;
 *              some sent without CAP_SYS_ADMIN and from another network
 *              namespace; the socket closed and reopened, half the time
 *              on the same port, then attached and detached;
 *  ioctl       random ioctls on the device and region fds: random numbers
 *              in our magic, random sizes and directions, structured and
 *              random arguments, bad pointers (NULL, kernel, unmapped,
 *              read-only, straddling a guard page, a unit's source that
 *              runs into one); what a COPY, ZERO or COPY_BATCH placed
 *              (with PCA_RESOLVE_OVERWRITE too: the last entry of a unit
 *              wins) must read back through the region's mapping;
 *              DISCARD_BITMAP and PRESENT_LOG with bad sizes, unaligned
 *              and huge ranges, bitmaps too small, unknown flags and bad
 *              pointers, and after a DISCARD_BITMAP no page of a bit it
 *              read may be in the PRESENT_LOG of the range;
 *  mmap        mmap/munmap/mremap/mprotect/madvise/msync/mlock/fork/close
 *              and reopen-through-/proc sequences on region fds, with
 *              touches of present and missing pages, kernel accesses,
 *              DISCARD of mapped pages and dirty log rounds; huge
 *              regions are mapped mostly by whole units (PMDs), some at
 *              a page inside a unit, and munmap, mremap, mprotect and
 *              madvise take whole units or pieces of them (splitting
 *              PMDs; MADV_COLD and MADV_PAGEOUT of part of a unit);
 *              DISCARD must answer as the range's units say, a hole
 *              punched or a MADV_REMOVE that succeeded must be whole
 *              units, and two mappings of a region must show the same
 *              bytes where they overlap;
 *  concurrent  faulting processes (two threads each, user and kernel
 *              accesses, GUP through /proc/self/mem and process_vm_readv,
 *              remapping, forks, MADV_REMOVE of units) against missing
 *              regions, some huge, two resolver threads resolving some
 *              faults (COPY, ZERO, WAKE, batches, DONTWAKE, over netlink
 *              and ioctl, or DISCARD right after; a huge region's by
 *              whole units, where netlink COPY must be refused with
 *              EOPNOTSUPP and a part of a unit with EINVAL, and every
 *              fault record must name a whole unit of its region)
 *              and ignoring others, and chaos threads that attach, detach
 *              and close sockets (and bind a closed agent's port again at
 *              once: no record may reach the new socket before it
 *              attaches), send fuzzed messages, toggle dirty
 *              tracking, discard pages and destroy regions while all of
 *              this runs; faulting processes are killed and
 *              respawned, and all of them are killed at the end;
 *  ring        fault rings (PCA_FEATURE_FAULT_RING): ATTACH with random
 *              ring sizes (EINVAL unless a power of two from 16 to
 *              65536), then, while a child process's threads fault on
 *              the region's pages, random tails written to the shared
 *              header (behind, ahead, past the head by more than a
 *              ring: poll() must say EPOLLERR exactly for the bad ones),
 *              scribbled heads, consuming and resolving
 *              batches, rings closed mid-batch (records unread, the
 *              queue's faults going to the next ring, policy wait),
 *              mmap()s with bad flags, offsets and sizes (EINVAL) and
 *              ioctls (ENOTTY); every touch must end with the right
 *              data once the episode resolves the whole region;
 *  reopen_race regression: regions reopened through /proc/self/fd while
 *              their last fd is replaced (a use-after-free it found);
 *  report_race every dirty-log report path (ioctl get, get+clear into a
 *              bitmap on a missing page that an agent thread places late,
 *              netlink get+clear, dumps with clear, clears) against
 *              writers and DISCARD over netlink and ioctl, on a region of
 *              pages and on a huge one (whole units, some ranges part of
 *              a unit: EINVAL), plus whole-range operations on a 1 TiB
 *              region of pages and one of units (DISCARD, WAKE, ZERO,
 *              COPY, dirty count and clear), some by processes killed in
 *              the middle, and MADV_COLD and MADV_PAGEOUT of parts of the
 *              huge region's units; then the logs must still be exact,
 *              the huge one by units (a byte written sets all the bits
 *              of its unit);
 *  recv        PCA_IOC_RECV with one defect at a time, chosen from the
 *              seed: bad and closed fds, fds of files, UDP, datagram and
 *              seqpacket sockets, the netlink socket; count 0, past
 *              PCA_RECV_MAX, huge; unaligned and outside offsets at random
 *              places in the list; NULL, unmapped and kernel entry
 *              pointers; unknown flags, non-zero reserved words.  Each
 *              must fail with its errno and read nothing: the next good
 *              call receives the next unit.  Then peers that end the
 *              stream at random points: the whole units before are
 *              placed and counted, nothing of the cut one;
 *  no_leaks    once every process and fd of the parts above is gone: no
 *              region is left (REGION_GET dump) and the module's
 *              reference count is zero; the fault cache's object count
 *              is printed (SLUB counts per-CPU free objects too).
 *
 * Sequential parts replay exactly from the seed; the concurrent part's
 * choices come from the seed but its interleaving does not.  Every wait is
 * bounded.  The number of operations and the seed are printed.  Errors are
 * expected; a wrong answer (data that is not what was placed, an errno
 * other than the one promised) is printed as "# wrong:" and fails its part.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <linux/falloc.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <netinet/in.h>

#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "pca_harness.h"

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#define PAGE		4096UL
#define NOBODY		65534
#define DEFAULT_OPS	20000

/* Regions the sequential parts keep open at once. */
#define MAX_REGIONS	8
/* Most pages one resolution may place: keeps the guest's memory bounded. */
#define MAX_RESOLVE	64
/* Largest region anything but a create-and-close uses (dirty bitmaps). */
#define BIG_REGION	(1ULL << 30)
/*
 * The unit of a PCA_REGION_HUGE region: 2 MiB, the PMD size of x86-64.
 * Huge regions here are small (guest memory is 1 GiB): 2 to 8 units, and
 * one resolution places at most 2 units.
 */
#define UNIT		(2UL << 20)
#define UNIT_PAGES	(UNIT / PAGE)
#define MIN_UNITS	2
#define MAX_UNITS	8
#define MAX_RESOLVE_UNITS 2
/* Share of the regions the sequential parts create that are huge, %. */
#define HUGE_PCT	20
/* Pages carried by one fuzzed COPY message at most. */
#define MAX_MSG_PAGES	16
#define NLBUF		(MAX_MSG_PAGES * (PAGE + 64) + 8192)
#define RECVBUF		(256 * 1024)

/* -------------------------------------------------------------------------
 * Seeds, counters, random numbers
 */

static uint64_t fuzz_seed;
/* Commands the module has, from the handshake: most messages use them. */
static uint64_t fuzz_commands;
/* The last migration ids seen in answers and events, for MIGRATE_*. */
static _Atomic uint32_t mig_ids[8];
static atomic_uint mig_next;
static uint64_t fuzz_ops = DEFAULT_OPS;
/* PCA_FUZZ_VERBOSE=1: one stderr line per netlink message and ioctl */
static int fuzz_verbose;
/* PCA_TIMEOUT_SCALE (slow debug kernels) stretches the waits for exits */
static unsigned int wait_scale = 1;
/* The module has PCA_REGION_HUGE: some regions are made of 2 MiB units. */
static int huge_ok;

/* In shared memory: counts survive the harness's forked children. */
struct fuzz_shared {
	atomic_ullong ops[8];		/* per part */
	atomic_ullong errs[160];	/* replies/ioctl results by errno */
	atomic_ullong ok;
	atomic_ullong no_answer;	/* requests netlink did not answer */
	atomic_ullong huge_regions;	/* PCA_REGION_HUGE regions made */
	/* answers that are wrong, not merely errors: wrong data, errno */
	atomic_ullong wrong;
};
static struct fuzz_shared *shared;

enum part { P_NETLINK, P_IOCTL, P_MMAP, P_CONCURRENT, P_RING, P_NR };
static const char *const part_name[P_NR] = {
	"netlink", "ioctl", "mmap", "concurrent", "ring",
};
/* Share of the operations, in percent. */
static const unsigned int part_share[P_NR] = { 40, 25, 15, 20, 5 };

static uint64_t part_ops(enum part p)
{
	uint64_t n = fuzz_ops * part_share[p] / 100;

	return n ? n : 1;
}

static uint64_t now_ms(void);
static uint64_t part_t0, part_wrong0;

/*
 * A wrong answer: data that is not what was placed, an errno other than
 * the one the interface promises, a fault record that names no unit.
 * Errors as such are expected; these fail the part.
 */
static void __attribute__((format(printf, 1, 2))) fuzz_wrong(const char *fmt,
							       ...)
{
	char buf[256];
	va_list ap;

	/* the first few are enough to go on */
	if (atomic_fetch_add(&shared->wrong, 1) >= 20)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# wrong: %s\n", buf);
	fflush(stdout);
}

/* The last line of a part: wrong answers since @wrong0 fail it. */
static void wrong_check(struct pca_test_ctx *t, uint64_t wrong0)
{
	uint64_t n = atomic_load(&shared->wrong) - wrong0;

	PCA_EXPECT(t, !n, "%llu wrong answers (the first ones above)",
		   (unsigned long long)n);
}

/* The first line of every part: enough to rerun it. */
static void part_start(struct pca_test_ctx *t, enum part p)
{
	part_t0 = now_ms();
	part_wrong0 = atomic_load(&shared->wrong);
	fuzz_commands = t->api.commands;
	huge_ok = !!(t->api.features & PCA_FEATURE_HUGE);
	pca_t_diag(t, "seed %#llx, %llu of %llu operations (rerun: fuzz_test -s %#llx -n %llu -t %s)",
		   (unsigned long long)fuzz_seed,
		   (unsigned long long)part_ops(p),
		   (unsigned long long)fuzz_ops,
		   (unsigned long long)fuzz_seed,
		   (unsigned long long)fuzz_ops, part_name[p]);
}

static void count_op(enum part p)
{
	atomic_fetch_add_explicit(&shared->ops[p], 1, memory_order_relaxed);
}

static void count_result(long ret)
{
	if (ret >= 0)
		atomic_fetch_add_explicit(&shared->ok, 1, memory_order_relaxed);
	else if (-ret < 160)
		atomic_fetch_add_explicit(&shared->errs[-ret], 1,
					  memory_order_relaxed);
}

struct rng {
	uint64_t s;
};

/* splitmix64: small, fast, and any seed is a good one. */
static uint64_t rnext(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_init(struct rng *r, uint64_t seed, uint64_t stream)
{
	r->s = seed ^ (stream * 0xd1b54a32d192ed03ULL);
	rnext(r);
}

static uint64_t rbelow(struct rng *r, uint64_t n)
{
	return n ? rnext(r) % n : 0;
}

static int chance(struct rng *r, unsigned int pct)
{
	return rbelow(r, 100) < pct;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static const uint64_t interesting[] = {
	0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256,
	511, 512, 1023, 1024, 4095, 4096, 4097, 8191, 8192, 8193, 0x7fff,
	0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
	0x100000000ULL, 0x7fffffffffffffffULL, 0x8000000000000000ULL,
	UINT64_MAX, UINT64_MAX - 4095, UINT64_MAX - 4096, 1ULL << 40,
	(1ULL << 40) + 4096, (1ULL << 40) - 4096, 1ULL << 30, 1ULL << 52,
	1ULL << 63 | 4096,
};

static uint64_t rinteresting(struct rng *r)
{
	uint64_t v = interesting[rbelow(r, sizeof(interesting) /
					  sizeof(interesting[0]))];

	switch (rbelow(r, 8)) {
	case 0:
		return v + rbelow(r, 3) - 1;
	case 1:
		return rnext(r);
	case 2:
		return rnext(r) & ~(PAGE - 1);
	default:
		return v;
	}
}

/* -------------------------------------------------------------------------
 * Region sizes, offsets and lengths
 */

/* A size for a new region: mostly small, some large, some invalid. */
static uint64_t rsize(struct rng *r)
{
	switch (rbelow(r, 20)) {
	case 0:
		return rinteresting(r);
	case 1:
		return BIG_REGION;
	case 2:
		return (1 + rbelow(r, 1024)) * PAGE;
	case 3:
		return 1 + rbelow(r, 64 * PAGE);	/* mostly unaligned */
	default:
		return (1 + rbelow(r, 64)) * PAGE;
	}
}

static uint64_t roffset(struct rng *r, uint64_t size)
{
	switch (rbelow(r, 16)) {
	case 0:
		return rinteresting(r);
	case 1:
		return size;
	case 2:
		return size >= PAGE ? size - PAGE : 0;
	case 3:
		return rbelow(r, size + 1);		/* unaligned */
	case 4:
		return size + PAGE * rbelow(r, 4);
	default:
		return size >= PAGE ? rbelow(r, size / PAGE) * PAGE : 0;
	}
}

static uint64_t rlength(struct rng *r, uint64_t size, uint64_t off)
{
	switch (rbelow(r, 16)) {
	case 0:
		return rinteresting(r);
	case 1:
		return 0;
	case 2:
		return off < size ? size - off : PAGE;
	case 3:
		return 1 + rbelow(r, 4 * PAGE);		/* unaligned */
	case 4:
		return size + PAGE;
	default:
		return (1 + rbelow(r, 8)) * PAGE;
	}
}

/*
 * A range that would make the module allocate pages is cut to MAX_RESOLVE
 * pages (MAX_RESOLVE_UNITS units of a huge region); out-of-range and
 * malformed ones are left as they are.
 */
static uint64_t clamp_resolve(uint64_t size, uint64_t off, uint64_t len,
			      uint64_t unit)
{
	uint64_t max = unit == PAGE ? MAX_RESOLVE * PAGE :
		       MAX_RESOLVE_UNITS * unit;

	if (off < size && len <= size - off && len > max)
		return max;
	return len;
}

/* What a region places, faults on and logs as one. */
static uint64_t region_unit(uint64_t flags)
{
	return flags & PCA_REGION_HUGE ? UNIT : PAGE;
}

/* A size for a new huge region: mostly whole units, some not (EINVAL). */
static uint64_t rsize_huge(struct rng *r)
{
	uint64_t units = MIN_UNITS + rbelow(r, MAX_UNITS - MIN_UNITS + 1);

	switch (rbelow(r, 16)) {
	case 0:
		return rinteresting(r);
	case 1:
		return UNIT / 2 * (1 + 2 * rbelow(r, 2 * MAX_UNITS));
	case 2:
		return units * UNIT + PAGE * (1 + rbelow(r, UNIT_PAGES - 1));
	default:
		return units * UNIT;
	}
}

/*
 * An offset into a region of @unit: in a huge region mostly a whole
 * unit, some inside one (EINVAL), some out of range.
 */
static uint64_t roffset_in(struct rng *r, uint64_t size, uint64_t unit)
{
	uint64_t units = size / unit;

	if (unit == PAGE)
		return roffset(r, size);
	switch (rbelow(r, 16)) {
	case 0:
		return rinteresting(r);
	case 1:
		return size;
	case 2:
		return units ? size - unit : 0;
	case 3:		/* a page inside a unit */
		return rbelow(r, units ? units : 1) * unit +
		       PAGE * (1 + rbelow(r, unit / PAGE - 1));
	case 4:
		return rbelow(r, size + 1);
	case 5:
		return size + unit * rbelow(r, 4);
	default:
		return units ? rbelow(r, units) * unit : 0;
	}
}

/* A length as above: mostly whole units, some pages of one (EINVAL). */
static uint64_t rlength_in(struct rng *r, uint64_t size, uint64_t off,
			   uint64_t unit)
{
	if (unit == PAGE)
		return rlength(r, size, off);
	switch (rbelow(r, 16)) {
	case 0:
		return rinteresting(r);
	case 1:
		return 0;
	case 2:
		return off < size ? size - off : unit;
	case 3:		/* part of a unit */
		return PAGE * (1 + rbelow(r, unit / PAGE - 1));
	case 4:		/* units and a page */
		return unit * (1 + rbelow(r, 2)) + PAGE;
	case 5:
		return size + unit;
	default:
		return unit * (1 + rbelow(r, MAX_RESOLVE_UNITS));
	}
}

/* -------------------------------------------------------------------------
 * Catching SIGBUS/SIGSEGV from touches of missing or unmapped memory
 */

static __thread sigjmp_buf *volatile touch_jmp;

static void touch_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	if (touch_jmp)
		siglongjmp(*touch_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void touch_setup(void)
{
	struct sigaction sa = { .sa_sigaction = touch_handler,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	/* a pipe whose reader went away */
	signal(SIGPIPE, SIG_IGN);
}

/* Read or write one byte: 0, or the signal it raised. */
static int touch(volatile uint8_t *p, int write)
{
	sigjmp_buf jb;
	int sig;

	sig = sigsetjmp(jb, 1);
	if (sig) {
		touch_jmp = NULL;
		return sig;
	}
	touch_jmp = &jb;
	/* the access must stay between the two stores */
	__asm__ __volatile__("" ::: "memory");
	if (write)
		*p = 0x5a;
	else
		(void)*p;
	__asm__ __volatile__("" ::: "memory");
	touch_jmp = NULL;
	return 0;
}

/* Copy @len bytes from @p into @out: 0, or the signal a read raised. */
static int probe_read(const volatile uint8_t *p, uint8_t *out, size_t len)
{
	sigjmp_buf jb;
	int sig;
	size_t i;

	sig = sigsetjmp(jb, 1);
	if (sig) {
		touch_jmp = NULL;
		return sig;
	}
	touch_jmp = &jb;
	__asm__ __volatile__("" ::: "memory");
	for (i = 0; i < len; i++)
		out[i] = p[i];
	__asm__ __volatile__("" ::: "memory");
	touch_jmp = NULL;
	return 0;
}

/* -------------------------------------------------------------------------
 * Buffers for pointers: good ones, and bad ones of every kind
 */

/* Units of data for huge regions, followed by a guard page. */
#define HBUF		(2 * UNIT)

struct bufs {
	uint8_t *data;		/* MAX_RESOLVE pages of pattern */
	uint8_t *hdata;		/* HBUF bytes of pattern... */
	uint8_t *hguard;	/* ...and the PROT_NONE page after them */
	uint8_t *ro;		/* one read-only page */
	uint8_t *guard;		/* a PROT_NONE page... */
	uint8_t *before_guard;	/* ...and the writable page before it */
	uint8_t *gone;		/* an address that was unmapped */
};

static struct bufs bufs;

static void bufs_init(void)
{
	size_t i;
	uint8_t *p;

	bufs.data = mmap(NULL, MAX_RESOLVE * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < MAX_RESOLVE * PAGE; i++)
		bufs.data[i] = (uint8_t)(i * 131 + (i >> 12));
	bufs.ro = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(bufs.ro, 0x11, PAGE);
	mprotect(bufs.ro, PAGE, PROT_READ);
	p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs.before_guard = p;
	bufs.guard = p + PAGE;
	mprotect(bufs.guard, PAGE, PROT_NONE);
	bufs.gone = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	munmap(bufs.gone, PAGE);
	bufs.hdata = mmap(NULL, HBUF + PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* a pattern that differs from page to page and unit to unit */
	for (i = 0; i < HBUF; i += 8) {
		uint64_t v = (i >> 12) * 0x9e3779b97f4a7c15ULL ^ i ^ 0xa5;

		memcpy(bufs.hdata + i, &v, 8);
	}
	bufs.hguard = bufs.hdata + HBUF;
	mprotect(bufs.hguard, PAGE, PROT_NONE);
}

/* bufs.ro changes protection for a moment: one thread at a time. */
static pthread_mutex_t ro_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t rbadptr(struct rng *r)
{
	switch (rbelow(r, 12)) {
	case 0:
		return 0;
	case 1:
		return 1 + rbelow(r, PAGE);
	case 2:
		return (uintptr_t)bufs.guard;
	case 3:
		return (uintptr_t)bufs.guard - 1 - rbelow(r, 40);
	case 4:
		return (uintptr_t)bufs.ro;
	case 5:
		return (uintptr_t)bufs.gone;
	case 6:
		return 0xffff888000000000ULL + rbelow(r, 1 << 20) * PAGE;
	case 7:
		return 0xffffffff81000000ULL;
	case 8:
		return 0x800000000000ULL;	/* not canonical */
	case 9:
		return 0x7ffffffff000ULL;
	case 10:
		return UINT64_MAX - rbelow(r, 64);
	default:
		return rnext(r);
	}
}

/* A source of page data: mostly good, sometimes anything. */
static uint64_t rsrc(struct rng *r, uint64_t len)
{
	if (chance(r, 85) && len <= MAX_RESOLVE * PAGE)
		return (uintptr_t)bufs.data +
		       (len < MAX_RESOLVE * PAGE ?
			rbelow(r, MAX_RESOLVE * PAGE - len + 1) & ~7ULL : 0);
	if (chance(r, 30))
		return (uintptr_t)bufs.data + rbelow(r, MAX_RESOLVE * PAGE);
	return rbadptr(r);
}

/* A source of @len bytes for a region of @unit. */
static uint64_t rsrc_in(struct rng *r, uint64_t len, uint64_t unit)
{
	if (unit == PAGE)
		return rsrc(r, len);
	if (chance(r, 85) && len <= HBUF)
		return (uintptr_t)bufs.hdata +
		       (rbelow(r, HBUF - len + 1) & ~7ULL);
	if (chance(r, 30))	/* runs into the guard part way */
		return (uintptr_t)bufs.hdata + rbelow(r, HBUF);
	return rbadptr(r);
}

/*
 * Where an ioctl's argument struct of @size bytes goes: a good buffer, at
 * the very end of a page before a guard, in read-only memory, or nowhere.
 */
static void *rargp(struct rng *r, void *good, size_t size)
{
	switch (rbelow(r, 20)) {
	case 0:
		return (void *)(uintptr_t)rbadptr(r);
	case 1:
		/* readable, not writable: the copy back fails */
		pthread_mutex_lock(&ro_lock);
		mprotect(bufs.ro, PAGE, PROT_READ | PROT_WRITE);
		memcpy(bufs.ro + PAGE - size, good, size);
		mprotect(bufs.ro, PAGE, PROT_READ);
		pthread_mutex_unlock(&ro_lock);
		return bufs.ro + PAGE - size;
	case 2:
	case 3:
		/* ends exactly at the guard, or runs into it */
		memcpy(bufs.guard - size, good, size);
		return bufs.guard - size + (rbelow(r, 2) ? 0 : 1 +
					    rbelow(r, size));
	default:
		return good;
	}
}

/* -------------------------------------------------------------------------
 * Regions the sequential parts keep
 */

struct fregion {
	int fd;			/* -1: slot free */
	uint32_t id;
	uint64_t size;
	uint64_t flags;
	uint64_t unit;		/* PAGE, or UNIT in a huge region */
	uint8_t *map;		/* a MAP_SHARED view of the first map_len */
	uint64_t map_len;
};

struct fstate {
	struct rng rng;
	enum part part;
	struct fregion reg[MAX_REGIONS];
	uint32_t dead_ids[16];	/* ids of closed regions */
	unsigned int ndead;
};

static void fstate_init(struct fstate *s, enum part p)
{
	int i;

	memset(s, 0, sizeof(*s));
	rng_init(&s->rng, fuzz_seed, p + 1);
	s->part = p;
	for (i = 0; i < MAX_REGIONS; i++)
		s->reg[i].fd = -1;
}

static struct fregion *any_region(struct fstate *s)
{
	unsigned int i, start = rbelow(&s->rng, MAX_REGIONS);

	for (i = 0; i < MAX_REGIONS; i++) {
		struct fregion *fr = &s->reg[(start + i) % MAX_REGIONS];

		if (fr->fd >= 0)
			return fr;
	}
	return NULL;
}

static struct fregion *region_by_id(struct fstate *s, uint64_t id)
{
	unsigned int i;

	for (i = 0; i < MAX_REGIONS; i++)
		if (s->reg[i].fd >= 0 && s->reg[i].id == id)
			return &s->reg[i];
	return NULL;
}

static void region_close(struct fstate *s, struct fregion *fr)
{
	if (fr->fd < 0)
		return;
	if (fr->map && chance(&s->rng, 80))
		munmap(fr->map, fr->map_len);
	/* else the mapping outlives the fd, and the region with it */
	close(fr->fd);
	s->dead_ids[s->ndead++ % 16] = fr->id;
	count_op(s->part);
	memset(fr, 0, sizeof(*fr));
	fr->fd = -1;
}

static void region_adopt(struct fstate *s, int fd, uint32_t id, uint64_t size,
			 uint64_t flags)
{
	struct fregion *fr = NULL;
	unsigned int i;

	for (i = 0; i < MAX_REGIONS && !fr; i++)
		if (s->reg[i].fd < 0)
			fr = &s->reg[i];
	if (!fr) {
		fr = &s->reg[rbelow(&s->rng, MAX_REGIONS)];
		region_close(s, fr);
	}
	fr->fd = fd;
	fr->id = id;
	fr->size = size;
	fr->flags = flags;
	fr->unit = region_unit(flags);
	fr->map = NULL;
	fr->map_len = 0;
	if (flags & PCA_REGION_HUGE)
		atomic_fetch_add(&shared->huge_regions, 1);
	/* Very large ones are only boundary values: gone again at once. */
	if (size > BIG_REGION) {
		region_close(s, fr);
		return;
	}
	if (chance(&s->rng, 70)) {
		/* a huge region's whole units, mapped with PMDs */
		uint64_t max = fr->unit == PAGE ? 256 * PAGE : MAX_UNITS * UNIT;
		uint64_t len = size < max ? size : max;
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			       fd, 0);

		count_op(s->part);
		if (m != MAP_FAILED) {
			fr->map = m;
			fr->map_len = len;
		}
	}
}

static int region_new(struct fstate *s)
{
	int huge = huge_ok && chance(&s->rng, HUGE_PCT);
	uint64_t size = huge ? rsize_huge(&s->rng) : rsize(&s->rng), flags;
	uint32_t id;
	int fd;

	flags = chance(&s->rng, 75) ? PCA_REGION_MISSING : 0;
	if (chance(&s->rng, 20))
		flags |= PCA_REGION_USER_ONLY;
	if (huge)
		flags |= PCA_REGION_HUGE;
	if (chance(&s->rng, 5))
		flags = rinteresting(&s->rng);
	fd = pca_region_create(size, flags, &id);
	count_op(s->part);
	count_result(fd);
	if (fd < 0)
		return fd;
	region_adopt(s, fd, id, size, flags);
	return 0;
}

static void regions_close_all(struct fstate *s)
{
	int i;

	for (i = 0; i < MAX_REGIONS; i++)
		if (s->reg[i].fd >= 0) {
			if (s->reg[i].map)
				munmap(s->reg[i].map, s->reg[i].map_len);
			s->reg[i].map = NULL;
			close(s->reg[i].fd);
			s->reg[i].fd = -1;
		}
}

/* A region id: live, dead, or made up. */
static uint32_t rregion_id(struct fstate *s)
{
	struct fregion *fr;

	switch (rbelow(&s->rng, 10)) {
	case 0:
		return s->ndead ? s->dead_ids[rbelow(&s->rng,
					s->ndead < 16 ? s->ndead : 16)] : 0;
	case 1:
		return (uint32_t)rinteresting(&s->rng);
	default:
		fr = any_region(s);
		return fr ? fr->id : (uint32_t)rbelow(&s->rng, 64);
	}
}

/* -------------------------------------------------------------------------
 * Generic netlink messages, built byte by byte
 */

struct nlb {
	uint8_t *b;
	size_t len;
	size_t cap;
};

static void *nlb_put(struct nlb *m, size_t n)
{
	void *p;

	if (m->len + NLMSG_ALIGN(n) > m->cap)
		return NULL;
	p = m->b + m->len;
	memset(p, 0, NLMSG_ALIGN(n));
	m->len += NLMSG_ALIGN(n);
	return p;
}

/* One attribute, possibly mangled: wrong length, type or flags, twice. */
static void nlb_attr(struct fstate *s, struct nlb *m, uint16_t type,
		     const void *data, size_t len)
{
	struct rng *r = &s->rng;
	uint8_t tmp[256];
	struct nlattr *a;
	int copies = 1, i;

	if (chance(r, 8)) {
		switch (rbelow(r, 7)) {
		case 0:
			return;				/* dropped */
		case 1:
			copies = 2 + rbelow(r, 3);	/* repeated */
			break;
		case 2:
			len = len ? rbelow(r, len) : 0;	/* short */
			break;
		case 3:					/* long */
			if (len <= sizeof(tmp) - 16) {
				memset(tmp, (int)rnext(r), sizeof(tmp));
				memcpy(tmp, data, len);
				data = tmp;
				len += 1 + rbelow(r, 16);
			}
			break;
		case 4:
			type |= NLA_F_NESTED;
			break;
		case 5:
			type |= NLA_F_NET_BYTEORDER;
			break;
		default:
			type = rbelow(r, PCA_A_MAX + 4);
			break;
		}
	}
	for (i = 0; i < copies; i++) {
		a = nlb_put(m, NLA_HDRLEN + len);
		if (!a)
			return;
		a->nla_type = type;
		a->nla_len = NLA_HDRLEN + len;
		memcpy((uint8_t *)a + NLA_HDRLEN, data, len);
	}
}

static void nlb_u32(struct fstate *s, struct nlb *m, uint16_t type, uint32_t v)
{
	nlb_attr(s, m, type, &v, sizeof(v));
}

static void nlb_u64(struct fstate *s, struct nlb *m, uint16_t type, uint64_t v)
{
	nlb_attr(s, m, type, &v, sizeof(v));
}

static size_t nlb_nest_start(struct nlb *m, uint16_t type)
{
	struct nlattr *a = nlb_put(m, NLA_HDRLEN);

	if (!a)
		return SIZE_MAX;
	a->nla_type = type;
	return (uint8_t *)a - m->b;
}

static void nlb_nest_end(struct nlb *m, size_t at)
{
	struct nlattr *a;

	if (at == SIZE_MAX)
		return;
	a = (struct nlattr *)(m->b + at);
	a->nla_len = m->len - at > 0xffff ? 0xffff : m->len - at;
}

static uint32_t rmig_id(struct rng *r);

/* A string attribute: usually terminated and short, sometimes not. */
static void nlb_string(struct fstate *s, struct nlb *m, uint16_t type)
{
	static const char *const peers[] = { "127.0.0.1:4444", "[::1]:1",
		"localhost:65535", "", ":", "host:99999", "a:b:c" };
	struct rng *r = &s->rng;
	char str[300];
	size_t len, i;

	if (chance(r, 60)) {
		const char *p = peers[rbelow(r, sizeof(peers) / sizeof(peers[0]))];

		nlb_attr(s, m, type, p, strlen(p) + (chance(r, 90) ? 1 : 0));
		return;
	}
	len = chance(r, 80) ? rbelow(r, 80) : rbelow(r, sizeof(str));
	for (i = 0; i < len; i++)
		str[i] = chance(r, 95) ? (char)('a' + rbelow(r, 26)) :
			 (char)rnext(r);
	if (len && chance(r, 80))
		str[len - 1] = 0;
	nlb_attr(s, m, type, str, len);
}

/* Random garbage attributes, any type, any length. */
static void nlb_garbage(struct fstate *s, struct nlb *m)
{
	struct rng *r = &s->rng;
	size_t len = chance(r, 90) ? rbelow(r, 24) : rbelow(r, 9000);
	uint8_t *p;
	struct nlattr *a;
	size_t i;

	a = nlb_put(m, NLA_HDRLEN + len);
	if (!a)
		return;
	a->nla_type = chance(r, 80) ? rbelow(r, PCA_A_MAX + 4) :
		      (uint16_t)rnext(r);
	a->nla_len = NLA_HDRLEN + len;
	p = (uint8_t *)a + NLA_HDRLEN;
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rnext(r);
}

/*
 * A PCA_A_PAGE nest (PCA_PAGE_A_*), usually right, sometimes wrong in its own ways (a
 * huge region refuses them all).
 */
static void nlb_page(struct fstate *s, struct nlb *m, uint64_t size,
		     uint64_t unit)
{
	struct rng *r = &s->rng;
	size_t nest = nlb_nest_start(m, chance(r, 95) ? PCA_A_PAGE | (chance(r, 50) ? NLA_F_NESTED : 0) :
				     rbelow(r, PCA_A_MAX + 2));
	uint64_t off = roffset_in(r, size, unit);
	size_t dlen = PAGE;

	if (chance(r, 5))
		dlen = chance(r, 50) ? rbelow(r, PAGE) : PAGE + 1 +
		       rbelow(r, 64);
	if (!chance(r, 4))
		nlb_u64(s, m, PCA_PAGE_A_OFFSET, off);
	if (!chance(r, 4))
		nlb_attr(s, m, PCA_PAGE_A_DATA, bufs.data + rbelow(r, 8) * PAGE,
			 dlen > PAGE ? PAGE : dlen);
	if (chance(r, 3))
		nlb_u32(s, m, PCA_A_REGION_ID, rregion_id(s));	/* misplaced */
	if (chance(r, 3))					/* other space */
		nlb_u64(s, m, PCA_A_LENGTH, off);
	if (chance(r, 3)) {					/* nested deeper */
		size_t inner = nlb_nest_start(m, PCA_A_PAGE);

		nlb_u64(s, m, PCA_PAGE_A_OFFSET, off);
		nlb_nest_end(m, inner);
	}
	if (chance(r, 3))
		nlb_garbage(s, m);
	nlb_nest_end(m, nest);
}

/*
 * The attributes a command takes, each possibly mangled, plus extras;
 * offsets and lengths mostly in units of @unit.
 */
static void nlb_cmd_attrs(struct fstate *s, struct nlb *m, uint8_t cmd,
			  uint32_t id, uint64_t size, uint64_t unit)
{
	struct rng *r = &s->rng;
	uint64_t off = roffset_in(r, size, unit);
	uint64_t len = rlength_in(r, size, off, unit);
	unsigned int i, n;

	if (cmd == PCA_CMD_ZERO || cmd == PCA_CMD_COPY)
		len = clamp_resolve(size, off, len, unit);
	if (cmd >= PCA_CMD_MIGRATE && chance(r, 50))
		id = rregion_id(s);
	switch (cmd) {
	case PCA_CMD_API:
		nlb_u32(s, m, PCA_A_API_VERSION, chance(r, 80) ?
			PCA_API_VERSION : (uint32_t)rinteresting(r));
		if (chance(r, 70))
			nlb_u64(s, m, PCA_A_FEATURES, chance(r, 60) ?
				rnext(r) & ((PCA_FEATURE_HUGE << 1) - 1) :
				rinteresting(r));
		break;
	case PCA_CMD_REGION_GET:
	case PCA_CMD_DETACH:
	case PCA_CMD_FAULT_RESEND:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		break;
	case PCA_CMD_ATTACH:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		if (chance(r, 60))
			nlb_u32(s, m, PCA_A_POLICY, chance(r, 80) ?
				rbelow(r, 2) : (uint32_t)rinteresting(r));
		break;
	case PCA_CMD_COPY:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		if (chance(r, 30))
			nlb_u32(s, m, PCA_A_RESOLVE_FLAGS, chance(r, 70) ?
				1 + rbelow(r, 3) : (uint32_t)rnext(r));
		n = chance(r, 10) ? 0 : 1 + rbelow(r, chance(r, 80) ? 2 :
						   MAX_MSG_PAGES);
		for (i = 0; i < n; i++)
			nlb_page(s, m, size, unit);
		break;
	case PCA_CMD_ZERO:
	case PCA_CMD_WAKE:
	case PCA_CMD_DIRTY_GET:
	case PCA_CMD_DIRTY_CLEAR:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		if (!chance(r, 10))
			nlb_u64(s, m, PCA_A_OFFSET, off);
		if (!chance(r, 10))
			nlb_u64(s, m, PCA_A_LENGTH, len);
		if (cmd == PCA_CMD_DIRTY_GET && chance(r, 60))
			nlb_u32(s, m, PCA_A_DIRTY_FLAGS, chance(r, 80) ?
				rbelow(r, 4) : (uint32_t)rnext(r));
		else if (cmd != PCA_CMD_DIRTY_GET && chance(r, 30))
			nlb_u32(s, m, PCA_A_RESOLVE_FLAGS, chance(r, 70) ?
				rbelow(r, 4) : (uint32_t)rnext(r));
		break;
	case PCA_CMD_DIRTY_TRACK:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		nlb_u32(s, m, PCA_A_DIRTY_ENABLE, chance(r, 90) ?
			rbelow(r, 2) : (uint32_t)rinteresting(r));
		break;
	case PCA_CMD_DISCARD:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		if (!chance(r, 10))
			nlb_u64(s, m, PCA_A_OFFSET, off);
		if (!chance(r, 10))
			nlb_u64(s, m, PCA_A_LENGTH, len);
		break;
	case PCA_CMD_MIGRATE:
		nlb_u32(s, m, PCA_A_REGION_ID, id);
		if (!chance(r, 10))
			nlb_u32(s, m, PCA_A_MIG_ROLE, chance(r, 90) ?
				rbelow(r, 2) : (uint32_t)rinteresting(r));
		if (!chance(r, 10))
			nlb_string(s, m, PCA_A_MIG_PEER);
		if (chance(r, 30))
			nlb_string(s, m, PCA_A_MIG_ARGS);
		break;
	case PCA_CMD_MIGRATE_UPDATE: {
		struct pca_mig_progress pr;
		size_t k;

		nlb_u32(s, m, PCA_A_MIG_ID, rmig_id(r));
		if (chance(r, 70))
			nlb_u32(s, m, PCA_A_MIG_PHASE, chance(r, 90) ?
				rbelow(r, PCA_MIG_CANCELLED + 1) :
				(uint32_t)rinteresting(r));
		if (chance(r, 40)) {
			for (k = 0; k < sizeof(pr) / 8; k++)
				((uint64_t *)&pr)[k] = rinteresting(r);
			nlb_attr(s, m, PCA_A_MIG_PROGRESS, &pr, chance(r, 90) ?
				 sizeof(pr) : rbelow(r, sizeof(pr) + 1));
		}
		if (chance(r, 30))
			nlb_u32(s, m, PCA_A_MIG_ERROR, (uint32_t)rinteresting(r));
		if (chance(r, 30))
			nlb_string(s, m, PCA_A_MIG_MESSAGE);
		break;
	}
	case PCA_CMD_MIGRATE_ACCEPT:
	case PCA_CMD_MIGRATE_PAUSED:
	case PCA_CMD_MIGRATE_CANCEL:
	case PCA_CMD_MIGRATE_GET:
		nlb_u32(s, m, PCA_A_MIG_ID, rmig_id(r));
		break;
	default:
		/* commands newer than this file: a region and a range */
		if (cmd > PCA_CMD_MIGRATE_EVENT && cmd <= PCA_CMD_MAX) {
			nlb_u32(s, m, PCA_A_REGION_ID, id);
			if (chance(r, 80))
				nlb_u64(s, m, PCA_A_OFFSET, off);
			if (chance(r, 80))
				nlb_u64(s, m, PCA_A_LENGTH,
					clamp_resolve(size, off, len, unit));
		}
		break;
	}
	/* extras: any attribute, right or wrong */
	n = chance(r, 70) ? 0 : 1 + rbelow(r, 4);
	for (i = 0; i < n; i++) {
		switch (rbelow(r, 5)) {
		case 0:
			nlb_page(s, m, size, unit);
			break;
		case 1:
			nlb_u32(s, m, rbelow(r, PCA_A_MAX + 3),
				(uint32_t)rinteresting(r));
			break;
		case 2:
			nlb_u64(s, m, rbelow(r, PCA_A_MAX + 3),
				rinteresting(r));
			break;
		default:
			nlb_garbage(s, m);
			break;
		}
	}
}

struct nlsock {
	int fd;
	uint32_t seq;
	uint16_t family;
	unsigned long faults;	/* PCA_CMD_FAULT messages read */
};

/* The family's multicast groups ("agent", "vmm"); 0 when unknown. */
static uint32_t mcgrp[2];

static void mcgrp_resolve(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int g;

	if (!sk)
		return;
	if (!genl_connect(sk)) {
		g = genl_ctrl_resolve_grp(sk, POSTCOPY_ASSIST_GENL_NAME,
					  PCA_MCGRP_AGENT);
		mcgrp[0] = g > 0 ? g : 0;
		g = genl_ctrl_resolve_grp(sk, POSTCOPY_ASSIST_GENL_NAME,
					  PCA_MCGRP_VMM);
		mcgrp[1] = g > 0 ? g : 0;
	}
	nl_socket_free(sk);
}

/* Join or leave a group: an "agent" listener lets MIGRATE go through. */
static void nlsock_groups(struct fstate *s, struct nlsock *ns)
{
	uint32_t g = mcgrp[rbelow(&s->rng, 2)];

	if (g)
		setsockopt(ns->fd, SOL_NETLINK, chance(&s->rng, 70) ?
			   NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP,
			   &g, sizeof(g));
}

/* A socket bound to @portid (0: the kernel picks one). */
static int nlsock_open_port(struct nlsock *ns, uint16_t family,
			    uint32_t portid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = portid };
	int one = 1, big = 1 << 20, err;

	ns->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (ns->fd < 0)
		return -errno;
	if (bind(ns->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		close(ns->fd);
		ns->fd = -1;
		return err;
	}
	setsockopt(ns->fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	setsockopt(ns->fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(ns->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	ns->family = family;
	ns->faults = 0;
	return 0;
}

static int nlsock_open(struct nlsock *ns, uint16_t family)
{
	return nlsock_open_port(ns, family, 0);
}

static uint32_t nlsock_portid(struct nlsock *ns)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);

	if (ns->fd < 0 || getsockname(ns->fd, (struct sockaddr *)&sa, &len))
		return 0;
	return sa.nl_pid;
}

static void nlsock_close(struct nlsock *ns)
{
	if (ns->fd >= 0)
		close(ns->fd);
	ns->fd = -1;
}

/* Remember the migration id a message of the family carries. */
static void note_mig_id(const struct nlmsghdr *h)
{
	const struct nlattr *a;
	int len = h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	a = (const struct nlattr *)((const uint8_t *)NLMSG_DATA(h) +
				    GENL_HDRLEN);
	for (; len >= (int)NLA_HDRLEN && a->nla_len >= NLA_HDRLEN &&
	       a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (const struct nlattr *)((const uint8_t *)a +
					 NLA_ALIGN(a->nla_len))) {
		if ((a->nla_type & NLA_TYPE_MASK) == PCA_A_MIG_ID &&
		    a->nla_len == NLA_HDRLEN + 4) {
			uint32_t id;

			memcpy(&id, (const uint8_t *)a + NLA_HDRLEN, 4);
			mig_ids[atomic_fetch_add(&mig_next, 1) % 8] = id;
			return;
		}
	}
}

static uint32_t rmig_id(struct rng *r)
{
	if (chance(r, 85))
		return mig_ids[rbelow(r, 8)];
	return chance(r, 50) ? (uint32_t)rbelow(r, 64) :
	       (uint32_t)rinteresting(r);
}

/*
 * Read replies until the answer to @seq (ERROR/ACK or DONE), for at most
 * @ms; then take whatever else is queued (fault events, stray replies).
 * Returns the error of the answer (0: ACK), 1 if none came.
 */
static int nlsock_drain(struct nlsock *ns, uint32_t seq, int ms)
{
	static __thread uint8_t *buf;
	uint64_t end = now_ms() + ms;
	int result = 1;

	if (!buf)
		buf = malloc(RECVBUF);
	for (;;) {
		struct pollfd p = { .fd = ns->fd, .events = POLLIN };
		int64_t left = result == 1 ? (int64_t)(end - now_ms()) : 0;
		struct nlmsghdr *h;
		ssize_t n;

		if (left < 0)
			left = 0;
		if (poll(&p, 1, left) <= 0)
			break;
		n = recv(ns->fd, buf, RECVBUF, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == ns->family &&
			    h->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN) &&
			    ((struct genlmsghdr *)NLMSG_DATA(h))->cmd ==
			    PCA_CMD_FAULT)
				ns->faults++;
			if (h->nlmsg_type == ns->family)
				note_mig_id(h);
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);

				if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)))
					result = e->error;
			} else if (h->nlmsg_type == NLMSG_DONE) {
				result = 0;
			}
		}
	}
	return result;
}

/* Build, maybe mangle, send one message and read its answer. */
static int nl_fuzz_one(struct fstate *s, struct nlsock *ns)
{
	static __thread uint8_t *buf;
	struct rng *r = &s->rng;
	struct nlb m;
	struct nlmsghdr *h;
	struct genlmsghdr *g;
	struct fregion *fr = any_region(s);
	uint32_t id = rregion_id(s), seq = ++ns->seq;
	uint64_t size = fr && fr->id == id ? fr->size :
			(fr ? fr->size : (1 + rbelow(r, 64)) * PAGE);
	uint64_t unit = fr ? fr->unit : PAGE;
	uint8_t cmd;
	size_t sendlen;
	int ret, dump, i, flips, answer;

	if (!buf)
		buf = malloc(NLBUF);
	m = (struct nlb){ .b = buf, .cap = NLBUF };

	if (chance(r, 85) && fuzz_commands) {
		do
			cmd = rbelow(r, 64);
		while (!(fuzz_commands & (1ULL << cmd)));
	} else if (chance(r, 50))
		cmd = 1 + rbelow(r, PCA_CMD_MAX);
	else if (chance(r, 50))
		cmd = chance(r, 50) ? 0 : PCA_CMD_MAX + 1 +
		      rbelow(r, 4);
	else
		cmd = (uint8_t)rnext(r);
	dump = chance(r, cmd == PCA_CMD_REGION_GET ||
		      cmd == PCA_CMD_DIRTY_GET ||
		      cmd == PCA_CMD_MIGRATE_GET ? 40 : 5);

	h = nlb_put(&m, NLMSG_HDRLEN);
	h->nlmsg_type = ns->family;
	h->nlmsg_flags = NLM_F_REQUEST | (chance(r, 90) ? NLM_F_ACK : 0) |
			 (dump ? NLM_F_DUMP : 0);
	if (chance(r, 3))
		h->nlmsg_flags = (uint16_t)rnext(r);
	h->nlmsg_seq = seq;
	g = nlb_put(&m, GENL_HDRLEN);
	g->cmd = cmd;
	g->version = chance(r, 95) ? POSTCOPY_ASSIST_GENL_VERSION :
		     (uint8_t)rnext(r);
	if (chance(r, 3))
		g->reserved = (uint16_t)rnext(r);

	if (chance(r, 5)) {
		int n = rbelow(r, 6);

		for (i = 0; i < n; i++)
			nlb_garbage(s, &m);
	} else if (!(dump && chance(r, 50))) {
		nlb_cmd_attrs(s, &m, cmd, id, size, unit);
	}
	h->nlmsg_len = m.len;
	sendlen = m.len;

	/* Mangling of the whole message. */
	if (chance(r, 10)) {
		flips = 1 + rbelow(r, 4);
		for (i = 0; i < flips; i++) {
			size_t at = NLMSG_HDRLEN + rbelow(r, m.len - NLMSG_HDRLEN);

			m.b[at] ^= 1 << rbelow(r, 8);
		}
	}
	if (chance(r, 5)) {
		switch (rbelow(r, 4)) {
		case 0:		/* header claims less than is there */
			h->nlmsg_len = NLMSG_HDRLEN + rbelow(r, m.len -
							     NLMSG_HDRLEN + 1);
			break;
		case 1:		/* header claims more than is there */
			h->nlmsg_len = m.len + 1 + rbelow(r, 64);
			break;
		case 2:		/* datagram cut short */
			sendlen = rbelow(r, m.len + 1);
			break;
		default:	/* a second message in the datagram */
			if (m.len * 2 <= m.cap) {
				memcpy(m.b + m.len, m.b, m.len);
				((struct nlmsghdr *)(m.b + m.len))->nlmsg_seq =
					seq;
				sendlen = m.len * 2;
			}
			break;
		}
	}

	count_op(s->part);
	if (send(ns->fd, m.b, sendlen, 0) < 0) {
		count_result(-errno);
		return -errno;
	}
	/*
	 * Only a whole request with ACK or a dump always gets an answer:
	 * netlink drops a message whose length does not fit the datagram.
	 */
	answer = (h->nlmsg_flags & NLM_F_REQUEST) &&
		 (h->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP)) &&
		 h->nlmsg_len >= NLMSG_HDRLEN + GENL_HDRLEN &&
		 h->nlmsg_len <= sendlen;
	ret = nlsock_drain(ns, seq, answer ? 2000 : 1);
	if (fuzz_verbose)
		fprintf(stderr, "nl cmd %u flags %#x len %u/%zu -> %d\n", cmd,
			h->nlmsg_flags, h->nlmsg_len, sendlen, ret);
	if (ret != 1)
		count_result(ret);
	else if (answer)
		atomic_fetch_add(&shared->no_answer, 1);
	return ret;
}

/*
 * A well-formed ATTACH (with @policy), DETACH or FAULT for region @id;
 * its answer as nlsock_drain() gives it.
 */
static int nl_queue_cmd(struct nlsock *ns, uint8_t cmd, uint32_t id,
			int policy)
{
	struct pca_raw_queue_req req;
	size_t len = pca_raw_queue_req(&req, ns->family, ++ns->seq, cmd, id,
				       cmd == PCA_CMD_ATTACH ? policy : -1);

	if (send(ns->fd, &req, len, 0) < 0)
		return -errno;
	return nlsock_drain(ns, req.h.nlmsg_seq, 2000);
}

/* count_result() for an answer of nlsock_drain() */
static void count_answer(int ret)
{
	if (ret != 1)
		count_result(ret);
	else
		atomic_fetch_add(&shared->no_answer, 1);
}

static uint16_t family_id(void)
{
	struct pca_client *c;
	int fam;

	if (pca_client_open(&c))
		return 0;
	fam = pca_client_family(c);
	pca_client_close(c);
	return fam > 0 ? fam : 0;
}

/* Fork, run @fn, and wait at most @ms for it, then kill it. */
static int run_bounded(void (*fn)(void *), void *arg, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms * wait_scale;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		fn(arg);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
	return status;
}

struct nl_child_arg {
	struct fstate *s;
	uint16_t family;
	int unprivileged;
};

/* Some messages without CAP_SYS_ADMIN, or from a new network namespace. */
static void nl_child(void *p)
{
	struct nl_child_arg *a = p;
	struct nlsock ns;
	int i;

	if (a->unprivileged) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(1);
	} else if (unshare(CLONE_NEWNET)) {
		_exit(0);	/* no namespaces in this kernel: nothing to do */
	}
	/* family ids are global: the parent's is good in any namespace */
	if (nlsock_open(&ns, a->family))
		_exit(1);
	for (i = 0; i < 20; i++)
		nl_fuzz_one(a->s, &ns);
	nlsock_close(&ns);
}

static void test_netlink(struct pca_test_ctx *t)
{
	struct fstate *s = malloc(sizeof(*s));
	uint64_t budget = part_ops(P_NETLINK), start;
	struct nlsock ns;
	uint16_t family = family_id();

	part_start(t, P_NETLINK);
	PCA_ASSERT(t, family, "cannot resolve the family");
	fstate_init(s, P_NETLINK);
	bufs_init();
	touch_setup();
	PCA_ASSERT_OK(t, nlsock_open(&ns, family));
	mcgrp_resolve();
	start = atomic_load(&shared->ops[P_NETLINK]);
	while (atomic_load(&shared->ops[P_NETLINK]) - start < budget) {
		struct rng *r = &s->rng;
		unsigned int what = rbelow(r, 1000);

		if (what < 20) {
			region_new(s);
		} else if (what < 30) {
			struct fregion *fr = any_region(s);

			if (fr)
				region_close(s, fr);
		} else if (what < 35) {
			/* a closed socket detaches wherever it was attached */
			uint32_t port = nlsock_portid(&ns);
			int reuse = chance(r, 50), attach = chance(r, 70);
			int detach = chance(r, 50), policy = rbelow(r, 2);
			struct fregion *fr = any_region(s);

			nlsock_close(&ns);
			count_op(P_NETLINK);
			/*
			 * Half the time the next socket takes the same port at
			 * once, as libraries that number their sockets do, and
			 * attaches where the old one may have been.
			 */
			if (!reuse || nlsock_open_port(&ns, family, port)) {
				PCA_ASSERT_OK(t, nlsock_open(&ns, family));
			} else if (attach && fr) {
				count_op(P_NETLINK);
				count_answer(nl_queue_cmd(&ns, PCA_CMD_ATTACH,
							  fr->id, policy));
				if (detach) {
					count_op(P_NETLINK);
					count_answer(nl_queue_cmd(&ns,
								  PCA_CMD_DETACH,
								  fr->id, -1));
				}
			}
		} else if (what < 45) {
			nlsock_groups(s, &ns);
			count_op(P_NETLINK);
		} else if (what < 47) {
			struct nl_child_arg a = { s, family, rbelow(r, 2) };
			int st = run_bounded(nl_child, &a, 60000);

			PCA_EXPECT(t, st != -ETIMEDOUT, "child hung");
			/* its messages used a copy of the generator */
			rnext(r);
			count_op(P_NETLINK);
		} else {
			nl_fuzz_one(s, &ns);
		}
	}
	nlsock_close(&ns);
	regions_close_all(s);
	pca_t_diag(t, "%llu operations in %.1f s",
		   (unsigned long long)(atomic_load(&shared->ops[P_NETLINK]) -
					start), (now_ms() - part_t0) / 1000.0);
	wrong_check(t, part_wrong0);
	free(s);
}

/* -------------------------------------------------------------------------
 * ioctls
 */

static const unsigned long valid_cmds[] = {
	PCA_IOC_API, PCA_IOC_REGION_CREATE, PCA_IOC_COPY, PCA_IOC_ZERO,
	PCA_IOC_WAKE, PCA_IOC_COPY_BATCH, PCA_IOC_DIRTY_LOG,
	PCA_IOC_DIRTY_CLEAR, PCA_IOC_DISCARD, PCA_IOC_REGION_OPEN,
	PCA_IOC_DISCARD_BITMAP, PCA_IOC_PRESENT_LOG,
};

static unsigned long rand_cmd(struct rng *r)
{
	unsigned long cmd = valid_cmds[rbelow(r, sizeof(valid_cmds) /
					      sizeof(valid_cmds[0]))];

	switch (rbelow(r, 10)) {
	case 0:		/* right number, wrong direction or size */
		return _IOC(rbelow(r, 4), PCA_IOC_MAGIC, _IOC_NR(cmd),
			    chance(r, 50) ? rbelow(r, 1 << _IOC_SIZEBITS) :
			    _IOC_SIZE(cmd) + rbelow(r, 3) * 8 - 8);
	case 1:		/* any number in our magic */
		return _IOC(rbelow(r, 4), PCA_IOC_MAGIC, rbelow(r, 256),
			    rbelow(r, 1 << _IOC_SIZEBITS));
	case 2:		/* anything at all, now and then */
		return chance(r, 20) ? (unsigned int)rnext(r) :
		       _IOC(_IOC_READ | _IOC_WRITE, PCA_IOC_MAGIC,
			    8 + rbelow(r, 8), 40);
	default:
		return cmd;
	}
}

union ioc_arg {
	struct pca_api api;
	struct pca_region_create rc;
	struct pca_region_open ro;
	struct pca_copy copy;
	struct pca_range range;
	struct pca_copy_batch batch;
	struct pca_dirty_log dlog;
	struct pca_discard_bitmap dbm;
	struct pca_present_log plog;
	uint8_t raw[128];
};

/*
 * Entries for COPY_BATCH, the last one right before the guard page: a
 * page each, or a unit each in a huge region.
 */
static struct pca_copy_entry *batch_entries(struct rng *r, uint64_t size,
					    uint64_t count, uint64_t unit)
{
	size_t max = PAGE / sizeof(struct pca_copy_entry);
	struct pca_copy_entry *e;
	uint64_t i, n = count < max ? count : max;

	e = (struct pca_copy_entry *)bufs.guard - n;
	for (i = 0; i < n; i++) {
		e[i].offset = chance(r, 90) && size >= unit ?
			      rbelow(r, size / unit) * unit :
			      roffset_in(r, size, unit);
		if (unit == PAGE)
			e[i].src = chance(r, 90) ? (uintptr_t)bufs.data +
				   rbelow(r, MAX_RESOLVE) * PAGE : rsrc(r, PAGE);
		else
			e[i].src = chance(r, 90) ? (uintptr_t)bufs.hdata +
				   rbelow(r, HBUF / UNIT) * UNIT :
				   rsrc_in(r, UNIT, UNIT);
	}
	return e;
}

static void ioc_fill(struct fstate *s, unsigned long cmd, union ioc_arg *a,
		     struct fregion *fr)
{
	struct rng *r = &s->rng;
	uint64_t size = fr ? fr->size : (1 + rbelow(r, 64)) * PAGE;
	uint64_t unit = fr ? fr->unit : PAGE;
	uint64_t off = roffset_in(r, size, unit);
	uint64_t len = rlength_in(r, size, off, unit);
	size_t i;

	memset(a, 0, sizeof(*a));
	if (chance(r, 5)) {
		for (i = 0; i < sizeof(a->raw); i++)
			a->raw[i] = (uint8_t)rnext(r);
		return;
	}
	switch (_IOC_NR(cmd)) {
	case _IOC_NR(PCA_IOC_API):
		a->api.api = chance(r, 80) ? PCA_API_VERSION : rinteresting(r);
		a->api.features = chance(r, 70) ? rnext(r) & 0x7f :
				  rinteresting(r);
		a->api.ioctls = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_REGION_CREATE):
		a->rc.flags = chance(r, 85) ? rbelow(r, 4) : rinteresting(r);
		if (huge_ok && chance(r, HUGE_PCT))
			a->rc.flags |= PCA_REGION_HUGE;
		a->rc.size = a->rc.flags & PCA_REGION_HUGE && chance(r, 80) ?
			     rsize_huge(r) : rsize(r);
		if (a->rc.size > BIG_REGION && a->rc.size <= (1ULL << 40))
			a->rc.size = BIG_REGION;
		a->rc.region_id = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_REGION_OPEN):
		/* a live region, a closed one, or anything */
		fr = any_region(s);
		a->ro.region_id = fr && chance(r, 70) ? fr->id :
				  s->ndead && chance(r, 50) ?
				  s->dead_ids[rbelow(r, s->ndead < 16 ?
						       s->ndead : 16)] :
				  rinteresting(r);
		a->ro.flags = chance(r, 85) ? 0 : rinteresting(r);
		a->ro.size = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_COPY):
		a->copy.offset = off;
		a->copy.len = clamp_resolve(size, off, len, unit);
		a->copy.src = rsrc_in(r, a->copy.len, unit);
		if (fr && fr->map && chance(r, 3))	/* from itself */
			a->copy.src = (uintptr_t)fr->map +
				      rbelow(r, fr->map_len / unit) * unit;
		a->copy.flags = chance(r, 80) ? rbelow(r, 4) : rinteresting(r);
		a->copy.copied = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_ZERO):
	case _IOC_NR(PCA_IOC_WAKE):
	case _IOC_NR(PCA_IOC_DIRTY_CLEAR):
	case _IOC_NR(PCA_IOC_DISCARD):
		a->range.offset = off;
		a->range.len = clamp_resolve(size, off, len, unit);
		a->range.flags = chance(r, 80) ? rbelow(r, 2) : rinteresting(r);
		a->range.done = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_COPY_BATCH):
		a->batch.count = chance(r, 80) ? rbelow(r, 32) :
				 chance(r, 50) ? (1ULL << 20) + rbelow(r, 2) :
				 rinteresting(r);
		a->batch.entries = chance(r, 85) ?
			(uintptr_t)batch_entries(r, size, a->batch.count, unit) :
			rbadptr(r);
		a->batch.flags = chance(r, 80) ? rbelow(r, 4) : rinteresting(r);
		a->batch.copied = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_DISCARD_BITMAP):
	case _IOC_NR(PCA_IOC_PRESENT_LOG):
		/* the same layout: offset, len, bitmap, size, flags, count */
		a->dbm.offset = chance(r, 90) ? off : rinteresting(r);
		a->dbm.len = chance(r, 90) ? len : rinteresting(r);
		if (chance(r, 80)) {
			/* random bits, ending right at the guard */
			uint64_t need = len / PAGE / 8 + 8;

			need = need > PAGE ? PAGE : (need + 7) & ~7ULL;
			a->dbm.bitmap = (uintptr_t)bufs.guard - need;
			a->dbm.bitmap_size = chance(r, 80) ? need :
					     chance(r, 50) ? need - 8 :
					     rinteresting(r);
			for (i = 0; i < need / 8; i++)
				((uint64_t *)(uintptr_t)a->dbm.bitmap)[i] =
					chance(r, 30) ? 0 : rnext(r);
		} else {
			a->dbm.bitmap = rbadptr(r);
			a->dbm.bitmap_size = rinteresting(r);
		}
		if (_IOC_NR(cmd) == _IOC_NR(PCA_IOC_DISCARD_BITMAP))
			a->dbm.flags = chance(r, 80) ?
				       (chance(r, 90) ? 0 : PCA_DISCARD_SEAL) :
				       rinteresting(r);
		else
			a->dbm.flags = chance(r, 85) ? 0 : rinteresting(r);
		a->dbm.discarded = rnext(r);
		break;
	case _IOC_NR(PCA_IOC_DIRTY_LOG):
		a->dlog.offset = off;
		a->dlog.len = len;
		a->dlog.flags = chance(r, 80) ? rbelow(r, 4) : rinteresting(r);
		if (chance(r, 80)) {
			/* a bitmap that fits, ending right at the guard */
			uint64_t need = len / PAGE / 8 + 8;

			need = need > PAGE ? PAGE : (need + 7) & ~7ULL;
			a->dlog.bitmap = (uintptr_t)bufs.guard - need;
			a->dlog.bitmap_size = chance(r, 80) ? need :
					      rinteresting(r);
		} else {
			a->dlog.bitmap = rbadptr(r);
			a->dlog.bitmap_size = rinteresting(r);
		}
		break;
	default:
		for (i = 0; i < sizeof(a->raw); i++)
			a->raw[i] = (uint8_t)rnext(r);
		break;
	}
}

/* The netlink side of the dirty log, so DIRTY_LOG sees live tracking. */
static void ioc_dirty_track(struct fstate *s, struct pca_client *c,
			    struct fregion *fr)
{
	if (!c || !fr)
		return;
	count_op(s->part);
	count_result(pca_dirty_track(c, fr->id, rbelow(&s->rng, 2)));
}

/* Touch mapped pages: allocates in present mode, SIGBUS when missing. */
static void touch_some(struct fstate *s, struct fregion *fr)
{
	struct rng *r = &s->rng;
	int i, n = 1 + rbelow(r, 8);

	if (!fr || !fr->map)
		return;
	for (i = 0; i < n; i++) {
		touch(fr->map + rbelow(r, fr->map_len), rbelow(r, 2));
		count_op(s->part);
	}
}

/* @src if all of [@src, @src + @len) is one of our pattern buffers. */
static const uint8_t *good_src(uint64_t src, uint64_t len)
{
	uintptr_t d = (uintptr_t)bufs.data, h = (uintptr_t)bufs.hdata;

	if (src >= d && len <= MAX_RESOLVE * PAGE &&
	    src - d <= MAX_RESOLVE * PAGE - len)
		return (const uint8_t *)(uintptr_t)src;
	if (src >= h && len <= HBUF && src - h <= HBUF - len)
		return (const uint8_t *)(uintptr_t)src;
	return NULL;
}

/*
 * After a COPY from @src (NULL: a ZERO) that placed all of [@off, @off +
 * @len) of @fr, and nothing since: its mapping shows that data.  64 bytes
 * of every page are compared, at an offset that moves from page to page.
 */
static void check_placed(struct fregion *fr, const char *what, uint64_t off,
			 uint64_t len, const uint8_t *src)
{
	static const uint8_t zero[64];
	uint8_t got[64];
	uint64_t at, in;
	int sig;

	if (!fr->map || off >= fr->map_len || len > fr->map_len - off)
		return;
	for (at = 0; at < len; at += PAGE) {
		in = (at / PAGE * 1032) % (PAGE - 64);
		sig = probe_read(fr->map + off + at + in, got, sizeof(got));
		if (sig) {
			fuzz_wrong("%s of region %u [%#llx, +%#llx): signal %d reading byte %#llx",
				   what, fr->id, (unsigned long long)off,
				   (unsigned long long)len, sig,
				   (unsigned long long)(off + at + in));
			return;
		}
		if (memcmp(got, src ? src + at + in : zero, sizeof(got))) {
			fuzz_wrong("%s of region %u [%#llx, +%#llx): byte %#llx is %#x, not %#x",
				   what, fr->id, (unsigned long long)off,
				   (unsigned long long)len,
				   (unsigned long long)(off + at + in), got[0],
				   src ? src[at + in] : 0);
			return;
		}
	}
}

/*
 * After a DISCARD_BITMAP of @fr that succeeded, and nothing since: no page
 * (no unit) with a bit set in what it read is in the present log.
 */
static void check_discarded(struct fregion *fr,
			    const struct pca_discard_bitmap *d)
{
	static uint64_t log[PAGE / 8];
	const uint64_t *bits = (const uint64_t *)(uintptr_t)d->bitmap;
	uint64_t pages = d->len / PAGE, upages = fr->unit / PAGE, i, u;
	struct pca_present_log pl = {
		.offset = d->offset, .len = d->len,
		.bitmap = (uintptr_t)log, .bitmap_size = sizeof(log),
	};

	if (pages > sizeof(log) * 8 || d->bitmap_size < (pages + 63) / 64 * 8)
		return;
	if (ioctl(fr->fd, PCA_IOC_PRESENT_LOG, &pl)) {
		fuzz_wrong("region %u: PRESENT_LOG after DISCARD_BITMAP: %s",
			   fr->id, strerror(errno));
		return;
	}
	for (u = 0; u < pages; u += upages) {
		int set = 0, present = 0;

		for (i = u; i < u + upages; i++) {
			set |= !!(bits[i / 64] & (1ULL << (i % 64)));
			present |= !!(log[i / 64] & (1ULL << (i % 64)));
		}
		if (set && present) {
			fuzz_wrong("region %u: DISCARD_BITMAP of [%#llx, +%#llx) left page %#llx present",
				   fr->id, (unsigned long long)d->offset,
				   (unsigned long long)d->len,
				   (unsigned long long)u);
			return;
		}
	}
}

/* A resolution ioctl on @fr succeeded: what it placed reads back. */
static void ioc_check(struct fregion *fr, unsigned long cmd,
		      const union ioc_arg *a)
{
	const struct pca_copy_entry *e;
	uint64_t i, max = PAGE / sizeof(*e);

	switch (cmd) {
	case PCA_IOC_COPY:
		if (good_src(a->copy.src, a->copy.len))
			check_placed(fr, "COPY", a->copy.offset, a->copy.len,
				     good_src(a->copy.src, a->copy.len));
		break;
	case PCA_IOC_ZERO:
		check_placed(fr, "ZERO", a->range.offset, a->range.len, NULL);
		break;
	case PCA_IOC_COPY_BATCH:
		/*
		 * Entries batch_entries() made, each placed (no EEXIST), or
		 * with OVERWRITE each unit holding its last entry's data.
		 */
		if (a->batch.count > max || a->batch.entries !=
		    (uintptr_t)((struct pca_copy_entry *)bufs.guard -
				a->batch.count))
			break;
		e = (const struct pca_copy_entry *)(uintptr_t)a->batch.entries;
		for (i = 0; i < a->batch.count; i++) {
			uint64_t j;

			for (j = i + 1; j < a->batch.count; j++)
				if (e[j].offset == e[i].offset)
					break;
			if (j < a->batch.count)
				continue;
			if (good_src(e[i].src, fr->unit))
				check_placed(fr, "COPY_BATCH", e[i].offset,
					     fr->unit,
					     good_src(e[i].src, fr->unit));
		}
		break;
	case PCA_IOC_DISCARD_BITMAP:
		check_discarded(fr, &a->dbm);
		break;
	}
}

static void ioc_one(struct fstate *s, int devfd)
{
	struct rng *r = &s->rng;
	struct fregion *fr = any_region(s);
	unsigned long cmd = rand_cmd(r);
	union ioc_arg a;
	void *argp;
	int fd;
	long ret;

	/* mostly the right kind of fd for the command */
	if ((_IOC_NR(cmd) <= 1 ||
	     _IOC_NR(cmd) == _IOC_NR(PCA_IOC_REGION_OPEN)) &&
	    _IOC_TYPE(cmd) == PCA_IOC_MAGIC && chance(r, 85))
		fd = devfd;
	else
		fd = fr && chance(r, 90) ? fr->fd : devfd;
	ioc_fill(s, cmd, &a, fd == devfd ? NULL : fr);
	argp = chance(r, 90) ? rargp(r, &a, _IOC_SIZE(cmd) && _IOC_SIZE(cmd) <=
				     sizeof(a) ? _IOC_SIZE(cmd) : sizeof(a)) :
	       (void *)(uintptr_t)rbadptr(r);
	if (_IOC_NR(cmd) == _IOC_NR(PCA_IOC_REGION_CREATE) &&
	    argp == (void *)&a && a.rc.size > BIG_REGION)
		a.rc.size = BIG_REGION;

	ret = ioctl(fd, cmd, argp);
	ret = ret < 0 ? -errno : ret;
	if (fuzz_verbose)
		fprintf(stderr, "ioctl %s %#lx %p -> %ld\n",
			fd == devfd ? "dev" : "region", cmd, argp, ret);
	count_op(s->part);
	count_result(ret);
	/* nothing else runs in the sequential parts */
	if (!ret && fr && fd == fr->fd && argp == (void *)&a &&
	    s->part != P_CONCURRENT)
		ioc_check(fr, cmd, &a);
	if (ret > 0) {
		/* REGION_CREATE and _OPEN return a new region fd */
		struct fregion *of = region_by_id(s, a.ro.region_id);
		struct stat st;

		if (cmd == PCA_IOC_REGION_OPEN && argp == (void *)&a && of &&
		    a.ro.size == of->size) {
			/* a second fd: may outlive the first */
			region_adopt(s, ret, of->id, of->size, of->flags);
		} else if (cmd == PCA_IOC_REGION_CREATE && !fstat(ret, &st)) {
			int64_t size = pca_fd_region_size(ret);

			if (size > 0 && (uint64_t)size <= BIG_REGION &&
			    argp == (void *)&a)
				region_adopt(s, ret, a.rc.region_id, size,
					     a.rc.flags);
			else
				close(ret);
		} else {
			close(ret);
		}
	}
}

static void test_ioctl(struct pca_test_ctx *t)
{
	struct fstate *s = malloc(sizeof(*s));
	uint64_t budget = part_ops(P_IOCTL), start;
	struct pca_client *c = NULL;
	int devfd;

	part_start(t, P_IOCTL);
	fstate_init(s, P_IOCTL);
	bufs_init();
	touch_setup();
	devfd = PCA_ASSERT_OK(t, pca_dev_open());
	pca_client_open(&c);
	start = atomic_load(&shared->ops[P_IOCTL]);
	while (atomic_load(&shared->ops[P_IOCTL]) - start < budget) {
		unsigned int what = rbelow(&s->rng, 1000);
		struct fregion *fr = any_region(s);

		if (what < 40) {
			region_new(s);
		} else if (what < 55) {
			if (fr)
				region_close(s, fr);
		} else if (what < 75) {
			ioc_dirty_track(s, c, fr);
		} else if (what < 120) {
			touch_some(s, fr);
		} else if (what < 125 && fr) {
			/* the other file operations */
			char b[16];

			count_op(P_IOCTL);
			count_result(read(fr->fd, b, sizeof(b)) < 0 ? -errno : 0);
			count_result(write(fr->fd, b, sizeof(b)) < 0 ? -errno : 0);
			count_result(lseek(fr->fd, rinteresting(&s->rng),
					   rbelow(&s->rng, 5)) < 0 ? -errno : 0);
		} else {
			ioc_one(s, devfd);
		}
	}
	regions_close_all(s);
	pca_client_close(c);
	close(devfd);
	pca_t_diag(t, "%llu operations in %.1f s",
		   (unsigned long long)(atomic_load(&shared->ops[P_IOCTL]) -
					start), (now_ms() - part_t0) / 1000.0);
	wrong_check(t, part_wrong0);
	free(s);
}

/* -------------------------------------------------------------------------
 * mmap and friends
 */

/* DISCARD on a region fd: the pages go missing again. */
static long fd_discard(int fd, uint64_t off, uint64_t len)
{
	struct pca_range rg = { .offset = off, .len = len };

	return ioctl(fd, PCA_IOC_DISCARD, &rg) < 0 ? -errno : 0;
}

#define MAX_MAPS	32

struct fmap {
	uint8_t *addr;
	uint64_t len;
	uint64_t off;		/* the file offset at addr */
	uint64_t unit;		/* the region's */
	uint32_t id;		/* the region's */
	uint64_t ino;		/* the region file's */
	int holes;		/* unmapped in the middle since */
};

/* The inode number of the file of @fd, or 0. */
static uint64_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/*
 * The file offset @addr maps if a mapping of the file with inode @ino
 * holds it now (whatever was unmapped, moved or mapped over since): 0,
 * or -1 when something else or nothing is there.
 */
static int map_file_off(const void *addr, uint64_t ino, uint64_t *off)
{
	unsigned long start, end, pgoff, inode;
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %lx %*s %lu", &start, &end,
			   &pgoff, &inode) != 4 ||
		    (uintptr_t)addr < start || (uintptr_t)addr >= end)
			continue;
		if (ino && inode == ino) {
			*off = pgoff + ((uintptr_t)addr - start);
			ret = 0;
		}
		break;
	}
	fclose(f);
	return ret;
}

/* Whether @addr maps offset @off of the file of @fm now. */
static int map_holds(const struct fmap *fm, const void *addr, uint64_t off)
{
	uint64_t now;

	return !map_file_off(addr, fm->ino, &now) && now == off;
}

struct mmstate {
	struct fstate s;
	struct fmap maps[MAX_MAPS];
};

static struct fmap *map_slot(struct mmstate *m)
{
	struct rng *r = &m->s.rng;
	int i;

	for (i = 0; i < MAX_MAPS; i++)
		if (!m->maps[i].addr)
			return &m->maps[i];
	i = rbelow(r, MAX_MAPS);
	munmap(m->maps[i].addr, m->maps[i].len);
	count_op(P_MMAP);
	m->maps[i].addr = NULL;
	return &m->maps[i];
}

static struct fmap *any_map(struct mmstate *m)
{
	int i, start = rbelow(&m->s.rng, MAX_MAPS);

	for (i = 0; i < MAX_MAPS; i++)
		if (m->maps[(start + i) % MAX_MAPS].addr)
			return &m->maps[(start + i) % MAX_MAPS];
	return NULL;
}

/*
 * A mapping of @fr: in a huge region mostly of whole units at a unit's
 * offset (mapped with PMDs), some at a page's (PTEs only).
 */
static void do_mmap(struct mmstate *m, struct fregion *fr)
{
	struct rng *r = &m->s.rng;
	/* the granule of offsets and lengths: pages, or mostly units */
	uint64_t g = fr->unit == PAGE || chance(r, 20) ? PAGE : fr->unit;
	uint64_t off = chance(r, 80) ? rbelow(r, fr->size / g) * g :
		       roffset_in(r, fr->size, fr->unit);
	uint64_t len = chance(r, 80) ? (1 + rbelow(r, (fr->size - (off < fr->size ? off : 0)) / g + 1)) * g :
		       rlength_in(r, fr->size, off, fr->unit);
	uint64_t max = fr->unit == PAGE ? 256 * PAGE : MAX_UNITS * UNIT;
	int prot = chance(r, 80) ? PROT_READ | PROT_WRITE : rbelow(r, 8);
	int flags = chance(r, 90) ? MAP_SHARED : MAP_PRIVATE;
	struct fmap *fm;
	void *p;

	if (len > max)
		len = max;
	if (chance(r, 3))
		flags |= MAP_POPULATE;	/* missing pages: SIGBUS ignored */
	if (chance(r, 3))
		flags |= MAP_LOCKED;
	p = mmap(NULL, len, prot, flags, fr->fd, off);
	count_op(P_MMAP);
	count_result(p == MAP_FAILED ? -errno : 0);
	if (p == MAP_FAILED)
		return;
	fm = map_slot(m);
	*fm = (struct fmap){ .addr = p, .len = len, .off = off,
			     .unit = fr->unit, .id = fr->id,
			     .ino = fd_ino(fr->fd) };
}

struct fork_arg {
	struct mmstate *m;
};

static void fork_child(void *p)
{
	struct mmstate *m = ((struct fork_arg *)p)->m;
	struct fmap *fm;
	int i;

	for (i = 0; i < 8; i++) {
		fm = any_map(m);
		if (fm)
			touch(fm->addr + rbelow(&m->s.rng, fm->len),
			      rbelow(&m->s.rng, 2));
	}
}

/* Reopen a region through /proc/self/fd, as QEMU's file backend does. */
static void do_reopen(struct mmstate *m, struct fregion *fr)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fr->fd);
	fd = open(path, chance(&m->s.rng, 80) ? O_RDWR : O_RDONLY);
	count_op(P_MMAP);
	count_result(fd < 0 ? -errno : 0);
	if (fd < 0)
		return;
	if (chance(&m->s.rng, 50)) {
		/* the first page, or the first unit */
		void *p = mmap(NULL, fr->unit, PROT_READ | PROT_WRITE,
			       MAP_SHARED, fd, 0);

		count_op(P_MMAP);
		if (p != MAP_FAILED) {
			struct fmap *fm = map_slot(m);

			*fm = (struct fmap){ .addr = p, .len = fr->unit,
					     .unit = fr->unit, .id = fr->id,
					     .ino = fd_ino(fd) };
		}
	}
	close(fd);
}

/* Kernel accesses to mapped memory: copy_to/from_user and GUP. */
static void do_kernel_access(struct rng *r, uint8_t *addr, uint64_t len)
{
	uint8_t *p = addr + rbelow(r, len / PAGE) * PAGE;
	uint8_t local[64];
	struct iovec liov = { local, sizeof(local) }, riov = { p, sizeof(local) };
	int fds[2], fd;

	switch (rbelow(r, 4)) {
	case 0:		/* the kernel reads user memory */
		if (!pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
			count_result(write(fds[1], p, 64) < 0 ? -errno : 0);
			close(fds[0]);
			close(fds[1]);
		}
		break;
	case 1:		/* the kernel writes user memory */
		fd = open("/dev/zero", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			count_result(read(fd, p, 64) < 0 ? -errno : 0);
			close(fd);
		}
		break;
	case 2:		/* GUP through the process's own mm */
		fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			count_result(pread(fd, local, 64, (uintptr_t)p) < 0 ?
				     -errno : 0);
			close(fd);
		}
		break;
	default:
		count_result(process_vm_readv(getpid(), &liov, 1, &riov, 1,
					      0) < 0 ? -errno : 0);
		break;
	}
}

/* Drop the clean page cache, as an operator might at any time. */
static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "3", 1) < 0)
			count_result(-errno);
		close(fd);
	}
}

/* A piece's granule in @fm: a page, or in a huge region mostly a unit. */
static uint64_t map_granule(struct rng *r, const struct fmap *fm)
{
	return fm->unit != PAGE && fm->len >= fm->unit && chance(r, 60) ?
	       fm->unit : PAGE;
}

/*
 * What a range operation on a region of @size and @unit must answer:
 * the unit alignment comes before the bounds.
 */
static int range_errno(uint64_t size, uint64_t unit, uint64_t off,
		       uint64_t len)
{
	if (!len || off % unit || len % unit)
		return -EINVAL;
	if (off >= size || len > size - off)
		return -ERANGE;
	return 0;
}

/*
 * The log read, or read and cleared, over a range or all of it: clearing
 * write-protects mapped pages again, and a huge region's PMD-mapped units.
 */
static void mm_dirty_log(struct mmstate *m, struct pca_client *c,
			 struct fregion *fr)
{
	static uint64_t bits[BIG_REGION / PAGE / 64];
	struct rng *r = &m->s.rng;
	uint64_t off = 0, len = fr->size, dirty;
	uint32_t flags = chance(r, 60) ? PCA_DIRTY_CLEAR :
			 chance(r, 50) ? PCA_DIRTY_COUNT_ONLY : 0;

	if (chance(r, 60)) {
		off = roffset_in(r, fr->size, fr->unit);
		len = rlength_in(r, fr->size, off, fr->unit);
	}
	count_op(P_MMAP);
	if (c && chance(r, 40))
		count_result(pca_dirty_get(c, fr->id, off, len, flags,
					   flags & PCA_DIRTY_COUNT_ONLY ?
					   NULL : bits, sizeof(bits), &dirty));
	else
		count_result(pca_fd_dirty_log(fr->fd, off, len, flags, bits,
					      sizeof(bits), &dirty));
}

/*
 * Two mappings of one region show the same bytes where they overlap in
 * the file, however each maps them: a PMD, PTEs, moved, split, or a
 * mapping at an offset inside a unit.
 */
static void mm_compare(struct mmstate *m)
{
	struct rng *r = &m->s.rng;
	struct fmap *a = any_map(m), *b = NULL;
	uint64_t lo, hi, at;
	uint8_t x[64], y[64];
	int i, start = rbelow(r, MAX_MAPS);

	count_op(P_MMAP);
	if (!a || a->holes)
		return;
	for (i = 0; i < MAX_MAPS && !b; i++) {
		struct fmap *f = &m->maps[(start + i) % MAX_MAPS];

		if (f != a && f->addr && !f->holes && f->id == a->id &&
		    f->off < a->off + a->len && a->off < f->off + f->len)
			b = f;
	}
	if (!b)
		return;
	lo = a->off > b->off ? a->off : b->off;
	hi = a->off + a->len < b->off + b->len ? a->off + a->len :
	     b->off + b->len;
	for (i = 0; i < 4; i++) {
		at = lo + (rbelow(r, (hi - lo) / 8) * 8);
		if (at + sizeof(x) > hi)
			at = hi - sizeof(x) < lo ? lo : hi - sizeof(x);
		if (hi - at < sizeof(x))
			return;
		/* where both still map it, and neither is missing or PROT_NONE */
		if (!map_holds(a, a->addr + (at - a->off), at) ||
		    !map_holds(b, b->addr + (at - b->off), at) ||
		    probe_read(a->addr + (at - a->off), x, sizeof(x)) ||
		    probe_read(b->addr + (at - b->off), y, sizeof(y)))
			continue;
		if (memcmp(x, y, sizeof(x)))
			fuzz_wrong("region %u: byte %#llx is %#x through the mapping of [%#llx, +%#llx) at %p but %#x through [%#llx, +%#llx) at %p",
				   a->id, (unsigned long long)at, x[0],
				   (unsigned long long)a->off,
				   (unsigned long long)a->len, a->addr, y[0],
				   (unsigned long long)b->off,
				   (unsigned long long)b->len, b->addr);
	}
}

static void mm_one(struct mmstate *m, struct pca_client *c)
{
	struct rng *r = &m->s.rng;
	struct fregion *fr = any_region(&m->s);
	struct fmap *fm = any_map(m);
	unsigned int what = rbelow(r, 100);
	uint64_t off, len;
	void *p;

	if (what < 6 || !fr) {
		region_new(&m->s);
	} else if (what < 10) {
		region_close(&m->s, fr);
	} else if (what < 25) {
		do_mmap(m, fr);
	} else if (!fm) {
		do_mmap(m, fr);
	} else if (what < 32) {
		/* all, or a piece: splits the VMA, and a PMD */
		uint64_t g = map_granule(r, fm);
		int ret;

		off = chance(r, 50) ? 0 : rbelow(r, fm->len / g) * g;
		len = chance(r, 50) ? fm->len - off : g;
		count_op(P_MMAP);
		ret = munmap(fm->addr + off, len) ? -errno : 0;
		count_result(ret);
		if (!off && len == fm->len) {
			fm->addr = NULL;
		} else if (ret) {
			/* nothing unmapped */
		} else if (!off) {
			fm->addr += len;
			fm->off += len;
			fm->len -= len;
		} else if (off + len == fm->len) {
			fm->len = off;
		} else {
			/* another mapping may fill the hole */
			fm->holes = 1;
		}
	} else if (what < 38) {
		/* grow (refused: VM_DONTEXPAND), shrink, or move */
		int flags = rbelow(r, 3) ? MREMAP_MAYMOVE : 0;
		uint64_t g = map_granule(r, fm);
		uint64_t nlen = chance(r, 50) ? fm->len + g :
				(fm->len > g ? fm->len - g : fm->len);

		if (chance(r, 10))
			flags |= MREMAP_DONTUNMAP;
		p = mremap(fm->addr, fm->len, nlen, flags);
		count_op(P_MMAP);
		count_result(p == MAP_FAILED ? -errno : 0);
		if (p != MAP_FAILED) {
			/* with DONTUNMAP the old range stays, forgotten */
			fm->addr = p;
			fm->len = nlen;
		}
	} else if (what < 44) {
		static const int prots[] = { PROT_NONE, PROT_READ,
			PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC };

		uint64_t g = map_granule(r, fm);

		/* all, or a piece: splits the VMA, and a PMD */
		off = chance(r, 70) ? 0 : rbelow(r, fm->len / g) * g;
		len = off ? g : fm->len;
		count_op(P_MMAP);
		count_result(mprotect(fm->addr + off, len,
				      prots[rbelow(r, 4)]) ? -errno : 0);
	} else if (what < 52) {
		static const int advice[] = { MADV_DONTNEED, MADV_WILLNEED,
			MADV_SEQUENTIAL, MADV_RANDOM, MADV_REMOVE,
			MADV_DONTFORK, MADV_DOFORK, MADV_MERGEABLE,
			MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_DONTDUMP,
			MADV_COLD, MADV_PAGEOUT, MADV_FREE, MADV_POPULATE_READ,
			MADV_POPULATE_WRITE, MADV_WIPEONFORK };
		int adv = advice[rbelow(r, sizeof(advice) / sizeof(advice[0]))];
		uint64_t g = map_granule(r, fm);
		int ret;

		/*
		 * All, or a piece: a part of a unit, or of its PMD, for
		 * MADV_REMOVE (EINVAL), MADV_COLD and MADV_PAGEOUT.
		 */
		off = 0;
		len = fm->len;
		if (chance(r, 40)) {
			off = rbelow(r, fm->len / g) * g;
			len = g * (1 + rbelow(r, (fm->len - off) / g));
		}
		count_op(P_MMAP);
		ret = madvise(fm->addr + off, len, adv) ? -errno : 0;
		count_result(ret);
		/*
		 * Only whole units leave a huge region (madvise() rounds the
		 * length up to pages: a mapping's may be any).
		 */
		len = (len + PAGE - 1) & ~(PAGE - 1);
		if (adv == MADV_REMOVE && !ret && !fm->holes &&
		    map_holds(fm, fm->addr + off, fm->off + off) &&
		    map_holds(fm, fm->addr + off + len - 1,
			      fm->off + off + len - 1) &&
		    range_errno(UINT64_MAX, fm->unit, fm->off + off, len))
			fuzz_wrong("region %u: MADV_REMOVE of [%#llx, +%#llx) succeeded, unit %#llx",
				   fm->id, (unsigned long long)(fm->off + off),
				   (unsigned long long)len,
				   (unsigned long long)fm->unit);
	} else if (what < 55) {
		count_op(P_MMAP);
		count_result(msync(fm->addr, fm->len, chance(r, 50) ?
				   MS_SYNC : MS_ASYNC | MS_INVALIDATE) ?
			     -errno : 0);
	} else if (what < 58) {
		count_op(P_MMAP);
		count_result(mlock(fm->addr, fm->len) ? -errno : 0);
		count_result(munlock(fm->addr, fm->len) ? -errno : 0);
	} else if (what < 61) {
		struct fork_arg a = { m };

		count_op(P_MMAP);
		run_bounded(fork_child, &a, 10000);
	} else if (what < 64) {
		do_reopen(m, fr);
	} else if (what < 70) {
		count_op(P_MMAP);
		do_kernel_access(r, fm->addr, fm->len);
	} else if (what < 73 && c) {
		count_op(P_MMAP);
		count_result(pca_dirty_track(c, fr->id, rbelow(r, 2)));
	} else if (what < 75) {
		/* mapped, maybe dirty-tracked pages made absent again */
		long ret, want;

		off = roffset_in(r, fr->size, fr->unit);
		len = rlength_in(r, fr->size, off, fr->unit);
		count_op(P_MMAP);
		ret = fd_discard(fr->fd, off, len);
		count_result(ret);
		want = range_errno(fr->size, fr->unit, off, len);
		if (ret != want)
			fuzz_wrong("region %u: DISCARD of [%#llx, +%#llx): %s, not %s (unit %#llx)",
				   fr->id, (unsigned long long)off,
				   (unsigned long long)len, strerror(-ret),
				   strerror(-want),
				   (unsigned long long)fr->unit);
	} else if (what < 78) {
		/* the file calls a VMM makes on its guest RAM */
		static const int modes[] = {
			FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE,
			FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE,
		};

		int mode = modes[rbelow(r, 6)], ret;

		off = chance(r, 70) ? roffset_in(r, fr->size, fr->unit) :
		      rinteresting(r);
		len = chance(r, 70) ? rlength_in(r, fr->size, off, fr->unit) :
		      rinteresting(r);
		count_op(P_MMAP);
		switch (rbelow(r, 4)) {
		case 0:
		case 1:
			ret = fallocate(fr->fd, mode, off, len) ? -errno : 0;
			count_result(ret);
			/* a hole is punched in whole units, in range */
			if (!ret && range_errno(fr->size, fr->unit, off, len))
				fuzz_wrong("region %u: fallocate(%#x) of [%#llx, +%#llx) succeeded, unit %#llx",
					   fr->id, mode,
					   (unsigned long long)off,
					   (unsigned long long)len,
					   (unsigned long long)fr->unit);
			break;
		case 2:
			count_result(ftruncate(fr->fd, chance(r, 50) ?
					       (off_t)fr->size : (off_t)off) ?
				     -errno : 0);
			break;
		default:
			count_result(-posix_fadvise(fr->fd, off, len,
						    POSIX_FADV_DONTNEED));
			if (chance(r, 10))
				drop_caches();
			break;
		}
	} else if (what < 80) {
		mm_dirty_log(m, c, fr);
	} else if (what < 83) {
		mm_compare(m);
	} else {
		int i, n = 1 + rbelow(r, 4);

		for (i = 0; i < n; i++) {
			touch(fm->addr + rbelow(r, fm->len), rbelow(r, 2));
			count_op(P_MMAP);
		}
	}
}

static void test_mmap(struct pca_test_ctx *t)
{
	struct mmstate *m = calloc(1, sizeof(*m));
	uint64_t budget = part_ops(P_MMAP), start;
	struct pca_client *c = NULL;
	int i;

	part_start(t, P_MMAP);
	fstate_init(&m->s, P_MMAP);
	bufs_init();
	touch_setup();
	pca_client_open(&c);
	start = atomic_load(&shared->ops[P_MMAP]);
	while (atomic_load(&shared->ops[P_MMAP]) - start < budget)
		mm_one(m, c);
	for (i = 0; i < MAX_MAPS; i++)
		if (m->maps[i].addr)
			munmap(m->maps[i].addr, m->maps[i].len);
	regions_close_all(&m->s);
	pca_client_close(c);
	pca_t_diag(t, "%llu operations in %.1f s",
		   (unsigned long long)(atomic_load(&shared->ops[P_MMAP]) -
					start), (now_ms() - part_t0) / 1000.0);
	wrong_check(t, part_wrong0);
	free(m);
}

/* -------------------------------------------------------------------------
 * Concurrent: faulting processes, resolvers, chaos
 */

#define SLOTS		4
#define SLOT_FD		100	/* region of slot i is fd SLOT_FD + i */
#define FAULTERS	3
#define FAULTER_THREADS	2
#define RESOLVERS	2
#define CHAOS		2
/* Regions remembered after their slot moved on, for their records. */
#define MADE		1024
/* Share of the slots' regions that are huge, %. */
#define SLOT_HUGE_PCT	30

/* Shared with the faulting processes. */
struct cshared {
	atomic_int stop;
	atomic_uint gen[SLOTS];		/* bumped when a slot gets a new region */
};

struct cslot {
	uint32_t id;
	uint64_t size;
	uint64_t unit;
	int live;
};

struct cstate {
	struct cshared *sh;
	pthread_mutex_t lock;		/* guards slots and the slot fds */
	struct cslot slot[SLOTS];
	struct cslot made[MADE];	/* every region made, by id */
	unsigned int nmade;
	pid_t faulter[FAULTERS];
	uint16_t family;
	atomic_int stop;
	atomic_ullong faults_seen, resolved, regions_made;
	atomic_ullong unit_faults;	/* records of huge regions */
	/* fault records on a socket that had attached nowhere */
	atomic_ullong stray_faults;
	atomic_ullong ports_reused;
};

static uint64_t cops(void)
{
	return atomic_load(&shared->ops[P_CONCURRENT]);
}

/* ---- the faulting processes ---- */

struct fmapping {
	pthread_mutex_t lock;
	uint8_t *volatile addr;
	volatile uint64_t len;
	volatile uint64_t unit;
	unsigned int gen;
};

struct faulter {
	struct cshared *sh;
	pid_t parent;
	struct fmapping map[SLOTS];
	uint64_t seed;
};

static void faulter_remap(struct faulter *f, struct rng *r, int i)
{
	struct fmapping *fm = &f->map[i];
	char path[64];
	int64_t size;
	void *p;
	int fd;

	if (pthread_mutex_trylock(&fm->lock))
		return;
	fm->gen = atomic_load(&f->sh->gen[i]);
	if (fm->addr) {
		uint8_t *old = fm->addr;

		fm->addr = NULL;
		munmap(old, fm->len);
		count_op(P_CONCURRENT);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", f->parent, SLOT_FD + i);
	fd = open(path, O_RDWR | O_CLOEXEC);
	count_op(P_CONCURRENT);
	if (fd < 0)
		goto out;
	size = pca_fd_region_size(fd);
	if (size > 0) {
		struct stat st;

		p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		count_op(P_CONCURRENT);
		if (p != MAP_FAILED) {
			/* st_blksize: the unit of a huge region */
			fm->unit = !fstat(fd, &st) && st.st_blksize == UNIT ?
				   UNIT : PAGE;
			fm->len = size;
			fm->addr = p;
		}
	}
	/* the mapping keeps the region; the fd need not */
	if (chance(r, 90))
		close(fd);
out:
	pthread_mutex_unlock(&fm->lock);
}

static void faulter_fork_child(void *p)
{
	volatile uint8_t *addr = p;

	touch(addr, 0);
}

static void *faulter_thread(void *arg)
{
	struct faulter *f = arg;
	struct rng r;
	int i;

	rng_init(&r, f->seed, (uintptr_t)pthread_self());
	while (!atomic_load(&f->sh->stop)) {
		unsigned int what = rbelow(&r, 100);
		struct fmapping *fm;
		uint8_t *base;
		uint64_t len, unit;

		i = rbelow(&r, SLOTS);
		fm = &f->map[i];
		if (fm->gen != atomic_load(&f->sh->gen[i]) || what < 2) {
			faulter_remap(f, &r, i);
			continue;
		}
		base = fm->addr;
		len = fm->len;
		unit = fm->unit;
		if (!base || !len || !unit) {
			faulter_remap(f, &r, i);
			usleep(1000);
			continue;
		}
		count_op(P_CONCURRENT);
		if (what < 70) {
			touch(base + rbelow(&r, len), chance(&r, 40));
		} else if (what < 85) {
			do_kernel_access(&r, base, len);
		} else if (what < 90) {
			/* a page, or a whole unit; a VMM discarding a unit */
			uint64_t g = chance(&r, 50) ? unit : PAGE;

			madvise(base + rbelow(&r, len / g) * g, g,
				unit != PAGE && chance(&r, 30) ? MADV_REMOVE :
				MADV_DONTNEED);
		} else if (what < 92) {
			mprotect(base, len, PROT_READ);
			touch(base + rbelow(&r, len), 1);
			mprotect(base, len, PROT_READ | PROT_WRITE);
		} else if (what < 93) {
			run_bounded(faulter_fork_child,
				    base + rbelow(&r, len), 200);
		} else {
			sched_yield();
		}
	}
	return NULL;
}

static void faulter_main(struct cshared *sh, pid_t parent, uint64_t seed)
{
	struct faulter f = { .sh = sh, .parent = parent, .seed = seed };
	pthread_t th[FAULTER_THREADS];
	int i;

	/* die with the test, whatever happens to it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	touch_setup();
	for (i = 0; i < SLOTS; i++)
		pthread_mutex_init(&f.map[i].lock, NULL);
	for (i = 0; i < FAULTER_THREADS; i++)
		pthread_create(&th[i], NULL, faulter_thread, &f);
	for (i = 0; i < FAULTER_THREADS; i++)
		pthread_join(th[i], NULL);
	_exit(0);
}

static pid_t faulter_spawn(struct cstate *cs, uint64_t seed)
{
	pid_t parent = getpid(), pid;

	pid = fork();
	if (!pid)
		faulter_main(cs->sh, parent, seed);
	return pid;
}

/* ---- slots ---- */

/* A region of pages or of 2 to 8 units, every page missing. */
static void slot_renew(struct cstate *cs, struct rng *r, int i)
{
	int huge = huge_ok && chance(r, SLOT_HUGE_PCT);
	uint64_t unit = huge ? UNIT : PAGE;
	uint64_t size = huge ? (MIN_UNITS + rbelow(r, MAX_UNITS - MIN_UNITS + 1)) *
			       UNIT : (8 + rbelow(r, 120)) * PAGE;
	uint64_t flags = PCA_REGION_MISSING |
			 (chance(r, 20) ? PCA_REGION_USER_ONLY : 0) |
			 (huge ? PCA_REGION_HUGE : 0);
	uint32_t id;
	int fd;

	fd = pca_region_create(size, flags, &id);
	count_op(P_CONCURRENT);
	pthread_mutex_lock(&cs->lock);
	if (fd >= 0) {
		/* the old region dies once the faulters let go of it */
		dup2(fd, SLOT_FD + i);
		close(fd);
		cs->slot[i] = (struct cslot){ .id = id, .size = size,
					      .unit = unit, .live = 1 };
		cs->made[cs->nmade++ % MADE] = cs->slot[i];
		atomic_fetch_add(&cs->regions_made, 1);
		if (huge)
			atomic_fetch_add(&shared->huge_regions, 1);
	} else {
		close(SLOT_FD + i);
		cs->slot[i].live = 0;
	}
	atomic_fetch_add(&cs->sh->gen[i], 1);
	pthread_mutex_unlock(&cs->lock);
}

/* A dup of slot @i's fd, its id, size and unit, or -1. */
static int slot_get(struct cstate *cs, int i, uint32_t *id, uint64_t *size,
		    uint64_t *unit)
{
	int fd = -1;

	pthread_mutex_lock(&cs->lock);
	if (cs->slot[i].live) {
		fd = fcntl(SLOT_FD + i, F_DUPFD_CLOEXEC, 3);
		*id = cs->slot[i].id;
		*size = cs->slot[i].size;
		*unit = cs->slot[i].unit;
	}
	pthread_mutex_unlock(&cs->lock);
	return fd;
}

/* Size and unit of region @id, made by this part: 0, or -1 if unknown. */
static int made_lookup(struct cstate *cs, uint32_t id, uint64_t *size,
		       uint64_t *unit)
{
	unsigned int i, n;
	int ret = -1;

	pthread_mutex_lock(&cs->lock);
	n = cs->nmade < MADE ? cs->nmade : MADE;
	for (i = 0; i < n && ret; i++)
		if (cs->made[i].id == id) {
			*size = cs->made[i].size;
			*unit = cs->made[i].unit;
			ret = 0;
		}
	pthread_mutex_unlock(&cs->lock);
	return ret;
}

/* ---- resolvers ---- */

struct resolver {
	struct cstate *cs;
	int idx;
	struct pca_client *c;
	uint32_t attached[SLOTS];
	struct {			/* DONTWAKE'd pages and units to WAKE */
		uint32_t id;
		uint64_t off, len;
	} later[64];
	unsigned int nlater;
};

static void later_add(struct resolver *rv, uint32_t id, uint64_t off,
		      uint64_t len)
{
	if (rv->nlater < 64) {
		rv->later[rv->nlater].id = id;
		rv->later[rv->nlater].off = off;
		rv->later[rv->nlater++].len = len;
	}
}

static void resolver_attach(struct resolver *rv, struct rng *r)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		uint32_t id;
		int live;

		pthread_mutex_lock(&rv->cs->lock);
		live = rv->cs->slot[i].live;
		id = rv->cs->slot[i].id;
		pthread_mutex_unlock(&rv->cs->lock);
		if (!live || rv->attached[i] == id)
			continue;
		count_op(P_CONCURRENT);
		if (!pca_attach(rv->c, id, chance(r, 70) ? PCA_POLICY_FAIL :
				PCA_POLICY_WAIT, NULL))
			rv->attached[i] = id;
	}
}

static int slot_of(struct cstate *cs, uint32_t id)
{
	int i, found = -1;

	pthread_mutex_lock(&cs->lock);
	for (i = 0; i < SLOTS; i++)
		if (cs->slot[i].live && cs->slot[i].id == id)
			found = i;
	pthread_mutex_unlock(&cs->lock);
	return found;
}

/*
 * What a request about region @id must answer over netlink: @want, unless
 * the region is gone meanwhile or the answer did not come in time.
 */
static void expect_nl(long ret, long want, const char *what, uint32_t id,
		      uint64_t off, uint64_t len)
{
	if (ret == want || ret == -ENOENT || ret == -EAGAIN ||
	    ret == -ETIMEDOUT || ret == -EINTR || ret == -ENOBUFS)
		return;
	fuzz_wrong("%s of region %u [%#llx, +%#llx): %s, not %s", what, id,
		   (unsigned long long)off, (unsigned long long)len,
		   ret ? strerror(-ret) : "success",
		   want ? strerror(-want) : "success");
}

/* The same through a region fd, which keeps the region. */
static void expect_fd(long ret, long want, const char *what, uint32_t id,
		      uint64_t off, uint64_t len)
{
	if (ret == want || ret == -EINTR)
		return;
	fuzz_wrong("%s of region %u [%#llx, +%#llx): %s, not %s", what, id,
		   (unsigned long long)off, (unsigned long long)len,
		   ret ? strerror(-ret) : "success",
		   want ? strerror(-want) : "success");
}

/* A unit placed by fd: placed, there already, or no 2 MiB to be had. */
static void expect_placed(long ret, const char *what, uint32_t id,
			  uint64_t off, uint64_t len)
{
	if (ret != -EEXIST && ret != -ENOMEM)
		expect_fd(ret, 0, what, id, off, len);
}

/*
 * A resolution that names part of the unit at @off of huge region @id
 * (@fd: the region's, or -1): refused with EINVAL, nothing placed.
 */
static void unit_misaligned(struct resolver *rv, struct rng *r, uint32_t id,
			    int fd, uint64_t off)
{
	uint64_t in = PAGE * (1 + rbelow(r, UNIT_PAGES - 1));
	struct pca_copy_entry e[2] = {
		{ .offset = off, .src = (uintptr_t)bufs.hdata },
		{ .offset = off + in, .src = (uintptr_t)bufs.hdata + UNIT },
	};
	uint64_t copied = 1;
	long ret;

	count_op(P_CONCURRENT);
	switch (rbelow(r, fd >= 0 ? 8 : 3)) {
	case 0:
		ret = pca_zero(rv->c, id, off + in, UNIT, 0, NULL);
		expect_nl(ret, -EINVAL, "netlink ZERO", id, off + in, UNIT);
		break;
	case 1:
		ret = pca_zero(rv->c, id, off, in, 0, NULL);
		expect_nl(ret, -EINVAL, "netlink ZERO", id, off, in);
		break;
	case 2:
		ret = pca_wake(rv->c, id, off, UNIT + in);
		expect_nl(ret, -EINVAL, "netlink WAKE", id, off, UNIT + in);
		break;
	case 3:
		ret = pca_fd_copy(fd, off, bufs.hdata, in, 0, NULL);
		expect_fd(ret, -EINVAL, "COPY", id, off, in);
		break;
	case 4:
		ret = pca_fd_copy(fd, off + in, bufs.hdata, UNIT, 0, NULL);
		expect_fd(ret, -EINVAL, "COPY", id, off + in, UNIT);
		break;
	case 5:
		/* every entry is checked before any is placed */
		ret = pca_fd_copy_batch(fd, e, 2, 0, &copied, NULL);
		expect_fd(ret, -EINVAL, "COPY_BATCH", id, off + in, UNIT);
		if (copied)
			fuzz_wrong("COPY_BATCH of region %u with entry %#llx placed %llu",
				   id, (unsigned long long)(off + in),
				   (unsigned long long)copied);
		break;
	case 6:
		ret = chance(r, 50) ? fd_discard(fd, off + in, UNIT) :
		      fd_discard(fd, off, in);
		expect_fd(ret, -EINVAL, "DISCARD", id, off, in);
		break;
	default:
		ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				off + in, UNIT) ? -errno : 0;
		expect_fd(ret, -EINVAL, "PUNCH_HOLE", id, off + in, UNIT);
		break;
	}
	count_result(ret);
}

/*
 * A fault on a huge region: resolved a whole unit at a time, by ioctl
 * (COPY of a unit or two, a batch of units, ZERO) or by netlink ZERO
 * and WAKE; netlink COPY, which carries a page an attribute, is refused.
 * Now and then a resolution that names part of a unit comes first.
 */
static void resolve_unit(struct resolver *rv, struct rng *r, uint32_t rid,
			 uint64_t off)
{
	struct cstate *cs = rv->cs;
	unsigned int what = rbelow(r, 100);
	uint64_t size = 0, unit, n, k;
	struct pca_copy_entry e[4];
	uint32_t id;
	long ret = 1;
	int slot, fd = -1;

	/* the region's fd, if a slot still has it */
	slot = slot_of(cs, rid);
	if (slot >= 0) {
		fd = slot_get(cs, slot, &id, &size, &unit);
		if (fd >= 0 && id != rid) {
			close(fd);
			fd = -1;
		}
	}
	if (chance(r, 10))
		unit_misaligned(rv, r, rid, fd, off);
	count_op(P_CONCURRENT);
	if (what < 10) {
		ret = pca_copy(rv->c, rid, off, bufs.data, 0, NULL);
		expect_nl(ret, -EOPNOTSUPP, "netlink COPY", rid, off, PAGE);
		count_result(ret);
		ret = 1;		/* not resolved */
	} else if (what < 25) {
		ret = pca_zero(rv->c, rid, off, UNIT, 0, NULL);
	} else if (what < 30) {
		ret = pca_wake(rv->c, rid, off, UNIT);
	} else if (what < 36 && rv->nlater < 64) {
		/* placed now, woken later */
		if (fd >= 0 && chance(r, 50)) {
			ret = pca_fd_copy(fd, off, bufs.hdata, UNIT,
					  PCA_RESOLVE_DONTWAKE, NULL);
			expect_placed(ret, "COPY", rid, off, UNIT);
		} else {
			ret = pca_zero(rv->c, rid, off, UNIT,
				       PCA_RESOLVE_DONTWAKE, NULL);
		}
		later_add(rv, rid, off, UNIT);
	} else if (what < 85) {
		if (fd < 0) {
			/* the slot moved on: left to the region's end */
		} else if (what < 55) {
			ret = pca_fd_copy(fd, off, bufs.hdata +
					  rbelow(r, HBUF / UNIT) * UNIT, UNIT,
					  chance(r, 10) ? PCA_RESOLVE_DONTWAKE :
					  0, NULL);
			expect_placed(ret, "COPY", rid, off, UNIT);
		} else if (what < 65) {
			/* a unit an entry, the faulted one first */
			n = 1 + rbelow(r, 4);
			for (k = 0; k < n; k++) {
				e[k].offset = k ? rbelow(r, size / UNIT) * UNIT :
					      off;
				e[k].src = (uintptr_t)bufs.hdata +
					   (k % (HBUF / UNIT)) * UNIT;
			}
			ret = pca_fd_copy_batch(fd, e, n, 0, NULL, NULL);
			expect_placed(ret, "COPY_BATCH", rid, off, n * UNIT);
		} else if (what < 75) {
			ret = pca_fd_zero(fd, off, UNIT, 0, NULL);
			expect_placed(ret, "ZERO", rid, off, UNIT);
		} else {
			/* two units in one COPY, where they fit */
			k = off + 2 * UNIT <= size ? off :
			    off >= UNIT ? off - UNIT : off;
			n = k + 2 * UNIT <= size ? 2 : 1;
			ret = pca_fd_copy(fd, k, bufs.hdata, n * UNIT, 0,
					  NULL);
			expect_placed(ret, "COPY", rid, k, n * UNIT);
		}
	} else if (what < 88) {
		ret = pca_fault_resend(rv->c, rid);
	} else if (what < 92 && fd >= 0) {
		/* resolve, then take it away again: the toucher faults anew */
		pca_fd_copy(fd, off, bufs.hdata, UNIT, 0, NULL);
		n = chance(r, 70) ? UNIT : size - off;
		ret = fd_discard(fd, off, n);
		expect_fd(ret, 0, "DISCARD", rid, off, n);
	}
	/* else: ignored; a resend or the region's end will deal with it */
	if (fd >= 0)
		close(fd);
	if (ret != 1)
		count_result(ret);
	if (!ret)
		atomic_fetch_add(&cs->resolved, 1);
}

static void resolve_one(struct resolver *rv, struct rng *r,
			const struct pca_fault_record *rec)
{
	struct cstate *cs = rv->cs;
	unsigned int what;
	uint64_t size, unit, off = rec->offset;
	uint32_t id;
	long ret = 0;
	int slot, fd;

	/* a record names a whole unit of its region */
	if (!made_lookup(cs, rec->region_id, &size, &unit)) {
		if (rec->length != unit || off % unit || off >= size)
			fuzz_wrong("fault record of region %u (%#llx bytes, unit %#llx): offset %#llx, length %#llx",
				   rec->region_id, (unsigned long long)size,
				   (unsigned long long)unit,
				   (unsigned long long)off,
				   (unsigned long long)rec->length);
	} else {
		unit = rec->length == UNIT ? UNIT : PAGE;
	}
	if (unit == UNIT) {
		atomic_fetch_add(&cs->unit_faults, 1);
		resolve_unit(rv, r, rec->region_id, off & ~(UNIT - 1));
		return;
	}
	what = rbelow(r, 100);
	count_op(P_CONCURRENT);
	if (what < 45) {
		ret = pca_copy(rv->c, rec->region_id, off,
			       bufs.data + rbelow(r, MAX_RESOLVE) * PAGE, 0,
			       NULL);
	} else if (what < 52) {
		ret = pca_zero(rv->c, rec->region_id, off & ~(4 * PAGE - 1),
			       4 * PAGE, 0, NULL);
	} else if (what < 57) {
		ret = pca_wake(rv->c, rec->region_id, off, PAGE);
	} else if (what < 62 && rv->nlater < 64) {
		ret = pca_copy(rv->c, rec->region_id, off, bufs.data,
			       PCA_RESOLVE_DONTWAKE, NULL);
		later_add(rv, rec->region_id, off, PAGE);
	} else if (what < 85) {
		/* through the region fd, if the slot still has it */
		slot = slot_of(cs, rec->region_id);
		fd = slot < 0 ? -1 : slot_get(cs, slot, &id, &size, &unit);
		if (fd < 0)
			return;
		if (id == rec->region_id && what < 72) {
			ret = pca_fd_copy(fd, off, bufs.data, PAGE,
					  chance(r, 10) ? PCA_RESOLVE_DONTWAKE :
					  0, NULL);
		} else if (id == rec->region_id && what < 78) {
			struct pca_copy_entry e[8];
			uint64_t n = 1 + rbelow(r, 8), k;

			for (k = 0; k < n; k++) {
				e[k].offset = k ? rbelow(r, size / PAGE) * PAGE :
					      off;
				e[k].src = (uintptr_t)bufs.data + k * PAGE;
			}
			ret = pca_fd_copy_batch(fd, e, n, 0, NULL, NULL);
		} else if (id == rec->region_id) {
			ret = pca_fd_zero(fd, off, PAGE, 0, NULL);
		}
		close(fd);
	} else if (what < 88) {
		ret = pca_fault_resend(rv->c, rec->region_id);
	} else if (what < 92) {
		/* resolve, then take it away again: the toucher faults anew */
		slot = slot_of(cs, rec->region_id);
		fd = slot < 0 ? -1 : slot_get(cs, slot, &id, &size, &unit);
		if (fd < 0)
			return;
		if (id == rec->region_id) {
			pca_fd_copy(fd, off, bufs.data, PAGE, 0, NULL);
			ret = fd_discard(fd, off & ~(8 * PAGE - 1),
					 size - (off & ~(8 * PAGE - 1)) < 8 * PAGE ?
					 size - (off & ~(8 * PAGE - 1)) : 8 * PAGE);
		}
		close(fd);
	}
	/* else: ignored; a resend or the region's end will deal with it */
	count_result(ret);
	if (!ret)
		atomic_fetch_add(&cs->resolved, 1);
}

static void *resolver_thread(void *arg)
{
	struct resolver *rv = arg;
	struct cstate *cs = rv->cs;
	struct pca_fault_record recs[64];
	struct rng r;
	unsigned int loops = 0, i;
	int n;

	rng_init(&r, fuzz_seed, 100 + rv->idx);
	if (pca_client_open(&rv->c))
		return NULL;
	pca_client_set_timeout(rv->c, 3000);
	while (!atomic_load(&cs->stop)) {
		/* new regions get an agent at once, or faults SIGBUS */
		resolver_attach(rv, &r);
		loops++;
		n = pca_recv_faults(rv->c, recs, 64, 20);
		count_op(P_CONCURRENT);
		if (n == -ENOBUFS) {
			for (i = 0; i < SLOTS; i++)
				if (rv->attached[i])
					pca_fault_resend(rv->c, rv->attached[i]);
			continue;
		}
		for (i = 0; n > 0 && i < (unsigned int)n; i++) {
			atomic_fetch_add(&cs->faults_seen, 1);
			resolve_one(rv, &r, &recs[i]);
		}
		if (rv->nlater && (n <= 0 || chance(&r, 20))) {
			for (i = 0; i < rv->nlater; i++)
				pca_wake(rv->c, rv->later[i].id,
					 rv->later[i].off, rv->later[i].len);
			count_op(P_CONCURRENT);
			rv->nlater = 0;
		}
		/* now and then: everything pending again */
		if (chance(&r, 3))
			for (i = 0; i < SLOTS; i++)
				if (rv->attached[i]) {
					count_op(P_CONCURRENT);
					pca_fault_resend(rv->c,
							 rv->attached[i]);
				}
	}
	pca_client_close(rv->c);
	return NULL;
}

/* ---- chaos ---- */

struct chaos {
	struct cstate *cs;
	int idx;
};

static void *chaos_thread(void *arg)
{
	struct chaos *ch = arg;
	struct cstate *cs = ch->cs;
	struct fstate *s = calloc(1, sizeof(*s));
	struct pca_client *c = NULL;
	struct nlsock ns = { .fd = -1 };
	int i;

	fstate_init(s, P_CONCURRENT);
	rng_init(&s->rng, fuzz_seed, 200 + ch->idx);
	while (!atomic_load(&cs->stop)) {
		struct rng *r = &s->rng;
		unsigned int what = rbelow(r, 100);
		int slot = rbelow(r, SLOTS), fd;
		uint32_t id = rregion_id(s);
		uint64_t size, unit;

		/* the generator's view of the regions: the slots */
		pthread_mutex_lock(&cs->lock);
		for (i = 0; i < SLOTS && i < MAX_REGIONS; i++) {
			s->reg[i].fd = cs->slot[i].live ? SLOT_FD + i : -1;
			s->reg[i].id = cs->slot[i].id;
			s->reg[i].size = cs->slot[i].size;
			s->reg[i].unit = cs->slot[i].unit ? cs->slot[i].unit :
					 PAGE;
		}
		pthread_mutex_unlock(&cs->lock);

		count_op(P_CONCURRENT);
		/* leave the CPUs mostly to the faulters and resolvers */
		usleep(500 + rbelow(r, 2000));
		if (what < 4) {
			/* destroy a region while it is being resolved */
			slot_renew(cs, r, slot);
		} else if (what < 10) {
			/*
			 * An agent closes while faults come in, and the next
			 * socket takes its port at once: that socket gets no
			 * record until it attaches itself.
			 */
			struct nlsock a = { .fd = -1 }, b = { .fd = -1 };
			int wait_ms = rbelow(r, 5), again = chance(r, 70);
			int detach = chance(r, 50);
			uint32_t port;

			fd = slot_get(cs, slot, &id, &size, &unit);
			if (fd < 0)
				continue;
			close(fd);
			if (nlsock_open(&a, cs->family))
				continue;
			port = nlsock_portid(&a);
			count_answer(nl_queue_cmd(&a, PCA_CMD_ATTACH, id,
						  rbelow(r, 2)));
			nlsock_drain(&a, 0, wait_ms);
			nlsock_close(&a);
			/* another thread's socket may have got it first */
			if (!port || nlsock_open_port(&b, cs->family, port))
				continue;
			atomic_fetch_add(&cs->ports_reused, 1);
			count_op(P_CONCURRENT);
			nlsock_drain(&b, 0, 2);
			atomic_fetch_add(&cs->stray_faults, b.faults);
			if (again) {
				count_answer(nl_queue_cmd(&b, PCA_CMD_ATTACH,
							  id, rbelow(r, 2)));
				nlsock_drain(&b, 0, wait_ms);
				if (detach)
					count_answer(nl_queue_cmd(&b,
							PCA_CMD_DETACH, id,
							-1));
			}
			nlsock_close(&b);
		} else if (what < 30) {
			/* an agent that attaches, maybe serves, then leaves */
			if (!c && pca_client_open(&c))
				continue;
			pca_client_set_timeout(c, 3000);
			fd = slot_get(cs, slot, &id, &size, &unit);
			if (fd < 0)
				continue;
			close(fd);
			count_result(pca_attach(c, id, rbelow(r, 2), NULL));
			if (chance(r, 50)) {
				struct pca_fault_record rec[8];
				int n = pca_recv_faults(c, rec, 8, 5), k;

				/* the unit each record names */
				for (k = 0; k < n; k++)
					pca_zero(c, rec[k].region_id,
						 rec[k].offset, rec[k].length ==
						 UNIT ? UNIT : PAGE, 0, NULL);
			}
			if (chance(r, 50)) {
				count_result(pca_detach(c, id));
			} else if (chance(r, 50)) {
				/* the socket's release detaches it */
				pca_client_close(c);
				c = NULL;
			}
		} else if (what < 60) {
			if (ns.fd < 0 && nlsock_open(&ns, cs->family))
				continue;
			if (chance(r, 10))
				nlsock_groups(s, &ns);
			nl_fuzz_one(s, &ns);
			if (chance(r, 5))
				nlsock_close(&ns);
		} else if (what < 70) {
			if (!c && pca_client_open(&c))
				continue;
			fd = slot_get(cs, slot, &id, &size, &unit);
			if (fd >= 0)
				close(fd);
			count_result(pca_dirty_track(c, id, rbelow(r, 2)));
		} else if (what < 80) {
			struct pca_region_info *list = NULL;
			size_t n = 0;

			if (!c && pca_client_open(&c))
				continue;
			count_result(pca_region_list(c, &list, &n));
			free(list);
		} else {
			/* whole-region resolutions and wakes by fd */
			fd = slot_get(cs, slot, &id, &size, &unit);
			if (fd < 0)
				continue;
			if (what < 84)
				count_result(pca_fd_wake(fd, 0, size));
			else if (what < 87)
				count_result(pca_fd_zero(fd, 0, size, 0, NULL));
			else if (what < 93) {
				/*
				 * Pages and units vanish under the faulters
				 * and resolvers; a page of a unit is refused.
				 */
				uint64_t g = chance(r, 90) ? unit : PAGE;

				count_result(fd_discard(fd, chance(r, 50) ? 0 :
					rbelow(r, size / g) * g, chance(r, 50) ?
					size : g));
			}
			else
				ioc_one(s, fd);
			close(fd);
		}
	}
	pca_client_close(c);
	nlsock_close(&ns);
	free(s);
	return NULL;
}

/* Wait for @pid at most @ms after killing it; 0 if it is gone. */
static int reap(pid_t pid, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms * wait_scale;
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > end)
			return -1;
		usleep(2000);
	}
	return 0;
}

static void show_stack(struct pca_test_ctx *t, pid_t pid)
{
	char path[64], buf[4096];
	struct dirent *d;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	while (dir && (d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(buf, sizeof(buf), "/proc/%d/task/%s/stack", pid,
			 d->d_name);
		f = fopen(buf, "r");
		pca_t_diag(t, "thread %s of %d:", d->d_name, pid);
		while (f && fgets(buf, sizeof(buf), f))
			pca_t_diag(t, "  %s", strtok(buf, "\n"));
		if (f)
			fclose(f);
	}
	if (dir)
		closedir(dir);
}

static void test_concurrent(struct pca_test_ctx *t)
{
	struct cstate *cs = calloc(1, sizeof(*cs));
	struct resolver rv[RESOLVERS] = {};
	struct chaos ch[CHAOS] = {};
	pthread_t rth[RESOLVERS], cth[CHAOS];
	uint64_t budget = part_ops(P_CONCURRENT), start, t0;
	/* a hang is a failure; slowness is not */
	uint64_t cap_ms = 20000 + budget * 20;
	struct rng r;
	int i;

	part_start(t, P_CONCURRENT);
	rng_init(&r, fuzz_seed, 99);
	bufs_init();
	touch_setup();
	pthread_mutex_init(&cs->lock, NULL);
	cs->family = family_id();
	PCA_ASSERT(t, cs->family, "cannot resolve the family");
	mcgrp_resolve();
	cs->sh = mmap(NULL, sizeof(*cs->sh), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	PCA_ASSERT(t, cs->sh != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(cs->sh, 0, sizeof(*cs->sh));

	start = cops();
	for (i = 0; i < SLOTS; i++)
		slot_renew(cs, &r, i);
	for (i = 0; i < FAULTERS; i++) {
		cs->faulter[i] = faulter_spawn(cs, rnext(&r));
		PCA_ASSERT(t, cs->faulter[i] > 0, "fork: %s", strerror(errno));
	}
	for (i = 0; i < RESOLVERS; i++) {
		rv[i] = (struct resolver){ .cs = cs, .idx = i };
		pthread_create(&rth[i], NULL, resolver_thread, &rv[i]);
	}
	for (i = 0; i < CHAOS; i++) {
		ch[i] = (struct chaos){ .cs = cs, .idx = i };
		pthread_create(&cth[i], NULL, chaos_thread, &ch[i]);
	}

	/* supervise: kill and respawn faulters, renew full regions */
	t0 = now_ms();
	while ((cops() - start < budget || now_ms() - t0 < 2000) &&
	       now_ms() - t0 < cap_ms) {
		usleep(20000);
		if (chance(&r, 10)) {
			i = rbelow(&r, FAULTERS);
			if (reap(cs->faulter[i], 10000)) {
				show_stack(t, cs->faulter[i]);
				PCA_FATAL(t, "faulter %d survives SIGKILL for %u s",
					  cs->faulter[i], 10 * wait_scale);
			}
			count_op(P_CONCURRENT);
			cs->faulter[i] = faulter_spawn(cs, rnext(&r));
		}
		if (chance(&r, 10))
			slot_renew(cs, &r, rbelow(&r, SLOTS));
	}
	if (cops() - start < budget)
		pca_t_diag(t, "stopped by the time cap (%llu s) before the budget",
			   (unsigned long long)cap_ms / 1000);

	/* the end: faulters die in their faults, threads stop */
	atomic_store(&cs->sh->stop, 1);
	for (i = 0; i < FAULTERS; i++)
		if (reap(cs->faulter[i], 20000)) {
			show_stack(t, cs->faulter[i]);
			PCA_FATAL(t, "faulter %d survives SIGKILL for %u s",
				  cs->faulter[i], 20 * wait_scale);
		}
	atomic_store(&cs->stop, 1);
	for (i = 0; i < RESOLVERS; i++)
		pthread_join(rth[i], NULL);
	for (i = 0; i < CHAOS; i++)
		pthread_join(cth[i], NULL);
	for (i = 0; i < SLOTS; i++)
		close(SLOT_FD + i);

	pca_t_diag(t, "%llu operations in %.1f s, %llu regions, %llu fault records (%llu of units), %llu resolved, %llu ports taken over",
		   (unsigned long long)(cops() - start),
		   (now_ms() - part_t0) / 1000.0,
		   (unsigned long long)atomic_load(&cs->regions_made),
		   (unsigned long long)atomic_load(&cs->faults_seen),
		   (unsigned long long)atomic_load(&cs->unit_faults),
		   (unsigned long long)atomic_load(&cs->resolved),
		   (unsigned long long)atomic_load(&cs->ports_reused));
	PCA_EXPECT(t, !atomic_load(&cs->stray_faults),
		   "%llu fault records reached sockets that had not attached (ports of closed agents)",
		   (unsigned long long)atomic_load(&cs->stray_faults));
	PCA_EXPECT(t, atomic_load(&cs->faults_seen) > 0,
		   "no fault record arrived: the faulters did not fault");
	wrong_check(t, part_wrong0);
	munmap(cs->sh, sizeof(*cs->sh));
	free(cs);
}

/* -------------------------------------------------------------------------
 * Regression: a region reopened through /proc while it dies
 *
 * open("/proc/<pid>/fd/<n>") holds the file's path, and so its inode,
 * from the lookup to the region's ->open, which reads the region through
 * inode->i_private.  When the fd is closed meanwhile and that was the
 * region's last file, the region went away under the open: KASAN's
 * slab-out-of-bounds (use-after-free) in pca_region_file_open(), found by
 * the concurrent part.  Openers race with a thread that keeps replacing
 * the fd with a new region, while another forces RCU grace periods
 * (membarrier), which the freeing waited for.
 */

#define RACE_FD		120
#define RACE_OPENERS	3

struct race {
	atomic_int stop;
	atomic_ullong opens, enoent, swaps;
};

static void *race_opener(void *arg)
{
	struct race *rc = arg;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", RACE_FD);
	while (!atomic_load(&rc->stop)) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			atomic_fetch_add(&rc->opens, 1);
			close(fd);
		} else if (errno == ENOENT) {
			atomic_fetch_add(&rc->enoent, 1);
		}
	}
	return NULL;
}

static void *race_grace(void *arg)
{
	struct race *rc = arg;

	/* MEMBARRIER_CMD_GLOBAL: synchronize_rcu() */
	while (!atomic_load(&rc->stop))
		if (syscall(__NR_membarrier, 1, 0, 0) < 0)
			usleep(100);
	return NULL;
}

static void test_reopen_race(struct pca_test_ctx *t)
{
	struct race rc = {};
	pthread_t th[RACE_OPENERS + 1];
	uint64_t end = now_ms() + 3000ULL * wait_scale;
	uint32_t id;
	int i, fd;

	for (i = 0; i < RACE_OPENERS; i++)
		pthread_create(&th[i], NULL, race_opener, &rc);
	pthread_create(&th[i], NULL, race_grace, &rc);
	while (now_ms() < end) {
		fd = pca_region_create(PAGE, PCA_REGION_MISSING, &id);
		if (fd < 0) {
			atomic_store(&rc.stop, 1);
			PCA_FAIL(t, "pca_region_create: %s", strerror(-fd));
			break;
		}
		/* the old region's last file closes here */
		dup2(fd, RACE_FD);
		close(fd);
		atomic_fetch_add(&rc.swaps, 1);
	}
	atomic_store(&rc.stop, 1);
	for (i = 0; i <= RACE_OPENERS; i++)
		pthread_join(th[i], NULL);
	close(RACE_FD);
	pca_t_diag(t, "%llu regions replaced, %llu reopened, %llu refused",
		   (unsigned long long)atomic_load(&rc.swaps),
		   (unsigned long long)atomic_load(&rc.opens),
		   (unsigned long long)atomic_load(&rc.enoent));
}

/* -------------------------------------------------------------------------
 * Nothing left behind
 */

static long read_long(const char *path)
{
	char buf[64];
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f && fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* Objects of the module's fault cache, if it has a sysfs dir of its own. */
static long fault_cache_objects(void)
{
	struct stat st;

	if (lstat("/sys/kernel/slab/pca_fault", &st) || !S_ISDIR(st.st_mode))
		return -1;	/* absent, or merged with another cache */
	return read_long("/sys/kernel/slab/pca_fault/objects");
}

static void test_no_leaks(struct pca_test_ctx *t)
{
	struct pca_region_info *list = NULL;
	uint64_t end = now_ms() + 20000ULL * wait_scale;
	long refcnt, objs;
	size_t n = 0, i;

	/* Releases finish in RCU callbacks and work items: allow a moment. */
	for (;;) {
		free(list);
		list = NULL;
		PCA_ASSERT_OK(t, pca_region_list(t->c, &list, &n));
		refcnt = read_long("/sys/module/postcopy_assist/refcnt");
		objs = fault_cache_objects();
		if ((!n && refcnt <= 0) || now_ms() > end)
			break;
		usleep(100000);
	}
	for (i = 0; i < n; i++)
		pca_t_diag(t, "left: region %u size %llu queues %u pending %llu",
			   list[i].id, (unsigned long long)list[i].size,
			   list[i].queues,
			   (unsigned long long)list[i].stats.faults_pending);
	PCA_EXPECT_EQ(t, n, 0);
	/* -1: built in, or no such file */
	PCA_EXPECT(t, refcnt <= 0, "module refcnt %ld", refcnt);
	/* SLUB counts free objects of per-CPU slabs too: only a hint */
	if (objs > 0)
		pca_t_diag(t, "pca_fault cache: %ld objects (incl. per-CPU free)",
			   objs);
	free(list);
}

/* -------------------------------------------------------------------------
 * report_race
 */

#define RR_PAGES	256		/* the tracked region */
#define RR_UNITS	4		/* the tracked huge region */
#define RR_OUT		16		/* pages that receive reports */
#define RR_HUGE		(1ULL << 40)	/* the largest region there is */
/* Bits of a report of all of either tracked region */
#define RR_BITS		(RR_PAGES > RR_UNITS * UNIT_PAGES ? RR_PAGES : \
			 RR_UNITS * UNIT_PAGES)

struct rr {
	atomic_int stop;
	atomic_ulong ops;
	uint64_t budget;
	int fd, outfd, hugefd;
	uint32_t id, outid, hugeid;
	uint8_t *mem, *out;
	/* huge regions, if the module has them: tracked, and 1 TiB */
	int ufd, bigufd;
	uint32_t uid, biguid;
	uint8_t *umem;
	uint8_t *usrc;			/* a unit of data */
};

static int rr_more(struct rr *rr)
{
	return !atomic_load(&rr->stop) &&
	       atomic_fetch_add(&rr->ops, 1) < rr->budget;
}

/* PCA_CMD_DISCARD, which libpca has no call for. */
static int nl_discard(struct pca_client *c, uint32_t id, uint64_t off,
		      uint64_t len)
{
	struct nl_msg *m = pca_msg_new(c, PCA_CMD_DISCARD, 0);

	if (!m)
		return -ENOMEM;
	if (nla_put_u32(m, PCA_A_REGION_ID, id) ||
	    nla_put_u64(m, PCA_A_OFFSET, off) ||
	    nla_put_u64(m, PCA_A_LENGTH, len)) {
		nlmsg_free(m);
		return -EMSGSIZE;
	}
	return pca_request(c, m, NULL, NULL);
}

static void *rr_writer(void *arg)
{
	struct rr *rr = arg;
	struct rng r;

	rng_init(&r, fuzz_seed, 300);
	while (!atomic_load(&rr->stop)) {
		if (rr->umem && chance(&r, 30))
			rr->umem[rbelow(&r, RR_UNITS * UNIT)] = rnext(&r);
		else
			rr->mem[rbelow(&r, RR_PAGES) * PAGE +
				rbelow(&r, PAGE)] = rnext(&r);
		if (chance(&r, 5))
			usleep(rbelow(&r, 200));
	}
	return NULL;
}

/* The agent of the report pages: places them late, discards them again. */
static void *rr_agent(void *arg)
{
	struct rr *rr = arg;
	struct pca_fault_record rec[8];
	struct pca_client *c;
	struct rng r;
	int n, i;

	rng_init(&r, fuzz_seed, 301);
	if (pca_client_open(&c))
		return NULL;
	pca_attach(c, rr->outid, PCA_POLICY_FAIL, NULL);
	while (!atomic_load(&rr->stop)) {
		n = pca_recv_faults(c, rec, 8, 20);
		for (i = 0; i < n; i++) {
			/* the report waits in the gap meanwhile */
			usleep(rbelow(&r, 3000));
			pca_zero(c, rec[i].region_id, rec[i].offset, PAGE, 0,
				 NULL);
		}
		if (chance(&r, 30))
			fd_discard(rr->outfd, rbelow(&r, RR_OUT) * PAGE, PAGE);
	}
	pca_client_close(c);
	return NULL;
}

/*
 * One report, clear or discard on a tracked region: the one of pages, or
 * the huge one, whose ranges are whole units but now and then part of
 * one (EINVAL); and on the huge one, MADV_COLD and MADV_PAGEOUT of part
 * of a unit, as any process may advise its memory.
 */
static void rr_report(struct rr *rr, struct pca_client *c, struct rng *r)
{
	uint64_t local[RR_BITS / 64], *bits = local, off, len, dirty;
	unsigned int what = rbelow(r, 100);
	int huge = rr->umem && chance(r, 35), bad = 0, nl = 0;
	uint64_t unit = huge ? UNIT : PAGE, units = huge ? RR_UNITS : RR_PAGES;
	/* the bytes of a report of the whole region */
	uint64_t bsize = units * (unit / PAGE) / 8;
	uint32_t id = huge ? rr->uid : rr->id;
	int fd = huge ? rr->ufd : rr->fd;
	struct pca_dirty_log dl;
	long ret;

	off = rbelow(r, units) * unit;
	len = (1 + rbelow(r, units - off / unit)) * unit;
	if (chance(r, 50)) {
		off = 0;
		len = units * unit;
	}
	if (huge && chance(r, 8)) {
		uint64_t in = PAGE * (1 + rbelow(r, UNIT_PAGES - 1));

		if (chance(r, 50))
			off += in;
		else
			len += in - UNIT;
		bad = 1;
	}
	if (huge && chance(r, 10)) {
		/* the core splits a PMD-mapped unit's folio for this */
		uint64_t at = rbelow(r, RR_UNITS * UNIT_PAGES) * PAGE;
		uint64_t n = PAGE * (1 + rbelow(r, UNIT_PAGES / 2));

		if (at + n > RR_UNITS * UNIT)
			n = RR_UNITS * UNIT - at;
		bad = 0;
		ret = madvise(rr->umem + at, n, chance(r, 50) ? MADV_COLD :
			      MADV_PAGEOUT) ? -errno : 0;
	} else if (what < 35) {
		/* ioctl get (+clear), often into a missing page */
		if (chance(r, 60))
			bits = (uint64_t *)(rr->out + rbelow(r, RR_OUT) * PAGE +
					    rbelow(r, PAGE / bsize) * bsize);
		dl = (struct pca_dirty_log){
			.offset = off, .len = len, .bitmap = (uintptr_t)bits,
			.bitmap_size = bsize,
			.flags = chance(r, 70) ? PCA_DIRTY_CLEAR :
				 chance(r, 50) ? PCA_DIRTY_COUNT_ONLY : 0,
		};
		ret = ioctl(fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0;
	} else if (what < 55) {
		nl = 1;
		ret = pca_dirty_get(c, id, off, len,
				    chance(r, 70) ? PCA_DIRTY_CLEAR : 0, local,
				    sizeof(local), &dirty);
	} else if (what < 70) {
		/* a dump: the whole region, cleared message by message */
		bad = 0;
		ret = pca_dirty_get(c, id, 0, 0, PCA_DIRTY_CLEAR, local,
				    sizeof(local), &dirty);
	} else if (what < 80) {
		nl = chance(r, 50);
		ret = nl ? pca_dirty_clear(c, id, off, len) :
		      pca_fd_dirty_clear(fd, off, len);
	} else if (what < 95) {
		nl = chance(r, 50);
		ret = nl ? nl_discard(c, id, off, len) :
		      fd_discard(fd, off, len);
	} else {
		/* restart tracking: an empty log, every page re-armed */
		bad = 0;
		ret = pca_dirty_track(c, id, 1);
	}
	count_result(ret);
	/* part of a unit: refused, before anything is done */
	if (bad && nl)
		expect_nl(ret, -EINVAL, "netlink dirty log/discard", id, off,
			  len);
	else if (bad)
		expect_fd(ret, -EINVAL, "dirty log/discard", id, off, len);
}

/*
 * Whole-range operations on a 1 TiB region, of pages or of units: none
 * may stall a CPU.
 */
static void rr_huge(struct rr *rr, struct pca_client *c, struct rng *r)
{
	static uint8_t page[PAGE];
	int units = rr->bigufd >= 0 && chance(r, 50);
	int fd = units ? rr->bigufd : rr->hugefd;
	uint32_t id = units ? rr->biguid : rr->hugeid;
	uint64_t unit = units ? UNIT : PAGE;
	const uint8_t *src = units ? rr->usrc : page;
	uint64_t off = rbelow(r, RR_HUGE / unit) * unit, dirty = 0;
	struct pca_dirty_log dl = {
		.len = RR_HUGE, .flags = PCA_DIRTY_COUNT_ONLY,
	};

	switch (rbelow(r, 7)) {
	case 0:
		count_result(fd_discard(fd, 0, RR_HUGE));
		break;
	case 1:
		count_result(nl_discard(c, id, 0, RR_HUGE));
		break;
	case 2:
		count_result(pca_fd_wake(fd, 0, RR_HUGE));
		break;
	case 3:
		/* a few units present, far apart */
		count_result(pca_fd_zero(fd, off, unit, 0, NULL));
		count_result(pca_fd_copy(fd, RR_HUGE - unit, src, unit, 0,
					 NULL));
		break;
	case 4:
		count_result(ioctl(fd, PCA_IOC_DIRTY_LOG, &dl) ? -errno : 0);
		break;
	case 5:
		count_result(pca_fd_dirty_clear(fd, 0, RR_HUGE));
		break;
	default:
		count_result(pca_dirty_get(c, id, 0, RR_HUGE,
					   PCA_DIRTY_COUNT_ONLY, NULL, 0,
					   &dirty));
		break;
	}
}

static void *rr_reporter(void *arg)
{
	struct rr *rr = arg;
	static atomic_int next;
	struct pca_client *c;
	struct rng r;

	rng_init(&r, fuzz_seed, 310 + atomic_fetch_add(&next, 1));
	if (pca_client_open(&c))
		return NULL;
	pca_client_set_timeout(c, 10000 * wait_scale);
	while (rr_more(rr)) {
		count_op(P_CONCURRENT);
		if (chance(&r, 5))
			rr_huge(rr, c, &r);
		else
			rr_report(rr, c, &r);
	}
	pca_client_close(c);
	return NULL;
}

/* Killed in the middle of whole-range work: must die promptly. */
static void rr_killed(struct pca_test_ctx *t, struct rr *rr, struct rng *r)
{
	static uint8_t page[PAGE];
	struct pca_dirty_log dl = {
		.len = RR_HUGE, .flags = PCA_DIRTY_COUNT_ONLY,
	};
	unsigned int what = rbelow(r, 3);
	int units = rr->bigufd >= 0 && chance(r, 50);
	int fd = units ? rr->bigufd : rr->hugefd;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return;
	if (!pid) {
		for (;;) {
			if (what == 0)
				fd_discard(fd, 0, RR_HUGE);
			else if (what == 1)
				ioctl(fd, PCA_IOC_DIRTY_LOG, &dl);
			else if (units)
				pca_fd_copy(fd, 0, rr->usrc, UNIT, 0, NULL);
			else
				pca_fd_copy(fd, 0, page, PAGE, 0, NULL);
		}
	}
	usleep(rbelow(r, 50000));
	kill(pid, SIGKILL);
	PCA_EXPECT(t, !reap(pid, 10000 * wait_scale),
		   "a process killed in whole-range work did not die");
}

/*
 * The huge region's log is exact too, by units: a byte written anywhere
 * in a unit sets all of its bits, a clear re-arms all of its pages (each
 * written just before), and a report of some units through netlink says
 * the same.  Two rounds, each after a part of each unit was advised cold
 * or paged out, as a process may do between two rounds of a migration.
 */
static void rr_check_units(struct pca_test_ctx *t, struct rr *rr,
			   struct rng *r)
{
	const int words = UNIT_PAGES / 64;
	uint64_t bits[RR_UNITS * UNIT_PAGES / 64], part[2 * UNIT_PAGES / 64];
	uint64_t dirty = 0, want;
	int written[RR_UNITS], u, i, n, bad, round;

	for (round = 0; round < 2; round++) {
		/* a random part of each unit */
		for (u = 0; u < RR_UNITS; u++) {
			uint64_t at = rbelow(r, UNIT_PAGES / 2) * PAGE;
			uint64_t len = PAGE * (1 + rbelow(r, UNIT_PAGES / 2));

			madvise(rr->umem + u * UNIT + at, len, chance(r, 50) ?
				MADV_COLD : MADV_PAGEOUT);
		}
		for (i = 0; i < RR_UNITS * (int)UNIT_PAGES; i++)
			rr->umem[i * PAGE + rbelow(r, PAGE)] ^= 1;
		PCA_ASSERT_OK(t, pca_fd_dirty_log(rr->ufd, 0, RR_UNITS * UNIT,
						  PCA_DIRTY_CLEAR, bits,
						  sizeof(bits), NULL));
		for (u = 0, n = 0; u < RR_UNITS; u++) {
			written[u] = !u || (u != 1 && chance(r, 50));
			if (!written[u])
				continue;
			/* anywhere in the unit, in two of its pages */
			for (i = 0; i < 2; i++)
				rr->umem[u * UNIT + rbelow(r, UNIT)] ^= 1;
			n++;
		}
		PCA_ASSERT_OK(t, pca_fd_dirty_log(rr->ufd, 0, RR_UNITS * UNIT,
						  0, bits, sizeof(bits),
						  &dirty));
		for (i = 0, bad = 0; i < RR_UNITS * words; i++) {
			want = written[i / words] ? ~0ULL : 0;
			if (bits[i] != want && bad++ < 4)
				PCA_FAIL(t, "round %d, unit %d (%s), bits %d-%d: %#llx",
					 round, i / words, written[i / words] ?
					 "written" : "not written",
					 (i % words) * 64, (i % words) * 64 + 63,
					 (unsigned long long)bits[i]);
		}
		PCA_EXPECT_EQ(t, dirty, (uint64_t)n * UNIT_PAGES);
		/* units 1 and 2 alone, over netlink */
		PCA_ASSERT_OK(t, pca_dirty_get(t->c, rr->uid, UNIT, 2 * UNIT, 0,
					       part, sizeof(part), &dirty));
		PCA_EXPECT(t, !memcmp(part, bits + words, sizeof(part)),
			   "round %d: netlink report of units 1-2 differs",
			   round);
		PCA_EXPECT_EQ(t, dirty, (uint64_t)(written[1] + written[2]) *
				  UNIT_PAGES);
	}
}

static void test_report_race(struct pca_test_ctx *t)
{
	pthread_t wr, ag, rep[3];
	uint64_t bits[RR_PAGES / 64], dirty = 0;
	struct rr rr = { .budget = fuzz_ops / 20 + 100, .ufd = -1,
			 .bigufd = -1 };
	uint64_t t0 = now_ms(), wrong0 = atomic_load(&shared->wrong);
	struct rng r;
	int i, k, n;

	rng_init(&r, fuzz_seed, 320);
	huge_ok = !!(t->api.features & PCA_FEATURE_HUGE);
	rr.fd = PCA_ASSERT_OK(t, pca_region_create(RR_PAGES * PAGE, 0, &rr.id));
	rr.outfd = PCA_ASSERT_OK(t, pca_region_create(RR_OUT * PAGE,
						      PCA_REGION_MISSING,
						      &rr.outid));
	rr.hugefd = PCA_ASSERT_OK(t, pca_region_create(RR_HUGE, 0,
						       &rr.hugeid));
	rr.mem = mmap(NULL, RR_PAGES * PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, rr.fd, 0);
	rr.out = mmap(NULL, RR_OUT * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
		      rr.outfd, 0);
	PCA_ASSERT(t, rr.mem != MAP_FAILED && rr.out != MAP_FAILED, "mmap");
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, rr.id, 1));
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, rr.hugeid, 1));
	if (huge_ok) {
		rr.ufd = PCA_ASSERT_OK(t, pca_region_create(RR_UNITS * UNIT,
							    PCA_REGION_HUGE,
							    &rr.uid));
		rr.bigufd = PCA_ASSERT_OK(t, pca_region_create(RR_HUGE,
							       PCA_REGION_HUGE,
							       &rr.biguid));
		atomic_fetch_add(&shared->huge_regions, 2);
		rr.umem = mmap(NULL, RR_UNITS * UNIT, PROT_READ | PROT_WRITE,
			       MAP_SHARED, rr.ufd, 0);
		rr.usrc = mmap(NULL, UNIT, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		PCA_ASSERT(t, rr.umem != MAP_FAILED && rr.usrc != MAP_FAILED,
			   "mmap");
		memset(rr.usrc, 0x3c, UNIT);
		PCA_ASSERT_OK(t, pca_dirty_track(t->c, rr.uid, 1));
		PCA_ASSERT_OK(t, pca_dirty_track(t->c, rr.biguid, 1));
	}

	pthread_create(&wr, NULL, rr_writer, &rr);
	pthread_create(&ag, NULL, rr_agent, &rr);
	for (i = 0; i < 3; i++)
		pthread_create(&rep[i], NULL, rr_reporter, &rr);
	for (k = 0; k < 4; k++)
		rr_killed(t, &rr, &r);
	for (i = 0; i < 3; i++)
		pthread_join(rep[i], NULL);
	atomic_store(&rr.stop, 1);
	pthread_join(wr, NULL);
	pthread_join(ag, NULL);
	pca_t_diag(t, "%lu operations in %.1f s",
		   (unsigned long)atomic_load(&rr.ops),
		   (now_ms() - t0) / 1000.0);

	/* the log is still exact: exactly the pages written now */
	PCA_ASSERT_OK(t, pca_fd_dirty_log(rr.fd, 0, RR_PAGES * PAGE,
					  PCA_DIRTY_CLEAR, bits, sizeof(bits),
					  NULL));
	for (i = 0; i < RR_PAGES; i += 7)
		rr.mem[i * PAGE] ^= 1;
	PCA_ASSERT_OK(t, pca_fd_dirty_log(rr.fd, 0, RR_PAGES * PAGE, 0, bits,
					  sizeof(bits), &dirty));
	for (i = 0, n = 0; i < RR_PAGES; i++) {
		int set = (bits[i / 64] >> (i % 64)) & 1;

		PCA_EXPECT(t, set == !(i % 7), "page %d: bit %d", i, set);
		n += set;
	}
	PCA_EXPECT_EQ(t, dirty, (uint64_t)n);
	if (rr.umem)
		rr_check_units(t, &rr, &r);
	wrong_check(t, wrong0);

	munmap(rr.mem, RR_PAGES * PAGE);
	munmap(rr.out, RR_OUT * PAGE);
	close(rr.fd);
	close(rr.outfd);
	close(rr.hugefd);
	if (rr.umem) {
		munmap(rr.umem, RR_UNITS * UNIT);
		munmap(rr.usrc, UNIT);
		close(rr.ufd);
		close(rr.bigufd);
	}
}

/* -------------------------------------------------------------------------
 * Fault rings
 */

#define RING_MAX_PAGES	32
#define RING_TOUCHERS	4

/* What page @pg of region @id holds once resolved. */
static uint64_t ring_stamp(uint32_t id, uint64_t pg)
{
	return 0x52494e4700000000ULL ^ ((uint64_t)id << 20) ^ pg;
}

/* A child whose threads touch every page of @mem; exits 0 if all match. */
struct ring_touch {
	volatile uint64_t *mem;
	uint32_t id;
	size_t pages;
	int first;
	atomic_int bad;
};

static void *ring_toucher(void *arg)
{
	struct ring_touch *rt = arg;
	size_t i;

	for (i = 0; i < rt->pages; i++) {
		size_t pg = (i + rt->first * 7) % rt->pages;

		if (rt->mem[pg * PAGE / 8] != ring_stamp(rt->id, pg))
			atomic_fetch_add(&rt->bad, 1);
	}
	return NULL;
}

static pid_t ring_child(volatile uint64_t *mem, uint32_t id, size_t pages)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid)
		return pid;
	{
		struct ring_touch rt[RING_TOUCHERS];
		pthread_t th[RING_TOUCHERS];
		int i, bad = 0;

		for (i = 0; i < RING_TOUCHERS; i++) {
			rt[i] = (struct ring_touch){ .mem = mem, .id = id,
						     .pages = pages,
						     .first = i };
			if (pthread_create(&th[i], NULL, ring_toucher, &rt[i]))
				_exit(2);
		}
		for (i = 0; i < RING_TOUCHERS; i++) {
			pthread_join(th[i], NULL);
			bad += atomic_load(&rt[i].bad);
		}
		_exit(bad ? 1 : 0);
	}
}

struct ring_ep {
	struct pca_client *c;
	struct pca_ring *ring;
	struct pca_ring_header *hdr;	/* our own RW mapping, or NULL */
	size_t hdr_len;
	uint64_t entries;
	uint64_t kernel_head;		/* the last head we saw unscribbled */
	uint32_t id;
	size_t pages;
	int fd;
	uint8_t *page;
};

static void ring_detach(struct ring_ep *e)
{
	if (e->hdr)
		munmap(e->hdr, e->hdr_len);
	e->hdr = NULL;
	pca_ring_close(e->ring);
	e->ring = NULL;
}

static void ring_attach(struct ring_ep *e, struct rng *r)
{
	static const uint32_t sizes[] = { 16, 32, 64, 256 };
	uint32_t n = sizes[rbelow(r, 4)];
	int ret;

	if (chance(r, 20)) {
		/* anything: only powers of two from 16 to 65536 work */
		n = chance(r, 50) ? (uint32_t)rnext(r) : rbelow(r, 200);
	}
	ret = pca_attach_ring(e->c, e->id, PCA_POLICY_WAIT, n, &e->ring,
			      NULL);
	count_result(ret);
	if ((n & (n - 1)) || n < 16 || n > 65536) {
		if (ret != -EINVAL)
			fuzz_wrong("ring of %u entries: %d, expected EINVAL",
				   n, ret);
		if (!ret)
			ring_detach(e);
		return;
	}
	if (ret) {
		if (ret != -ENOMEM)
			fuzz_wrong("ring of %u entries: %d", n, ret);
		return;
	}
	e->entries = n;
	e->hdr_len = PCA_RING_MAP_SIZE(n);
	e->hdr = mmap(NULL, e->hdr_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      pca_ring_fd(e->ring), 0);
	if (e->hdr == MAP_FAILED) {
		fuzz_wrong("mmap of a ring: %s", strerror(errno));
		e->hdr = NULL;
		return;
	}
	e->kernel_head = __atomic_load_n(&e->hdr->head, __ATOMIC_ACQUIRE);
}

/* Resolve what the ring holds, checking each record. */
static void ring_consume(struct ring_ep *e, struct rng *r)
{
	struct pca_fault_record recs[16];
	int n, i;

	n = pca_ring_recv(e->ring, recs, 1 + rbelow(r, 16), 0);
	count_result(n);
	for (i = 0; i < n; i++) {
		uint64_t pg = recs[i].offset / PAGE;
		int ret;

		if (recs[i].region_id != e->id || recs[i].offset % PAGE ||
		    pg >= e->pages || recs[i].length != PAGE) {
			fuzz_wrong("ring record: region %u offset %#llx length %llu",
				   recs[i].region_id,
				   (unsigned long long)recs[i].offset,
				   (unsigned long long)recs[i].length);
			continue;
		}
		*(uint64_t *)e->page = ring_stamp(e->id, pg);
		ret = pca_fd_copy(e->fd, recs[i].offset, e->page, PAGE, 0,
				  NULL);
		count_result(ret);
		if (ret && ret != -EEXIST)
			fuzz_wrong("COPY of a ring record: %s", strerror(-ret));
	}
}

/* One random thing to a ring and its region. */
static void ring_op(struct ring_ep *e, struct rng *r)
{
	struct pollfd pfd;
	uint64_t head, tail;
	void *p;

	count_op(P_RING);
	if (!e->ring) {
		ring_attach(e, r);
		return;
	}
	switch (rbelow(r, 10)) {
	case 0:
	case 1:
	case 2:
		if (e->hdr)
			ring_consume(e, r);
		break;
	case 3: {
		/* a tail anywhere, then what poll() makes of it */
		static const int64_t near[] = { -1, 1, 2, -2, 17, -17, 70000,
						-70000 };

		if (!e->hdr)
			break;
		head = __atomic_load_n(&e->hdr->head, __ATOMIC_ACQUIRE);
		e->kernel_head = head;
		tail = chance(r, 50) ? head + near[rbelow(r, 8)] :
		       chance(r, 50) ? rnext(r) : head - rbelow(r, e->entries + 2);
		__atomic_store_n(&e->hdr->tail, tail, __ATOMIC_RELEASE);
		pfd = (struct pollfd){ .fd = pca_ring_fd(e->ring),
				       .events = POLLIN };
		if (poll(&pfd, 1, 0) < 0)
			break;
		/* the kernel may have written meanwhile: only a bad verdict on a sane tail is wrong */
		if ((pfd.revents & POLLERR) &&
		    head - tail <= e->entries &&
		    __atomic_load_n(&e->hdr->head, __ATOMIC_ACQUIRE) == head)
			fuzz_wrong("EPOLLERR for tail %llu, head %llu, %llu entries",
				   (unsigned long long)tail,
				   (unsigned long long)head,
				   (unsigned long long)e->entries);
		break;
	}
	case 4:
		/*
		 * Scribble the head, which the kernel never reads (nor the
		 * records); it goes back unless the kernel wrote a newer one.
		 */
		if (e->hdr) {
			uint64_t mine = rnext(r);

			head = __atomic_exchange_n(&e->hdr->head, mine,
						   __ATOMIC_ACQ_REL);
			pfd = (struct pollfd){ .fd = pca_ring_fd(e->ring),
					       .events = POLLIN };
			poll(&pfd, 1, 0);
			__atomic_compare_exchange_n(&e->hdr->head, &mine, head,
						    false, __ATOMIC_ACQ_REL,
						    __ATOMIC_ACQUIRE);
		}
		break;
	case 5:
		/* mid-batch: records unread, the faults go to the next ring */
		ring_detach(e);
		if (chance(r, 50))
			ring_attach(e, r);
		break;
	case 6:
		p = mmap(NULL, PCA_RING_MAP_SIZE(e->entries) + PAGE *
			 (1 + rbelow(r, 4)), PROT_READ, MAP_SHARED,
			 pca_ring_fd(e->ring), 0);
		if (p != MAP_FAILED || errno != EINVAL)
			fuzz_wrong("mmap past a ring: %s",
				   p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, PAGE);
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 chance(r, 50) ? MAP_PRIVATE : MAP_SHARED,
			 pca_ring_fd(e->ring), PAGE * (1 + rbelow(r, 4)));
		if (p != MAP_FAILED || errno != EINVAL)
			fuzz_wrong("mmap of a ring at an offset: %s",
				   p == MAP_FAILED ? strerror(errno) : "mapped");
		if (p != MAP_FAILED)
			munmap(p, PAGE);
		break;
	case 7: {
		unsigned long cmd = chance(r, 50) ? (unsigned long)rnext(r) :
				    _IOC(rbelow(r, 4), PCA_IOC_MAGIC,
					 rbelow(r, 32), rbelow(r, 64));

		if (ioctl(pca_ring_fd(e->ring), cmd, bufs.data) != -1 ||
		    errno != ENOTTY)
			fuzz_wrong("ioctl %#lx on a ring fd: %s", cmd,
				   strerror(errno));
		break;
	}
	default:
		/* a sane tail again, as an agent that recovered */
		if (e->hdr) {
			e->kernel_head = __atomic_load_n(&e->hdr->head, __ATOMIC_ACQUIRE);
			__atomic_store_n(&e->hdr->tail, e->kernel_head,
					 __ATOMIC_RELEASE);
		}
		break;
	}
}

static void test_ring(struct pca_test_ctx *t)
{
	uint64_t budget = part_ops(P_RING), start, deadline;
	struct ring_ep e = { .fd = -1 };
	struct rng r;
	int status, episodes = 0;

	part_start(t, P_RING);
	rng_init(&r, fuzz_seed, P_RING);
	bufs_init();
	e.page = bufs.data;
	if (pca_client_open(&e.c))
		PCA_FATAL(t, "pca_client_open: %s", pca_strerror(NULL));
	start = atomic_load(&shared->ops[P_RING]);
	while (atomic_load(&shared->ops[P_RING]) - start < budget) {
		volatile uint64_t *mem;
		pid_t pid;
		int i, ops = 10 + rbelow(&r, 60);

		e.pages = 1 + rbelow(&r, RING_MAX_PAGES);
		e.fd = pca_region_create(e.pages * PAGE, PCA_REGION_MISSING,
					 &e.id);
		if (e.fd < 0)
			PCA_FATAL(t, "pca_region_create: %s", strerror(-e.fd));
		mem = mmap(NULL, e.pages * PAGE, PROT_READ, MAP_SHARED, e.fd,
			   0);
		if (mem == MAP_FAILED)
			PCA_FATAL(t, "mmap: %s", strerror(errno));
		/* faults wait while no ring is attached: the policy stays */
		if (pca_attach(e.c, e.id, PCA_POLICY_WAIT, NULL) ||
		    pca_detach(e.c, e.id))
			PCA_FATAL(t, "setting the wait policy: %s",
				  pca_strerror(e.c));
		ring_attach(&e, &r);
		pid = ring_child(mem, e.id, e.pages);
		if (pid < 0)
			PCA_FATAL(t, "fork: %s", strerror(errno));
		for (i = 0; i < ops; i++)
			ring_op(&e, &r);
		/* the end of the episode: every page, whatever the ring saw */
		for (i = 0; i < (int)e.pages; i++) {
			int ret;

			*(uint64_t *)e.page = ring_stamp(e.id, i);
			ret = pca_fd_copy(e.fd, (uint64_t)i * PAGE, e.page,
					  PAGE, 0, NULL);
			if (ret && ret != -EEXIST)
				fuzz_wrong("final COPY: %s", strerror(-ret));
		}
		deadline = now_ms() + 10000ULL * wait_scale;
		while (waitpid(pid, &status, WNOHANG) == 0) {
			if (now_ms() > deadline) {
				fuzz_wrong("ring episode: the touching child hangs");
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				break;
			}
			usleep(1000);
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fuzz_wrong("ring episode: child status %#x", status);
		ring_detach(&e);
		munmap((void *)mem, e.pages * PAGE);
		close(e.fd);
		episodes++;
	}
	pca_client_close(e.c);
	pca_t_diag(t, "%llu operations in %d episodes, %.1f s",
		   (unsigned long long)(atomic_load(&shared->ops[P_RING]) -
					start), episodes,
		   (now_ms() - part_t0) / 1000.0);
	wrong_check(t, part_wrong0);
}

/* -------------------------------------------------------------------------
 * recv: PCA_IOC_RECV's checks, which must consume nothing
 */

#define RECV_FUZZ_PAGES	16
#define RECV_FUZZ_ROUNDS 300

/* The word stamped at the start of the n-th unit sent. */
static uint64_t recv_stamp(uint64_t n)
{
	return 0x5ec0000000000000ULL | n;
}

/* PCA_IOC_RECV by hand, for fields libpca does not pass as they are. */
static int recv_raw(int fd, struct pca_recv *a)
{
	return ioctl(fd, PCA_IOC_RECV, a) < 0 ? -errno : 0;
}

enum recv_defect {
	RD_NONE, RD_FD_NEG, RD_FD_CLOSED, RD_FD_HUGE, RD_FD_FILE,
	RD_FD_REGION, RD_UDP, RD_UNIX_DGRAM, RD_SEQPACKET, RD_NETLINK,
	RD_COUNT_ZERO, RD_COUNT_MAX, RD_COUNT_HUGE, RD_UNALIGNED, RD_OUTSIDE,
	RD_ENTRIES_NULL, RD_ENTRIES_UNMAPPED, RD_ENTRIES_KERNEL, RD_FLAGS,
	RD_RESERVED, RD_ARG_NULL, RD_NR
};

static void test_recv(struct pca_test_ctx *t)
{
	uint64_t offs[PCA_RECV_MAX + 1], sent = 0, taken = 0, n_ok = 0;
	int fds[2], others[5], region, devnull, i, ret, round, expect;
	uint8_t page[PAGE], *mem, *unmapped;
	uint64_t wrong0 = atomic_load(&shared->wrong);
	struct pca_range dr;
	struct pca_recv a;
	struct rng r;
	uint32_t id;

	rng_init(&r, fuzz_seed, 0x7ec);
	pca_t_diag(t, "seed %#llx (rerun: fuzz_test -s %#llx -t recv)",
		   (unsigned long long)fuzz_seed,
		   (unsigned long long)fuzz_seed);
	PCA_ASSERT(t, !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
		   "socketpair: %s", strerror(errno));
	region = pca_region_create(RECV_FUZZ_PAGES * PAGE, 0, &id);
	PCA_ASSERT(t, region >= 0, "region: %s", strerror(-region));
	mem = mmap(NULL, RECV_FUZZ_PAGES * PAGE, PROT_READ, MAP_SHARED, region,
		   0);
	unmapped = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	PCA_ASSERT(t, mem != MAP_FAILED && unmapped != MAP_FAILED, "mmap");
	munmap(unmapped, PAGE);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	others[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	PCA_ASSERT(t, devnull >= 0 && others[0] >= 0 &&
		   !socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0,
			       others + 1) &&
		   !socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
			       others + 3), "sockets: %s", strerror(errno));
	memset(page, 0, sizeof(page));

	for (round = 0; round < RECV_FUZZ_ROUNDS; round++) {
		enum recv_defect d = chance(&r, 30) ? RD_NONE :
				     rbelow(&r, RD_NR);
		uint64_t count = 1 + rbelow(&r, 4), k;

		/* the units a good call takes, stamped in stream order */
		for (k = 0; k < count; k++) {
			*(uint64_t *)page = recv_stamp(sent++);
			PCA_ASSERT_EQ(t, send(fds[1], page, PAGE, 0), PAGE);
		}
		for (k = 0; k < PCA_RECV_MAX + 1; k++)
			offs[k] = rbelow(&r, RECV_FUZZ_PAGES) * PAGE;
		memset(&a, 0, sizeof(a));
		a.sockfd = fds[0];
		a.entries = (uintptr_t)offs;
		a.count = count;
		a.received = ~0ULL;
		expect = 0;
		switch (d) {
		case RD_NONE:
			break;
		case RD_FD_NEG:
			a.sockfd = (uint64_t)-1 - rbelow(&r, 2);
			expect = -EBADF;
			break;
		case RD_FD_CLOSED:
			a.sockfd = 900 + rbelow(&r, 100);
			expect = -EBADF;
			break;
		case RD_FD_HUGE:
			a.sockfd = 1ULL << (31 + rbelow(&r, 32));
			expect = -EBADF;
			break;
		case RD_FD_FILE:
			a.sockfd = devnull;
			expect = -ENOTSOCK;
			break;
		case RD_FD_REGION:
			a.sockfd = region;
			expect = -ENOTSOCK;
			break;
		case RD_UDP:
			a.sockfd = others[0];
			expect = -EINVAL;
			break;
		case RD_UNIX_DGRAM:
			a.sockfd = others[1];
			expect = -EINVAL;
			break;
		case RD_SEQPACKET:
			a.sockfd = others[3];
			expect = -EINVAL;
			break;
		case RD_NETLINK:
			a.sockfd = pca_client_fd(t->c);
			expect = -EINVAL;
			break;
		case RD_COUNT_ZERO:
			a.count = 0;
			break;
		case RD_COUNT_MAX:
			a.count = PCA_RECV_MAX + 1;
			expect = -E2BIG;
			break;
		case RD_COUNT_HUGE:
			a.count = interesting[rbelow(&r, sizeof(interesting) /
						     sizeof(interesting[0]))];
			if (a.count <= PCA_RECV_MAX)
				a.count = UINT64_MAX - a.count;
			expect = -E2BIG;
			break;
		case RD_UNALIGNED:
			offs[rbelow(&r, count)] += 1 + rbelow(&r, PAGE - 1);
			expect = -EINVAL;
			break;
		case RD_OUTSIDE:
			offs[rbelow(&r, count)] = (RECV_FUZZ_PAGES +
						   rbelow(&r, 1 << 20)) * PAGE;
			expect = -ERANGE;
			break;
		case RD_ENTRIES_NULL:
			a.entries = 0;
			expect = -EFAULT;
			break;
		case RD_ENTRIES_UNMAPPED:
			a.entries = (uintptr_t)unmapped + rbelow(&r, PAGE);
			expect = -EFAULT;
			break;
		case RD_ENTRIES_KERNEL:
			a.entries = 0xffff888000000000ULL + rbelow(&r, 1 << 30);
			expect = -EFAULT;
			break;
		case RD_FLAGS:
			/* DONTWAKE and OVERWRITE are the known ones */
			a.flags = 1ULL << (2 + rbelow(&r, 62));
			expect = -EINVAL;
			break;
		case RD_RESERVED:
			a.reserved[rbelow(&r, 3)] = 1 + rbelow(&r, 1000);
			expect = -EINVAL;
			break;
		case RD_ARG_NULL:
			expect = -EFAULT;
			break;
		case RD_NR:
			break;
		}
		if (d == RD_ARG_NULL)
			ret = ioctl(region, PCA_IOC_RECV, NULL) < 0 ? -errno : 0;
		else
			ret = recv_raw(region, &a);
		/* present pages are dropped, not placed: -EEXIST is fine */
		if (!expect && ret == -EEXIST)
			ret = 0;
		if (ret != expect)
			fuzz_wrong("RECV defect %d: %d, expected %d", d, ret,
				   expect);
		if (d != RD_ARG_NULL && a.received != (ret ? 0 : a.count))
			fuzz_wrong("RECV defect %d: received %llu", d,
				   (unsigned long long)a.received);
		/* each page holds the first unit sent to it in the call */
		for (k = 0; !ret && k < a.count; k++) {
			uint64_t j, want = recv_stamp(taken + k), got;

			for (j = 0; j < k && offs[j] != offs[k]; j++)
				;
			if (j < k)
				continue;
			got = *(volatile uint64_t *)(mem + offs[k]);
			if (got != want)
				fuzz_wrong("RECV: page %#llx holds %#llx, not %#llx",
					   (unsigned long long)offs[k],
					   (unsigned long long)got,
					   (unsigned long long)want);
		}
		if (!ret) {
			n_ok++;
			taken += a.count;
		}
		/* whatever failed left its units in the stream: take them */
		if (taken < sent) {
			uint64_t got = 0, left = sent - taken;

			for (k = 0; k < left; k++)
				offs[k] = rbelow(&r, RECV_FUZZ_PAGES) * PAGE;
			ret = pca_fd_recv(region, fds[0], offs, left, 0, &got);
			if ((ret && ret != -EEXIST) || got != left)
				fuzz_wrong("RECV after defect %d: %d, %llu of %llu",
					   d, ret, (unsigned long long)got,
					   (unsigned long long)left);
			taken += got;
		}
		/* the next round's pages are all new */
		memset(&dr, 0, sizeof(dr));
		dr.len = RECV_FUZZ_PAGES * PAGE;
		if (ioctl(region, PCA_IOC_DISCARD, &dr))
			fuzz_wrong("DISCARD: %s", strerror(errno));
	}
	pca_t_diag(t, "%d rounds, %llu good calls, %llu units",
		   RECV_FUZZ_ROUNDS, (unsigned long long)n_ok,
		   (unsigned long long)taken);
	PCA_EXPECT_EQ(t, taken, sent);

	/* peers ending the stream anywhere: whole units placed, no part */
	for (round = 0; round < 20; round++) {
		size_t len = 1 + rbelow(&r, 4 * PAGE - 1), k;
		struct pca_region_info info;
		uint64_t got = ~0ULL;
		uint8_t *buf = calloc(1, 4 * PAGE);
		int p[2], m;

		PCA_ASSERT(t, buf, "calloc");
		m = pca_region_create(4 * PAGE, PCA_REGION_MISSING, &id);
		PCA_ASSERT(t, m >= 0 && !socketpair(AF_UNIX, SOCK_STREAM |
						   SOCK_CLOEXEC, 0, p),
			   "region or socketpair");
		for (k = 0; k < 4; k++)
			offs[k] = k * PAGE;
		PCA_ASSERT_EQ(t, send(p[1], buf, len, 0), (ssize_t)len);
		close(p[1]);
		ret = pca_fd_recv(m, p[0], offs, 4, 0, &got);
		if (ret != -ECONNRESET || got != len / PAGE)
			fuzz_wrong("RECV of %zu bytes then EOF: %d, %llu units",
				   len, ret, (unsigned long long)got);
		PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
		if (info.pages_present != len / PAGE)
			fuzz_wrong("RECV of %zu bytes then EOF: %llu present",
				   len, (unsigned long long)info.pages_present);
		close(p[0]);
		close(m);
		free(buf);
	}

	for (i = 0; i < 5; i++)
		close(others[i]);
	close(devnull);
	munmap(mem, RECV_FUZZ_PAGES * PAGE);
	close(region);
	close(fds[0]);
	close(fds[1]);
	wrong_check(t, wrong0);
}

/* -------------------------------------------------------------------------
 * main
 */

PCA_TEST_F(netlink, test_netlink, 0)
PCA_TEST_F(ioctl, test_ioctl, PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(mmap, test_mmap, PCA_FEATURE_MISSING)
PCA_TEST_F(concurrent, test_concurrent,
	 PCA_FEATURE_MISSING | PCA_FEATURE_FD_RESOLVE |
	 PCA_FEATURE_COPY_BATCH | PCA_FEATURE_WAIT_POLICY)
PCA_TEST_F(ring, test_ring, PCA_FEATURE_FAULT_RING | PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(reopen_race, test_reopen_race, PCA_FEATURE_MISSING)
PCA_TEST_F(report_race, test_report_race,
	 PCA_FEATURE_DIRTY_LOG | PCA_FEATURE_DISCARD |
	 PCA_FEATURE_FD_RESOLVE, .timeout = 240)
PCA_TEST_F(recv, test_recv, PCA_FEATURE_RECV)
PCA_TEST_F(no_leaks, test_no_leaks, 0)

/* atexit(): what the fuzzer did, for the log; the harness's process only. */
static pid_t fuzz_main_pid;

static void fuzz_summary(void)
{
	uint64_t total = 0;
	int i;

	if (getpid() != fuzz_main_pid)
		return;
	for (i = 0; i < P_NR; i++)
		total += atomic_load(&shared->ops[i]);
	if (total) {
		char errs[512];
		size_t off = 0;

		off += snprintf(errs, sizeof(errs), "ok:%llu",
				(unsigned long long)atomic_load(&shared->ok));
		for (i = 0; i < 160 && off < sizeof(errs); i++)
			if (atomic_load(&shared->errs[i]))
				off += snprintf(errs + off, sizeof(errs) - off,
						" %s:%llu", strerrorname_np(i) ?
						strerrorname_np(i) : "?",
						(unsigned long long)
						atomic_load(&shared->errs[i]));
		printf("# fuzz_test: results %s\n", errs);
		printf("# fuzz_test: %llu huge regions\n",
		       (unsigned long long)atomic_load(&shared->huge_regions));
		if (atomic_load(&shared->no_answer))
			printf("# fuzz_test: %llu requests got no answer within 2 s\n",
			       (unsigned long long)atomic_load(&shared->no_answer));
		printf("# fuzz_test: seed %#llx, %llu operations done (netlink %llu, ioctl %llu, mmap %llu, concurrent %llu); rerun: fuzz_test -s %#llx -n %llu\n",
		       (unsigned long long)fuzz_seed, (unsigned long long)total,
		       (unsigned long long)atomic_load(&shared->ops[P_NETLINK]),
		       (unsigned long long)atomic_load(&shared->ops[P_IOCTL]),
		       (unsigned long long)atomic_load(&shared->ops[P_MMAP]),
		       (unsigned long long)atomic_load(&shared->ops[P_CONCURRENT]),
		       (unsigned long long)fuzz_seed,
		       (unsigned long long)fuzz_ops);
	}
}

int main(int argc, char **argv)
{
	char **rest = calloc(argc + 1, sizeof(*rest));
	const char *e;
	int i, nrest = 0;

	e = getenv("PCA_FUZZ_SEED");
	fuzz_seed = e ? strtoull(e, NULL, 0) : 0;
	if (!e) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fuzz_seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ ts.tv_nsec ^
			    ((uint64_t)getpid() << 32);
		fuzz_seed &= 0xffffffffffffULL;
	}
	e = getenv("PCA_TIMEOUT_SCALE");
	if (e && atoi(e) > 1)
		wait_scale = atoi(e);
	e = getenv("PCA_FUZZ_VERBOSE");
	fuzz_verbose = e && atoi(e);
	e = getenv("PCA_FUZZ_OPS");
	if (e)
		fuzz_ops = strtoull(e, NULL, 0);

	/* -s and -n are ours; the rest goes to the harness */
	rest[nrest++] = argv[0];
	for (i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-s") || !strcmp(argv[i], "-n")) &&
		    i + 1 < argc) {
			if (argv[i][1] == 's')
				fuzz_seed = strtoull(argv[i + 1], NULL, 0);
			else
				fuzz_ops = strtoull(argv[i + 1], NULL, 0);
			i++;
		} else if (!strncmp(argv[i], "-s", 2) && argv[i][2]) {
			fuzz_seed = strtoull(argv[i] + 2, NULL, 0);
		} else if (!strncmp(argv[i], "-n", 2) && argv[i][2]) {
			fuzz_ops = strtoull(argv[i] + 2, NULL, 0);
		} else if (!strcmp(argv[i], "-h")) {
			fprintf(stderr, "Usage: %s [-s SEED] [-n OPS] [-l] [-t TEST]... [-r FIXTURE.TEST]...\n",
				argv[0]);
			return 0;
		} else {
			rest[nrest++] = argv[i];
		}
	}

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}
	/* Time limits grow with the work: only a hang should hit them. */
	PCA_SET_TIMEOUT(netlink, 60 + part_ops(P_NETLINK) / 100);
	PCA_SET_TIMEOUT(ioctl, 60 + part_ops(P_IOCTL) / 100);
	PCA_SET_TIMEOUT(mmap, 60 + part_ops(P_MMAP) / 100);
	PCA_SET_TIMEOUT(concurrent, 60 + part_ops(P_CONCURRENT) / 100);

	fuzz_main_pid = getpid();
	atexit(fuzz_summary);
	return test_harness_run(nrest, rest);
}
