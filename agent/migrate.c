// SPDX-License-Identifier: GPL-2.0
/*
 * migrate.c: the migration protocol's common part: addresses, sockets
 * with timeouts, records, handshakes, bitmaps, latency samples.  The
 * roles are in source.c and dest.c; the format is in wire.h.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mig.h"

const char *mig_phase_name(enum mig_phase phase)
{
	switch (phase) {
	case MIG_PHASE_SETUP:		return "setup";
	case MIG_PHASE_CONNECTING:	return "connecting";
	case MIG_PHASE_PRECOPY:		return "precopy";
	case MIG_PHASE_SWITCHOVER:	return "switchover";
	case MIG_PHASE_POSTCOPY:	return "postcopy";
	case MIG_PHASE_RECOVERING:	return "recovering";
	case MIG_PHASE_COMPLETE:	return "complete";
	case MIG_PHASE_FAILED:		return "failed";
	}
	return "unknown";
}

void mig_config_init(struct mig_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen_fd = -1;
	cfg->region_fd = -1;
	cfg->uffd = -1;
	cfg->uffd_memfd = -1;
	cfg->channels = MIG_DEFAULT_CHANNELS;
	cfg->io_timeout_ms = MIG_DEFAULT_IO_TIMEOUT_MS;
	cfg->dead_after_ms = MIG_DEFAULT_DEAD_AFTER_MS;
	cfg->push_cc = MIG_DEFAULT_PUSH_CC;
	cfg->push_lowat = MIG_DEFAULT_PUSH_LOWAT;
	cfg->postcopy_cc = MIG_DEFAULT_POSTCOPY_CC;
	cfg->postcopy_channels = MIG_DEFAULT_POSTCOPY_CHANNELS;
	cfg->connect_timeout_ms = MIG_DEFAULT_CONNECT_TIMEOUT_MS;
	cfg->recover_timeout_ms = MIG_DEFAULT_RECOVER_TIMEOUT_MS;
	cfg->max_rounds = MIG_DEFAULT_MAX_ROUNDS;
	cfg->downtime_ms = MIG_DEFAULT_DOWNTIME_MS;
	cfg->progress_ms = MIG_DEFAULT_PROGRESS_MS;
	cfg->recv_in_place = 1;
}

/* -------------------------------------------------------------------------
 * Time, logging, errors
 */

uint64_t mig_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void mig_cond_wait_ns(pthread_cond_t *cond, pthread_mutex_t *lock,
		      uint64_t ns)
{
	struct timespec ts;

	/* condition variables time out by CLOCK_REALTIME */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ns;
	while (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(cond, lock, &ts);
}

void mig_cond_wait_tick(pthread_cond_t *cond, pthread_mutex_t *lock)
{
	mig_cond_wait_ns(cond, lock, (uint64_t)MIG_TICK_MS * 1000000ULL);
}

void *mig_run_alloc(struct mig_result *res, enum mig_role role, size_t size)
{
	void *state;

	memset(res, 0, sizeof(*res));
	res->role = role;
	state = calloc(1, size);
	if (!state)
		mig_set_error(res, 0, "out of memory");
	return state;
}

void mig_set_fatal(pthread_mutex_t *lock, pthread_cond_t *cond, int *fatal,
		   char *msg, size_t msg_size, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(lock);
	if (!*fatal) {
		va_start(ap, fmt);
		vsnprintf(msg, msg_size, fmt, ap);
		va_end(ap);
		*fatal = 1;
	}
	pthread_cond_broadcast(cond);
	pthread_mutex_unlock(lock);
}

int mig_progress_due(const struct mig_config *cfg,
		     const struct mig_progress_clock *clk, uint64_t now,
		     int force)
{
	if (!cfg->hooks.progress)
		return 0;
	return force || now - clk->t_last >=
			(uint64_t)cfg->progress_ms * 1000000ULL;
}

void mig_progress_deliver(const struct mig_config *cfg,
			  struct mig_progress_clock *clk,
			  struct mig_progress *p, uint64_t now,
			  uint64_t t_start)
{
	if (clk->t_last && now > clk->t_last)
		p->rate_bps = (double)(p->bytes - clk->bytes_last) * 1e9 /
			      (now - clk->t_last);
	p->elapsed_ns = t_start ? now - t_start : 0;
	clk->t_last = now;
	clk->bytes_last = p->bytes;
	cfg->hooks.progress(p, cfg->hooks.arg);
}

int mig_thread_start(pthread_t *th, void *(*fn)(void *), void *arg,
		     int *running)
{
	int ret = pthread_create(th, NULL, fn, arg);

	if (ret)
		return -ret;
	*running = 1;
	return 0;
}

void mig_sleep_ms(int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int mig_heartbeat_ms(int io_timeout_ms)
{
	if (io_timeout_ms <= 0)
		return MIG_HEARTBEAT_MS;
	return MIG_MAX(MIG_MIN(io_timeout_ms / 4, MIG_HEARTBEAT_MS),
		       MIG_TICK_MS);
}

void mig_logf(const struct mig_hooks *h, enum mig_log_level level,
	      const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!h || !h->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	h->log(level, buf, h->arg);
}

void mig_set_error(struct mig_result *res, int force, const char *fmt, ...)
{
	va_list ap;

	if (res->error[0] && !force)
		return;
	va_start(ap, fmt);
	vsnprintf(res->error, sizeof(res->error), fmt, ap);
	va_end(ap);
}

const char *mig_errstr(int err)
{
	const char *s = strerrordesc_np(err < 0 ? -err : err);

	return s ? s : "Unknown error";
}

int mig_cancelled(const struct mig_config *cfg)
{
	return cfg->cancel && *cfg->cancel;
}

/* -------------------------------------------------------------------------
 * Addresses and sockets
 */

int mig_parse_addr(const char *s, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	char host[128];
	const char *colon, *h = s;
	size_t hlen;
	char *end;
	long port;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = rb - h;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = colon - s;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -EINVAL;

	memset(ss, 0, sizeof(*ss));
	if (!strcmp(host, "localhost") || !host[0]) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = host[0] ? htonl(INADDR_LOOPBACK) :
						 htonl(INADDR_ANY);
		*len = sizeof(*sin);
		return 0;
	}
	if (strchr(host, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return -EINVAL;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return -EINVAL;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
}

void mig_format_sockaddr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

int mig_listen(const char *addr, int *fdp, char *bound, size_t bound_len,
	       char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, ret;

	*fdp = -1;
	ret = mig_parse_addr(addr, &ss, &len);
	if (ret) {
		snprintf(err, err_len,
			 "bad listen address '%s': use ADDR:PORT, e.g. 0.0.0.0:4444 or [::1]:4444",
			 addr ? addr : "");
		return ret;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "socket: %s", mig_errstr(ret));
		return ret;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		ret = -errno;
		snprintf(err, err_len, "cannot listen on %s: %s%s", addr,
			 mig_errstr(ret),
			 ret == -EADDRINUSE ?
			 " (another process uses the port: pick another)" : "");
		close(fd);
		return ret;
	}
	if (bound) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len))
			snprintf(bound, bound_len, "%s", addr);
		else
			mig_format_sockaddr((struct sockaddr *)&ss, bound,
					    bound_len);
	}
	*fdp = fd;
	return 0;
}

void mig_sock_tune(int fd, int io_timeout_ms, int nodelay)
{
	unsigned int user_timeout = io_timeout_ms > 0 ? io_timeout_ms : 0;
	int one = 1, buf = 4 << 20;
	/*
	 * Probes from half the limit on, four of them in the other half: a
	 * dead host is found about when a silent peer would be, not after
	 * a fixed few seconds that a busy network may exceed.
	 */
	int idle = MIG_MAX(io_timeout_ms / 2000, 1);
	int intvl = MIG_MAX(io_timeout_ms / 8000, 1), cnt = 4;

	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* unacknowledged data older than this breaks the connection */
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
		   sizeof(user_timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (nodelay)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int mig_cc_probe(const char *cc, char *used, size_t used_len)
{
	socklen_t len = used_len ? used_len - 1 : 0;
	int fd, ret = 0;

	if (used_len)
		memset(used, 0, used_len);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (cc && *cc &&
	    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)))
		ret = -errno;
	if (used_len &&
	    getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, used, &len))
		used[0] = 0;
	close(fd);
	return ret;
}

void mig_sock_tune_push(int fd, const char *cc, unsigned int lowat)
{
	if (cc && *cc)
		mig_tcp_setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc,
				   strlen(cc));
	if (lowat)
		mig_tcp_setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
				   sizeof(lowat));
}

static int aborted(const int *abort)
{
	return abort && __atomic_load_n(abort, __ATOMIC_ACQUIRE);
}

/*
 * Wait for @events on @fd up to @timeout_ms (<0: forever), in ticks so
 * that *@abort is seen.  1 ready, -ETIMEDOUT, -ECANCELED or -errno.
 */
static int wait_fd(int fd, short events, int timeout_ms, const int *abort)
{
	uint64_t deadline = timeout_ms < 0 ? 0 :
			    mig_now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int tick = MIG_TICK_MS, ret;

		if (aborted(abort))
			return -ECANCELED;
		if (timeout_ms >= 0) {
			uint64_t now = mig_now_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			if ((deadline - now) / 1000000ULL < (uint64_t)tick)
				tick = (deadline - now) / 1000000ULL + 1;
		}
		ret = poll(&pfd, 1, tick);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret > 0)
			return 1;
	}
}

int mig_connect(const char *addr, int timeout_ms, int *fdp, char *err,
		size_t err_len)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, ret, soerr = 0;
	socklen_t slen = sizeof(soerr);

	*fdp = -1;
	ret = mig_parse_addr(addr, &ss, &len);
	if (ret) {
		snprintf(err, err_len,
			 "bad address '%s': use ADDR:PORT, e.g. 10.0.0.1:4444 or [fd00::1]:4444",
			 addr ? addr : "");
		return ret;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "socket: %s", mig_errstr(ret));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		ret = -errno;
		goto fail;
	}
	ret = wait_fd(fd, POLLOUT, timeout_ms, NULL);
	if (ret < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen)) {
		ret = -errno;
		goto fail;
	}
	if (soerr) {
		ret = -soerr;
		goto fail;
	}
	/* back to blocking; every wait goes through poll() anyway */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*fdp = fd;
	return 0;
fail:
	snprintf(err, err_len, "cannot connect to %s: %s", addr,
		 mig_errstr(ret));
	close(fd);
	return ret;
}

int mig_accept(int lfd, int timeout_ms, const int *abort, int *fdp,
	       char *peer, size_t peer_len)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd, ret;

	*fdp = -1;
	ret = wait_fd(lfd, POLLIN, timeout_ms, abort);
	if (ret < 0)
		return ret;
	fd = accept4(lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EAGAIN || errno == EINTR ||
		       errno == ECONNABORTED ? -EAGAIN : -errno;
	if (peer)
		mig_format_sockaddr((struct sockaddr *)&ss, peer, peer_len);
	*fdp = fd;
	return 0;
}

/* -------------------------------------------------------------------------
 * I/O with timeouts
 */

/* What one sendmsg() takes at most: a TLS record (16 KiB), 8 pieces. */
#define MIG_SEND_MAX	(16 << 10)
#define MIG_SEND_IOV	8

int mig_sendv_all(int fd, struct iovec *iov, int iovcnt, int timeout_ms,
		  const int *abort)
{
	while (iovcnt > 0) {
		struct iovec v[MIG_SEND_IOV];
		struct msghdr mh = { .msg_iov = v };
		size_t room = MIG_SEND_MAX;
		ssize_t n;

		if (aborted(abort))
			return -ECANCELED;
		/*
		 * At most one TLS record's worth per call: kernel TLS
		 * encrypts inside sendmsg(), where nothing else gets the CPU
		 * on a kernel without full preemption (a fault's request
		 * and answer included); between calls it does.
		 */
		while ((int)mh.msg_iovlen < MIG_MIN(iovcnt, MIG_SEND_IOV) && room) {
			const struct iovec *i = &iov[mh.msg_iovlen];

			v[mh.msg_iovlen].iov_base = i->iov_base;
			v[mh.msg_iovlen].iov_len = MIG_MIN(i->iov_len, room);
			room -= v[mh.msg_iovlen++].iov_len;
		}
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return errno == EPIPE ? -ECONNRESET : -errno;
			ret = wait_fd(fd, POLLOUT, timeout_ms, abort);
			if (ret < 0)
				return ret;
			continue;
		}
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

int mig_send_all(int fd, const void *buf, size_t len, int timeout_ms,
		 const int *abort)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return mig_sendv_all(fd, &iov, 1, timeout_ms, abort);
}

/* Whether a blocking read of @fd returns within a tick (kernel TLS). */
static int has_rcvtimeo(int fd)
{
	struct timeval tv = { 0 };
	socklen_t len = sizeof(tv);

	return !getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) &&
	       (tv.tv_sec || tv.tv_usec);
}

int mig_recv_all(int fd, void *buf, size_t len, int timeout_ms,
		 const int *abort)
{
	uint64_t idle_end = 0;
	int block = 0, can_block = -1;
	char *p = buf;

	while (len) {
		ssize_t n;
		int ret;

		if (aborted(abort))
			return -ECANCELED;
		/*
		 * Kernel TLS: poll() says readable as soon as part of a
		 * record is in, but recv() has nothing before the whole
		 * record is.  Once poll() said so and recv() did not agree,
		 * recv() itself waits, a tick at most (SO_RCVTIMEO, which
		 * tls.c sets on kernel TLS sockets), rather than poll() and
		 * recv() spinning.  Other sockets never block here.
		 */
		n = recv(fd, p, len, block ? 0 : MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= n;
			block = 0;
			idle_end = 0;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (block && timeout_ms >= 0) {
			uint64_t now = mig_now_ns();

			if (!idle_end)
				idle_end = now + (uint64_t)timeout_ms * 1000000ULL;
			else if (now >= idle_end)
				return -ETIMEDOUT;
		}
		ret = wait_fd(fd, POLLIN, timeout_ms, abort);
		if (ret < 0)
			return ret;
		if (can_block < 0)
			can_block = has_rcvtimeo(fd);
		block = can_block;
	}
	return 0;
}

int mig_wait_readable(int fd, int timeout_ms, const int *abort)
{
	int ret = wait_fd(fd, POLLIN, timeout_ms, abort);

	return ret < 0 ? ret : 0;
}

size_t mig_readable(int fd)
{
	char c;

	/*
	 * A peek rather than FIONREAD: on kernel TLS that counts the bytes
	 * of records not complete yet and misses a record already decrypted.
	 */
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

void mig_hdr_encode(struct mig_hdr *h, uint32_t type, uint32_t flags,
		    uint64_t offset, uint32_t len, uint32_t arg)
{
	h->type = mig_cpu_to_le32(type);
	h->flags = mig_cpu_to_le32(flags);
	h->offset = mig_cpu_to_le64(offset);
	h->len = mig_cpu_to_le32(len);
	h->arg = mig_cpu_to_le32(arg);
}

void mig_hdr_decode(const struct mig_hdr *h, struct mig_rec *r)
{
	r->type = mig_le32_to_cpu(h->type);
	r->flags = mig_le32_to_cpu(h->flags);
	r->offset = mig_le64_to_cpu(h->offset);
	r->len = mig_le32_to_cpu(h->len);
	r->arg = mig_le32_to_cpu(h->arg);
}

int mig_send_rec(int fd, uint32_t type, uint32_t flags, uint64_t offset,
		 uint32_t arg, const void *payload, uint32_t len,
		 int timeout_ms, const int *abort)
{
	struct mig_hdr h;
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)payload, .iov_len = len },
	};

	mig_hdr_encode(&h, type, flags, offset, len, arg);
	return mig_sendv_all(fd, iov, len ? 2 : 1, timeout_ms, abort);
}

int mig_recv_hdr(int fd, struct mig_rec *r, int idle_ms, int timeout_ms,
		 const int *abort)
{
	struct mig_hdr h;
	int ret;

	ret = wait_fd(fd, POLLIN, idle_ms, abort);
	if (ret < 0)
		return ret;
	ret = mig_recv_all(fd, &h, sizeof(h), timeout_ms, abort);
	if (ret)
		return ret;
	mig_hdr_decode(&h, r);
	return 0;
}

int mig_skip(int fd, uint64_t len, int timeout_ms, const int *abort)
{
	char buf[4096];

	while (len) {
		size_t n = MIG_MIN(len, sizeof(buf));
		int ret = mig_recv_all(fd, buf, n, timeout_ms, abort);

		if (ret)
			return ret;
		len -= n;
	}
	return 0;
}

const char *mig_msg_name(uint32_t type)
{
	switch (type) {
	case MIG_MSG_PAGE:		return "page";
	case MIG_MSG_ROUND:		return "round";
	case MIG_MSG_END_PRECOPY:	return "end-precopy";
	case MIG_MSG_SWITCHOVER:	return "switchover";
	case MIG_MSG_STATS:		return "stats";
	case MIG_MSG_PREPAUSE:		return "prepause";
	case MIG_MSG_REQUEST:		return "request";
	case MIG_MSG_RECEIVED:		return "received";
	case MIG_MSG_RESUMED:		return "resumed";
	case MIG_MSG_COMPLETE:		return "complete";
	case MIG_MSG_SWITCHED:		return "switched";
	case MIG_MSG_PREPAUSE_DONE:	return "prepause-done";
	case MIG_MSG_HEARTBEAT:		return "heartbeat";
	case MIG_MSG_ERROR:		return "error";
	}
	return "unknown";
}

/* -------------------------------------------------------------------------
 * Handshakes
 */

void mig_hello_encode(struct mig_hello *h, enum mig_chan chan,
		      const uint8_t *id, uint32_t index, uint32_t nchannels,
		      uint64_t flags, uint64_t region_size,
		      uint32_t page_size)
{
	memset(h, 0, sizeof(*h));
	h->magic = mig_cpu_to_le32(MIG_MAGIC);
	h->version = mig_cpu_to_le16(MIG_VERSION);
	h->chan = mig_cpu_to_le16(chan);
	if (id)
		memcpy(h->id, id, MIG_ID_LEN);
	h->index = mig_cpu_to_le32(index);
	h->nchannels = mig_cpu_to_le32(nchannels);
	h->flags = mig_cpu_to_le64(flags);
	h->region_size = mig_cpu_to_le64(region_size);
	h->page_size = mig_cpu_to_le32(page_size);
}

void mig_welcome_encode(struct mig_welcome *w, enum mig_status status,
			const uint8_t *id, uint64_t region_size,
			uint32_t page_size, uint32_t nchannels,
			uint64_t flags, const char *reason)
{
	memset(w, 0, sizeof(*w));
	w->magic = mig_cpu_to_le32(MIG_MAGIC);
	w->version = mig_cpu_to_le16(MIG_VERSION);
	w->status = mig_cpu_to_le16(status);
	if (id)
		memcpy(w->id, id, MIG_ID_LEN);
	w->region_size = mig_cpu_to_le64(region_size);
	w->page_size = mig_cpu_to_le32(page_size);
	w->nchannels = mig_cpu_to_le32(nchannels);
	w->flags = mig_cpu_to_le64(flags);
	if (reason)
		snprintf(w->reason, sizeof(w->reason), "%s", reason);
}

const char *mig_status_name(unsigned int status)
{
	switch (status) {
	case MIG_OK:		return "ok";
	case MIG_ERR_VERSION:	return "protocol version not supported";
	case MIG_ERR_ID:	return "unknown migration id";
	case MIG_ERR_SIZE:	return "region size mismatch";
	case MIG_ERR_BUSY:	return "busy with another destination";
	case MIG_ERR_STATE:	return "unexpected connection";
	case MIG_ERR_CHANNEL:	return "bad channel";
	}
	return "unknown status";
}

uint32_t mig_magic_of(const void *p)
{
	uint32_t m;

	memcpy(&m, p, sizeof(m));
	return mig_le32_to_cpu(m);
}

void mig_hexdump(const void *p, size_t n, char *buf, size_t len)
{
	const unsigned char *c = p;
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off + 4 < len; i++)
		off += snprintf(buf + off, len - off, "%s%02x", i ? " " : "",
				c[i]);
}

int mig_parse_id(const char *hex, uint8_t id[MIG_ID_LEN])
{
	unsigned int i;

	if (!hex || strlen(hex) != 2 * MIG_ID_LEN)
		return -EINVAL;
	for (i = 0; i < MIG_ID_LEN; i++) {
		unsigned int v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
			return -EINVAL;
		id[i] = v;
	}
	return 0;
}

void mig_format_id(const uint8_t id[MIG_ID_LEN], char out[2 * MIG_ID_LEN + 1])
{
	unsigned int i;

	for (i = 0; i < MIG_ID_LEN; i++)
		sprintf(out + 2 * i, "%02x", id[i]);
}

/* -------------------------------------------------------------------------
 * Bitmaps, pages, latencies, statistics
 */

uint64_t mig_bitmap_weight(const uint64_t *bm, uint64_t words)
{
	uint64_t i, n = 0;

	for (i = 0; i < words; i++)
		n += __builtin_popcountll(__atomic_load_n(&bm[i],
							  __ATOMIC_RELAXED));
	return n;
}

void mig_bitmap_to_le(uint64_t *bm, uint64_t words)
{
	uint64_t i;

	for (i = 0; i < words; i++)
		bm[i] = mig_cpu_to_le64(bm[i]);
}

void mig_bitmap_from_le(uint64_t *bm, uint64_t words)
{
	uint64_t i;

	for (i = 0; i < words; i++)
		bm[i] = mig_le64_to_cpu(bm[i]);
}

int mig_page_is_zero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return 0;
	return 1;
}

int mig_lat_init(struct mig_lat *l, uint64_t cap)
{
	memset(l, 0, sizeof(*l));
	l->us = calloc(cap ? cap : 1, sizeof(*l->us));
	if (!l->us)
		return -ENOMEM;
	l->cap = cap;
	return 0;
}

void mig_lat_free(struct mig_lat *l)
{
	free(l->us);
	l->us = NULL;
}

void mig_lat_add(struct mig_lat *l, uint64_t ns)
{
	uint64_t i = __atomic_fetch_add(&l->n, 1, __ATOMIC_RELAXED);
	uint64_t us = ns / 1000, max;

	if (i < l->cap)
		l->us[i] = us > UINT32_MAX ? UINT32_MAX : us;
	max = __atomic_load_n(&l->max_ns, __ATOMIC_RELAXED);
	while (ns > max &&
	       !__atomic_compare_exchange_n(&l->max_ns, &max, ns, 0,
					    __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

void mig_lat_finish(struct mig_lat *l, struct mig_result *res)
{
	uint64_t n = MIG_MIN(l->n, l->cap);

	res->lat_count = l->n;
	res->lat_max_ns = l->max_ns;
	if (!n)
		return;
	qsort(l->us, n, sizeof(*l->us), cmp_u32);
	res->lat_p50_ns = (uint64_t)l->us[(n - 1) / 2] * 1000;
	res->lat_p99_ns = (uint64_t)l->us[(n - 1) * 99 / 100] * 1000;
}

void mig_stats_encode(struct mig_wire_stats *w, const struct mig_result *r)
{
	memset(w, 0, sizeof(*w));
	w->rounds = mig_cpu_to_le64(r->rounds);
	w->precopy_pages = mig_cpu_to_le64(r->precopy_pages);
	w->precopy_zero = mig_cpu_to_le64(r->precopy_zero);
	w->stopcopy_pages = mig_cpu_to_le64(r->stopcopy_pages);
	w->postcopy_pages = mig_cpu_to_le64(r->postcopy_pages);
	w->urgent_pages = mig_cpu_to_le64(r->urgent_pages);
	w->discarded = mig_cpu_to_le64(r->discarded);
	w->bytes_sent = mig_cpu_to_le64(r->bytes_sent);
	w->downtime_ns = mig_cpu_to_le64(r->downtime_ns);
	w->precopy_ns = mig_cpu_to_le64(r->precopy_ns);
	w->reconnects = mig_cpu_to_le64(r->reconnects);
	w->guest_downtime_ns = mig_cpu_to_le64(r->guest_downtime_ns);
	w->sw_pause_ns = mig_cpu_to_le64(r->sw_pause_ns);
	w->sw_final_pass_ns = mig_cpu_to_le64(r->sw_final_pass_ns);
}

void mig_stats_decode(const struct mig_wire_stats *w, struct mig_result *r)
{
	r->rounds = mig_le64_to_cpu(w->rounds);
	r->precopy_pages = mig_le64_to_cpu(w->precopy_pages);
	r->precopy_zero = mig_le64_to_cpu(w->precopy_zero);
	r->stopcopy_pages = mig_le64_to_cpu(w->stopcopy_pages);
	r->postcopy_pages = mig_le64_to_cpu(w->postcopy_pages);
	r->urgent_pages = mig_le64_to_cpu(w->urgent_pages);
	r->discarded = mig_le64_to_cpu(w->discarded);
	r->bytes_sent = mig_le64_to_cpu(w->bytes_sent);
	r->downtime_ns = mig_le64_to_cpu(w->downtime_ns);
	r->precopy_ns = mig_le64_to_cpu(w->precopy_ns);
	r->guest_downtime_ns = mig_le64_to_cpu(w->guest_downtime_ns);
	/* zero from a source that sent the first MIG_WIRE_STATS_V1_SIZE */
	r->sw_pause_ns = mig_le64_to_cpu(w->sw_pause_ns);
	r->sw_final_pass_ns = mig_le64_to_cpu(w->sw_final_pass_ns);
	r->have_source_stats = 1;
}

/* Random migration id (getrandom; the clock if that fails). */

void mig_random_id(uint8_t id[MIG_ID_LEN])
{
	if (getrandom(id, MIG_ID_LEN, GRND_NONBLOCK) != MIG_ID_LEN) {
		uint64_t a = mig_now_ns(), b = getpid();

		b = b * 0x9e3779b97f4a7c15ULL ^ a;
		memcpy(id, &a, 8);
		memcpy(id + 8, &b, 8);
	}
}
