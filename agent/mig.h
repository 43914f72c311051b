/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mig.h: what source.c and dest.c share (migrate.c): time, logging,
 * sockets with timeouts, records, handshakes and atomic bitmaps.
 * Internal to the engine.
 */
#ifndef PCA_MIG_H
#define PCA_MIG_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "migrate.h"
#include "wire.h"

/* How often blocked I/O looks at its abort flag. */
#define MIG_TICK_MS		100
/* Heartbeat interval, shorter when the silence limit is short. */
#define MIG_HEARTBEAT_MS	1000


#define MIG_MIN(a, b)	((a) < (b) ? (a) : (b))
#define MIG_MAX(a, b)	((a) > (b) ? (a) : (b))

uint64_t mig_now_ns(void);
void mig_sleep_ms(int ms);
/*
 * Start a thread that a flag says is running, for the stop path to know
 * whether to join it: *@running set once it started.  0 or -errno.
 */
int mig_thread_start(pthread_t *th, void *(*fn)(void *), void *arg,
		     int *running);

/* When the last progress report went out, and the bytes moved by then. */
struct mig_progress_clock {
	uint64_t t_last, bytes_last;
};

/*
 * Whether a progress report is due at @now: there is a hook for it, and
 * @force, or cfg->progress_ms passed since the last one.
 */
int mig_progress_due(const struct mig_config *cfg,
		     const struct mig_progress_clock *clk, uint64_t now,
		     int force);
/*
 * Deliver @p, whose bytes the role filled: the rate since the last report
 * and the time since @t_start (0: not started) are added, and @clk notes
 * this report.
 */
void mig_progress_deliver(const struct mig_config *cfg,
			  struct mig_progress_clock *clk,
			  struct mig_progress *p, uint64_t now,
			  uint64_t t_start);
/*
 * pthread_cond_wait() that gives up after @ns (less than a second), so
 * that the waiter looks again at flags nobody signals @cond for.
 */
void mig_cond_wait_ns(pthread_cond_t *cond, pthread_mutex_t *lock,
		      uint64_t ns);
/* The same for one MIG_TICK_MS, the pace of every abort check. */
void mig_cond_wait_tick(pthread_cond_t *cond, pthread_mutex_t *lock);
/*
 * How often to send a heartbeat when a peer that is silent for
 * @io_timeout_ms is taken for dead: a few of them fit in the limit.
 */
int mig_heartbeat_ms(int io_timeout_ms);

void mig_logf(const struct mig_hooks *h, enum mig_log_level level,
	      const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write "fmt..." into res->error (the first error wins unless @force). */
void mig_set_error(struct mig_result *res, int force, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The start of a run: @res cleared and given @role, and the role's state
 * of @size bytes, zeroed; NULL, with the error in @res, when out of memory.
 */
void *mig_run_alloc(struct mig_result *res, enum mig_role role, size_t size);
/*
 * A run's first fatal error: under @lock, unless *@fatal is set already,
 * format it into @msg and set *@fatal; wake @cond's waiters either way.
 */
void mig_set_fatal(pthread_mutex_t *lock, pthread_cond_t *cond, int *fatal,
		   char *msg, size_t msg_size, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

const char *mig_errstr(int err);	/* strerror of a -errno */
int mig_cancelled(const struct mig_config *cfg);

/* Sockets. */
int mig_parse_addr(const char *s, struct sockaddr_storage *ss,
		   socklen_t *len);
void mig_format_sockaddr(const struct sockaddr *sa, char *buf, size_t len);
/* Connect with a deadline; -errno, with @err filled. */
int mig_connect(const char *addr, int timeout_ms, int *fd, char *err,
		size_t err_len);
/*
 * Keepalive probes that give up after about @io_timeout_ms, the same TCP
 * user timeout (unacknowledged data, or a zero window, for that long
 * breaks the connection), buffers, TCP_NODELAY (@nodelay).
 */
void mig_sock_tune(int fd, int io_timeout_ms, int nodelay);
/*
 * setsockopt() and getsockopt() on the TCP connection under @fd: @fd
 * itself, or with user-space TLS (tls.c) the TCP socket its pump serves,
 * which the engine never holds.  0 or -errno.
 */
int mig_tcp_setsockopt(int fd, int level, int name, const void *val,
		       socklen_t len);
int mig_tcp_getsockopt(int fd, int level, int name, void *val,
		       socklen_t *len);
/*
 * A source's data channel: congestion control @cc (NULL or "": the
 * system's; one mig_cc_probe() accepted) and at most @lowat unsent bytes
 * (0: no limit).
 */
void mig_sock_tune_push(int fd, const char *cc, unsigned int lowat);
/*
 * What holds a sending connection back, from TCP_INFO: app_limited, its
 * latest delivery-rate sample was taken while the sender had too little
 * queued to fill the congestion window (the sender's CPU, not the link);
 * rwnd_limited_us, how long in all the receiver's window stopped it (the
 * receiver's CPU).  0 or -errno.
 */
struct mig_push_limits {
	int app_limited;
	uint64_t rwnd_limited_us;
};

int mig_sock_push_limits(int fd, struct mig_push_limits *l);
/* Accept one connection within @timeout_ms (<0: forever). */
int mig_accept(int lfd, int timeout_ms, const int *abort, int *fd,
	       char *peer, size_t peer_len);

/*
 * Blocking I/O with a stall timeout: -ETIMEDOUT when no byte moves for
 * @timeout_ms (<0: never), -ECANCELED once *@abort is set, -ECONNRESET
 * when the peer closed, other -errno as the socket says.  @abort may be
 * NULL.
 */
int mig_send_all(int fd, const void *buf, size_t len, int timeout_ms,
		 const int *abort);
int mig_sendv_all(int fd, struct iovec *iov, int iovcnt, int timeout_ms,
		  const int *abort);
int mig_recv_all(int fd, void *buf, size_t len, int timeout_ms,
		 const int *abort);
/* Whether a read would find data right now (1) or block (0). */
size_t mig_readable(int fd);
/*
 * Wait until @fd is readable: 0, -ETIMEDOUT after @timeout_ms (<0:
 * never), -ECANCELED once *@abort is set.
 */
int mig_wait_readable(int fd, int timeout_ms, const int *abort);

/* A record header in host order. */
struct mig_rec {
	uint32_t type;
	uint32_t flags;
	uint64_t offset;
	uint32_t len;
	uint32_t arg;
};

void mig_hdr_encode(struct mig_hdr *h, uint32_t type, uint32_t flags,
		    uint64_t offset, uint32_t len, uint32_t arg);
void mig_hdr_decode(const struct mig_hdr *h, struct mig_rec *r);
/* Header + payload in one write. */
int mig_send_rec(int fd, uint32_t type, uint32_t flags, uint64_t offset,
		 uint32_t arg, const void *payload, uint32_t len,
		 int timeout_ms, const int *abort);
/*
 * The next header: waits up to @idle_ms for its first byte (<0: forever,
 * still abortable), then @timeout_ms for the rest.
 */
int mig_recv_hdr(int fd, struct mig_rec *r, int idle_ms, int timeout_ms,
		 const int *abort);
/* Skip @len bytes of payload. */
int mig_skip(int fd, uint64_t len, int timeout_ms, const int *abort);
const char *mig_msg_name(uint32_t type);

/* Handshakes. */
void mig_hello_encode(struct mig_hello *h, enum mig_chan chan,
		      const uint8_t *id, uint32_t index, uint32_t nchannels,
		      uint64_t flags, uint64_t region_size,
		      uint32_t page_size);
void mig_welcome_encode(struct mig_welcome *w, enum mig_status status,
			const uint8_t *id, uint64_t region_size,
			uint32_t page_size, uint32_t nchannels,
			uint64_t flags, const char *reason);
const char *mig_status_name(unsigned int status);
/* 32-bit magic in host order, for error texts. */
uint32_t mig_magic_of(const void *p);
void mig_hexdump(const void *p, size_t n, char *buf, size_t len);

/* Atomic bitmaps of uint64_t words. */
static inline int mig_test_bit(const uint64_t *bm, uint64_t n)
{
	return (__atomic_load_n(&bm[n / 64], __ATOMIC_RELAXED) >> (n % 64)) & 1;
}

static inline void mig_set_bit(uint64_t *bm, uint64_t n)
{
	__atomic_fetch_or(&bm[n / 64], 1ULL << (n % 64), __ATOMIC_RELAXED);
}

static inline void mig_clear_bit(uint64_t *bm, uint64_t n)
{
	__atomic_fetch_and(&bm[n / 64], ~(1ULL << (n % 64)),
			   __ATOMIC_RELAXED);
}

static inline int mig_test_and_set_bit(uint64_t *bm, uint64_t n)
{
	uint64_t m = 1ULL << (n % 64);

	return !!(__atomic_fetch_or(&bm[n / 64], m, __ATOMIC_RELAXED) & m);
}

uint64_t mig_bitmap_weight(const uint64_t *bm, uint64_t words);
/* Bitmap words <-> little-endian wire words, in place. */
void mig_bitmap_to_le(uint64_t *bm, uint64_t words);
void mig_bitmap_from_le(uint64_t *bm, uint64_t words);

/* Is the page all zero? */
int mig_page_is_zero(const void *p, size_t len);

/* Latency samples, for percentiles. */
struct mig_lat {
	uint32_t *us;		/* microseconds, capped at UINT32_MAX */
	uint64_t cap;
	uint64_t n;		/* recorded (atomic) */
	uint64_t max_ns;	/* atomic */
};

int mig_lat_init(struct mig_lat *l, uint64_t cap);
void mig_lat_free(struct mig_lat *l);
void mig_lat_add(struct mig_lat *l, uint64_t ns);
/* Fill lat_* of @res; sorts the samples. */
void mig_lat_finish(struct mig_lat *l, struct mig_result *res);

/* A random migration id. */
void mig_random_id(uint8_t id[MIG_ID_LEN]);

/* Wire statistics. */
void mig_stats_encode(struct mig_wire_stats *w, const struct mig_result *r);
void mig_stats_decode(const struct mig_wire_stats *w, struct mig_result *r);

#endif /* PCA_MIG_H */
