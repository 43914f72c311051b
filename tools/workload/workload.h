/* SPDX-License-Identifier: GPL-2.0 */
/*
 * workload.h: a VMM and its guest, played by threads, around a migration.
 *
 * The source region is written by "vCPU" threads at a chosen rate with a
 * verifiable pattern: page p at generation g holds pattern(p, g) (g = 0:
 * all zero), and the last generation of every page is known.  At
 * switchover the writers are paused; on the destination, after resume,
 * vCPU threads read pages (faulting them in), check them against what
 * the source last wrote, and write new generations.  At the end every
 * page of the destination is compared, byte for byte, with what it must
 * hold.
 *
 * The migration runs in-process (source and destination engines in two
 * threads over loopback TCP), or with the postcopy-agent binary as two
 * processes that get the region fds and a control socket each.  A relay
 * between them can cut every connection once, in precopy or postcopy, to
 * exercise recovery.
 */
#ifndef PCA_WORKLOAD_H
#define PCA_WORKLOAD_H

#include <stdint.h>
#include <stdio.h>

#include "migrate.h"

enum wl_cut {
	WL_CUT_NONE,
	WL_CUT_PRECOPY,
	WL_CUT_POSTCOPY,
};

/* With --agent: kill one agent process (SIGKILL) at the cut point. */
enum wl_kill {
	WL_KILL_NONE,
	WL_KILL_DEST,		/* and start it again with --resume */
	WL_KILL_SOURCE,
};

/* The destination's memory, and how the engine fills it. */
enum wl_uffd {
	WL_UFFD_NONE,		/* a module region in missing mode */
	WL_UFFD_ANON,		/* anonymous MAP_PRIVATE, userfaultfd */
	WL_UFFD_MEMFD,		/* a memfd mapped MAP_SHARED, userfaultfd */
};

struct wl_opts {
	uint64_t size;			/* region bytes */
	unsigned int writers;		/* vCPU threads on each side */
	unsigned int rate;		/* source pages written per second */
	unsigned int dest_rate;		/* destination pages touched per s */
	unsigned int fill_pct;		/* pages written before migrating */
	unsigned int channels;
	unsigned int rounds;		/* precopy rounds; 0: postcopy only */
	unsigned int downtime_ms;
	unsigned int budget_ms;		/* precopy time budget */
	int no_postcopy;
	int no_prepause;		/* source: every stale page discarded
					 * inside the downtime
					 */
	int recv_in_place;		/* destination: mig_config's (default
					 * on; --no-recv-in-place)
					 */
	enum wl_cut cut;
	unsigned int cut_pct;		/* into that phase: percent of the
					 * region's bytes forwarded
					 */
	enum wl_kill kill;		/* instead of cutting (needs .cut) */
	/*
	 * With .cut: instead of closing every connection, the relay stops
	 * forwarding (new connections too) for this long and then goes on:
	 * a link that goes silent, which only the agents' dead-peer
	 * detection (.dead_after_ms) can tell from a slow one.
	 */
	unsigned int cut_stall_ms;
	int garbage_first;		/* garbage hits the source port first */
	/*
	 * Run source and destination in two network namespaces joined by a
	 * veth pair, with this tc netem spec on both ends, e.g. "delay 1ms
	 * rate 1gbit" ("" for none).  Needs iproute2's ip and tc, and the
	 * veth and sch_netem modules; not with .cut.
	 */
	const char *netem;
	const char *snapshot;		/* snapshot to this file, restore
					 * from it, instead of migrating
					 */
	int netlink;			/* destination places with netlink */
	/*
	 * The destination is a userfaultfd-registered mapping instead of a
	 * module region (MIG_BACKEND_UFFD); in-process only (not with
	 * .agent), not with .netlink.
	 */
	enum wl_uffd uffd;
	int io_timeout_ms;
	int dead_after_ms;		/* <0: the engine's default */
	/*
	 * The source's data channels as they were before push_cc and
	 * push_lowat (the system's congestion control, no limit on unsent
	 * bytes), for comparisons; in-process only.
	 */
	int push_legacy;
	/*
	 * The source's data channels' congestion control: mig_config's
	 * push_cc, or the agent's --congestion ("": the system's, --congestion
	 * system); NULL: the default.
	 */
	const char *push_cc;
	uint64_t push_max_rate;		/* source: mig_config's (0: none) */
	/*
	 * The postcopy push: mig_config's postcopy_cc, or the agent's
	 * --postcopy-congestion ("": keep push_cc, --postcopy-congestion
	 * same; NULL: the default), and postcopy_channels (0: the default;
	 * <0: all of them, --postcopy-channels 0).
	 */
	const char *postcopy_cc;
	int postcopy_channels;
	/*
	 * With .netem: first send this many MiB over plain TCP from the
	 * source's namespace to the destination's (one connection, the
	 * system's congestion control), the link's ceiling for the same
	 * guest run: wl_result.tcp_mibs.  With .tls_probe as well, the
	 * same over kernel TLS and over user-space GnuTLS (TLS 1.3,
	 * AES-128-GCM, a fixed test key: the cost of the crypto path, not
	 * of a handshake): wl_result.ktls_mibs and gnutls_mibs.  Then the
	 * plain TCP and the kernel TLS stream again, a connection of the
	 * same kind over the destination's loopback timing a fault's round
	 * trip beside each (a 32-byte request, a 4 KiB answer, one a
	 * millisecond): tcp_ping_ns, ktls_ping_ns.
	 */
	unsigned int tcp_probe_mib;
	int tls_probe;
	/*
	 * With .netem, without .tls_probe: one kernel TLS stream of this
	 * many MiB over the same link (the probe of .tls_probe), the
	 * ceiling of a migration whose records are in kernel TLS:
	 * wl_result.ktls_mibs.
	 */
	unsigned int ktls_probe_mib;
	int recover_timeout_ms;
	/*
	 * The connections' security, the same on both sides (tls_creds:
	 * the X.509 directory or the PSK file); MIG_TLS_UNSET is refused
	 * by the engine as by the agent.  tls_no_ktls: user-space TLS.
	 */
	enum mig_tls_mode tls;
	const char *tls_creds;
	int tls_no_ktls;
	/*
	 * With .cut: when it cuts, a peer with these X.509 credentials
	 * (a tls-creds-x509 directory) tries a TLS handshake with the
	 * source, which must refuse it and go on with the migration.
	 */
	const char *intruder_creds;
	const char *agent;		/* postcopy-agent path: run as processes */
	int relay;			/* with .agent: through the module's
					 * relay, "postcopy-agent daemon" per
					 * namespace
					 */
	int progress;			/* progress lines on @log */
	FILE *log;			/* events and progress; NULL: quiet */
	const char *log_prefix;		/* e.g. "# " inside KTAP */
	const volatile int *cancel;
};

void wl_opts_init(struct wl_opts *o);

struct wl_result {
	int ok;				/* migrated and verified */
	char error[512];
	struct mig_result src, dst;
	int have_src, have_dst;
	uint64_t pages;
	uint64_t mismatches;		/* pages that differ at the end */
	uint64_t dest_checked;		/* pages checked by destination vCPUs */
	uint64_t dest_bad;		/* of which differed when first read */
	uint64_t src_writes, dest_writes;
	/*
	 * The first read of each page by a destination vCPU while the
	 * destination engine ran, timed around the read: what the guest
	 * waits for a page, measured the same way for every backend.
	 */
	uint64_t touch_count, touch_p50_ns, touch_p99_ns, touch_max_ns;
	uint64_t source_bad;		/* source pages not as last written */
	/*
	 * --relay between two namespaces: the RSS high-water mark (VmHWM)
	 * of the destination's worker that ran the migration, the private
	 * memory (RssAnon) of its agent daemon, whose program and libraries
	 * are the worker's too, plus the region's pages present at the end:
	 * a bound of the destination's peak memory; 0 if unknown.
	 * dest_peak_sum_bytes: the daemon's whole VmHWM instead, which
	 * counts the pages the two share twice.
	 */
	uint64_t dest_peak_bytes;
	uint64_t dest_peak_sum_bytes;
	int killed;			/* an agent was killed as asked */
	unsigned int src_warnings;	/* source log lines of warning level */
	char src_last_warning[256];
	double wall_s;
	/* .intruder_creds: it tried, its handshake's result and error */
	int intruder_tried;
	int intruder_ret;
	char intruder_error[320];
	/*
	 * .relay: recovering events the VMM heard from the source's and the
	 * destination's migration, and the most reconnects one of them
	 * counted.
	 */
	unsigned int src_recovering, dst_recovering;
	uint64_t recovering_reconnects;
	double tcp_mibs;		/* .tcp_probe_mib: plain TCP, MiB/s */
	double ktls_mibs, gnutls_mibs;	/* .tls_probe: MiB/s, 0: failed */
	uint64_t tcp_ping_ns[2], ktls_ping_ns[2];	/* p50, p99; 0: none */
};

/* 0 when the migration completed and every page verified; else -errno. */
int wl_run(const struct wl_opts *o, struct wl_result *r);

/*
 * What the destination took in (every channel, handshakes and records
 * included) over its migration's time, MiB/s: the goodput the last line
 * sets beside wl_result.tcp_mibs.
 */
double wl_goodput_mibs(const struct wl_result *r);

/* "MIGRATION OK pages=... " or "MIGRATION FAILED ..." */
void wl_print_line(FILE *f, const struct wl_result *r);

/* Size with an optional K/M/G suffix; 0 on error. */
uint64_t wl_parse_size(const char *s);

#endif /* PCA_WORKLOAD_H */
