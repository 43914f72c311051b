// SPDX-License-Identifier: GPL-2.0
/*
 * source.c: the source side of a migration.
 *
 * Pages are read from a read-only shared mapping of the region fd.  The
 * source keeps:
 *
 *   pending   a bitmap of the pages the destination lacks, or may hold a
 *             stale copy of, that are not in flight;
 *   ver       per page, the number of the last copy sent (wire.h).
 *
 * Precopy: round 1 sends every page, each later round first moves the
 * kernel's dirty log into pending (fetch and clear, so a write after the
 * fetch lands in the next log) and sends that.  Rounds stop when what is
 * left would take less than the downtime target at the bandwidth of the
 * last round, at the round limit, or at the time budget.
 *
 * Switchover: the VMM is paused, the last dirty log is merged; if little
 * is left (or postcopy is off) it is sent while paused (stop-and-copy).
 * Each data channel then carries END_PRECOPY, and the control channel
 * SWITCHOVER with pending as the discard bitmap: the destination makes
 * those pages missing again, whatever copy of them it placed.
 *
 * Requests are answered from the first contact on: a destination's VMM
 * may read guest RAM before the switchover.  Such an answer is read while
 * the VMM here still runs; with the dirty log on, a later write puts the
 * page in pending again, without it (postcopy only, or before the log
 * is on) the page stays pending, so that the switchover names it.  Once
 * paused, the source ends these answers with END_PRECOPY on the preempt
 * channel.
 *
 * The destination says when it applied the switchover (SWITCHED: the
 * agent's downtime ends; hooks.switched lets a VMM send device state of
 * its own now), and when its VMM runs (RESUMED: the guest's downtime
 * ends).  In between the data channels stay quiet, so that the VMM's
 * device state has the link to itself; urgent answers go on.
 *
 * Postcopy: the data channels push what is still pending (background),
 * each from the word after the last urgent request (locality); the
 * preempt channel answers requests at once.  The migration ends when the
 * destination reports COMPLETE; the source is left paused, with its copy
 * intact, until then.
 *
 * A broken connection ends an "epoch": every channel thread is stopped
 * and the source waits for the destination to come back (RESUME with the
 * same id), then merges the page versions it reports into pending.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/pca.h"
#include "conn.h"
#include "tls.h"
#include "mig.h"



/* Send buffer of a data channel. */
#define SRC_BUF_PAGES		64

enum pass_mode {
	PASS_IDLE,
	PASS_SEND,		/* pending pages, then done */
	PASS_POSTCOPY,		/* background stream until the epoch ends */
};

enum pass_kind {
	KIND_PRECOPY,
	KIND_STOPCOPY,
};

/*
 * Connections the lobby holds: accepted, hello being read (in), or read
 * and waiting for the engine (ready).
 */
#define LOBBY_MAX		(2 * MIG_MAX_CHANNELS + 4)

struct lobby_conn {
	int fd;
	struct mig_tls_hs *hs;	/* TLS handshake under way */
	int hs_write;		/* it waits to write */
	size_t got;		/* hello bytes read */
	struct mig_hello h;
	char peer[64];
	uint64_t t_last;	/* accepted, or the last byte read */
	uint64_t t_hb;		/* the last heartbeat sent */
};

struct src;

struct src_chan {
	struct src *s;
	unsigned int idx;
	unsigned int gen;	/* last pass seen */
	uint8_t *buf;
	size_t used;
	size_t cap;
};

struct src {
	const struct mig_config *cfg;
	struct mig_result *res;
	const struct mig_hooks *hk;

	int fd;
	const uint8_t *mem;
	uint64_t size, pages, words;
	uint32_t psz;
	struct pca_client *nl;
	int tracking;
	uint64_t *dirty_bm;	/* scratch for the dirty log */

	uint64_t *pending;
	uint32_t *ver;
	uint8_t id[MIG_ID_LEN];
	char idtxt[2 * MIG_ID_LEN + 1];
	int lfd;
	int own_lfd;
	unsigned int nch;
	/*
	 * The data channels' congestion control: cfg->push_cc where the
	 * kernel has it (probed once in setup), else NULL (the system's);
	 * cc: the name they use (mig_result.push_cc).
	 */
	const char *push_cc;
	char cc[16];
	/*
	 * The postcopy push: post_cc, cfg->postcopy_cc where the kernel has
	 * it (probed in setup), else NULL (the channels keep theirs).  The
	 * first post_nch data channels push at first, the first post_active
	 * now (all once the push widened: post_widen, widen_look()), the
	 * others idle.  post_cc_used (under lock): what a pushing channel
	 * reported once set; post_pushers (atomic): a bit for each channel
	 * that sent a postcopy page.
	 */
	const char *post_cc;
	unsigned int post_nch;
	unsigned int post_active;	/* changed under lock, atomically */
	int post_widen;
	char post_cc_used[16];
	uint64_t post_pushers;
	struct mig_tls *tls;	/* NULL: --insecure */

	/* the lobby (below) */
	pthread_t lobby_th;
	int lobby_running;
	int lobby_stop;		/* atomic */
	struct lobby_conn in[LOBBY_MAX];	/* lobby thread only */
	unsigned int nin;
	pthread_mutex_t lobby_lock;
	pthread_cond_t lobby_cond;
	int accepting;		/* under lobby_lock: the engine takes hellos */
	int lobby_err;		/* under lobby_lock: accept() failed for good */
	struct lobby_conn ready[LOBBY_MAX];	/* under lobby_lock */
	unsigned int nready;

	struct mig_conns conns;	/* of the current epoch */
	struct src_chan ch[MIG_MAX_CHANNELS];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned int pass_gen;	/* under lock */
	enum pass_mode pass_mode;
	enum pass_kind pass_kind;
	unsigned int pass_done;
	int resumed, complete, peer_error;
	int switched;		/* the destination applied the switchover */
	int peer_prepause;	/* its control hello: MIG_HELLO_PREPAUSE */
	int prepause_done;	/* MIG_MSG_PREPAUSE_DONE arrived */
	int stream;		/* background stream may start (after RESUMED,
				 * or a recovery)
				 */
	uint64_t t_resumed, t_switched;
	char peer_msg[256];

	pthread_mutex_t ctrl_tx;
	pthread_mutex_t pre_tx;	/* writes on the preempt channel */

	uint64_t hint_word;	/* atomic: background restarts here */
	unsigned int hint_gen;	/* atomic */

	/* atomic counters */
	uint64_t bytes, sent_pages;
	uint64_t precopy_pages, precopy_zero, stop_pages, post_pages;
	uint64_t urgent_pages;

	unsigned int max_rounds;	/* 0 without a dirty log */
	int postcopy;		/* SWITCHOVER sent */
	int paused;		/* atomic */
	enum mig_phase phase;
	unsigned int round;
	double dirty_rate;
	uint64_t t_start, t_pause;
	struct mig_progress_clock prog;
};

static void add(uint64_t *ctr, uint64_t n)
{
	__atomic_fetch_add(ctr, n, __ATOMIC_RELAXED);
}

static uint64_t get(const uint64_t *ctr)
{
	return __atomic_load_n(ctr, __ATOMIC_RELAXED);
}

/* -------------------------------------------------------------------------
 * Progress and epochs
 */

static void progress(struct src *s, int force)
{
	struct mig_progress p = { .role = MIG_SOURCE };
	uint64_t now = mig_now_ns();

	if (!mig_progress_due(s->cfg, &s->prog, now, force))
		return;
	p.phase = s->phase;
	p.round = s->round;
	p.pages = s->pages;
	p.pages_sent = get(&s->sent_pages);
	p.pages_remaining = mig_bitmap_weight(s->pending, s->words);
	p.bytes = get(&s->bytes);
	p.dirty_rate = s->dirty_rate;
	p.reconnects = s->res->reconnects + (s->phase == MIG_PHASE_RECOVERING);
	p.broken_ns = mig_conns_broken_ns(&s->conns,
					  s->phase == MIG_PHASE_RECOVERING);
	mig_progress_deliver(s->cfg, &s->prog, &p, now, s->t_start);
}

static void set_phase(struct src *s, enum mig_phase phase)
{
	s->phase = phase;
	progress(s, 1);
}

static int ctrl_send(struct src *s, uint32_t type, uint32_t flags,
		     uint64_t offset, uint32_t arg, const void *payload,
		     uint32_t len)
{
	int ret;

	pthread_mutex_lock(&s->ctrl_tx);
	ret = mig_send_rec(s->conns.ctrl, type, flags, offset, arg, payload,
			   len, s->cfg->io_timeout_ms, &s->conns.broken);
	pthread_mutex_unlock(&s->ctrl_tx);
	if (!ret)
		add(&s->bytes, sizeof(struct mig_hdr) + len);
	return ret;
}

/* -------------------------------------------------------------------------
 * Data channels
 */

static int chan_flush(struct src_chan *ch)
{
	struct src *s = ch->s;
	int ret;

	if (!ch->used)
		return 0;
	ret = mig_send_all(s->conns.data[ch->idx], ch->buf, ch->used,
			   s->cfg->io_timeout_ms, &s->conns.broken);
	if (!ret)
		add(&s->bytes, ch->used);
	ch->used = 0;
	return ret;
}

/*
 * Append one page record (read now from the mapping) to @buf at *@used;
 * returns 1 for a zero page, 0 otherwise.
 */
static int put_page(struct src *s, uint8_t *buf, size_t *used, uint64_t page,
		    uint32_t flags)
{
	struct mig_hdr *h = (struct mig_hdr *)(buf + *used);
	uint8_t *data = buf + *used + sizeof(*h);
	uint32_t v = __atomic_add_fetch(&s->ver[page], 1, __ATOMIC_RELAXED);

	memcpy(data, s->mem + page * s->psz, s->psz);
	if (mig_page_is_zero(data, s->psz)) {
		mig_hdr_encode(h, MIG_MSG_PAGE, flags | MIG_PAGE_ZERO,
			       page * s->psz, 0, v);
		*used += sizeof(*h);
		return 1;
	}
	mig_hdr_encode(h, MIG_MSG_PAGE, flags, page * s->psz, s->psz, v);
	*used += sizeof(*h) + s->psz;
	return 0;
}

/* Send the pages of bitmap word @w (taken from pending word @k). */
static int send_word(struct src_chan *ch, uint64_t k, uint64_t w,
		     uint64_t *ctr, uint64_t *zero_ctr)
{
	struct src *s = ch->s;

	while (w) {
		uint64_t page = k * 64 + __builtin_ctzll(w);
		int ret;

		if (ch->cap - ch->used < sizeof(struct mig_hdr) + s->psz) {
			ret = chan_flush(ch);
			if (ret) {
				/* not sent: still pending */
				__atomic_fetch_or(&s->pending[k], w,
						  __ATOMIC_RELAXED);
				return ret;
			}
		}
		if (put_page(s, ch->buf, &ch->used, page, 0) && zero_ctr)
			add(zero_ctr, 1);
		add(ctr, 1);
		add(&s->sent_pages, 1);
		w &= w - 1;
	}
	return 0;
}

static int send_pass(struct src_chan *ch, enum pass_kind kind)
{
	struct src *s = ch->s;
	uint64_t *ctr = kind == KIND_PRECOPY ? &s->precopy_pages :
			&s->stop_pages;
	uint64_t k;
	int ret;

	for (k = ch->idx; k < s->words; k += s->nch) {
		uint64_t w = __atomic_exchange_n(&s->pending[k], 0,
						 __ATOMIC_RELAXED);

		if (!w)
			continue;
		ret = send_word(ch, k, w, ctr,
				kind == KIND_PRECOPY ? &s->precopy_zero : NULL);
		if (ret)
			return ret;
		if (mig_conns_broken(&s->conns))
			return -ECANCELED;
	}
	return chan_flush(ch);
}

/*
 * First word of this channel's stripe at or after word @w, among @np
 * pushing channels.
 */
static uint64_t stripe_from(struct src_chan *ch, uint64_t w, unsigned int np)
{
	return w + (ch->idx + np - w % np) % np;
}

/* A data channel's pacing limit, in bytes per second. */
static void set_max_rate(int fd, uint64_t rate)
{
	/* the kernel takes an unsigned long */
	unsigned long r = rate;

	mig_tcp_setsockopt(fd, SOL_SOCKET, SO_MAX_PACING_RATE, &r, sizeof(r));
}

/*
 * A pushing channel's socket for postcopy: the postcopy congestion
 * control (switching it on a connected socket restarts the new one from
 * the connection's current window), and its share of the rate cap among
 * the channels that push (with a cap the push never widens).
 */
static void postcopy_tune(struct src_chan *ch)
{
	struct src *s = ch->s;
	int fd = s->conns.data[ch->idx];
	char used[16] = "";
	socklen_t len = sizeof(used) - 1;
	int ret = 0;

	if (s->post_cc)
		ret = mig_tcp_setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION,
					 s->post_cc, strlen(s->post_cc));
	if (ret)
		mig_logf(s->hk, MIG_LOG_INFO,
			 "data channel %u: congestion control %s refused (%s)",
			 ch->idx, s->post_cc, mig_errstr(ret));
	if (s->cfg->push_max_rate)
		set_max_rate(fd, s->cfg->push_max_rate / s->post_nch);
	if (mig_tcp_getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, used, &len))
		return;
	pthread_mutex_lock(&s->lock);
	memcpy(s->post_cc_used, used, sizeof(used));
	pthread_mutex_unlock(&s->lock);
}

/*
 * How many channels push now, once this one is among them; 0 once the
 * epoch broke.
 */
static unsigned int wait_pushing(struct src_chan *ch)
{
	struct src *s = ch->s;
	unsigned int act = __atomic_load_n(&s->post_active, __ATOMIC_ACQUIRE);

	if (ch->idx < act && !mig_conns_broken(&s->conns))
		return act;
	pthread_mutex_lock(&s->lock);
	while (!s->conns.broken && ch->idx >= s->post_active)
		mig_cond_wait_tick(&s->cond, &s->lock);
	act = s->conns.broken ? 0 : s->post_active;
	pthread_mutex_unlock(&s->lock);
	return act;
}

/*
 * The automatic push (mig_config.postcopy_channels
 * MIG_POSTCOPY_CHANNELS_AUTO) starts on one channel and takes every
 * channel once a host's CPU, not the link, holds that one back in
 * WIDEN_SAMPLES looks in a row, WIDEN_LOOK_MS apart: the sender's (its
 * rate samples are app-limited, taken with too little queued to fill the
 * window) or the receiver's (its window stopped the sender for more than
 * half of the time since the last look).  Then no queue at the link's
 * bottleneck holds urgent pages back, and more channels, each with a
 * thread on both sides, only add throughput.  A push that fills the link
 * is neither: the unsent-bytes limit keeps its socket's queue full, and
 * the receiver keeps up with the link.
 */
#define WIDEN_SAMPLES	5
#define WIDEN_LOOK_MS	20

struct widen {
	uint64_t last_ns;	/* the last look; 0 before the first */
	uint64_t rwnd_us;	/* tcpi_rwnd_limited then */
	unsigned int streak;
};

static void widen_look(struct src_chan *ch, struct widen *wd)
{
	struct src *s = ch->s;
	struct mig_push_limits l;
	uint64_t now = mig_now_ns();
	int held;

	if (wd->last_ns && now - wd->last_ns < WIDEN_LOOK_MS * 1000000ULL)
		return;
	if (mig_sock_push_limits(s->conns.data[ch->idx], &l)) {
		wd->streak = 0;
		wd->last_ns = now;
		return;
	}
	held = l.app_limited ||
	       (wd->last_ns && (l.rwnd_limited_us - wd->rwnd_us) * 2000 >
			       now - wd->last_ns);
	wd->rwnd_us = l.rwnd_limited_us;
	wd->last_ns = now;
	wd->streak = held ? wd->streak + 1 : 0;
	if (wd->streak < WIDEN_SAMPLES)
		return;
	pthread_mutex_lock(&s->lock);
	__atomic_store_n(&s->post_active, s->nch, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	mig_logf(s->hk, MIG_LOG_INFO,
		 "postcopy push: on all %u data channels, as one is held back by %s CPU, not by the link",
		 s->nch, l.app_limited ? "this host's" : "the destination's");
}

/*
 * The background stream: this channel's words of pending, from the last
 * urgent request on, wrapping around, until a whole lap finds nothing.
 * Only the first post_active channels push; the words are striped among
 * them, again when the push widens.
 */
static int background(struct src_chan *ch)
{
	struct src *s = ch->s;
	unsigned int seen = __atomic_load_n(&s->hint_gen, __ATOMIC_ACQUIRE);
	struct widen wd = { 0 };
	unsigned int np = 0;
	uint64_t k = ch->idx, empty = 0, mine = 0;
	int ret;

	for (;;) {
		unsigned int act = wait_pushing(ch);
		unsigned int g;
		uint64_t w;

		/* the epoch broke, or more channels than bitmap words */
		if (!act || ch->idx >= s->words)
			break;
		if (act != np) {
			if (!np)
				postcopy_tune(ch);
			np = act;
			mine = (s->words + np - 1 - ch->idx) / np;
			k = stripe_from(ch, k, np);
			empty = 0;
		}
		g = __atomic_load_n(&s->hint_gen, __ATOMIC_ACQUIRE);
		if (g != seen) {
			seen = g;
			k = stripe_from(ch, __atomic_load_n(&s->hint_word,
							    __ATOMIC_RELAXED),
					np);
			empty = 0;
		}
		if (k >= s->words)
			k = ch->idx;
		w = __atomic_exchange_n(&s->pending[k], 0, __ATOMIC_RELAXED);
		if (w) {
			ret = send_word(ch, k, w, &s->post_pages, NULL);
			if (!ret)
				ret = chan_flush(ch);
			if (ret)
				return ret;
			__atomic_fetch_or(&s->post_pushers, 1ULL << ch->idx,
					  __ATOMIC_RELAXED);
			if (s->post_widen && np < s->nch)
				widen_look(ch, &wd);
			empty = 0;
		} else if (++empty > mine) {
			break;
		}
		k += np;
	}
	ret = chan_flush(ch);
	if (ret)
		return ret;
	/* nothing left; a new epoch starts new threads */
	pthread_mutex_lock(&s->lock);
	while (!s->conns.broken)
		mig_cond_wait_tick(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void timed_wait(struct src *s)
{
	mig_cond_wait_tick(&s->cond, &s->lock);
}

static void *data_thread(void *arg)
{
	struct src_chan *ch = arg;
	struct src *s = ch->s;

	for (;;) {
		enum pass_mode mode;
		enum pass_kind kind;
		int ret = 0;

		pthread_mutex_lock(&s->lock);
		while (!s->conns.broken && s->pass_gen == ch->gen)
			timed_wait(s);
		if (s->conns.broken) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		ch->gen = s->pass_gen;
		mode = s->pass_mode;
		kind = s->pass_kind;
		pthread_mutex_unlock(&s->lock);

		switch (mode) {
		case PASS_SEND:
			ret = send_pass(ch, kind);
			break;
		case PASS_POSTCOPY:
			ret = background(ch);
			break;
		case PASS_IDLE:
			break;
		}
		if (ret) {
			if (ret != -ECANCELED)
				mig_conns_break(&s->conns, ret,
						"data channel %u", ch->idx);
			break;
		}
		pthread_mutex_lock(&s->lock);
		if (ch->gen == s->pass_gen)
			s->pass_done++;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

/* -------------------------------------------------------------------------
 * Preempt and control channels
 */

static void *preempt_thread(void *arg)
{
	struct src *s = arg;
	size_t cap = 64 * (sizeof(struct mig_hdr) + s->psz), used;
	uint8_t *buf = malloc(cap);
	struct mig_rec r;
	int ret = 0, settled;

	if (!buf) {
		mig_conns_break(&s->conns, -ENOMEM, "preempt channel");
		return NULL;
	}
	for (;;) {
		uint64_t first, n, i;

		ret = mig_recv_hdr(s->conns.pre, &r, -1, s->cfg->io_timeout_ms,
				   &s->conns.broken);
		if (ret)
			break;
		n = MIG_REQ_PAGES(r.flags);
		first = r.offset / s->psz;
		if (r.type != MIG_MSG_REQUEST || r.len || !n || n > 64 ||
		    r.offset % s->psz || first >= s->pages ||
		    n > s->pages - first) {
			mig_logf(s->hk, MIG_LOG_ERROR,
				 "preempt channel: bad record %s (%u) offset %llu flags %#x",
				 mig_msg_name(r.type), r.type,
				 (unsigned long long)r.offset, r.flags);
			ret = -EPROTO;
			break;
		}
		/*
		 * Read and sent on one side of END_PRECOPY on this channel:
		 * an answer after it was read while paused.
		 */
		pthread_mutex_lock(&s->pre_tx);
		/* a later write is logged, or the VMM stopped writing */
		settled = __atomic_load_n(&s->paused, __ATOMIC_ACQUIRE) ||
			  __atomic_load_n(&s->tracking, __ATOMIC_ACQUIRE);
		used = 0;
		for (i = first; i < first + n; i++) {
			mig_clear_bit(s->pending, i);
			put_page(s, buf, &used, i, MIG_PAGE_URGENT);
			if (!settled)
				mig_set_bit(s->pending, i);
		}
		__atomic_store_n(&s->hint_word, first / 64,
				 __ATOMIC_RELAXED);
		__atomic_fetch_add(&s->hint_gen, 1, __ATOMIC_RELEASE);
		ret = mig_send_all(s->conns.pre, buf, used,
				   s->cfg->io_timeout_ms, &s->conns.broken);
		pthread_mutex_unlock(&s->pre_tx);
		if (ret)
			break;
		add(&s->bytes, used + sizeof(struct mig_hdr));
		add(&s->urgent_pages, n);
		add(&s->sent_pages, n);
	}
	if (ret != -ECANCELED)
		mig_conns_break(&s->conns, ret, "preempt channel");
	free(buf);
	return NULL;
}

/* The source's control records; see mig_conns_ctrl_rx(). */
static int ctrl_record(void *arg, const struct mig_rec *r)
{
	struct src *s = arg;

	switch (r->type) {
	case MIG_MSG_SWITCHED:
		pthread_mutex_lock(&s->lock);
		if (!s->switched) {
			s->switched = 1;
			s->t_switched = mig_now_ns();
		}
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return 0;
	case MIG_MSG_RESUMED:
		pthread_mutex_lock(&s->lock);
		if (!s->resumed) {
			s->resumed = 1;
			s->t_resumed = mig_now_ns();
		}
		s->stream = 1;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return 0;
	case MIG_MSG_PREPAUSE_DONE:
		pthread_mutex_lock(&s->lock);
		s->prepause_done = 1;
		s->res->prepause_discarded = r->offset;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return 0;
	case MIG_MSG_COMPLETE:
		pthread_mutex_lock(&s->lock);
		s->complete = 1;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	return MIG_CTRL_NOT_MINE;
}

static void *ctrl_rx_thread(void *arg)
{
	struct src *s = arg;

	mig_conns_ctrl_rx(&s->conns, s->hk, ctrl_record, s, &s->peer_error,
			  s->peer_msg, sizeof(s->peer_msg));
	return NULL;
}

static int heartbeat(void *arg)
{
	return ctrl_send(arg, MIG_MSG_HEARTBEAT, 0, 0, 0, NULL, 0);
}

/* -------------------------------------------------------------------------
 * Epochs: start and stop the channel threads
 */

static int start_threads(struct src *s)
{
	unsigned int i;
	int ret;

	mig_conns_reset(&s->conns);
	for (i = 0; i < s->nch; i++) {
		struct src_chan *ch = &s->ch[i];

		ch->s = s;
		ch->idx = i;
		ch->gen = s->pass_gen;
		ch->used = 0;
		if (!ch->buf) {
			ch->cap = SRC_BUF_PAGES *
				  (sizeof(struct mig_hdr) + s->psz);
			ch->buf = malloc(ch->cap);
			if (!ch->buf) {
				mig_conns_break(&s->conns, -ENOMEM,
						"starting threads");
				return -ENOMEM;
			}
		}
		ret = mig_conns_start_thread(&s->conns, &s->conns.data_th[i],
					     data_thread, ch);
		if (ret)
			return ret;
	}
	return mig_conns_start_ctrl(&s->conns, preempt_thread, ctrl_rx_thread,
				    heartbeat, s);
}

/* -------------------------------------------------------------------------
 * Handshakes
 */

static void reject(struct src *s, int fd, enum mig_status status,
		   const char *reason)
{
	struct mig_welcome w;

	mig_welcome_encode(&w, status, s->id, s->size, s->psz, s->nch, 0,
			   reason);
	mig_send_all(fd, &w, sizeof(w), s->cfg->io_timeout_ms, NULL);
	close(fd);
}

/*
 * The lobby: a thread that accepts connections and reads their hellos
 * for the whole life of the source, from before its setup on.  The
 * engine takes the hellos it waits for (accept_hello()); until it does,
 * a destination that asked for them (MIG_HELLO_HEARTBEAT) gets a
 * heartbeat about every second, so that it can tell a source that is
 * busy (setting up a large region, or on a loaded host) from one that is
 * gone, however long the wait.  Garbage, other versions and peers that
 * send no hello within --io-timeout-ms are turned away here, and so is
 * every hello while the migration runs (busy: a destination coming back
 * retries until the source looks for it).
 */
static void lobby_drop(struct src *s, unsigned int i)
{
	mig_tls_hs_free(s->in[i].hs);
	s->in[i] = s->in[--s->nin];
}

static void lobby_accept(struct src *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct lobby_conn *c;
	char peer[64];
	int fd;

	/* poll() said so; a connection gone meanwhile is simply not there */
	fd = accept4(s->lfd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	mig_format_sockaddr((struct sockaddr *)&ss, peer, sizeof(peer));
	if (s->nin == LOBBY_MAX) {
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s dropped: %u handshakes pending",
			 peer, LOBBY_MAX);
		close(fd);
		return;
	}
	mig_sock_tune(fd, s->cfg->io_timeout_ms, 1);
	c = &s->in[s->nin++];
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if (s->tls) {
		char err[200] = "";

		if (mig_tls_hs_start(s->tls, fd, &c->hs, err, sizeof(err))) {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "connection from %s dropped: %s", peer, err);
			close(fd);
			s->nin--;
			return;
		}
	}
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	c->t_last = mig_now_ns();
}

/* Hello @i is complete: check what the engine need not see, queue it. */
static void lobby_hello(struct src *s, unsigned int i)
{
	struct lobby_conn *c = &s->in[i];
	char dump[64], why[MIG_REASON_LEN];

	if (mig_le32_to_cpu(c->h.magic) != MIG_MAGIC) {
		mig_hexdump(&c->h, 8, dump, sizeof(dump));
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s rejected: not a postcopy-agent destination (bad magic; first bytes %s)%s",
			 c->peer, dump,
			 mig_tls_looks_like_tls((unsigned char *)&c->h) ?
			 ": it speaks TLS, this source runs with --insecure" :
			 "");
		close(c->fd);
		lobby_drop(s, i);
		return;
	}
	if (mig_le16_to_cpu(c->h.version) != MIG_VERSION) {
		snprintf(why, sizeof(why),
			 "the source speaks protocol version %u only",
			 MIG_VERSION);
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s rejected: protocol version %u, this agent speaks %u: use matching postcopy-agent versions",
			 c->peer, mig_le16_to_cpu(c->h.version), MIG_VERSION);
		reject(s, c->fd, MIG_ERR_VERSION, why);
		lobby_drop(s, i);
		return;
	}
	pthread_mutex_lock(&s->lobby_lock);
	if (!s->accepting || s->nready == LOBBY_MAX) {
		pthread_mutex_unlock(&s->lobby_lock);
		snprintf(why, sizeof(why), "migration %.8s... in progress",
			 s->idtxt);
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s rejected: %s", c->peer, why);
		reject(s, c->fd, MIG_ERR_BUSY, why);
		lobby_drop(s, i);
		return;
	}
	c->t_hb = mig_now_ns();
	s->ready[s->nready++] = *c;
	pthread_cond_broadcast(&s->lobby_cond);
	pthread_mutex_unlock(&s->lobby_lock);
	lobby_drop(s, i);
}

/* A step of connection @i's TLS handshake. */
static void lobby_tls(struct src *s, unsigned int i)
{
	struct lobby_conn *c = &s->in[i];
	char err[320] = "";
	int ret;

	ret = mig_tls_hs_step(c->hs, &c->fd, &c->hs_write, err, sizeof(err));
	if (ret == -EAGAIN)
		return;
	c->t_last = mig_now_ns();
	if (ret) {
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s rejected: %s", c->peer, err);
		close(c->fd);
		lobby_drop(s, i);
		return;
	}
	mig_tls_hs_free(c->hs);
	c->hs = NULL;
}

static void lobby_read(struct src *s, unsigned int i)
{
	struct lobby_conn *c = &s->in[i];
	ssize_t n;

	if (c->hs) {
		lobby_tls(s, i);
		return;
	}

	n = recv(c->fd, (char *)&c->h + c->got, sizeof(c->h) - c->got,
		 MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s dropped: no handshake (%s)",
			 c->peer, n ? mig_errstr(-errno) :
			 "closed before sending one");
		close(c->fd);
		lobby_drop(s, i);
		return;
	}
	c->got += n;
	c->t_last = mig_now_ns();
	if (c->got == sizeof(c->h))
		lobby_hello(s, i);
}

/* Heartbeats to the hellos that wait for the engine and asked for them. */
static void lobby_heartbeats(struct src *s, uint64_t now, uint64_t every)
{
	unsigned int i;

	pthread_mutex_lock(&s->lobby_lock);
	for (i = 0; i < s->nready; i++) {
		struct lobby_conn *c = &s->ready[i];
		struct mig_hdr h;
		ssize_t n;

		if (!(mig_le64_to_cpu(c->h.flags) & MIG_HELLO_HEARTBEAT) ||
		    now < c->t_hb + every)
			continue;
		c->t_hb = now;
		mig_hdr_encode(&h, MIG_MSG_HEARTBEAT, 0, 0, 0, 0);
		n = send(c->fd, &h, sizeof(h), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == sizeof(h))
			continue;
		/* gone, or a header cut in half: the stream is lost */
		mig_logf(s->hk, MIG_LOG_WARN,
			 "connection from %s dropped while it waited: %s",
			 c->peer, n < 0 ? mig_errstr(-errno) : "short write");
		close(c->fd);
		s->ready[i--] = s->ready[--s->nready];
	}
	pthread_mutex_unlock(&s->lobby_lock);
}

static void *lobby_thread(void *arg)
{
	struct src *s = arg;
	uint64_t every = (uint64_t)mig_heartbeat_ms(s->cfg->io_timeout_ms) *
			 1000000ULL;
	uint64_t limit = (uint64_t)s->cfg->io_timeout_ms * 1000000ULL;
	struct pollfd pfd[LOBBY_MAX + 1];

	while (!__atomic_load_n(&s->lobby_stop, __ATOMIC_ACQUIRE)) {
		unsigned int i, n = s->nin;
		uint64_t now;
		int ret;

		pfd[0].fd = s->lfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < n; i++) {
			pfd[i + 1].fd = s->in[i].fd;
			pfd[i + 1].events = s->in[i].hs_write ? POLLOUT :
								  POLLIN;
		}
		ret = poll(pfd, n + 1, MIG_TICK_MS);
		if (ret < 0 && errno != EINTR) {
			pthread_mutex_lock(&s->lobby_lock);
			s->lobby_err = -errno;
			pthread_cond_broadcast(&s->lobby_cond);
			pthread_mutex_unlock(&s->lobby_lock);
			break;
		}
		if (ret <= 0)
			for (i = 0; i <= n; i++)
				pfd[i].revents = 0;
		now = mig_now_ns();
		/* downwards: a dropped entry takes the last one's place */
		for (i = n; i-- > 0;) {
			if (pfd[i + 1].revents)
				lobby_read(s, i);
			else if (s->cfg->io_timeout_ms > 0 &&
				 now - s->in[i].t_last > limit) {
				mig_logf(s->hk, MIG_LOG_WARN,
					 "connection from %s dropped: no handshake within %d ms (--io-timeout-ms)",
					 s->in[i].peer, s->cfg->io_timeout_ms);
				close(s->in[i].fd);
				lobby_drop(s, i);
			}
		}
		if (pfd[0].revents & POLLIN)
			lobby_accept(s);
		lobby_heartbeats(s, now, every);
	}
	return NULL;
}

static int lobby_start(struct src *s)
{
	s->accepting = 1;
	return mig_thread_start(&s->lobby_th, lobby_thread, s,
				&s->lobby_running);
}

static void lobby_stop(struct src *s)
{
	unsigned int i;

	if (s->lobby_running) {
		__atomic_store_n(&s->lobby_stop, 1, __ATOMIC_RELEASE);
		pthread_join(s->lobby_th, NULL);
		s->lobby_running = 0;
	}
	for (i = 0; i < s->nin; i++) {
		mig_tls_hs_free(s->in[i].hs);
		close(s->in[i].fd);
	}
	s->nin = 0;
	for (i = 0; i < s->nready; i++)
		close(s->ready[i].fd);
	s->nready = 0;
}

/*
 * Whether the engine looks for hellos.  When it stops, what waits is
 * answered busy: a destination retries those.
 */
static void set_accepting(struct src *s, int on)
{
	unsigned int i;

	pthread_mutex_lock(&s->lobby_lock);
	s->accepting = on;
	if (!on) {
		for (i = 0; i < s->nready; i++)
			reject(s, s->ready[i].fd, MIG_ERR_BUSY,
			       "not waiting for this connection");
		s->nready = 0;
	}
	pthread_mutex_unlock(&s->lobby_lock);
}

/*
 * The next hello of our version that the lobby read, in arrival order.
 * -ETIMEDOUT after @deadline_ns.
 */
static int accept_hello(struct src *s, uint64_t deadline_ns, int *fdp,
			struct mig_hello *h, char *peer, size_t peer_len)
{
	int ret = 0;

	pthread_mutex_lock(&s->lobby_lock);
	for (;;) {
		uint64_t now = mig_now_ns(), left;

		if (s->nready) {
			struct lobby_conn c = s->ready[0];

			memmove(&s->ready[0], &s->ready[1],
				--s->nready * sizeof(s->ready[0]));
			*fdp = c.fd;
			*h = c.h;
			snprintf(peer, peer_len, "%s", c.peer);
			break;
		}
		if (s->lobby_err) {
			ret = s->lobby_err;
			break;
		}
		if (mig_cancelled(s->cfg)) {
			ret = -ECANCELED;
			break;
		}
		if (now >= deadline_ns) {
			ret = -ETIMEDOUT;
			break;
		}
		left = MIG_MIN(deadline_ns - now,
			       (uint64_t)MIG_TICK_MS * 1000000ULL);
		mig_cond_wait_ns(&s->lobby_cond, &s->lobby_lock, left);
	}
	pthread_mutex_unlock(&s->lobby_lock);
	return ret;
}

static int send_welcome(struct src *s, int fd)
{
	struct mig_welcome w;

	mig_welcome_encode(&w, MIG_OK, s->id, s->size, s->psz, s->nch,
			   s->postcopy ? MIG_WELCOME_POSTCOPY : 0, NULL);
	return mig_send_all(fd, &w, sizeof(w), s->cfg->io_timeout_ms, NULL);
}

/*
 * A control connection: a new destination (@resume 0) or one coming back
 * (@resume 1, same id).  Others are answered with an error and the wait
 * goes on.
 */
/*
 * The channels that push in postcopy, from the destination's count:
 * mig_config.postcopy_channels of them (0 or more than there are: all),
 * or, by default (MIG_POSTCOPY_CHANNELS_AUTO), one that may widen to all
 * (widen_look()), unless a rate cap limits the push on purpose.
 */
static void set_postcopy_channels(struct src *s)
{
	unsigned int want = s->cfg->postcopy_channels;

	s->post_widen = want == MIG_POSTCOPY_CHANNELS_AUTO &&
			!s->cfg->push_max_rate;
	if (want == MIG_POSTCOPY_CHANNELS_AUTO)
		want = 1;
	s->post_nch = want && want < s->nch ? want : s->nch;
	s->post_active = s->post_nch;
}

static int accept_control(struct src *s, uint64_t deadline_ns, int resume)
{
	for (;;) {
		struct mig_hello h;
		char peer[64], why[MIG_REASON_LEN];
		uint64_t flags;
		int fd, ret;

		ret = accept_hello(s, deadline_ns, &fd, &h, peer, sizeof(peer));
		if (ret)
			return ret;
		flags = mig_le64_to_cpu(h.flags);
		if (mig_le16_to_cpu(h.chan) != MIG_CHAN_CONTROL) {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "connection from %s rejected: channel type %u before the control channel",
				 peer, mig_le16_to_cpu(h.chan));
			reject(s, fd, MIG_ERR_STATE,
			       "no control channel for this migration");
			continue;
		}
		if (!!(flags & MIG_HELLO_RESUME) != resume) {
			snprintf(why, sizeof(why), resume ?
				 "migration %.8s... in progress" :
				 "no migration to resume: start afresh",
				 s->idtxt);
			mig_logf(s->hk, MIG_LOG_WARN,
				 "connection from %s rejected: %s", peer, why);
			reject(s, fd, resume ? MIG_ERR_BUSY : MIG_ERR_ID, why);
			continue;
		}
		/* an id of zeros means "any" on a first connection */
		if ((resume || memcmp(h.id, (uint8_t[MIG_ID_LEN]){ 0 },
				      MIG_ID_LEN)) &&
		    memcmp(h.id, s->id, MIG_ID_LEN)) {
			char theirs[2 * MIG_ID_LEN + 1];

			mig_format_id(h.id, theirs);
			snprintf(why, sizeof(why), "this source serves %s",
				 s->idtxt);
			mig_logf(s->hk, MIG_LOG_WARN,
				 "connection from %s rejected: it wants migration %s, this source serves %s",
				 peer, theirs, s->idtxt);
			reject(s, fd, MIG_ERR_ID, why);
			continue;
		}
		if (mig_le64_to_cpu(h.region_size) != s->size ||
		    mig_le32_to_cpu(h.page_size) != s->psz) {
			snprintf(why, sizeof(why),
				 "source region: %llu bytes, %u-byte pages",
				 (unsigned long long)s->size, s->psz);
			mig_logf(s->hk, MIG_LOG_ERROR,
				 "destination %s rejected: its region is %llu bytes with %u-byte pages, the source's %llu bytes with %u-byte pages: create the destination region with the source's size",
				 peer,
				 (unsigned long long)mig_le64_to_cpu(h.region_size),
				 mig_le32_to_cpu(h.page_size),
				 (unsigned long long)s->size, s->psz);
			reject(s, fd, MIG_ERR_SIZE, why);
			continue;
		}
		s->peer_prepause = !!(flags & MIG_HELLO_PREPAUSE);
		if (!resume) {
			s->nch = mig_le32_to_cpu(h.nchannels);
			if (!s->nch)
				s->nch = 1;
			if (s->nch > MIG_MAX_CHANNELS)
				s->nch = MIG_MAX_CHANNELS;
			set_postcopy_channels(s);
		}
		ret = send_welcome(s, fd);
		if (ret) {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "destination %s: sending the welcome: %s",
				 peer, mig_errstr(ret));
			close(fd);
			continue;
		}
		mig_logf(s->hk, MIG_LOG_INFO,
			 "destination %s %s migration %s, %u data channels",
			 peer, resume ? "resumed" : "joined", s->idtxt, s->nch);
		s->conns.ctrl = fd;
		return 0;
	}
}

/*
 * The data and preempt channels of the control connection just taken;
 * each must come within --io-timeout-ms of the one before.
 */
static int accept_channels(struct src *s)
{
	uint64_t silence = (uint64_t)s->cfg->io_timeout_ms * 1000000ULL;
	uint64_t deadline = mig_now_ns() + silence;
	unsigned int need = s->nch + 1;

	while (need) {
		struct mig_hello h;
		char peer[64];
		unsigned int chan, idx;
		int fd, ret;

		ret = accept_hello(s, deadline, &fd, &h, peer, sizeof(peer));
		if (ret)
			return ret;
		chan = mig_le16_to_cpu(h.chan);
		idx = mig_le32_to_cpu(h.index);
		if (memcmp(h.id, s->id, MIG_ID_LEN)) {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "connection from %s rejected: another migration id",
				 peer);
			reject(s, fd, MIG_ERR_ID, "unknown migration id");
			continue;
		}
		if (chan == MIG_CHAN_DATA && idx < s->nch &&
		    s->conns.data[idx] < 0) {
			s->conns.data[idx] = fd;
			if (s->cfg->push_max_rate)
				set_max_rate(fd, s->cfg->push_max_rate /
						 s->nch);
			mig_sock_tune_push(fd, s->push_cc,
					   s->cfg->push_lowat);
		} else if (chan == MIG_CHAN_PREEMPT && s->conns.pre < 0) {
			s->conns.pre = fd;
		} else {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "connection from %s rejected: channel %u index %u unexpected",
				 peer, chan, idx);
			reject(s, fd, chan == MIG_CHAN_CONTROL ? MIG_ERR_BUSY :
				      MIG_ERR_CHANNEL, "unexpected channel");
			continue;
		}
		ret = send_welcome(s, fd);
		if (ret)
			return ret;
		need--;
		deadline = mig_now_ns() + silence;
	}
	return 0;
}

/* -------------------------------------------------------------------------
 * Passes and recovery
 */

static int recover(struct src *s, int *need_switchover);

/* Wait with the lock held for @done, the epoch's end, or the peer's word. */
static int wait_locked(struct src *s, int (*done)(struct src *))
{
	while (!done(s)) {
		if (s->peer_error)
			return -EREMOTEIO;
		if (s->conns.broken)
			return -EPIPE;
		if (mig_cancelled(s->cfg))
			return -ECANCELED;
		timed_wait(s);
		pthread_mutex_unlock(&s->lock);
		progress(s, 0);
		pthread_mutex_lock(&s->lock);
	}
	return 0;
}

static int pass_finished(struct src *s)
{
	return s->pass_done >= s->nch;
}

static int run_pass(struct src *s, enum pass_mode mode, enum pass_kind kind)
{
	int ret;

	pthread_mutex_lock(&s->lock);
	s->pass_mode = mode;
	s->pass_kind = kind;
	s->pass_done = 0;
	s->pass_gen++;
	pthread_cond_broadcast(&s->cond);
	ret = mode == PASS_POSTCOPY ? 0 : wait_locked(s, pass_finished);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* A pass, again after each recovery, until it completes. */
static int run_pass_retry(struct src *s, enum pass_mode mode,
			  enum pass_kind kind, int *need_switchover)
{
	int ret;

	for (;;) {
		ret = run_pass(s, mode, kind);
		if (ret != -EPIPE)
			return ret;
		ret = recover(s, need_switchover);
		if (ret)
			return ret;
	}
}

/* Merge what a returning destination holds into pending. */
static int merge_received(struct src *s, int *need_switchover)
{
	uint64_t len = s->pages * sizeof(uint32_t), p, lacks = 0;
	struct mig_rec r;
	uint32_t *dv;
	int ret, switched;

	ret = mig_recv_hdr(s->conns.ctrl, &r, s->cfg->io_timeout_ms,
			   s->cfg->io_timeout_ms, NULL);
	if (ret)
		return ret;
	if (r.type != MIG_MSG_RECEIVED || r.len != len) {
		mig_logf(s->hk, MIG_LOG_ERROR,
			 "resuming destination sent %s (%u bytes), not its %llu page versions",
			 mig_msg_name(r.type), r.len,
			 (unsigned long long)s->pages);
		return -EPROTO;
	}
	dv = malloc(len);
	if (!dv)
		return -ENOMEM;
	ret = mig_recv_all(s->conns.ctrl, dv, len, s->cfg->io_timeout_ms, NULL);
	if (ret) {
		free(dv);
		return ret;
	}
	switched = r.flags & MIG_RECV_SWITCHED;
	if (switched && !s->postcopy) {
		free(dv);
		mig_logf(s->hk, MIG_LOG_ERROR,
			 "resuming destination claims a switchover that never happened");
		return -EPROTO;
	}
	for (p = 0; p < s->pages; p++) {
		uint32_t v = mig_le32_to_cpu(dv[p]);

		if (switched) {
			/* everything it holds is final */
			if (v)
				mig_clear_bit(s->pending, p);
			else
				mig_set_bit(s->pending, p);
		} else if (v != s->ver[p]) {
			/* lost in flight, or an older copy */
			mig_set_bit(s->pending, p);
		}
		lacks += !v;
	}
	free(dv);
	/* the destination never saw the switchover: it is sent again */
	if (s->postcopy && !switched)
		*need_switchover = 1;
	pthread_mutex_lock(&s->lock);
	if (switched) {
		/* SWITCHED or RESUMED may be lost: stream all the same */
		if (!s->switched) {
			s->switched = 1;
			s->t_switched = mig_now_ns();
		}
		s->stream = 1;
	}
	/* it has everything: its COMPLETE was lost with the connection */
	if (switched && !lacks)
		s->complete = 1;
	pthread_mutex_unlock(&s->lock);
	mig_logf(s->hk, MIG_LOG_INFO,
		 "destination holds %llu of %llu pages; %llu to send",
		 (unsigned long long)(s->pages - lacks),
		 (unsigned long long)s->pages,
		 (unsigned long long)mig_bitmap_weight(s->pending, s->words));
	return 0;
}

/* After a break: stop the epoch, wait for the destination to come back. */
static int recover(struct src *s, int *need_switchover)
{
	enum mig_phase was = s->phase;
	uint64_t deadline;
	char why[256];
	int ret;

	snprintf(why, sizeof(why), "%s", s->conns.broken_why);
	mig_conns_stop(&s->conns);
	if (s->peer_error)
		return -EREMOTEIO;
	set_accepting(s, 1);
	mig_logf(s->hk, MIG_LOG_WARN,
		 "connection to the destination lost (%s); waiting up to %d s (--recover-timeout-ms) for it to come back",
		 why, s->cfg->recover_timeout_ms / 1000);
	set_phase(s, MIG_PHASE_RECOVERING);
	deadline = mig_now_ns() +
		   (uint64_t)s->cfg->recover_timeout_ms * 1000000ULL;
	for (;;) {
		ret = accept_control(s, deadline, 1);
		if (ret == -ETIMEDOUT) {
			mig_set_error(s->res, 0,
				      "the destination did not come back within %d s (--recover-timeout-ms) after the connection broke (%s); the source still holds a complete copy",
				      s->cfg->recover_timeout_ms / 1000, why);
			return ret;
		}
		if (ret)
			return ret;
		ret = accept_channels(s);
		if (!ret)
			ret = merge_received(s, need_switchover);
		if (!ret)
			break;
		mig_logf(s->hk, MIG_LOG_WARN, "resume failed: %s",
			 mig_errstr(ret));
		mig_conns_close(&s->conns);
	}
	set_accepting(s, 0);
	s->res->reconnects++;
	ret = start_threads(s);
	if (ret)
		return ret;
	set_phase(s, was);
	return 0;
}

/* -------------------------------------------------------------------------
 * Phases
 */

/*
 * Move the dirty log into pending: the number of pages it held.  @clear:
 * the pages reported are tracked again (write-protected, a cost per
 * page); the last read, with the VMM paused and tracking about to go
 * off, leaves them as they are.
 */
static int read_dirty(struct src *s, int clear, uint64_t *count)
{
	uint64_t i;
	int ret;

	ret = pca_fd_dirty_log(s->fd, 0, s->pages * s->psz,
			       clear ? PCA_DIRTY_CLEAR : 0, s->dirty_bm,
			       pca_bitmap_bytes(s->pages), count);
	if (ret) {
		mig_set_error(s->res, 0, "reading the dirty log: %s",
			      mig_errstr(ret));
		return ret;
	}
	for (i = 0; i < s->words; i++)
		if (s->dirty_bm[i])
			__atomic_fetch_or(&s->pending[i], s->dirty_bm[i],
					  __ATOMIC_RELAXED);
	return 0;
}

static int fetch_dirty(struct src *s, uint64_t *count)
{
	return read_dirty(s, 1, count);
}

static int dirty_count(struct src *s, uint64_t *count)
{
	return pca_fd_dirty_log(s->fd, 0, s->pages * s->psz,
				PCA_DIRTY_COUNT_ONLY, NULL, 0, count);
}

/* pages left that count as converged however slow the link */
#define PRECOPY_MIN_THRESHOLD	64

static int precopy(struct src *s, uint64_t *threshold)
{
	uint64_t t_round = mig_now_ns(), t0 = t_round;
	unsigned int round;
	int ret, dummy = 0;

	ret = pca_dirty_track(s->nl, s->cfg->region_id, 1);
	if (ret) {
		mig_set_error(s->res, 0,
			      "enabling dirty tracking on region %u: %s",
			      s->cfg->region_id, pca_strerror(s->nl));
		return ret;
	}
	__atomic_store_n(&s->tracking, 1, __ATOMIC_RELEASE);
	set_phase(s, MIG_PHASE_PRECOPY);
	for (round = 1; round <= s->max_rounds; round++) {
		uint64_t b0 = get(&s->bytes), dirty = 0, left, now, bw;

		s->round = round;
		if (round > 1) {
			ret = fetch_dirty(s, &dirty);
			if (ret)
				return ret;
			now = mig_now_ns();
			s->dirty_rate = now > t_round ?
					(double)dirty * 1e9 / (now - t_round) :
					0;
		}
		t_round = mig_now_ns();
		/* best effort: the destination shows the round */
		ctrl_send(s, MIG_MSG_ROUND, 0, 0, round, NULL, 0);
		ret = run_pass_retry(s, PASS_SEND, KIND_PRECOPY, &dummy);
		if (ret)
			return ret;
		s->res->rounds = round;
		now = mig_now_ns();
		bw = (get(&s->bytes) - b0) * 1000000000ULL /
		     MIG_MAX(now - t_round, 1);
		*threshold = MIG_MAX(PRECOPY_MIN_THRESHOLD,
				     bw / (s->psz + sizeof(struct mig_hdr)) *
				     s->cfg->downtime_ms / 1000);
		ret = dirty_count(s, &left);
		if (ret) {
			mig_set_error(s->res, 0, "reading the dirty log: %s",
				      mig_errstr(ret));
			return ret;
		}
		left += mig_bitmap_weight(s->pending, s->words);
		mig_logf(s->hk, MIG_LOG_DEBUG,
			 "round %u: %llu dirty, %llu left, threshold %llu pages",
			 round, (unsigned long long)dirty,
			 (unsigned long long)left,
			 (unsigned long long)*threshold);
		if (left <= *threshold)
			break;
		if (s->cfg->precopy_budget_ms &&
		    now - t0 >= (uint64_t)s->cfg->precopy_budget_ms * 1000000ULL) {
			mig_logf(s->hk, MIG_LOG_INFO,
				 "precopy time budget of %u ms used up after round %u",
				 s->cfg->precopy_budget_ms, round);
			break;
		}
	}
	s->res->precopy_ns = mig_now_ns() - t0;
	return 0;
}

/* The send set as a bitmap on the wire (little-endian words) in @bm. */
static void pending_to_wire(struct src *s, uint64_t *bm)
{
	uint64_t i;

	for (i = 0; i < s->words; i++)
		bm[i] = __atomic_load_n(&s->pending[i], __ATOMIC_RELAXED);
	mig_bitmap_to_le(bm, s->words);
}

/*
 * The discard before the pause (wire.h, MIG_MSG_PREPAUSE): the dirty log
 * read once more while the VMM runs, sent as a bitmap; the destination
 * makes those copies missing now, so that the switchover's discard holds
 * only what is written between this read and the pause.  The pages stay
 * pending: the switchover's bitmap names them again and decides.  Best
 * effort: a broken connection, or no answer within --io-timeout-ms, and
 * the switchover does it all.
 */
static int prepause_discard(struct src *s, uint64_t copy_max)
{
	uint64_t named, t0 = mig_now_ns(), deadline, *bm;
	int ret, broken, dummy = 0;

	if (s->cfg->no_prepause_discard || s->cfg->no_postcopy ||
	    !s->peer_prepause || !s->tracking)
		return 0;
	ret = fetch_dirty(s, &named);
	if (ret)
		return ret;
	named = mig_bitmap_weight(s->pending, s->words);
	/* sent while paused anyway: nothing to discard */
	if (named <= copy_max)
		return 0;
	bm = malloc(s->words * sizeof(*bm));
	if (!bm)
		return 0;
	pending_to_wire(s, bm);
	pthread_mutex_lock(&s->lock);
	s->prepause_done = 0;
	pthread_mutex_unlock(&s->lock);
	ret = ctrl_send(s, MIG_MSG_PREPAUSE, 0, named, 0, bm,
			s->words * sizeof(*bm));
	free(bm);
	if (ret) {
		if (!mig_conns_broken(&s->conns))
			mig_conns_break(&s->conns, ret, "control channel");
		/* back together before the pause, not inside it */
		return recover(s, &dummy);
	}
	s->res->prepause_named = named;
	deadline = t0 + (uint64_t)s->cfg->io_timeout_ms * 1000000ULL;
	pthread_mutex_lock(&s->lock);
	while (!s->prepause_done && !s->conns.broken && !s->peer_error &&
	       !mig_cancelled(s->cfg) && mig_now_ns() < deadline) {
		timed_wait(s);
		pthread_mutex_unlock(&s->lock);
		progress(s, 0);
		pthread_mutex_lock(&s->lock);
	}
	broken = s->conns.broken;
	pthread_mutex_unlock(&s->lock);
	s->res->prepause_ns = mig_now_ns() - t0;
	mig_logf(s->hk, MIG_LOG_DEBUG,
		 "before the pause: %llu pages named stale, %llu copies made missing in %llu us%s",
		 (unsigned long long)named,
		 (unsigned long long)s->res->prepause_discarded,
		 (unsigned long long)(s->res->prepause_ns / 1000),
		 s->prepause_done ? "" : " (no answer: the switchover does it)");
	return broken && !s->peer_error ? recover(s, &dummy) : 0;
}

static int completed(struct src *s)
{
	return s->complete;
}

static int got_switched(struct src *s)
{
	return s->switched;
}

static int may_stream(struct src *s)
{
	return s->stream;
}

/*
 * Paused: END_PRECOPY on the preempt channel, after every answer read
 * while the VMM still ran.
 */
static int end_answers(struct src *s)
{
	int ret;

	pthread_mutex_lock(&s->pre_tx);
	ret = mig_send_rec(s->conns.pre, MIG_MSG_END_PRECOPY, 0, 0, 0, NULL,
			   0, s->cfg->io_timeout_ms, &s->conns.broken);
	pthread_mutex_unlock(&s->pre_tx);
	if (!ret) {
		add(&s->bytes, sizeof(struct mig_hdr));
		return 0;
	}
	if (!mig_conns_broken(&s->conns))
		mig_conns_break(&s->conns, ret, "preempt channel");
	return -EPIPE;
}

/*
 * Paused: END_PRECOPY on every data channel, sent from here: between
 * passes the data threads only wait (every pass, and a recovery's new
 * threads, start and end idle), and four sends from one thread cost less
 * downtime than waking four threads on a busy host.
 */
static int end_channels(struct src *s)
{
	unsigned int i;
	int ret;

	for (i = 0; i < s->nch; i++) {
		ret = mig_send_rec(s->conns.data[i], MIG_MSG_END_PRECOPY, 0, 0,
				   0, NULL, 0, s->cfg->io_timeout_ms,
				   &s->conns.broken);
		if (ret) {
			if (!mig_conns_broken(&s->conns))
				mig_conns_break(&s->conns, ret,
						"data channel %u", i);
			return -EPIPE;
		}
		add(&s->bytes, sizeof(struct mig_hdr));
	}
	return 0;
}

/* Dirty tracking off, once the VMM is paused and the log read. */
static void stop_tracking(struct src *s)
{
	if (!s->tracking)
		return;
	pca_dirty_track(s->nl, s->cfg->region_id, 0);
	__atomic_store_n(&s->tracking, 0, __ATOMIC_RELEASE);
}

static int switchover_and_postcopy(struct src *s, uint64_t copy_max)
{
	int need_switchover = 1, told = 0, ret;
	uint64_t left, *bm, t_paused;

	set_phase(s, MIG_PHASE_SWITCHOVER);
	s->t_pause = mig_now_ns();
	if (s->hk->pause) {
		ret = s->hk->pause(s->hk->arg);
		if (ret) {
			mig_set_error(s->res, 0,
				      "the VMM could not pause: %s",
				      mig_errstr(ret));
			return ret;
		}
	}
	__atomic_store_n(&s->paused, 1, __ATOMIC_RELEASE);
	t_paused = mig_now_ns();
	s->res->sw_pause_ns = t_paused - s->t_pause;
	/*
	 * The last read of the dirty log, which re-arms nothing; tracking
	 * goes off once the switchover is sent (stop_tracking()), outside
	 * the downtime: the VMM is paused, nothing writes.
	 */
	if (s->tracking) {
		ret = read_dirty(s, 0, &left);
		if (ret) {
			stop_tracking(s);
			return ret;
		}
	}
	left = mig_bitmap_weight(s->pending, s->words);
	if (left && s->max_rounds &&
	    (s->cfg->no_postcopy || left <= copy_max)) {
		ret = run_pass_retry(s, PASS_SEND, KIND_STOPCOPY,
				     &need_switchover);
		if (ret) {
			stop_tracking(s);
			return ret;
		}
	}
	s->res->discarded = mig_bitmap_weight(s->pending, s->words);

	bm = malloc(s->words * sizeof(*bm));
	if (!bm) {
		stop_tracking(s);
		return -ENOMEM;
	}
	for (;;) {
		if (need_switchover) {
			ret = end_answers(s);
			if (!ret)
				ret = end_channels(s);
			if (!ret) {
				pending_to_wire(s, bm);
				ret = ctrl_send(s, MIG_MSG_SWITCHOVER, 0,
						mig_bitmap_weight(s->pending,
								  s->words),
						0, bm, s->words * sizeof(*bm));
				if (ret && !mig_conns_broken(&s->conns))
					mig_conns_break(&s->conns, ret,
							"control channel");
				if (ret)
					ret = -EPIPE;
			}
			if (!ret) {
				need_switchover = 0;
				s->postcopy = 1;
				/* a recovery's resend counts from the pause */
				s->res->sw_final_pass_ns = mig_now_ns() -
							   t_paused;
			}
		}
		/* after the switchover went out: outside the downtime */
		stop_tracking(s);
		if (!ret) {
			pthread_mutex_lock(&s->lock);
			ret = wait_locked(s, got_switched);
			pthread_mutex_unlock(&s->lock);
		}
		if (!ret && !told) {
			told = 1;
			set_phase(s, MIG_PHASE_POSTCOPY);
			if (s->hk->switched)
				s->hk->switched(s->hk->arg);
		}
		/* the VMM's device state first: it holds the guest up */
		if (!ret) {
			pthread_mutex_lock(&s->lock);
			ret = wait_locked(s, may_stream);
			pthread_mutex_unlock(&s->lock);
		}
		if (!ret)
			ret = run_pass(s, PASS_POSTCOPY, KIND_PRECOPY);
		if (!ret) {
			pthread_mutex_lock(&s->lock);
			ret = wait_locked(s, completed);
			pthread_mutex_unlock(&s->lock);
		}
		if (!ret)
			break;
		if (ret != -EPIPE)
			break;
		ret = recover(s, &need_switchover);
		if (ret)
			break;
	}
	free(bm);
	return ret;
}

/*
 * How many pages the switchover may send while paused, from precopy's
 * @threshold (what the last round's bandwidth sends in --downtime-ms):
 * half of it.  The other half is for what every switchover costs besides
 * the copy (the VMM's pause and resume, the last read of the dirty log,
 * the channel ends and the bitmap); a copy of the whole budget overshot
 * the target by those.  What is left above it goes to postcopy, most of
 * it made missing before the pause.  Never below the convergence floor.
 */
static uint64_t stopcopy_limit(uint64_t threshold)
{
	return MIG_MAX(MIG_MIN(threshold, PRECOPY_MIN_THRESHOLD),
		       threshold / 2);
}

static int migrate(struct src *s)
{
	uint64_t threshold = 0, copy_max = 0;
	int ret;

	if (s->max_rounds) {
		ret = precopy(s, &threshold);
		copy_max = stopcopy_limit(threshold);
		if (!ret)
			ret = prepause_discard(s, copy_max);
		if (ret)
			return ret;
	}
	ret = switchover_and_postcopy(s, copy_max);
	if (ret)
		return ret;
	if (s->switched && s->t_switched > s->t_pause)
		s->res->downtime_ns = s->t_switched - s->t_pause;
	if (s->resumed && s->t_resumed > s->t_pause)
		s->res->guest_downtime_ns = s->t_resumed - s->t_pause;
	return 0;
}

/* -------------------------------------------------------------------------
 * Entry
 */

static void fill_result(struct src *s)
{
	struct mig_result *r = s->res;

	r->broken_ns = mig_conns_broken_ns(&s->conns, 0);
	r->precopy_pages = get(&s->precopy_pages);
	r->precopy_zero = get(&s->precopy_zero);
	r->stopcopy_pages = get(&s->stop_pages);
	r->postcopy_pages = get(&s->post_pages);
	r->urgent_pages = get(&s->urgent_pages);
	r->bytes_sent = get(&s->bytes);
	memcpy(r->push_cc, s->cc, sizeof(r->push_cc));
	pthread_mutex_lock(&s->lock);
	memcpy(r->postcopy_cc, s->post_cc_used, sizeof(r->postcopy_cc));
	pthread_mutex_unlock(&s->lock);
	r->postcopy_pushers =
		__builtin_popcountll(get(&s->post_pushers));
	if (s->t_start)
		r->total_ns = mig_now_ns() - s->t_start;
}

/*
 * The data channels' congestion control, and the postcopy push's, once
 * (a name the kernel lacks may cost a modprobe, which a channel's
 * handshake must not wait for), after the lobby is up: a destination
 * that connects meanwhile gets heartbeats.
 */
static void setup_cc(struct src *s)
{
	const char *cc = s->cfg->push_cc, *pcc = s->cfg->postcopy_cc;
	int ret;

	s->post_cc = NULL;
	if (pcc && *pcc) {
		ret = mig_cc_probe(pcc, NULL, 0);
		if (ret)
			mig_logf(s->hk, MIG_LOG_INFO,
				 "congestion control %s not available (%s): the postcopy push keeps the data channels'",
				 pcc, strerror(-ret));
		else
			s->post_cc = pcc;
	}
	ret = mig_cc_probe(cc, s->cc, sizeof(s->cc));

	s->push_cc = ret ? NULL : cc;
	if (ret)
		mig_logf(s->hk, MIG_LOG_INFO,
			 "congestion control %s not available (%s): the data channels use the system's, %s",
			 cc, strerror(-ret), *s->cc ? s->cc : "unknown");
	else
		mig_logf(s->hk, MIG_LOG_INFO,
			 "data channels: congestion control %s",
			 *s->cc ? s->cc : "unknown");
}

/*
 * The id and the listening socket, with the lobby on it, before anything
 * that may take long: a destination that connects meanwhile gets
 * heartbeats, not silence.
 */
static int setup_listen(struct src *s)
{
	const struct mig_config *cfg = s->cfg;
	char err[320] = "";
	int ret;

	if (cfg->have_id)
		memcpy(s->id, cfg->id, MIG_ID_LEN);
	else
		mig_random_id(s->id);
	memcpy(s->res->id, s->id, MIG_ID_LEN);
	mig_format_id(s->id, s->idtxt);
	s->psz = sysconf(_SC_PAGESIZE);

	ret = mig_tls_open(cfg, MIG_SOURCE, &s->tls, err, sizeof(err));
	if (ret) {
		mig_set_error(s->res, 0, "%s", err);
		return ret;
	}
	s->res->tls = cfg->tls;
	if (cfg->listen_fd >= 0) {
		s->lfd = cfg->listen_fd;
	} else {
		char bound[64];

		ret = mig_listen(cfg->addr, &s->lfd, bound, sizeof(bound),
				 err, sizeof(err));
		if (ret) {
			mig_set_error(s->res, 0, "%s", err);
			return ret;
		}
		s->own_lfd = 1;
		mig_logf(s->hk, MIG_LOG_INFO, "listening on %s", bound);
	}
	ret = lobby_start(s);
	if (ret)
		mig_set_error(s->res, 0, "starting the lobby thread: %s",
			      mig_errstr(ret));
	return ret;
}

static int setup(struct src *s)
{
	const struct mig_config *cfg = s->cfg;
	int64_t size;
	int ret;

	if (cfg->region_fd < 0) {
		mig_set_error(s->res, 0,
			      "the source needs the region fd (--region-fd): pages are read from a mapping of it");
		return -EINVAL;
	}
	s->fd = cfg->region_fd;
	size = cfg->region_size;
	if (!size) {
		size = pca_fd_region_size(s->fd);
		if (size <= 0) {
			mig_set_error(s->res, 0,
				      "cannot tell the region's size from fd %d (%s): give it with --size",
				      s->fd, size < 0 ? mig_errstr(size) :
				      "size 0");
			return size < 0 ? (int)size : -EINVAL;
		}
	}
	if (size % s->psz) {
		mig_set_error(s->res, 0,
			      "region size %lld is not a multiple of the page size %u",
			      (long long)size, s->psz);
		return -EINVAL;
	}
	s->size = size;
	s->pages = size / s->psz;
	s->words = (s->pages + 63) / 64;
	s->res->pages = s->pages;
	s->res->page_size = s->psz;

	s->mem = mmap(NULL, s->size, PROT_READ, MAP_SHARED, s->fd, 0);
	if (s->mem == MAP_FAILED) {
		ret = -errno;
		s->mem = NULL;
		mig_set_error(s->res, 0,
			      "cannot map the region (fd %d): %s: is it a postcopy_assist region fd?",
			      s->fd, mig_errstr(ret));
		return ret;
	}
	s->pending = calloc(s->words, sizeof(uint64_t));
	s->dirty_bm = calloc(s->words, sizeof(uint64_t));
	s->ver = calloc(s->pages, sizeof(uint32_t));
	if (!s->pending || !s->dirty_bm || !s->ver) {
		mig_set_error(s->res, 0, "out of memory for %llu pages",
			      (unsigned long long)s->pages);
		return -ENOMEM;
	}
	memset(s->pending, 0xff, s->words * sizeof(uint64_t));
	if (s->pages % 64)
		s->pending[s->words - 1] = (1ULL << (s->pages % 64)) - 1;

	s->max_rounds = cfg->max_rounds;
	if (cfg->max_rounds) {
		struct pca_api a;

		ret = pca_dev_api(s->fd, PCA_API_VERSION,
				  PCA_FEATURE_DIRTY_LOG, &a);
		if (ret) {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "the module has no dirty log: no precopy, the migration is postcopy only");
			s->max_rounds = 0;
		} else if (!cfg->region_id) {
			mig_set_error(s->res, 0,
				      "precopy needs the region id (--region-id) to switch dirty tracking on; or use --rounds 0 for postcopy only");
			return -EINVAL;
		} else {
			ret = pca_client_open(&s->nl);
			if (ret) {
				mig_set_error(s->res, 0, "netlink: %s",
					      pca_strerror(NULL));
				return ret;
			}
		}
	}

	return 0;
}

static void teardown(struct src *s)
{
	unsigned int i;

	if (s->conns.threads)
		mig_conns_stop(&s->conns);
	mig_conns_close(&s->conns);
	lobby_stop(s);
	if (s->tracking)
		pca_dirty_track(s->nl, s->cfg->region_id, 0);
	pca_client_close(s->nl);
	if (s->own_lfd && s->lfd >= 0)
		close(s->lfd);
	if (s->mem)
		munmap((void *)s->mem, s->size);
	for (i = 0; i < MIG_MAX_CHANNELS; i++)
		free(s->ch[i].buf);
	free(s->pending);
	free(s->dirty_bm);
	free(s->ver);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->ctrl_tx);
	pthread_mutex_destroy(&s->pre_tx);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lobby_lock);
	pthread_cond_destroy(&s->lobby_cond);
}

int mig_source_run(const struct mig_config *cfg, struct mig_result *res)
{
	struct mig_wire_stats ws;
	struct src *s;
	int ret;

	s = mig_run_alloc(res, MIG_SOURCE, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->res = res;
	s->hk = &cfg->hooks;
	s->fd = -1;
	s->lfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->ctrl_tx, NULL);
	pthread_mutex_init(&s->pre_tx, NULL);
	pthread_cond_init(&s->cond, NULL);
	mig_conns_init(&s->conns, cfg, &s->lock, &s->cond, &s->nch, NULL,
		       &s->pre_tx);
	pthread_mutex_init(&s->lobby_lock, NULL);
	pthread_cond_init(&s->lobby_cond, NULL);

	ret = setup_listen(s);
	if (!ret)
		ret = setup(s);
	if (ret)
		goto out;
	setup_cc(s);

	set_phase(s, MIG_PHASE_CONNECTING);
	ret = accept_control(s, mig_now_ns() +
			     (uint64_t)cfg->connect_timeout_ms * 1000000ULL, 0);
	if (ret == -ETIMEDOUT)
		mig_set_error(res, 0,
			      "no destination connected within %d s (--connect-timeout-ms): start 'postcopy-agent destination --connect' pointing at this address",
			      cfg->connect_timeout_ms / 1000);
	if (!ret) {
		ret = accept_channels(s);
		if (ret)
			mig_set_error(res, 0,
				      "the destination did not open its %u data channels and preempt channel: %s%s",
				      s->nch, mig_errstr(ret),
				      ret == -ETIMEDOUT ?
				      " (none for --io-timeout-ms)" : "");
	}
	if (ret)
		goto out;
	set_accepting(s, 0);
	s->t_start = mig_now_ns();
	ret = start_threads(s);
	if (!ret)
		ret = migrate(s);
	if (!ret) {
		fill_result(s);
		mig_stats_encode(&ws, res);
		/* the destination waits for this before it detaches */
		if (ctrl_send(s, MIG_MSG_STATS, 0, 0, 0, &ws, sizeof(ws))) {
			mig_logf(s->hk, MIG_LOG_WARN,
				 "could not send the final statistics");
		} else {
			uint64_t end = mig_now_ns() +
				(uint64_t)cfg->io_timeout_ms * 1000000ULL;

			/* closing first could lose them: it hangs up */
			pthread_mutex_lock(&s->lock);
			while (!s->conns.broken && mig_now_ns() < end)
				timed_wait(s);
			pthread_mutex_unlock(&s->lock);
		}
	}
out:
	if (ret) {
		if (ret == -EREMOTEIO)
			mig_set_error(res, 0,
				      "the destination gave up: %s",
				      s->peer_msg[0] ? s->peer_msg :
				      "no reason given");
		else if (ret == -ECANCELED)
			mig_set_error(res, 0, "cancelled");
		else if (s->conns.broken_why[0])
			mig_set_error(res, 0, "%s", s->conns.broken_why);
		else
			mig_set_error(res, 0, "%s", mig_errstr(ret));
		if (s->paused && !s->switched && !s->resumed) {
			/*
			 * The destination never applied the switchover, so
			 * its VMM was never told to run: the source may go
			 * on.  After it, the VMM there may run already.
			 */
			mig_logf(s->hk, MIG_LOG_WARN,
				 "migration failed before the destination switched over: unpausing the source");
			if (s->hk->unpause)
				s->hk->unpause(s->hk->arg);
		} else if (s->paused) {
			mig_logf(s->hk, MIG_LOG_ERROR,
				 "migration failed after the destination switched over: the source stays paused and holds the last complete copy");
		}
		s->phase = MIG_PHASE_FAILED;
	} else {
		res->ok = 1;
		s->phase = MIG_PHASE_COMPLETE;
	}
	fill_result(s);
	progress(s, 1);
	teardown(s);
	mig_tls_counts(s->tls, &res->tls_ktls, &res->tls_user);
	mig_tls_close(s->tls);
	free(s);
	return ret;
}
