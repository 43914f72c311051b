// SPDX-License-Identifier: GPL-2.0
/*
 * cli-migrate.c: postcopy-agent source, destination and status.
 *
 * The agent is driven by whoever owns the region (the VMM) through an
 * optional control socket (--control-fd), one line per message:
 *
 *   agent -> VMM   "pause"          source, at switchover: stop writing
 *   VMM -> agent   "paused"         ... done (anything else: abort)
 *   agent -> VMM   "unpause"        source: failed before the resume
 *   agent -> VMM   "resume"         destination: run now
 *   agent -> VMM   "phase <name>"   every phase change
 *   agent -> VMM   "result <json>"  the final summary, as --json prints it
 *
 * Or by the module's migration relay (Documentation/relay.rst): the
 * daemon (cli-relay.c) forks a worker per migration request, and the
 * worker takes the migration, opens the region by id, and reports phases
 * and progress to the VMM through the module instead.
 *
 * Running agents publish their state in $PCA_AGENT_RUNDIR (default
 * /run/postcopy-agent), one <pid>.json file each, for "status".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib/pca.h"
#include "migrate.h"

static volatile int cancelled;

static void on_signal(int sig)
{
	(void)sig;
	cancelled = 1;
}

enum mode {
	M_SOURCE,
	M_DEST,
	M_SNAPSHOT,
	M_RESTORE,
};

static const char *const mode_names[] = {
	"source", "destination", "snapshot", "restore",
};

struct mcli {
	const char *name;		/* mode_names[mode] */
	enum mode mode;
	const char *file;		/* snapshot: output; restore: input */
	int keep_paused;
	struct mig_config cfg;
	int json, quiet, progress;
	int control_fd;
	const char *region_path;
	const char *region_name;	/* --region-id given as a path */
	int region_fd_opened;
	int tty;
	enum mig_phase last_phase;
	int line_open;			/* a \r progress line is shown */
	uint64_t last_line_ns, last_status_ns;
	char status_path[PATH_MAX];
	char status_tmp[PATH_MAX];

	/* driven by the relay: the migration, as accepted */
	struct pca_client *relay;
	struct pca_mig_info mig;
	uint32_t relay_phase;		/* last phase the module has, but
					 * for recovering: the phase it
					 * goes on from
					 */
	int relay_recovering;		/* the module has recovering */
	int relay_paused;		/* the VMM confirmed the pause */
	int relay_running;		/* the VMM said the guest runs */
	int wait_running_ms;		/* destination: wait that long for it */
	int relay_warned;
	uint64_t relay_update_ns;
	pthread_mutex_t relay_lock;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* -------------------------------------------------------------------------
 * The VMM control socket
 */

static void ctl_write(struct mcli *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ctl_write(struct mcli *m, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	if (m->control_fd < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	/* a VMM that went away must not kill us: MSG_NOSIGNAL or write */
	if (send(m->control_fd, buf, n, MSG_NOSIGNAL) < 0 &&
	    errno == ENOTSOCK && write(m->control_fd, buf, n) < 0)
		return;
}

/* One line from the VMM within @timeout_ms: 0, -ETIMEDOUT, -EPIPE. */
static int ctl_read_line(struct mcli *m, char *buf, size_t len,
			 int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd pfd = { .fd = m->control_fd, .events = POLLIN };
		uint64_t now = now_ns();
		ssize_t r;
		char c;

		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (deadline - now) / 1000000 + 1) < 0 &&
		    errno != EINTR)
			return -errno;
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = read(m->control_fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EPIPE;
		if (c == '\n')
			break;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return 0;
}

/* -------------------------------------------------------------------------
 * The relay: the same steps through the module
 */

#define RELAY_UPDATE_NS		1000000000ULL	/* progress to the VMM */

static void relay_fill(struct pca_mig_progress *out,
		       const struct mig_progress *p)
{
	memset(out, 0, sizeof(*out));
	out->pages_total = p->pages;
	out->pages_sent = p->role == MIG_SOURCE ? p->pages_sent :
			  p->pages - p->pages_remaining;
	out->pages_remaining = p->pages_remaining;
	out->round = p->round;
	out->bytes_wire = p->bytes;
	out->dirty_rate = (uint64_t)p->dirty_rate;
	out->faults = p->faults;
	out->elapsed_ns = p->elapsed_ns;
	out->reconnects = p->reconnects;
	out->broken_ns = p->broken_ns;
}

/* Events for our migration: the VMM's pause and cancel.  Lock held. */
static void relay_events(struct mcli *m, int timeout_ms)
{
	struct pca_mig_info ev;
	int ret;

	while ((ret = pca_mig_recv(m->relay, &ev, timeout_ms)) != 0) {
		if (ret < 0) {
			/* lost some: the module has the state */
			if (ret == -ENOBUFS &&
			    !pca_migrate_get(m->relay, m->mig.mig_id, &ev))
				goto state;
			return;
		}
		if (ev.mig_id != m->mig.mig_id)
			continue;
state:
		if (ev.phase == PCA_MIG_PAUSED)
			m->relay_paused = 1;
		if (ev.running)
			m->relay_running = 1;
		if (ev.phase == PCA_MIG_CANCELLED)
			cancelled = 1;
		if (ev.phase != PCA_MIG_RECOVERING &&
		    ev.phase > m->relay_phase)
			m->relay_phase = ev.phase;
		timeout_ms = 0;
	}
}

/* Tell the module (and so the VMM); lock held. */
static void relay_update(struct mcli *m, uint32_t phase,
			 const struct pca_mig_progress *prog, uint32_t error,
			 const char *message)
{
	int ret;

	/* recovering comes and goes; the rest only moves forward */
	if ((phase == PCA_MIG_RECOVERING &&
	     pca_mig_phase_final(m->relay_phase)) ||
	    (phase != PCA_MIG_RECOVERING && phase < m->relay_phase))
		phase = m->relay_phase;
	ret = pca_migrate_update(m->relay, m->mig.mig_id, phase, prog, error,
				 message);
	if (!ret) {
		m->relay_recovering = phase == PCA_MIG_RECOVERING;
		if (!m->relay_recovering)
			m->relay_phase = phase;
	} else if (!m->relay_warned && !cancelled) {
		m->relay_warned = 1;
		fprintf(stderr, PROG ": %s: migration %u: reporting to the VMM failed: %s\n",
			m->name, m->mig.mig_id, pca_strerror(m->relay));
	}
	m->relay_update_ns = now_ns();
	relay_events(m, 0);
}

static uint32_t relay_phase_of(enum mig_phase phase)
{
	switch (phase) {
	case MIG_PHASE_PRECOPY:
		return PCA_MIG_PRECOPY;
	case MIG_PHASE_POSTCOPY:
		return PCA_MIG_POSTCOPY;
	case MIG_PHASE_RECOVERING:
		return PCA_MIG_RECOVERING;
	default:
		/* the pause, the resume and the end are reported apart */
		return PCA_MIG_ACCEPTED;
	}
}

static void relay_progress(struct mcli *m, const struct mig_progress *p,
			   int changed)
{
	struct pca_mig_progress prog;

	/* the pause hook may be waiting for the VMM: skip a beat */
	if (pthread_mutex_trylock(&m->relay_lock))
		return;
	if (changed || now_ns() - m->relay_update_ns > RELAY_UPDATE_NS) {
		relay_fill(&prog, p);
		relay_update(m, relay_phase_of(p->phase), &prog, 0, NULL);
	} else {
		relay_events(m, 0);
	}
	pthread_mutex_unlock(&m->relay_lock);
}

/* Source, at switchover: ask the VMM to pause, wait for its answer. */
static int relay_pause(struct mcli *m)
{
	uint64_t deadline;
	int ret = 0;

	pthread_mutex_lock(&m->relay_lock);
	relay_update(m, PCA_MIG_SWITCHOVER, NULL, 0, NULL);
	deadline = now_ns() + (uint64_t)m->cfg.io_timeout_ms * 1000000ULL;
	while (!m->relay_paused && !cancelled) {
		uint64_t now = now_ns();
		struct pca_mig_info st;

		if (now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		relay_events(m, deadline - now > 250000000ULL ? 250 :
				(int)((deadline - now) / 1000000) + 1);
		/* events are best effort; the state is not */
		if (!m->relay_paused && !cancelled &&
		    !pca_migrate_get(m->relay, m->mig.mig_id, &st) &&
		    (st.phase == PCA_MIG_PAUSED ||
		     pca_mig_phase_final(st.phase))) {
			m->relay_paused = st.phase == PCA_MIG_PAUSED;
			cancelled = st.phase != PCA_MIG_PAUSED;
		}
	}
	if (cancelled)
		ret = -ECANCELED;
	pthread_mutex_unlock(&m->relay_lock);
	if (ret == -ETIMEDOUT)
		fprintf(stderr, PROG ": %s: migration %u: the VMM did not confirm the pause within %d ms (--io-timeout-ms)\n",
			m->name, m->mig.mig_id, m->cfg.io_timeout_ms);
	return ret;
}

static void relay_message(struct mcli *m, uint32_t phase, const char *msg)
{
	pthread_mutex_lock(&m->relay_lock);
	relay_update(m, phase, NULL, 0, msg);
	pthread_mutex_unlock(&m->relay_lock);
}

/* The result, as the final phase. */
static void relay_finish(struct mcli *m, int ret, const struct mig_result *r)
{
	struct pca_mig_progress prog = {
		.pages_total = r->pages,
		.pages_sent = r->role == MIG_SOURCE ?
			      r->precopy_pages + r->stopcopy_pages +
			      r->postcopy_pages + r->urgent_pages :
			      r->pages_present,
		.round = r->rounds,
		.bytes_wire = r->role == MIG_SOURCE ? r->bytes_sent :
			      r->bytes_received,
		.faults = r->faults,
		.elapsed_ns = r->total_ns,
		.downtime_ns = r->downtime_ns,
		.guest_downtime_ns = r->guest_downtime_ns,
		.fault_p50_ns = r->lat_p50_ns,
		.fault_p99_ns = r->lat_p99_ns,
		.reconnects = r->reconnects,
		.broken_ns = r->broken_ns,
	};
	char msg[PCA_MIG_MESSAGE_MAX];

	if (ret)
		/* the module keeps the start; our stderr has it all */
		snprintf(msg, sizeof(msg), "%.*s", (int)sizeof(msg) - 1,
			 r->error[0] ? r->error : strerror(-ret));
	else if (r->role == MIG_DEST && r->downtime_ns)
		/* the downtime's phases, for the VMM (MIG_RELAY_PHASES_FMT) */
		snprintf(msg, sizeof(msg),
			 "%" PRIu64 " pages in %.2f s, downtime %.1f ms, guest downtime %.1f ms; "
			 MIG_RELAY_PHASES_FMT,
			 r->pages, r->total_ns / 1e9, r->downtime_ns / 1e6,
			 r->guest_downtime_ns / 1e6, r->sw_pause_ns / 1e6,
			 r->sw_final_pass_ns / 1e6, r->sw_wait_ns / 1e6,
			 r->sw_discard_ns / 1e6, r->sw_resume_ns / 1e6);
	else
		snprintf(msg, sizeof(msg),
			 "%" PRIu64 " pages in %.2f s, downtime %.1f ms, guest downtime %.1f ms",
			 r->pages, r->total_ns / 1e9, r->downtime_ns / 1e6,
			 r->guest_downtime_ns / 1e6);
	pthread_mutex_lock(&m->relay_lock);
	relay_update(m, ret ? PCA_MIG_FAILED : PCA_MIG_COMPLETED, &prog,
		     ret ? -ret : 0, msg);
	pthread_mutex_unlock(&m->relay_lock);
}

static void end_line(struct mcli *m)
{
	if (m->line_open) {
		fputc('\n', stderr);
		m->line_open = 0;
	}
}

static int hook_pause(void *arg)
{
	struct mcli *m = arg;
	char line[128];
	int ret;

	if (m->relay)
		return relay_pause(m);
	if (m->control_fd < 0)
		return 0;
	ctl_write(m, "pause\n");
	ret = ctl_read_line(m, line, sizeof(line), m->cfg.io_timeout_ms);
	if (ret) {
		end_line(m);
		fprintf(stderr, PROG ": %s: the VMM did not confirm the pause on fd %d: %s\n",
			m->name, m->control_fd, ret == -ETIMEDOUT ?
			"no answer within --io-timeout-ms" :
			"control socket closed");
		return ret;
	}
	if (strcmp(line, "paused")) {
		end_line(m);
		fprintf(stderr, PROG ": %s: the VMM refused to pause: %s\n",
			m->name, line);
		return -EIO;
	}
	return 0;
}

static void hook_unpause(void *arg)
{
	struct mcli *m = arg;

	/* FAILED follows: before POSTCOPY, it means the VMM may run */
	if (m->relay)
		relay_message(m, m->relay_phase,
			      "the destination never ran: the VMM may run on the source again");
	ctl_write(m, "unpause\n");
}

/*
 * Destination, --wait-running: the VMM loads its device state and says
 * when the guest runs (MIGRATE_RUNNING); until then the source holds
 * its background stream back, and the guest's downtime goes on.
 */
static void relay_wait_running(struct mcli *m)
{
	uint64_t deadline = now_ns() +
			    (uint64_t)m->wait_running_ms * 1000000ULL;

	pthread_mutex_lock(&m->relay_lock);
	while (!m->relay_running && !cancelled) {
		uint64_t now = now_ns();
		struct pca_mig_info st;

		if (now >= deadline) {
			fprintf(stderr, PROG ": %s: migration %u: the VMM did not say the guest runs within %d ms (--wait-running): going on\n",
				m->name, m->mig.mig_id, m->wait_running_ms);
			break;
		}
		relay_events(m, deadline - now > 250000000ULL ? 250 :
				(int)((deadline - now) / 1000000) + 1);
		if (!m->relay_running && !cancelled &&
		    !pca_migrate_get(m->relay, m->mig.mig_id, &st)) {
			m->relay_running = st.running;
			cancelled = cancelled ||
				    (pca_mig_phase_final(st.phase) &&
				     st.phase != PCA_MIG_COMPLETED);
		}
	}
	pthread_mutex_unlock(&m->relay_lock);
}

static void hook_resume(void *arg)
{
	struct mcli *m = arg;

	if (m->relay) {
		relay_message(m, PCA_MIG_POSTCOPY, NULL);
		if (m->wait_running_ms)
			relay_wait_running(m);
	}
	ctl_write(m, "resume\n");
}

/* Source: the destination switched over; a VMM sends its device state. */
static void hook_switched(void *arg)
{
	struct mcli *m = arg;

	if (m->relay)
		relay_message(m, PCA_MIG_POSTCOPY, NULL);
}

static void hook_log(enum mig_log_level level, const char *msg, void *arg)
{
	struct mcli *m = arg;

	if (m->quiet && level > MIG_LOG_WARN)
		return;
	if (level == MIG_LOG_DEBUG && !getenv("PCA_AGENT_DEBUG"))
		return;
	end_line(m);
	fprintf(stderr, PROG ": %s: %s%s\n", m->name,
		level == MIG_LOG_ERROR ? "error: " :
		level == MIG_LOG_WARN ? "warning: " : "", msg);
}

/* -------------------------------------------------------------------------
 * Status files
 */

static const char *rundir(void)
{
	const char *d = getenv("PCA_AGENT_RUNDIR");

	return d && *d ? d : "/run/postcopy-agent";
}

static void status_init(struct mcli *m)
{
	const char *d = rundir();

	if (mkdir(d, 0755) && errno != EEXIST)
		return;
	snprintf(m->status_path, sizeof(m->status_path), "%s/%d.json", d,
		 (int)getpid());
	snprintf(m->status_tmp, sizeof(m->status_tmp), "%s/.%d.tmp", d,
		 (int)getpid());
}

static void status_write(struct mcli *m, const struct mig_progress *p)
{
	FILE *f;

	if (!m->status_path[0])
		return;
	f = fopen(m->status_tmp, "w");
	if (!f)
		return;
	fprintf(f, "{\"pid\": %d, \"role\": \"%s\", \"phase\": \"%s\", \"round\": %u"
		", \"pages\": %" PRIu64 ", \"pages_sent\": %" PRIu64
		", \"pages_remaining\": %" PRIu64 ", \"bytes\": %" PRIu64
		", \"rate_bps\": %.0f, \"dirty_rate\": %.0f, \"faults\": %" PRIu64
		", \"reconnects\": %" PRIu64 ", \"elapsed_s\": %.1f, \"peer\": \"%s\"}\n",
		(int)getpid(), m->name, mig_phase_name(p->phase), p->round,
		p->pages, p->pages_sent, p->pages_remaining, p->bytes,
		p->rate_bps, p->dirty_rate, p->faults, p->reconnects,
		p->elapsed_ns / 1e9, m->cfg.addr ? m->cfg.addr : "");
	if (fclose(f) || rename(m->status_tmp, m->status_path))
		unlink(m->status_tmp);
}

static void status_remove(struct mcli *m)
{
	if (m->status_path[0])
		unlink(m->status_path);
}

static void hook_progress(const struct mig_progress *p, void *arg)
{
	struct mcli *m = arg;
	uint64_t now = now_ns();
	int changed = p->phase != m->last_phase;
	char line[200];

	if (changed) {
		m->last_phase = p->phase;
		ctl_write(m, "phase %s\n", mig_phase_name(p->phase));
	}
	if (changed || now - m->last_status_ns > 1000000000ULL) {
		status_write(m, p);
		m->last_status_ns = now;
	}
	if (m->relay)
		relay_progress(m, p, changed);
	if (m->quiet)
		return;
	mig_format_progress(line, sizeof(line), p);
	if (m->tty) {
		fprintf(stderr, "\r%s\033[K", line);
		m->line_open = 1;
		if (changed && (p->phase == MIG_PHASE_COMPLETE ||
				p->phase == MIG_PHASE_FAILED))
			end_line(m);
	} else if (changed ||
		   (m->progress && now - m->last_line_ns > 1000000000ULL)) {
		fprintf(stderr, "%s\n", line);
		m->last_line_ns = now;
	}
}

/* -------------------------------------------------------------------------
 * Options
 */

enum {
	OPT_LISTEN = 256, OPT_LISTEN_FD, OPT_CONNECT, OPT_REGION_FD,
	OPT_REGION_PATH, OPT_REGION_ID, OPT_SIZE, OPT_ROUNDS, OPT_DOWNTIME,
	OPT_BUDGET, OPT_NO_POSTCOPY, OPT_CHANNELS, OPT_ID, OPT_IO_TIMEOUT,
	OPT_CONNECT_TIMEOUT, OPT_RECOVER_TIMEOUT, OPT_CONTROL_FD, OPT_JSON,
	OPT_QUIET, OPT_PROGRESS, OPT_RESUME, OPT_OUTPUT, OPT_SNAPSHOT,
	OPT_KEEP_PAUSED, OPT_HELP, OPT_TLS_CREDS, OPT_TLS_PSK, OPT_TLS_PEER,
	OPT_INSECURE, OPT_NO_KTLS, OPT_WAIT_RUNNING, OPT_DEAD_AFTER,
	OPT_NO_RECV_IN_PLACE, OPT_PUSH_MAX_RATE, OPT_CONGESTION,
	OPT_NO_PREPAUSE, OPT_POSTCOPY_CC, OPT_POSTCOPY_CHANNELS,
};

static const struct option mig_opts[] = {
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "listen-fd", required_argument, NULL, OPT_LISTEN_FD },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "region-fd", required_argument, NULL, OPT_REGION_FD },
	{ "region-path", required_argument, NULL, OPT_REGION_PATH },
	{ "region-id", required_argument, NULL, OPT_REGION_ID },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "rounds", required_argument, NULL, OPT_ROUNDS },
	{ "downtime-ms", required_argument, NULL, OPT_DOWNTIME },
	{ "precopy-budget-ms", required_argument, NULL, OPT_BUDGET },
	{ "no-postcopy", no_argument, NULL, OPT_NO_POSTCOPY },
	{ "channels", required_argument, NULL, OPT_CHANNELS },
	{ "migration-id", required_argument, NULL, OPT_ID },
	{ "io-timeout-ms", required_argument, NULL, OPT_IO_TIMEOUT },
	{ "dead-after-ms", required_argument, NULL, OPT_DEAD_AFTER },
	{ "connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "recover-timeout-ms", required_argument, NULL, OPT_RECOVER_TIMEOUT },
	{ "control-fd", required_argument, NULL, OPT_CONTROL_FD },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "snapshot", required_argument, NULL, OPT_SNAPSHOT },
	{ "keep-paused", no_argument, NULL, OPT_KEEP_PAUSED },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "tls-creds", required_argument, NULL, OPT_TLS_CREDS },
	{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
	{ "tls-peer", required_argument, NULL, OPT_TLS_PEER },
	{ "insecure", no_argument, NULL, OPT_INSECURE },
	{ "no-ktls", no_argument, NULL, OPT_NO_KTLS },
	{ "wait-running", required_argument, NULL, OPT_WAIT_RUNNING },
	{ "no-recv-in-place", no_argument, NULL, OPT_NO_RECV_IN_PLACE },
	{ "push-max-rate", required_argument, NULL, OPT_PUSH_MAX_RATE },
	{ "congestion", required_argument, NULL, OPT_CONGESTION },
	{ "postcopy-congestion", required_argument, NULL, OPT_POSTCOPY_CC },
	{ "postcopy-channels", required_argument, NULL, OPT_POSTCOPY_CHANNELS },
	{ "no-prepause-discard", no_argument, NULL, OPT_NO_PREPAUSE },
	{ NULL, 0, NULL, 0 },
};

static const char source_help[] =
"Usage: " PROG " source --listen ADDR:PORT --region-fd N --region-id ID [options]\n"
"\n"
"Serve a region to one destination: precopy rounds while the VMM runs,\n"
"switchover (the VMM pauses), then postcopy until the destination holds\n"
"every page.\n"
"\n"
"  --listen ADDR:PORT       address to wait on (0.0.0.0:4444, [::]:4444)\n"
"  --listen-fd N            an inherited listening socket instead\n"
"  --region-fd N            the region, an inherited fd (pages are read\n"
"                           from a mapping of it)\n"
"  --region-path PATH       or opened by path, e.g. /proc/PID/fd/N or a\n"
"                           file of a region filesystem, which gives the id\n"
"  --region-id ID|PATH      its id (dirty tracking is switched by id), or\n"
"                           its file on a region filesystem (pcafs), which\n"
"                           also serves as --region-path\n"
"  --size BYTES             region size, if the fd cannot tell\n"
"  --rounds N               precopy rounds at most (10); 0: postcopy only\n"
"  --downtime-ms MS         downtime target (300): precopy stops when what\n"
"                           is left would take less to send\n"
"  --precopy-budget-ms MS   stop precopy after this long (0: no limit)\n"
"  --no-postcopy            send everything left while paused\n"
"  --no-prepause-discard    discard every stale page inside the downtime,\n"
"                           not most of them just before the pause\n"
"  --push-max-rate BYTES    the data channels' rate together at most, in\n"
"                           bytes per second (0: no cap); a little below\n"
"                           the link's rate keeps urgent pages from\n"
"                           queueing behind the push\n"
"  --congestion NAME        the data channels' TCP congestion control\n"
"                           (default bbr, or the system's where the kernel\n"
"                           lacks it); system: the system's\n"
"  --postcopy-congestion NAME\n"
"                           the push's congestion control once the\n"
"                           destination runs the guest (default vegas: it\n"
"                           queues little in front of urgent pages); same:\n"
"                           keep the data channels'\n"
"  --postcopy-channels auto|N\n"
"                           data channels that push then (0: all); auto,\n"
"                           the default: one, and all once this host's CPU\n"
"                           rather than the link holds it back\n"
"  --migration-id HEX       32 hex digits (default: random)\n"
"  --connect-timeout-ms MS  wait this long for the destination (60000)\n"
"  --io-timeout-ms MS       a peer silent this long is gone (30000); one\n"
"                           that sends heartbeats is alive however slow\n"
"  --dead-after-ms MS       a connected peer from which no byte arrived for\n"
"                           this long is dead: reconnect (1000; 0: off)\n"
"  --recover-timeout-ms MS  wait this long for it to come back (60000)\n"
"  --control-fd N           VMM control socket (see Documentation/agent.rst);\n"
"                           without it the region must not be written\n"
"                           during the switchover\n"
"  --json                   final summary as JSON on stdout\n"
"  --quiet                  no progress, no informational messages\n"
"  --progress               progress lines even when stderr is no terminal\n"
"\n"
"Every connection runs mutual TLS 1.3; one of these is required:\n"
"  --tls-creds DIR          X.509: DIR holds ca-cert.pem, server-cert.pem,\n"
"                           server-key.pem (as QEMU's tls-creds-x509)\n"
"  --tls-psk FILE           pre-shared keys, identity:hexkey lines\n"
"  --insecure               plain TCP: anyone reaching the port reads\n"
"                           the guest's memory\n"
"  --tls-peer NAME          X.509: the name the destination's certificate\n"
"                           must carry (default: any of the CA); PSK: the\n"
"                           only identity accepted\n"
"  --no-ktls                keep TLS records in user space (default: kernel\n"
"                           TLS, when the tls module is there)\n";

static const char dest_help[] =
"Usage: " PROG " destination --connect ADDR:PORT --region-id ID|PATH [--region-fd N] [options]\n"
"\n"
"Fill a missing-mode region from a source: stage precopy pages, resume\n"
"the VMM at switchover, turn its faults into urgent requests, place the\n"
"rest as it streams in, and detach once every page is present.\n"
"\n"
"  --connect ADDR:PORT      the source\n"
"  --region-id ID|PATH      the destination region (missing mode, empty),\n"
"                           or its file on a region filesystem (pcafs),\n"
"                           which also serves as --region-path\n"
"  --region-fd N            place pages with the fd's ioctls (faster);\n"
"                           without it, pages go over netlink\n"
"  --region-path PATH       or opened by path, e.g. /proc/PID/fd/N or a\n"
"                           file of a region filesystem, which gives the id\n"
"  --channels N             data connections (4, at most 16)\n"
"  --no-recv-in-place       read page payloads into a buffer and place\n"
"                           them from there, not straight from the socket\n"
"                           into the region (PCA_IOC_RECV, the default\n"
"                           where the module has it)\n"
"  --migration-id HEX       refuse a source serving another migration\n"
"  --resume                 take over the migration --migration-id from a\n"
"                           destination agent that died (the region keeps\n"
"                           what it placed; faults waited meanwhile)\n"
"  --wait-running MS        relay only: after the switchover, wait up to MS\n"
"                           for the VMM to say the guest runs (MIGRATE_RUNNING)\n"
"                           before the source streams the rest; the guest's\n"
"                           downtime ends there (migrate --qmp passes it)\n"
"  --connect-timeout-ms MS  keep trying to reach the source (60000)\n"
"  --io-timeout-ms MS       a peer silent this long is gone (30000); one\n"
"                           that sends heartbeats is alive however slow\n"
"  --dead-after-ms MS       a connected peer from which no byte arrived for\n"
"                           this long is dead: reconnect (1000; 0: off)\n"
"  --recover-timeout-ms MS  keep reconnecting after a break (60000)\n"
"  --control-fd N           VMM control socket (see Documentation/agent.rst)\n"
"  --json                   final summary as JSON on stdout\n"
"  --quiet                  no progress, no informational messages\n"
"  --progress               progress lines even when stderr is no terminal\n"
"\n"
"Every connection runs mutual TLS 1.3; one of these is required:\n"
"  --tls-creds DIR          X.509: DIR holds ca-cert.pem, client-cert.pem,\n"
"                           client-key.pem (as QEMU's tls-creds-x509)\n"
"  --tls-psk FILE           pre-shared keys, identity:hexkey lines\n"
"  --insecure               plain TCP: anyone on the path reads and writes\n"
"                           the guest's memory\n"
"  --tls-peer NAME          X.509: the name the source's certificate must\n"
"                           carry (default: the host of --connect); PSK:\n"
"                           the identity to use (default: the file's first)\n"
"  --no-ktls                keep TLS records in user space\n";

static const char snapshot_help[] =
"Usage: " PROG " snapshot --region-fd N --output FILE [options]\n"
"\n"
"Pause the VMM, write the region to a snapshot file (sparse: zero pages\n"
"take no space), and let the VMM run again.\n"
"\n"
"  --region-fd N | --region-path PATH   the region\n"
"  --output FILE            the snapshot (written to FILE.tmp.PID, renamed\n"
"                           when complete)\n"
"  --size BYTES             region size, if the fd cannot tell\n"
"  --control-fd N           VMM control socket: pause before, unpause after\n"
"  --keep-paused            do not unpause (the VM moves elsewhere)\n"
"  --json, --quiet\n";

static const char restore_help[] =
"Usage: " PROG " restore --snapshot FILE --region-id ID|PATH [--region-fd N] [options]\n"
"\n"
"Restore a missing-mode region lazily from a snapshot: the VMM runs at\n"
"once, its faults are served from the file, the rest is placed in the\n"
"background; returns when every page is present.\n"
"\n"
"  --snapshot FILE          written by '" PROG " snapshot'\n"
"  --region-id ID|PATH      the region (missing mode, empty), or its file\n"
"                           on a region filesystem (pcafs)\n"
"  --region-fd N | --region-path PATH   place with the fd's ioctls\n"
"  --control-fd N           VMM control socket (\"resume\" is sent)\n"
"  --json, --quiet, --progress\n";

static const char *const mode_help[] = {
	source_help, dest_help, snapshot_help, restore_help,
};

static int parse_num(const char *name, const char *opt, const char *arg,
		     unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(arg, &end, 0);
	if (errno || end == arg || *end || *arg == '-' || *v > max) {
		char msg[96];

		snprintf(msg, sizeof(msg), "bad value for --%s: %%s", opt);
		return cmd_usage(name, msg, arg);
	}
	return 0;
}

/* A non-negative int option (fds, timeouts in ms) into *@out. */
static int parse_int_opt(const char *name, const char *opt, const char *arg,
			 int *out)
{
	unsigned long long v;
	int ret = parse_num(name, opt, arg, INT_MAX, &v);

	*out = v;
	return ret;
}

/* An unsigned int option of at most @max into *@out. */
static int parse_uint_opt(const char *name, const char *opt, const char *arg,
			  unsigned int max, unsigned int *out)
{
	unsigned long long v;
	int ret = parse_num(name, opt, arg, max, &v);

	*out = v;
	return ret;
}

/*
 * The kind of command option @opt belongs to, when @m is not one:
 * "source", "destination", ...; NULL when @m takes it.
 */
static const char *option_kind_missing(const struct mcli *m, int opt)
{
	int src = m->mode == M_SOURCE, dst = m->mode == M_DEST;

	switch (opt) {
	case OPT_LISTEN:
	case OPT_LISTEN_FD:
	case OPT_BUDGET:
	case OPT_NO_POSTCOPY:
	case OPT_NO_PREPAUSE:
	case OPT_PUSH_MAX_RATE:
	case OPT_CONGESTION:
	case OPT_POSTCOPY_CC:
	case OPT_POSTCOPY_CHANNELS:
	case OPT_ROUNDS:
	case OPT_DOWNTIME:
		return src ? NULL : "source";
	case OPT_CONNECT:
	case OPT_CHANNELS:
	case OPT_RESUME:
	case OPT_WAIT_RUNNING:
	case OPT_NO_RECV_IN_PLACE:
		return dst ? NULL : "destination";
	case OPT_ID:
	case OPT_TLS_CREDS:
	case OPT_TLS_PSK:
	case OPT_TLS_PEER:
	case OPT_INSECURE:
	case OPT_NO_KTLS:
	case OPT_IO_TIMEOUT:
	case OPT_DEAD_AFTER:
	case OPT_CONNECT_TIMEOUT:
	case OPT_RECOVER_TIMEOUT:
		return src || dst ? NULL : "migration";
	case OPT_OUTPUT:
	case OPT_KEEP_PAUSED:
		return m->mode == M_SNAPSHOT ? NULL : "snapshot";
	case OPT_SNAPSHOT:
		return m->mode == M_RESTORE ? NULL : "restore";
	}
	return NULL;
}

/*
 * --congestion NAME: "system" keeps the system's; --postcopy-congestion
 * NAME: "same" keeps --congestion's.  Any other name must be one this
 * kernel can set on a socket now (a module it loads on demand counts),
 * so that a typo is an error here, not a quiet fallback later.
 */
static int parse_congestion(const char *name, const char *oname,
			    const char *arg, const char **cc)
{
	const char *keep = strcmp(oname, "congestion") ? "same" : "system";
	char avail[256] = "", msg[512];
	int err;
	FILE *f;

	if (!strcmp(arg, keep)) {
		*cc = NULL;
		return 0;
	}
	err = !*arg || strlen(arg) >= 16 ? -EINVAL :
	      mig_cc_probe(arg, NULL, 0);
	if (!err) {
		*cc = arg;
		return 0;
	}
	f = fopen("/proc/sys/net/ipv4/tcp_available_congestion_control", "r");
	if (f) {
		if (!fgets(avail, sizeof(avail), f))
			avail[0] = 0;
		avail[strcspn(avail, "\n")] = 0;
		fclose(f);
	}
	snprintf(msg, sizeof(msg),
		 "--%s %%s: not available here (%s); this kernel has %s, or pass %s",
		 oname, strerror(-err), *avail ? avail : "(unknown)",
		 strcmp(keep, "same") ? "system for the system's" :
		 "same to keep the data channels'");
	return cmd_usage(name, msg, arg);
}

static int parse_mig_opts(struct mcli *m, int argc, char **argv)
{
	int src = m->mode == M_SOURCE, dst = m->mode == M_DEST;
	const char *name = m->name;
	unsigned long long v;
	int opt, ret = 0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", mig_opts, NULL)) != -1) {
		const char *oname = NULL, *kind;
		int idx;

		for (idx = 0; mig_opts[idx].name; idx++)
			if (mig_opts[idx].val == opt)
				oname = mig_opts[idx].name;
		kind = option_kind_missing(m, opt);
		if (kind) {
			char msg[64], optn[64];

			/* argv[optind - 1] is the value of --opt VALUE */
			snprintf(optn, sizeof(optn), "--%s",
				 oname ? oname : "?");
			snprintf(msg, sizeof(msg), "%%s is a %s option", kind);
			return cmd_usage(name, msg, optn);
		}
		if (m->relay) {
			switch (opt) {
			case OPT_LISTEN:
			case OPT_LISTEN_FD:
			case OPT_CONNECT:
			case OPT_REGION_FD:
			case OPT_REGION_PATH:
			case OPT_REGION_ID:
			case OPT_SIZE:
			case OPT_CONTROL_FD:
			case OPT_JSON:
			case OPT_HELP:
			case 'h':
				char opt_name[64];

				snprintf(opt_name, sizeof(opt_name), "--%s",
					 oname ? oname : "help");
				return cmd_usage(name,
						 "%s comes from the relay, not from the migration's arguments",
						 opt_name);
			}
		}
		switch (opt) {
		case OPT_LISTEN:
		case OPT_CONNECT:
			m->cfg.addr = optarg;
			break;
		case OPT_LISTEN_FD:
			ret = parse_int_opt(name, oname, optarg,
					    &m->cfg.listen_fd);
			break;
		case OPT_REGION_FD:
			ret = parse_int_opt(name, oname, optarg,
					    &m->cfg.region_fd);
			break;
		case OPT_REGION_PATH:
			m->region_path = optarg;
			break;
		case OPT_REGION_ID:
			/* A path names a file of a region filesystem. */
			if (*optarg < '0' || *optarg > '9')
				m->region_name = optarg;
			else
				ret = parse_uint_opt(name, oname, optarg,
						     UINT32_MAX,
						     &m->cfg.region_id);
			break;
		case OPT_SIZE:
			ret = parse_num(name, oname, optarg, ULLONG_MAX, &v);
			m->cfg.region_size = v;
			break;
		case OPT_ROUNDS:
			ret = parse_uint_opt(name, oname, optarg, 1000,
					     &m->cfg.max_rounds);
			break;
		case OPT_DOWNTIME:
			ret = parse_uint_opt(name, oname, optarg, 3600000,
					     &m->cfg.downtime_ms);
			break;
		case OPT_BUDGET:
			ret = parse_uint_opt(name, oname, optarg, UINT32_MAX,
					     &m->cfg.precopy_budget_ms);
			break;
		case OPT_NO_POSTCOPY:
			m->cfg.no_postcopy = 1;
			break;
		case OPT_NO_PREPAUSE:
			m->cfg.no_prepause_discard = 1;
			break;
		case OPT_PUSH_MAX_RATE:
			ret = parse_num(name, oname, optarg, ULLONG_MAX, &v);
			m->cfg.push_max_rate = v;
			break;
		case OPT_CONGESTION:
			ret = parse_congestion(name, oname, optarg,
					       &m->cfg.push_cc);
			break;
		case OPT_POSTCOPY_CC:
			ret = parse_congestion(name, oname, optarg,
					       &m->cfg.postcopy_cc);
			break;
		case OPT_POSTCOPY_CHANNELS:
			if (!strcmp(optarg, "auto")) {
				m->cfg.postcopy_channels =
					MIG_POSTCOPY_CHANNELS_AUTO;
				break;
			}
			ret = parse_num(name, oname, optarg, MIG_MAX_CHANNELS,
					&v);
			m->cfg.postcopy_channels = v;
			break;
		case OPT_CHANNELS:
			ret = parse_num(name, oname, optarg, MIG_MAX_CHANNELS,
					&v);
			if (!ret && !v)
				ret = cmd_usage(name,
						"--channels must be 1 to 16, not %s",
						optarg);
			m->cfg.channels = v;
			break;
		case OPT_ID:
			if (mig_parse_id(optarg, m->cfg.id))
				return cmd_usage(name,
						 "--migration-id takes 32 hex digits, not %s",
						 optarg);
			m->cfg.have_id = 1;
			break;
		case OPT_IO_TIMEOUT:
			ret = parse_int_opt(name, oname, optarg,
					    &m->cfg.io_timeout_ms);
			break;
		case OPT_DEAD_AFTER:
			ret = parse_int_opt(name, oname, optarg,
					    &m->cfg.dead_after_ms);
			break;
		case OPT_CONNECT_TIMEOUT:
			ret = parse_int_opt(name, oname, optarg,
					    &m->cfg.connect_timeout_ms);
			break;
		case OPT_RECOVER_TIMEOUT:
			ret = parse_int_opt(name, oname, optarg,
					    &m->cfg.recover_timeout_ms);
			break;
		case OPT_CONTROL_FD:
			ret = parse_int_opt(name, oname, optarg,
					    &m->control_fd);
			break;
		case OPT_JSON:
			m->json = 1;
			break;
		case OPT_QUIET:
			m->quiet = 1;
			break;
		case OPT_PROGRESS:
			m->progress = 1;
			break;
		case OPT_RESUME:
			m->cfg.want_resume = 1;
			break;
		case OPT_OUTPUT:
		case OPT_SNAPSHOT:
			m->file = optarg;
			break;
		case OPT_KEEP_PAUSED:
			m->keep_paused = 1;
			break;
		case OPT_TLS_CREDS:
		case OPT_TLS_PSK:
			m->cfg.tls = opt == OPT_TLS_CREDS ? MIG_TLS_X509 :
							    MIG_TLS_PSK;
			m->cfg.tls_creds = optarg;
			break;
		case OPT_TLS_PEER:
			m->cfg.tls_peer = optarg;
			break;
		case OPT_INSECURE:
			m->cfg.tls = MIG_TLS_INSECURE;
			break;
		case OPT_NO_KTLS:
			m->cfg.tls_no_ktls = 1;
			break;
		case OPT_NO_RECV_IN_PLACE:
			m->cfg.recv_in_place = 0;
			break;
		case OPT_WAIT_RUNNING:
			ret = parse_int_opt(name, oname, optarg,
					    &m->wait_running_ms);
			break;
		case OPT_HELP:
		case 'h':
			fputs(mode_help[m->mode], stdout);
			return 1;
		default:
			return cmd_usage(name, "unknown option %s",
					 argv[optind - 1]);
		}
		if (ret)
			return ret;
	}
	if (optind < argc)
		return cmd_usage(name, "unexpected argument %s", argv[optind]);

	if (src && !m->cfg.addr && m->cfg.listen_fd < 0)
		return cmd_usage(name, "%s",
				 "--listen ADDR:PORT (or --listen-fd) is required");
	if (dst && !m->cfg.addr)
		return cmd_usage(name, "%s", "--connect ADDR:PORT is required");
	if (m->mode == M_SNAPSHOT && !m->file)
		return cmd_usage(name, "%s", "--output FILE is required");
	if (m->mode == M_RESTORE && !m->file)
		return cmd_usage(name, "%s", "--snapshot FILE is required");
	if (m->region_path && m->cfg.region_fd >= 0)
		return cmd_usage(name, "%s",
				 "--region-fd and --region-path exclude each other");
	/* --region-id PATH: the file is the mapping too, unless one is given. */
	if (m->region_name && !m->region_path && m->cfg.region_fd < 0)
		m->region_path = m->region_name;
	if ((src || m->mode == M_SNAPSHOT) && !m->region_path &&
	    m->cfg.region_fd < 0)
		return cmd_usage(name, "%s",
				 "--region-fd N (or --region-path) is required: pages are read from a mapping of the region");
	if ((dst || m->mode == M_RESTORE) && !m->cfg.region_id &&
	    !m->region_name && !m->region_path)
		return cmd_usage(name, "%s",
				 "--region-id is required: faults are received for it");
	if (m->wait_running_ms && !m->relay)
		return cmd_usage(name, "%s",
				 "--wait-running is for migrations of the relay (postcopy-agent daemon)");
	if (m->cfg.want_resume && !m->cfg.have_id)
		return cmd_usage(name, "%s",
				 "--resume needs --migration-id: the id of the migration to take over");
	if ((src || dst) && m->cfg.tls == MIG_TLS_UNSET)
		return cmd_usage(name, "%s",
				 "no credentials: pass --tls-creds DIR (X.509, as QEMU's tls-creds-x509) or --tls-psk FILE (identity:hexkey lines), the same kind on both sides, or --insecure for plain TCP");
	if (src && m->cfg.no_postcopy && !m->cfg.max_rounds)
		return cmd_usage(name, "%s",
				 "--no-postcopy needs precopy rounds (--rounds > 0)");
	return 0;
}

static int check_fd(int fd, const char *opt)
{
	char why[128];

	if (fd < 0 || fcntl(fd, F_GETFD) >= 0)
		return 0;
	snprintf(why, sizeof(why),
		 "fd %d is not open: pass it open to the agent (e.g. %d<&N in a shell)",
		 fd, fd);
	return fail(opt, why, -EBADF);
}

static struct mcli *mcli_new(enum mode mode)
{
	struct mcli *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->mode = mode;
	m->name = mode_names[mode];
	m->control_fd = -1;
	m->last_phase = (enum mig_phase)-1;
	pthread_mutex_init(&m->relay_lock, NULL);
	mig_config_init(&m->cfg);
	return m;
}

static void mcli_free(struct mcli *m)
{
	if (m->region_fd_opened)
		close(m->cfg.region_fd);
	pca_client_close(m->relay);
	pthread_mutex_destroy(&m->relay_lock);
	free(m);
}

/* Run the migration @m describes, options parsed, and report it. */
static int run_parsed(struct mcli *m)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct mig_result res;
	int ret;

	if (!m->relay)
		m->tty = isatty(STDERR_FILENO) && !m->quiet;
	m->cfg.cancel = &cancelled;
	m->cfg.hooks.pause = hook_pause;
	m->cfg.hooks.unpause = hook_unpause;
	m->cfg.hooks.resume = hook_resume;
	m->cfg.hooks.switched = hook_switched;
	m->cfg.hooks.progress = hook_progress;
	m->cfg.hooks.log = hook_log;
	m->cfg.hooks.arg = m;
	if (m->mode == M_SOURCE && m->control_fd < 0 && !m->relay &&
	    !m->quiet)
		fprintf(stderr, PROG ": source: no --control-fd: nothing may write the region from the switchover on\n");

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	status_init(m);

	switch (m->mode) {
	case M_SOURCE:
		ret = mig_source_run(&m->cfg, &res);
		break;
	case M_DEST:
		ret = mig_dest_run(&m->cfg, &res);
		break;
	case M_SNAPSHOT:
		ret = mig_snapshot_write(&m->cfg, m->file, m->keep_paused,
					 &res);
		break;
	default:
		ret = mig_restore_run(&m->cfg, m->file, &res);
		break;
	}
	end_line(m);
	status_remove(m);

	if (m->relay)
		relay_finish(m, ret, &res);
	if (m->control_fd >= 0) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		if (f) {
			mig_print_json(f, &res);
			fclose(f);
			ctl_write(m, "result %s", buf);
			free(buf);
		}
	}
	if (m->json)
		mig_print_json(stdout, &res);
	else if (!m->quiet || ret)
		mig_print_summary(m->quiet ? stderr : stdout, &res);
	if (ret)
		fail(m->name, res.error[0] ? res.error : strerror(-ret), ret);
	return ret;
}

/*
 * The region's id from a path: --region-id PATH, or --region-path PATH on
 * a region filesystem when no id is given (a /proc/PID/fd path of an
 * ioctl region has none to find: then --region-id stays required where
 * faults are received).
 */
static int resolve_region(struct mcli *m)
{
	const char *path = m->region_name ? m->region_name : m->region_path;
	int need = m->region_name || m->mode == M_DEST ||
		   m->mode == M_RESTORE;
	struct pca_client *c;
	char why[PATH_MAX + 160];
	uint32_t id;
	int ret;

	if (m->cfg.region_id || !path)
		return 0;
	ret = pca_client_open(&c);
	if (ret)
		return need ? fail(m->name, pca_strerror(NULL), ret) : 0;
	ret = pca_region_resolve(c, path, &id);
	if (!ret)
		m->cfg.region_id = id;
	else if (need)
		snprintf(why, sizeof(why), "%s: %s", path, pca_strerror(c));
	pca_client_close(c);
	if (ret && need)
		return fail(m->region_name ? "--region-id" : "--region-path",
			    why, ret);
	return 0;
}

static int run_migration(int argc, char **argv, enum mode mode)
{
	struct mcli *m;
	int ret;

	m = mcli_new(mode);
	if (!m)
		return fail(mode_names[mode], "out of memory", -ENOMEM);
	ret = parse_mig_opts(m, argc, argv);
	if (ret) {
		mcli_free(m);
		return ret > 0 ? 0 : ret;
	}
	if (check_fd(m->cfg.region_fd, "--region-fd") ||
	    check_fd(m->cfg.listen_fd, "--listen-fd") ||
	    check_fd(m->control_fd, "--control-fd")) {
		mcli_free(m);
		return -EBADF;
	}
	if (m->region_path) {
		m->cfg.region_fd = open(m->region_path, O_RDWR | O_CLOEXEC);
		if (m->cfg.region_fd < 0) {
			char why[PATH_MAX + 64];

			ret = -errno;
			snprintf(why, sizeof(why), "%s: %s", m->region_path,
				 strerror(-ret));
			mcli_free(m);
			return fail("--region-path", why, ret);
		}
		m->region_fd_opened = 1;
	}
	ret = resolve_region(m);
	if (!ret)
		ret = run_parsed(m);
	mcli_free(m);
	return ret;
}

/* The migration's arguments as words (no quoting); argv[0] is @name. */
static int split_args(char *args, const char *name, char **argv, int max)
{
	int argc = 0;
	char *save = NULL, *w;

	argv[argc++] = (char *)name;
	for (w = strtok_r(args, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		if (argc == max - 1)
			return -E2BIG;
		argv[argc++] = w;
	}
	argv[argc] = NULL;
	return argc;
}

/* Tell the VMM why its migration cannot even start. */
static int relay_refuse(struct mcli *m, int err, const char *why)
{
	char msg[PCA_MIG_MESSAGE_MAX];

	snprintf(msg, sizeof(msg), "%.*s", (int)sizeof(msg) - 1, why);
	fail(m->name, why, err);
	pthread_mutex_lock(&m->relay_lock);
	relay_update(m, PCA_MIG_FAILED, NULL, -err, msg);
	pthread_mutex_unlock(&m->relay_lock);
	return err;
}

int relay_worker(const struct pca_mig_info *req, int quiet,
		 char *const *defaults, int ndefaults)
{
	enum mode mode = req->role == PCA_MIG_SOURCE ? M_SOURCE : M_DEST;
	char args[PCA_MIG_ARGS_MAX], why[256], *argv[64];
	uint64_t size;
	struct mcli *m;
	int argc, fd, ret;

	m = mcli_new(mode);
	if (!m)
		return fail(mode_names[mode], "out of memory", -ENOMEM);
	m->quiet = quiet;
	ret = pca_client_open(&m->relay);
	if (ret) {
		fail(m->name, pca_strerror(NULL), ret);
		goto out;
	}
	ret = pca_migrate_accept(m->relay, req->mig_id, &m->mig);
	if (ret) {
		/* another agent took it, or the VMM gave up: not ours */
		if (ret != -EBUSY && ret != -ENOENT)
			fail(m->name, pca_strerror(m->relay), ret);
		ret = 0;
		goto out;
	}
	m->relay_phase = PCA_MIG_ACCEPTED;
	if (m->mig.role != PCA_MIG_SOURCE &&
	    m->mig.role != PCA_MIG_DESTINATION) {
		snprintf(why, sizeof(why), "migration %u: unknown role %u",
			 m->mig.mig_id, m->mig.role);
		ret = relay_refuse(m, -EINVAL, why);
		goto out;
	}

	fd = pca_region_open(m->mig.region_id, &size);
	if (fd < 0) {
		snprintf(why, sizeof(why), "opening region %u: %s",
			 m->mig.region_id, strerror(-fd));
		ret = relay_refuse(m, fd, why);
		goto out;
	}
	m->cfg.region_fd = fd;
	m->region_fd_opened = 1;
	m->cfg.region_id = m->mig.region_id;
	m->cfg.region_size = size;
	m->cfg.addr = m->mig.peer;

	snprintf(args, sizeof(args), "%s", m->mig.args);
	argc = split_args(args, m->name, argv, 64 - ndefaults);
	if (argc > 0 && ndefaults) {
		/* the daemon's first: what the migration says wins */
		memmove(argv + 1 + ndefaults, argv + 1, argc * sizeof(*argv));
		memcpy(argv + 1, defaults, ndefaults * sizeof(*argv));
		argc += ndefaults;
	}
	if (argc < 0) {
		ret = relay_refuse(m, argc, "too many migration arguments");
		goto out;
	}
	usage_text[0] = '\0';
	ret = parse_mig_opts(m, argc, argv);
	if (ret) {
		snprintf(why, sizeof(why), "bad migration arguments: %s",
			 usage_text);
		ret = relay_refuse(m, -EINVAL, why);
		goto out;
	}
	if (!m->quiet)
		fprintf(stderr, PROG ": %s: migration %u of region %u, peer %s\n",
			m->name, m->mig.mig_id, m->mig.region_id,
			m->mig.peer);
	ret = run_parsed(m);
out:
	mcli_free(m);
	return ret;
}

int cmd_source(int argc, char **argv)
{
	return run_migration(argc, argv, M_SOURCE);
}

int cmd_destination(int argc, char **argv)
{
	return run_migration(argc, argv, M_DEST);
}

int cmd_snapshot(int argc, char **argv)
{
	return run_migration(argc, argv, M_SNAPSHOT);
}

int cmd_restore(int argc, char **argv)
{
	return run_migration(argc, argv, M_RESTORE);
}

/* -------------------------------------------------------------------------
 * status
 */

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = rundir();
	struct dirent *de;
	int json = 0, opt, n = 0;
	DIR *d;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (opt != 'j')
			return cmd_usage("status", "unknown option %s",
					 argv[optind - 1]);
		json = 1;
	}
	if (optind < argc)
		return cmd_usage("status", "unexpected argument %s",
				 argv[optind]);

	if (json)
		printf("[");
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		char path[PATH_MAX], line[2048];
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		FILE *f;

		if (pid <= 0 || strcmp(end, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* a dead agent's file is stale */
		if (kill(pid, 0) && errno == ESRCH) {
			unlink(path);
			continue;
		}
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			if (json) {
				printf("%s%s", n ? ",\n " : "", line);
			} else {
				char role[32] = "?", phase[32] = "?";
				unsigned long long pages = 0, left = 0;
				unsigned long long faults = 0, rec = 0;
				double rate = 0, el = 0;
				const char *p;

#define FIELD(key, fmt, var) do { \
	p = strstr(line, "\"" key "\": "); \
	if (p) \
		sscanf(p + strlen("\"" key "\": "), fmt, var); \
} while (0)
				FIELD("role", "\"%31[^\"]", role);
				FIELD("phase", "\"%31[^\"]", phase);
				FIELD("pages", "%llu", &pages);
				FIELD("pages_remaining", "%llu", &left);
				FIELD("faults", "%llu", &faults);
				FIELD("reconnects", "%llu", &rec);
				FIELD("rate_bps", "%lf", &rate);
				FIELD("elapsed_s", "%lf", &el);
#undef FIELD
				printf("pid %ld: %s, %s, %llu of %llu pages left, %.1f MiB/s, %llu faults, %llu reconnects, %.1f s\n",
				       pid, role, phase, left, pages,
				       rate / (1 << 20), faults, rec, el);
			}
			n++;
		}
		fclose(f);
	}
	if (d)
		closedir(d);
	if (json)
		printf("]\n");
	else if (!n)
		printf("no migration in progress (status files in %s)\n", dir);
	return 0;
}
