/* SPDX-License-Identifier: GPL-2.0 */
/*
 * migrate.h: the migration engine of postcopy-agent, as a library.
 *
 * mig_source_run() serves a region to one destination; mig_dest_run()
 * fills a region in missing mode from a source.  Both run to the end of
 * the migration (or its failure) in the calling thread, with threads of
 * their own for the channels, and talk to whoever plays the VMM through
 * struct mig_hooks.  postcopy-agent wraps them in a CLI; pca-workload and
 * the selftests call them directly.
 *
 * Conventions as libpca: 0 or -errno, never exit(), never print; failures
 * are described in mig_result.error.  Every blocking wait has a timeout.
 */
#ifndef PCA_MIGRATE_H
#define PCA_MIGRATE_H

#include <stdint.h>
#include <stdio.h>

#include "wire.h"

#define MIG_DEFAULT_CHANNELS		4
#define MIG_DEFAULT_IO_TIMEOUT_MS	30000
#define MIG_DEFAULT_DEAD_AFTER_MS	1000
#define MIG_DEFAULT_PUSH_CC		"bbr"
#define MIG_DEFAULT_PUSH_LOWAT		(128 << 10)
#define MIG_DEFAULT_POSTCOPY_CC		"vegas"
#define MIG_POSTCOPY_CHANNELS_AUTO	0xffffffffu
#define MIG_DEFAULT_POSTCOPY_CHANNELS	MIG_POSTCOPY_CHANNELS_AUTO
#define MIG_DEFAULT_CONNECT_TIMEOUT_MS	60000
#define MIG_DEFAULT_RECOVER_TIMEOUT_MS	60000
#define MIG_DEFAULT_MAX_ROUNDS		10
#define MIG_DEFAULT_DOWNTIME_MS		300
#define MIG_DEFAULT_PROGRESS_MS		250

enum mig_role {
	MIG_SOURCE,
	MIG_DEST,
};

enum mig_phase {
	MIG_PHASE_SETUP,
	MIG_PHASE_CONNECTING,	/* waiting for / connecting to the peer */
	MIG_PHASE_PRECOPY,
	MIG_PHASE_SWITCHOVER,	/* paused on the source, not yet resumed */
	MIG_PHASE_POSTCOPY,
	MIG_PHASE_RECOVERING,	/* a connection broke; reconnecting */
	MIG_PHASE_COMPLETE,
	MIG_PHASE_FAILED,
};

const char *mig_phase_name(enum mig_phase phase);

enum mig_log_level {
	MIG_LOG_ERROR,
	MIG_LOG_WARN,
	MIG_LOG_INFO,
	MIG_LOG_DEBUG,
};

/* A snapshot for progress displays. */
struct mig_progress {
	enum mig_role role;
	enum mig_phase phase;
	unsigned int round;		/* precopy round, 1-based; 0 before */
	uint64_t pages;			/* region pages */
	uint64_t pages_sent;		/* source: page records sent, total */
	uint64_t pages_remaining;	/* source: to send; dest: not present */
	uint64_t bytes;			/* this side's bytes on the wire */
	double rate_bps;		/* wire bytes/s over the last interval */
	double dirty_rate;		/* source: pages/s dirtied, last round */
	uint64_t faults;		/* destination: fault records */
	uint64_t reconnects;		/* counting a recovery under way */
	uint64_t broken_ns;		/* disconnected in all, the same */
	uint64_t elapsed_ns;
};

/*
 * The VMM side.  Every hook may be NULL; they are called from the engine's
 * threads, one at a time, and must not block for long.
 */
struct mig_hooks {
	/*
	 * Source, at switchover: stop every writer of the region and return
	 * once none can write any more (0), or -errno to abort the migration.
	 * NULL: the region is taken to be idle already.
	 */
	int (*pause)(void *arg);
	/*
	 * Source: the migration failed before the destination resumed, so
	 * the region's owner may run again on the source.
	 */
	void (*unpause)(void *arg);
	/*
	 * Destination: the region holds no stale page any more: run.  It
	 * may take as long as the VMM needs to load its device state and
	 * run (faults are served meanwhile); the source learns that the
	 * guest runs when it returns.
	 */
	void (*resume)(void *arg);
	/*
	 * Source: the destination applied the switchover; a VMM that moves
	 * device state of its own may send it now (it reads no stale page
	 * on the destination any more).
	 */
	void (*switched)(void *arg);
	/* Phase changes (phase) and periodic progress. */
	void (*progress)(const struct mig_progress *p, void *arg);
	/* Warnings and events, one line each, no trailing newline. */
	void (*log)(enum mig_log_level level, const char *msg, void *arg);
	void *arg;
};

/*
 * How the destination places pages and learns about faults.
 *
 * MIG_BACKEND_MODULE: a postcopy_assist region in missing mode; faults
 * from the module's fault queue (region_id), pages placed with the
 * region fd's ioctls (or netlink), the module counts the pages present.
 *
 * MIG_BACKEND_UFFD: an ordinary mapping (anonymous MAP_PRIVATE, or a
 * memfd mapped MAP_SHARED) registered with userfaultfd in MISSING mode
 * (mig_uffd_register()); faults are read from the userfaultfd, pages
 * placed with UFFDIO_COPY / UFFDIO_ZEROPAGE, and the engine keeps its own
 * present bitmap.  Needs neither /dev/postcopy_assist nor the netlink
 * family.  The userfaultfd may belong to another process (it was passed
 * down): the addresses are then the owner's.
 */
enum mig_backend {
	MIG_BACKEND_MODULE,
	MIG_BACKEND_UFFD,
};

/*
 * Transport security of a migration's connections (tls.h): unset is
 * refused by mig_source_run() and mig_dest_run(), so that plain TCP is
 * always a choice (MIG_TLS_INSECURE, --insecure).
 */
enum mig_tls_mode {
	MIG_TLS_UNSET,
	MIG_TLS_INSECURE,
	MIG_TLS_X509,		/* tls_creds: a tls-creds-x509 directory */
	MIG_TLS_PSK,		/* tls_creds: an identity:hexkey file */
};

struct mig_config {
	/*
	 * Source: "ADDR:PORT" to listen on (unless listen_fd >= 0, a
	 * listening socket to use).  Destination: "ADDR:PORT" to connect
	 * to.  ADDR is numeric IPv4, [IPv6] or localhost.
	 */
	const char *addr;
	int listen_fd;
	/*
	 * The region: fd and id.  The source needs both (pages are read
	 * from a mapping of the fd; dirty tracking is switched on by id).
	 * The destination needs the id (fault queue) and places pages with
	 * the fd's ioctls, or with netlink when region_fd < 0.
	 */
	int region_fd;
	uint32_t region_id;
	uint64_t region_size;		/* 0: from the fd or the module */
	/*
	 * The destination's backend (MIG_BACKEND_MODULE by default).  With
	 * MIG_BACKEND_UFFD: uffd is the registered userfaultfd, uffd_base
	 * the start of the registered range in the mm of the process that
	 * registered it, region_size its length (needed: there is no module
	 * to ask); uffd_memfd the memfd behind a MAP_SHARED range (-1:
	 * anonymous); uffd_local set when the range is mapped in this
	 * process.  Discarding a page (back to missing) needs uffd_memfd
	 * (fallocate PUNCH_HOLE) or uffd_local (MADV_DONTNEED).
	 */
	enum mig_backend backend;
	int uffd;
	uint64_t uffd_base;
	int uffd_memfd;
	int uffd_local;
	/* Migration id: the source's, or the one a destination expects. */
	uint8_t id[MIG_ID_LEN];
	int have_id;
	unsigned int channels;		/* destination: data channels */
	/*
	 * A peer silent this long is gone: no record, not even a heartbeat
	 * (sent every second, more often when this is below 4 s), in a
	 * handshake or after it; also a write stalled this long, and the
	 * TCP keepalive and user timeouts.
	 */
	int io_timeout_ms;
	/*
	 * A connected peer from which no byte arrived on any of its
	 * connections (data, heartbeat, anything) for this long is dead:
	 * the epoch ends and recovery starts.  Heartbeats go every eighth
	 * of it.  0: only io_timeout_ms.
	 */
	int dead_after_ms;
	int connect_timeout_ms;		/* first contact */
	int recover_timeout_ms;		/* reconnecting after a break */
	/* source */
	unsigned int max_rounds;	/* precopy rounds; 0: postcopy only */
	unsigned int downtime_ms;	/* target; sets the convergence point */
	unsigned int precopy_budget_ms;	/* 0: no time limit on precopy */
	int no_postcopy;		/* finish with stop-and-copy */
	/*
	 * No discard before the pause (MIG_MSG_PREPAUSE in wire.h): every
	 * stale page is discarded inside the downtime, as a destination
	 * that does not know the message has it.
	 */
	int no_prepause_discard;
	/*
	 * The data channels' congestion control (TCP_CONGESTION, default
	 * "bbr": it paces at the bottleneck's rate and keeps its queue
	 * short, so that urgent answers on the preempt connection do not
	 * wait behind the push on a slow link; ignored where the kernel
	 * lacks it, with an info line; NULL or "": the system's) and their
	 * unsent bytes at most (TCP_NOTSENT_LOWAT, default 128 KiB; 0: no
	 * limit).  mig_result.push_cc says which one the channels use.
	 */
	const char *push_cc;
	unsigned int push_lowat;
	/*
	 * The data channels' rate together at most, bytes per second (0:
	 * no cap), split evenly among them (SO_MAX_PACING_RATE), as QEMU's
	 * max-postcopy-bandwidth: set a little below the link's rate, the
	 * push never queues at the bottleneck, and urgent answers on the
	 * preempt connection pass it with no wait.
	 */
	uint64_t push_max_rate;
	/*
	 * The push once the destination runs the guest: postcopy_channels
	 * of the data channels carry it (0: all of them; the others idle),
	 * by default (MIG_POSTCOPY_CHANNELS_AUTO) one, and every channel
	 * once that one is app-limited (the sender's CPU, not the link,
	 * holds it back, and no queue at the link's bottleneck delays
	 * urgent pages; not with push_max_rate), with congestion control
	 * postcopy_cc (default
	 * "vegas", set on each pushing channel when postcopy starts; NULL
	 * or "": the channels keep push_cc; ignored where the kernel lacks
	 * it, with an info line).  From then on every fault waits for an
	 * urgent page that shares the link's bottleneck with the push: one
	 * delay-based flow keeps only a few packets queued there, four
	 * BBR flows about two bandwidth-delay products each.
	 * push_max_rate is then shared by the pushing channels.
	 */
	const char *postcopy_cc;
	unsigned int postcopy_channels;
	/*
	 * Mutual TLS 1.3.  tls_peer: X.509: the name the peer's
	 * certificate must carry (destination: default the host of addr;
	 * source: default any certificate of the CA); PSK: the identity
	 * (destination: the one presented, default the file's first;
	 * source: the only one accepted, default any of the file).
	 * tls_no_ktls: keep the records in user space.
	 */
	enum mig_tls_mode tls;
	const char *tls_creds;
	const char *tls_peer;
	int tls_no_ktls;
	/* destination */
	int want_resume;		/* reconnect to an existing migration */
	int recv_in_place;		/* data channels hand page payloads to
					 * PCA_IOC_RECV where the module has it
					 * (default; --no-recv-in-place)
					 */
	struct mig_hooks hooks;
	int progress_ms;		/* progress hook interval */
	/* cancellation: the engine gives up (-ECANCELED) once it is set */
	const volatile int *cancel;
};

/* Defaults: no region, no address, timeouts and rounds as above. */
void mig_config_init(struct mig_config *cfg);

struct mig_result {
	enum mig_role role;
	int ok;
	char error[320];		/* what went wrong, and what to do */
	uint8_t id[MIG_ID_LEN];
	uint64_t pages;
	uint64_t page_size;
	uint64_t total_ns;
	uint64_t downtime_ns;		/* source pause -> destination applied
					 * the switchover (the agent's)
					 */
	uint64_t guest_downtime_ns;	/* source pause -> destination's VMM
					 * runs (its resume hook returned)
					 */
	/*
	 * The downtime in phases.  Source: the VMM's pause hook
	 * (sw_pause_ns); the dirty log's last read, the stop-and-copy pass,
	 * the data channels' ends and the send of the discard bitmap
	 * (sw_final_pass_ns).  Destination: the bitmap arrived -> every data
	 * channel ended (sw_wait_ns); the discard bitmap applied and the
	 * precopy sealed (sw_discard_ns); from there to SWITCHED sent and
	 * its VMM told to run, just before RESUMED goes (sw_resume_ns).  The destination reports
	 * the source's two as well once it has its statistics.  What the
	 * downtime holds beyond their sum is the network between them.
	 */
	uint64_t sw_pause_ns;
	uint64_t sw_final_pass_ns;
	uint64_t sw_wait_ns;
	uint64_t sw_discard_ns;
	uint64_t sw_resume_ns;
	uint64_t precopy_ns;
	uint64_t rounds;
	uint64_t precopy_pages;		/* page records sent in rounds */
	uint64_t precopy_zero;		/* of which zero markers */
	uint64_t stopcopy_pages;	/* sent while paused */
	uint64_t postcopy_pages;	/* background stream */
	uint64_t urgent_pages;		/* answers to requests */
	uint64_t discarded;		/* stale or unsent at switchover */
	uint64_t bytes_sent;		/* source: all channels */
	uint64_t bytes_received;	/* destination: all channels */
	uint64_t precopy_placed;	/* destination: placed in precopy */
	uint64_t overwritten;		/* destination: of which replaced by
					 * a newer copy before the switchover
					 */
	uint64_t pages_received;	/* destination: page records */
	uint64_t recv_in_place;		/* destination: of which the module
					 * read from the socket straight into
					 * the region (PCA_IOC_RECV)
					 */
	uint64_t resume_held;		/* destination --resume: pages the
					 * region held when it took over
					 */
	uint64_t pages_refetched;	/* of which received again */
	uint64_t faults;		/* destination: fault records */
	uint64_t faults_remote;		/* of which needed the source */
	uint64_t faults_early;		/* of which before the switchover */
	uint64_t early_dropped;		/* pages placed before the switchover
					 * and discarded by it as stale
					 */
	/*
	 * The discard before the pause (wire.h, MIG_MSG_PREPAUSE): pages
	 * named and, on the destination, copies made missing, and its time
	 * (destination: applying it; source: from the dirty log's read to
	 * the answer, while the VMM still ran).
	 */
	uint64_t prepause_named;
	uint64_t prepause_discarded;
	uint64_t prepause_ns;
	uint64_t lat_count;		/* faults with a measured latency */
	uint64_t lat_p50_ns;
	uint64_t lat_p99_ns;
	uint64_t lat_max_ns;
	uint64_t reconnects;
	uint64_t broken_ns;		/* disconnected, in all */
	uint64_t pages_present;		/* destination: module's count, or
					 * the uffd backend's bitmap
					 */
	int have_source_stats;		/* destination got MIG_MSG_STATS */
	/*
	 * Source: the data channels' congestion control as the kernel
	 * reports it for a socket (cfg->push_cc, or the system's where
	 * that is not there), known from the start; "" if unknown.
	 */
	char push_cc[16];
	/*
	 * Source: the congestion control the postcopy push ran with, as the
	 * kernel reports it for a pushing channel once set ("" before
	 * postcopy), and how many data channels sent postcopy pages.
	 */
	char postcopy_cc[16];
	unsigned int postcopy_pushers;
	enum mig_tls_mode tls;
	unsigned int tls_ktls;		/* connections in kernel TLS */
	unsigned int tls_user;		/* connections in user-space TLS */
};

/*
 * Can a TCP socket take congestion control @cc (NULL or "": the system's)
 * now?  0 or -errno (-ENOENT: the kernel lacks it).  Setting a name the
 * kernel lacks may run modprobe, which can take long: probe once, not
 * per connection.  @used (@used_len bytes) gets what such a socket uses
 * then: @cc, or the system's ("" if unknown).
 */
int mig_cc_probe(const char *cc, char *used, size_t used_len);

int mig_source_run(const struct mig_config *cfg, struct mig_result *res);
int mig_dest_run(const struct mig_config *cfg, struct mig_result *res);

/*
 * Snapshots (snapshot.c, format in wire.h).  mig_snapshot_write() pauses
 * the VMM (hooks.pause), writes the region (cfg->region_fd) to @path
 * (through a temporary file, renamed when complete) and unpauses it
 * unless @keep_paused.  mig_restore_run() fills a missing-mode region
 * (region_id, region_fd or netlink) lazily from @path: the VMM resumes
 * at once, faults are served from the file, a background stream places
 * the rest; it returns when every page is present.
 */
int mig_snapshot_write(const struct mig_config *cfg, const char *path,
		       int keep_paused, struct mig_result *res);
int mig_restore_run(const struct mig_config *cfg, const char *path,
		    struct mig_result *res);

/*
 * Create a userfaultfd (close-on-exec, non-blocking) and register
 * [@addr, @addr + @len) with it in MISSING mode, after checking that the
 * kernel can place pages there (UFFDIO_COPY, UFFDIO_ZEROPAGE, UFFDIO_WAKE;
 * shmem support for a shared mapping).  The range must be page aligned
 * and mapped, anonymous private or shared memory (memfd, tmpfs).  *@uffd
 * gets the fd; 0 or -errno, @err describing a failure.
 */
int mig_uffd_register(void *addr, uint64_t len, int *uffd, char *err,
		      size_t err_len);

/*
 * A listening TCP socket on "ADDR:PORT" (port 0: any), close-on-exec;
 * *bound gets the address actually bound ("127.0.0.1:40123").  0 or
 * -errno; @err describes a failure.
 */
int mig_listen(const char *addr, int *fd, char *bound, size_t bound_len,
	       char *err, size_t err_len);

/* Migration ids as 32 hex digits. */
int mig_parse_id(const char *hex, uint8_t id[MIG_ID_LEN]);
void mig_format_id(const uint8_t id[MIG_ID_LEN], char out[2 * MIG_ID_LEN + 1]);

/* Reports (report.c). */
void mig_print_summary(FILE *f, const struct mig_result *r);
/*
 * The downtime's phases this side knows, as "pause 0.1 ms, final pass
 * 12.3 ms, ..." in @buf; "" when it has none (no switchover happened).
 */
const char *mig_switchover_text(char *buf, size_t len,
				const struct mig_result *r);
/*
 * A relayed destination's last message ends with its phases in this
 * format (ms: pause, final pass, wait, discard, resume), for the VMM
 * (pca-workload reads them back).
 */
#define MIG_RELAY_PHASES_FMT \
	"pause %.1f final %.1f wait %.1f discard %.1f resume %.1f ms"
void mig_print_json(FILE *f, const struct mig_result *r);
/* "TLS 1.3, X.509", ... */
const char *mig_tls_mode_name(enum mig_tls_mode mode);
/* One progress line, no newline. */
void mig_format_progress(char *buf, size_t len, const struct mig_progress *p);

#endif /* PCA_MIGRATE_H */
