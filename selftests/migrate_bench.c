// SPDX-License-Identifier: GPL-2.0
/*
 * migrate_bench: the destination's two backends side by side, one live
 * migration engine.
 *
 * Each test migrates the same region with the same workload
 * (tools/workload/workload.c) through the module backend (a missing-mode
 * region, faults from the module's queue, pages placed with the region
 * fd's ioctls) and through the userfaultfd backend (a memfd mapped shared, or
 * with -u anon anonymous memory, registered with userfaultfd; UFFDIO_COPY
 * and UFFDIO_ZEROPAGE), -r times each, alternating which goes first.
 * Source and destination run in two network namespaces joined by a veth
 * pair with tc netem on both ends; the source is a module region in both
 * cases.  Nothing differs but the destination's backend: same engine,
 * channels, rounds, downtime target, writers and rates.
 *
 * fast_postcopy, fast_precopy - "delay 1ms rate 1gbit"
 * slow_postcopy, slow_precopy - "delay 5ms rate 100mbit"
 *	postcopy: no precopy round, the source pauses at once, every page
 *	moves after the switchover (background stream and faults).
 *	precopy: one precopy round with a writer at 1000 pages/s and a 1 ms
 *	downtime target, so what was dirtied meanwhile moves in postcopy.
 *
 * Reported, the median of the runs, each as a "# " row and one line
 *	BENCH-JSON {"name":...,"ours":X,"baseline":Y,"unit":U,"ratio":R}
 * (the format of fault_bench and dirty_bench) with ours = the module
 * backend, baseline = the userfaultfd backend and R = baseline / ours:
 * every figure is lower-is-better, so R > 1 means the module did better.
 *	total_ms	the destination's migration time
 *	downtime_ms	source pause to destination resume
 *	faults		postcopy faults on the destination
 *	fault_p50_us, fault_p99_us	the engine's fault latency.  Not
 *		measured from the same point: the module stamps a fault
 *		when it is raised, userfaultfd faults are stamped when the
 *		engine reads them, which leaves out the time they waited to
 *		be read and flatters userfaultfd.
 *	touch_p50_us, touch_p99_us	the first read of each page by a
 *		destination vCPU while the engine ran, timed by the vCPU
 *		around the read: what the guest waits, measured the same
 *		way for both.
 * urgent_push - "delay 1ms rate 40mbit": fault latency with the
 *	background stream running, the source's data channels paced, as
 *	before, paced and capped below the link's rate, with cubic instead
 *	of BBR, or capped far below the link (a light push), and the
 *	stream's share of the link (see below).
 * postcopy_push - "delay 1ms rate 1gbit", postcopy only, the module
 *	backend both ways: the postcopy push on one vegas channel (the
 *	default) against every channel pushing with BBR.
 *
 * switchover_256m - NET_FAST, a 256 MiB region, 2 precopy rounds with two
 *	writers at 2000 pages/s each and a 20 ms downtime target (the
 *	demo's migration, without TLS): the downtime and its phases, module
 *	against userfaultfd.  Rows switchover_256m_<x>_ms, x = total,
 *	downtime, final_pass (the source: the dirty log's last read, the
 *	stop-and-copy pass, the discard bitmap sent), wait (the destination:
 *	the bitmap arrived -> every data channel ended), discard (the stale
 *	pages made missing, the precopy sealed; userfaultfd: a punch-hole
 *	per run of stale pages of its memfd) and resume (discard done ->
 *	SWITCHED sent and the VMM told to run).  One run per backend
 *	(-R for more: each takes most of a minute under TCG).  Rows
 *	switchover_256m_prepause_<x>_ms, x = downtime, discard: the module
 *	with the discard before the pause (the default) against the module
 *	without it (--no-prepause-discard), a third run.
 * discard_stale - no migration: a 256 MiB module region with every page
 *	present, PCA_IOC_DISCARD_BITMAP with PCA_DISCARD_SEAL of 1 % and of
 *	10 % of its pages (spread over the region, every run one page long),
 *	against fallocate(PUNCH_HOLE) of the same pages of a 256 MiB memfd
 *	with every page written (what the userfaultfd backend does at
 *	switchover).  Rows discard_1pct_stale_ms, discard_10pct_stale_ms
 *	and discard_stale_10_over_1 (unit x: the 10 % time over the 1 %
 *	time; 10 is proportional to the pages named).
 *
 * Every migration must complete with every page verified, or the test
 * fails.  A table of all rows follows the KTAP totals.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#include "pca_harness.h"
#include "pca_region_util.h"
#include "bench_report.h"
#include "mig.h"
#include "workload.h"

#define MAX_REPEATS	9
#define MIG_FEATURES	(PCA_FEATURE_MISSING | PCA_FEATURE_WAIT_POLICY | \
			 PCA_FEATURE_COPY_BATCH | PCA_FEATURE_FD_RESOLVE | \
			 PCA_FEATURE_DIRTY_LOG)

#define NET_FAST	"delay 1ms rate 1gbit"
#define NET_SLOW	"delay 5ms rate 100mbit"

static struct {
	int repeats;		/* -r */
	int sw_repeats;		/* -R: switchover_256m's runs */
	unsigned int mib;	/* -s */
	enum wl_uffd uffd;	/* -u */
} cfg = {
	.repeats = 3,
	.sw_repeats = 1,
	.mib = 8,
	.uffd = WL_UFFD_MEMFD,
};

/* ours: the module backend; baseline: userfaultfd */
static const struct bench_style style = {
	.ours = "module", .base = "uffd",
	.ratio = "ratio (uffd/module, >1: module better)",
	.name_w = 28, .num_w = 10, .unit_w = 3, .table_unit_w = 4,
	.num_fmt = "%.2f",
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

enum { M_TOTAL, M_DOWN, M_FAULTS, M_FP50, M_FP99, M_TP50, M_TP99, M_NR };

static const struct {
	const char *name, *unit;
} metrics[M_NR] = {
	[M_TOTAL] = { "total_ms", "ms" },
	[M_DOWN] = { "downtime_ms", "ms" },
	[M_FAULTS] = { "faults", "n" },
	[M_FP50] = { "fault_p50_us", "us" },
	[M_FP99] = { "fault_p99_us", "us" },
	[M_TP50] = { "touch_p50_us", "us" },
	[M_TP99] = { "touch_p99_us", "us" },
};

static void opts(struct wl_opts *o, const char *netem, int precopy)
{
	wl_opts_init(o);
	o->size = (uint64_t)cfg.mib << 20;
	o->io_timeout_ms = pca_scaled_ms(5000);
	o->recover_timeout_ms = pca_scaled_ms(15000);
	o->netem = netem;
	o->writers = 2;
	o->dest_rate = 3000;
	/* the backends compared over plain TCP; TLS has its own rows */
	o->tls = MIG_TLS_INSECURE;
	if (precopy) {
		o->rounds = 1;
		o->rate = 1000;
		o->downtime_ms = 1;
	} else {
		o->rounds = 0;
	}
}

/*
 * The postcopy push: the default (vegas on one channel, on every channel
 * once the sender's CPU holds it back), every channel with the data
 * channels' BBR, one channel with vegas, every channel with vegas, one
 * channel with BBR.
 */
enum { P_DEFAULT, P_ALL_BBR, P_ONE_VEGAS, P_ALL_VEGAS, P_ONE_BBR, P_NR };

/* One migration with postcopy push @push; its figures into @v. */
static void run_push(struct pca_test_ctx *t, const char *netem, int precopy,
		     enum wl_uffd uffd, int push, double *v)
{
	const struct mig_result *d;
	struct wl_result r;
	struct wl_opts o;
	int ret;

	opts(&o, netem, precopy);
	o.uffd = uffd;
	if (push == P_ALL_BBR || push == P_ALL_VEGAS)
		o.postcopy_channels = -1;
	if (push == P_ONE_VEGAS || push == P_ONE_BBR)
		o.postcopy_channels = 1;
	if (push == P_ALL_BBR || push == P_ONE_BBR)
		o.postcopy_cc = "";
	ret = wl_run(&o, &r);
	d = &r.dst;
	pca_t_diag(t, "%-6s %s postcopy push %u x %s, total %.1f ms downtime %.1f ms faults %llu (remote %llu) fault p50/p99 %llu/%llu us touch p50/p99 %llu/%llu us (%llu) reconnects %llu",
		   uffd ? "uffd" : "module", r.ok ? "OK" : "FAILED",
		   r.src.postcopy_pushers,
		   *r.src.postcopy_cc ? r.src.postcopy_cc : "?",
		   d->total_ns / 1e6, d->downtime_ns / 1e6,
		   (unsigned long long)d->faults,
		   (unsigned long long)d->faults_remote,
		   (unsigned long long)(d->lat_p50_ns / 1000),
		   (unsigned long long)(d->lat_p99_ns / 1000),
		   (unsigned long long)(r.touch_p50_ns / 1000),
		   (unsigned long long)(r.touch_p99_ns / 1000),
		   (unsigned long long)r.touch_count,
		   (unsigned long long)d->reconnects);
	if (ret || !r.ok || r.mismatches || r.dest_bad)
		PCA_FATAL(t, "%s migration failed: %s",
			  uffd ? "userfaultfd" : "module", r.error);
	v[M_TOTAL] = d->total_ns / 1e6;
	v[M_DOWN] = d->downtime_ns / 1e6;
	v[M_FAULTS] = d->faults;
	v[M_FP50] = d->lat_p50_ns / 1e3;
	v[M_FP99] = d->lat_p99_ns / 1e3;
	v[M_TP50] = r.touch_p50_ns / 1e3;
	v[M_TP99] = r.touch_p99_ns / 1e3;
}

static void run_one(struct pca_test_ctx *t, const char *netem, int precopy,
		    enum wl_uffd uffd, double *v)
{
	run_push(t, netem, precopy, uffd, P_DEFAULT, v);
}

static void scenario(struct pca_test_ctx *t, const char *tag,
		     const char *netem, int precopy)
{
	double mod[M_NR][MAX_REPEATS], uf[M_NR][MAX_REPEATS], v[M_NR];
	char name[48];
	int i, m;

	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	pca_t_diag(t, "%u MiB, netem \"%s\", %s, %d runs per backend, uffd memory %s",
		   cfg.mib, netem,
		   precopy ? "1 precopy round, writer 1000 pages/s, downtime target 1 ms" :
			     "postcopy only",
		   cfg.repeats, cfg.uffd == WL_UFFD_MEMFD ? "memfd" : "anonymous");
	pca_t_diag(t, "module = ours, uffd = baseline; every figure is lower-is-better, ratio = uffd / module: > 1 means the module did better");
	for (i = 0; i < cfg.repeats; i++) {
		/* alternate the order: neither backend always goes first */
		int first_uffd = i % 2;

		run_one(t, netem, precopy, first_uffd ? cfg.uffd : 0, v);
		for (m = 0; m < M_NR; m++)
			(first_uffd ? uf : mod)[m][i] = v[m];
		run_one(t, netem, precopy, first_uffd ? 0 : cfg.uffd, v);
		for (m = 0; m < M_NR; m++)
			(first_uffd ? mod : uf)[m][i] = v[m];
	}
	for (m = 0; m < M_NR; m++) {
		snprintf(name, sizeof(name), "%s_%s", tag, metrics[m].name);
		bench_row(name, metrics[m].unit, true,
			  true, median(mod[m], cfg.repeats),
			  true, median(uf[m], cfg.repeats));
	}
}

static void test_fast_postcopy(struct pca_test_ctx *t)
{
	scenario(t, "fast_postcopy", NET_FAST, 0);
}

static void test_fast_precopy(struct pca_test_ctx *t)
{
	scenario(t, "fast_precopy", NET_FAST, 1);
}

/*
 * postcopy_push: what the default postcopy push (vegas, on one channel
 * until the sender's CPU holds it back, then on all) costs where the
 * link is fast, against every channel pushing with BBR; postcopy only,
 * NET_FAST, the module backend every way.  Rows
 * postcopy_push_fast_<metric>: "module" = the default, "uffd" = every
 * channel with BBR.  postcopy_push_fast_one_vegas_<x>, _all_vegas_<x>
 * and _one_bbr_<x> (x = total_ms, fault_p50_us, fault_p99_us): vegas on
 * one channel throughout, on every channel, and BBR on one channel,
 * against every channel with BBR: which change costs or gains what.
 */
static void test_postcopy_push(struct pca_test_ctx *t)
{
	static const char *const tag[P_NR] = {
		"default", "all_bbr", "one_vegas", "all_vegas", "one_bbr",
	};
	static const int other[] = { M_TOTAL, M_FP50, M_FP99 };
	double res[P_NR][M_NR][MAX_REPEATS], v[M_NR];
	char name[64];
	int i, k, m;

	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	pca_t_diag(t, "%u MiB, netem \"%s\", postcopy only, %d runs each; \"module\" = the default postcopy push (vegas, one channel until the CPU holds it back), or as the row says, \"uffd\" = on every channel with bbr; ratio > 1: \"module\" did better",
		   cfg.mib, NET_FAST, cfg.repeats);
	for (i = 0; i < cfg.repeats; i++) {
		for (k = 0; k < P_NR; k++) {
			/* rotate the order: none always goes first */
			int push = (k + i) % P_NR;

			run_push(t, NET_FAST, 0, 0, push, v);
			for (m = 0; m < M_NR; m++)
				res[push][m][i] = v[m];
		}
	}
	for (m = 0; m < M_NR; m++) {
		if (m == M_DOWN)
			continue;
		snprintf(name, sizeof(name), "postcopy_push_fast_%s",
			 metrics[m].name);
		bench_row(name, metrics[m].unit, true,
			  true, median(res[P_DEFAULT][m], cfg.repeats),
			  true, median(res[P_ALL_BBR][m], cfg.repeats));
	}
	for (k = P_ONE_VEGAS; k < P_NR; k++) {
		for (i = 0; i < (int)ARRAY_SIZE(other); i++) {
			m = other[i];
			snprintf(name, sizeof(name), "postcopy_push_fast_%s_%s",
				 tag[k], metrics[m].name);
			bench_row(name, metrics[m].unit, true, true,
				  median(res[k][m], cfg.repeats), true,
				  median(res[P_ALL_BBR][m], cfg.repeats));
		}
	}
}

static void test_slow_postcopy(struct pca_test_ctx *t)
{
	scenario(t, "slow_postcopy", NET_SLOW, 0);
}

static void test_slow_precopy(struct pca_test_ctx *t)
{
	scenario(t, "slow_precopy", NET_SLOW, 1);
}

/*
 * The cost of TLS: the same migration (module backend) over plain TCP
 * (--insecure), kernel TLS and user-space TLS.  Rows tls_ktls_* and
 * tls_user_* hold the TLS run in the "module" column and the plain TCP
 * run in the "uffd" column: ratio = plain / TLS, 1 means TLS costs
 * nothing (for MiB/s, higher is better: ratio TLS / plain).
 *
 * The ceiling, in the same guest run and over the same link: before
 * each repeat's first migration, -s MiB over one connection as plain
 * TCP, kernel TLS and user-space GnuTLS (tools/workload's probe: the
 * engine's 16 KiB sendmsg() calls, TLS 1.3 AES-128-GCM, a fixed test
 * key).  Rows tls_ceiling_ktls_vs_plain_<scenario> and
 * tls_ceiling_gnutls_vs_plain_<scenario>: "module" = the TLS stream,
 * "uffd" = plain TCP, MiB/s, ratio = TLS / plain: what the kernel's (or
 * GnuTLS's) AES-GCM leaves of the link on this CPU.  Then the plain
 * TCP and the kernel TLS stream again, with a connection of the same
 * kind over the destination's loopback timing a fault's round trip
 * (32-byte request, 4 KiB answer, one a millisecond) beside each: the
 * CPU time a stream holds a woken thread back, not the link's queue:
 * rows tls_ceiling_ping_p50_us_<scenario> and _p99_us_,
 * "module" = beside kernel TLS, "uffd" = beside plain TCP, ratio =
 * plain / kernel TLS.  The round trip beside kernel TLS is in kernel
 * TLS itself and pays for its own AES-GCM: that much below 1 is its
 * cost, what changes with the stream's send size or the kernel's
 * preemption model is the stream's.  Rows
 * migrate_ktls_vs_ceiling_<scenario> and migrate_user_vs_ceiling_<...>:
 * "module" = the migration's stream over TLS / over plain TCP (median
 * of each repeat's ratio), "uffd" = the ceiling's kernel TLS (or
 * GnuTLS) / plain TCP (median of each probe's ratio), ratio =
 * the share of what TLS allows at all that the migration reaches
 * (1: TLS costs the migration no more than it costs a bare stream).
 */
enum { T_TOTAL, T_DOWN, T_FP50, T_FP99, T_MIBS, T_NR };

static const struct {
	const char *name, *unit;
	bool lower;
} tmetrics[T_NR] = {
	[T_TOTAL] = { "total_ms", "ms", true },
	[T_DOWN] = { "downtime_ms", "ms", true },
	[T_FP50] = { "fault_p50_us", "us", true },
	[T_FP99] = { "fault_p99_us", "us", true },
	[T_MIBS] = { "stream_mibs", "MiB/s", false },
};

enum { K_PLAIN, K_KTLS, K_USER, K_NR };
static const char *const kind_name[K_NR] = { "plain", "ktls", "user" };

/*
 * the ceiling: plain TCP, kernel TLS, GnuTLS (MiB/s); a fault's round
 * trip beside the plain and the kernel TLS stream, p50 and p99 (us)
 */
enum {
	C_PLAIN, C_KTLS, C_GNUTLS, C_PING50_PLAIN, C_PING99_PLAIN,
	C_PING50_KTLS, C_PING99_KTLS, C_NR
};

static void tls_run(struct pca_test_ctx *t, const char *netem, int precopy,
		    int kind, double *v, double *ceil)
{
	const struct mig_result *d;
	struct wl_result r;
	struct wl_opts o;
	int ret;

	opts(&o, netem, precopy);
	if (kind != K_PLAIN) {
		o.tls = MIG_TLS_X509;
		o.tls_creds = "/etc/pca/tls/x509";
		o.tls_no_ktls = kind == K_USER;
	}
	if (ceil) {
		o.tcp_probe_mib = cfg.mib;
		o.tls_probe = 1;
	}
	ret = wl_run(&o, &r);
	if (ceil) {
		ceil[C_PLAIN] = r.tcp_mibs;
		ceil[C_KTLS] = r.ktls_mibs;
		ceil[C_GNUTLS] = r.gnutls_mibs;
		ceil[C_PING50_PLAIN] = r.tcp_ping_ns[0] / 1e3;
		ceil[C_PING99_PLAIN] = r.tcp_ping_ns[1] / 1e3;
		ceil[C_PING50_KTLS] = r.ktls_ping_ns[0] / 1e3;
		ceil[C_PING99_KTLS] = r.ktls_ping_ns[1] / 1e3;
		pca_t_diag(t, "ceiling, %u MiB over one connection: plain TCP %.1f MiB/s, kernel TLS %.1f MiB/s, GnuTLS %.1f MiB/s; a round trip beside plain TCP p50/p99 %.0f/%.0f us, beside kernel TLS %.0f/%.0f us",
			   cfg.mib, r.tcp_mibs, r.ktls_mibs, r.gnutls_mibs,
			   ceil[C_PING50_PLAIN], ceil[C_PING99_PLAIN],
			   ceil[C_PING50_KTLS], ceil[C_PING99_KTLS]);
		if (!r.tcp_mibs || !r.ktls_mibs || !r.gnutls_mibs ||
		    !r.tcp_ping_ns[0] || !r.ktls_ping_ns[0])
			PCA_FATAL(t, "the ceiling's probe failed (0 MiB/s or no round trip)");
	}
	d = &r.dst;
	pca_t_diag(t, "%-5s %s total %.1f ms downtime %.1f ms fault p50/p99 %llu/%llu us, %.1f MiB/s, TLS connections: %u kernel, %u user",
		   kind_name[kind], r.ok ? "OK" : "FAILED", d->total_ns / 1e6,
		   d->downtime_ns / 1e6,
		   (unsigned long long)(d->lat_p50_ns / 1000),
		   (unsigned long long)(d->lat_p99_ns / 1000),
		   d->total_ns ? d->bytes_received / 1048576.0 /
		   (d->total_ns / 1e9) : 0, d->tls_ktls, d->tls_user);
	if (ret || !r.ok || r.mismatches || r.dest_bad)
		PCA_FATAL(t, "%s migration failed: %s", kind_name[kind],
			  r.error);
	if (kind == K_KTLS && (!d->tls_ktls || d->tls_user))
		PCA_FATAL(t, "kernel TLS not in use (%u kernel, %u user)",
			  d->tls_ktls, d->tls_user);
	v[T_TOTAL] = d->total_ns / 1e6;
	v[T_DOWN] = d->downtime_ns / 1e6;
	v[T_FP50] = d->lat_p50_ns / 1e3;
	v[T_FP99] = d->lat_p99_ns / 1e3;
	/* what the destination took in, over the whole migration */
	v[T_MIBS] = d->total_ns ? d->bytes_received / 1048576.0 /
		    (d->total_ns / 1e9) : 0;
}

static void tls_scenario(struct pca_test_ctx *t, const char *tag,
			 const char *netem, int precopy)
{
	double res[K_NR][T_NR][MAX_REPEATS], v[T_NR];
	double ceil[C_NR][MAX_REPEATS], cr[2][MAX_REPEATS];
	double mr[2][MAX_REPEATS], c[C_NR];
	int i, k, m, n = 0;
	char name[64];

	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	pca_t_diag(t, "%u MiB, netem \"%s\", %s, %d runs each of plain TCP, kernel TLS, user-space TLS",
		   cfg.mib, netem, precopy ? "1 precopy round" :
		   "postcopy only", cfg.repeats);
	pca_t_diag(t, "tls_* rows: \"module\" = the TLS run, \"uffd\" = plain TCP (--insecure)");
	for (i = 0; i < cfg.repeats; i++) {
		for (k = 0; k < K_NR; k++) {
			/* rotate the order: none always goes first */
			int kind = (k + i) % K_NR;

			/* the probe before each repeat's first migration */
			tls_run(t, netem, precopy, kind, v, k ? NULL : c);
			for (m = 0; m < T_NR; m++)
				res[kind][m][i] = v[m];
			if (k)
				continue;
			/* the ceiling's ratios from one probe: the same load */
			for (m = 0; m < C_NR; m++)
				ceil[m][n] = c[m];
			cr[0][n] = c[C_KTLS] / c[C_PLAIN];
			cr[1][n++] = c[C_GNUTLS] / c[C_PLAIN];
		}
		mr[0][i] = res[K_KTLS][T_MIBS][i] / res[K_PLAIN][T_MIBS][i];
		mr[1][i] = res[K_USER][T_MIBS][i] / res[K_PLAIN][T_MIBS][i];
	}
	for (k = K_KTLS; k < K_NR; k++) {
		for (m = 0; m < T_NR; m++) {
			snprintf(name, sizeof(name), "tls_%s_%s_%s",
				 kind_name[k], tag, tmetrics[m].name);
			bench_row(name, tmetrics[m].unit, tmetrics[m].lower,
				  true, median(res[k][m], cfg.repeats),
				  true, median(res[K_PLAIN][m], cfg.repeats));
		}
	}
	for (m = 0; m < C_NR; m++)
		c[m] = median(ceil[m], n);
	snprintf(name, sizeof(name), "tls_ceiling_ktls_vs_plain_%s", tag);
	bench_row(name, "MiB/s", false, true, c[C_KTLS], true, c[C_PLAIN]);
	snprintf(name, sizeof(name), "tls_ceiling_gnutls_vs_plain_%s", tag);
	bench_row(name, "MiB/s", false, true, c[C_GNUTLS], true, c[C_PLAIN]);
	snprintf(name, sizeof(name), "tls_ceiling_ping_p50_us_%s", tag);
	bench_row(name, "us", true, true, c[C_PING50_KTLS],
		  true, c[C_PING50_PLAIN]);
	snprintf(name, sizeof(name), "tls_ceiling_ping_p99_us_%s", tag);
	bench_row(name, "us", true, true, c[C_PING99_KTLS],
		  true, c[C_PING99_PLAIN]);
	/*
	 * Ratios of one repeat's migrations and of one probe's streams,
	 * medians of those: the load of a shared host drifts between runs.
	 */
	snprintf(name, sizeof(name), "migrate_ktls_vs_ceiling_%s", tag);
	bench_row(name, "x", false, true, median(mr[0], cfg.repeats),
		  true, median(cr[0], n));
	snprintf(name, sizeof(name), "migrate_user_vs_ceiling_%s", tag);
	bench_row(name, "x", false, true, median(mr[1], cfg.repeats),
		  true, median(cr[1], n));
}

static void test_tls_postcopy(struct pca_test_ctx *t)
{
	tls_scenario(t, "fast_postcopy", NET_FAST, 0);
}

static void test_tls_precopy(struct pca_test_ctx *t)
{
	tls_scenario(t, "fast_precopy", NET_FAST, 1);
}

/*
 * Urgent pages behind the push: postcopy only over a slow link
 * (NET_URGENT), with the background stream running the whole time and
 * faults at 300 pages/s.  "module" = the data channels as the source
 * sets them up (push_cc, push_lowat: BBR paces at the bottleneck rate
 * and keeps its queue short; in postcopy one of them pushes, with vegas:
 * postcopy_cc, postcopy_channels), "uffd" = as before (the system's
 * congestion control, unsent bytes unlimited, every channel pushing),
 * both with the module backend.  Rows: urgent_push_fault_p50_us and _p99_us (lower is
 * better), and urgent_push_mibs and urgent_push_legacy_mibs, what the
 * destination took in over the whole migration (handshakes and
 * switchover included) against plain TCP over the same link in the same
 * guest run (one connection, the system's congestion control, measured
 * before the first migration of each repeat): ratio = the share of the
 * ceiling.
 *
 * urgent_push_capped_*: the default data channels with their rate
 * together capped at URGENT_CAP_PCT % of the link's rate
 * (mig_config.push_max_rate, as an operator sets QEMU's
 * max-postcopy-bandwidth), against the default ones ("uffd" column) for
 * the fault rows and against plain TCP for _mibs.
 *
 * urgent_push_cubic_*: the data channels with cubic instead of BBR
 * (push_cc "cubic", the unsent-bytes limit as by default) against the
 * default ones: what the congestion control alone changes.
 * urgent_push_light_*: the push capped at URGENT_LIGHT_PCT % of the link,
 * too little to build a queue anywhere, a quarter of the region (faults
 * move most of it), against the default: the fault latency of this guest
 * and engine with hardly any push beside it.
 * urgent_push_1ch_*: the default data channels, one instead of four (the
 * destination's mig_config.channels), against the default: how much of
 * the queue the number of BBR flows makes.
 * urgent_push_vegas_*, urgent_push_lp_*: the data channels with a
 * delay-based congestion control, vegas (a few packets queued per flow)
 * and lp (TCP-LP: yields as soon as the one-way delay grows), against the
 * default: whether a push that backs off on queueing delay leaves the
 * bottleneck to the urgent pages.  urgent_push_vegas_1ch_*: vegas on one
 * data channel, so that one flow's few packets are all that is queued.
 * These variants keep their channels and congestion control through
 * postcopy (postcopy_channels all, postcopy_cc as push_cc).
 * urgent_push_allch_*: the push as before postcopy_cc and
 * postcopy_channels (BBR on all four channels) against the default.
 */
#define NET_URGENT	"delay 1ms rate 40mbit"
#define URGENT_LINK_BPS	(40000000 / 8)
#define URGENT_CAP_PCT	90

#define URGENT_LIGHT_PCT 10

enum { U_FP50, U_FP99, U_MIBS, U_TCP, U_NR };
enum {
	V_PACED, V_LEGACY, V_CAPPED, V_CUBIC, V_LIGHT, V_ONE, V_VEGAS, V_LP,
	V_VEGAS_ONE, V_ALL, V_NR
};
static const char *const variant_name[] = {
	"paced", "legacy", "capped", "cubic", "light", "1ch", "vegas", "lp",
	"vegas1", "allch",
};

static void urgent_run(struct pca_test_ctx *t, int variant, int probe,
		       double *v)
{
	const struct mig_result *d;
	struct wl_result r;
	struct wl_opts o;
	int ret;

	opts(&o, NET_URGENT, 0);
	o.dest_rate = 300;
	o.push_legacy = variant == V_LEGACY;
	if (variant == V_CAPPED || variant == V_LIGHT)
		o.push_max_rate = (uint64_t)URGENT_LINK_BPS *
				  (variant == V_LIGHT ? URGENT_LIGHT_PCT :
				   URGENT_CAP_PCT) / 100;
	if (variant == V_CUBIC)
		o.push_cc = "cubic";
	if (variant == V_VEGAS || variant == V_VEGAS_ONE)
		o.push_cc = "vegas";
	if (variant == V_LP)
		o.push_cc = "lp";
	if (variant == V_ONE || variant == V_VEGAS_ONE)
		o.channels = 1;
	/*
	 * Every variant but the default and its caps keeps its data
	 * channels through postcopy: what they set is what is measured.
	 */
	if (variant != V_PACED && variant != V_CAPPED && variant != V_LIGHT) {
		o.postcopy_channels = -1;
		o.postcopy_cc = "";
	}
	/*
	 * A quarter of the region: the light push takes most of it to
	 * faults at 300 pages/s, which would take four times as long.
	 */
	if (variant == V_LIGHT && cfg.mib >= 4)
		o.size /= 4;
	/* one plain TCP probe a repeat: each costs as much as a migration */
	o.tcp_probe_mib = probe ? cfg.mib : 0;
	ret = wl_run(&o, &r);
	d = &r.dst;
	v[U_FP50] = d->lat_p50_ns / 1e3;
	v[U_FP99] = d->lat_p99_ns / 1e3;
	v[U_MIBS] = d->total_ns ? d->bytes_received / 1048576.0 /
		    (d->total_ns / 1e9) : 0;
	v[U_TCP] = r.tcp_mibs;
	pca_t_diag(t, "%-6s %s cc %s, postcopy %u x %s, total %.1f ms faults %llu (remote %llu) fault p50/p99 %.0f/%.0f us touch p50/p99 %llu/%llu us, %.2f MiB/s (plain TCP %.2f) reconnects %llu",
		   variant_name[variant], r.ok ? "OK" : "FAILED",
		   r.have_src && *r.src.push_cc ? r.src.push_cc : "?",
		   r.src.postcopy_pushers,
		   *r.src.postcopy_cc ? r.src.postcopy_cc : "?",
		   d->total_ns / 1e6, (unsigned long long)d->faults,
		   (unsigned long long)d->faults_remote, v[U_FP50], v[U_FP99],
		   (unsigned long long)(r.touch_p50_ns / 1000),
		   (unsigned long long)(r.touch_p99_ns / 1000), v[U_MIBS],
		   v[U_TCP], (unsigned long long)d->reconnects);
	if (ret || !r.ok || r.mismatches || r.dest_bad)
		PCA_FATAL(t, "%s migration failed: %s",
			  variant_name[variant], r.error);
}

/*
 * urgent_push's rows: a variant's metric against another's (@base), or
 * against plain TCP over the same link (@base < 0).
 */
static const struct urgent_row {
	const char *name;
	int variant, metric, base;
} urgent_rows[] = {
	{ "urgent_push_fault_p50_us", V_PACED, U_FP50, V_LEGACY },
	{ "urgent_push_fault_p99_us", V_PACED, U_FP99, V_LEGACY },
	{ "urgent_push_mibs", V_PACED, U_MIBS, -1 },
	{ "urgent_push_legacy_mibs", V_LEGACY, U_MIBS, -1 },
	{ "urgent_push_capped_fault_p50_us", V_CAPPED, U_FP50, V_PACED },
	{ "urgent_push_capped_fault_p99_us", V_CAPPED, U_FP99, V_PACED },
	{ "urgent_push_capped_mibs", V_CAPPED, U_MIBS, -1 },
	{ "urgent_push_cubic_fault_p50_us", V_CUBIC, U_FP50, V_PACED },
	{ "urgent_push_cubic_fault_p99_us", V_CUBIC, U_FP99, V_PACED },
	{ "urgent_push_cubic_mibs", V_CUBIC, U_MIBS, -1 },
	{ "urgent_push_light_fault_p50_us", V_LIGHT, U_FP50, V_PACED },
	{ "urgent_push_light_fault_p99_us", V_LIGHT, U_FP99, V_PACED },
	{ "urgent_push_1ch_fault_p50_us", V_ONE, U_FP50, V_PACED },
	{ "urgent_push_1ch_fault_p99_us", V_ONE, U_FP99, V_PACED },
	{ "urgent_push_1ch_mibs", V_ONE, U_MIBS, -1 },
	{ "urgent_push_vegas_fault_p50_us", V_VEGAS, U_FP50, V_PACED },
	{ "urgent_push_vegas_fault_p99_us", V_VEGAS, U_FP99, V_PACED },
	{ "urgent_push_vegas_mibs", V_VEGAS, U_MIBS, -1 },
	{ "urgent_push_lp_fault_p50_us", V_LP, U_FP50, V_PACED },
	{ "urgent_push_lp_fault_p99_us", V_LP, U_FP99, V_PACED },
	{ "urgent_push_lp_mibs", V_LP, U_MIBS, -1 },
	{ "urgent_push_vegas_1ch_fault_p50_us", V_VEGAS_ONE, U_FP50, V_PACED },
	{ "urgent_push_vegas_1ch_fault_p99_us", V_VEGAS_ONE, U_FP99, V_PACED },
	{ "urgent_push_vegas_1ch_mibs", V_VEGAS_ONE, U_MIBS, -1 },
	{ "urgent_push_allch_fault_p50_us", V_ALL, U_FP50, V_PACED },
	{ "urgent_push_allch_fault_p99_us", V_ALL, U_FP99, V_PACED },
	{ "urgent_push_allch_mibs", V_ALL, U_MIBS, -1 },
};

static void test_urgent_push(struct pca_test_ctx *t)
{
	double res[V_NR][U_NR][MAX_REPEATS], tcp[MAX_REPEATS], v[U_NR];
	int i, k, m;

	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	pca_t_diag(t, "%u MiB, netem \"%s\", postcopy only, faults at 300 pages/s, %d runs each; target fault p99 <= 2 RTT + a page's transfer + 2 ms = %.1f ms",
		   cfg.mib, NET_URGENT, cfg.repeats,
		   2 * 2.0 + 4096 * 8 / 40e6 * 1e3 + 2);
	pca_t_diag(t, "urgent_push rows: \"module\" = paced data channels, \"uffd\" = as before; _mibs rows: \"uffd\" = plain TCP over the same link; urgent_push_capped rows: \"module\" = paced and capped at %d %% of the link, \"uffd\" = paced",
		   URGENT_CAP_PCT);
	pca_t_diag(t, "urgent_push_cubic rows: \"module\" = cubic, \"uffd\" = the default (bbr), both with the unsent-bytes limit; urgent_push_light rows: \"module\" = the push capped at %d %% of the link, \"uffd\" = the default; urgent_push_1ch rows: \"module\" = one data channel, \"uffd\" = the default (4); urgent_push_vegas, _lp and _vegas_1ch rows: \"module\" = that congestion control (on one channel), \"uffd\" = the default; urgent_push_allch rows: \"module\" = bbr on every channel in postcopy, \"uffd\" = the default (one vegas channel)",
		   URGENT_LIGHT_PCT);
	for (i = 0; i < cfg.repeats; i++) {
		for (k = 0; k < V_NR; k++) {
			/* rotate the order: none always goes first */
			int variant = (k + i) % V_NR;

			urgent_run(t, variant, !k, v);
			for (m = 0; m < U_NR; m++)
				res[variant][m][i] = v[m];
			if (!k)
				tcp[i] = v[U_TCP];
		}
	}
	for (k = 0; k < (int)ARRAY_SIZE(urgent_rows); k++) {
		const struct urgent_row *u = &urgent_rows[k];

		bench_row(u->name, u->metric == U_MIBS ? "MiB/s" : "us",
			  u->metric != U_MIBS, true,
			  median(res[u->variant][u->metric], cfg.repeats), true,
			  u->base < 0 ? median(tcp, cfg.repeats) :
			  median(res[u->base][u->metric], cfg.repeats));
	}
}

/*
 * The switchover of the demo's migration, phase by phase: module against
 * userfaultfd, NET_FAST, 256 MiB, two writers.
 */
#define SW_MIB		256

enum { S_TOTAL, S_DOWN, S_FINAL, S_WAIT, S_DISCARD, S_RESUME, S_NR };

static const char *const smetric[S_NR] = {
	[S_TOTAL] = "total", [S_DOWN] = "downtime",
	[S_FINAL] = "final_pass", [S_WAIT] = "wait",
	[S_DISCARD] = "discard", [S_RESUME] = "resume",
};

static void switchover_run(struct pca_test_ctx *t, enum wl_uffd uffd,
			   int no_prepause, double *v)
{
	const struct mig_result *d;
	struct wl_result r;
	struct wl_opts o;
	int ret;

	opts(&o, NET_FAST, 1);
	o.size = (uint64_t)SW_MIB << 20;
	o.rounds = 2;
	o.rate = 2000;
	o.dest_rate = 2000;
	o.downtime_ms = 20;
	o.uffd = uffd;
	o.no_prepause = no_prepause;
	ret = wl_run(&o, &r);
	d = &r.dst;
	pca_t_diag(t, "%-6s%s %s total %.1f ms downtime %.1f ms: pause %.1f, final pass %.1f, wait %.1f, discard %.1f, resume %.1f ms; %llu pages discarded, %llu stale; before the pause %llu made missing in %.1f ms",
		   uffd ? "uffd" : "module",
		   no_prepause ? " (no discard before the pause)" : "",
		   r.ok ? "OK" : "FAILED",
		   d->total_ns / 1e6, d->downtime_ns / 1e6,
		   d->sw_pause_ns / 1e6, d->sw_final_pass_ns / 1e6,
		   d->sw_wait_ns / 1e6, d->sw_discard_ns / 1e6,
		   d->sw_resume_ns / 1e6, (unsigned long long)d->discarded,
		   (unsigned long long)d->early_dropped,
		   (unsigned long long)d->prepause_discarded,
		   d->prepause_ns / 1e6);
	if (ret || !r.ok || r.mismatches || r.dest_bad)
		PCA_FATAL(t, "%s migration failed: %s",
			  uffd ? "userfaultfd" : "module", r.error);
	if (!d->have_source_stats || !d->downtime_ns)
		PCA_FATAL(t, "no switchover phases from the %s run",
			  uffd ? "userfaultfd" : "module");
	v[S_TOTAL] = d->total_ns / 1e6;
	v[S_DOWN] = d->downtime_ns / 1e6;
	v[S_FINAL] = d->sw_final_pass_ns / 1e6;
	v[S_WAIT] = d->sw_wait_ns / 1e6;
	v[S_DISCARD] = d->sw_discard_ns / 1e6;
	v[S_RESUME] = d->sw_resume_ns / 1e6;
}

static void test_switchover_256m(struct pca_test_ctx *t)
{
	double mod[S_NR][MAX_REPEATS], uf[S_NR][MAX_REPEATS], v[S_NR];
	double late[S_NR][MAX_REPEATS];
	char name[64];
	int i, m;

	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	pca_t_diag(t, "%u MiB, netem \"%s\", 2 precopy rounds, 2 writers at 2000 pages/s, downtime target 20 ms, %d runs per backend",
		   SW_MIB, NET_FAST, cfg.sw_repeats);
	pca_t_diag(t, "switchover_%um_prepause rows: \"module\" = the module with the discard before the pause (the default), \"uffd\" = the module without it",
		   SW_MIB);
	for (i = 0; i < cfg.sw_repeats; i++) {
		int first_uffd = i % 2;

		switchover_run(t, first_uffd ? cfg.uffd : 0, 0, v);
		for (m = 0; m < S_NR; m++)
			(first_uffd ? uf : mod)[m][i] = v[m];
		switchover_run(t, first_uffd ? 0 : cfg.uffd, 0, v);
		for (m = 0; m < S_NR; m++)
			(first_uffd ? mod : uf)[m][i] = v[m];
		/* the module with every stale page discarded while paused */
		switchover_run(t, 0, 1, v);
		for (m = 0; m < S_NR; m++)
			late[m][i] = v[m];
	}
	for (m = 0; m < S_NR; m++) {
		snprintf(name, sizeof(name), "switchover_%um_%s_ms", SW_MIB,
			 smetric[m]);
		bench_row(name, "ms", true, true,
			  median(mod[m], cfg.sw_repeats), true,
			  median(uf[m], cfg.sw_repeats));
	}
	/* the discard before the pause, against none (both the module) */
	for (m = S_DOWN; m <= S_DISCARD; m += S_DISCARD - S_DOWN) {
		snprintf(name, sizeof(name), "switchover_%um_prepause_%s_ms",
			 SW_MIB, smetric[m]);
		bench_row(name, "ms", true, true,
			  median(mod[m], cfg.sw_repeats), true,
			  median(late[m], cfg.sw_repeats));
	}
}

/*
 * Discard time against the pages named: a 256 MiB region, every page
 * present, 1 % and 10 % of them named stale.
 */
#define DS_PAGES	((size_t)SW_MIB << 20 >> 12)

/* Page @p named stale at @permille of the pages: spread, deterministic. */
static int ds_stale(size_t p, unsigned int permille)
{
	uint64_t h = (p + 1) * 0x9e3779b97f4a7c15ULL;

	return (h >> 40) % 1000 < permille;
}

static size_t ds_bitmap(uint64_t *bm, unsigned int permille)
{
	size_t p, n = 0;

	memset(bm, 0, DS_PAGES / 8);
	for (p = 0; p < DS_PAGES; p++) {
		if (ds_stale(p, permille)) {
			bm[p / 64] |= 1ULL << (p % 64);
			n++;
		}
	}
	return n;
}

static double ds_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The pages of @bm (all of them when NULL) placed in region @fd again. */
static void ds_fill(struct pca_test_ctx *t, int fd, const uint64_t *bm,
		    const uint8_t *data, struct pca_copy_entry *ents)
{
	uint64_t copied, existed;
	size_t p, n = 0;
	int ret;

	for (p = 0; p < DS_PAGES; p++) {
		if (bm && !(bm[p / 64] >> (p % 64) & 1))
			continue;
		ents[n].offset = p * PAGE;
		ents[n].src = (uintptr_t)(data + (p % 16) * PAGE);
		if (++n < 1024 && p + 1 < DS_PAGES)
			continue;
		ret = pca_fd_copy_batch(fd, ents, n, 0, &copied, &existed);
		if (ret || copied != n)
			PCA_FATAL(t, "placing %zu pages up to page %zu: %s, %llu copied, %llu existed",
				  n, p, strerror(-ret),
				  (unsigned long long)copied,
				  (unsigned long long)existed);
		n = 0;
	}
	if (n) {
		ret = pca_fd_copy_batch(fd, ents, n, 0, &copied, &existed);
		if (ret || copied != n)
			PCA_FATAL(t, "placing the last %zu pages: %s", n,
				  strerror(-ret));
	}
}

static double ds_module(struct pca_test_ctx *t, int fd, const uint64_t *bm,
			size_t named, const uint8_t *data,
			struct pca_copy_entry *ents)
{
	uint64_t discarded = 0;
	double t0, ms;
	int ret;

	t0 = ds_now_ms();
	ret = pca_fd_discard_bitmap(fd, 0, DS_PAGES * PAGE, bm, DS_PAGES / 8,
				    PCA_DISCARD_SEAL, &discarded);
	ms = ds_now_ms() - t0;
	if (ret || discarded != named)
		PCA_FATAL(t, "PCA_IOC_DISCARD_BITMAP: %s, %llu of %zu pages",
			  strerror(-ret), (unsigned long long)discarded, named);
	ds_fill(t, fd, bm, data, ents);
	return ms;
}

static double ds_memfd(struct pca_test_ctx *t, int fd, uint8_t *mem,
		       const uint64_t *bm)
{
	double t0, ms;
	size_t p;

	t0 = ds_now_ms();
	for (p = 0; p < DS_PAGES; p++) {
		size_t q = p;

		if (!(p % 64) && !bm[p / 64]) {
			p += 63;
			continue;
		}
		if (!(bm[p / 64] >> (p % 64) & 1))
			continue;
		while (q + 1 < DS_PAGES && bm[(q + 1) / 64] >> ((q + 1) % 64) & 1)
			q++;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      p * PAGE, (q - p + 1) * PAGE))
			PCA_FATAL(t, "fallocate(PUNCH_HOLE): %s",
				  strerror(errno));
		p = q;
	}
	ms = ds_now_ms() - t0;
	/* every page back, for the next run */
	for (p = 0; p < DS_PAGES; p++)
		if (bm[p / 64] >> (p % 64) & 1)
			mem[p * PAGE] = 1;
	return ms;
}

static void test_discard_stale(struct pca_test_ctx *t)
{
	static const unsigned int permille[2] = { 10, 100 };
	double mod[2][MAX_REPEATS], uf[2][MAX_REPEATS], m[2], u[2];
	uint64_t *bm[2];
	struct pca_copy_entry *ents;
	size_t named[2];
	struct region r;
	uint8_t *data, *mem;
	int i, k, mfd;

	bm[0] = malloc(DS_PAGES / 8);
	bm[1] = malloc(DS_PAGES / 8);
	ents = calloc(1024, sizeof(*ents));
	data = malloc(16 * PAGE);
	if (!bm[0] || !bm[1] || !ents || !data)
		PCA_FATAL(t, "out of memory");
	memset(data, 0x5a, 16 * PAGE);
	for (k = 0; k < 2; k++)
		named[k] = ds_bitmap(bm[k], permille[k]);

	/* the module: a missing-mode region, every page placed */
	region_new(t, &r, DS_PAGES, PCA_REGION_MISSING);
	ds_fill(t, r.fd, NULL, data, ents);
	/* the userfaultfd backend's memory: a memfd, every page written */
	mfd = memfd_create("discard_stale", MFD_CLOEXEC);
	if (mfd < 0 || ftruncate(mfd, DS_PAGES * PAGE))
		PCA_FATAL(t, "memfd: %s", strerror(errno));
	mem = region_map(t, mfd, DS_PAGES * PAGE);
	memset(mem, 0x5a, DS_PAGES * PAGE);

	pca_t_diag(t, "%u MiB (%zu pages), every page present; %zu (1 %%) and %zu (10 %%) named stale, %d runs each",
		   SW_MIB, DS_PAGES, named[0], named[1], cfg.repeats);
	for (i = 0; i < cfg.repeats; i++) {
		for (k = 0; k < 2; k++) {
			/* alternate the order: neither always goes first */
			if (i % 2) {
				uf[k][i] = ds_memfd(t, mfd, mem, bm[k]);
				mod[k][i] = ds_module(t, r.fd, bm[k], named[k],
						      data, ents);
			} else {
				mod[k][i] = ds_module(t, r.fd, bm[k], named[k],
						      data, ents);
				uf[k][i] = ds_memfd(t, mfd, mem, bm[k]);
			}
			pca_t_diag(t, "%3u %%: module %.3f ms, punch-hole %.3f ms",
				   permille[k] / 10, mod[k][i], uf[k][i]);
		}
	}
	for (k = 0; k < 2; k++) {
		m[k] = median(mod[k], cfg.repeats);
		u[k] = median(uf[k], cfg.repeats);
	}
	bench_row("discard_1pct_stale_ms", "ms", true, true, m[0], true, u[0]);
	bench_row("discard_10pct_stale_ms", "ms", true, true, m[1], true,
		  u[1]);
	/* not lower-is-better: 10 is proportional, whoever is closer wins */
	bench_row("discard_stale_10_over_1", "x", false, m[0] > 0,
		  m[0] > 0 ? m[1] / m[0] : 0, u[0] > 0,
		  u[0] > 0 ? u[1] / u[0] : 0);
	munmap(mem, DS_PAGES * PAGE);
	close(mfd);
	region_free(&r);
	free(data);
	free(ents);
	free(bm[0]);
	free(bm[1]);
}

PCA_TEST_F(fast_postcopy, test_fast_postcopy, MIG_FEATURES,
	 .timeout = 60)
PCA_TEST_F(postcopy_push, test_postcopy_push, MIG_FEATURES,
	   .timeout = 1800)
PCA_TEST_F(fast_precopy, test_fast_precopy, MIG_FEATURES,
	 .timeout = 60)
PCA_TEST_F(slow_postcopy, test_slow_postcopy, MIG_FEATURES,
	 .timeout = 60)
PCA_TEST_F(slow_precopy, test_slow_precopy, MIG_FEATURES,
	 .timeout = 60)
PCA_TEST_F(tls_postcopy, test_tls_postcopy, MIG_FEATURES,
	 .timeout = 240)
PCA_TEST_F(tls_precopy, test_tls_precopy, MIG_FEATURES,
	 .timeout = 240)
PCA_TEST_F(urgent_push, test_urgent_push, MIG_FEATURES,
	 .timeout = 400)
PCA_TEST_F(switchover_256m, test_switchover_256m, MIG_FEATURES,
	 .timeout = 400)
PCA_TEST_F(discard_stale, test_discard_stale,
	 MIG_FEATURES | PCA_FEATURE_PAGE_BITMAPS, .timeout = 200)

static void usage(FILE *f, const char *argv0)
{
	fprintf(f,
		"Usage: %s [-r REPEATS] [-R REPEATS] [-s MIB] [-u memfd|anon] [-l] [-t TEST]... [-T SECONDS]\n"
		"  -r REPEATS  migrations per backend and test, median reported (default %d, at most %d)\n"
		"  -R REPEATS  the same for switchover_256m (default 1)\n"
		"  -s MIB      region size (default %u)\n"
		"  -u MEMORY   the userfaultfd destination: memfd mapped shared (default)\n"
		"              or anonymous private memory\n"
		"  -l, -t, -T  list tests, run only TEST, override timeouts\n",
		argv0, cfg.repeats, MAX_REPEATS, cfg.mib);
}

int main(int argc, char **argv)
{
	static char opt_l[] = "-l", opt_t[] = "-t";
	char **hargv, *end;
	int opt, hargc = 0, list = 0;
	unsigned long v;

	hargv = calloc(2 * argc + 1, sizeof(*hargv));
	if (!hargv) {
		perror("calloc");
		return KSFT_FAIL;
	}
	hargv[hargc++] = argv[0];
	while ((opt = getopt(argc, argv, "r:R:s:u:lt:T:h")) != -1) {
		switch (opt) {
		case 'r':
		case 'R':
		case 's':
			v = strtoul(optarg, &end, 0);
			if (*end || !v ||
			    (opt != 's' && v > MAX_REPEATS) ||
			    (opt == 's' && v > 1024)) {
				fprintf(stderr, "%s: -%c %s: expected a number from 1 to %d\n",
					argv[0], opt, optarg,
					opt != 's' ? MAX_REPEATS : 1024);
				return 2;
			}
			if (opt == 'r')
				cfg.repeats = v;
			else if (opt == 'R')
				cfg.sw_repeats = v;
			else
				cfg.mib = v;
			break;
		case 'u':
			if (!strcmp(optarg, "memfd")) {
				cfg.uffd = WL_UFFD_MEMFD;
			} else if (!strcmp(optarg, "anon")) {
				cfg.uffd = WL_UFFD_ANON;
			} else {
				fprintf(stderr, "%s: -u %s: expected memfd or anon\n",
					argv[0], optarg);
				return 2;
			}
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
	/* MIGRATE_BENCH_TESTS=a,b: -t a -t b, from a guest's command line */
	if (!list && hargc == 1 && getenv("MIGRATE_BENCH_TESTS")) {
		char *names = strdup(getenv("MIGRATE_BENCH_TESTS")), *save, *tok;
		char **more = names ? realloc(hargv, (hargc + 2 * strlen(names) +
						      2) * sizeof(*hargv)) :
				      NULL;

		if (!more) {
			perror("MIGRATE_BENCH_TESTS");
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
	if (bench_report_init(&style))
		return KSFT_FAIL;
	optind = 1;
	if (!list)
		bench_table_at_exit();
	return test_harness_run(hargc, hargv);
}
