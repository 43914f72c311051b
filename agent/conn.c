// SPDX-License-Identifier: GPL-2.0
/*
 * conn.c: the connections of one epoch (see conn.h).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"

void mig_conns_init(struct mig_conns *c, const struct mig_config *cfg,
		    pthread_mutex_t *lock, pthread_cond_t *cond,
		    const unsigned int *nch, pthread_mutex_t *ctrl_tx,
		    pthread_mutex_t *pre_tx)
{
	unsigned int i;

	*c = (struct mig_conns){
		.cfg = cfg, .lock = lock, .cond = cond, .nch = nch,
		.ctrl_tx = ctrl_tx, .pre_tx = pre_tx,
		.ctrl = -1, .pre = -1,
	};
	for (i = 0; i < MIG_MAX_CHANNELS; i++)
		c->data[i] = -1;
}

static void shutdown_fd(int fd)
{
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

void mig_conns_break(struct mig_conns *c, int err, const char *fmt, ...)
{
	unsigned int i;
	va_list ap;

	pthread_mutex_lock(c->lock);
	if (!c->broken) {
		char what[160];

		va_start(ap, fmt);
		vsnprintf(what, sizeof(what), fmt, ap);
		va_end(ap);
		if (err == MIG_CONNS_DEAD)
			snprintf(c->broken_why, sizeof(c->broken_why), "%s",
				 what);
		else if (err == -ETIMEDOUT)
			snprintf(c->broken_why, sizeof(c->broken_why),
				 "%s: peer silent for %d ms (--io-timeout-ms)",
				 what, c->cfg->io_timeout_ms);
		else
			snprintf(c->broken_why, sizeof(c->broken_why),
				 "%s: %s", what, err == -ECONNRESET ?
				 "connection closed by the peer" :
				 mig_errstr(err));
		__atomic_store_n(&c->t_broken, mig_now_ns(), __ATOMIC_RELAXED);
		__atomic_store_n(&c->broken, 1, __ATOMIC_RELEASE);
		shutdown_fd(c->ctrl);
		shutdown_fd(c->pre);
		for (i = 0; i < *c->nch; i++)
			shutdown_fd(c->data[i]);
	}
	pthread_cond_broadcast(c->cond);
	pthread_mutex_unlock(c->lock);
}

void mig_conns_reset(struct mig_conns *c)
{
	uint64_t t = __atomic_exchange_n(&c->t_broken, 0, __ATOMIC_RELAXED);

	/* a break before the first epoch (a failed handshake) is no gap */
	if (t && c->epochs)
		__atomic_add_fetch(&c->broken_ns, mig_now_ns() - t,
				   __ATOMIC_RELAXED);
	c->epochs++;
	__atomic_store_n(&c->broken, 0, __ATOMIC_RELEASE);
	c->broken_why[0] = '\0';
	c->threads = 0;
}

uint64_t mig_conns_broken_ns(struct mig_conns *c, int recovering)
{
	uint64_t ns = __atomic_load_n(&c->broken_ns, __ATOMIC_RELAXED);
	uint64_t t = __atomic_load_n(&c->t_broken, __ATOMIC_RELAXED);

	if (recovering && t)
		ns += mig_now_ns() - t;
	return ns;
}

int mig_heartbeat_every_ms(const struct mig_config *cfg)
{
	int every = mig_heartbeat_ms(cfg->io_timeout_ms);

	if (cfg->dead_after_ms > 0)
		every = MIG_MIN(every, MIG_MAX(cfg->dead_after_ms / 8, 10));
	return every;
}

/*
 * How long the peer has been silent: the milliseconds since a byte of it
 * arrived on the freshest of its connections, as the kernel counts them
 * (TCP_INFO), so that a reader that is slow to run or a control channel
 * queued behind data does not count as silence (with user-space TLS, of
 * the TCP sockets under the engine's socket pairs).  -1 when no
 * connection tells.
 */
static long peer_silence_ms(struct mig_conns *c)
{
	int fds[MIG_MAX_CHANNELS + 2];
	unsigned int i, n = 0;
	long best = -1;

	fds[n++] = c->ctrl;
	fds[n++] = c->pre;
	for (i = 0; i < *c->nch && i < MIG_MAX_CHANNELS; i++)
		fds[n++] = c->data[i];
	for (i = 0; i < n; i++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		if (fds[i] < 0 ||
		    mig_tcp_getsockopt(fds[i], IPPROTO_TCP, TCP_INFO, &ti,
				       &len) ||
		    len < offsetof(struct tcp_info, tcpi_last_data_recv) +
			  sizeof(ti.tcpi_last_data_recv))
			continue;
		if (best < 0 || (long)ti.tcpi_last_data_recv < best)
			best = ti.tcpi_last_data_recv;
	}
	return best;
}

/* A heartbeat thread late by more than this was not run: no verdict. */
#define MIG_STALL_MS	200

/*
 * The heartbeat thread: a beat every mig_heartbeat_every_ms(), and the
 * watch for a dead peer (cfg->dead_after_ms).  It does nothing else, so
 * that neither a busy channel nor a long step of the role delays a beat.
 */
static void *heartbeat_thread(void *arg)
{
	struct mig_conns *c = arg;
	int dead = c->cfg->dead_after_ms, every = mig_heartbeat_every_ms(c->cfg);
	int step = MIG_MIN(every, 50), since = 0;
	uint64_t last = mig_now_ns(), grace = 0;

	while (!mig_conns_broken(c)) {
		uint64_t now;

		mig_sleep_ms(step);
		now = mig_now_ns();
		/*
		 * Not run for a while (a host that stopped or starved this
		 * guest or process): the peer's beats were held up the same
		 * way, so give them as long again before judging.
		 */
		if (now - last > (uint64_t)(step + MIG_STALL_MS) * 1000000ULL)
			grace = now + (now - last);
		last = now;
		if (dead > 0 && now >= grace) {
			long silent = peer_silence_ms(c);

			if (silent > dead) {
				mig_conns_break(c, MIG_CONNS_DEAD,
						"no byte from the peer on any connection for %ld ms (--dead-after-ms %d)",
						silent, dead);
				break;
			}
		}
		since += step;
		if (since < every)
			continue;
		since = 0;
		if (c->beat(c->arg))
			break;
	}
	return NULL;
}

int mig_conns_start_thread(struct mig_conns *c, pthread_t *th,
			   void *(*fn)(void *), void *arg)
{
	int ret = pthread_create(th, NULL, fn, arg);

	if (ret) {
		mig_conns_break(c, -ret, "starting threads");
		return -ret;
	}
	c->threads++;
	return 0;
}

int mig_conns_start_ctrl(struct mig_conns *c, void *(*pre)(void *),
			 void *(*rx)(void *), int (*beat)(void *), void *arg)
{
	int ret;

	c->beat = beat;
	c->arg = arg;
	ret = mig_conns_start_thread(c, &c->pre_th, pre, arg);
	if (!ret)
		ret = mig_conns_start_thread(c, &c->rx_th, rx, arg);
	if (!ret)
		ret = mig_conns_start_thread(c, &c->hb_th, heartbeat_thread, c);
	return ret;
}

int mig_conns_recv_error(struct mig_conns *c, uint32_t len, int *peer_error,
			 char *msg, size_t msg_size)
{
	char text[256] = "";
	uint32_t n = MIG_MIN(len, sizeof(text) - 1);
	int ret;

	ret = mig_recv_all(c->ctrl, text, n, c->cfg->io_timeout_ms,
			   &c->broken);
	text[n] = '\0';
	pthread_mutex_lock(c->lock);
	*peer_error = 1;
	snprintf(msg, msg_size, "%s", text);
	pthread_cond_broadcast(c->cond);
	pthread_mutex_unlock(c->lock);
	return ret ? ret : -EREMOTEIO;
}

/* A control record the role left to us; see mig_conns_ctrl_rx(). */
static int ctrl_record(struct mig_conns *c, const struct mig_rec *r,
		       const struct mig_hooks *hk, int *peer_error, char *msg,
		       size_t msg_size)
{
	switch (r->type) {
	case MIG_MSG_HEARTBEAT:
		return mig_skip(c->ctrl, r->len, c->cfg->io_timeout_ms,
				&c->broken);
	case MIG_MSG_ERROR:
		return mig_conns_recv_error(c, r->len, peer_error, msg,
					    msg_size);
	default:
		mig_logf(hk, MIG_LOG_ERROR,
			 "control channel: unexpected record %s (%u)",
			 mig_msg_name(r->type), r->type);
		return -EPROTO;
	}
}

void mig_conns_ctrl_rx(struct mig_conns *c, const struct mig_hooks *hk,
		       int (*record)(void *arg, const struct mig_rec *r),
		       void *arg, int *peer_error, char *msg,
		       size_t msg_size)
{
	struct mig_rec r;
	int ret;

	for (;;) {
		ret = mig_recv_hdr(c->ctrl, &r, c->cfg->io_timeout_ms,
				   c->cfg->io_timeout_ms, &c->broken);
		if (ret)
			break;
		ret = record(arg, &r);
		if (ret == MIG_CTRL_NOT_MINE)
			ret = ctrl_record(c, &r, hk, peer_error, msg,
					  msg_size);
		if (ret)
			break;
	}
	if (ret != -ECANCELED)
		mig_conns_break(c, ret, "control channel");
}

/* Close *@fd under @tx (when set), so that no sender uses it meanwhile. */
static void close_fd(int *fd, pthread_mutex_t *tx)
{
	if (tx)
		pthread_mutex_lock(tx);
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	if (tx)
		pthread_mutex_unlock(tx);
}

void mig_conns_close(struct mig_conns *c)
{
	unsigned int i;

	close_fd(&c->ctrl, c->ctrl_tx);
	close_fd(&c->pre, c->pre_tx);
	for (i = 0; i < MIG_MAX_CHANNELS; i++)
		close_fd(&c->data[i], NULL);
}

void mig_conns_stop(struct mig_conns *c)
{
	unsigned int i, n = c->threads;

	mig_conns_break(c, -ECANCELED, "stopping");
	/* creation order: data threads, preempt, control rx, heartbeat */
	for (i = 0; i < n; i++) {
		if (i < *c->nch)
			pthread_join(c->data_th[i], NULL);
		else if (i == *c->nch)
			pthread_join(c->pre_th, NULL);
		else if (i == *c->nch + 1)
			pthread_join(c->rx_th, NULL);
		else
			pthread_join(c->hb_th, NULL);
	}
	c->threads = 0;
	mig_conns_close(c);
}
