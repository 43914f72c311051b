// SPDX-License-Identifier: GPL-2.0
/*
 * workload.c: the VMM stand-in around a migration (see workload.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <linux/tls.h>

#include "lib/pca.h"
#include "mig.h"
#include "tls.h"
#include "workload.h"

#define WL_MAX_WRITERS		64
#define WL_PAUSE_MS		10000
#define WL_JOIN_MS		2000

/*
 * The workload's own waits (for its threads, its agents, its relay) in
 * ms, times PCA_TIMEOUT_SCALE from the environment: the selftests'
 * knob for slow kernels and busy hosts.  The migration's limits are
 * options (wl_opts), which the tests scale themselves.
 */
static int wl_ms(int ms)
{
	static int scale;

	if (!scale) {
		const char *e = getenv("PCA_TIMEOUT_SCALE");
		int v = e ? atoi(e) : 1;

		__atomic_store_n(&scale, v > 0 && v <= 100 ? v : 1,
				 __ATOMIC_RELAXED);
	}
	return ms * __atomic_load_n(&scale, __ATOMIC_RELAXED);
}

void wl_opts_init(struct wl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size = 64ULL << 20;
	o->writers = 2;
	o->rate = 0;
	o->dest_rate = 2000;
	o->fill_pct = 90;
	o->channels = MIG_DEFAULT_CHANNELS;
	o->rounds = MIG_DEFAULT_MAX_ROUNDS;
	o->downtime_ms = MIG_DEFAULT_DOWNTIME_MS;
	o->io_timeout_ms = 5000;
	o->dead_after_ms = -1;
	o->recover_timeout_ms = 20000;
	o->cut_pct = 25;
	o->log_prefix = "";
	o->recv_in_place = 1;
}

uint64_t wl_parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	return *end ? 0 : v;
}

/* -------------------------------------------------------------------------
 * The pattern
 */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Page @page at generation @gen; generation 0 is all zero. */
static void pattern(uint64_t *w, size_t words, uint64_t page, uint32_t gen)
{
	uint64_t seed;
	size_t k;

	if (!gen) {
		memset(w, 0, words * sizeof(*w));
		return;
	}
	seed = mix64(page * 0x100000001b3ULL ^ ((uint64_t)gen << 40));
	w[0] = gen;
	w[1] = page;
	for (k = 2; k < words; k++)
		w[k] = seed ^ (k * 0x9e3779b97f4a7c15ULL);
}

static int pattern_ok(const uint64_t *w, size_t words, uint64_t page,
		      uint32_t gen, uint64_t *scratch)
{
	pattern(scratch, words, page, gen);
	return !memcmp(w, scratch, words * sizeof(*w));
}

/* -------------------------------------------------------------------------
 * State
 */

struct wl;

struct vcpu {
	struct wl *wl;
	unsigned int idx;
	pthread_t th;
	int running;
	uint64_t rng;
};

struct relay_pair;

struct relay_dir {
	struct relay_pair *p;
	int to_dest;
};

struct relay_pair {
	int a, b;		/* client side, server side */
	pthread_t th[2];
	struct relay_dir dir[2];
	struct relay *r;
};

struct relay {
	int lfd;
	char target[64];
	char addr[64];
	pthread_t th;
	int running;
	int stop;		/* atomic */
	pthread_mutex_t lock;
	struct relay_pair *pairs[256];
	unsigned int npairs;
	uint64_t bytes;		/* atomic, source -> destination */
	uint64_t arm_bytes;	/* atomic: cut when bytes reach this; 0 off */
	int cut_done;		/* atomic */
	int closed;		/* atomic: the cut closed everything */
	int only_flag;		/* just set cut_done, cut nothing */
	unsigned int stall_ms;	/* cut by stalling this long, not closing */
	uint64_t stall_until;	/* atomic: forwarding stalls until then */
	/* at the cut, a peer with these X.509 credentials tries the source */
	const char *intruder;
	pthread_t intruder_th;
	int intruder_running;
	int intruder_ret;	/* its TLS handshake's result */
	char intruder_err[320];
};

struct wl {
	const struct wl_opts *o;
	struct wl_result *r;
	uint32_t psz;
	uint64_t pages;

	int sfd, dfd;
	uint32_t sid, did;
	uint8_t *smem, *dmem;
	int uffd, memfd;	/* with .uffd: the destination's */

	/* first reads on the destination, while its engine runs */
	uint8_t *touched;	/* atomic, per page */
	uint32_t *touch_us;
	uint64_t ntouch;	/* atomic */
	int dst_done;		/* atomic: the destination engine returned */

	uint32_t *gen;		/* source: last generation written */
	uint32_t *expect;	/* destination: what it must hold */

	struct vcpu src_cpu[WL_MAX_WRITERS], dst_cpu[WL_MAX_WRITERS];
	int pause_req;		/* atomic */
	unsigned int parked;	/* atomic */
	int src_stop, dst_stop;	/* atomic */
	int dst_started;
	int resumed;
	uint64_t src_writes, dest_writes, dest_checked, dest_bad; /* atomic */

	int src_cancel;		/* the source engine's cancel flag */
	int ns_src, ns_dst, ns_home;	/* netns fds with .netem, else -1 */
	struct relay relay;
	int cut_armed;
	pthread_mutex_t log_lock;
};

static void wl_log(struct wl *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void wl_log(struct wl *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->o->log)
		return;
	pthread_mutex_lock(&w->log_lock);
	fputs(w->o->log_prefix, w->o->log);
	va_start(ap, fmt);
	vfprintf(w->o->log, fmt, ap);
	va_end(ap);
	fputc('\n', w->o->log);
	fflush(w->o->log);
	pthread_mutex_unlock(&w->log_lock);
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Time between one vCPU's writes when all of them write @rate pages a
 * second together (at least one).
 */
static uint64_t write_interval_ns(struct wl *w, unsigned int rate)
{
	return (uint64_t)1000000000ULL * w->o->writers / MIG_MAX(rate, 1);
}

/* Pages of a vCPU's stripe: p % writers == idx. */
static uint64_t stripe_pages(struct wl *w, unsigned int idx)
{
	unsigned int n = w->o->writers;

	return w->pages > idx ? (w->pages - idx + n - 1) / n : 0;
}

/* Sleep until @next (ns) if it is ahead; catching up is capped. */
static void pace(uint64_t *next, uint64_t interval)
{
	uint64_t now = mig_now_ns();

	*next += interval;
	if (*next > now) {
		uint64_t d = *next - now;
		struct timespec ts = {
			.tv_sec = d / 1000000000ULL,
			.tv_nsec = d % 1000000000ULL,
		};

		nanosleep(&ts, NULL);
	} else if (now - *next > 100000000ULL) {
		*next = now;
	}
}

/* -------------------------------------------------------------------------
 * Network namespaces
 */

#define NS_SRC		"pca-mig-src"
#define NS_DST		"pca-mig-dst"
#define NS_ADDR_SRC	"10.77.0.1"
#define NS_ADDR_DST	"10.77.0.2"
#define NS_DIR		"/var/run/netns"

/* Run "sh -c @cmd"; its exit status, or -errno. */
static int run_sh(struct wl *w, const char *cmd, int quiet)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	int status, ret;
	pid_t pid;

	ret = posix_spawnp(&pid, "sh", NULL, NULL, argv, environ);
	if (ret)
		return -ret;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	if (ret && !quiet)
		wl_log(w, "netns: '%s' failed (status %d)", cmd, ret);
	return ret;
}

/*
 * iproute2's ip and tc by full path: busybox's sh runs its own applets
 * first, and busybox's ip knows no namespaces.
 */
static const char *tool(const char *name, char *buf, size_t len)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin",
					    "/bin" };
	unsigned int i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(buf, len, "%s/%s", dirs[i], name);
		if (!access(buf, X_OK))
			return buf;
	}
	snprintf(buf, len, "%s", name);
	return buf;
}

static void netns_teardown(struct wl *w)
{
	char ip[64], cmd[256];

	if (w->ns_home >= 0 && setns(w->ns_home, CLONE_NEWNET))
		wl_log(w, "netns: cannot go home: %s", strerror(errno));
	if (w->ns_src >= 0)
		close(w->ns_src);
	if (w->ns_dst >= 0)
		close(w->ns_dst);
	if (w->ns_home >= 0)
		close(w->ns_home);
	w->ns_src = w->ns_dst = w->ns_home = -1;
	tool("ip", ip, sizeof(ip));
	snprintf(cmd, sizeof(cmd),
		 "%s netns del " NS_SRC " 2>/dev/null; %s netns del " NS_DST
		 " 2>/dev/null; true", ip, ip);
	run_sh(w, cmd, 1);
}

static int netns_setup(struct wl *w)
{
	const char *netem = w->o->netem;
	char cmd[2048], ip[64], tc[64];
	int ret;

	tool("ip", ip, sizeof(ip));
	tool("tc", tc, sizeof(tc));
	snprintf(cmd, sizeof(cmd),
		 "%s netns del " NS_SRC " 2>/dev/null; %s netns del " NS_DST
		 " 2>/dev/null; mkdir -p " NS_DIR, ip, ip);
	run_sh(w, cmd, 1);
	snprintf(cmd, sizeof(cmd),
		 "set -e; IP=%s; $IP netns add " NS_SRC "; $IP netns add " NS_DST "; "
		 "$IP link add pca-veth0 type veth peer name pca-veth1; "
		 "$IP link set pca-veth0 netns " NS_SRC "; "
		 "$IP link set pca-veth1 netns " NS_DST "; "
		 "$IP -n " NS_SRC " addr add " NS_ADDR_SRC "/24 dev pca-veth0; "
		 "$IP -n " NS_DST " addr add " NS_ADDR_DST "/24 dev pca-veth1; "
		 "$IP -n " NS_SRC " link set lo up; $IP -n " NS_DST " link set lo up; "
		 "$IP -n " NS_SRC " link set pca-veth0 up; $IP -n " NS_DST " link set pca-veth1 up",
		 ip);
	ret = run_sh(w, cmd, 0);
	if (!ret && *netem) {
		snprintf(cmd, sizeof(cmd),
			 "set -e; %s -n " NS_SRC " qdisc add dev pca-veth0 root netem %s; "
			 "%s -n " NS_DST " qdisc add dev pca-veth1 root netem %s",
			 tc, netem, tc, netem);
		ret = run_sh(w, cmd, 0);
	}
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "setting up the network namespaces failed: needs iproute2's ip and tc, and the veth and sch_netem modules");
		netns_teardown(w);
		return -ENOTSUP;
	}
	w->ns_home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	/* iproute2 keeps them in /run/netns (older ones: /var/run/netns) */
	w->ns_src = open("/run/netns/" NS_SRC, O_RDONLY | O_CLOEXEC);
	if (w->ns_src < 0)
		w->ns_src = open(NS_DIR "/" NS_SRC, O_RDONLY | O_CLOEXEC);
	w->ns_dst = open("/run/netns/" NS_DST, O_RDONLY | O_CLOEXEC);
	if (w->ns_dst < 0)
		w->ns_dst = open(NS_DIR "/" NS_DST, O_RDONLY | O_CLOEXEC);
	if (w->ns_home < 0 || w->ns_src < 0 || w->ns_dst < 0) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "opening the network namespaces: %s", strerror(errno));
		netns_teardown(w);
		return -ENOENT;
	}
	wl_log(w, "netns: source %s in %s, destination %s in %s, veth with netem '%s'",
	       NS_ADDR_SRC, NS_SRC, NS_ADDR_DST, NS_DST, netem);
	return 0;
}

/* This thread into a namespace (fd), if namespaces are in use. */
static int netns_enter(struct wl *w, int fd)
{
	if (fd < 0)
		return 0;
	if (setns(fd, CLONE_NEWNET)) {
		int ret = -errno;

		wl_log(w, "netns: setns: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * The link's ceiling: one connection from the source's namespace to the
 * destination's, plain TCP, kernel TLS or user-space GnuTLS.  The sender
 * writes 256 KiB buffers through mig_send_all() (16 KiB per sendmsg(), a
 * TLS record each, as the engine's data channels do), the receiver reads
 * up to 64 KiB at a time.  TLS is TLS 1.3 with AES-128-GCM and a fixed
 * test key (for GnuTLS a PSK handshake with it): what is measured is the
 * crypto path, not a handshake, and never protects anything.
 */
enum { PROBE_TCP, PROBE_KTLS, PROBE_GNUTLS };
static const char *const probe_name[] = { "plain TCP", "kernel TLS",
					  "GnuTLS" };

#define PROBE_PRIO	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+ECDHE-PSK:+DHE-PSK:+PSK"

static const unsigned char probe_key[16] = {
	0x70, 0x63, 0x61, 0x2d, 0x62, 0x65, 0x6e, 0x63,
	0x68, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x31, 0x36,
};

struct tcp_probe {
	int fd, kind;
	uint64_t bytes;
	gnutls_session_t s;
	int ret;
};

/*
 * Kernel TLS on @fd with the fixed key: @tx and/or @rx.  The round
 * trip's connection uses it both ways, nonces and all: a measurement,
 * nothing to protect.
 */
static int probe_ktls(int fd, int tx, int rx)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_3_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};

	memcpy(ci.key, probe_key, sizeof(ci.key));
	memcpy(ci.salt, probe_key, sizeof(ci.salt));
	memcpy(ci.iv, probe_key + 8, sizeof(ci.iv));
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) ||
	    (tx && setsockopt(fd, SOL_TLS, TLS_TX, &ci, sizeof(ci))) ||
	    (rx && setsockopt(fd, SOL_TLS, TLS_RX, &ci, sizeof(ci))))
		return -errno;
	return 0;
}

static int probe_psk_server_key(gnutls_session_t s, const char *id,
				gnutls_datum_t *key)
{
	(void)s;
	(void)id;
	key->data = gnutls_malloc(sizeof(probe_key));
	if (!key->data)
		return -1;
	memcpy(key->data, probe_key, sizeof(probe_key));
	key->size = sizeof(probe_key);
	return 0;
}

/* A GnuTLS session on @fd after a PSK handshake; NULL on failure. */
static gnutls_session_t probe_gnutls(int fd, int server)
{
	static gnutls_psk_server_credentials_t scred;
	static gnutls_psk_client_credentials_t ccred;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	const gnutls_datum_t key = { (unsigned char *)probe_key,
				     sizeof(probe_key) };
	gnutls_session_t s;
	int ret;

	pthread_mutex_lock(&lock);
	if (server && !scred &&
	    !gnutls_psk_allocate_server_credentials(&scred))
		gnutls_psk_set_server_credentials_function(scred,
							   probe_psk_server_key);
	if (!server && !ccred &&
	    !gnutls_psk_allocate_client_credentials(&ccred) &&
	    gnutls_psk_set_client_credentials(ccred, "bench", &key,
					      GNUTLS_PSK_KEY_RAW)) {
		gnutls_psk_free_client_credentials(ccred);
		ccred = NULL;
	}
	pthread_mutex_unlock(&lock);
	if ((server ? (void *)scred : (void *)ccred) == NULL ||
	    gnutls_init(&s, server ? GNUTLS_SERVER : GNUTLS_CLIENT))
		return NULL;
	if (gnutls_priority_set_direct(s, PROBE_PRIO, NULL) ||
	    gnutls_credentials_set(s, GNUTLS_CRD_PSK,
				   server ? (void *)scred : (void *)ccred)) {
		gnutls_deinit(s);
		return NULL;
	}
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, wl_ms(10000));
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		gnutls_deinit(s);
		return NULL;
	}
	return s;
}

/*
 * A fault's round trip beside the stream, for the CPU time the stream
 * holds, not for the link's queue: a second connection of the same kind
 * (plain TCP or kernel TLS, TCP_NODELAY) over loopback in the
 * destination's namespace, one end asking for a page (a 32-byte request,
 * a 4 KiB answer) every millisecond while the stream runs.
 */
#define PING_MAX	4096

struct ping {
	int req_fd, ans_fd;		/* the destination's end, the source's */
	int stop;			/* atomic */
	unsigned int n;
	uint64_t ns[PING_MAX];
};

static int ping_xfer(int fd, void *buf, size_t len, int rx)
{
	return rx ? mig_recv_all(fd, buf, len, -1, NULL) :
		    mig_send_all(fd, buf, len, -1, NULL);
}

static void *ping_answer(void *arg)
{
	struct ping *pg = arg;
	char req[32], page[4096] = { 1 };

	while (!ping_xfer(pg->ans_fd, req, sizeof(req), 1) &&
	       !ping_xfer(pg->ans_fd, page, sizeof(page), 0))
		;
	return NULL;
}

static void *ping_ask(void *arg)
{
	struct ping *pg = arg;
	char req[32] = { 1 }, page[4096];

	while (!__atomic_load_n(&pg->stop, __ATOMIC_ACQUIRE) &&
	       pg->n < PING_MAX) {
		uint64_t t0 = mig_now_ns();

		if (ping_xfer(pg->req_fd, req, sizeof(req), 0) ||
		    ping_xfer(pg->req_fd, page, sizeof(page), 1))
			break;
		pg->ns[pg->n++] = mig_now_ns() - t0;
		usleep(1000);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void *tcp_probe_send(void *arg)
{
	/* a data channel's flush: 64 pages and their headers */
	static char buf[256 << 10];
	struct tcp_probe *p = arg;
	uint64_t left = p->bytes;

	if (p->kind == PROBE_GNUTLS) {
		p->s = probe_gnutls(p->fd, 1);
		if (!p->s)
			p->ret = -EPROTO;
	}
	while (left && !p->ret) {
		size_t n = MIG_MIN(left, sizeof(buf)), off = 0;

		if (p->kind != PROBE_GNUTLS) {
			p->ret = mig_send_all(p->fd, buf, n, wl_ms(20000),
					      NULL);
			left -= n;
			continue;
		}
		while (off < n && !p->ret) {
			ssize_t w = gnutls_record_send(p->s, buf + off,
						       MIG_MIN(n - off,
							       16384));

			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
				continue;
			if (w < 0)
				p->ret = -EIO;
			else
				off += w;
		}
		left -= n;
	}
	return NULL;
}

/*
 * The link's ceiling for @kind (PROBE_*), MiB/s (0 on failure); with
 * @ping (not for GnuTLS), a fault's round trip beside it, p50 and p99 in
 * ns (0: none measured).
 */
static double tcp_probe(struct wl *w, unsigned int mib, int kind,
			uint64_t *ping)
{
	struct tcp_probe p = { .fd = -1, .kind = kind,
			       .bytes = (uint64_t)mib << 20 };
	struct ping *pg = NULL;
	pthread_t th, ask, ans;
	gnutls_session_t cs = NULL;
	char bound[64], err[128];
	static char buf[65536];
	uint64_t got = 0, t0;
	int lfd = -1, cfd = -1, one = 1, pinging = 0;
	double mibs = 0;

	if (ping)
		memset(ping, 0, 2 * sizeof(*ping));
	if (ping && kind != PROBE_GNUTLS) {
		pg = calloc(1, sizeof(*pg));
		if (!pg)
			return 0;
		pg->req_fd = -1;
		pg->ans_fd = -1;
	}
	if (netns_enter(w, w->ns_src) ||
	    mig_listen(NS_ADDR_SRC ":0", &lfd, bound, sizeof(bound), err,
		       sizeof(err)) ||
	    netns_enter(w, w->ns_dst))
		goto out;
	t0 = mig_now_ns();
	if (mig_connect(bound, wl_ms(5000), &cfd, err, sizeof(err)) ||
	    mig_accept(lfd, wl_ms(5000), NULL, &p.fd, NULL, 0))
		goto out;
	if (pg) {
		char pbound[64];
		int plfd = -1, ret;

		ret = mig_listen("127.0.0.1:0", &plfd, pbound, sizeof(pbound),
				 err, sizeof(err)) ||
		      mig_connect(pbound, wl_ms(5000), &pg->req_fd, err,
				  sizeof(err)) ||
		      mig_accept(plfd, wl_ms(5000), NULL, &pg->ans_fd, NULL,
				 0);
		if (plfd >= 0)
			close(plfd);
		if (ret)
			goto out;
	}
	if (kind == PROBE_KTLS &&
	    (probe_ktls(p.fd, 1, 0) || probe_ktls(cfd, 0, 1) ||
	     (pg && (probe_ktls(pg->req_fd, 1, 1) ||
		     probe_ktls(pg->ans_fd, 1, 1))))) {
		wl_log(w, "netns: kernel TLS: %s", strerror(errno));
		goto out;
	}
	if (pg) {
		setsockopt(pg->req_fd, IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
		setsockopt(pg->ans_fd, IPPROTO_TCP, TCP_NODELAY, &one,
			   sizeof(one));
	}
	if (pthread_create(&th, NULL, tcp_probe_send, &p))
		goto out;
	if (kind == PROBE_GNUTLS) {
		cs = probe_gnutls(cfd, 0);
		if (!cs)
			shutdown(cfd, SHUT_RDWR);
	}
	/* from the end of the handshake: the stream is what is measured */
	if (kind != PROBE_TCP)
		t0 = mig_now_ns();
	if (pg && !pthread_create(&ans, NULL, ping_answer, pg)) {
		if (!pthread_create(&ask, NULL, ping_ask, pg))
			pinging = 2;
		else
			pinging = 1;
	}
	while (got < p.bytes) {
		ssize_t n = cs ? gnutls_record_recv(cs, buf, sizeof(buf)) :
			    kind == PROBE_GNUTLS ? -1 :
			    recv(cfd, buf, sizeof(buf), 0);

		if (cs && (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED))
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	if (got < p.bytes)
		shutdown(p.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	if (got == p.bytes)
		mibs = got / 1048576.0 / ((mig_now_ns() - t0) / 1e9);
	if (pinging) {
		__atomic_store_n(&pg->stop, 1, __ATOMIC_RELEASE);
		shutdown(pg->req_fd, SHUT_RDWR);
		shutdown(pg->ans_fd, SHUT_RDWR);
		if (pinging > 1)
			pthread_join(ask, NULL);
		pthread_join(ans, NULL);
		if (pg->n) {
			qsort(pg->ns, pg->n, sizeof(*pg->ns), cmp_u64);
			ping[0] = pg->ns[pg->n / 2];
			ping[1] = pg->ns[(pg->n * 99) / 100];
		}
	}
	wl_log(w, "netns: %s %u MiB: %.2f MiB/s, round trips beside it %u, p50/p99 %llu/%llu us",
	       probe_name[kind], mib, mibs, pg ? pg->n : 0,
	       ping ? (unsigned long long)ping[0] / 1000 : 0,
	       ping ? (unsigned long long)ping[1] / 1000 : 0);
out:
	if (pg) {
		if (pg->req_fd >= 0)
			close(pg->req_fd);
		if (pg->ans_fd >= 0)
			close(pg->ans_fd);
		free(pg);
	}
	if (cs)
		gnutls_deinit(cs);
	if (p.s)
		gnutls_deinit(p.s);
	if (p.fd >= 0)
		close(p.fd);
	if (cfd >= 0)
		close(cfd);
	if (lfd >= 0)
		close(lfd);
	return mibs;
}

/* -------------------------------------------------------------------------
 * Source vCPUs and the pause
 */

static void *src_vcpu(void *arg)
{
	struct vcpu *c = arg;
	struct wl *w = c->wl;
	uint64_t n = stripe_pages(w, c->idx), next = mig_now_ns();
	uint64_t interval = write_interval_ns(w, w->o->rate);
	size_t words = w->psz / 8;

	while (!__atomic_load_n(&w->src_stop, __ATOMIC_ACQUIRE) && n) {
		uint64_t page;

		if (__atomic_load_n(&w->pause_req, __ATOMIC_ACQUIRE)) {
			__atomic_fetch_add(&w->parked, 1, __ATOMIC_ACQ_REL);
			while (__atomic_load_n(&w->pause_req,
					       __ATOMIC_ACQUIRE) &&
			       !__atomic_load_n(&w->src_stop,
						__ATOMIC_ACQUIRE))
				mig_sleep_ms(1);
			__atomic_fetch_sub(&w->parked, 1, __ATOMIC_ACQ_REL);
			next = mig_now_ns();
			continue;
		}
		page = (rng_next(&c->rng) % n) * w->o->writers + c->idx;
		pattern((uint64_t *)(w->smem + page * w->psz), words, page,
			w->gen[page] + 1);
		w->gen[page]++;
		__atomic_fetch_add(&w->src_writes, 1, __ATOMIC_RELAXED);
		pace(&next, interval);
	}
	return NULL;
}

static int hook_pause(void *arg)
{
	struct wl *w = arg;
	unsigned int want = 0, i;
	uint64_t deadline = mig_now_ns() + wl_ms(WL_PAUSE_MS) * 1000000ULL;

	for (i = 0; i < w->o->writers; i++)
		want += w->src_cpu[i].running;
	__atomic_store_n(&w->pause_req, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&w->parked, __ATOMIC_ACQUIRE) < want) {
		if (mig_now_ns() > deadline)
			return -ETIMEDOUT;
		mig_sleep_ms(1);
	}
	wl_log(w, "vmm: source paused after %" PRIu64 " writes",
	       __atomic_load_n(&w->src_writes, __ATOMIC_RELAXED));
	return 0;
}

static void hook_unpause(void *arg)
{
	struct wl *w = arg;

	wl_log(w, "vmm: source runs again");
	__atomic_store_n(&w->pause_req, 0, __ATOMIC_RELEASE);
}

/* -------------------------------------------------------------------------
 * Destination vCPUs
 */

static void *dst_vcpu(void *arg)
{
	struct vcpu *c = arg;
	struct wl *w = c->wl;
	uint64_t n = stripe_pages(w, c->idx), next = mig_now_ns();
	uint64_t interval = write_interval_ns(w, w->o->dest_rate);
	size_t words = w->psz / 8;
	uint64_t *buf = malloc(w->psz), *want = malloc(w->psz);

	if (!buf || !want)
		goto out;
	while (!__atomic_load_n(&w->dst_stop, __ATOMIC_ACQUIRE) && n) {
		uint64_t page = (rng_next(&c->rng) % n) * w->o->writers +
				c->idx;
		uint8_t *mem = w->dmem + page * w->psz;
		uint64_t t0 = 0;

		if (!__atomic_load_n(&w->dst_done, __ATOMIC_ACQUIRE) &&
		    !__atomic_exchange_n(&w->touched[page], 1,
					 __ATOMIC_ACQ_REL))
			t0 = mig_now_ns();
		/* the read faults the page in if it is missing */
		memcpy(buf, mem, w->psz);
		if (t0) {
			uint64_t us = (mig_now_ns() - t0) / 1000;
			uint64_t i = __atomic_fetch_add(&w->ntouch, 1,
							__ATOMIC_ACQ_REL);

			if (i < w->pages)
				w->touch_us[i] = us > UINT32_MAX ? UINT32_MAX :
						 us;
		}
		__atomic_fetch_add(&w->dest_checked, 1, __ATOMIC_RELAXED);
		if (!pattern_ok(buf, words, page, w->expect[page], want)) {
			if (__atomic_fetch_add(&w->dest_bad, 1,
					       __ATOMIC_RELAXED) < 5)
				wl_log(w, "vmm: destination page %" PRIu64
				       " differs when first read (generation %"
				       PRIu64 ", expected %u)", page, buf[0],
				       w->expect[page]);
		}
		if (rng_next(&c->rng) & 1) {
			pattern((uint64_t *)mem, words, page,
				w->expect[page] + 1);
			w->expect[page]++;
			__atomic_fetch_add(&w->dest_writes, 1,
					   __ATOMIC_RELAXED);
		}
		pace(&next, interval);
	}
out:
	free(buf);
	free(want);
	return NULL;
}

static void hook_resume(void *arg)
{
	struct wl *w = arg;
	unsigned int i;

	if (w->resumed) {
		wl_log(w, "vmm: destination runs already");
		return;
	}
	w->resumed = 1;
	wl_log(w, "vmm: destination resumes");
	memcpy(w->expect, w->gen, w->pages * sizeof(*w->gen));
	if (!w->o->dest_rate)
		return;
	for (i = 0; i < w->o->writers; i++) {
		struct vcpu *c = &w->dst_cpu[i];

		c->wl = w;
		c->idx = i;
		c->rng = 0x9e3779b97f4a7c15ULL * (i + 7);
		if (!pthread_create(&c->th, NULL, dst_vcpu, c))
			c->running = 1;
	}
	w->dst_started = 1;
}

/* -------------------------------------------------------------------------
 * Logging and progress hooks
 */

static void src_log(enum mig_log_level level, const char *msg, void *arg)
{
	struct wl *w = arg;

	if (level <= MIG_LOG_WARN) {
		w->r->src_warnings++;
		snprintf(w->r->src_last_warning,
			 sizeof(w->r->src_last_warning), "%s", msg);
	}
	if (level <= MIG_LOG_INFO)
		wl_log(w, "source: %s", msg);
}

static void dst_log(enum mig_log_level level, const char *msg, void *arg)
{
	struct wl *w = arg;

	if (level <= MIG_LOG_INFO)
		wl_log(w, "destination: %s", msg);
}

static void show_progress(struct wl *w, const struct mig_progress *p)
{
	char line[200];

	if (!w->o->progress)
		return;
	mig_format_progress(line, sizeof(line), p);
	wl_log(w, "%s", line);
}


/*
 * An engine entered @phase: maybe arm the relay's cut.  Precopy counts
 * from the destination's start, postcopy from the source's switchover
 * (the destination learns of it after the background stream started).
 */
static void phase_seen(struct wl *w, enum mig_role role, enum mig_phase phase)
{
	if (w->o->cut && !w->cut_armed &&
	    ((w->o->cut == WL_CUT_PRECOPY && role == MIG_DEST &&
	      phase == MIG_PHASE_PRECOPY) ||
	     (w->o->cut == WL_CUT_POSTCOPY && role == MIG_SOURCE &&
	      phase == MIG_PHASE_POSTCOPY))) {
		uint64_t at = __atomic_load_n(&w->relay.bytes,
					      __ATOMIC_RELAXED);

		at += w->pages * w->psz * w->o->cut_pct / 100 + 1;
		w->cut_armed = 1;
		__atomic_store_n(&w->relay.arm_bytes, at, __ATOMIC_RELEASE);
		wl_log(w, "relay: %s %u%% of the region into %s",
		       w->o->kill == WL_KILL_DEST ?
		       "killing the destination agent" :
		       w->o->kill == WL_KILL_SOURCE ?
		       "killing the source agent" :
		       "cutting every connection",
		       w->o->cut_pct, mig_phase_name(phase));
	}
}

static void src_progress(const struct mig_progress *p, void *arg)
{
	show_progress(arg, p);
	phase_seen(arg, MIG_SOURCE, p->phase);
}

static void dst_progress(const struct mig_progress *p, void *arg)
{
	struct wl *w = arg;

	show_progress(w, p);
	phase_seen(w, MIG_DEST, p->phase);
}

/* -------------------------------------------------------------------------
 * The relay: a TCP forwarder that can cut everything once
 */

/* A peer with the wrong credentials at the source, while it recovers. */
static void *intruder_thread(void *arg)
{
	struct relay *r = arg;
	struct mig_config cfg;
	struct mig_tls *t;
	int fd, ret;

	mig_config_init(&cfg);
	cfg.tls = MIG_TLS_X509;
	cfg.tls_creds = r->intruder;
	ret = mig_tls_open(&cfg, MIG_DEST, &t, r->intruder_err,
			   sizeof(r->intruder_err));
	if (!ret) {
		ret = mig_connect(r->target, wl_ms(5000), &fd, r->intruder_err,
				  sizeof(r->intruder_err));
		if (!ret) {
			ret = mig_tls_client(t, r->target, &fd, wl_ms(5000),
					     NULL, r->intruder_err,
					     sizeof(r->intruder_err));
			close(fd);
		}
		mig_tls_close(t);
	}
	r->intruder_ret = ret;
	return NULL;
}

/* A stalled relay forwards nothing, and holds what it read. */
static void relay_stall_wait(struct relay *r)
{
	while (mig_now_ns() < __atomic_load_n(&r->stall_until,
					      __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
		mig_sleep_ms(5);
}

static void *pump(void *arg)
{
	struct relay_dir *dir = arg;
	struct relay_pair *p = dir->p;
	struct relay *r = p->r;
	int to_dest = dir->to_dest;
	int from = to_dest ? p->b : p->a, to = to_dest ? p->a : p->b;
	char buf[65536];

	for (;;) {
		ssize_t n = recv(from, buf, sizeof(buf), 0);
		uint64_t arm;

		/* a silent link carries no end of file either */
		relay_stall_wait(r);
		if (n <= 0)
			break;
		if (mig_send_all(to, buf, n, wl_ms(10000), &r->stop))
			break;
		if (!to_dest)
			continue;
		__atomic_fetch_add(&r->bytes, n, __ATOMIC_RELAXED);
		arm = __atomic_load_n(&r->arm_bytes, __ATOMIC_ACQUIRE);
		if (arm && __atomic_load_n(&r->bytes, __ATOMIC_RELAXED) >= arm &&
		    !__atomic_exchange_n(&r->cut_done, 1, __ATOMIC_ACQ_REL) &&
		    !r->only_flag && r->stall_ms) {
			__atomic_store_n(&r->stall_until, mig_now_ns() +
					 r->stall_ms * 1000000ULL,
					 __ATOMIC_RELEASE);
		} else if (arm && !r->only_flag && !r->stall_ms &&
			   __atomic_load_n(&r->cut_done, __ATOMIC_ACQUIRE) &&
			   !__atomic_exchange_n(&r->closed, 1,
						__ATOMIC_ACQ_REL)) {
			unsigned int i;

			pthread_mutex_lock(&r->lock);
			for (i = 0; i < r->npairs; i++) {
				shutdown(r->pairs[i]->a, SHUT_RDWR);
				shutdown(r->pairs[i]->b, SHUT_RDWR);
			}
			if (r->intruder)
				r->intruder_running =
					!pthread_create(&r->intruder_th, NULL,
							intruder_thread, r);
			pthread_mutex_unlock(&r->lock);
		}
	}
	shutdown(p->a, SHUT_RDWR);
	shutdown(p->b, SHUT_RDWR);
	return NULL;
}

static int relay_connect(struct relay *r, int *fd, char *err, size_t len)
{
	uint64_t deadline = mig_now_ns() + wl_ms(10000) * 1000000ULL;
	int ret;

	while ((ret = mig_connect(r->target, wl_ms(5000), fd, err, len)) ==
	       -ECONNREFUSED && mig_now_ns() < deadline &&
	       !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
		mig_sleep_ms(20);
	return ret;
}

static void *relay_thread(void *arg)
{
	struct relay *r = arg;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct relay_pair *p;
		char err[128];
		int a, b;

		if (mig_accept(r->lfd, 100, &r->stop, &a, NULL, 0))
			continue;
		/*
		 * The source may not listen yet (an agent that binds its own
		 * port): keep trying, as the destination itself would.
		 */
		if (relay_connect(r, &b, err, sizeof(err))) {
			close(a);
			continue;
		}
		p = calloc(1, sizeof(*p));
		pthread_mutex_lock(&r->lock);
		if (!p || r->npairs == sizeof(r->pairs) / sizeof(r->pairs[0])) {
			pthread_mutex_unlock(&r->lock);
			free(p);
			close(a);
			close(b);
			continue;
		}
		p->a = a;
		p->b = b;
		p->r = r;
		p->dir[0].p = p;
		p->dir[1].p = p;
		p->dir[1].to_dest = 1;
		if (pthread_create(&p->th[0], NULL, pump, &p->dir[0])) {
			pthread_mutex_unlock(&r->lock);
			close(a);
			close(b);
			free(p);
			continue;
		}
		if (pthread_create(&p->th[1], NULL, pump, &p->dir[1])) {
			shutdown(a, SHUT_RDWR);
			pthread_join(p->th[0], NULL);
			pthread_mutex_unlock(&r->lock);
			close(a);
			close(b);
			free(p);
			continue;
		}
		r->pairs[r->npairs++] = p;
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

static int relay_start(struct relay *r, const char *target, int only_flag,
		       const char *intruder)
{
	char err[128];
	int ret;

	memset(r, 0, sizeof(*r));
	r->only_flag = only_flag;
	r->intruder = intruder;
	pthread_mutex_init(&r->lock, NULL);
	snprintf(r->target, sizeof(r->target), "%s", target);
	ret = mig_listen("127.0.0.1:0", &r->lfd, r->addr, sizeof(r->addr),
			 err, sizeof(err));
	if (ret)
		return ret;
	ret = -pthread_create(&r->th, NULL, relay_thread, r);
	if (ret) {
		close(r->lfd);
		return ret;
	}
	r->running = 1;
	return 0;
}

static void relay_stop(struct relay *r)
{
	unsigned int i;

	if (!r->running)
		return;
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(r->th, NULL);
	pthread_mutex_lock(&r->lock);
	if (r->intruder_running)
		pthread_join(r->intruder_th, NULL);
	pthread_mutex_unlock(&r->lock);
	for (i = 0; i < r->npairs; i++) {
		struct relay_pair *p = r->pairs[i];

		shutdown(p->a, SHUT_RDWR);
		shutdown(p->b, SHUT_RDWR);
		pthread_join(p->th[0], NULL);
		pthread_join(p->th[1], NULL);
		close(p->a);
		close(p->b);
		free(p);
	}
	close(r->lfd);
	pthread_mutex_destroy(&r->lock);
	r->running = 0;
}

/* -------------------------------------------------------------------------
 * Running the engines in-process
 */

/* The destination engine's backend: the module region, or userfaultfd. */
static void dest_backend(struct wl *w, struct mig_config *dc)
{
	if (w->o->uffd) {
		dc->backend = MIG_BACKEND_UFFD;
		dc->uffd = w->uffd;
		dc->uffd_base = (uintptr_t)w->dmem;
		dc->uffd_memfd = w->memfd;
		dc->uffd_local = 1;
		dc->region_size = w->o->size;
		return;
	}
	dc->region_fd = w->o->netlink ? -1 : w->dfd;
	dc->region_id = w->did;
}

struct src_run {
	struct wl *w;
	struct mig_config cfg;
	int ret;
};

static void *src_thread(void *arg)
{
	struct src_run *sr = arg;

	/* its netlink socket must see the source region's namespace */
	sr->ret = netns_enter(sr->w, sr->w->ns_src);
	if (!sr->ret)
		sr->ret = mig_source_run(&sr->cfg, &sr->w->r->src);
	return NULL;
}

/* A stranger talks nonsense to the source first. */
static void send_garbage(struct wl *w, const char *addr)
{
	static const char junk[64] =
		"GET / HTTP/1.0\r\nHost: postcopy-agent-test\r\n\r\n";
	char err[128], buf[64];
	int fd;

	if (mig_connect(addr, wl_ms(2000), &fd, err, sizeof(err))) {
		wl_log(w, "garbage: %s", err);
		return;
	}
	mig_send_all(fd, junk, sizeof(junk), wl_ms(2000), NULL);
	/* the source hangs up on it */
	if (mig_recv_all(fd, buf, 1, wl_ms(6000), NULL) == -ECONNRESET)
		wl_log(w, "garbage: the source closed the connection");
	close(fd);
}

static int join_timed(pthread_t th, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, NULL, &ts);
}

static void stop_vcpus(struct wl *w, struct vcpu *cpus, int *stop)
{
	uint64_t end = mig_now_ns() + wl_ms(WL_JOIN_MS) * 1000000ULL;
	unsigned int i;

	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < w->o->writers; i++) {
		uint64_t now = mig_now_ns();

		if (!cpus[i].running)
			continue;
		/* a vCPU stuck on a page that never came stays behind */
		if (join_timed(cpus[i].th, now < end ?
			       (int)((end - now) / 1000000) : 0))
			pthread_detach(cpus[i].th);
		cpus[i].running = 0;
	}
}

/* The connections' security, as @o says, into an engine's @cfg. */
static void wl_tls_config(const struct wl_opts *o, struct mig_config *cfg)
{
	cfg->tls = o->tls;
	cfg->tls_creds = o->tls_creds;
	cfg->tls_no_ktls = o->tls_no_ktls;
}

static int run_inprocess(struct wl *w, const char *src_addr, int lfd)
{
	const struct wl_opts *o = w->o;
	struct src_run sr = { .w = w };
	struct mig_config dc;
	pthread_t sth;
	int ret;

	mig_config_init(&sr.cfg);
	sr.cfg.listen_fd = lfd;
	sr.cfg.region_fd = w->sfd;
	sr.cfg.region_id = w->sid;
	sr.cfg.max_rounds = o->rounds;
	sr.cfg.downtime_ms = o->downtime_ms;
	sr.cfg.precopy_budget_ms = o->budget_ms;
	sr.cfg.no_postcopy = o->no_postcopy;
	sr.cfg.no_prepause_discard = o->no_prepause;
	sr.cfg.io_timeout_ms = o->io_timeout_ms;
	if (o->push_cc)
		sr.cfg.push_cc = o->push_cc;
	if (o->push_legacy) {
		sr.cfg.push_cc = NULL;
		sr.cfg.push_lowat = 0;
	}
	sr.cfg.push_max_rate = o->push_max_rate;
	if (o->postcopy_cc)
		sr.cfg.postcopy_cc = o->postcopy_cc;
	if (o->postcopy_channels)
		sr.cfg.postcopy_channels = o->postcopy_channels < 0 ? 0 :
					   o->postcopy_channels;
	if (o->dead_after_ms >= 0)
		sr.cfg.dead_after_ms = o->dead_after_ms;
	sr.cfg.connect_timeout_ms = wl_ms(30000);
	sr.cfg.recover_timeout_ms = o->recover_timeout_ms;
	sr.cfg.cancel = &w->src_cancel;
	wl_tls_config(o, &sr.cfg);
	sr.cfg.hooks.pause = hook_pause;
	sr.cfg.hooks.unpause = hook_unpause;
	sr.cfg.hooks.log = src_log;
	sr.cfg.hooks.progress = src_progress;
	sr.cfg.hooks.arg = w;

	mig_config_init(&dc);
	dc.addr = w->relay.running ? w->relay.addr : src_addr;
	dest_backend(w, &dc);
	dc.channels = o->channels;
	dc.recv_in_place = o->recv_in_place;
	dc.io_timeout_ms = o->io_timeout_ms;
	if (o->dead_after_ms >= 0)
		dc.dead_after_ms = o->dead_after_ms;
	dc.connect_timeout_ms = wl_ms(30000);
	dc.recover_timeout_ms = o->recover_timeout_ms;
	dc.cancel = o->cancel;
	wl_tls_config(o, &dc);
	dc.hooks.resume = hook_resume;
	dc.hooks.log = dst_log;
	dc.hooks.progress = dst_progress;
	dc.hooks.arg = w;

	ret = -pthread_create(&sth, NULL, src_thread, &sr);
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "starting the source: %s", mig_errstr(ret));
		return ret;
	}
	ret = netns_enter(w, w->ns_dst);
	if (ret) {
		__atomic_store_n(&w->src_cancel, 1, __ATOMIC_RELEASE);
		pthread_join(sth, NULL);
		return ret;
	}
	if (o->garbage_first)
		send_garbage(w, src_addr);
	ret = mig_dest_run(&dc, &w->r->dst);
	__atomic_store_n(&w->dst_done, 1, __ATOMIC_RELEASE);
	w->r->have_dst = 1;
	if (ret) {
		/* the source would wait for a comeback that never happens */
		__atomic_store_n(&w->src_cancel, 1, __ATOMIC_RELEASE);
	}
	pthread_join(sth, NULL);
	w->r->have_src = 1;
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error), "destination: %s",
			 w->r->dst.error);
		return ret;
	}
	if (sr.ret) {
		snprintf(w->r->error, sizeof(w->r->error), "source: %s",
			 w->r->src.error);
		return sr.ret;
	}
	return 0;
}

/* -------------------------------------------------------------------------
 * Running postcopy-agent processes
 */

struct agent_proc {
	pid_t pid;
	int ctl;		/* our end of the control socket */
	FILE *in;
	char json[4096];	/* its "result" line */
	int paused;
};

/*
 * Start an agent with fd 3 = @keep1 (the region), 5 = @keep2 (a listening
 * socket), 6 = its end of a new control socket.  posix_spawn(), not
 * fork(): vCPU threads may sleep in faults on the region, and fork()
 * would wait for locks and copy the address space of a busy VMM.
 */
static int spawn_agent(struct wl *w, struct agent_proc *a, char **argv,
		       int keep1, int keep2)
{
	static const int dst[3] = { 3, 5, 6 };
	posix_spawn_file_actions_t fa;
	int sv[2], fds[3], i, ret;

	memset(a, 0, sizeof(*a));
	a->pid = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	fds[0] = keep1;
	fds[1] = keep2;
	fds[2] = sv[1];
	ret = -posix_spawn_file_actions_init(&fa);
	if (ret)
		goto out;
	/* out of the way first, so no dup2() hits another source */
	for (i = 0; i < 3 && !ret; i++)
		if (fds[i] >= 0)
			ret = -posix_spawn_file_actions_adddup2(&fa, fds[i],
								100 + i);
	for (i = 0; i < 3 && !ret; i++)
		if (fds[i] >= 0)
			ret = -posix_spawn_file_actions_adddup2(&fa, 100 + i,
								dst[i]);
	for (i = 0; i < 3 && !ret; i++)
		if (fds[i] >= 0)
			ret = -posix_spawn_file_actions_addclose(&fa, 100 + i);
	/*
	 * Not fflush(NULL): it locks every stream, and agent readers sit in
	 * fgets() holding theirs.
	 */
	pthread_mutex_lock(&w->log_lock);
	fflush(stdout);
	fflush(stderr);
	pthread_mutex_unlock(&w->log_lock);
	if (!ret)
		ret = -posix_spawn(&a->pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
out:
	close(sv[1]);
	if (ret) {
		close(sv[0]);
		a->pid = -1;
		return ret;
	}
	a->ctl = sv[0];
	ret = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
	a->in = ret < 0 ? NULL : fdopen(ret, "r");
	return a->in ? 0 : -ENOMEM;
}

/* Read the agent's control lines until its result (or EOF). */
struct agent_ctx {
	struct wl *w;
	struct agent_proc *a;
	int role;
	pthread_t th;
};

static void *agent_reader(void *arg)
{
	struct agent_ctx *x = arg;
	char line[4096];

	while (fgets(line, sizeof(line), x->a->in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strcmp(line, "pause")) {
			int ret = hook_pause(x->w);

			dprintf(x->a->ctl, "%s\n", ret ? "error" : "paused");
		} else if (!strcmp(line, "unpause")) {
			hook_unpause(x->w);
		} else if (!strcmp(line, "resume")) {
			hook_resume(x->w);
		} else if (!strncmp(line, "phase ", 6)) {
			unsigned int ph;

			for (ph = 0; ph <= MIG_PHASE_FAILED; ph++)
				if (!strcmp(line + 6, mig_phase_name(ph)))
					phase_seen(x->w, x->role, ph);
		} else if (!strncmp(line, "result ", 7)) {
			snprintf(x->a->json, sizeof(x->a->json), "%s",
				 line + 7);
		} else if (line[0]) {
			wl_log(x->w, "%s agent: %s",
			       x->role == MIG_SOURCE ? "source" : "destination",
			       line);
		}
	}
	return NULL;
}

static uint64_t json_num(const char *json, const char *key, double scale)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p)
		return 0;
	return (uint64_t)(strtod(p + strlen(pat), NULL) * scale);
}

/* The string of @key into @buf (up to its closing quote); unchanged if none. */
static void json_text(const char *json, const char *key, char *buf,
		      size_t len)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": \"", key);
	p = strstr(json, pat);
	if (!p)
		return;
	p += strlen(pat);
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\""), p);
}

static void json_result(const char *json, struct mig_result *r)
{

	r->ok = strstr(json, "\"ok\": true") != NULL;
	r->pages = json_num(json, "pages", 1);
	r->total_ns = json_num(json, "total_s", 1e9);
	r->downtime_ns = json_num(json, "downtime_ms", 1e6);
	r->guest_downtime_ns = json_num(json, "guest_downtime_ms", 1e6);
	r->rounds = json_num(json, "rounds", 1);
	r->precopy_pages = json_num(json, "precopy_pages", 1);
	r->postcopy_pages = json_num(json, "postcopy_pages", 1);
	r->urgent_pages = json_num(json, "urgent_pages", 1);
	r->faults = json_num(json, "faults", 1);
	r->faults_remote = json_num(json, "faults_remote", 1);
	r->lat_p50_ns = json_num(json, "p50_us", 1000);
	r->lat_p99_ns = json_num(json, "p99_us", 1000);
	r->lat_max_ns = json_num(json, "max_us", 1000);
	r->reconnects = json_num(json, "reconnects", 1);
	r->bytes_sent = json_num(json, "bytes_sent", 1);
	r->bytes_received = json_num(json, "bytes_received", 1);
	r->pages_present = json_num(json, "pages_present", 1);
	r->precopy_placed = json_num(json, "precopy_placed", 1);
	r->overwritten = json_num(json, "overwritten", 1);
	r->recv_in_place = json_num(json, "recv_in_place", 1);
	r->early_dropped = json_num(json, "early_dropped", 1);
	r->prepause_named = json_num(json, "prepause_named", 1);
	r->prepause_discarded = json_num(json, "prepause_discarded", 1);
	r->prepause_ns = json_num(json, "prepause_ms", 1e6);
	r->pages_received = json_num(json, "pages_received", 1);
	r->resume_held = json_num(json, "resume_held", 1);
	r->pages_refetched = json_num(json, "pages_refetched", 1);
	r->tls_ktls = json_num(json, "tls_ktls", 1);
	r->tls_user = json_num(json, "tls_user", 1);
	r->sw_pause_ns = json_num(json, "switch_pause_ms", 1e6);
	r->sw_final_pass_ns = json_num(json, "switch_final_pass_ms", 1e6);
	r->sw_wait_ns = json_num(json, "switch_wait_ms", 1e6);
	r->sw_discard_ns = json_num(json, "switch_discard_ms", 1e6);
	r->sw_resume_ns = json_num(json, "switch_resume_ms", 1e6);
	r->postcopy_pushers = json_num(json, "postcopy_pushers", 1);
	json_text(json, "congestion", r->push_cc, sizeof(r->push_cc));
	json_text(json, "postcopy_congestion", r->postcopy_cc,
		  sizeof(r->postcopy_cc));
	json_text(json, "error", r->error, sizeof(r->error));
}

static int cancelled_wl(const struct wl_opts *o)
{
	return o->cancel && *o->cancel;
}

static int wait_agent(struct agent_proc *a, int timeout_ms)
{
	uint64_t deadline = mig_now_ns() +
			    (uint64_t)wl_ms(timeout_ms) * 1000000ULL;
	int status;

	for (;;) {
		pid_t p = waitpid(a->pid, &status, WNOHANG);

		if (p == a->pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) :
			       128 + WTERMSIG(status);
		if (p < 0)
			return -errno;
		if (mig_now_ns() > deadline) {
			kill(a->pid, SIGKILL);
			waitpid(a->pid, &status, 0);
			return -ETIMEDOUT;
		}
		mig_sleep_ms(20);
	}
}

/* Argument vectors of the two agents; @resume for a replacement. */
struct agent_args {
	char sid[16], did[16], rounds[16], down[16], chans[16], iot[16];
	char rect[16], dead[16], post_nch[16], id[2 * MIG_ID_LEN + 1], addr[64];
	char *v[48];
	int n;
};

/* One more argument; arg_opt() an option and its value. */
static void arg_add(struct agent_args *a, const char *arg)
{
	a->v[a->n++] = (char *)arg;
}

static void arg_opt(struct agent_args *a, const char *opt, const char *val)
{
	arg_add(a, opt);
	arg_add(a, val);
}

/* What both agents are told the same way: timeouts and the migration id. */
static void args_timeouts_and_id(const struct wl_opts *o,
				 struct agent_args *a)
{
	snprintf(a->iot, sizeof(a->iot), "%d", o->io_timeout_ms);
	snprintf(a->rect, sizeof(a->rect), "%d", o->recover_timeout_ms);
	snprintf(a->dead, sizeof(a->dead), "%d", o->dead_after_ms);
	arg_opt(a, "--io-timeout-ms", a->iot);
	if (o->dead_after_ms >= 0)
		arg_opt(a, "--dead-after-ms", a->dead);
	arg_opt(a, "--recover-timeout-ms", a->rect);
	arg_opt(a, "--migration-id", a->id);
}

/* The TLS options of @o, as an agent (or its daemon) takes them. */
static int args_tls(const struct wl_opts *o, char **v)
{
	int n = 0;

	switch (o->tls) {
	case MIG_TLS_INSECURE:
		v[n++] = "--insecure";
		break;
	case MIG_TLS_X509:
	case MIG_TLS_PSK:
		v[n++] = o->tls == MIG_TLS_X509 ? "--tls-creds" : "--tls-psk";
		v[n++] = (char *)o->tls_creds;
		break;
	default:
		break;
	}
	if (o->tls_no_ktls)
		v[n++] = "--no-ktls";
	return n;
}

/* The end of every vector: TLS, progress or quiet, NULL. */
static void args_finish(const struct wl_opts *o, struct agent_args *a)
{
	a->n += args_tls(o, a->v + a->n);
	arg_add(a, o->progress ? "--progress" : "--quiet");
	a->v[a->n] = NULL;
}

static void source_args(struct wl *w, struct agent_args *a)
{
	const struct wl_opts *o = w->o;

	a->n = 0;
	snprintf(a->sid, sizeof(a->sid), "%u", w->sid);
	snprintf(a->rounds, sizeof(a->rounds), "%u", o->rounds);
	snprintf(a->down, sizeof(a->down), "%u", o->downtime_ms);
	arg_add(a, o->agent);
	arg_add(a, "source");
	arg_opt(a, "--listen-fd", "5");
	arg_opt(a, "--region-fd", "3");
	arg_opt(a, "--region-id", a->sid);
	arg_opt(a, "--rounds", a->rounds);
	arg_opt(a, "--downtime-ms", a->down);
	args_timeouts_and_id(o, a);
	arg_opt(a, "--control-fd", "6");
	if (o->no_postcopy)
		arg_add(a, "--no-postcopy");
	if (o->push_cc)
		arg_opt(a, "--congestion", *o->push_cc ? o->push_cc : "system");
	if (o->postcopy_cc)
		arg_opt(a, "--postcopy-congestion",
			*o->postcopy_cc ? o->postcopy_cc : "same");
	if (o->postcopy_channels) {
		snprintf(a->post_nch, sizeof(a->post_nch), "%d",
			 o->postcopy_channels < 0 ? 0 : o->postcopy_channels);
		arg_opt(a, "--postcopy-channels", a->post_nch);
	}
	if (o->no_prepause)
		arg_add(a, "--no-prepause-discard");
	args_finish(o, a);
}

static void dest_args(struct wl *w, struct agent_args *a, int resume)
{
	const struct wl_opts *o = w->o;

	a->n = 0;
	snprintf(a->did, sizeof(a->did), "%u", w->did);
	snprintf(a->chans, sizeof(a->chans), "%u", o->channels);
	arg_add(a, o->agent);
	arg_add(a, "destination");
	arg_opt(a, "--connect", a->addr);
	if (!o->netlink)
		arg_opt(a, "--region-fd", "3");
	arg_opt(a, "--region-id", a->did);
	arg_opt(a, "--channels", a->chans);
	args_timeouts_and_id(o, a);
	if (!o->recv_in_place)
		arg_add(a, "--no-recv-in-place");
	if (resume)
		arg_add(a, "--resume");
	arg_opt(a, "--control-fd", "6");
	args_finish(o, a);
}

/* Reap a killed agent (it may take a moment to let go of everything). */
static void reap_killed(struct wl *w, pid_t pid)
{
	uint64_t t0 = mig_now_ns();
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	wl_log(w, "vmm: killed agent %d reaped after %.3f s", (int)pid,
	       (mig_now_ns() - t0) / 1e9);
}

static void agent_reap(struct agent_ctx *x)
{
	pthread_join(x->th, NULL);
	fclose(x->a->in);
	close(x->a->ctl);
}

/* The JSON result an agent of @role printed, if any, into w->r. */
static void agent_result(struct wl *w, const struct agent_proc *a,
			 enum mig_role role)
{
	struct mig_result *res = role == MIG_DEST ? &w->r->dst : &w->r->src;

	if (!a->json[0])
		return;
	json_result(a->json, res);
	res->role = role;
	if (role == MIG_DEST)
		w->r->have_dst = 1;
	else
		w->r->have_src = 1;
}

static int run_agents(struct wl *w, int *lfdp)
{
	int lfd = *lfdp;
	const struct wl_opts *o = w->o;
	struct agent_args sargs, dargs;
	struct agent_proc sa, da;
	struct agent_ctx sx = { .w = w, .a = &sa, .role = MIG_SOURCE };
	struct agent_ctx dx = { .w = w, .a = &da, .role = MIG_DEST };
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint8_t id[MIG_ID_LEN];
	char src_addr[64];
	uint64_t deadline;
	int ret, sret = 0, dret = -ETIMEDOUT, status;

	mig_random_id(id);
	mig_format_id(id, sargs.id);
	memcpy(dargs.id, sargs.id, sizeof(dargs.id));
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	mig_format_sockaddr((struct sockaddr *)&ss, src_addr, sizeof(src_addr));
	snprintf(dargs.addr, sizeof(dargs.addr), "%s",
		 w->relay.running ? w->relay.addr : src_addr);
	source_args(w, &sargs);
	dest_args(w, &dargs, 0);

	/* each agent is born in its side's namespace */
	ret = netns_enter(w, w->ns_src);
	if (!ret)
		ret = spawn_agent(w, &sa, sargs.v, w->sfd, lfd);
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "starting %s: %s", o->agent, mig_errstr(ret));
		return ret;
	}
	netns_enter(w, w->ns_dst);
	pthread_create(&sx.th, NULL, agent_reader, &sx);
	/* the port is the source agent's now: it dies with it */
	close(lfd);
	*lfdp = -1;
	if (o->garbage_first)
		send_garbage(w, src_addr);
	ret = spawn_agent(w, &da, dargs.v, o->netlink ? -1 : w->dfd, -1);
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "starting %s: %s", o->agent, mig_errstr(ret));
		kill(sa.pid, SIGTERM);
		wait_agent(&sa, 5000);
		agent_reap(&sx);
		return ret;
	}
	pthread_create(&dx.th, NULL, agent_reader, &dx);

	/* wait for the destination; kill an agent on the way if asked */
	deadline = mig_now_ns() + wl_ms(600000) * 1000000ULL;
	for (;;) {
		pid_t p;

		if (o->kill && !w->r->killed &&
		    __atomic_load_n(&w->relay.cut_done, __ATOMIC_ACQUIRE)) {
			struct agent_proc *victim = o->kill == WL_KILL_DEST ?
						    &da : &sa;

			w->r->killed = 1;
			kill(victim->pid, SIGKILL);
			reap_killed(w, victim->pid);
			wl_log(w, "vmm: killed the %s agent (pid %d)",
			       victim == &da ? "destination" : "source",
			       (int)victim->pid);
			if (victim == &sa) {
				sret = 128 + SIGKILL;
				sa.pid = -1;
			} else {
				agent_reap(&dx);
				dest_args(w, &dargs, 1);
				ret = spawn_agent(w, &da, dargs.v,
						  o->netlink ? -1 : w->dfd, -1);
				if (ret) {
					snprintf(w->r->error,
						 sizeof(w->r->error),
						 "restarting %s: %s", o->agent,
						 mig_errstr(ret));
					break;
				}
				wl_log(w, "vmm: started a new destination agent (pid %d) with --resume",
				       (int)da.pid);
				pthread_create(&dx.th, NULL, agent_reader, &dx);
			}
		}
		p = waitpid(da.pid, &status, WNOHANG);
		if (p == da.pid) {
			dret = WIFEXITED(status) ? WEXITSTATUS(status) :
			       128 + WTERMSIG(status);
			break;
		}
		if (mig_now_ns() > deadline || (cancelled_wl(o))) {
			kill(da.pid, SIGKILL);
			waitpid(da.pid, &status, 0);
			break;
		}
		mig_sleep_ms(20);
	}
	if (sa.pid > 0) {
		if (dret)
			kill(sa.pid, SIGTERM);
		sret = wait_agent(&sa, dret ? 5000 : 30000);
	}
	agent_reap(&dx);
	agent_reap(&sx);
	agent_result(w, &da, MIG_DEST);
	agent_result(w, &sa, MIG_SOURCE);
	if (dret || sret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "postcopy-agent exited with status %d (destination), %d (source)%s%s",
			 dret, sret, w->r->dst.error[0] ? ": " : "",
			 w->r->dst.error);
		return -EIO;
	}
	return 0;
}

/* -------------------------------------------------------------------------
 * Through the module's relay: postcopy-agent daemons do the work, the VMM
 * only asks and follows events (Documentation/relay.rst)
 */

#define WL_DAEMON_WAIT_MS	20000	/* for a daemon to listen */

struct relay_vmm {
	struct pca_client *c;
	enum mig_role role;
	uint32_t id;
	struct pca_mig_info last;	/* latest state seen */
	int paused, resumed;
	int done;
};

static int start_daemon(struct wl *w, pid_t *pid)
{
	char *argv[8];
	int n = 0;

	argv[n++] = (char *)w->o->agent;
	argv[n++] = "daemon";
	/* the daemon's TLS options reach every migration it takes */
	n += args_tls(w->o, argv + n);
	if (!w->o->progress)
		argv[n++] = "--quiet";
	argv[n] = NULL;
	pthread_mutex_lock(&w->log_lock);
	fflush(stdout);
	fflush(stderr);
	pthread_mutex_unlock(&w->log_lock);
	return -posix_spawn(pid, argv[0], NULL, NULL, argv, environ);
}

/* Field @key ("VmHWM:") of /proc/@pid/status, in bytes; 0 if unknown. */
static uint64_t status_bytes(pid_t pid, const char *key)
{
	unsigned long long kb = 0;
	char path[64], line[128];
	size_t klen = strlen(key);
	FILE *f;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) &&
		    sscanf(line + klen, " %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb * 1024;
}

/* The RSS high-water mark of process @pid, in bytes; 0 if unknown. */
static uint64_t hwm_bytes(pid_t pid)
{
	return status_bytes(pid, "VmHWM:");
}

/*
 * The largest RSS high-water mark among the children of @pid (a daemon's
 * workers, which run the migrations), in bytes; 0 if unknown.
 */
static uint64_t children_hwm(pid_t pid)
{
	char path[64];
	uint64_t max = 0, b;
	FILE *f;
	int c;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &c) == 1) {
		b = hwm_bytes(c);
		if (b > max)
			max = b;
	}
	fclose(f);
	return max;
}

static void stop_daemon(struct wl *w, pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		wl_log(w, "vmm: the agent daemon %d ended with status %d",
		       (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) :
		       128 + WTERMSIG(status));
}

/* Ask for a migration; a daemon just started may not listen yet. */
static int relay_ask(struct wl *w, struct relay_vmm *v, uint32_t region,
		     const char *peer, const char *args)
{
	uint64_t deadline = mig_now_ns() +
			    wl_ms(WL_DAEMON_WAIT_MS) * 1000000ULL;
	const char *side = v->role == MIG_SOURCE ? "source" : "destination";
	int ret;

	ret = pca_client_open(&v->c);
	if (!ret)
		ret = pca_join_group(v->c, PCA_MCGRP_VMM);
	while (!ret) {
		ret = pca_migrate(v->c, region, v->role == MIG_SOURCE ?
				  PCA_MIG_SOURCE : PCA_MIG_DESTINATION,
				  peer, args, &v->id);
		if (ret != -ENOTCONN || mig_now_ns() > deadline)
			break;
		mig_sleep_ms(20);
		ret = 0;
	}
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "%s: asking the relay for a migration: %s", side,
			 v->c ? pca_strerror(v->c) : pca_strerror(NULL));
		return ret;
	}
	wl_log(w, "vmm: %s migration %u of region %u (peer %s, \"%s\")",
	       side, v->id, region, peer, args);
	return 0;
}

static enum mig_phase relay_engine_phase(uint32_t phase)
{
	switch (phase) {
	case PCA_MIG_PRECOPY:
		return MIG_PHASE_PRECOPY;
	case PCA_MIG_SWITCHOVER:
	case PCA_MIG_PAUSED:
		return MIG_PHASE_SWITCHOVER;
	case PCA_MIG_POSTCOPY:
		return MIG_PHASE_POSTCOPY;
	case PCA_MIG_RECOVERING:
		return MIG_PHASE_RECOVERING;
	case PCA_MIG_COMPLETED:
		return MIG_PHASE_COMPLETE;
	case PCA_MIG_FAILED:
	case PCA_MIG_CANCELLED:
		return MIG_PHASE_FAILED;
	}
	return MIG_PHASE_SETUP;
}

/* One state of @v's migration: do what a VMM does about it. */
static void relay_vmm_state(struct wl *w, struct relay_vmm *v,
			    const struct pca_mig_info *m)
{
	const char *side = v->role == MIG_SOURCE ? "source" : "destination";
	int changed = m->phase != v->last.phase;

	v->last = *m;
	if (m->phase == PCA_MIG_RECOVERING) {
		if (changed && v->role == MIG_SOURCE)
			w->r->src_recovering++;
		else if (changed)
			w->r->dst_recovering++;
		if (m->progress.reconnects > w->r->recovering_reconnects)
			w->r->recovering_reconnects = m->progress.reconnects;
	}
	if (changed) {
		wl_log(w, "vmm: %s migration %u: %s%s%s", side, m->mig_id,
		       pca_mig_phase_name(m->phase), m->message[0] ? ": " : "",
		       m->message);
		phase_seen(w, v->role, relay_engine_phase(m->phase));
	}
	if (v->role == MIG_SOURCE && m->phase == PCA_MIG_SWITCHOVER &&
	    !v->paused) {
		v->paused = 1;
		if (hook_pause(w) || pca_migrate_paused(v->c, v->id)) {
			wl_log(w, "vmm: source: the pause failed: cancelling");
			pca_migrate_cancel(v->c, v->id);
		}
	}
	if (v->role == MIG_DEST && !v->resumed &&
	    (m->phase == PCA_MIG_POSTCOPY || m->phase == PCA_MIG_COMPLETED)) {
		v->resumed = 1;
		hook_resume(w);
	}
	if (pca_mig_phase_final(m->phase) && !v->done) {
		v->done = 1;
		/* before POSTCOPY, the guest never ran anywhere else */
		if (v->role == MIG_SOURCE && v->paused &&
		    m->phase != PCA_MIG_COMPLETED && !w->resumed)
			hook_unpause(w);
	}
}

static void relay_vmm_poll(struct wl *w, struct relay_vmm *v, int ms)
{
	struct pca_mig_info ev;
	int ret;

	if (!v->c || v->done)
		return;
	ret = pca_mig_recv(v->c, &ev, ms);
	if (ret > 0 && ev.mig_id != v->id)
		return;
	/* quiet or lost events: the state is always there */
	if (ret <= 0 && pca_migrate_get(v->c, v->id, &ev))
		return;
	relay_vmm_state(w, v, &ev);
}

/*
 * Until either migration has an event, or @ms: a VMM reacts to the
 * source's switchover at once, not after a wait on the destination's.
 */
static void relay_vmm_wait(struct relay_vmm *a, struct relay_vmm *b, int ms)
{
	struct pollfd pfd[2];
	int n = 0;

	if (a->c && !a->done)
		pfd[n++] = (struct pollfd){ .fd = pca_client_fd(a->c),
					    .events = POLLIN };
	if (b->c && !b->done)
		pfd[n++] = (struct pollfd){ .fd = pca_client_fd(b->c),
					    .events = POLLIN };
	if (n && poll(pfd, n, ms) < 0 && errno != EINTR)
		mig_sleep_ms(ms);
}

static void relay_result(const struct relay_vmm *v, struct mig_result *r)
{
	const struct pca_mig_progress *p = &v->last.progress;

	memset(r, 0, sizeof(*r));
	r->role = v->role;
	r->ok = v->last.phase == PCA_MIG_COMPLETED;
	r->pages = p->pages_total;
	r->total_ns = p->elapsed_ns;
	r->downtime_ns = p->downtime_ns;
	r->guest_downtime_ns = p->guest_downtime_ns;
	r->rounds = p->round;
	r->faults = p->faults;
	r->lat_p50_ns = p->fault_p50_ns;
	r->lat_p99_ns = p->fault_p99_ns;
	r->reconnects = p->reconnects;
	r->broken_ns = p->broken_ns;
	if (v->role == MIG_SOURCE) {
		r->bytes_sent = p->bytes_wire;
	} else {
		r->bytes_received = p->bytes_wire;
		r->pages_present = p->pages_sent;
	}
	/* a destination's last message ends with its downtime's phases */
	if (r->ok && v->role == MIG_DEST) {
		const char *ph = strstr(v->last.message, "; pause ");
		double t[5];

		if (ph && sscanf(ph + 2, "pause %lf final %lf wait %lf discard %lf resume %lf",
				 &t[0], &t[1], &t[2], &t[3], &t[4]) == 5) {
			r->sw_pause_ns = t[0] * 1e6;
			r->sw_final_pass_ns = t[1] * 1e6;
			r->sw_wait_ns = t[2] * 1e6;
			r->sw_discard_ns = t[3] * 1e6;
			r->sw_resume_ns = t[4] * 1e6;
			r->have_source_stats = 1;
		}
	}
	if (!r->ok)
		snprintf(r->error, sizeof(r->error), "%s: %s",
			 pca_mig_phase_name(v->last.phase),
			 v->last.message[0] ? v->last.message :
			 strerror(v->last.error));
}

static int run_relay(struct wl *w, int *lfdp, const char *src_addr)
{
	const struct wl_opts *o = w->o;
	struct relay_vmm src = { .role = MIG_SOURCE };
	struct relay_vmm dst = { .role = MIG_DEST };
	char sargs[512], dargs[256], id[2 * MIG_ID_LEN + 1], dead[32] = "";
	pid_t sd = -1, dd = -1;
	uint64_t worker_hwm = 0, hwm_at = 0;
	uint8_t raw[MIG_ID_LEN];
	uint64_t deadline;
	int ret;

	if (o->kill || o->garbage_first || o->netlink) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "--relay does not take --kill, --garbage or --netlink");
		return -EINVAL;
	}
	mig_random_id(raw);
	mig_format_id(raw, id);
	snprintf(sargs, sizeof(sargs),
		 "--rounds %u --downtime-ms %u --io-timeout-ms %d --recover-timeout-ms %d --migration-id %s%s%s",
		 o->rounds, o->downtime_ms, o->io_timeout_ms,
		 o->recover_timeout_ms, id, o->no_postcopy ?
		 " --no-postcopy" : "",
		 o->no_prepause ? " --no-prepause-discard" : "");
	if (o->dead_after_ms >= 0) {
		snprintf(sargs + strlen(sargs), sizeof(sargs) - strlen(sargs),
			 " --dead-after-ms %d", o->dead_after_ms);
		snprintf(dead, sizeof(dead), " --dead-after-ms %d",
			 o->dead_after_ms);
	}
	if (o->budget_ms)
		snprintf(sargs + strlen(sargs), sizeof(sargs) - strlen(sargs),
			 " --precopy-budget-ms %u", o->budget_ms);
	snprintf(dargs, sizeof(dargs),
		 "--channels %u --io-timeout-ms %d --recover-timeout-ms %d --migration-id %s%s",
		 o->channels, o->io_timeout_ms, o->recover_timeout_ms, id,
		 dead);

	/* the source agent binds the address itself */
	close(*lfdp);
	*lfdp = -1;

	/* a daemon per namespace: the relay, like regions, is per netns */
	ret = netns_enter(w, w->ns_src);
	if (!ret)
		ret = start_daemon(w, &sd);
	if (!ret && w->ns_dst >= 0) {
		ret = netns_enter(w, w->ns_dst);
		if (!ret)
			ret = start_daemon(w, &dd);
	}
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "starting %s daemon: %s", o->agent, mig_errstr(ret));
		goto out;
	}

	ret = netns_enter(w, w->ns_src);
	if (!ret)
		ret = relay_ask(w, &src, w->sid, src_addr, sargs);
	if (!ret)
		ret = netns_enter(w, w->ns_dst);
	if (!ret)
		ret = relay_ask(w, &dst, w->did, w->relay.running ?
				w->relay.addr : src_addr, dargs);
	if (ret)
		goto out;

	deadline = mig_now_ns() + wl_ms(600000) * 1000000ULL;
	while (!dst.done || !src.done) {
		uint64_t now = mig_now_ns();

		relay_vmm_wait(&src, &dst, src.done || dst.done ? 100 : 10);
		relay_vmm_poll(w, &src, 0);
		relay_vmm_poll(w, &dst, 0);
		/* the worker's high-water mark, before it exits */
		if (now - hwm_at > 100000000ULL) {
			worker_hwm = MIG_MAX(worker_hwm, children_hwm(dd));
			hwm_at = now;
		}
		/* the destination failed: the source must stop too */
		if (dst.done && !src.done &&
		    dst.last.phase != PCA_MIG_COMPLETED &&
		    !pca_mig_phase_final(src.last.phase)) {
			pca_migrate_cancel(src.c, src.id);
		}
		if (mig_now_ns() > deadline || cancelled_wl(o)) {
			wl_log(w, "vmm: giving up: cancelling both migrations");
			pca_migrate_cancel(src.c, src.id);
			pca_migrate_cancel(dst.c, dst.id);
			break;
		}
	}
	relay_result(&src, &w->r->src);
	relay_result(&dst, &w->r->dst);
	w->r->have_src = w->r->have_dst = 1;
	if (!w->r->dst.ok || !w->r->src.ok) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "destination %.200s; source %.200s",
			 w->r->dst.ok ? "completed" : w->r->dst.error,
			 w->r->src.ok ? "completed" : w->r->src.error);
		ret = -EIO;
	}
out:
	/* our sockets go first: a migration still running is cancelled */
	pca_client_close(src.c);
	pca_client_close(dst.c);
	netns_enter(w, w->ns_home);
	/*
	 * Daemon and worker; complete: every page is present.  The worker
	 * is the daemon forked: the program and its libraries are the same
	 * page cache in both, so of the daemon only its private memory
	 * (RssAnon) adds to the worker's peak; summing the two peaks
	 * (dest_peak_sum_bytes) counts those pages twice.
	 */
	if (!ret && dd > 0) {
		w->r->dest_peak_bytes = status_bytes(dd, "RssAnon:") +
					worker_hwm + w->pages * w->psz;
		w->r->dest_peak_sum_bytes = hwm_bytes(dd) + worker_hwm +
					    w->pages * w->psz;
	}
	stop_daemon(w, sd);
	stop_daemon(w, dd);
	return ret;
}

/* -------------------------------------------------------------------------
 * Snapshot and lazy restore instead of a live migration
 */

/*
 * One agent command, @argv (argv[1] names it), of @role on region @fd, to
 * its end; its JSON result goes to w->r.  -errno, or -EIO when it failed.
 */
static int run_agent_step(struct wl *w, char **argv, int fd,
			  enum mig_role role)
{
	struct mig_result *res = role == MIG_DEST ? &w->r->dst : &w->r->src;
	struct agent_proc a;
	struct agent_ctx x = { .w = w, .a = &a, .role = role };
	int ret, st;

	ret = spawn_agent(w, &a, argv, fd, -1);
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error), "starting %s: %s",
			 w->o->agent, mig_errstr(ret));
		return ret;
	}
	pthread_create(&x.th, NULL, agent_reader, &x);
	st = wait_agent(&a, 120000);
	agent_reap(&x);
	agent_result(w, &a, role);
	if (st) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "postcopy-agent %s exited with status %d: %s",
			 argv[1], st, res->error);
		return -EIO;
	}
	return 0;
}

static int run_snapshot(struct wl *w)
{
	const struct wl_opts *o = w->o;
	struct mig_config sc, dc;
	int ret;

	if (o->agent) {
		char sid[16], did[16];
		char *sv[] = { (char *)o->agent, "snapshot", "--region-fd", "3",
			       "--output", (char *)o->snapshot,
			       "--control-fd", "6", "--keep-paused",
			       "--json", NULL };
		char *dv[] = { (char *)o->agent, "restore", "--snapshot",
			       (char *)o->snapshot, "--region-id", did,
			       "--region-fd", "3", "--control-fd", "6",
			       "--json", NULL };

		snprintf(sid, sizeof(sid), "%u", w->sid);
		snprintf(did, sizeof(did), "%u", w->did);
		ret = run_agent_step(w, sv, w->sfd, MIG_SOURCE);
		if (!ret)
			ret = run_agent_step(w, dv, w->dfd, MIG_DEST);
		return ret;
	}

	mig_config_init(&sc);
	sc.region_fd = w->sfd;
	sc.region_id = w->sid;
	sc.cancel = o->cancel;
	sc.hooks.pause = hook_pause;
	sc.hooks.log = src_log;
	sc.hooks.arg = w;
	/* the VM moves to the restored region: the source stays paused */
	ret = mig_snapshot_write(&sc, o->snapshot, 1, &w->r->src);
	w->r->have_src = 1;
	if (ret) {
		snprintf(w->r->error, sizeof(w->r->error), "snapshot: %s",
			 w->r->src.error);
		return ret;
	}
	mig_config_init(&dc);
	dest_backend(w, &dc);
	dc.cancel = o->cancel;
	wl_tls_config(o, &dc);
	dc.hooks.resume = hook_resume;
	dc.hooks.log = dst_log;
	dc.hooks.arg = w;
	ret = netns_enter(w, w->ns_dst);
	if (!ret)
		ret = mig_restore_run(&dc, o->snapshot, &w->r->dst);
	__atomic_store_n(&w->dst_done, 1, __ATOMIC_RELEASE);
	w->r->have_dst = 1;
	if (ret)
		snprintf(w->r->error, sizeof(w->r->error), "restore: %s",
			 w->r->dst.error);
	return ret;
}

/* -------------------------------------------------------------------------
 * Setup, verification, entry
 */

static int make_region(struct wl *w, uint64_t flags, int *fd, uint32_t *id,
		       uint8_t **mem)
{
	int ret = pca_region_create(w->o->size, flags, id);

	if (ret < 0) {
		snprintf(w->r->error, sizeof(w->r->error),
			 "creating a %" PRIu64 "-byte region: %s%s",
			 w->o->size, mig_errstr(ret),
			 ret == -ENOENT ? " (is the module loaded?)" : "");
		return ret;
	}
	*fd = ret;
	*mem = mmap(NULL, w->o->size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd,
		    0);
	if (*mem == MAP_FAILED) {
		ret = -errno;
		*mem = NULL;
		snprintf(w->r->error, sizeof(w->r->error), "mmap: %s",
			 mig_errstr(ret));
		return ret;
	}
	return 0;
}

/* The destination as ordinary memory registered with userfaultfd. */
static int make_uffd_mem(struct wl *w)
{
	const struct wl_opts *o = w->o;
	char err[256];
	int ret;

	if (o->uffd == WL_UFFD_MEMFD) {
		w->memfd = memfd_create("pca-workload-dest", MFD_CLOEXEC);
		if (w->memfd < 0 || ftruncate(w->memfd, o->size)) {
			ret = -errno;
			snprintf(w->r->error, sizeof(w->r->error),
				 "creating a %" PRIu64 "-byte memfd: %s",
				 o->size, mig_errstr(ret));
			return ret;
		}
		w->dmem = mmap(NULL, o->size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, w->memfd, 0);
	} else {
		w->dmem = mmap(NULL, o->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
	}
	if (w->dmem == MAP_FAILED) {
		ret = -errno;
		w->dmem = NULL;
		snprintf(w->r->error, sizeof(w->r->error), "mmap: %s",
			 mig_errstr(ret));
		return ret;
	}
	ret = mig_uffd_register(w->dmem, o->size, &w->uffd, err, sizeof(err));
	if (ret)
		snprintf(w->r->error, sizeof(w->r->error), "%s", err);
	return ret;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void touch_stats(struct wl *w)
{
	uint64_t n = MIG_MIN(w->ntouch, w->pages);

	w->r->touch_count = n;
	if (!n)
		return;
	qsort(w->touch_us, n, sizeof(*w->touch_us), cmp_u32);
	w->r->touch_p50_ns = w->touch_us[(n - 1) / 2] * 1000ULL;
	w->r->touch_p99_ns = w->touch_us[(n - 1) * 99 / 100] * 1000ULL;
	w->r->touch_max_ns = w->touch_us[n - 1] * 1000ULL;
}

static uint64_t verify_source(struct wl *w)
{
	size_t words = w->psz / 8;
	uint64_t *want = malloc(w->psz), bad = 0, p;

	if (!want)
		return w->pages;
	for (p = 0; p < w->pages; p++)
		bad += !pattern_ok((const uint64_t *)(w->smem + p * w->psz),
				   words, p, w->gen[p], want);
	free(want);
	return bad;
}

static uint64_t verify(struct wl *w)
{
	size_t words = w->psz / 8;
	uint64_t *want = malloc(w->psz), bad = 0, p;

	if (!want)
		return w->pages;
	for (p = 0; p < w->pages; p++) {
		const uint8_t *d = w->dmem + p * w->psz;
		int ok = pattern_ok((const uint64_t *)d, words, p,
				    w->expect[p], want);

		/* untouched on the destination: the source's last bytes */
		if (ok && w->expect[p] == w->gen[p])
			ok = !memcmp(d, w->smem + p * w->psz, w->psz);
		if (!ok && bad++ < 5)
			wl_log(w, "verify: page %" PRIu64
			       " differs (holds generation %" PRIu64
			       ", expected %u)", p, *(const uint64_t *)d,
			       w->expect[p]);
	}
	free(want);
	return bad;
}

int wl_run(const struct wl_opts *o, struct wl_result *r)
{
	struct wl *w;
	char err[128], addr[64];
	uint64_t t0 = mig_now_ns(), p;
	unsigned int i;
	int ret, lfd = -1;
	size_t words;

	memset(r, 0, sizeof(*r));
	if (!o->writers || o->writers > WL_MAX_WRITERS || !o->size) {
		snprintf(r->error, sizeof(r->error),
			 "bad workload options: writers 1..%d, size > 0",
			 WL_MAX_WRITERS);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->o = o;
	w->r = r;
	w->sfd = w->dfd = -1;
	w->uffd = w->memfd = -1;
	w->ns_src = w->ns_dst = w->ns_home = -1;
	pthread_mutex_init(&w->log_lock, NULL);
	w->psz = sysconf(_SC_PAGESIZE);
	if (o->size % w->psz) {
		snprintf(r->error, sizeof(r->error),
			 "size must be a multiple of %u", w->psz);
		ret = -EINVAL;
		goto out;
	}
	w->pages = o->size / w->psz;
	r->pages = w->pages;
	words = w->psz / 8;
	w->gen = calloc(w->pages, sizeof(*w->gen));
	w->expect = calloc(w->pages, sizeof(*w->expect));
	w->touched = calloc(w->pages, 1);
	w->touch_us = calloc(w->pages, sizeof(*w->touch_us));
	if (!w->gen || !w->expect || !w->touched || !w->touch_us) {
		ret = -ENOMEM;
		goto out;
	}
	if (o->uffd && (o->agent || o->netlink)) {
		snprintf(r->error, sizeof(r->error),
			 "the userfaultfd destination runs in-process only: drop --agent and --netlink");
		ret = -EINVAL;
		goto out;
	}
	if (o->netem) {
		if (o->cut) {
			snprintf(r->error, sizeof(r->error),
				 "cuts and network namespaces do not mix");
			ret = -EINVAL;
			goto out;
		}
		ret = netns_setup(w);
		if (ret)
			goto out;
		if (o->tcp_probe_mib)
			r->tcp_mibs = tcp_probe(w, o->tcp_probe_mib,
						PROBE_TCP, NULL);
		if (o->tcp_probe_mib && o->tls_probe) {
			r->ktls_mibs = tcp_probe(w, o->tcp_probe_mib,
						 PROBE_KTLS, NULL);
			r->gnutls_mibs = tcp_probe(w, o->tcp_probe_mib,
						   PROBE_GNUTLS, NULL);
			/* again, with round trips: they cost CPU time too */
			tcp_probe(w, o->tcp_probe_mib, PROBE_TCP,
				  r->tcp_ping_ns);
			tcp_probe(w, o->tcp_probe_mib, PROBE_KTLS,
				  r->ktls_ping_ns);
		} else if (o->ktls_probe_mib) {
			r->ktls_mibs = tcp_probe(w, o->ktls_probe_mib,
						 PROBE_KTLS, NULL);
		}
	}
	/* regions belong to their creator's network namespace */
	ret = netns_enter(w, w->ns_src);
	if (!ret)
		ret = make_region(w, 0, &w->sfd, &w->sid, &w->smem);
	if (ret)
		goto out;
	ret = netns_enter(w, w->ns_dst);
	if (!ret && o->uffd)
		ret = make_uffd_mem(w);
	else if (!ret)
		ret = make_region(w, PCA_REGION_MISSING, &w->dfd, &w->did,
				  &w->dmem);
	if (ret)
		goto out;

	/* the guest's memory before the migration */
	for (p = 0; p < w->pages; p++) {
		if (mix64(p + 1) % 100 >= o->fill_pct)
			continue;
		pattern((uint64_t *)(w->smem + p * w->psz), words, p, 1);
		w->gen[p] = 1;
	}
	if (o->uffd)
		wl_log(w, "vmm: region %u (source) and %s memory with userfaultfd (destination), %"
		       PRIu64 " pages, %u%% filled; %u vCPUs writing %u pages/s",
		       w->sid, o->uffd == WL_UFFD_MEMFD ? "memfd" : "anonymous",
		       w->pages, o->fill_pct, o->writers, o->rate);
	else
		wl_log(w, "vmm: regions %u (source) and %u (destination), %"
		       PRIu64 " pages, %u%% filled; %u vCPUs writing %u pages/s",
		       w->sid, w->did, w->pages, o->fill_pct, o->writers,
		       o->rate);
	if (o->rate) {
		for (i = 0; i < o->writers; i++) {
			struct vcpu *c = &w->src_cpu[i];

			c->wl = w;
			c->idx = i;
			c->rng = 0x2545f4914f6cdd1dULL * (i + 1);
			if (!pthread_create(&c->th, NULL, src_vcpu, c))
				c->running = 1;
		}
	}

	ret = netns_enter(w, w->ns_src);
	if (!ret)
		ret = mig_listen(o->netem ? NS_ADDR_SRC ":0" : "127.0.0.1:0",
				 &lfd, addr, sizeof(addr), err, sizeof(err));
	if (ret) {
		snprintf(r->error, sizeof(r->error), "%s", err);
		goto out;
	}
	if (o->kill && (!o->agent || !o->cut)) {
		snprintf(r->error, sizeof(r->error),
			 "killing an agent needs --agent and a --cut phase");
		ret = -EINVAL;
		goto out;
	}
	if (o->cut) {
		ret = relay_start(&w->relay, addr, o->kill != WL_KILL_NONE,
				  o->intruder_creds);
		w->relay.stall_ms = o->cut_stall_ms;
		if (ret) {
			snprintf(r->error, sizeof(r->error), "relay: %s",
				 mig_errstr(ret));
			goto out;
		}
	}
	if (o->snapshot)
		ret = run_snapshot(w);
	else if (o->agent && o->relay)
		ret = run_relay(w, &lfd, addr);
	else if (o->agent)
		ret = run_agents(w, &lfd);
	else
		ret = run_inprocess(w, addr, lfd);

	__atomic_store_n(&w->dst_done, 1, __ATOMIC_RELEASE);
	stop_vcpus(w, w->dst_cpu, &w->dst_stop);
	stop_vcpus(w, w->src_cpu, &w->src_stop);
	relay_stop(&w->relay);
	if (w->relay.intruder_running) {
		/* joined by relay_stop() */
		w->r->intruder_tried = 1;
		w->r->intruder_ret = w->relay.intruder_ret;
		snprintf(w->r->intruder_error, sizeof(w->r->intruder_error),
			 "%s", w->relay.intruder_err);
	}
	touch_stats(w);
	/*
	 * Unregister: a page the engine never placed now reads as zero
	 * (and fails the check) instead of blocking the check forever; a
	 * vCPU left waiting for one is woken the same way.
	 */
	if (w->uffd >= 0) {
		close(w->uffd);
		w->uffd = -1;
	}
	/* whatever happened, the source must hold what it last wrote */
	r->source_bad = verify_source(w);
	if (r->source_bad)
		wl_log(w, "verify: %" PRIu64 " source pages are not what was last written",
		       r->source_bad);
	r->src_writes = w->src_writes;
	r->dest_writes = w->dest_writes;
	r->dest_checked = w->dest_checked;
	r->dest_bad = w->dest_bad;
	if (ret)
		goto out;
	if (!w->dst_started)
		memcpy(w->expect, w->gen, w->pages * sizeof(*w->gen));
	r->mismatches = verify(w);
	if (r->mismatches || r->dest_bad) {
		snprintf(r->error, sizeof(r->error),
			 "%" PRIu64 " pages differ at the end, %" PRIu64
			 " differed when first read on the destination",
			 r->mismatches, r->dest_bad);
		ret = -EIO;
		goto out;
	}
	r->ok = 1;
out:
	r->wall_s = (mig_now_ns() - t0) / 1e9;
	if (lfd >= 0)
		close(lfd);
	if (w->smem)
		munmap(w->smem, o->size);
	if (w->dmem)
		munmap(w->dmem, o->size);
	if (w->sfd >= 0)
		close(w->sfd);
	if (w->dfd >= 0)
		close(w->dfd);
	if (w->uffd >= 0)
		close(w->uffd);
	if (w->memfd >= 0)
		close(w->memfd);
	if (o->netem)
		netns_teardown(w);
	free(w->gen);
	free(w->expect);
	free(w->touched);
	free(w->touch_us);
	pthread_mutex_destroy(&w->log_lock);
	free(w);
	return ret;
}

double wl_goodput_mibs(const struct wl_result *r)
{
	const struct mig_result *d = &r->dst;

	return d->total_ns ? d->bytes_received / 1048576.0 /
			     (d->total_ns / 1e9) : 0;
}

void wl_print_line(FILE *f, const struct wl_result *r)
{
	const struct mig_result *d = &r->dst;

	if (!r->ok) {
		fprintf(f, "MIGRATION FAILED pages=%" PRIu64 " mismatches=%"
			PRIu64 " error=\"%s\"\n", r->pages, r->mismatches,
			r->error);
		return;
	}
	fprintf(f, "MIGRATION OK pages=%" PRIu64 " mismatches=%" PRIu64
		" total_s=%.2f downtime_ms=%.1f faults=%" PRIu64
		" p50_us=%" PRIu64 " p99_us=%" PRIu64, r->pages,
		r->mismatches, d->total_ns / 1e9, d->downtime_ns / 1e6,
		d->faults, d->lat_p50_ns / 1000, d->lat_p99_ns / 1000);
	if (r->dest_peak_bytes)
		fprintf(f, " region_mib=%.1f dest_peak_mib=%.1f dest_peak_sum_mib=%.1f",
			r->pages * (double)sysconf(_SC_PAGESIZE) / (1 << 20),
			r->dest_peak_bytes / (double)(1 << 20),
			r->dest_peak_sum_bytes / (double)(1 << 20));
	/* the downtime's phases, when the destination reported them */
	if (d->downtime_ns && (d->sw_discard_ns || d->sw_final_pass_ns))
		fprintf(f, " final_pass_ms=%.1f discard_ms=%.1f resume_ms=%.1f"
			" pause_ms=%.1f wait_ms=%.1f",
			d->sw_final_pass_ns / 1e6, d->sw_discard_ns / 1e6,
			d->sw_resume_ns / 1e6, d->sw_pause_ns / 1e6,
			d->sw_wait_ns / 1e6);
	if (r->tcp_mibs > 0) {
		double g = wl_goodput_mibs(r);

		fprintf(f, " goodput_mib_s=%.1f plain_tcp_mib_s=%.1f goodput_share=%.2f",
			g, r->tcp_mibs, g / r->tcp_mibs);
	}
	/* the same goodput against kernel TLS over the same link */
	if (r->ktls_mibs > 0)
		fprintf(f, " ktls_ceiling_mib_s=%.1f goodput_share_ktls=%.2f",
			r->ktls_mibs, wl_goodput_mibs(r) / r->ktls_mibs);
	fputc('\n', f);
}
