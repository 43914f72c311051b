// SPDX-License-Identifier: GPL-2.0
/*
 * migrate_test: live migrations of a region between two regions of one
 * guest over loopback TCP, with the agent's engine (agent/migrate.h) and
 * the workload that plays the VMM (tools/workload/workload.h).  Every
 * migration ends with a byte-for-byte check of every page of the
 * destination.
 *
 * Protocol misuse (garbage on the port, a peer that is no source, the
 * wrong protocol version or migration id) must fail with a clear error
 * and place nothing.
 *
 * Migrations run mutual TLS 1.3 with the test credentials the harness
 * made (selftests/vm/mkcreds.sh, in the guest under TLS_DIR), unless a
 * test is about plain TCP or about the credentials themselves.
 */
#define _GNU_SOURCE
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <sys/utsname.h>
#include <time.h>

#include "pca_region_util.h"
#include "backend.h"
#include "mig.h"
#include "migrate.h"
#include "workload.h"

#define MiB		(1ULL << 20)
#define MIG_FEATURES	(PCA_FEATURE_MISSING | PCA_FEATURE_WAIT_POLICY | \
			 PCA_FEATURE_COPY_BATCH | PCA_FEATURE_FD_RESOLVE)
#define PRECOPY		(MIG_FEATURES | PCA_FEATURE_DIRTY_LOG)
#define RELAY		(PRECOPY | PCA_FEATURE_MIGRATE | PCA_FEATURE_REGION_OPEN)

#define TLS_DIR		"/etc/pca/tls"
#define X509		TLS_DIR "/x509"
#define X509_OTHER_CA	TLS_DIR "/x509-otherca"
#define X509_EXPIRED	TLS_DIR "/x509-expired"
#define PSK		TLS_DIR "/psk"
#define PSK_WRONG	TLS_DIR "/psk-wrong"

static void opts(struct wl_opts *o, uint64_t size)
{
	wl_opts_init(o);
	o->size = size;
	o->log = stdout;
	o->log_prefix = "# ";
	o->io_timeout_ms = pca_scaled_ms(3000);
	o->recover_timeout_ms = pca_scaled_ms(15000);
	o->tls = MIG_TLS_X509;
	o->tls_creds = X509;
}

static void report(struct pca_test_ctx *t, const struct wl_result *r)
{
	const struct mig_result *d = &r->dst;

	pca_t_diag(t, "%s pages=%llu mismatches=%llu total=%.2fs downtime=%.1fms rounds=%llu precopy=%llu stop=%llu discarded=%llu post=%llu urgent=%llu faults=%llu (remote %llu) p50=%lluus p99=%lluus reconnects=%llu wall=%.1fs",
		   r->ok ? "OK" : "FAILED", (unsigned long long)r->pages,
		   (unsigned long long)r->mismatches, d->total_ns / 1e9,
		   d->downtime_ns / 1e6, (unsigned long long)d->rounds,
		   (unsigned long long)d->precopy_pages,
		   (unsigned long long)d->stopcopy_pages,
		   (unsigned long long)d->discarded,
		   (unsigned long long)d->postcopy_pages,
		   (unsigned long long)d->urgent_pages,
		   (unsigned long long)d->faults,
		   (unsigned long long)d->faults_remote,
		   (unsigned long long)(d->lat_p50_ns / 1000),
		   (unsigned long long)(d->lat_p99_ns / 1000),
		   (unsigned long long)d->reconnects, r->wall_s);
	if (!r->ok)
		pca_t_diag(t, "error: %s", r->error);
}

static void migrate_ok(struct pca_test_ctx *t, const struct wl_opts *o,
		       struct wl_result *r)
{
	int ret = wl_run(o, r);

	report(t, r);
	PCA_ASSERT(t, !ret && r->ok, "migration failed: %s", r->error);
	PCA_EXPECT_EQ(t, r->mismatches, 0);
	PCA_EXPECT_EQ(t, r->dest_bad, 0);
	PCA_EXPECT_EQ(t, r->dst.pages_present, r->pages);
}

/* ---- migrations -------------------------------------------------------- */

/*
 * The downtime's phases (JSON switch_*_ms, the relay's last message, or
 * the engine's result): the source's pause and final pass and the
 * destination's wait and discard fit in the downtime, with the resume
 * in the guest's downtime, and the final pass (dirty log, channel
 * ends, the discard bitmap sent) and the discard took time.  @how names
 * the path for the messages.  The source's part and the destination's
 * may overlap (the bitmap is in before the source's send returned).
 */
static void expect_switch_phases(struct pca_test_ctx *t, const char *how,
				 const struct mig_result *d)
{
	/* JSON rounds each field to a microsecond, the relay to 0.1 ms */
	const uint64_t slack = 300000;
	uint64_t src = d->sw_pause_ns + d->sw_final_pass_ns;
	uint64_t dst = d->sw_wait_ns + d->sw_discard_ns;

	pca_t_diag(t, "%s: downtime %.3f ms (guest %.3f): pause %.3f, final pass %.3f, wait %.3f, discard %.3f, resume %.3f ms",
		   how, d->downtime_ns / 1e6, d->guest_downtime_ns / 1e6,
		   d->sw_pause_ns / 1e6, d->sw_final_pass_ns / 1e6,
		   d->sw_wait_ns / 1e6, d->sw_discard_ns / 1e6,
		   d->sw_resume_ns / 1e6);
	PCA_EXPECT(t, d->downtime_ns > 0, "%s: no downtime", how);
	PCA_EXPECT(t, d->sw_final_pass_ns > 0, "%s: no final pass", how);
	PCA_EXPECT(t, dst > 0, "%s: no wait or discard", how);
	PCA_EXPECT(t, src <= d->downtime_ns + slack,
		   "%s: pause + final pass %.3f ms > downtime %.3f ms", how,
		   src / 1e6, d->downtime_ns / 1e6);
	PCA_EXPECT(t, dst <= d->downtime_ns + slack,
		   "%s: wait + discard %.3f ms > downtime %.3f ms", how,
		   dst / 1e6, d->downtime_ns / 1e6);
	/*
	 * The destination's part starts once the bitmap is in, which may be
	 * before the source's send returned: the two sides may overlap.
	 */
	if (d->guest_downtime_ns)
		PCA_EXPECT(t, dst + d->sw_resume_ns <=
			   d->guest_downtime_ns + slack,
			   "%s: wait + discard + resume %.3f ms > guest downtime %.3f ms",
			   how, (dst + d->sw_resume_ns) / 1e6,
			   d->guest_downtime_ns / 1e6);
}

static void test_idle(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.dest_rate = 0;
	migrate_ok(t, &o, &r);
	/* idle: one round, nothing left over, no postcopy needed */
	PCA_EXPECT_EQ(t, r.dst.rounds, 1);
	PCA_EXPECT_EQ(t, r.dst.discarded, 0);
	PCA_EXPECT(t, r.dst.precopy_zero > 0, "no zero page markers sent");
}

static void test_low_rate(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 32 * MiB);
	o.rate = 500;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src_writes > 0, "the writers wrote nothing");
	/* what was written after round 1 went again: a round or paused */
	PCA_EXPECT(t, r.dst.rounds >= 2 || r.dst.stopcopy_pages ||
		   r.dst.discarded, "dirty pages never sent again");
	PCA_EXPECT(t, r.dst.precopy_pages >= r.pages, "precopy sent %llu",
		   (unsigned long long)r.dst.precopy_pages);
}

static void test_high_rate(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* faster than precopy converges: the round limit ends it */
	opts(&o, 32 * MiB);
	o.rate = 20000;
	o.writers = 2;
	o.rounds = 4;
	o.downtime_ms = 10;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.discarded > 0 || r.dst.stopcopy_pages > 0,
		   "nothing left over at switchover");
}

/*
 * In place: precopy pages go straight into the region.  A page written
 * again after it was sent goes again in the next round and replaces the
 * copy placed; the switchover's discard bitmap makes the pages written
 * after their last send missing again.  The writers' pattern checks every
 * page the destination's vCPUs read first, and every page at the end:
 * the last content, never a stale one.  Both backends.
 */
static const enum wl_uffd inplace_kinds[] = {
	WL_UFFD_NONE, WL_UFFD_ANON, WL_UFFD_MEMFD,
};

static const char *const inplace_names[] = { "module", "anon", "memfd" };

static void inplace_run(struct pca_test_ctx *t, enum wl_uffd kind,
			unsigned int rounds, int recv, int prepause,
			struct wl_result *r)
{
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.uffd = kind;
	o.no_prepause = !prepause;
	o.rate = 1500;
	o.writers = 2;
	o.rounds = rounds;
	o.downtime_ms = 1;
	o.dest_rate = 3000;
	/* receive in place is the default: the module backend takes it */
	o.recv_in_place = recv;
	migrate_ok(t, &o, r);
	pca_t_diag(t, "%s: %llu placed in precopy, %llu replaced, %llu discarded at switchover, %llu checked by the vCPUs",
		   inplace_names[kind], (unsigned long long)r->dst.precopy_placed,
		   (unsigned long long)r->dst.overwritten,
		   (unsigned long long)r->dst.early_dropped,
		   (unsigned long long)r->dest_checked);
	PCA_EXPECT(t, r->src_writes > 0, "the writers wrote nothing");
	PCA_EXPECT(t, r->dest_checked > 0, "the destination read no page");
	/*
	 * Round 1 sends every page, and nobody placed one before; a copy
	 * in flight may place again one made missing before the pause.
	 */
	PCA_EXPECT(t, r->dst.precopy_placed >= r->pages &&
		   r->dst.precopy_placed <= r->pages +
					    r->dst.prepause_discarded,
		   "%s: %llu placed in precopy, %llu pages, %llu made missing before the pause",
		   inplace_names[kind],
		   (unsigned long long)r->dst.precopy_placed,
		   (unsigned long long)r->pages,
		   (unsigned long long)r->dst.prepause_discarded);
	/* the module reads page payloads from the socket into the region */
	if (recv && kind == WL_UFFD_NONE &&
	    (t->api.features & PCA_FEATURE_RECV))
		PCA_EXPECT(t, r->dst.recv_in_place > 0 &&
			   r->dst.recv_in_place <= r->dst.pages_received,
			   "%llu of %llu pages received in place",
			   (unsigned long long)r->dst.recv_in_place,
			   (unsigned long long)r->dst.pages_received);
	else
		PCA_EXPECT_EQ(t, r->dst.recv_in_place, 0);
}

static void test_inplace_overwrite(struct pca_test_ctx *t)
{
	struct wl_result r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(inplace_kinds); i++) {
		inplace_run(t, inplace_kinds[i], 3, 1, 1, &r);
		PCA_EXPECT(t, r.dst.rounds >= 2, "%s: one round only",
			   inplace_names[i]);
		PCA_EXPECT(t, r.dst.overwritten > 0,
			   "%s: no page replaced by a later round",
			   inplace_names[i]);
	}
}

/*
 * Every stale page discarded by the switchover (no discard before the
 * pause): the placed copies of pages written after they were sent go
 * missing in the downtime, and the writer's pattern, checked on every
 * page, never shows one of them.
 */
static void test_inplace_discard(struct pca_test_ctx *t)
{
	struct wl_result r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(inplace_kinds); i++) {
		inplace_run(t, inplace_kinds[i], 1, 1, 0, &r);
		PCA_EXPECT_EQ(t, r.dst.prepause_named, 0);
		PCA_EXPECT_EQ(t, r.dst.prepause_discarded, 0);
		PCA_EXPECT(t, r.dst.discarded > 0,
			   "%s: nothing stale at the switchover",
			   inplace_names[i]);
		PCA_EXPECT(t, r.dst.early_dropped > 0,
			   "%s: no placed page discarded at the switchover",
			   inplace_names[i]);
		PCA_EXPECT(t, r.dst.early_dropped <= r.dst.discarded,
			   "%s: %llu discarded, %llu named stale",
			   inplace_names[i],
			   (unsigned long long)r.dst.early_dropped,
			   (unsigned long long)r.dst.discarded);
		expect_switch_phases(t, inplace_names[i], &r.dst);
	}
}

/*
 * The discard before the pause (the default): after its last round the
 * source names the pages written since they were sent while its writers
 * still run, and the destination makes its copies of them missing then;
 * the switchover's bitmap names them again, with what was written
 * meanwhile.  Every page still ends right (migrate_ok() checks each
 * against the source), on the module and on both userfaultfd backends.
 */
static void test_inplace_prepause(struct pca_test_ctx *t)
{
	struct wl_result r;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(inplace_kinds); i++) {
		inplace_run(t, inplace_kinds[i], 1, 1, 1, &r);
		pca_t_diag(t, "%s: before the pause %llu named, %llu made missing in %.1f ms; at the switchover %llu named, %llu placed copies discarded in %.1f ms",
			   inplace_names[i],
			   (unsigned long long)r.dst.prepause_named,
			   (unsigned long long)r.dst.prepause_discarded,
			   r.dst.prepause_ns / 1e6,
			   (unsigned long long)r.dst.discarded,
			   (unsigned long long)r.dst.early_dropped,
			   r.dst.sw_discard_ns / 1e6);
		PCA_EXPECT(t, r.dst.prepause_named > 0,
			   "%s: no discard before the pause", inplace_names[i]);
		PCA_EXPECT(t, r.dst.prepause_discarded > 0 &&
			   r.dst.prepause_discarded <= r.dst.prepause_named,
			   "%s: %llu copies made missing of %llu named",
			   inplace_names[i],
			   (unsigned long long)r.dst.prepause_discarded,
			   (unsigned long long)r.dst.prepause_named);
		/* the switchover names them again: it alone decides */
		PCA_EXPECT(t, r.dst.discarded > 0,
			   "%s: nothing stale at the switchover",
			   inplace_names[i]);
		expect_switch_phases(t, inplace_names[i], &r.dst);
	}
}

/*
 * --no-recv-in-place: the module's destination places every page from
 * its buffer (COPY_BATCH), none read by PCA_IOC_RECV, and still holds
 * each page once.
 */
static void test_inplace_no_recv(struct pca_test_ctx *t)
{
	struct wl_result r;

	inplace_run(t, WL_UFFD_NONE, 2, 0, 1, &r);
	PCA_EXPECT(t, r.dst.pages_received > 0, "no page received");
}

static void test_postcopy_only(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.rounds = 0;
	o.dest_rate = 5000;
	o.writers = 4;
	migrate_ok(t, &o, &r);
	PCA_EXPECT_EQ(t, r.dst.precopy_pages, 0);
	PCA_EXPECT(t, r.dst.faults > 0, "no postcopy faults");
	PCA_EXPECT(t, r.dst.urgent_pages > 0, "no urgent pages");
}

static void test_stop_and_copy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.rate = 2000;
	o.rounds = 3;
	o.no_postcopy = 1;
	migrate_ok(t, &o, &r);
	PCA_EXPECT_EQ(t, r.dst.discarded, 0);
	PCA_EXPECT_EQ(t, r.dst.faults_remote, 0);
}

static void test_netlink_placement(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 8 * MiB);
	o.rounds = 0;
	o.netlink = 1;
	migrate_ok(t, &o, &r);
}

static void test_cut_postcopy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 32 * MiB);
	o.rounds = 0;
	o.cut = WL_CUT_POSTCOPY;
	o.dest_rate = 3000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects >= 1, "no reconnect happened");
}

/*
 * A link that goes silent for 2 s, nothing closed: the agents take the
 * peer for dead after --dead-after-ms (1 s) and reconnect, long before
 * the I/O timeout (30 s here) would have noticed anything; over kernel
 * TLS, and over user-space TLS (@no_ktls), where the kernel's count of
 * the peer's silence is the TCP sockets' under the engine's socket pairs.
 */
static void stall_postcopy(struct pca_test_ctx *t, int no_ktls)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 32 * MiB);
	o.tls_no_ktls = no_ktls;
	o.rounds = 0;
	o.io_timeout_ms = pca_scaled_ms(30000);
	o.cut = WL_CUT_POSTCOPY;
	o.cut_pct = 10;
	o.cut_stall_ms = 2000;
	o.dest_rate = 2000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects >= 1 && r.src.reconnects >= 1,
		   "a 2 s silence was no cut: reconnects %llu/%llu",
		   (unsigned long long)r.src.reconnects,
		   (unsigned long long)r.dst.reconnects);
	PCA_EXPECT(t, r.dst.broken_ns > 0, "no time disconnected counted");
	PCA_EXPECT(t, r.wall_s * 1000 < o.io_timeout_ms,
		   "took %.1f s, not under the I/O timeout", r.wall_s);
}

static void test_stall_postcopy(struct pca_test_ctx *t)
{
	stall_postcopy(t, 0);
}

static void test_tls_stall_user_space(struct pca_test_ctx *t)
{
	stall_postcopy(t, 1);
}

/*
 * A silence shorter than --dead-after-ms is no cut: the link stalls for
 * 300 ms in postcopy, with the background stream and faults going, and
 * nobody reconnects.
 */
static void test_stall_short(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 32 * MiB);
	o.rounds = 0;
	o.cut = WL_CUT_POSTCOPY;
	o.cut_pct = 10;
	o.cut_stall_ms = 300;
	o.dest_rate = 2000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects == 0 && r.src.reconnects == 0,
		   "a 300 ms silence counted as a cut: reconnects %llu/%llu",
		   (unsigned long long)r.src.reconnects,
		   (unsigned long long)r.dst.reconnects);
}

static void test_cut_precopy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 32 * MiB);
	o.rate = 1000;
	o.cut = WL_CUT_PRECOPY;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects >= 1, "no reconnect happened");
}

/*
 * Cuts at random points: PCA_MIGRATE_RUNS migrations (default 10, 3 on
 * a debug kernel) of a
 * small region with a writer, each cut once a random share of the region
 * into the phase.  Every one must complete with every page right.
 */
static void cut_random(struct pca_test_ctx *t, enum wl_cut phase)
{
	const char *env = getenv("PCA_MIGRATE_RUNS");
	struct utsname u;
	unsigned int runs, i, reconnects = 0;
	uint64_t seed = getpid() ^ time(NULL);
	double wall = 0, total = 0, maxw = 0;

	/* a debug kernel (KASAN, lockdep, ...) is many times slower */
	runs = !uname(&u) && strstr(u.release, "debug") ? 3 : 20;
	if (env)
		runs = atoi(env);

	pca_t_diag(t, "%u runs, seed %llu", runs, (unsigned long long)seed);
	for (i = 0; i < runs; i++) {
		struct wl_result r;
		struct wl_opts o;
		int ret;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		opts(&o, 4 * MiB);
		/* about cuts: TLS over a cut is tls_cut_postcopy's */
		o.tls = MIG_TLS_INSECURE;
		o.log = NULL;
		o.rate = 2000;
		o.dest_rate = 2000;
		/* postcopy only: the whole region goes after the switchover */
		o.rounds = phase == WL_CUT_POSTCOPY ? 0 : 5;
		o.cut = phase;
		o.cut_pct = 1 + (seed >> 33) % 60;
		ret = wl_run(&o, &r);
		if (ret || !r.ok || r.mismatches || r.dest_bad) {
			report(t, &r);
			PCA_FATAL(t, "run %u (cut at %u%%) failed", i, o.cut_pct);
		}
		reconnects += r.dst.reconnects;
		wall += r.wall_s;
		total += r.dst.total_ns / 1e9;
		if (r.wall_s > maxw)
			maxw = r.wall_s;
	}
	pca_t_diag(t, "%u runs, %u reconnects, 0 mismatches; migration %.2f s on average, wall %.2f s (max %.2f s)",
		   runs, reconnects, total / MIG_MAX(runs, 1),
		   wall / MIG_MAX(runs, 1), maxw);
	/* a cut point past the end of a short phase cuts nothing */
	PCA_EXPECT(t, reconnects >= runs / 2, "only %u reconnects",
		   reconnects);
}

static void test_cut_random_precopy(struct pca_test_ctx *t)
{
	cut_random(t, WL_CUT_PRECOPY);
}

static void test_cut_random_postcopy(struct pca_test_ctx *t)
{
	cut_random(t, WL_CUT_POSTCOPY);
}

static void test_garbage_to_source(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* a stranger first; the source turns it away and serves the real one */
	opts(&o, 8 * MiB);
	o.garbage_first = 1;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src_warnings >= 1, "the source said nothing");
	PCA_EXPECT(t, strstr(r.src_last_warning, "does not speak TLS") != NULL,
		   "warning: %s", r.src_last_warning);

	/* the same over plain TCP: the hello's magic tells */
	opts(&o, 8 * MiB);
	o.garbage_first = 1;
	o.tls = MIG_TLS_INSECURE;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, strstr(r.src_last_warning, "bad magic") != NULL,
		   "warning: %s", r.src_last_warning);
}

static void test_agent_processes(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	opts(&o, 16 * MiB);
	o.rate = 500;
	o.agent = "/bin/postcopy-agent";
	migrate_ok(t, &o, &r);
	/* the agent's --json summary */
	expect_switch_phases(t, "agent JSON", &r.dst);
}

/*
 * The agent that takes over learns from the kernel which pages the
 * region holds (all final after the switchover) and fetches only the
 * missing ones: at most 1 % of the region held is received again.
 */
static void expect_refetch_bounded(struct pca_test_ctx *t,
				   const struct wl_result *r)
{
	uint64_t missing = r->pages - r->dst.resume_held;

	pca_t_diag(t, "after the restart: %llu pages held, %llu missing, %llu received, %llu of them held",
		   (unsigned long long)r->dst.resume_held,
		   (unsigned long long)missing,
		   (unsigned long long)r->dst.pages_received,
		   (unsigned long long)r->dst.pages_refetched);
	PCA_EXPECT(t, r->dst.resume_held > 0,
		   "the new agent found no page in the region");
	PCA_EXPECT(t, r->dst.pages_refetched <= r->pages / 100,
		   "%llu pages held fetched again",
		   (unsigned long long)r->dst.pages_refetched);
	/*
	 * What it receives is what was missing, plus duplicates: a page
	 * pushed while its urgent answer was on the way, at most one for
	 * each page the new agent asked the source for (a request per
	 * remote fault).
	 */
	PCA_EXPECT(t, r->dst.pages_received <=
		   missing + r->dst.faults_remote + r->pages / 100,
		   "%llu pages received for %llu missing, %llu asked for",
		   (unsigned long long)r->dst.pages_received,
		   (unsigned long long)missing,
		   (unsigned long long)r->dst.faults_remote);
}

static void dest_agent_killed(struct pca_test_ctx *t, unsigned int rounds)
{
	struct wl_result r;
	struct wl_opts o;

	/* kill -9 in postcopy; a new agent takes over with --resume */
	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	opts(&o, 16 * MiB);
	o.rounds = rounds;
	o.rate = rounds ? 2000 : 0;
	o.downtime_ms = 1;
	o.dest_rate = 3000;
	o.agent = "/bin/postcopy-agent";
	o.cut = WL_CUT_POSTCOPY;
	/*
	 * One round while the writers write: what they wrote meanwhile is
	 * missing at the switchover; die well before the end of postcopy.
	 */
	o.cut_pct = rounds ? 2 : 10;
	o.kill = WL_KILL_DEST;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.killed, "the destination agent was not killed");
	expect_refetch_bounded(t, &r);
}

static void test_dest_agent_killed(struct pca_test_ctx *t)
{
	dest_agent_killed(t, 0);
}

/* precopy pages in the region when the agent dies: they are kept */
static void test_dest_agent_killed_precopy(struct pca_test_ctx *t)
{
	dest_agent_killed(t, 1);
}

static void test_source_agent_killed(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;
	int ret;

	/* the destination gives up with a clear error; the source is intact */
	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	opts(&o, 16 * MiB);
	o.rounds = 0;
	o.agent = "/bin/postcopy-agent";
	o.cut = WL_CUT_POSTCOPY;
	o.cut_pct = 5;
	o.kill = WL_KILL_SOURCE;
	o.recover_timeout_ms = pca_scaled_ms(3000);
	o.dest_rate = 200;
	ret = wl_run(&o, &r);
	report(t, &r);
	PCA_EXPECT(t, ret < 0 && !r.ok, "the migration succeeded");
	PCA_EXPECT(t, r.killed, "the source agent was not killed");
	PCA_EXPECT(t, strstr(r.error, "could not be reached again") != NULL,
		   "unclear error: %s", r.error);
	PCA_EXPECT_EQ(t, r.source_bad, 0);
}

static void test_snapshot_restore(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* lazy restore: faults served from the file, the rest streamed */
	opts(&o, 16 * MiB);
	o.rate = 1000;
	o.dest_rate = 4000;
	o.fill_pct = 70;
	o.snapshot = "/tmp/migrate_test.snap";
	migrate_ok(t, &o, &r);
	unlink(o.snapshot);
	PCA_EXPECT(t, r.dst.faults > 0, "no fault served from the file");
	PCA_EXPECT(t, r.src.precopy_zero > 0, "no hole for the zero pages");
}

static void test_snapshot_agent(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	opts(&o, 8 * MiB);
	o.rate = 1000;
	o.agent = "/bin/postcopy-agent";
	o.snapshot = "/tmp/migrate_test_agent.snap";
	migrate_ok(t, &o, &r);
	unlink(o.snapshot);
}

/*
 * Through the module's relay: the workload asks as a VMM does, the agent
 * daemon's workers take the migrations and report back.
 */
static void relay_opts(struct pca_test_ctx *t, struct wl_opts *o,
		       uint64_t size)
{
	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	opts(o, size);
	o->agent = "/bin/postcopy-agent";
	o->relay = 1;
}

static void test_relay_writer(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	relay_opts(t, &o, 16 * MiB);
	o.rate = 500;
	o.rounds = 3;
	migrate_ok(t, &o, &r);
	/* the results came back through the module */
	PCA_EXPECT_EQ(t, r.dst.pages, r.pages);
	PCA_EXPECT_EQ(t, r.dst.pages_present, r.pages);
	PCA_EXPECT(t, r.src.rounds >= 1, "no precopy round reported");
	PCA_EXPECT(t, r.dst.total_ns > 0, "no total time reported");
	PCA_EXPECT(t, r.src.bytes_sent >= r.pages * 64,
		   "source reported %llu bytes",
		   (unsigned long long)r.src.bytes_sent);
	/* the phases, in the destination's last message */
	expect_switch_phases(t, "relay", &r.dst);
}

static void test_relay_postcopy_only(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	relay_opts(t, &o, 16 * MiB);
	o.rounds = 0;
	o.dest_rate = 3000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.faults > 0, "no postcopy faults reported");
	PCA_EXPECT(t, r.dst.lat_p50_ns > 0 && r.dst.lat_p99_ns >=
		   r.dst.lat_p50_ns, "fault latency p50 %llu p99 %llu ns",
		   (unsigned long long)r.dst.lat_p50_ns,
		   (unsigned long long)r.dst.lat_p99_ns);
}

static void test_relay_cut_postcopy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	relay_opts(t, &o, 16 * MiB);
	o.rounds = 0;
	o.dest_rate = 2000;
	o.cut = WL_CUT_POSTCOPY;
	o.cut_pct = 20;
	migrate_ok(t, &o, &r);
	/* both sides told the VMM they were recovering, and how often */
	PCA_EXPECT(t, r.src_recovering >= 1 && r.dst_recovering >= 1,
		   "recovering events: source %u, destination %u",
		   r.src_recovering, r.dst_recovering);
	PCA_EXPECT(t, r.recovering_reconnects >= 1,
		   "recovering without a reconnect count");
	/* the final summary keeps the counts */
	PCA_EXPECT(t, r.dst.reconnects >= 1 && r.src.reconnects >= 1,
		   "final reconnects: source %llu, destination %llu",
		   (unsigned long long)r.src.reconnects,
		   (unsigned long long)r.dst.reconnects);
	PCA_EXPECT(t, r.dst.broken_ns > 0, "no time disconnected reported");
}

/* A silent link through the relay: recovering, then postcopy again. */
static void test_relay_stall_postcopy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	relay_opts(t, &o, 16 * MiB);
	o.rounds = 0;
	o.dest_rate = 2000;
	o.io_timeout_ms = pca_scaled_ms(30000);
	o.cut = WL_CUT_POSTCOPY;
	o.cut_pct = 20;
	o.cut_stall_ms = 2000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src_recovering >= 1 && r.dst_recovering >= 1,
		   "recovering events: source %u, destination %u",
		   r.src_recovering, r.dst_recovering);
	PCA_EXPECT(t, r.dst.reconnects >= 1, "no reconnect reported");
}

static void test_relay_netns(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;
	int ktls;

	/* a daemon in each namespace, as on two hosts */
	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	relay_opts(t, &o, 16 * MiB);
	o.rate = 300;
	o.rounds = 2;
	o.netem = "delay 1ms rate 500mbit";
	/* pca-workload --tcp-probe: plain TCP between the namespaces first */
	o.tcp_probe_mib = 4;
	/* --ktls-probe: then one kernel TLS stream, where there is one */
	o.ktls_probe_mib = 4;
	ktls = !access("/proc/net/tls_stat", R_OK);
	migrate_ok(t, &o, &r);
	pca_t_diag(t, "goodput %.2f MiB/s, plain TCP %.2f MiB/s, kernel TLS %.2f MiB/s",
		   wl_goodput_mibs(&r), r.tcp_mibs, r.ktls_mibs);
	PCA_EXPECT(t, r.tcp_mibs > 0, "no plain TCP figure");
	PCA_EXPECT(t, !ktls || r.ktls_mibs > 0, "no kernel TLS figure");
	PCA_EXPECT(t, wl_goodput_mibs(&r) > 0, "no goodput");
	expect_switch_phases(t, "relay between namespaces", &r.dst);
}

/* A migration the daemon's worker refuses: the VMM learns why. */
static void relay_refused(struct pca_test_ctx *t, struct pca_client *c,
			  uint32_t region, const char *args, const char *why)
{
	struct pca_mig_info m;
	uint32_t id;
	int i;

	PCA_ASSERT_OK(t, pca_migrate(c, region, PCA_MIG_DESTINATION,
				     "127.0.0.1:9", args, &id));
	for (i = 0; i < pca_scaled_ms(10000) / 20; i++) {
		PCA_ASSERT_OK(t, pca_migrate_get(c, id, &m));
		if (pca_mig_phase_final(m.phase))
			break;
		usleep(20000);
	}
	PCA_EXPECT_EQ(t, m.phase, PCA_MIG_FAILED);
	PCA_EXPECT(t, m.error != 0, "no errno");
	PCA_EXPECT(t, strstr(m.message, why) != NULL,
		   "args \"%s\": unclear message \"%s\"", args, m.message);
}

static void test_relay_bad_args(struct pca_test_ctx *t)
{
	char *const argv[] = { "/bin/postcopy-agent", "daemon", "--quiet",
			       NULL };
	struct pca_client *c;
	uint32_t rid, id;
	pid_t daemon;
	int fd, i, ret;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	fd = PCA_ASSERT_OK(t, pca_region_create(16 * 4096, PCA_REGION_MISSING,
						&rid));
	PCA_ASSERT_OK(t, pca_client_open(&c));
	daemon = fork();
	PCA_ASSERT(t, daemon >= 0, "fork: %s", strerror(errno));
	if (!daemon) {
		execv(argv[0], argv);
		_exit(127);
	}
	/* until the daemon listens, there is nobody to ask */
	for (i = 0; i < pca_scaled_ms(10000) / 20; i++) {
		ret = pca_migrate(c, rid, PCA_MIG_DESTINATION, "127.0.0.1:9",
				  "--bogus", &id);
		if (ret != -ENOTCONN)
			break;
		usleep(20000);
	}
	PCA_EXPECT_OK(t, ret);
	relay_refused(t, c, rid, "--channels 99", "--channels");
	relay_refused(t, c, rid, "--region-fd 3", "--region-fd comes from the relay");
	relay_refused(t, c, rid, "--connect 1.2.3.4:5", "--connect comes from the relay");
	relay_refused(t, c, rid, "extra", "unexpected argument");
	/* neither the daemon nor the migration chose TLS or plain TCP */
	relay_refused(t, c, rid, "--channels 2", "no credentials");
	kill(daemon, SIGTERM);
	while (waitpid(daemon, &ret, 0) < 0 && errno == EINTR)
		;
	PCA_EXPECT(t, WIFEXITED(ret) && !WEXITSTATUS(ret),
		   "daemon status %#x", ret);
	pca_client_close(c);
	close(fd);
}

/*
 * --push-max-rate: the data channels together move no faster than the
 * cap.  A lower bound on the time taken, which a loaded host only makes
 * longer: 2 MiB postcopy only at 512 KiB/s takes 4 s less what urgent
 * answers (which the cap leaves alone) carry; half of that at least.
 * Uncapped, loopback under TCG moves it in about half a second.
 */
static void test_push_capped(struct pca_test_ctx *t)
{
	const uint64_t cap = MiB / 2;
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 2 * MiB);
	o.rounds = 0;
	o.dest_rate = 50;
	o.push_max_rate = cap;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.total_ns >= 2 * MiB * 1000000000ULL / cap / 2,
		   "2 MiB moved in %.2f s, faster than half the cap allows",
		   r.dst.total_ns / 1e9);
}

static void test_netns_netem(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* two network namespaces, a veth pair, 2 ms of delay each way */
	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	opts(&o, 16 * MiB);
	o.rate = 500;
	o.rounds = 2;
	o.downtime_ms = 1;
	o.dest_rate = 2000;
	o.netem = "delay 2ms rate 500mbit";
	migrate_ok(t, &o, &r);

	/* postcopy only: a remote fault costs a round trip at least */
	o.rounds = 0;
	o.rate = 0;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.faults_remote > 0, "no remote fault");
	PCA_EXPECT(t, r.dst.lat_p50_ns >= 4000000ULL,
		   "p50 %llu us below the 4 ms round trip",
		   (unsigned long long)(r.dst.lat_p50_ns / 1000));
}

/* ---- the userfaultfd backend ------------------------------------------- */

/*
 * The destination is ordinary memory registered with userfaultfd; the
 * source is a module region as before.  Same checks as above: every page
 * byte for byte, and the engine's own present count.
 */
static void test_uffd_idle(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.uffd = WL_UFFD_ANON;
	o.dest_rate = 0;
	migrate_ok(t, &o, &r);
	PCA_EXPECT_EQ(t, r.dst.rounds, 1);
	PCA_EXPECT_EQ(t, r.dst.discarded, 0);
	/* zero markers are placed with UFFDIO_ZEROPAGE, in precopy */
	PCA_EXPECT(t, r.dst.precopy_zero > 0, "no zero page markers sent");
	PCA_EXPECT_EQ(t, r.dst.precopy_placed, r.pages);
}

static void test_uffd_low_rate(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/*
	 * One precopy round (the whole region: about a second), then what
	 * was dirtied meanwhile, far above the 64-page stop-and-copy floor,
	 * moves in postcopy.
	 */
	opts(&o, 32 * MiB);
	o.uffd = WL_UFFD_MEMFD;
	o.rate = 1000;
	o.rounds = 1;
	o.downtime_ms = 1;
	o.dest_rate = 3000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src_writes > 0, "the writers wrote nothing");
	PCA_EXPECT_EQ(t, r.dst.rounds, 1);
	PCA_EXPECT(t, r.dst.precopy_pages >= r.pages, "precopy sent %llu",
		   (unsigned long long)r.dst.precopy_pages);
	PCA_EXPECT(t, r.dst.discarded > 0, "nothing left for postcopy");
	PCA_EXPECT(t, r.dst.postcopy_pages + r.dst.urgent_pages > 0,
		   "no page moved in postcopy");
}

static void test_uffd_postcopy_only(struct pca_test_ctx *t)
{
	static const enum wl_uffd kinds[] = { WL_UFFD_ANON, WL_UFFD_MEMFD };
	struct wl_result r;
	struct wl_opts o;
	unsigned int i;

	for (i = 0; i < 2; i++) {
		opts(&o, 16 * MiB);
		o.uffd = kinds[i];
		o.rounds = 0;
		o.dest_rate = 5000;
		o.writers = 4;
		migrate_ok(t, &o, &r);
		PCA_EXPECT_EQ(t, r.dst.precopy_pages, 0);
		PCA_EXPECT(t, r.dst.faults > 0, "no postcopy faults");
		PCA_EXPECT(t, r.dst.urgent_pages > 0, "no urgent pages");
		PCA_EXPECT(t, r.dst.lat_count > 0, "no fault latency measured");
	}
}

static void test_uffd_cut_postcopy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* faults keep waiting in the userfaultfd while it reconnects */
	opts(&o, 32 * MiB);
	o.uffd = WL_UFFD_MEMFD;
	o.rounds = 0;
	o.cut = WL_CUT_POSTCOPY;
	o.dest_rate = 3000;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects >= 1, "no reconnect happened");
}

static void test_uffd_netns_netem(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	opts(&o, 16 * MiB);
	o.uffd = WL_UFFD_ANON;
	o.rounds = 0;
	o.dest_rate = 2000;
	o.netem = "delay 2ms rate 500mbit";
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.faults_remote > 0, "no remote fault");
	/* stamped when read from the userfaultfd, before the request */
	PCA_EXPECT(t, r.dst.lat_p50_ns >= 4000000ULL,
		   "p50 %llu us below the 4 ms round trip",
		   (unsigned long long)(r.dst.lat_p50_ns / 1000));
}

static void test_uffd_snapshot_restore(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.uffd = WL_UFFD_MEMFD;
	o.rate = 1000;
	o.dest_rate = 4000;
	o.fill_pct = 70;
	o.snapshot = "/tmp/migrate_test_uffd.snap";
	migrate_ok(t, &o, &r);
	unlink(o.snapshot);
	PCA_EXPECT(t, r.dst.faults > 0, "no fault served from the file");
}

/* A thread that reads one page (faulting it in) and keeps its first word. */
struct toucher {
	volatile uint64_t *addr;
	uint64_t word;
	int done;
	pthread_t th;
};

static void *touch_fn(void *arg)
{
	struct toucher *x = arg;

	x->word = *x->addr;
	__atomic_store_n(&x->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait for one fault on @want through the backend. */
static void expect_fault(struct pca_test_ctx *t, struct mig_be *be,
			 uint64_t want)
{
	uint64_t end = mig_now_ns() + pca_scaled_ms(5000) * 1000000ULL;
	struct mig_fault f[8];
	int n = 0;

	while (!n && mig_now_ns() < end)
		n = PCA_ASSERT_OK(t, mig_be_faults(be, f, 8, 100));
	PCA_ASSERT(t, n > 0, "no fault on page %llu within 5 s",
		   (unsigned long long)want);
	PCA_EXPECT_EQ(t, f[0].page, want);
	PCA_EXPECT(t, f[0].time_ns > 0, "fault without a time");
}

static void join_toucher(struct pca_test_ctx *t, struct toucher *x)
{
	uint64_t end = mig_now_ns() + pca_scaled_ms(5000) * 1000000ULL;

	while (!__atomic_load_n(&x->done, __ATOMIC_ACQUIRE) &&
	       mig_now_ns() < end)
		mig_sleep_ms(5);
	PCA_ASSERT(t, x->done, "the faulting thread was not woken");
	pthread_join(x->th, NULL);
}

/*
 * The backend's operations on both kinds of memory: a fault read from
 * the userfaultfd, COPY wakes it, COPY of a present page succeeds (and
 * wakes), ZERO over a range with a present page, the present count, and
 * DISCARD: the page is missing again and the next touch faults.
 */
static void uffd_ops(struct pca_test_ctx *t, int memfd)
{
	const uint64_t pages = 16, psz = 4096;
	uint64_t page_buf[512];
	struct mig_config cfg;
	struct mig_result res;
	struct mig_placer pl;
	struct toucher x;
	struct mig_be be;
	char err[256];
	uint8_t *mem;
	int uffd, mfd = -1;

	if (memfd) {
		mfd = PCA_ASSERT_OK(t, memfd_create("uffd_ops", MFD_CLOEXEC));
		PCA_ASSERT_OK(t, ftruncate(mfd, pages * psz));
		mem = mmap(NULL, pages * psz, PROT_READ | PROT_WRITE,
			   MAP_SHARED, mfd, 0);
	} else {
		mem = mmap(NULL, pages * psz, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	PCA_ASSERT(t, mem != MAP_FAILED, "mmap: %s", strerror(errno));
	PCA_ASSERT(t, !mig_uffd_register(mem, pages * psz, &uffd, err,
					 sizeof(err)), "%s", err);
	mig_config_init(&cfg);
	cfg.backend = MIG_BACKEND_UFFD;
	cfg.uffd = uffd;
	cfg.uffd_base = (uintptr_t)mem;
	cfg.uffd_memfd = mfd;
	cfg.uffd_local = 1;
	cfg.region_size = pages * psz;
	memset(&res, 0, sizeof(res));
	PCA_ASSERT(t, !mig_be_open(&be, &cfg, 0, "test", &res), "%s",
		   res.error);
	PCA_ASSERT_OK(t, mig_placer_init(&be, &pl));

	/* a fault, resolved by COPY */
	memset(&x, 0, sizeof(x));
	x.addr = (volatile uint64_t *)(mem + 3 * psz);
	PCA_ASSERT_EQ(t, pthread_create(&x.th, NULL, touch_fn, &x), 0);
	expect_fault(t, &be, 3);
	page_buf[0] = 0xabcdef;
	PCA_EXPECT_OK(t, mig_place_copy(&pl, 3, page_buf, 0));
	join_toucher(t, &x);
	PCA_EXPECT_EQ(t, x.word, 0xabcdef);
	PCA_EXPECT_EQ(t, mig_be_present(&be), 1);

	/* present already: success, nothing changes */
	page_buf[0] = 0x1111;
	PCA_EXPECT_OK(t, mig_place_copy(&pl, 3, page_buf, 0));
	PCA_EXPECT_EQ(t, *(uint64_t *)(mem + 3 * psz), 0xabcdef);
	/* zeros around it, with and without a wake-up */
	PCA_EXPECT_OK(t, mig_place_zero(&pl, 0, 8, MIG_PLACE_DONTWAKE));
	PCA_EXPECT_OK(t, mig_place_wake(&pl, 0, 8));
	PCA_EXPECT_EQ(t, mig_be_present(&be), 8);
	PCA_EXPECT_EQ(t, *(uint64_t *)(mem + 3 * psz), 0xabcdef);
	PCA_EXPECT_EQ(t, *(uint64_t *)(mem + 5 * psz), 0);

	/* discarded: missing again, the next touch faults */
	PCA_EXPECT_OK(t, mig_place_discard(&pl, 3, 1));
	PCA_EXPECT_EQ(t, mig_be_present(&be), 7);
	memset(&x, 0, sizeof(x));
	x.addr = (volatile uint64_t *)(mem + 3 * psz);
	PCA_ASSERT_EQ(t, pthread_create(&x.th, NULL, touch_fn, &x), 0);
	expect_fault(t, &be, 3);
	page_buf[0] = 0x2222;
	PCA_EXPECT_OK(t, mig_place_copy(&pl, 3, page_buf, 0));
	join_toucher(t, &x);
	PCA_EXPECT_EQ(t, x.word, 0x2222);
	PCA_EXPECT_EQ(t, mig_be_present(&be), 8);

	/* an anonymous range that is not ours cannot be discarded */
	if (!memfd) {
		be.local = 0;
		PCA_EXPECT_ERR(t, mig_place_discard(&pl, 4, 1), EOPNOTSUPP);
		pca_t_diag(t, "%s", mig_placer_err(&pl, -EOPNOTSUPP));
		be.local = 1;
	}
	mig_placer_fini(&pl);
	mig_be_close(&be);
	close(uffd);
	munmap(mem, pages * psz);
	if (mfd >= 0)
		close(mfd);
}

static void test_uffd_backend_ops(struct pca_test_ctx *t)
{
	uffd_ops(t, 0);
	uffd_ops(t, 1);
}

/* ---- protocol errors ---------------------------------------------------- */

struct fake_peer {
	int lfd;
	char addr[64];
	const void *reply;
	size_t len;
	pthread_t th;
};

/* Accept one connection, read what comes, answer @reply, hang up. */
static void *fake_thread(void *arg)
{
	struct fake_peer *f = arg;
	char buf[256];
	int fd;

	fd = accept(f->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	usleep(100000);
	if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
		buf[0] = 0;
	if (f->len)
		send(fd, f->reply, f->len, MSG_NOSIGNAL);
	usleep(200000);
	close(fd);
	return NULL;
}

static void fake_start(struct pca_test_ctx *t, struct fake_peer *f,
		       const void *reply, size_t len)
{
	char err[128];

	f->reply = reply;
	f->len = len;
	PCA_ASSERT_OK(t, mig_listen("127.0.0.1:0", &f->lfd, f->addr,
				    sizeof(f->addr), err, sizeof(err)));
	PCA_ASSERT_EQ(t, pthread_create(&f->th, NULL, fake_thread, f), 0);
}

static void fake_stop(struct fake_peer *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

/*
 * A destination against @addr, with @tls and @creds, must fail saying
 * @want, placing nothing.
 */
static void dest_fails_tls(struct pca_test_ctx *t, const char *addr,
			   uint64_t pages, const uint8_t *id,
			   enum mig_tls_mode tls, const char *creds,
			   const char *peer, const char *want)
{
	struct pca_region_info info;
	struct mig_result res;
	struct mig_config dc;
	uint32_t rid;
	int fd, ret;

	fd = PCA_ASSERT_OK(t, pca_region_create(pages * 4096,
						PCA_REGION_MISSING, &rid));
	mig_config_init(&dc);
	dc.addr = addr;
	dc.region_fd = fd;
	dc.region_id = rid;
	dc.connect_timeout_ms = pca_scaled_ms(3000);
	dc.io_timeout_ms = pca_scaled_ms(2000);
	dc.tls = tls;
	dc.tls_creds = creds;
	dc.tls_peer = peer;
	if (id) {
		memcpy(dc.id, id, MIG_ID_LEN);
		dc.have_id = 1;
	}
	ret = mig_dest_run(&dc, &res);
	pca_t_diag(t, "destination: %d: %s", ret, res.error);
	PCA_EXPECT(t, ret < 0, "the destination succeeded");
	PCA_EXPECT(t, strstr(res.error, want) != NULL,
		   "error does not say '%s'", want);
	PCA_ASSERT_OK(t, pca_region_get(t->c, rid, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 0);
	PCA_EXPECT_EQ(t, info.queues, 0);
	close(fd);
}

/* The same against a fake peer or nobody: plain TCP. */
static void dest_fails(struct pca_test_ctx *t, const char *addr,
		       uint64_t pages, const uint8_t *id, const char *want)
{
	dest_fails_tls(t, addr, pages, id, MIG_TLS_INSECURE, NULL, NULL, want);
}

static void test_garbage_peer(struct pca_test_ctx *t)
{
	static const char junk[160] =
		"HTTP/1.0 400 Bad Request\r\nServer: not-a-source\r\n\r\n";
	struct fake_peer f;

	fake_start(t, &f, junk, sizeof(junk));
	dest_fails(t, f.addr, 16, NULL, "is not a postcopy-agent source");
	fake_stop(&f);
}

static void test_wrong_version(struct pca_test_ctx *t)
{
	struct mig_welcome w;
	struct fake_peer f;

	memset(&w, 0, sizeof(w));
	w.magic = mig_cpu_to_le32(MIG_MAGIC);
	w.version = mig_cpu_to_le16(99);
	w.status = mig_cpu_to_le16(MIG_ERR_VERSION);
	fake_start(t, &f, &w, sizeof(w));
	dest_fails(t, f.addr, 16, NULL, "speaks protocol version 99");
	fake_stop(&f);
}

static void test_silent_peer(struct pca_test_ctx *t)
{
	struct fake_peer f;

	fake_start(t, &f, NULL, 0);
	dest_fails(t, f.addr, 16, NULL, "closed the connection");
	fake_stop(&f);
}

static void test_no_source(struct pca_test_ctx *t)
{
	char addr[64], err[128];
	int lfd;

	/* a port nobody listens on: refused until the connect timeout */
	PCA_ASSERT_OK(t, mig_listen("127.0.0.1:0", &lfd, addr, sizeof(addr),
				    err, sizeof(err)));
	close(lfd);
	dest_fails(t, addr, 16, NULL, "Connection refused");
}

struct src_bg {
	struct mig_config cfg;
	struct mig_result res;
	pthread_t th;
	int cancel;
	int ret;
	pthread_mutex_t lock;
	char warning[320];	/* the last one, under lock */
};

static void src_bg_log(enum mig_log_level level, const char *msg, void *arg)
{
	struct src_bg *b = arg;

	if (level > MIG_LOG_WARN)
		return;
	pthread_mutex_lock(&b->lock);
	snprintf(b->warning, sizeof(b->warning), "%s", msg);
	pthread_mutex_unlock(&b->lock);
}

static void *src_bg_fn(void *arg)
{
	struct src_bg *b = arg;

	b->ret = mig_source_run(&b->cfg, &b->res);
	return NULL;
}

/*
 * A real source (postcopy only) serving @pages pages as migration @id,
 * with @tls and @creds.
 */
/* A source in the background; @peer: the only peer it accepts, or NULL. */
static void src_bg_start_peer(struct pca_test_ctx *t, struct src_bg *b,
			      uint64_t pages, const uint8_t *id, char *addr,
			      size_t len,
			      void (*prog)(const struct mig_progress *, void *),
			      void *arg, enum mig_tls_mode tls,
			      const char *creds, const char *peer)
{
	char err[128];
	uint32_t rid;
	int fd, lfd;

	memset(b, 0, sizeof(*b));
	fd = PCA_ASSERT_OK(t, pca_region_create(pages * 4096, 0, &rid));
	PCA_ASSERT_OK(t, mig_listen("127.0.0.1:0", &lfd, addr, len, err,
				    sizeof(err)));
	mig_config_init(&b->cfg);
	b->cfg.listen_fd = lfd;
	b->cfg.region_fd = fd;
	b->cfg.region_id = rid;
	b->cfg.max_rounds = 0;
	b->cfg.connect_timeout_ms = pca_scaled_ms(20000);
	b->cfg.cancel = &b->cancel;
	memcpy(b->cfg.id, id, MIG_ID_LEN);
	b->cfg.have_id = 1;
	b->cfg.io_timeout_ms = pca_scaled_ms(2000);
	b->cfg.hooks.progress = prog;
	b->cfg.hooks.arg = arg;
	if (!prog) {
		b->cfg.hooks.log = src_bg_log;
		b->cfg.hooks.arg = b;
	}
	b->cfg.tls = tls;
	b->cfg.tls_creds = creds;
	b->cfg.tls_peer = peer;
	pthread_mutex_init(&b->lock, NULL);
	PCA_ASSERT_EQ(t, pthread_create(&b->th, NULL, src_bg_fn, b), 0);
}

static void src_bg_start_tls(struct pca_test_ctx *t, struct src_bg *b,
			     uint64_t pages, const uint8_t *id, char *addr,
			     size_t len,
			     void (*prog)(const struct mig_progress *, void *),
			     void *arg, enum mig_tls_mode tls,
			     const char *creds)
{
	src_bg_start_peer(t, b, pages, id, addr, len, prog, arg, tls, creds,
			  NULL);
}

static void src_bg_start_hook(struct pca_test_ctx *t, struct src_bg *b,
			      uint64_t pages, const uint8_t *id, char *addr,
			      size_t len,
			      void (*prog)(const struct mig_progress *, void *),
			      void *arg)
{
	src_bg_start_tls(t, b, pages, id, addr, len, prog, arg, MIG_TLS_X509,
			 X509);
}

static void src_bg_start(struct pca_test_ctx *t, struct src_bg *b,
			 uint64_t pages, const uint8_t *id, char *addr,
			 size_t len)
{
	src_bg_start_hook(t, b, pages, id, addr, len, NULL, NULL);
}

static void src_bg_stop(struct src_bg *b)
{
	__atomic_store_n(&b->cancel, 1, __ATOMIC_RELEASE);
	pthread_join(b->th, NULL);
	close(b->cfg.listen_fd);
	close(b->cfg.region_fd);
}

/*
 * Liveness in the handshake.  A source that is slow to answer (here: it
 * sits in its phase hook before it looks for a destination, as one
 * setting up a large region on a busy host would) is alive as long as
 * its heartbeats come, past the fixed 5 s that a handshake used to be
 * allowed and past twice the destination's --io-timeout-ms: the
 * migration completes.  A listener that never answers is given up after
 * the silence limit, with an error that names the option.
 */
static int slow_source_ms(void)
{
	return pca_scaled_ms(3000) * 2 > 6000 ? pca_scaled_ms(3000) * 2 : 6000;
}

static void slow_progress(const struct mig_progress *p, void *arg)
{
	int *slept = arg;

	if (p->phase == MIG_PHASE_CONNECTING && !*slept) {
		*slept = 1;
		mig_sleep_ms(slow_source_ms());
	}
}

static void test_slow_source_handshake(struct pca_test_ctx *t)
{
	static const uint8_t id[MIG_ID_LEN] = { 0x51, 0x0e };
	struct mig_result res;
	struct mig_config dc;
	struct src_bg s;
	char addr[64];
	uint64_t t0;
	int fd, ret, slept = 0;
	uint32_t rid;

	src_bg_start_hook(t, &s, 64, id, addr, sizeof(addr), slow_progress,
			  &slept);
	fd = PCA_ASSERT_OK(t, pca_region_create(64 * 4096, PCA_REGION_MISSING,
						&rid));
	mig_config_init(&dc);
	dc.addr = addr;
	dc.region_fd = fd;
	dc.region_id = rid;
	dc.channels = 2;
	dc.tls = MIG_TLS_X509;
	dc.tls_creds = X509;
	dc.connect_timeout_ms = pca_scaled_ms(3000);
	/* half the source's delay: only heartbeats keep it waiting */
	dc.io_timeout_ms = pca_scaled_ms(3000);
	t0 = mig_now_ns();
	ret = mig_dest_run(&dc, &res);
	pca_t_diag(t, "destination: %d after %.1f s: %s", ret,
		   (mig_now_ns() - t0) / 1e9, res.ok ? "ok" : res.error);
	PCA_EXPECT_OK(t, ret);
	PCA_EXPECT(t, res.ok, "the migration failed: %s", res.error);
	PCA_EXPECT_EQ(t, res.pages_present, 64);
	PCA_EXPECT(t, mig_now_ns() - t0 >= slow_source_ms() * 1000000ULL,
		   "the source did not keep the destination waiting");
	pthread_join(s.th, NULL);
	PCA_EXPECT_OK(t, s.ret);
	close(s.cfg.listen_fd);
	close(s.cfg.region_fd);
	close(fd);
}

static void test_dead_source_handshake(struct pca_test_ctx *t)
{
	char addr[64], err[128];
	uint64_t t0, took;
	int lfd;

	/* connections complete in the backlog, nobody ever answers */
	PCA_ASSERT_OK(t, mig_listen("127.0.0.1:0", &lfd, addr, sizeof(addr),
				    err, sizeof(err)));
	t0 = mig_now_ns();
	dest_fails(t, addr, 16, NULL, "silent for");
	took = (mig_now_ns() - t0) / 1000000;
	pca_t_diag(t, "given up after %llu ms", (unsigned long long)took);
	/* dest_fails() allows 2 s of silence */
	PCA_EXPECT(t, took < (uint64_t)pca_scaled_ms(2000) + 2000,
		   "took %llu ms", (unsigned long long)took);
	close(lfd);
}

static void test_wrong_migration_id(struct pca_test_ctx *t)
{
	static const uint8_t a[MIG_ID_LEN] = { 0xaa, 1, 2, 3 };
	static const uint8_t b[MIG_ID_LEN] = { 0xbb, 1, 2, 3 };
	struct src_bg s;
	char addr[64];

	src_bg_start(t, &s, 16, a, addr, sizeof(addr));
	dest_fails_tls(t, addr, 16, b, MIG_TLS_X509, X509, NULL,
		       "--migration-id");
	src_bg_stop(&s);
	PCA_EXPECT_EQ(t, s.ret, -ECANCELED);
}

static void test_size_mismatch(struct pca_test_ctx *t)
{
	static const uint8_t a[MIG_ID_LEN] = { 0xcc };
	struct src_bg s;
	char addr[64];

	src_bg_start(t, &s, 16, a, addr, sizeof(addr));
	dest_fails_tls(t, addr, 32, NULL, MIG_TLS_X509, X509, NULL,
		       "with the source's size");
	src_bg_stop(&s);
}

/* ---- TLS ----------------------------------------------------------------- */

/* Every connection of both sides (2 + channels a connect) is in TLS. */
static void expect_tls(struct pca_test_ctx *t, const struct wl_result *r,
		       enum mig_tls_mode mode, int ktls)
{
	const struct mig_result *side[2] = { &r->src, &r->dst };
	unsigned int i, want = MIG_DEFAULT_CHANNELS + 2;

	for (i = 0; i < 2; i++) {
		const struct mig_result *m = side[i];

		pca_t_diag(t, "%s: %s, %u connections in kernel TLS, %u in user space",
			   i ? "destination" : "source",
			   mig_tls_mode_name(m->tls), m->tls_ktls, m->tls_user);
		PCA_EXPECT_EQ(t, m->tls, mode);
		PCA_EXPECT(t, m->tls_ktls + m->tls_user >= want,
			   "%u connections in TLS, want %u at least",
			   m->tls_ktls + m->tls_user, want);
		if (ktls)
			PCA_EXPECT_EQ(t, m->tls_user, 0);
		else
			PCA_EXPECT_EQ(t, m->tls_ktls, 0);
	}
}

static void test_tls_x509(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.rate = 500;
	o.dest_rate = 2000;
	o.rounds = 2;
	migrate_ok(t, &o, &r);
	expect_tls(t, &r, MIG_TLS_X509, 1);
}

static void test_tls_psk(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	opts(&o, 16 * MiB);
	o.rate = 500;
	o.rounds = 2;
	o.tls = MIG_TLS_PSK;
	o.tls_creds = PSK;
	migrate_ok(t, &o, &r);
	expect_tls(t, &r, MIG_TLS_PSK, 1);
}

/* A counter of /proc/net/tls_stat (this namespace), or -1. */
static long long tls_stat(const char *name)
{
	FILE *f = fopen("/proc/net/tls_stat", "re");
	char key[64];
	long long v, found = -1;

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name))
			found = v;
	fclose(f);
	return found;
}

static void test_tls_ktls(struct pca_test_ctx *t)
{
	long long tx0 = tls_stat("TlsTxSw"), rx0 = tls_stat("TlsRxSw");
	long long tx, rx;
	struct wl_result r;
	struct wl_opts o;

	if (tx0 < 0)
		PCA_SKIP(t, "no kernel TLS (/proc/net/tls_stat): tls module not loaded");
	opts(&o, 16 * MiB);
	o.rounds = 0;
	o.dest_rate = 3000;
	migrate_ok(t, &o, &r);
	expect_tls(t, &r, MIG_TLS_X509, 1);
	/* the kernel's own count: both ends of every connection, here */
	tx = tls_stat("TlsTxSw") - tx0;
	rx = tls_stat("TlsRxSw") - rx0;
	pca_t_diag(t, "kernel TLS: %lld tx and %lld rx contexts", tx, rx);
	PCA_EXPECT(t, tx >= 2 * (MIG_DEFAULT_CHANNELS + 2) &&
		   rx >= 2 * (MIG_DEFAULT_CHANNELS + 2),
		   "kernel TLS contexts: %lld tx, %lld rx", tx, rx);
}

/* The first line of a /proc/sys file, "" if there is none. */
static void sysctl_text(const char *path, char *buf, size_t len)
{
	pca_file_text(path, buf, len);
	buf[strcspn(buf, "\n")] = 0;
}

/* Is @name one of the blank-separated words of @list? */
static int word_in(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = strstr(list, name); p; p = strstr(p + 1, name))
		if ((p == list || p[-1] == ' ') && (!p[n] || p[n] == ' '))
			return 1;
	return 0;
}

static void test_tls_user_space(struct pca_test_ctx *t)
{
	long long tx0 = tls_stat("TlsTxSw");
	char avail[256];
	struct wl_result r;
	struct wl_opts o;

	/* the fallback: records in user space, same result */
	opts(&o, 16 * MiB);
	o.rate = 500;
	o.rounds = 2;
	o.tls_no_ktls = 1;
	migrate_ok(t, &o, &r);
	expect_tls(t, &r, MIG_TLS_X509, 0);
	PCA_EXPECT_EQ(t, tls_stat("TlsTxSw"), tx0);
	/*
	 * The postcopy push's congestion control reached the TCP socket
	 * under the socket pair: the source reads it back from there.
	 */
	sysctl_text("/proc/sys/net/ipv4/tcp_available_congestion_control",
		    avail, sizeof(avail));
	PCA_EXPECT(t, !strcmp(r.src.postcopy_cc, word_in(avail, "vegas") ?
			      "vegas" : r.src.push_cc),
		   "user-space TLS: postcopy congestion control \"%s\" (available: %s)",
		   r.src.postcopy_cc, avail);
}

static void test_tls_cut_postcopy(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* the reconnect authenticates again, every channel */
	opts(&o, 16 * MiB);
	o.rounds = 0;
	o.cut = WL_CUT_POSTCOPY;
	o.dest_rate = 3000;
	o.tls = MIG_TLS_PSK;
	o.tls_creds = PSK;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects >= 1, "no reconnect happened");
	PCA_EXPECT(t, r.dst.tls_ktls + r.dst.tls_user >=
		   2 * (MIG_DEFAULT_CHANNELS + 2),
		   "%u TLS connections over a reconnect",
		   r.dst.tls_ktls + r.dst.tls_user);
}

static void test_tls_intruder(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/*
	 * While the source waits for its destination to come back after a
	 * cut, a peer with another CA's certificate knocks: refused, and
	 * the migration goes on undisturbed.
	 */
	opts(&o, 16 * MiB);
	o.rounds = 0;
	o.cut = WL_CUT_POSTCOPY;
	o.dest_rate = 3000;
	o.intruder_creds = X509_OTHER_CA;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.reconnects >= 1, "no reconnect happened");
	PCA_ASSERT(t, r.intruder_tried, "the intruder did not try");
	pca_t_diag(t, "intruder: %d: %s", r.intruder_ret, r.intruder_error);
	PCA_EXPECT(t, r.intruder_ret < 0, "the intruder got in");
	PCA_EXPECT(t, strstr(r.intruder_error, "certificate is refused") != NULL,
		   "unclear intruder error");
	PCA_EXPECT(t, strstr(r.src_last_warning, "rejected: TLS") != NULL ||
		   r.src_warnings >= 1, "the source said nothing: %s",
		   r.src_last_warning);
}

static void test_tls_agents(struct pca_test_ctx *t)
{
	struct wl_result r;
	struct wl_opts o;

	/* the CLI's options, and its refusal without a choice */
	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	opts(&o, 8 * MiB);
	o.rate = 500;
	o.agent = "/bin/postcopy-agent";
	o.tls = MIG_TLS_PSK;
	o.tls_creds = PSK;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.dst.tls_ktls + r.dst.tls_user >=
		   MIG_DEFAULT_CHANNELS + 2, "the agent reports %u TLS connections",
		   r.dst.tls_ktls + r.dst.tls_user);

	opts(&o, 8 * MiB);
	o.agent = "/bin/postcopy-agent";
	o.tls = MIG_TLS_UNSET;
	PCA_EXPECT(t, wl_run(&o, &r) < 0 && !r.ok, "migrated without a choice");
	report(t, &r);
}

/* The source's last warning says @want, within a few seconds. */
static void src_bg_expect_warning(struct pca_test_ctx *t, struct src_bg *b,
				  const char *want)
{
	uint64_t end = mig_now_ns() + pca_scaled_ms(5000) * 1000000ULL;
	int found = 0;

	do {
		pthread_mutex_lock(&b->lock);
		found = strstr(b->warning, want) != NULL;
		pthread_mutex_unlock(&b->lock);
		if (!found)
			mig_sleep_ms(20);
	} while (!found && mig_now_ns() < end);
	pthread_mutex_lock(&b->lock);
	pca_t_diag(t, "source: %s", b->warning);
	pthread_mutex_unlock(&b->lock);
	PCA_EXPECT(t, found, "the source's warning does not say '%s'", want);
}

/*
 * A peer with the wrong credentials is refused, with a clear error on
 * both sides: the destination fails having placed nothing (want_dst),
 * the source says why (want_src) and keeps waiting; a destination with
 * the right credentials then completes the migration.
 */
static void tls_refused_peer(struct pca_test_ctx *t,
			     enum mig_tls_mode smode, const char *screds,
			     const char *speer, enum mig_tls_mode dmode,
			     const char *dcreds, const char *dpeer,
			     const char *want_dst, const char *want_src)
{
	static const uint8_t id[MIG_ID_LEN] = { 0x71, 0x5e };
	struct pca_region_info info;
	struct mig_result res;
	struct mig_config dc;
	struct src_bg s;
	char addr[64];
	uint32_t rid;
	int fd, ret;

	src_bg_start_peer(t, &s, 64, id, addr, sizeof(addr), NULL, NULL, smode,
			  screds, speer);
	dest_fails_tls(t, addr, 64, NULL, dmode, dcreds, dpeer, want_dst);
	src_bg_expect_warning(t, &s, want_src);

	fd = PCA_ASSERT_OK(t, pca_region_create(64 * 4096, PCA_REGION_MISSING,
						&rid));
	mig_config_init(&dc);
	dc.addr = addr;
	dc.region_fd = fd;
	dc.region_id = rid;
	dc.channels = 2;
	dc.tls = smode;
	dc.tls_creds = screds;
	dc.connect_timeout_ms = pca_scaled_ms(3000);
	dc.io_timeout_ms = pca_scaled_ms(3000);
	ret = mig_dest_run(&dc, &res);
	PCA_EXPECT(t, !ret && res.ok, "the right destination failed: %s",
		   res.error);
	PCA_ASSERT_OK(t, pca_region_get(t->c, rid, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 64);
	pthread_join(s.th, NULL);
	PCA_EXPECT_OK(t, s.ret);
	close(s.cfg.listen_fd);
	close(s.cfg.region_fd);
	close(fd);
}

static void tls_refused(struct pca_test_ctx *t, enum mig_tls_mode smode,
			const char *screds, enum mig_tls_mode dmode,
			const char *dcreds, const char *want_dst,
			const char *want_src)
{
	tls_refused_peer(t, smode, screds, NULL, dmode, dcreds, NULL,
			 want_dst, want_src);
}

/* The source's certificate is not for the name the destination wants. */
static void test_tls_wrong_name(struct pca_test_ctx *t)
{
	tls_refused_peer(t, MIG_TLS_X509, X509, NULL, MIG_TLS_X509, X509,
			 "other.example", "does not match",
			 "refused the handshake");
}

/*
 * A source bound to one PSK identity (--tls-peer) refuses another one of
 * its file, whose key the destination does hold.
 */
static void test_tls_psk_identity(struct pca_test_ctx *t)
{
	static const char two[] = "/tmp/pca-psk-two";
	char line[512];
	FILE *in, *out;

	in = fopen(PSK, "re");
	PCA_ASSERT(t, in != NULL, "%s: %s", PSK, strerror(errno));
	out = fopen(two, "we");
	PCA_ASSERT(t, out != NULL, "%s: %s", two, strerror(errno));
	/* pca-test first: the right destination below presents it */
	while (fgets(line, sizeof(line), in))
		fputs(line, out);
	fputs("pca-other:00112233445566778899aabbccddeeff\n", out);
	fclose(in);
	PCA_ASSERT_EQ(t, fclose(out), 0);
	tls_refused_peer(t, MIG_TLS_PSK, two, "pca-test", MIG_TLS_PSK, two,
			 "pca-other", "accepts PSK identity \"pca-other\"",
			 "only \"pca-test\" is accepted");
	unlink(two);
}

static void test_tls_wrong_ca(struct pca_test_ctx *t)
{
	tls_refused(t, MIG_TLS_X509, X509, MIG_TLS_X509, X509_OTHER_CA,
		    "certificate is refused", "refused the handshake");
}

static void test_tls_expired(struct pca_test_ctx *t)
{
	tls_refused(t, MIG_TLS_X509, X509, MIG_TLS_X509, X509_EXPIRED,
		    "refused the handshake", "expired");
}

static void test_tls_wrong_psk(struct pca_test_ctx *t)
{
	tls_refused(t, MIG_TLS_PSK, PSK, MIG_TLS_PSK, PSK_WRONG,
		    "pre-shared key", "pre-shared key");
}

static void test_tls_plain_client(struct pca_test_ctx *t)
{
	tls_refused(t, MIG_TLS_X509, X509, MIG_TLS_INSECURE, NULL,
		    "speaks TLS", "does not speak TLS");
}

static void test_tls_plain_source(struct pca_test_ctx *t)
{
	tls_refused(t, MIG_TLS_INSECURE, NULL, MIG_TLS_X509, X509,
		    "during the TLS handshake", "it speaks TLS");
}

/* A TLS 1.2 client with the right certificate: no downgrade. */
static void test_tls_downgrade(struct pca_test_ctx *t)
{
	static const uint8_t id[MIG_ID_LEN] = { 0x71, 0x12 };
	gnutls_certificate_credentials_t cred;
	gnutls_session_t sess;
	char addr[64], err[200];
	struct src_bg s;
	int fd, ret;

	src_bg_start_tls(t, &s, 64, id, addr, sizeof(addr), NULL, NULL,
			 MIG_TLS_X509, X509);
	PCA_ASSERT_OK(t, mig_connect(addr, pca_scaled_ms(3000), &fd, err,
				     sizeof(err)));
	PCA_ASSERT_EQ(t, gnutls_certificate_allocate_credentials(&cred), 0);
	gnutls_certificate_set_x509_trust_file(cred, X509 "/ca-cert.pem",
					       GNUTLS_X509_FMT_PEM);
	gnutls_certificate_set_x509_key_file(cred, X509 "/client-cert.pem",
					     X509 "/client-key.pem",
					     GNUTLS_X509_FMT_PEM);
	PCA_ASSERT_EQ(t, gnutls_init(&sess, GNUTLS_CLIENT), 0);
	PCA_ASSERT_EQ(t, gnutls_priority_set_direct(sess,
			"NORMAL:-VERS-ALL:+VERS-TLS1.2", NULL), 0);
	gnutls_credentials_set(sess, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_transport_set_int(sess, fd);
	gnutls_handshake_set_timeout(sess, pca_scaled_ms(5000));
	do {
		ret = gnutls_handshake(sess);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	pca_t_diag(t, "TLS 1.2 client: %s", gnutls_strerror(ret));
	PCA_EXPECT(t, ret < 0, "the source spoke TLS 1.2");
	gnutls_deinit(sess);
	gnutls_certificate_free_credentials(cred);
	close(fd);
	/* the source said why, and still waits */
	src_bg_expect_warning(t, &s, "no TLS 1.3");
	src_bg_stop(&s);
	PCA_EXPECT_EQ(t, s.ret, -ECANCELED);
}

/* ---- the region filesystem, agents given paths ------------------------ */

#define FS_SRC		"/tmp/migrate_test-src"
#define FS_DST		"/tmp/migrate_test-dst"

static uint64_t fs_word(size_t page)
{
	return page * 0x9e3779b97f4a7c15ULL + 1;
}

static uint8_t *fs_file(struct pca_test_ctx *t, const char *dir,
			const char *opts, size_t size)
{
	char path[96];
	uint8_t *p;
	int fd;

	pcafs_mount(t, dir, opts);
	snprintf(path, sizeof(path), "%s/vm", dir);
	fd = pcafs_create(t, path, size);
	p = region_map(t, fd, size);
	close(fd);
	return p;
}

static pid_t fs_agent(struct pca_test_ctx *t, char *const argv[])
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!pid) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/*
 * A migration between two files of region filesystems, as between two
 * QEMUs on two hosts: postcopy-agent source and destination are given the
 * files' paths only.  Postcopy only, and the destination's "guest" reads
 * every page from the moment the agent attached: its faults are served.
 */
static void test_regionfs_paths(struct pca_test_ctx *t)
{
	char *src_argv[] = { "/bin/postcopy-agent", "source", "--listen",
			     "127.0.0.1:47391", "--region-id", FS_SRC "/vm",
			     "--rounds", "0", "--quiet", "--tls-creds", X509,
			     NULL };
	char *dst_argv[] = { "/bin/postcopy-agent", "destination",
			     "--connect", "127.0.0.1:47391", "--region-id",
			     FS_DST "/vm", "--quiet", "--tls-creds", X509,
			     NULL };
	size_t size = 8 * MiB, pages = size / 4096, i, bad = 0;
	struct pca_region_info info;
	uint8_t *src, *dst;
	int st_src, st_dst, waited;
	pid_t ps, pd;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	src = fs_file(t, FS_SRC, NULL, size);
	dst = fs_file(t, FS_DST, "missing", size);
	for (i = 0; i < pages; i++)
		*(uint64_t *)(src + i * 4096 + (i % 500) * 8) = fs_word(i);

	ps = fs_agent(t, src_argv);
	pd = fs_agent(t, dst_argv);
	/* the destination's reads wait once an agent serves them */
	for (waited = 0;; waited += 20) {
		if (!pca_region_get_path(t->c, FS_DST "/vm", &info) &&
		    info.queues)
			break;
		if (waited > pca_scaled_ms(30000))
			PCA_FATAL(t, "the destination agent never attached");
		usleep(20000);
	}
	for (i = 0; i < pages; i++)
		if (*(uint64_t *)(dst + i * 4096 + (i % 500) * 8) !=
		    fs_word(i))
			bad++;
	st_dst = pca_waitpid_ms(pd, 60000);
	st_src = pca_waitpid_ms(ps, 60000);
	PCA_EXPECT(t, st_src == 0, "source agent: status %#x", st_src);
	PCA_EXPECT(t, st_dst == 0, "destination agent: status %#x", st_dst);
	PCA_EXPECT_EQ(t, bad, 0);
	PCA_ASSERT_OK(t, pca_region_get_path(t->c, FS_DST "/vm", &info));
	pca_t_diag(t, "pages %zu present %llu faults %llu", pages,
		   (unsigned long long)info.pages_present,
		   (unsigned long long)info.stats.faults);
	PCA_EXPECT_EQ(t, info.pages_present, pages);
	PCA_EXPECT(t, info.stats.faults > 0, "no fault was served");
	PCA_EXPECT(t, !memcmp(src, dst, size), "contents differ");

	munmap(src, size);
	munmap(dst, size);
	unlink(FS_SRC "/vm");
	unlink(FS_DST "/vm");
	umount(FS_SRC);
	umount(FS_DST);
}

/*
 * The same through the module's relay: "postcopy-agent migrate" given the
 * files' paths on both sides, "postcopy-agent daemon" reaching each
 * region by id (PCA_IOC_REGION_OPEN opens the file again) with its output
 * in a file, where both workers' summaries must arrive.
 */
static void test_regionfs_relay(struct pca_test_ctx *t)
{
	char *daemon_argv[] = { "/bin/postcopy-agent", "daemon",
				"--tls-creds", X509, NULL };
	char *dst_argv[] = { "/bin/postcopy-agent", "migrate", "--region-id",
			     FS_DST "/vm", "--role", "destination", "--peer",
			     "127.0.0.1:47392", "--timeout-s", "60", NULL };
	char *src_argv[] = { "/bin/postcopy-agent", "migrate", "--region-id",
			     FS_SRC "/vm", "--role", "source", "--peer",
			     "127.0.0.1:47392", "--args", "--rounds 1",
			     "--timeout-s", "60", NULL };
	size_t size = 4 * MiB, pages = size / 4096, i;
	int st_src, st_dst, tries;
	struct pca_region_info info;
	char out[8192];
	uint8_t *src, *dst;
	pid_t pdm, ps, pd;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	src = fs_file(t, FS_SRC, NULL, size);
	dst = fs_file(t, FS_DST, "missing", size);
	for (i = 0; i < pages; i++)
		*(uint64_t *)(src + i * 4096 + (i % 500) * 8) = fs_word(i);

	pdm = pca_spawn_to_file(t, daemon_argv, "/tmp/migrate_test-daemon.out");
	/* the daemon may not listen yet: "no agent daemon listens" */
	for (tries = 0;; tries++) {
		int waited;

		pd = pca_spawn_to_file(t, dst_argv, "/tmp/migrate_test-dst.out");
		for (waited = 0; waited < pca_scaled_ms(1000); waited += 20) {
			if (waitpid(pd, &st_dst, WNOHANG) == pd)
				break;
			usleep(20000);
		}
		if (waited >= pca_scaled_ms(1000))
			break;		/* running: the daemon took it */
		pca_file_text("/tmp/migrate_test-dst.out", out, sizeof(out));
		if (!strstr(out, "no agent daemon") || tries > 50)
			PCA_FATAL(t, "migrate (destination): status %#x: %s",
				  st_dst, out);
	}
	ps = pca_spawn_to_file(t, src_argv, "/tmp/migrate_test-src.out");
	st_src = pca_waitpid_ms(ps, 60000);
	st_dst = pca_waitpid_ms(pd, 60000);
	pca_file_text("/tmp/migrate_test-src.out", out, sizeof(out));
	PCA_EXPECT(t, st_src == 0, "migrate (source): status %#x: %s", st_src,
		   out);
	pca_file_text("/tmp/migrate_test-dst.out", out, sizeof(out));
	PCA_EXPECT(t, st_dst == 0, "migrate (destination): status %#x: %s",
		   st_dst, out);
	kill(pdm, SIGTERM);
	pca_waitpid_ms(pdm, 10000);

	PCA_ASSERT_OK(t, pca_region_get_path(t->c, FS_DST "/vm", &info));
	PCA_EXPECT_EQ(t, info.pages_present, pages);
	PCA_EXPECT(t, !memcmp(src, dst, size), "contents differ");
	/* the workers' summaries reached the daemon's stdout, a file */
	pca_file_text("/tmp/migrate_test-daemon.out", out, sizeof(out));
	pca_diag_lines(t, out);
	PCA_EXPECT(t, strstr(out, "(source): complete") &&
		   strstr(out, "(destination): complete"),
		   "a worker's summary is missing from the daemon's output");

	munmap(src, size);
	munmap(dst, size);
	unlink(FS_SRC "/vm");
	unlink(FS_DST "/vm");
	umount(FS_SRC);
	umount(FS_DST);
}

/* ---- faults served from the start ------------------------------------- */

/*
 * A destination VMM that reads guest RAM before the switchover (QEMU does
 * while it loads device state): its faults are urgent requests for the
 * source's current copy, served at once, while a writer on the source
 * keeps changing some of the same pages.  Those pages are stale on the
 * destination by the switchover: after the resume every page read must
 * hold what the source wrote last, and so must the whole region at the
 * end.
 */
#define EF_PAGES	2048		/* 8 MiB */
#define EF_HOT		256		/* pages read early and written */
#define EF_MIN_READS	300		/* early reads before the pause */

struct early {
	struct pca_test_ctx *t;
	uint8_t *src, *dst;
	uint32_t gen[EF_HOT];		/* the source's last, atomic */
	int stop_writer, resumed, quit;	/* atomic */
	uint64_t early_reads, late_checked, late_bad, early_bad;
	uint64_t writes;
	pthread_t writer, reader;
	uint32_t seed_w, seed_r;
};

static uint64_t ef_word(uint64_t page, uint32_t gen)
{
	return page << 32 | gen;
}

static void ef_write(uint8_t *mem, uint64_t page, uint32_t gen)
{
	volatile uint64_t *w = (volatile uint64_t *)(mem + page * 4096);

	w[0] = ef_word(page, gen);
	w[256] = ef_word(page, gen);
}

static void *ef_writer(void *arg)
{
	struct early *e = arg;

	while (!__atomic_load_n(&e->stop_writer, __ATOMIC_ACQUIRE)) {
		uint64_t p = rand_r(&e->seed_w) % EF_HOT;
		uint32_t g = e->gen[p] + 1;

		/* a reader never sees a generation not yet announced */
		__atomic_store_n(&e->gen[p], g, __ATOMIC_RELEASE);
		ef_write(e->src, p, g);
		e->writes++;
		usleep(100);
	}
	return NULL;
}

static void *ef_reader(void *arg)
{
	struct early *e = arg;
	uint64_t p;

	while (!__atomic_load_n(&e->resumed, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE)) {
		uint64_t w;

		p = rand_r(&e->seed_r) % EF_HOT;
		w = *(volatile uint64_t *)(e->dst + p * 4096);
		/* some copy of this page the source held, never another */
		if (w >> 32 != p ||
		    (uint32_t)w > __atomic_load_n(&e->gen[p], __ATOMIC_ACQUIRE))
			e->early_bad++;
		e->early_reads++;
		usleep(200);
	}
	if (__atomic_load_n(&e->quit, __ATOMIC_ACQUIRE))
		return NULL;
	/* resumed: the source is paused, every page must be its last */
	for (p = 0; p < EF_HOT; p++) {
		volatile uint64_t *w = (volatile uint64_t *)(e->dst + p * 4096);
		uint64_t want = ef_word(p, e->gen[p]);

		e->late_checked++;
		if (w[0] != want || w[256] != want)
			e->late_bad++;
	}
	return NULL;
}

static int ef_pause(void *arg)
{
	struct early *e = arg;
	int waited;

	/* let the destination read while the source still runs */
	for (waited = 0; waited < pca_scaled_ms(20000); waited += 10) {
		if (__atomic_load_n(&e->early_reads, __ATOMIC_RELAXED) >=
		    EF_MIN_READS)
			break;
		usleep(10000);
	}
	__atomic_store_n(&e->stop_writer, 1, __ATOMIC_RELEASE);
	pthread_join(e->writer, NULL);
	return 0;
}

static void ef_resume(void *arg)
{
	struct early *e = arg;

	__atomic_store_n(&e->resumed, 1, __ATOMIC_RELEASE);
}

struct ef_run {
	struct mig_config cfg;
	struct mig_result res;
	int ret;
	pthread_t th;
};

static void *ef_src_fn(void *arg)
{
	struct ef_run *r = arg;

	r->ret = mig_source_run(&r->cfg, &r->res);
	return NULL;
}

static void *ef_dst_fn(void *arg)
{
	struct ef_run *r = arg;

	r->ret = mig_dest_run(&r->cfg, &r->res);
	return NULL;
}

static void early_faults(struct pca_test_ctx *t, unsigned int rounds)
{
	size_t size = EF_PAGES * 4096ULL;
	struct ef_run *src, *dst;
	uint32_t sid, did;
	struct early *e;
	char addr[64], err[128];
	int sfd, dfd, lfd;
	uint64_t p;

	e = calloc(1, sizeof(*e));
	src = calloc(1, sizeof(*src));
	dst = calloc(1, sizeof(*dst));
	PCA_ASSERT(t, e && src && dst, "out of memory");
	e->t = t;
	e->seed_w = 1;
	e->seed_r = 2;
	sfd = PCA_ASSERT_OK(t, pca_region_create(size, 0, &sid));
	dfd = PCA_ASSERT_OK(t, pca_region_create(size, PCA_REGION_MISSING,
						 &did));
	e->src = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, sfd, 0);
	e->dst = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0);
	PCA_ASSERT(t, e->src != MAP_FAILED && e->dst != MAP_FAILED, "mmap: %s",
		   strerror(errno));
	for (p = 0; p < EF_PAGES; p++)
		ef_write(e->src, p, 1);
	for (p = 0; p < EF_HOT; p++)
		e->gen[p] = 1;
	PCA_ASSERT_OK(t, mig_listen("127.0.0.1:0", &lfd, addr, sizeof(addr),
				    err, sizeof(err)));

	mig_config_init(&src->cfg);
	src->cfg.listen_fd = lfd;
	src->cfg.region_fd = sfd;
	src->cfg.region_id = sid;
	src->cfg.max_rounds = rounds;
	src->cfg.downtime_ms = 1;
	src->cfg.io_timeout_ms = pca_scaled_ms(5000);
	src->cfg.connect_timeout_ms = pca_scaled_ms(20000);
	src->cfg.tls = MIG_TLS_X509;
	src->cfg.tls_creds = X509;
	src->cfg.hooks.pause = ef_pause;
	src->cfg.hooks.arg = e;

	mig_config_init(&dst->cfg);
	dst->cfg.addr = addr;
	dst->cfg.region_fd = dfd;
	dst->cfg.region_id = did;
	dst->cfg.io_timeout_ms = pca_scaled_ms(5000);
	dst->cfg.connect_timeout_ms = pca_scaled_ms(20000);
	dst->cfg.tls = MIG_TLS_X509;
	dst->cfg.tls_creds = X509;
	dst->cfg.hooks.resume = ef_resume;
	dst->cfg.hooks.arg = e;

	PCA_ASSERT_EQ(t, pthread_create(&e->writer, NULL, ef_writer, e), 0);
	PCA_ASSERT_EQ(t, pthread_create(&src->th, NULL, ef_src_fn, src), 0);
	PCA_ASSERT_EQ(t, pthread_create(&dst->th, NULL, ef_dst_fn, dst), 0);
	/* the destination's VMM reads as soon as its agent attached */
	for (;;) {
		struct pca_region_info info;

		if (!pca_region_get(t->c, did, &info) && info.queues)
			break;
		usleep(5000);
	}
	PCA_ASSERT_EQ(t, pthread_create(&e->reader, NULL, ef_reader, e), 0);
	pthread_join(dst->th, NULL);
	pthread_join(src->th, NULL);
	__atomic_store_n(&e->quit, 1, __ATOMIC_RELEASE);
	pthread_join(e->reader, NULL);
	if (!__atomic_load_n(&e->stop_writer, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&e->stop_writer, 1, __ATOMIC_RELEASE);
		pthread_join(e->writer, NULL);
	}

	pca_t_diag(t, "rounds %u: writes %llu, early reads %llu (bad %llu), faults %llu early %llu remote %llu, early pages dropped %llu, discarded %llu, late checked %llu bad %llu",
		   rounds, (unsigned long long)e->writes,
		   (unsigned long long)e->early_reads,
		   (unsigned long long)e->early_bad,
		   (unsigned long long)dst->res.faults,
		   (unsigned long long)dst->res.faults_early,
		   (unsigned long long)dst->res.faults_remote,
		   (unsigned long long)dst->res.early_dropped,
		   (unsigned long long)dst->res.discarded,
		   (unsigned long long)e->late_checked,
		   (unsigned long long)e->late_bad);
	PCA_EXPECT(t, !src->ret, "source: %s", src->res.error);
	PCA_EXPECT(t, !dst->ret, "destination: %s", dst->res.error);
	PCA_EXPECT(t, e->early_reads >= EF_MIN_READS,
		   "the destination read only %llu times before the switchover",
		   (unsigned long long)e->early_reads);
	PCA_EXPECT(t, dst->res.faults_early > 0,
		   "no fault before the switchover");
	PCA_EXPECT(t, e->writes > 0, "the source wrote nothing");
	PCA_EXPECT_EQ(t, e->early_bad, 0);
	PCA_EXPECT_EQ(t, e->late_checked, EF_HOT);
	PCA_EXPECT_EQ(t, e->late_bad, 0);
	PCA_EXPECT_EQ(t, dst->res.pages_present, EF_PAGES);
	PCA_EXPECT(t, !memcmp(e->src, e->dst, size),
		   "the destination differs from the source");
	for (p = 0; p < EF_HOT; p++)
		if (*(uint64_t *)(e->dst + p * 4096) != ef_word(p, e->gen[p]))
			break;
	PCA_EXPECT_EQ(t, p, EF_HOT);

	munmap(e->src, size);
	munmap(e->dst, size);
	close(sfd);
	close(dfd);
	close(lfd);
	free(e);
	free(src);
	free(dst);
}

static void test_early_faults(struct pca_test_ctx *t)
{
	early_faults(t, 3);
}

static void test_early_faults_postcopy_only(struct pca_test_ctx *t)
{
	early_faults(t, 0);
}

/* ---- postcopy-agent migrate --qmp, against stand-in QEMUs -------------- */

/*
 * A stand-in for QEMU's QMP monitor: a thread that listens on a unix
 * socket and answers the commands migrate --qmp sends, as QEMU 7.2 does,
 * from a script of what this "QEMU" is (its RAM backend, capabilities,
 * run state).  The source's "vCPU" is a writer thread that "stop"
 * stops; "migrate" stands for the device state crossing: the
 * destination's "QEMU" then "loads" it, reading guest RAM (as QEMU reads
 * an option ROM) before it reports the migration completed.  Every
 * command is logged in order, so the test checks what ran when.
 */
#define FQ_SRC_SOCK	"/tmp/migrate_test-qmp-src.sock"
#define FQ_DST_SOCK	"/tmp/migrate_test-qmp-dst.sock"
#define FQ_INCOMING	"127.0.0.1:47394"
#define FQ_LOAD_PAGES	64		/* what the "device load" reads */

struct fq_shared;

struct fake_qemu {
	struct fq_shared *sh;
	const char *sock;
	int lfd;
	pthread_t th;
	int is_dest;
	/* what this QEMU is */
	const char *greeting;		/* NULL: QEMU 7.2's */
	const char *mem_path;
	int no_ignore_shared, not_shared, no_backend;
	const char *run_state;		/* "running", "inmigrate", ... */
	int migrate_fails;		/* source: QEMU's migration fails */
	/* what it saw, under sh->lock */
	char log[1024];			/* commands, in order, blank-separated */
	int ignore_shared_set;
	char uri[96];
	int polls;			/* query-migrate after migrate */
};

struct fq_shared {
	pthread_mutex_t lock;
	int stop_writer;		/* atomic: the source's vCPUs stopped */
	int migrated;			/* the device state crossed */
	int load_bad;			/* pages the load read stale */
	int loaded;
	uint8_t *src, *dst;
	size_t pages;
	pthread_t writer;
	int writer_running;
	uint64_t writes;
};

static void fq_send(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		off += n;
	}
}

static void fq_reply(int fd, const char *ret, long id)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": %ld}\r\n", ret,
		 id);
	fq_send(fd, buf);
}

static void fq_error(int fd, const char *desc, long id)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"error\": {\"class\": \"GenericError\", \"desc\": \"%s\"}, \"id\": %ld}\r\n",
		 desc, id);
	fq_send(fd, buf);
}

/* The string value of "key":"..." in @line, into @out. */
static int fq_field(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(line, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= len)
		return -1;
	memcpy(out, p, e - p);
	out[e - p] = '\0';
	return 0;
}

/* The destination "loads" the device state: it reads guest RAM. */
static void fq_load(struct fq_shared *sh)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < FQ_LOAD_PAGES && i < sh->pages; i++)
		if (memcmp(sh->dst + i * 4096, sh->src + i * 4096, 4096))
			bad++;
	pthread_mutex_lock(&sh->lock);
	sh->load_bad = bad;
	sh->loaded = 1;
	pthread_mutex_unlock(&sh->lock);
}

static void fq_command(struct fake_qemu *f, int fd, const char *line)
{
	struct fq_shared *sh = f->sh;
	char cmd[64], path[128], prop[64], buf[512];
	const char *idp = strstr(line, "\"id\":");
	long id = idp ? strtol(idp + 5, NULL, 10) : 0;

	if (fq_field(line, "execute", cmd, sizeof(cmd))) {
		fq_error(fd, "no execute", id);
		return;
	}
	pthread_mutex_lock(&sh->lock);
	if (strlen(f->log) + strlen(cmd) + 2 < sizeof(f->log)) {
		strcat(f->log, cmd);
		strcat(f->log, " ");
	}
	pthread_mutex_unlock(&sh->lock);

	if (!strcmp(cmd, "qmp_capabilities")) {
		fq_reply(fd, "{}", id);
	} else if (!strcmp(cmd, "query-migrate-capabilities")) {
		fq_reply(fd, f->no_ignore_shared ?
			 "[{\"capability\": \"xbzrle\", \"state\": false}, {\"capability\": \"postcopy-ram\", \"state\": false}]" :
			 "[{\"capability\": \"xbzrle\", \"state\": false}, {\"capability\": \"postcopy-ram\", \"state\": false}, {\"capability\": \"x-ignore-shared\", \"state\": false}]",
			 id);
	} else if (!strcmp(cmd, "qom-get")) {
		fq_field(line, "path", path, sizeof(path));
		fq_field(line, "property", prop, sizeof(prop));
		if (!strcmp(path, "/machine") &&
		    !strcmp(prop, "memory-backend")) {
			fq_reply(fd, f->no_backend ? "\"\"" :
				 "\"/objects/pc.ram\"", id);
		} else if (!strcmp(path, "/objects/pc.ram") &&
			   !strcmp(prop, "mem-path")) {
			snprintf(buf, sizeof(buf), "\"%s\"", f->mem_path);
			fq_reply(fd, buf, id);
		} else if (!strcmp(path, "/objects/pc.ram") &&
			   !strcmp(prop, "share")) {
			fq_reply(fd, f->not_shared ? "false" : "true", id);
		} else {
			fq_error(fd, "Property not found", id);
		}
	} else if (!strcmp(cmd, "migrate-set-capabilities")) {
		pthread_mutex_lock(&sh->lock);
		f->ignore_shared_set =
			!!strstr(line, "{\"capability\":\"x-ignore-shared\",\"state\":true}");
		pthread_mutex_unlock(&sh->lock);
		fq_reply(fd, "{}", id);
	} else if (!strcmp(cmd, "query-status")) {
		snprintf(buf, sizeof(buf),
			 "{\"status\": \"%s\", \"singlestep\": false, \"running\": %s}",
			 f->run_state, strcmp(f->run_state, "running") ?
			 "false" : "true");
		fq_reply(fd, buf, id);
	} else if (!strcmp(cmd, "migrate-incoming") ||
		   !strcmp(cmd, "migrate")) {
		fq_field(line, "uri", f->uri, sizeof(f->uri));
		fq_reply(fd, "{}", id);
	} else if (!strcmp(cmd, "stop")) {
		__atomic_store_n(&sh->stop_writer, 1, __ATOMIC_RELEASE);
		if (sh->writer_running) {
			pthread_join(sh->writer, NULL);
			sh->writer_running = 0;
		}
		f->run_state = "paused";
		fq_reply(fd, "{}", id);
	} else if (!strcmp(cmd, "cont")) {
		f->run_state = "running";
		fq_reply(fd, "{}", id);
	} else if (!strcmp(cmd, "query-migrate")) {
		const char *st = "none";

		if (!f->is_dest && f->uri[0]) {
			/* a few polls in flight, then the end */
			if (++f->polls < 3) {
				st = "active";
			} else if (f->migrate_fails) {
				st = "failed";
			} else {
				st = "completed";
				pthread_mutex_lock(&sh->lock);
				sh->migrated = 1;
				pthread_mutex_unlock(&sh->lock);
			}
		} else if (f->is_dest && f->uri[0]) {
			int migrated;

			pthread_mutex_lock(&sh->lock);
			migrated = sh->migrated;
			pthread_mutex_unlock(&sh->lock);
			st = "active";
			if (migrated) {
				if (!sh->loaded)
					fq_load(sh);
				st = "completed";
			}
		}
		if (!strcmp(st, "failed"))
			fq_reply(fd, "{\"status\": \"failed\", \"error-desc\": \"Unable to write to socket: Connection reset by peer\"}",
				 id);
		else {
			snprintf(buf, sizeof(buf), "{\"status\": \"%s\"}", st);
			fq_reply(fd, buf, id);
		}
	} else {
		snprintf(buf, sizeof(buf), "The command %s has not been found",
			 cmd);
		fq_error(fd, buf, id);
	}
}

static void *fq_thread(void *arg)
{
	struct fake_qemu *f = arg;
	char line[4096];
	size_t n = 0;
	int fd;

	for (;;) {
		struct pollfd p = { .fd = f->lfd, .events = POLLIN };

		if (poll(&p, 1, 200) <= 0) {
			if (__atomic_load_n(&f->lfd, __ATOMIC_ACQUIRE) < 0)
				return NULL;
			continue;
		}
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		fq_send(fd, f->greeting ? f->greeting :
			"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}, \"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n");
		/* an event in between, as QEMU sends them */
		fq_send(fd, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"NIC_RX_FILTER_CHANGED\", \"data\": {}}\r\n");
		n = 0;
		for (;;) {
			ssize_t r = read(fd, line + n, sizeof(line) - 1 - n);
			char *nl;

			if (r <= 0)
				break;
			n += r;
			line[n] = '\0';
			while ((nl = strchr(line, '\n'))) {
				*nl = '\0';
				fq_command(f, fd, line);
				memmove(line, nl + 1, n - (nl + 1 - line) + 1);
				n -= nl + 1 - line;
			}
			if (n == sizeof(line) - 1)
				break;
		}
		close(fd);
	}
}

static void fq_start(struct pca_test_ctx *t, struct fake_qemu *f,
		     struct fq_shared *sh, const char *sock, int is_dest,
		     const char *mem_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	f->sh = sh;
	f->sock = sock;
	f->is_dest = is_dest;
	f->mem_path = mem_path;
	if (!f->run_state)
		f->run_state = is_dest ? "inmigrate" : "running";
	unlink(sock);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	PCA_ASSERT(t, f->lfd >= 0 && !bind(f->lfd, (struct sockaddr *)&sa,
					    sizeof(sa)) &&
		   !listen(f->lfd, 4), "fake QMP socket %s: %s", sock,
		   strerror(errno));
	PCA_ASSERT_EQ(t, pthread_create(&f->th, NULL, fq_thread, f), 0);
}

static void fq_stop(struct fake_qemu *f)
{
	int fd = f->lfd;

	__atomic_store_n(&f->lfd, -1, __ATOMIC_RELEASE);
	shutdown(fd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(fd);
	unlink(f->sock);
}

static void *fq_writer(void *arg)
{
	struct fq_shared *sh = arg;
	unsigned int seed = 7;

	while (!__atomic_load_n(&sh->stop_writer, __ATOMIC_ACQUIRE)) {
		size_t p = rand_r(&seed) % sh->pages;

		*(volatile uint64_t *)(sh->src + p * 4096 + (p % 500) * 8) +=
			1;
		sh->writes++;
		usleep(200);
	}
	return NULL;
}

/* Run @argv, its output to @out; the exit status, or -1 on a timeout. */
static int fq_run(struct pca_test_ctx *t, char *const argv[], const char *out,
		  char *text, size_t len)
{
	pid_t pid = pca_spawn_to_file(t, argv, out);
	int st = pca_waitpid_ms(pid, 60000);

	pca_file_text(out, text, len);
	pca_diag_lines(t, text);
	return st;
}

/* migrate --qmp refuses a QEMU that is not fit, saying why. */
static void qmp_refused(struct pca_test_ctx *t, struct fake_qemu *f,
			const char *role, const char *sock, const char *want)
{
	char *argv[] = { "/bin/postcopy-agent", "migrate", "--qmp",
			 (char *)sock, "--vmm-incoming", FQ_INCOMING,
			 "--role", (char *)role, "--peer", "127.0.0.1:47393",
			 "--qmp-timeout-ms", "3000", NULL };
	char text[2048];
	int st;

	st = fq_run(t, argv, "/tmp/migrate_test-qmp.out", text, sizeof(text));
	PCA_EXPECT(t, WIFEXITED(st) && WEXITSTATUS(st) == 1,
		   "%s: status %#x", want, st);
	PCA_EXPECT(t, strstr(text, want), "no \"%s\" in: %s", want, text);
	if (f)
		PCA_EXPECT(t, !strstr(f->log, "migrate-incoming") &&
			   !strstr(f->log, "stop"),
			   "a refused QEMU was steered: %s", f->log);
}

/*
 * The source's data channels' congestion control, as it reports it
 * (--json "congestion", mig_result.push_cc): by default bbr where the
 * kernel has it, else the system's; --congestion NAME that one;
 * --congestion system the system's.  A name the kernel lacks is a usage
 * error for the agent; the engine, given one, falls back to the
 * system's.
 */
/* The agent's source refuses congestion control "nosuch" for --@opt. */
static void expect_cc_refused(struct pca_test_ctx *t, const char *opt)
{
	char *nosuch[] = { "/bin/postcopy-agent", "source", "--listen",
			   "127.0.0.1:1", "--region-fd", "0", "--insecure",
			   NULL, "nosuch", NULL };
	char arg[64], want[96], text[1024];
	int st;

	snprintf(arg, sizeof(arg), "--%s", opt);
	snprintf(want, sizeof(want), "%s nosuch: not available", arg);
	nosuch[7] = arg;
	st = fq_run(t, nosuch, "/tmp/migrate_test-cc.out", text, sizeof(text));
	PCA_EXPECT(t, WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
		   strstr(text, want), "%s nosuch: status %#x: %s", arg, st,
		   text);
}

/*
 * A postcopy-only migration of @size between two agents with their
 * defaults, into @o and @r; then the congestion controls the kernel has
 * into @avail (read after the run: setting one may load its module).
 */
static void agent_postcopy(struct pca_test_ctx *t, struct wl_opts *o,
			   uint64_t size, struct wl_result *r, char *avail,
			   size_t len)
{
	opts(o, size);
	o->rounds = 0;
	o->dest_rate = 200;
	o->agent = "/bin/postcopy-agent";
	migrate_ok(t, o, r);
	sysctl_text("/proc/sys/net/ipv4/tcp_available_congestion_control",
		    avail, len);
}

static void test_congestion(struct pca_test_ctx *t)
{
	char avail[256], sys[64];
	struct wl_result r;
	struct wl_opts o;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	expect_cc_refused(t, "congestion");
	sysctl_text("/proc/sys/net/ipv4/tcp_congestion_control", sys,
		    sizeof(sys));
	PCA_ASSERT(t, *sys, "no net.ipv4.tcp_congestion_control");

	/* the agent's default */
	agent_postcopy(t, &o, 4 * MiB, &r, avail, sizeof(avail));
	pca_t_diag(t, "available: %s; system's: %s; default used: %s",
		   avail, sys, r.src.push_cc);
	PCA_EXPECT(t, r.have_src &&
		   !strcmp(r.src.push_cc, word_in(avail, "bbr") ? "bbr" : sys),
		   "default congestion control %s (available: %s)",
		   r.src.push_cc, avail);

	/* named: reno is always built in; system: the system's */
	o.push_cc = "reno";
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, !strcmp(r.src.push_cc, "reno"), "--congestion reno: %s",
		   r.src.push_cc);
	o.push_cc = "";
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, !strcmp(r.src.push_cc, sys), "--congestion system: %s",
		   r.src.push_cc);

	/* the engine falls back to the system's */
	o.agent = NULL;
	o.push_cc = "nosuch";
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.have_src && !strcmp(r.src.push_cc, sys),
		   "push_cc nosuch: %s", r.src.push_cc);
}

/*
 * Whether the automatic push widens depends on how busy both ends' CPUs
 * were while it ran, which a loaded test host cannot promise for one
 * short run: the migration runs up to PUSH_TRIES times, until @want
 * channels pushed; a push that never widens, or always does, still fails.
 */
#define PUSH_TRIES	3

static void expect_pushers(struct pca_test_ctx *t, const char *how,
			   const struct wl_opts *o, struct wl_result *r,
			   unsigned int want)
{
	int i;

	for (i = 1; i <= PUSH_TRIES; i++) {
		/* @r holds a first run already, or none */
		if (i > 1 || !r->have_src)
			migrate_ok(t, o, r);
		pca_t_diag(t, "%s, run %d: %u channels pushed", how, i,
			   r->src.postcopy_pushers);
		if (r->have_src && r->src.postcopy_pushers == want)
			return;
	}
	PCA_FAIL(t, "%s: %u channels pushed, not %u, in %d runs", how,
		 r->src.postcopy_pushers, want, PUSH_TRIES);
}

/*
 * The postcopy push (--json "postcopy_pushers" and
 * "postcopy_congestion", mig_result.postcopy_*): by default with vegas
 * where the kernel has it (else the channels' own), on one data channel
 * of four while the link holds it back (a 40 Mbit/s netem link between
 * two namespaces), and on all four once the host's CPU does (loopback;
 * both within PUSH_TRIES runs);
 * --postcopy-channels 1 one, 0 and --postcopy-congestion same all four
 * with the data channels' own; the engine's postcopy_channels 2 and
 * postcopy_cc reno two with reno.  A name the kernel lacks is a usage
 * error for the agent.
 */
static void test_postcopy_push(struct pca_test_ctx *t)
{
	char avail[256];
	struct wl_result r;
	struct wl_opts o;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	expect_cc_refused(t, "postcopy-congestion");

	/* postcopy only: every page but the faulted ones is pushed */
	agent_postcopy(t, &o, 16 * MiB, &r, avail, sizeof(avail));
	pca_t_diag(t, "loopback: %s (data channels %s; available: %s)",
		   r.src.postcopy_cc, r.src.push_cc, avail);
	PCA_EXPECT(t, r.have_src &&
		   !strcmp(r.src.postcopy_cc, word_in(avail, "vegas") ?
			   "vegas" : r.src.push_cc),
		   "default postcopy congestion control %s (available: %s)",
		   r.src.postcopy_cc, avail);
	expect_pushers(t, "loopback", &o, &r, 4);

	o.size = 4 * MiB;
	o.postcopy_channels = 1;
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src.postcopy_pushers == 1,
		   "--postcopy-channels 1: %u channels pushed",
		   r.src.postcopy_pushers);

	o.postcopy_channels = -1;
	o.postcopy_cc = "";
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src.postcopy_pushers == 4,
		   "--postcopy-channels 0: %u channels pushed",
		   r.src.postcopy_pushers);
	PCA_EXPECT(t, !strcmp(r.src.postcopy_cc, r.src.push_cc),
		   "--postcopy-congestion same: %s, data channels %s",
		   r.src.postcopy_cc, r.src.push_cc);

	o.agent = NULL;
	o.postcopy_channels = 2;
	o.postcopy_cc = "reno";
	migrate_ok(t, &o, &r);
	PCA_EXPECT(t, r.src.postcopy_pushers == 2,
		   "postcopy_channels 2: %u channels pushed",
		   r.src.postcopy_pushers);
	PCA_EXPECT(t, !strcmp(r.src.postcopy_cc, "reno"),
		   "postcopy_cc reno: %s", r.src.postcopy_cc);

	/* a link slower than the CPU: the push stays on one channel */
	if (access("/bin/tc", X_OK) || access("/bin/ip", X_OK)) {
		pca_t_diag(t, "no iproute2 ip and tc: no slow link");
		return;
	}
	o.postcopy_channels = 0;
	o.postcopy_cc = NULL;
	o.netem = "delay 1ms rate 40mbit";
	r.have_src = 0;
	expect_pushers(t, "40 Mbit/s link", &o, &r, 1);
}

static void test_qmp_refused(struct pca_test_ctx *t)
{
	struct fq_shared sh = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct fake_qemu f;
	uint8_t *dst;
	int ram[2];

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	/* options that do not go together: usage errors (status 2) */
	{
		char *no_incoming[] = { "/bin/postcopy-agent", "migrate",
					"--qmp", FQ_SRC_SOCK, "--role",
					"source", "--peer", "127.0.0.1:1",
					NULL };
		char *with_pause[] = { "/bin/postcopy-agent", "migrate",
				       "--qmp", FQ_SRC_SOCK, "--vmm-incoming",
				       FQ_INCOMING, "--pause-cmd", "true",
				       "--role", "source", "--peer",
				       "127.0.0.1:1", NULL };
		char *wait_running[] = { "/bin/postcopy-agent", "destination",
					 "--connect", "127.0.0.1:1",
					 "--region-id", "1", "--insecure",
					 "--wait-running", "1000", NULL };
		char text[1024];
		int st;

		st = fq_run(t, no_incoming, "/tmp/migrate_test-qmp.out", text,
			    sizeof(text));
		PCA_EXPECT(t, WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
			   strstr(text, "--vmm-incoming ADDR:PORT go together"),
			   "--qmp without --vmm-incoming: %#x", st);
		st = fq_run(t, with_pause, "/tmp/migrate_test-qmp.out", text,
			    sizeof(text));
		PCA_EXPECT(t, WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
			   strstr(text, "one or the other"),
			   "--qmp with --pause-cmd: %#x", st);
		st = fq_run(t, wait_running, "/tmp/migrate_test-qmp.out",
			    text, sizeof(text));
		PCA_EXPECT(t, WIFEXITED(st) && WEXITSTATUS(st) == 2 &&
			   strstr(text, "--wait-running is for migrations of the relay"),
			   "--wait-running outside the relay: %#x", st);
	}
	/* no socket */
	unlink(FQ_SRC_SOCK);
	qmp_refused(t, NULL, "source", FQ_SRC_SOCK, "does not exist");

	/* not QEMU: no greeting, or not a QMP one */
	memset(&f, 0, sizeof(f));
	f.greeting = "{\"hello\": \"world\"}\r\n";
	fq_start(t, &f, &sh, FQ_SRC_SOCK, 0, "/tmp");
	qmp_refused(t, &f, "source", FQ_SRC_SOCK, "not a QEMU QMP monitor");
	fq_stop(&f);
	memset(&f, 0, sizeof(f));
	f.greeting = "SSH-2.0-OpenSSH_9.2\r\n";
	fq_start(t, &f, &sh, FQ_SRC_SOCK, 0, "/tmp");
	qmp_refused(t, &f, "source", FQ_SRC_SOCK, "speaks no JSON");
	fq_stop(&f);

	/* no x-ignore-shared */
	memset(&f, 0, sizeof(f));
	f.no_ignore_shared = 1;
	fq_start(t, &f, &sh, FQ_SRC_SOCK, 0, "/tmp");
	qmp_refused(t, &f, "source", FQ_SRC_SOCK, "x-ignore-shared");
	fq_stop(&f);

	/* RAM that is not a backend object, not shared, not pcafs */
	memset(&f, 0, sizeof(f));
	f.no_backend = 1;
	fq_start(t, &f, &sh, FQ_SRC_SOCK, 0, "/tmp");
	qmp_refused(t, &f, "source", FQ_SRC_SOCK, "memory-backend=ID");
	fq_stop(&f);
	memset(&f, 0, sizeof(f));
	f.not_shared = 1;
	fq_start(t, &f, &sh, FQ_SRC_SOCK, 0, "/tmp/ram");
	qmp_refused(t, &f, "source", FQ_SRC_SOCK, "not shared: add share=on");
	fq_stop(&f);
	memset(&f, 0, sizeof(f));
	fq_start(t, &f, &sh, FQ_SRC_SOCK, 0, "/tmp");
	qmp_refused(t, &f, "source", FQ_SRC_SOCK,
		    "not on a region filesystem");
	fq_stop(&f);

	/* a destination QEMU not started with -incoming defer */
	dst = fs_file(t, FS_DST, "missing", 1 << 20);
	memset(&f, 0, sizeof(f));
	f.run_state = "running";
	fq_start(t, &f, &sh, FQ_DST_SOCK, 1, FS_DST "/vm");
	qmp_refused(t, &f, "destination", FQ_DST_SOCK, "-incoming defer");
	fq_stop(&f);
	/*
	 * A directory mem-path: the region is the file QEMU (here, the
	 * fake's process, the QMP socket's peer) made in it and unlinked.
	 * None, or two, cannot be told; one is found, and the refusal is
	 * then the next check's.
	 */
	memset(&f, 0, sizeof(f));
	f.run_state = "running";
	fq_start(t, &f, &sh, FQ_DST_SOCK, 1, FS_DST);
	qmp_refused(t, &f, "destination", FQ_DST_SOCK,
		    "holds no unlinked region file");
	ram[0] = pcafs_create(t, FS_DST "/ram0", 1 << 20);
	unlink(FS_DST "/ram0");
	qmp_refused(t, &f, "destination", FQ_DST_SOCK, "-incoming defer");
	ram[1] = pcafs_create(t, FS_DST "/ram1", 1 << 20);
	unlink(FS_DST "/ram1");
	qmp_refused(t, &f, "destination", FQ_DST_SOCK,
		    "several unlinked region files");
	close(ram[0]);
	close(ram[1]);
	fq_stop(&f);
	munmap(dst, 1 << 20);
	unlink(FS_DST "/vm");
	umount(FS_DST);
}

/* The position of @cmd in @log, or -1. */
static int fq_pos(const char *log, const char *cmd)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "%s ", cmd);
	for (p = log; (p = strstr(p, pat)); p++)
		if (p == log || p[-1] == ' ')
			return p - log;
	return -1;
}

/*
 * A migration of two stand-in QEMUs through the relay, steered by
 * migrate --qmp on both sides: the region is what each QEMU's RAM
 * backend names; the destination is set to take the device state
 * (x-ignore-shared, migrate-incoming) before anything moves, the source
 * stops at switchover and sends the device state only once the
 * destination switched over (its "load" then reads current pages), the
 * destination continues once loaded, and the guest's downtime is
 * reported.  With @fail, QEMU's migration fails: the source's guest is
 * continued and the migration ends failed.
 */
static void qmp_migration(struct pca_test_ctx *t, int fail)
{
	char *daemon_argv[] = { "/bin/postcopy-agent", "daemon",
				"--tls-creds", X509, NULL };
	char *dst_argv[] = { "/bin/postcopy-agent", "migrate", "--qmp",
			     FQ_DST_SOCK, "--vmm-incoming", FQ_INCOMING,
			     "--role", "destination", "--peer",
			     "127.0.0.1:47393", "--timeout-s", "90",
			     "--qmp-timeout-ms", fail ? "5000" : "60000",
			     NULL };
	char *src_argv[] = { "/bin/postcopy-agent", "migrate", "--qmp",
			     FQ_SRC_SOCK, "--vmm-incoming", FQ_INCOMING,
			     "--role", "source", "--peer", "127.0.0.1:47393",
			     "--args", "--rounds 2", "--timeout-s", "90", NULL };
	struct fq_shared sh = { .lock = PTHREAD_MUTEX_INITIALIZER };
	size_t size = 4 * MiB, i;
	struct fake_qemu fs, fd;
	struct pca_region_info info;
	char out[8192];
	int st_src, st_dst, tries;
	pid_t pdm, ps, pd;

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	sh.pages = size / 4096;
	sh.src = fs_file(t, FS_SRC, NULL, size);
	sh.dst = fs_file(t, FS_DST, "missing", size);
	for (i = 0; i < sh.pages; i++)
		*(uint64_t *)(sh.src + i * 4096 + (i % 500) * 8) = fs_word(i);
	memset(&fs, 0, sizeof(fs));
	memset(&fd, 0, sizeof(fd));
	fs.migrate_fails = fail;
	fq_start(t, &fs, &sh, FQ_SRC_SOCK, 0, FS_SRC "/vm");
	fq_start(t, &fd, &sh, FQ_DST_SOCK, 1, FS_DST "/vm");
	PCA_ASSERT_EQ(t, pthread_create(&sh.writer, NULL, fq_writer, &sh), 0);
	sh.writer_running = 1;

	pdm = pca_spawn_to_file(t, daemon_argv, "/tmp/migrate_test-daemon.out");
	for (tries = 0;; tries++) {
		int waited;

		pd = pca_spawn_to_file(t, dst_argv, "/tmp/migrate_test-dst.out");
		for (waited = 0; waited < pca_scaled_ms(1000); waited += 20) {
			if (waitpid(pd, &st_dst, WNOHANG) == pd)
				break;
			usleep(20000);
		}
		if (waited >= pca_scaled_ms(1000))
			break;
		pca_file_text("/tmp/migrate_test-dst.out", out, sizeof(out));
		if (!strstr(out, "no agent daemon") || tries > 50)
			PCA_FATAL(t, "migrate (destination): status %#x: %s",
				  st_dst, out);
	}
	ps = pca_spawn_to_file(t, src_argv, "/tmp/migrate_test-src.out");
	st_src = pca_waitpid_ms(ps, 100000);
	st_dst = pca_waitpid_ms(pd, 100000);
	kill(pdm, SIGTERM);
	pca_waitpid_ms(pdm, 10000);
	if (sh.writer_running) {
		__atomic_store_n(&sh.stop_writer, 1, __ATOMIC_RELEASE);
		pthread_join(sh.writer, NULL);
	}
	fq_stop(&fs);
	fq_stop(&fd);

	pca_file_text("/tmp/migrate_test-src.out", out, sizeof(out));
	pca_diag_lines(t, out);
	pca_t_diag(t, "source QEMU saw: %s", fs.log);
	pca_t_diag(t, "destination QEMU saw: %s", fd.log);
	PCA_EXPECT(t, fs.ignore_shared_set && fd.ignore_shared_set,
		   "x-ignore-shared not set on both sides");
	PCA_EXPECT(t, fq_pos(fd.log, "migrate-set-capabilities") >= 0 &&
		   fq_pos(fd.log, "migrate-set-capabilities") <
		   fq_pos(fd.log, "migrate-incoming"),
		   "destination: capabilities, then migrate-incoming");
	PCA_EXPECT(t, !strcmp(fd.uri, "tcp:" FQ_INCOMING),
		   "migrate-incoming %s", fd.uri);
	PCA_EXPECT(t, fq_pos(fs.log, "stop") >= 0 &&
		   fq_pos(fs.log, "stop") < fq_pos(fs.log, "migrate"),
		   "source: stop, then migrate");
	PCA_EXPECT(t, !strcmp(fs.uri, "tcp:" FQ_INCOMING), "migrate %s",
		   fs.uri);
	if (fail) {
		PCA_EXPECT(t, WIFEXITED(st_src) && WEXITSTATUS(st_src),
			   "source: status %#x", st_src);
		PCA_EXPECT(t, strstr(out, "QEMU's migration failed: Unable to write"),
			   "the source did not say QEMU's migration failed");
		PCA_EXPECT(t, fq_pos(fs.log, "cont") > fq_pos(fs.log, "migrate"),
			   "the source's guest was not continued");
		PCA_EXPECT(t, strstr(out, "keeps running on the source"),
			   "the source did not say the guest goes on");
		PCA_EXPECT(t, fq_pos(fd.log, "cont") < 0,
			   "the destination's guest was continued");
		PCA_EXPECT(t, WIFEXITED(st_dst) && WEXITSTATUS(st_dst),
			   "destination: status %#x", st_dst);
	} else {
		PCA_EXPECT(t, st_src == 0, "source: status %#x", st_src);
		PCA_EXPECT(t, strstr(out, "guest)"),
			   "the source reported no guest downtime");
		pca_file_text("/tmp/migrate_test-dst.out", out, sizeof(out));
		pca_diag_lines(t, out);
		PCA_EXPECT(t, st_dst == 0, "destination: status %#x", st_dst);
		PCA_EXPECT(t, strstr(out, "the guest runs"),
			   "the destination did not report the guest running");
		PCA_EXPECT(t, fq_pos(fd.log, "cont") >
			   fq_pos(fd.log, "query-migrate"),
			   "destination: cont before the load ended");
		PCA_EXPECT(t, fq_pos(fs.log, "cont") < 0,
			   "the source's guest was continued");
		PCA_EXPECT(t, sh.loaded, "the destination never loaded");
		PCA_EXPECT_EQ(t, sh.load_bad, 0);
		PCA_ASSERT_OK(t, pca_region_get_path(t->c, FS_DST "/vm",
						     &info));
		PCA_EXPECT_EQ(t, info.pages_present, sh.pages);
		PCA_EXPECT(t, !memcmp(sh.src, sh.dst, size),
			   "contents differ");
	}
	pca_t_diag(t, "source writes %llu", (unsigned long long)sh.writes);
	pca_file_text("/tmp/migrate_test-daemon.out", out, sizeof(out));
	pca_diag_lines(t, out);

	munmap(sh.src, size);
	munmap(sh.dst, size);
	unlink(FS_SRC "/vm");
	unlink(FS_DST "/vm");
	umount(FS_SRC);
	umount(FS_DST);
}

static void test_qmp_migration(struct pca_test_ctx *t)
{
	qmp_migration(t, 0);
}

static void test_qmp_vmm_fails(struct pca_test_ctx *t)
{
	qmp_migration(t, 1);
}

/* the VMM's view first: faults from the start, QEMU over QMP */
PCA_TEST_F(early_faults, test_early_faults, PRECOPY, .timeout = 120)
PCA_TEST_F(early_faults_postcopy_only, test_early_faults_postcopy_only,
	   MIG_FEATURES, .timeout = 120)
PCA_TEST_F(qmp_refused, test_qmp_refused, MIG_FEATURES, .timeout = 120)
PCA_TEST_F(qmp_migration, test_qmp_migration, RELAY, .timeout = 200)
PCA_TEST_F(qmp_vmm_fails, test_qmp_vmm_fails, RELAY, .timeout = 200)
PCA_TEST_F(idle, test_idle, PRECOPY, .timeout = 90)
PCA_TEST_F(low_rate, test_low_rate, PRECOPY, .timeout = 90)
PCA_TEST_F(high_rate, test_high_rate, PRECOPY, .timeout = 90)
PCA_TEST_F(postcopy_only, test_postcopy_only, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(stop_and_copy, test_stop_and_copy, PRECOPY, .timeout = 90)
PCA_TEST_F(netlink_placement, test_netlink_placement, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(cut_postcopy, test_cut_postcopy, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(cut_precopy, test_cut_precopy, PRECOPY, .timeout = 90)
PCA_TEST_F(stall_postcopy, test_stall_postcopy, MIG_FEATURES, .timeout = 90)
PCA_TEST_F(stall_short, test_stall_short, MIG_FEATURES, .timeout = 90)
PCA_TEST_F(cut_random_precopy, test_cut_random_precopy, PRECOPY,
	 .timeout = 100)
PCA_TEST_F(cut_random_postcopy, test_cut_random_postcopy, PRECOPY,
	 .timeout = 100)
PCA_TEST_F(garbage_to_source, test_garbage_to_source, PRECOPY,
	 .timeout = 90)
PCA_TEST_F(agent_processes, test_agent_processes, PRECOPY,
	 .timeout = 90)
PCA_TEST_F(dest_agent_killed, test_dest_agent_killed, PRECOPY,
	 .timeout = 90)
PCA_TEST_F(dest_agent_killed_precopy, test_dest_agent_killed_precopy,
	   PRECOPY, .timeout = 90)
PCA_TEST_F(inplace_overwrite, test_inplace_overwrite, PRECOPY,
	   .timeout = 180)
PCA_TEST_F(inplace_discard, test_inplace_discard, PRECOPY, .timeout = 180)
PCA_TEST_F(inplace_prepause, test_inplace_prepause, PRECOPY, .timeout = 180)
PCA_TEST_F(inplace_no_recv, test_inplace_no_recv, PRECOPY, .timeout = 90)
PCA_TEST_F(source_agent_killed, test_source_agent_killed,
	 MIG_FEATURES, .timeout = 90)
PCA_TEST_F(netns_netem, test_netns_netem, PRECOPY, .timeout = 90)
PCA_TEST_F(push_capped, test_push_capped, MIG_FEATURES, .timeout = 90)
PCA_TEST_F(congestion, test_congestion, MIG_FEATURES, .timeout = 120)
PCA_TEST_F(postcopy_push, test_postcopy_push, MIG_FEATURES, .timeout = 120)
PCA_TEST_F(relay_writer, test_relay_writer, RELAY, .timeout = 90)
PCA_TEST_F(relay_postcopy_only, test_relay_postcopy_only, RELAY,
	 .timeout = 90)
PCA_TEST_F(relay_cut_postcopy, test_relay_cut_postcopy, RELAY,
	 .timeout = 90)
PCA_TEST_F(relay_stall_postcopy, test_relay_stall_postcopy, RELAY,
	 .timeout = 90)
PCA_TEST_F(relay_netns, test_relay_netns, RELAY, .timeout = 90)
PCA_TEST_F(relay_bad_args, test_relay_bad_args, RELAY, .timeout = 60)
PCA_TEST_F(snapshot_restore, test_snapshot_restore, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(snapshot_agent, test_snapshot_agent, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(uffd_backend_ops, test_uffd_backend_ops, 0,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(uffd_idle, test_uffd_idle, PRECOPY, .timeout = 90)
PCA_TEST_F(uffd_low_rate, test_uffd_low_rate, PRECOPY, .timeout = 90)
PCA_TEST_F(uffd_postcopy_only, test_uffd_postcopy_only, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(uffd_cut_postcopy, test_uffd_cut_postcopy, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(uffd_netns_netem, test_uffd_netns_netem, MIG_FEATURES,
	 .timeout = 90)
PCA_TEST_F(uffd_snapshot_restore, test_uffd_snapshot_restore,
	 MIG_FEATURES, .timeout = 90)
PCA_TEST_F(garbage_peer, test_garbage_peer, MIG_FEATURES)
PCA_TEST_F(wrong_version, test_wrong_version, MIG_FEATURES)
PCA_TEST_F(silent_peer, test_silent_peer, MIG_FEATURES)
PCA_TEST_F(no_source, test_no_source, MIG_FEATURES)
PCA_TEST_F(slow_source_handshake, test_slow_source_handshake,
	 MIG_FEATURES, .timeout = 60)
PCA_TEST_F(dead_source_handshake, test_dead_source_handshake,
	 MIG_FEATURES)
PCA_TEST_F(wrong_migration_id, test_wrong_migration_id, MIG_FEATURES)
PCA_TEST_F(size_mismatch, test_size_mismatch, MIG_FEATURES)
PCA_TEST_F(regionfs_paths, test_regionfs_paths, MIG_FEATURES,
	   .timeout = 120)
PCA_TEST_F(regionfs_relay, test_regionfs_relay, RELAY, .timeout = 150)
PCA_TEST_F(tls_x509, test_tls_x509, PRECOPY, .timeout = 90)
PCA_TEST_F(tls_psk, test_tls_psk, PRECOPY, .timeout = 90)
PCA_TEST_F(tls_ktls, test_tls_ktls, MIG_FEATURES, .timeout = 90)
PCA_TEST_F(tls_user_space, test_tls_user_space, PRECOPY, .timeout = 90)
PCA_TEST_F(tls_stall_user_space, test_tls_stall_user_space, MIG_FEATURES,
	   .timeout = 90)
PCA_TEST_F(tls_cut_postcopy, test_tls_cut_postcopy, MIG_FEATURES, .timeout = 90)
PCA_TEST_F(tls_intruder, test_tls_intruder, MIG_FEATURES, .timeout = 90)
PCA_TEST_F(tls_agents, test_tls_agents, PRECOPY, .timeout = 90)
PCA_TEST_F(tls_wrong_ca, test_tls_wrong_ca, MIG_FEATURES, .timeout = 60)
PCA_TEST_F(tls_wrong_name, test_tls_wrong_name, MIG_FEATURES, .timeout = 60)
PCA_TEST_F(tls_expired, test_tls_expired, MIG_FEATURES, .timeout = 60)
PCA_TEST_F(tls_wrong_psk, test_tls_wrong_psk, MIG_FEATURES, .timeout = 60)
PCA_TEST_F(tls_psk_identity, test_tls_psk_identity, MIG_FEATURES,
	   .timeout = 60)
PCA_TEST_F(tls_plain_client, test_tls_plain_client, MIG_FEATURES, .timeout = 60)
PCA_TEST_F(tls_plain_source, test_tls_plain_source, MIG_FEATURES, .timeout = 60)
PCA_TEST_F(tls_downgrade, test_tls_downgrade, MIG_FEATURES, .timeout = 60)

TEST_HARNESS_MAIN
