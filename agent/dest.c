// SPDX-License-Identifier: GPL-2.0
/*
 * dest.c: the destination side of a migration.
 *
 * Faults and placement go through a backend (backend.h): the module's
 * region, or memory registered with userfaultfd.  Everything below is
 * the same for both.
 *
 * Pages are placed in place: every page is held once, in the region.
 * During the precopy (the destination VMM does not run yet) each page a
 * data channel delivers is placed at once; a later copy of a page (a
 * resend in a later round, or a newer copy over an early urgent answer)
 * replaces the one placed (mig_place_overwrite()).  Versions decide: a
 * copy is taken only over an older one.
 *
 * Switchover: once every data channel has delivered END_PRECOPY (so every
 * precopy page sent before it is placed), the source's discard bitmap
 * (pages dirtied after they were sent, or never sent), minus the pages
 * known final, is applied in one backend call (mig_place_discard_bitmap()):
 * those pages are missing again and fault.  What remains placed is final.
 * The VMM is told to resume at once.
 *
 * Faults are served from the start: before the switchover (a VMM reads
 * guest RAM while it loads its device state) a fault on a missing page
 * is an urgent request for the source's current copy, which is placed at
 * once; a page placed already does not fault.  Such a page stays subject
 * to the switchover like any precopy page: a newer copy replaces it, the
 * discard bitmap makes it missing.  The source ends its pre-switchover
 * answers with END_PRECOPY on the preempt channel, and the switchover
 * waits for it as for the data channels, so that no answer read before
 * the source paused is placed after the discard bitmap was applied.
 * Once it is applied the destination says so (SWITCHED), before the VMM
 * is told to run.
 *
 * Postcopy: pages placed are final and served by the kernel; a fault on a
 * missing page becomes an urgent request on the preempt channel, and the
 * background stream from the source is placed as it arrives.  When every
 * page is present the destination tells the source, waits for its
 * statistics, and detaches.
 *
 * Per page the destination keeps a state (missing, placed) and the
 * version of the copy it holds (wire.h); after a broken connection it
 * reconnects with backoff and sends the versions, and the source sends
 * what is missing or stale.  Faults meanwhile stay blocked
 * (PCA_POLICY_WAIT) and are requested again once connected.  An agent
 * restarted after the switchover learns what the region holds from the
 * kernel (mig_be_present_bitmap()), all of it final.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "lib/pca.h"
#include "conn.h"
#include "tls.h"
#include "mig.h"

enum {
	ST_MISSING,
	ST_PLACED,
};

/* Pages per placement batch of a data channel. */
#define DST_BATCH	64

struct dst;

struct dst_chan {
	struct dst *d;
	unsigned int idx;
	struct mig_placer pl;
	uint8_t *buf;			/* DST_BATCH pages */
	uint64_t pages[DST_BATCH];
	uint32_t vers[DST_BATCH];
	unsigned int n;
	pthread_mutex_t page_lock;	/* its pages, before the switchover */
};

struct dst {
	const struct mig_config *cfg;
	struct mig_result *res;
	const struct mig_hooks *hk;

	struct mig_be be;	/* faults and placement (backend.c) */
	struct mig_tls *tls;	/* NULL: --insecure */
	uint64_t size, pages, words;
	uint32_t psz;
	uint8_t *state;		/* ST_*, atomic */
	uint32_t *ver;
	uint64_t *fault_ns;	/* fault time of a waiting page, atomic */
	uint64_t *requested;	/* bitmap: asked the source for it */
	uint64_t *discard;	/* the switchover's bitmap */
	uint64_t *prepause;	/* the bitmap before the pause, or NULL */
	uint64_t *final;	/* answers read after the source paused */
	uint64_t placed;	/* atomic */

	uint8_t id[MIG_ID_LEN];
	char idtxt[2 * MIG_ID_LEN + 1];
	int have_id;
	unsigned int nch;

	struct mig_conns conns;	/* of the current epoch */
	struct dst_chan ch[MIG_MAX_CHANNELS];

	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_mutex_t ctrl_tx;
	pthread_mutex_t pre_tx;	/* d->conns.pre and requests on it */
	/*
	 * Before the switchover a page's state, version and presence in the
	 * region change together under the page lock of its data channel
	 * (dst_chan.page_lock, see lock_page()): taken by that channel and by
	 * the preempt channel; the switchover takes them all, in channel
	 * order.  d->lock nests inside.
	 */
	int switched;		/* discard applied, VMM resumed */
	int sealed;		/* discard applied: copies are final;
				 * every page lock
				 */
	unsigned int ended;	/* channels past END_PRECOPY, this epoch
				 * (data channels and the preempt channel)
				 */
	int have_switchover;	/* received, not applied */
	uint64_t t_switch_rx;
	int got_stats;
	struct mig_result src;	/* the source's statistics */
	int peer_error;
	char peer_msg[256];
	int all_placed;
	int rerequest;		/* atomic: ask again for what is missing */
	int fatal;		/* a worker failed for good */
	int src_postcopy;	/* the last welcome: switchover happened */
	int src_paused;		/* atomic: END_PRECOPY came on the preempt
				 * channel: every answer since is final
				 */
	uint64_t t_connected;	/* first contact made */
	char fatal_msg[256];

	/* the fault thread, from the start */
	int stop_workers;	/* atomic */
	int fault_running;
	pthread_t fault_th;
	struct mig_lat lat;

	/* atomic counters */
	uint64_t bytes, faults, faults_remote, precopy_placed, urgent_rx;
	uint64_t faults_early;	/* before the switchover */
	uint64_t early_dropped;	/* placed, then discarded as stale */
	uint64_t prepause_dropped; /* placed, then made missing before
				    * the pause
				    */
	uint64_t overwritten;	/* placed, then replaced by a newer copy */
	uint64_t recv_in_place;	/* pages the module read from the socket */
	int recv_place;		/* data channels receive in place */
	uint64_t rx_pages;	/* page records received */
	uint64_t resume_held;	/* the region held when this agent resumed */
	uint64_t *held_at_resume;	/* bitmap of those, or NULL */
	uint64_t refetched;	/* page records for one of those */

	enum mig_phase phase;
	unsigned int round;
	uint64_t t_start;
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

static uint8_t state_of(struct dst *d, uint64_t page)
{
	return __atomic_load_n(&d->state[page], __ATOMIC_ACQUIRE);
}

/* The page lock of @page: its data channel's. */
static pthread_mutex_t *lock_page(struct dst *d, uint64_t page)
{
	pthread_mutex_t *m = &d->ch[(page / 64) % d->nch].page_lock;

	pthread_mutex_lock(m);
	return m;
}

/* Every page lock, for the switchover and a restart. */
static void lock_all_pages(struct dst *d)
{
	unsigned int i;

	for (i = 0; i < d->nch; i++)
		pthread_mutex_lock(&d->ch[i].page_lock);
}

static void unlock_all_pages(struct dst *d)
{
	unsigned int i;

	for (i = d->nch; i-- > 0; )
		pthread_mutex_unlock(&d->ch[i].page_lock);
}

static void timed_wait(struct dst *d)
{
	mig_cond_wait_tick(&d->cond, &d->lock);
}

/* -------------------------------------------------------------------------
 * Progress, errors
 */

static void progress(struct dst *d, int force)
{
	struct mig_progress p = { .role = MIG_DEST };
	uint64_t now = mig_now_ns();

	if (!mig_progress_due(d->cfg, &d->prog, now, force))
		return;
	p.phase = d->phase;
	p.round = d->round;
	p.pages = d->pages;
	p.pages_remaining = d->pages - get(&d->placed);
	p.bytes = get(&d->bytes);
	p.faults = get(&d->faults);
	p.reconnects = d->res->reconnects + (d->phase == MIG_PHASE_RECOVERING);
	p.broken_ns = mig_conns_broken_ns(&d->conns,
					  d->phase == MIG_PHASE_RECOVERING);
	mig_progress_deliver(d->cfg, &d->prog, &p, now, d->t_start);
}

static void set_phase(struct dst *d, enum mig_phase phase)
{
	d->phase = phase;
	progress(d, 1);
}

/* The run's first fatal error, in @d->fatal_msg. */
#define set_fatal(d, ...)						\
	mig_set_fatal(&(d)->lock, &(d)->cond, &(d)->fatal, (d)->fatal_msg, \
		      sizeof((d)->fatal_msg), __VA_ARGS__)

static int ctrl_send_rec(struct dst *d, uint32_t type, uint32_t flags,
			 uint64_t offset, const void *payload, uint32_t len)
{
	int ret;

	pthread_mutex_lock(&d->ctrl_tx);
	ret = d->conns.ctrl < 0 ? -ENOTCONN :
	      mig_send_rec(d->conns.ctrl, type, flags, offset, 0, payload,
			   len, d->cfg->io_timeout_ms, &d->conns.broken);
	pthread_mutex_unlock(&d->ctrl_tx);
	return ret;
}

static int ctrl_send(struct dst *d, uint32_t type, uint32_t flags,
		     const void *payload, uint32_t len)
{
	return ctrl_send_rec(d, type, flags, 0, payload, len);
}

/* -------------------------------------------------------------------------
 * Placing pages
 */

/* A fault on @page has been resolved now: its latency. */
static void resolved(struct dst *d, uint64_t page)
{
	uint64_t t = __atomic_exchange_n(&d->fault_ns[page], 0,
					 __ATOMIC_ACQ_REL);

	if (t) {
		uint64_t now = mig_now_ns();

		mig_lat_add(&d->lat, now > t ? now - t : 0);
	}
}

/* @page is present in the region: count it once. */
static void mark_placed(struct dst *d, uint64_t page)
{
	uint8_t old = ST_MISSING;

	if (__atomic_compare_exchange_n(&d->state[page], &old, ST_PLACED, 0,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) &&
	    __atomic_add_fetch(&d->placed, 1, __ATOMIC_ACQ_REL) == d->pages) {
		pthread_mutex_lock(&d->lock);
		d->all_placed = 1;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
	}
	resolved(d, page);
}

/* -------------------------------------------------------------------------
 * Data, preempt and control channels
 */

/*
 * Precopy: place the batch, each page over an older copy only.  Copies
 * of a page on its data channel come in the order they were sent (a
 * batch holds a page once); the region may hold an urgent answer, older
 * or newer: the versions tell.
 */
static int chan_flush_precopy(struct dst_chan *ch, void **ptrs)
{
	struct dst *d = ch->d;
	uint64_t pages[DST_BATCH], over[DST_BATCH];
	void *data[DST_BATCH], *odata[DST_BATCH];
	uint32_t vers[DST_BATCH], overs[DST_BATCH];
	unsigned int i, k = 0, o = 0;
	int ret;

	pthread_mutex_lock(&ch->page_lock);
	for (i = 0; i < ch->n; i++) {
		uint64_t p = ch->pages[i];

		if (state_of(d, p) != ST_PLACED) {
			pages[k] = p;
			data[k] = ptrs[i];
			vers[k++] = ch->vers[i];
		} else if (d->ver[p] < ch->vers[i]) {
			over[o] = p;
			odata[o] = ptrs[i];
			overs[o++] = ch->vers[i];
		}
		/* else the region holds a newer copy: this one is dropped */
	}
	ret = mig_place_many(&ch->pl, pages, data, k, 0);
	if (!ret && o)
		ret = mig_place_overwrite_many(&ch->pl, over, odata, o, 0);
	if (!ret) {
		for (i = 0; i < k; i++) {
			d->ver[pages[i]] = vers[i];
			mark_placed(d, pages[i]);
		}
		for (i = 0; i < o; i++)
			d->ver[over[i]] = overs[i];
		add(&d->precopy_placed, k);
		add(&d->overwritten, o);
	}
	pthread_mutex_unlock(&ch->page_lock);
	return ret;
}

/* Place the pages received into the batch. */
static int chan_flush(struct dst_chan *ch, int post)
{
	struct dst *d = ch->d;
	void *ptrs[DST_BATCH];
	unsigned int i;
	int ret;

	if (!ch->n)
		return 0;
	for (i = 0; i < ch->n; i++)
		ptrs[i] = ch->buf + (size_t)i * d->psz;
	if (!post) {
		ret = chan_flush_precopy(ch, ptrs);
	} else {
		ret = mig_place_many(&ch->pl, ch->pages, ptrs, ch->n, 0);
		for (i = 0; !ret && i < ch->n; i++) {
			d->ver[ch->pages[i]] = ch->vers[i];
			mark_placed(d, ch->pages[i]);
		}
	}
	if (ret) {
		set_fatal(d, "placing pages: %s",
			  mig_placer_err(&ch->pl, ret));
		return ret;
	}
	ch->n = 0;
	return 0;
}

/* A page record received: counted, and once more if held at resume. */
static void count_rx(struct dst *d, uint64_t page)
{
	add(&d->rx_pages, 1);
	if (d->held_at_resume && mig_test_bit(d->held_at_resume, page))
		add(&d->refetched, 1);
}

/*
 * Check a page record from data channel @chan (-1: the preempt channel);
 * the page number or -EPROTO.  Before its END_PRECOPY (@striped) a data
 * channel carries only its stripe, so that the copies of a page arrive in
 * order; after it pages are final and come on any channel.
 */
static int64_t check_page(struct dst *d, const struct mig_rec *r, int chan,
			  int striped)
{
	uint64_t page = r->offset / d->psz;

	if (r->offset % d->psz || page >= d->pages ||
	    (r->flags & ~(MIG_PAGE_ZERO | MIG_PAGE_URGENT)) ||
	    r->len != ((r->flags & MIG_PAGE_ZERO) ? 0 : d->psz) ||
	    (striped && (page / 64) % d->nch != (unsigned int)chan)) {
		mig_logf(d->hk, MIG_LOG_ERROR,
			 "bad page record on %s channel: offset %llu flags %#x length %u",
			 chan >= 0 ? "a data" : "the preempt",
			 (unsigned long long)r->offset, r->flags, r->len);
		return -EPROTO;
	}
	return page;
}

/*
 * A zero page from a data channel: placed at once (zero runs are cheap
 * to place one by one and rare to repeat), over an older copy only
 * before the switchover.
 */
static int chan_zero(struct dst_chan *ch, uint64_t page, uint32_t ver,
		     int post)
{
	struct dst *d = ch->d;
	int ret = 0, over = 0;

	if (!post) {
		pthread_mutex_lock(&ch->page_lock);
		if (state_of(d, page) == ST_PLACED) {
			if (d->ver[page] >= ver)
				goto out;
			over = 1;
		}
	}
	ret = over ? mig_place_overwrite(&ch->pl, page, NULL, 0) :
		     mig_place_zero(&ch->pl, page, 1, 0);
	if (ret) {
		set_fatal(d, "placing a zero page: %s",
			  mig_placer_err(&ch->pl, ret));
		goto out;
	}
	d->ver[page] = ver;
	if (over) {
		add(&d->overwritten, 1);
	} else {
		mark_placed(d, page);
		if (!post)
			add(&d->precopy_placed, 1);
	}
out:
	if (!post)
		pthread_mutex_unlock(&ch->page_lock);
	return ret;
}

/*
 * PCA_IOC_RECV of the one page at @off, its header read already.  The
 * socket's SO_RCVTIMEO (a tick on kernel TLS sockets, see tls.c) ends
 * only the wait for the page's first byte: -EAGAIN has read nothing and
 * the stream is in sync, so the page is waited for again as
 * mig_recv_all() waits for a payload, aborted with the connections and
 * given up (-ETIMEDOUT) after --io-timeout-ms without a byte.  A page
 * begun is read whole by the module whatever the link's pauses, until
 * it is in or the connection ends (mig_conns_break() shuts the socket
 * down, which ends that wait too).
 */
static int recv_unit(struct dst *d, int fd, uint64_t off, uint64_t flags)
{
	int timeout_ms = d->cfg->io_timeout_ms;
	uint64_t got = 0, idle_end = 0;
	int ret;

	for (;;) {
		ret = pca_fd_recv(d->be.fd, fd, &off, 1, flags, &got);
		if (ret != -EAGAIN)
			return ret;
		if (timeout_ms >= 0) {
			uint64_t now = mig_now_ns();

			if (!idle_end)
				idle_end = now + (uint64_t)timeout_ms * 1000000ULL;
			else if (now >= idle_end)
				return -ETIMEDOUT;
		}
		ret = mig_wait_readable(fd, timeout_ms, &d->conns.broken);
		if (ret)
			return ret;
	}
}

/*
 * Receive in place (PCA_FEATURE_RECV, a region fd): the kernel reads the
 * payload of page record @r straight from the data socket into a new page
 * of the region and places it, so the page crosses memory once after the
 * socket (the batch buffer and its copy are skipped).  Works on every
 * socket the channels use: plain TCP, kernel TLS, and the user-space TLS
 * engine's socket pair.  Before the switchover the version check of
 * chan_flush_precopy() comes first, under the channel's page lock: a
 * page the region holds an older copy of is received with
 * PCA_RESOLVE_OVERWRITE, one it holds a newer copy of is read past.
 */
static int chan_recv_place(struct dst_chan *ch, int fd, uint64_t page,
			   uint32_t ver, int post)
{
	struct dst *d = ch->d;
	uint64_t off = page * d->psz;
	uint64_t flags = 0;
	int ret, placed = 0;

	if (!post) {
		pthread_mutex_lock(&ch->page_lock);
		if (state_of(d, page) == ST_PLACED) {
			if (d->ver[page] >= ver) {
				/* the region holds a newer copy */
				ret = mig_recv_all(fd, ch->buf, d->psz,
						   d->cfg->io_timeout_ms,
						   &d->conns.broken);
				goto out;
			}
			flags = PCA_RESOLVE_OVERWRITE;
		}
	}
	ret = recv_unit(d, fd, off, flags);
	if (ret == -EEXIST) {
		/* an urgent answer placed it meanwhile: that copy stays */
		ret = 0;
	} else if (!ret) {
		placed = 1;
	} else if (ret == -ETIMEDOUT || ret == -ECANCELED ||
		   ret == -EINTR || ret == -ECONNRESET || ret == -EPIPE) {
		/* the connection, not the region: recovery takes over */
		goto out;
	} else {
		set_fatal(d, "receiving a page into the region: %s",
			  mig_errstr(ret));
		goto out;
	}
	if (placed) {
		d->ver[page] = ver;
		if (flags) {
			add(&d->overwritten, 1);
		} else {
			mark_placed(d, page);
			if (!post)
				add(&d->precopy_placed, 1);
		}
		add(&d->recv_in_place, 1);
	}
out:
	if (!post)
		pthread_mutex_unlock(&ch->page_lock);
	return ret;
}

/*
 * Receive the payloads of the @n page records whose headers were read
 * into the next @n slots of the batch (ch->pages, ch->vers), and place
 * the batch when full: the one place where page payloads leave the
 * socket, into the batch buffer and placed from it, unless the module
 * receives them in place (chan_recv_place()).
 */
static int chan_recv_pages(struct dst_chan *ch, int fd, unsigned int n,
			   int post)
{
	struct dst *d = ch->d;
	int ret;

	if (n == 1 && d->recv_place) {
		uint64_t page = ch->pages[ch->n];
		uint32_t ver = ch->vers[ch->n];

		/* what the batch holds came first: it goes first */
		ret = chan_flush(ch, post);
		return ret ? ret : chan_recv_place(ch, fd, page, ver, post);
	}
	ret = mig_recv_all(fd, ch->buf + (size_t)ch->n * d->psz,
			   (size_t)n * d->psz, d->cfg->io_timeout_ms,
			   &d->conns.broken);
	if (ret)
		return ret;
	ch->n += n;
	return ch->n == DST_BATCH ? chan_flush(ch, post) : 0;
}

static int in_batch(const struct dst_chan *ch, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < ch->n; i++)
		if (ch->pages[i] == page)
			return 1;
	return 0;
}

static int wait_switched(struct dst *d)
{
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	d->ended++;
	pthread_cond_broadcast(&d->cond);
	while (!d->switched && !d->conns.broken && !d->fatal)
		timed_wait(d);
	if (!d->switched)
		ret = -ECANCELED;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static void *data_thread(void *arg)
{
	struct dst_chan *ch = arg;
	struct dst *d = ch->d;
	int post, ret, fd = d->conns.data[ch->idx];
	const char *why = NULL;

	pthread_mutex_lock(&d->lock);
	post = d->switched;
	pthread_mutex_unlock(&d->lock);

	for (;;) {
		struct mig_rec r;
		int64_t page;

		/* never sit on received-but-unplaced pages while idle */
		if (ch->n && !mig_readable(fd)) {
			ret = chan_flush(ch, post);
			if (ret)
				break;
		}
		ret = mig_recv_hdr(fd, &r, -1, d->cfg->io_timeout_ms,
				   &d->conns.broken);
		if (ret)
			break;
		add(&d->bytes, sizeof(struct mig_hdr) + r.len);
		if (r.type == MIG_MSG_END_PRECOPY && !post) {
			/* every precopy page is in the region before it */
			ret = chan_flush(ch, post);
			if (!ret)
				ret = wait_switched(d);
			if (ret)
				break;
			post = 1;
			continue;
		}
		if (r.type != MIG_MSG_PAGE) {
			mig_logf(d->hk, MIG_LOG_ERROR,
				 "data channel %u: unexpected record %s (%u)",
				 ch->idx, mig_msg_name(r.type), r.type);
			ret = -EPROTO;
			break;
		}
		page = check_page(d, &r, ch->idx, !post);
		if (page < 0) {
			ret = page;
			break;
		}
		count_rx(d, page);
		/* a batch holds a page once: the later copy goes after it */
		if (!post && in_batch(ch, page)) {
			ret = chan_flush(ch, post);
			if (ret)
				break;
		}
		if (r.flags & MIG_PAGE_ZERO) {
			ret = chan_zero(ch, page, r.arg, post);
			if (ret)
				break;
			continue;
		}
		ch->pages[ch->n] = page;
		ch->vers[ch->n] = r.arg;
		ret = chan_recv_pages(ch, fd, 1, post);
		if (ret)
			break;
	}
	if (!ret || ret == -ECANCELED)
		why = NULL;
	else
		why = "data channel";
	/* pages received whole are still worth placing */
	if (ch->n && !d->fatal)
		chan_flush(ch, post);
	ch->n = 0;
	if (why)
		mig_conns_break(&d->conns, ret, "%s %u", why, ch->idx);
	return NULL;
}

/*
 * An urgent copy @r of @page (data in @buf unless zero).  After the
 * switchover it is final.  Before it, it is taken only over an older
 * copy, which it replaces.
 */
static int place_urgent(struct dst *d, struct mig_placer *pl,
			const struct mig_rec *r, uint64_t page, const void *buf)
{
	const void *data = (r->flags & MIG_PAGE_ZERO) ? NULL : buf;
	pthread_mutex_t *m;
	int early, ret;

	m = lock_page(d, page);
	early = !d->sealed;
	if (early && state_of(d, page) == ST_PLACED) {
		if (d->ver[page] >= r->arg) {
			/* what the region holds is as new: wake only */
			ret = mig_place_wake(pl, page, 1);
			pthread_mutex_unlock(m);
			resolved(d, page);
			return ret;
		}
		ret = mig_place_overwrite(pl, page, data, 0);
		if (!ret)
			add(&d->overwritten, 1);
	} else {
		ret = data ? mig_place_copy(pl, page, data, 0) :
			     mig_place_zero(pl, page, 1, 0);
	}
	if (!ret) {
		d->ver[page] = r->arg;
		/*
		 * Read while the source was paused: final, whatever the
		 * discard bitmap (copied maybe before this answer took the
		 * page out of the source's send set) says.
		 */
		if (early && __atomic_load_n(&d->src_paused, __ATOMIC_ACQUIRE))
			mig_set_bit(d->final, page);
		mark_placed(d, page);
	}
	pthread_mutex_unlock(m);
	return ret;
}

static void *preempt_thread(void *arg)
{
	struct dst *d = arg;
	struct mig_placer *pl = mig_placer_new(&d->be);
	uint8_t *buf = malloc(d->psz);
	int ret;

	if (!buf || !pl) {
		mig_placer_free(pl);
		free(buf);
		set_fatal(d, "preempt channel: out of memory or no netlink");
		mig_conns_break(&d->conns, -ENOMEM, "preempt channel");
		return NULL;
	}
	for (;;) {
		struct mig_rec r;
		int64_t page;

		ret = mig_recv_hdr(d->conns.pre, &r, -1, d->cfg->io_timeout_ms,
				   &d->conns.broken);
		if (ret)
			break;
		add(&d->bytes, sizeof(struct mig_hdr) + r.len);
		if (r.type == MIG_MSG_END_PRECOPY && !r.len) {
			/* no answer read before the source paused follows */
			__atomic_store_n(&d->src_paused, 1, __ATOMIC_RELEASE);
			pthread_mutex_lock(&d->lock);
			d->ended++;
			pthread_cond_broadcast(&d->cond);
			pthread_mutex_unlock(&d->lock);
			continue;
		}
		if (r.type != MIG_MSG_PAGE) {
			mig_logf(d->hk, MIG_LOG_ERROR,
				 "preempt channel: unexpected record %s (%u)",
				 mig_msg_name(r.type), r.type);
			ret = -EPROTO;
			break;
		}
		page = check_page(d, &r, -1, 0);
		if (page < 0) {
			ret = page;
			break;
		}
		count_rx(d, page);
		if (!(r.flags & MIG_PAGE_ZERO)) {
			ret = mig_recv_all(d->conns.pre, buf, d->psz,
					   d->cfg->io_timeout_ms,
					   &d->conns.broken);
			if (ret)
				break;
		}
		ret = place_urgent(d, pl, &r, page, buf);
		if (ret) {
			set_fatal(d, "placing an urgent page: %s",
				  mig_placer_err(pl, ret));
			break;
		}
		add(&d->urgent_rx, 1);
	}
	if (ret != -ECANCELED)
		mig_conns_break(&d->conns, ret, "preempt channel");
	mig_placer_free(pl);
	free(buf);
	return NULL;
}

static int apply_prepause(struct dst *d, uint32_t len);

/* The destination's control records; see mig_conns_ctrl_rx(). */
static int ctrl_record(void *arg, const struct mig_rec *r)
{
	struct dst *d = arg;
	struct mig_wire_stats ws;
	int ret;

	add(&d->bytes, sizeof(struct mig_hdr) + r->len);
	switch (r->type) {
	case MIG_MSG_ROUND:
		d->round = r->arg;
		return mig_skip(d->conns.ctrl, r->len, d->cfg->io_timeout_ms,
				&d->conns.broken);
	case MIG_MSG_SWITCHOVER:
		if (r->len != d->words * sizeof(uint64_t) ||
		    d->switched || d->have_switchover) {
			mig_logf(d->hk, MIG_LOG_ERROR,
				 "control channel: unexpected switchover (%u bytes)",
				 r->len);
			return -EPROTO;
		}
		ret = mig_recv_all(d->conns.ctrl, d->discard, r->len,
				   d->cfg->io_timeout_ms, &d->conns.broken);
		if (ret)
			return ret;
		mig_bitmap_from_le(d->discard, d->words);
		pthread_mutex_lock(&d->lock);
		d->have_switchover = 1;
		d->t_switch_rx = mig_now_ns();
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return 0;
	case MIG_MSG_PREPAUSE:
		return apply_prepause(d, r->len);
	case MIG_MSG_STATS:
		if (r->len != sizeof(ws) && r->len != MIG_WIRE_STATS_V1_SIZE)
			return -EPROTO;
		memset(&ws, 0, sizeof(ws));
		ret = mig_recv_all(d->conns.ctrl, &ws, r->len,
				   d->cfg->io_timeout_ms, &d->conns.broken);
		if (ret)
			return ret;
		pthread_mutex_lock(&d->lock);
		mig_stats_decode(&ws, &d->src);
		d->got_stats = 1;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	return MIG_CTRL_NOT_MINE;
}

static void *ctrl_rx_thread(void *arg)
{
	struct dst *d = arg;

	mig_conns_ctrl_rx(&d->conns, d->hk, ctrl_record, d, &d->peer_error,
			  d->peer_msg, sizeof(d->peer_msg));
	return NULL;
}

static int heartbeat(void *arg)
{
	return ctrl_send(arg, MIG_MSG_HEARTBEAT, 0, NULL, 0);
}

/* -------------------------------------------------------------------------
 * The fault thread
 */

static void send_request(struct dst *d, uint64_t page)
{
	int ret = -ENOTCONN;

	pthread_mutex_lock(&d->pre_tx);
	if (d->conns.pre >= 0 && !mig_conns_broken(&d->conns))
		ret = mig_send_rec(d->conns.pre, MIG_MSG_REQUEST, 1,
				   page * d->psz, 0, NULL, 0,
				   d->cfg->io_timeout_ms, &d->conns.broken);
	pthread_mutex_unlock(&d->pre_tx);
	if (!ret)
		add(&d->bytes, sizeof(struct mig_hdr));
	else if (ret != -ENOTCONN && ret != -ECANCELED)
		mig_conns_break(&d->conns, ret, "preempt channel");
	/* not sent: asked again after the reconnect */
}

static void handle_fault(struct dst *d, struct mig_placer *pl,
			 const struct mig_fault *f)
{
	uint64_t page = f->page, zero = 0;
	int ret = 0;

	if (page >= d->pages)
		return;
	add(&d->faults, 1);
	__atomic_compare_exchange_n(&d->fault_ns[page], &zero,
				    f->time_ns ? f->time_ns : 1, 0,
				    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	if (!__atomic_load_n(&d->switched, __ATOMIC_ACQUIRE))
		add(&d->faults_early, 1);
	if (state_of(d, page) == ST_PLACED) {
		/*
		 * Raised before the page was placed, or in the window of a
		 * replacement: the placement woke it, or does.
		 */
		ret = mig_place_wake(pl, page, 1);
		resolved(d, page);
		goto out;
	}
	add(&d->faults_remote, 1);
	if (!mig_test_and_set_bit(d->requested, page))
		send_request(d, page);
out:
	if (ret)
		set_fatal(d, "resolving a fault at offset %llu: %s",
			  (unsigned long long)(page * d->psz),
			  mig_placer_err(pl, ret));
}

static void rerequest(struct dst *d)
{
	uint64_t p;

	for (p = 0; p < d->pages; p++)
		if (mig_test_bit(d->requested, p) &&
		    state_of(d, p) != ST_PLACED)
			send_request(d, p);
}

static void *fault_thread(void *arg)
{
	struct dst *d = arg;
	struct mig_fault faults[64];
	struct mig_placer *pl = mig_placer_new(&d->be);
	int n, i;

	if (!pl) {
		set_fatal(d, "fault thread: out of memory or no netlink: %s",
			  pca_strerror(NULL));
		return NULL;
	}
	while (!__atomic_load_n(&d->stop_workers, __ATOMIC_ACQUIRE)) {
		if (__atomic_exchange_n(&d->rerequest, 0, __ATOMIC_ACQ_REL))
			rerequest(d);
		n = mig_be_faults(&d->be, faults, 64, MIG_TICK_MS);
		if (n < 0) {
			set_fatal(d, "receiving faults: %s",
				  mig_be_fault_err(&d->be, n));
			break;
		}
		for (i = 0; i < n; i++)
			handle_fault(d, pl, &faults[i]);
	}
	mig_placer_free(pl);
	return NULL;
}

/* The fault thread, from the moment the migration is accepted. */
static int start_faults(struct dst *d)
{
	__atomic_store_n(&d->stop_workers, 0, __ATOMIC_RELEASE);
	if (d->fault_running)
		return 0;
	return mig_thread_start(&d->fault_th, fault_thread, d,
				&d->fault_running);
}

static void stop_workers(struct dst *d)
{
	__atomic_store_n(&d->stop_workers, 1, __ATOMIC_RELEASE);
	if (d->fault_running)
		pthread_join(d->fault_th, NULL);
	d->fault_running = 0;
}

/* -------------------------------------------------------------------------
 * Connections
 */

static int start_threads(struct dst *d)
{
	unsigned int i;
	int ret;

	mig_conns_reset(&d->conns);
	d->ended = 0;
	for (i = 0; i < d->nch; i++) {
		ret = mig_conns_start_thread(&d->conns, &d->conns.data_th[i],
					     data_thread, &d->ch[i]);
		if (ret)
			return ret;
	}
	return mig_conns_start_ctrl(&d->conns, preempt_thread, ctrl_rx_thread,
				    heartbeat, d);
}

/* Errors of a handshake: retry (1) or give up (0). */
struct hs_err {
	int retry;
	char msg[300];
};

/*
 * The welcome, after any number of heartbeats (MIG_HELLO_HEARTBEAT): a
 * source that keeps sending them is alive, however long it takes to
 * answer; one silent for --io-timeout-ms is not.
 */
static int recv_welcome(struct dst *d, int fd, struct mig_welcome *w,
			unsigned int *beats)
{
	const int *abort = (const int *)d->cfg->cancel;
	int io = d->cfg->io_timeout_ms, ret;

	*beats = 0;
	for (;;) {
		struct mig_hdr h;
		struct mig_rec r;

		ret = mig_recv_all(fd, w, 4, io, abort);
		if (ret)
			return ret;
		if (!d->tls && mig_tls_looks_like_tls((unsigned char *)w))
			return -EPROTOTYPE;
		if (mig_magic_of(w) != MIG_MSG_HEARTBEAT)
			break;
		memcpy(&h, w, 4);
		ret = mig_recv_all(fd, (char *)&h + 4, sizeof(h) - 4, io,
				   abort);
		if (ret)
			return ret;
		mig_hdr_decode(&h, &r);
		if (r.len)
			return -EPROTO;
		(*beats)++;
	}
	return mig_recv_all(fd, (char *)w + 4, sizeof(*w) - 4, io, abort);
}

/* Open one channel: connect, hello, welcome.  -errno with @e filled. */
static int open_channel(struct dst *d, enum mig_chan chan, uint32_t index,
			uint64_t flags, int timeout_ms, int *fdp,
			struct mig_welcome *w, struct hs_err *e)
{
	const char *addr = d->cfg->addr;
	struct mig_hello h;
	char err[200], dump[64];
	unsigned int status, beats = 0;
	int fd, ret;

	e->retry = 1;
	ret = mig_connect(addr, timeout_ms, &fd, err, sizeof(err));
	if (ret) {
		snprintf(e->msg, sizeof(e->msg), "%s", err);
		/* refused: the source may not listen yet */
		e->retry = ret == -ECONNREFUSED || ret == -ETIMEDOUT ||
			   ret == -EHOSTUNREACH || ret == -ENETUNREACH ||
			   ret == -ECONNRESET;
		return ret;
	}
	mig_sock_tune(fd, d->cfg->io_timeout_ms, chan != MIG_CHAN_DATA);
	if (d->tls) {
		char terr[320] = "";

		ret = mig_tls_client(d->tls, addr, &fd, d->cfg->io_timeout_ms,
				     (const int *)d->cfg->cancel, terr,
				     sizeof(terr));
		if (ret) {
			close(fd);
			snprintf(e->msg, sizeof(e->msg), "%s: %s", addr, terr);
			/* credentials do not get better by trying again */
			e->retry = ret == -ETIMEDOUT &&
				   (flags & MIG_HELLO_RESUME);
			return ret;
		}
	}
	mig_hello_encode(&h, chan, d->have_id ? d->id : NULL, index, d->nch,
			 flags | MIG_HELLO_HEARTBEAT |
			 (chan == MIG_CHAN_CONTROL ? MIG_HELLO_PREPAUSE : 0),
			 d->size, d->psz);
	ret = mig_send_all(fd, &h, sizeof(h), d->cfg->io_timeout_ms,
			   (const int *)d->cfg->cancel);
	if (!ret)
		ret = recv_welcome(d, fd, w, &beats);
	if (ret) {
		close(fd);
		/* a source restarting or busy: maybe; garbage: no */
		e->retry = flags & MIG_HELLO_RESUME;
		if (ret == -EPROTOTYPE)
			snprintf(e->msg, sizeof(e->msg),
				 "the source at %s speaks TLS: pass the credentials it expects (--tls-creds DIR or --tls-psk FILE) instead of --insecure",
				 addr);
		else if (ret == -ECONNRESET)
			snprintf(e->msg, sizeof(e->msg),
				 "%s closed the connection during the handshake: is it a postcopy-agent source%s?",
				 addr, d->tls ? "" :
				 " (one that wants TLS needs --tls-creds or --tls-psk here)");
		else if (ret == -ETIMEDOUT)
			snprintf(e->msg, sizeof(e->msg),
				 "no handshake answer from %s: silent for %d ms (--io-timeout-ms)%s: is it a postcopy-agent source?",
				 addr, d->cfg->io_timeout_ms, beats ?
				 " after heartbeats" : "");
		else if (ret == -ECANCELED)
			snprintf(e->msg, sizeof(e->msg), "cancelled");
		else
			snprintf(e->msg, sizeof(e->msg),
				 "handshake with %s: %s: is it a postcopy-agent source?",
				 addr, mig_errstr(ret));
		return ret;
	}
	e->retry = 0;
	if (mig_le32_to_cpu(w->magic) != MIG_MAGIC) {
		mig_hexdump(w, 8, dump, sizeof(dump));
		snprintf(e->msg, sizeof(e->msg),
			 "%s is not a postcopy-agent source (bad magic; first bytes %s): check the address and port",
			 addr, dump);
		close(fd);
		return -EPROTO;
	}
	status = mig_le16_to_cpu(w->status);
	w->reason[sizeof(w->reason) - 1] = '\0';
	if (mig_le16_to_cpu(w->version) != MIG_VERSION ||
	    status == MIG_ERR_VERSION) {
		snprintf(e->msg, sizeof(e->msg),
			 "the source at %s speaks protocol version %u, this agent %u: use matching postcopy-agent versions",
			 addr, mig_le16_to_cpu(w->version), MIG_VERSION);
		close(fd);
		return -EPROTONOSUPPORT;
	}
	if (status != MIG_OK) {
		switch (status) {
		case MIG_ERR_ID:
			snprintf(e->msg, sizeof(e->msg),
				 "the source at %s refused: %s (%s)%s", addr,
				 mig_status_name(status), w->reason,
				 flags & MIG_HELLO_RESUME ?
				 ": it has no state for this migration (was it restarted?)" :
				 ": check --migration-id");
			break;
		case MIG_ERR_SIZE:
			snprintf(e->msg, sizeof(e->msg),
				 "the source at %s refused: %s (%s; this region: %llu bytes, %u-byte pages): create the destination region with the source's size",
				 addr, mig_status_name(status), w->reason,
				 (unsigned long long)d->size, d->psz);
			break;
		default:
			snprintf(e->msg, sizeof(e->msg),
				 "the source at %s refused: %s (%s)", addr,
				 mig_status_name(status), w->reason);
			e->retry = status == MIG_ERR_BUSY ||
				   status == MIG_ERR_STATE;
			break;
		}
		close(fd);
		return -ECONNREFUSED;
	}
	if (mig_le64_to_cpu(w->region_size) != d->size ||
	    mig_le32_to_cpu(w->page_size) != d->psz) {
		snprintf(e->msg, sizeof(e->msg),
			 "region sizes differ: source %llu bytes (%u-byte pages), destination %llu bytes (%u-byte pages): create the destination region with the source's size",
			 (unsigned long long)mig_le64_to_cpu(w->region_size),
			 mig_le32_to_cpu(w->page_size),
			 (unsigned long long)d->size, d->psz);
		close(fd);
		return -EINVAL;
	}
	*fdp = fd;
	return 0;
}

/* Control, data and preempt channels; @resume after a break. */
static int connect_all(struct dst *d, int resume, int timeout_ms,
		       struct hs_err *e)
{
	struct mig_welcome w;
	unsigned int i;
	int ret, fd;

	ret = open_channel(d, MIG_CHAN_CONTROL, 0,
			   resume ? MIG_HELLO_RESUME : 0, timeout_ms, &fd, &w,
			   e);
	if (ret)
		return ret;
	if (d->have_id && memcmp(w.id, d->id, MIG_ID_LEN)) {
		char theirs[2 * MIG_ID_LEN + 1];

		mig_format_id(w.id, theirs);
		snprintf(e->msg, sizeof(e->msg),
			 "the source serves migration %s, not %s: check --migration-id",
			 theirs, d->idtxt);
		e->retry = 0;
		close(fd);
		return -EINVAL;
	}
	d->src_postcopy = !!(mig_le64_to_cpu(w.flags) & MIG_WELCOME_POSTCOPY);
	if (!resume || !d->t_connected) {
		/* first contact, also of an agent restarted to resume */
		memcpy(d->id, w.id, MIG_ID_LEN);
		mig_format_id(d->id, d->idtxt);
		d->have_id = 1;
		memcpy(d->res->id, d->id, MIG_ID_LEN);
		d->nch = mig_le32_to_cpu(w.nchannels);
		if (!d->nch || d->nch > MIG_MAX_CHANNELS) {
			snprintf(e->msg, sizeof(e->msg),
				 "the source asks for %u data channels", d->nch);
			e->retry = 0;
			close(fd);
			return -EPROTO;
		}
	} else if (mig_le32_to_cpu(w.nchannels) != d->nch) {
		snprintf(e->msg, sizeof(e->msg),
			 "the source changed its channel count");
		e->retry = 0;
		close(fd);
		return -EPROTO;
	}
	d->conns.ctrl = fd;
	for (i = 0; i < d->nch; i++) {
		ret = open_channel(d, MIG_CHAN_DATA, i, 0, timeout_ms,
				   &d->conns.data[i], &w, e);
		if (ret)
			goto fail;
	}
	ret = open_channel(d, MIG_CHAN_PREEMPT, 0, 0, timeout_ms, &fd, &w, e);
	if (ret)
		goto fail;
	pthread_mutex_lock(&d->pre_tx);
	d->conns.pre = fd;
	pthread_mutex_unlock(&d->pre_tx);
	return 0;
fail:
	mig_conns_close(&d->conns);
	return ret;
}

/* The versions of what this side holds, for the source. */
static int send_received(struct dst *d)
{
	uint32_t *v = malloc(d->pages * sizeof(*v));
	uint64_t p;
	int ret;

	if (!v)
		return -ENOMEM;
	for (p = 0; p < d->pages; p++)
		v[p] = mig_cpu_to_le32(state_of(d, p) == ST_MISSING ? 0 :
				       d->ver[p]);
	/* not through ctrl_send(): the old epoch's abort flag is still up */
	pthread_mutex_lock(&d->ctrl_tx);
	ret = mig_send_rec(d->conns.ctrl, MIG_MSG_RECEIVED,
			   d->switched ? MIG_RECV_SWITCHED : 0, 0, 0, v,
			   d->pages * sizeof(*v), d->cfg->io_timeout_ms, NULL);
	pthread_mutex_unlock(&d->ctrl_tx);
	if (!ret)
		add(&d->bytes, sizeof(struct mig_hdr) + d->pages * sizeof(*v));
	free(v);
	return ret;
}

static int reconnect(struct dst *d)
{
	enum mig_phase was = d->phase;
	uint64_t deadline;
	int backoff = 100, ret, attempts = 0;
	struct hs_err e = { 0 };
	char why[256];

	snprintf(why, sizeof(why), "%s", d->conns.broken_why);
	mig_conns_stop(&d->conns);
	pthread_mutex_lock(&d->lock);
	d->have_switchover = 0;	/* the source sends it again if needed */
	pthread_mutex_unlock(&d->lock);
	mig_logf(d->hk, MIG_LOG_WARN,
		 "connection to the source lost (%s); reconnecting for up to %d s (--recover-timeout-ms)%s",
		 why, d->cfg->recover_timeout_ms / 1000,
		 d->switched ? " (faults wait meanwhile)" : "");
	set_phase(d, MIG_PHASE_RECOVERING);
	deadline = mig_now_ns() +
		   (uint64_t)d->cfg->recover_timeout_ms * 1000000ULL;
	for (;;) {
		uint64_t now = mig_now_ns();

		if (mig_cancelled(d->cfg))
			return -ECANCELED;
		if (now >= deadline) {
			mig_set_error(d->res, 0,
				      "the source could not be reached again within %d s (--recover-timeout-ms) after the connection broke (%s; last attempt: %s)%s",
				      d->cfg->recover_timeout_ms / 1000, why,
				      e.msg[0] ? e.msg : "none",
				      d->switched ?
				      "; the destination is incomplete, the source holds the complete copy" :
				      "");
			return -ETIMEDOUT;
		}
		attempts++;
		ret = connect_all(d, 1, MIG_MIN(d->cfg->io_timeout_ms,
						(int)((deadline - now) / 1000000) + 1),
				  &e);
		if (!ret) {
			ret = send_received(d);
			if (ret) {
				snprintf(e.msg, sizeof(e.msg),
					 "sending what this side holds: %s",
					 mig_errstr(ret));
				e.retry = 1;
			}
		}
		if (!ret)
			break;
		mig_conns_close(&d->conns);
		if (!e.retry) {
			mig_set_error(d->res, 0, "reconnecting: %s", e.msg);
			return ret;
		}
		mig_sleep_ms(backoff);
		backoff = MIG_MIN(backoff * 2, 2000);
	}
	d->res->reconnects++;
	mig_logf(d->hk, MIG_LOG_INFO, "reconnected after %d attempt%s",
		 attempts, attempts == 1 ? "" : "s");
	ret = start_threads(d);
	if (ret)
		return ret;
	__atomic_store_n(&d->rerequest, 1, __ATOMIC_RELEASE);
	set_phase(d, was);
	return 0;
}

/* First contact, retried while the source is not listening yet. */
static int first_connect(struct dst *d)
{
	uint64_t deadline = mig_now_ns() +
			    (uint64_t)d->cfg->connect_timeout_ms * 1000000ULL;
	struct hs_err e = { 0 };
	int backoff = 100, ret;

	for (;;) {
		uint64_t now = mig_now_ns();

		if (mig_cancelled(d->cfg))
			return -ECANCELED;
		ret = connect_all(d, d->cfg->want_resume,
				  MIG_MIN(d->cfg->io_timeout_ms,
					  (int)((deadline - now) / 1000000) + 1),
				  &e);
		if (!ret) {
			d->t_connected = mig_now_ns();
			return 0;
		}
		if (!e.retry) {
			mig_set_error(d->res, 0, "%s", e.msg);
			return ret;
		}
		if (mig_now_ns() + backoff * 1000000ULL >= deadline) {
			mig_set_error(d->res, 0, "%s (tried for %d s, --connect-timeout-ms)",
				      e.msg, d->cfg->connect_timeout_ms / 1000);
			return ret;
		}
		mig_sleep_ms(backoff);
		backoff = MIG_MIN(backoff * 2, 1000);
	}
}

/*
 * This agent replaces one that died.  What its predecessor placed is in
 * the region; the versions it kept died with it.  After the switchover
 * the VMM runs already (faults waited for us) and every page present is
 * final: the kernel tells which (mig_be_present_bitmap()), and they are
 * reported held, so that the source sends only the missing ones.  Before
 * it, pages present may be stale and their versions are unknown: the
 * region is discarded, and the source starts over.
 */
static int restart(struct dst *d)
{
	uint64_t p;
	int64_t n;
	int ret;

	mig_logf(d->hk, MIG_LOG_INFO,
		 "resuming migration %s %s the switchover", d->idtxt,
		 d->src_postcopy ? "after" : "before");
	if (!d->src_postcopy) {
		struct mig_placer *pl = mig_placer_new(&d->be);

		/* pages placed before may be stale: the source starts over */
		ret = pl ? mig_place_discard(pl, 0, d->pages) : -ENOMEM;
		if (ret) {
			mig_set_error(d->res, 0, "resuming: discarding the pages placed before: %s",
				      pl ? mig_placer_err(pl, ret) :
				      mig_errstr(ret));
			mig_placer_free(pl);
			return ret;
		}
		mig_placer_free(pl);
	} else {
		/* d->discard is free until a switchover, which happened */
		n = mig_be_present_bitmap(&d->be, d->discard);
		if (n < 0) {
			/* COPY finds the present pages (-EEXIST) */
			mig_logf(d->hk, MIG_LOG_WARN,
				 "cannot tell which pages the region holds (%s): the source sends every page again",
				 mig_errstr(n));
		} else {
			for (p = 0; p < d->pages; p++) {
				if (!mig_test_bit(d->discard, p))
					continue;
				d->ver[p] = 1;	/* final: any version held */
				mark_placed(d, p);
			}
			d->resume_held = n;
			d->held_at_resume = malloc(d->words * sizeof(uint64_t));
			if (d->held_at_resume)
				memcpy(d->held_at_resume, d->discard,
				       d->words * sizeof(uint64_t));
			mig_logf(d->hk, MIG_LOG_INFO,
				 "the region holds %lld of %llu pages",
				 (long long)n, (unsigned long long)d->pages);
		}
		memset(d->discard, 0, d->words * sizeof(uint64_t));
		ret = start_faults(d);
		if (ret) {
			mig_set_error(d->res, 0,
				      "starting the fault thread: %s",
				      mig_errstr(ret));
			return ret;
		}
		lock_all_pages(d);
		d->sealed = 1;
		unlock_all_pages(d);
		pthread_mutex_lock(&d->lock);
		d->switched = 1;
		pthread_mutex_unlock(&d->lock);
		if (d->hk->resume)
			d->hk->resume(d->hk->arg);
	}
	ret = send_received(d);
	if (ret) {
		mig_set_error(d->res, 0, "resuming: sending the page versions: %s",
			      mig_errstr(ret));
		return ret;
	}
	d->res->reconnects++;
	return 0;
}

/* -------------------------------------------------------------------------
 * Phases
 */

/*
 * Make the pages @bm names missing (@seal: the switchover's, after which
 * no copy replaces another), with every page lock held: their versions
 * are forgotten, the copies placed are dropped (*@stale of them; the
 * backend's count in *@discarded).
 */
static int discard_locked(struct dst *d, struct mig_placer *pl,
			  const uint64_t *bm, int seal, uint64_t *stale,
			  uint64_t *discarded)
{
	uint64_t w;
	int ret;

	*stale = 0;
	ret = mig_place_discard_bitmap(pl, bm, seal, discarded);
	if (ret)
		return ret;
	for (w = 0; w < d->words; w++) {
		uint64_t bits = bm[w];

		while (bits) {
			uint64_t p = w * 64 + __builtin_ctzll(bits);

			bits &= bits - 1;
			d->ver[p] = 0;
			if (state_of(d, p) != ST_PLACED)
				continue;
			/* before it reads missing: the next fault asks */
			mig_clear_bit(d->requested, p);
			__atomic_store_n(&d->state[p], ST_MISSING,
					 __ATOMIC_RELEASE);
			__atomic_fetch_sub(&d->placed, 1, __ATOMIC_ACQ_REL);
			(*stale)++;
		}
	}
	return 0;
}

/*
 * The discard before the pause (wire.h, MIG_MSG_PREPAUSE), on the control
 * thread while the source's VMM still runs: the pages it names were
 * written after they were sent, and the copies placed of them are made
 * missing now rather than in the downtime.  The precopy stays open: a
 * copy still in flight is placed as any, and the switchover's bitmap,
 * which names these pages again, decides.
 */
static int apply_prepause(struct dst *d, uint32_t len)
{
	struct mig_placer *pl;
	uint64_t stale = 0, discarded = 0, t0;
	int ret;

	if (len != d->words * sizeof(uint64_t) || d->switched ||
	    d->have_switchover || d->sealed) {
		mig_logf(d->hk, MIG_LOG_ERROR,
			 "control channel: unexpected discard before the pause (%u bytes)",
			 len);
		return -EPROTO;
	}
	if (!d->prepause) {
		d->prepause = malloc(len);
		if (!d->prepause)
			return -ENOMEM;
	}
	ret = mig_recv_all(d->conns.ctrl, d->prepause, len,
			   d->cfg->io_timeout_ms, &d->conns.broken);
	if (ret)
		return ret;
	mig_bitmap_from_le(d->prepause, d->words);
	t0 = mig_now_ns();
	pl = mig_placer_new(&d->be);
	if (!pl)
		return -ENOMEM;
	lock_all_pages(d);
	ret = discard_locked(d, pl, d->prepause, 0, &stale, &discarded);
	unlock_all_pages(d);
	if (ret) {
		set_fatal(d, "discarding stale pages before the pause: %s",
			  mig_placer_err(pl, ret));
		mig_placer_free(pl);
		return ret;
	}
	mig_placer_free(pl);
	add(&d->prepause_dropped, stale);
	d->res->prepause_named = mig_bitmap_weight(d->prepause, d->words);
	d->res->prepause_ns += mig_now_ns() - t0;
	mig_logf(d->hk, MIG_LOG_DEBUG,
		 "before the pause: %llu placed pages made missing in %llu us",
		 (unsigned long long)stale,
		 (unsigned long long)((mig_now_ns() - t0) / 1000));
	return ctrl_send_rec(d, MIG_MSG_PREPAUSE_DONE, 0, stale, NULL, 0);
}

/*
 * The pages the discard bitmap names (written after they were sent, or
 * never sent), but for answers known final, are stale: one backend call
 * makes them missing again, so that the next touch faults and the
 * source's copy is placed.  Bits of pages missing anyway stay set: they
 * cost nothing and keep the runs long.
 */
static int apply_switchover(struct dst *d)
{
	struct mig_placer *pl = mig_placer_new(&d->be);
	uint64_t w, stale, discarded, t0 = mig_now_ns(), t1;
	int ret;

	d->res->sw_wait_ns = t0 > d->t_switch_rx ? t0 - d->t_switch_rx : 0;

	if (!pl) {
		mig_set_error(d->res, 0, "switchover: out of memory or no netlink");
		return -ENOMEM;
	}
	/* answers after the source paused may still be placed meanwhile */
	lock_all_pages(d);
	for (w = 0; w < d->words; w++)
		d->discard[w] &= ~d->final[w];
	ret = discard_locked(d, pl, d->discard, 1, &stale, &discarded);
	if (ret) {
		unlock_all_pages(d);
		mig_set_error(d->res, 0, "switchover: %s",
			      mig_placer_err(pl, ret));
		mig_placer_free(pl);
		return ret;
	}
	/* from here on every copy is final: none replaces another */
	d->sealed = 1;
	unlock_all_pages(d);
	mig_placer_free(pl);
	add(&d->early_dropped, stale);
	t1 = mig_now_ns();
	d->res->sw_discard_ns = t1 - t0;
	mig_logf(d->hk, MIG_LOG_DEBUG,
		 "switchover: %llu placed pages discarded as stale (the backend counts %llu) in %llu us",
		 (unsigned long long)stale, (unsigned long long)discarded,
		 (unsigned long long)((t1 - t0) / 1000));
	pthread_mutex_lock(&d->lock);
	d->switched = 1;
	d->have_switchover = 0;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	d->res->downtime_ns = mig_now_ns() - d->t_switch_rx;
	/* the source's VMM may send its device state now */
	if (ctrl_send(d, MIG_MSG_SWITCHED, 0, NULL, 0))
		mig_logf(d->hk, MIG_LOG_WARN,
			 "could not tell the source about the switchover");
	if (d->hk->resume)
		d->hk->resume(d->hk->arg);
	set_phase(d, MIG_PHASE_POSTCOPY);
	/* before RESUMED goes: the source's guest downtime holds it all */
	d->res->sw_resume_ns = mig_now_ns() - t1;
	/* lost with a break: the source then only learns it on resume */
	if (ctrl_send(d, MIG_MSG_RESUMED, 0, NULL, 0))
		mig_logf(d->hk, MIG_LOG_WARN,
			 "could not tell the source about the resume");
	return 0;
}

enum { EV_NONE, EV_SWITCH, EV_ALL_PLACED, EV_STATS, EV_BROKEN };

static int next_event(struct dst *d, int complete_sent, uint64_t stats_deadline)
{
	int ev = EV_NONE, ret = 0;

	pthread_mutex_lock(&d->lock);
	for (;;) {
		if (d->fatal) {
			mig_set_error(d->res, 0, "%s", d->fatal_msg);
			ret = -EIO;
			break;
		}
		if (d->peer_error) {
			mig_set_error(d->res, 0, "the source gave up: %s",
				      d->peer_msg[0] ? d->peer_msg :
				      "no reason given");
			ret = -EREMOTEIO;
			break;
		}
		if (mig_cancelled(d->cfg)) {
			ret = -ECANCELED;
			break;
		}
		if (complete_sent && d->got_stats) {
			ev = EV_STATS;
			break;
		}
		if (d->conns.broken) {
			ev = EV_BROKEN;
			break;
		}
		if (d->have_switchover && !d->switched &&
		    d->ended >= d->nch + 1) {
			ev = EV_SWITCH;
			break;
		}
		/* pages placed early may have been discarded again since */
		if (d->all_placed && !complete_sent && d->switched &&
		    __atomic_load_n(&d->placed, __ATOMIC_ACQUIRE) ==
		    d->pages) {
			ev = EV_ALL_PLACED;
			break;
		}
		if (complete_sent && mig_now_ns() > stats_deadline) {
			ev = EV_STATS;	/* done without them */
			break;
		}
		timed_wait(d);
		pthread_mutex_unlock(&d->lock);
		progress(d, 0);
		pthread_mutex_lock(&d->lock);
	}
	pthread_mutex_unlock(&d->lock);
	return ret ? ret : ev;
}

static int migrate(struct dst *d)
{
	uint64_t stats_deadline = 0;
	int complete_sent = 0, told_again = 0, ev, ret;

	set_phase(d, d->switched ? MIG_PHASE_POSTCOPY : MIG_PHASE_PRECOPY);
	for (;;) {
		ev = next_event(d, complete_sent, stats_deadline);
		if (ev < 0)
			return ev;
		switch (ev) {
		case EV_SWITCH:
			set_phase(d, MIG_PHASE_SWITCHOVER);
			ret = apply_switchover(d);
			if (ret)
				return ret;
			break;
		case EV_ALL_PLACED:
			ret = ctrl_send(d, MIG_MSG_COMPLETE, 0, NULL, 0);
			if (ret) {
				/* the page count is what matters */
				mig_logf(d->hk, MIG_LOG_WARN,
					 "could not send completion to the source: %s",
					 mig_errstr(ret));
				return 0;
			}
			complete_sent = 1;
			stats_deadline = mig_now_ns() +
				(uint64_t)d->cfg->io_timeout_ms * 1000000ULL;
			break;
		case EV_STATS:
			if (!d->got_stats)
				mig_logf(d->hk, MIG_LOG_WARN,
					 "no statistics from the source");
			return 0;
		case EV_BROKEN:
			if (complete_sent && (d->got_stats || told_again))
				return 0;
			if (complete_sent) {
				/*
				 * COMPLETE may be lost: coming back holding
				 * every page tells the source all the same.
				 */
				told_again = 1;
				if (reconnect(d)) {
					mig_logf(d->hk, MIG_LOG_WARN,
						 "complete, but the source could not be told");
					return 0;
				}
				stats_deadline = mig_now_ns() +
					(uint64_t)d->cfg->io_timeout_ms * 1000000ULL;
				break;
			}
			ret = reconnect(d);
			if (ret)
				return ret;
			break;
		}
	}
}

static int setup(struct dst *d)
{
	const struct mig_config *cfg = d->cfg;
	unsigned int i;
	int ret;

	d->psz = sysconf(_SC_PAGESIZE);
	/* the module: checks the region and attaches, faults wait for us */
	ret = mig_be_open(&d->be, cfg, cfg->want_resume, "migrate", d->res);
	if (ret)
		return ret;
	d->size = d->be.size;
	d->pages = d->size / d->psz;
	d->words = (d->pages + 63) / 64;
	d->res->pages = d->pages;
	d->res->page_size = d->psz;
	/* netlink placement stays what it is: it tests that path */
	d->recv_place = cfg->recv_in_place &&
			d->be.kind == MIG_BACKEND_MODULE && d->be.fd >= 0 &&
			(d->be.features & PCA_FEATURE_RECV);

	d->state = calloc(d->pages, 1);
	d->ver = calloc(d->pages, sizeof(*d->ver));
	d->fault_ns = calloc(d->pages, sizeof(*d->fault_ns));
	d->requested = calloc(d->words, sizeof(uint64_t));
	d->discard = calloc(d->words, sizeof(uint64_t));
	d->final = calloc(d->words, sizeof(uint64_t));
	if (!d->state || !d->ver || !d->fault_ns || !d->requested ||
	    !d->discard || !d->final ||
	    mig_lat_init(&d->lat, d->pages + 1024)) {
		mig_set_error(d->res, 0, "out of memory for %llu pages",
			      (unsigned long long)d->pages);
		return -ENOMEM;
	}
	for (i = 0; i < MIG_MAX_CHANNELS; i++) {
		struct dst_chan *ch = &d->ch[i];

		ch->d = d;
		ch->idx = i;
	}
	if (cfg->want_resume && !cfg->have_id) {
		mig_set_error(d->res, 0,
			      "resuming needs the migration id (--migration-id)");
		return -EINVAL;
	}
	if (cfg->have_id) {
		memcpy(d->id, cfg->id, MIG_ID_LEN);
		mig_format_id(d->id, d->idtxt);
		d->have_id = 1;
	}
	d->nch = cfg->channels;
	if (!d->nch || d->nch > MIG_MAX_CHANNELS) {
		mig_set_error(d->res, 0, "channels must be 1 to %u",
			      MIG_MAX_CHANNELS);
		return -EINVAL;
	}
	return 0;
}

static int chans_init(struct dst *d)
{
	unsigned int i;
	int ret;

	for (i = 0; i < d->nch; i++) {
		struct dst_chan *ch = &d->ch[i];

		ch->buf = malloc((size_t)DST_BATCH * d->psz);
		if (!ch->buf)
			return -ENOMEM;
		ret = mig_placer_init(&d->be, &ch->pl);
		if (ret)
			return ret;
	}
	return 0;
}

static void teardown(struct dst *d)
{
	unsigned int i;

	stop_workers(d);
	if (d->conns.threads)
		mig_conns_stop(&d->conns);
	mig_conns_close(&d->conns);
	for (i = 0; i < MIG_MAX_CHANNELS; i++) {
		free(d->ch[i].buf);
		mig_placer_fini(&d->ch[i].pl);
	}
	mig_be_close(&d->be);
	free(d->state);
	free(d->ver);
	free(d->fault_ns);
	free(d->requested);
	free(d->discard);
	free(d->prepause);
	free(d->final);
	free(d->held_at_resume);
	mig_lat_free(&d->lat);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->ctrl_tx);
	pthread_mutex_destroy(&d->pre_tx);
	for (i = 0; i < MIG_MAX_CHANNELS; i++)
		pthread_mutex_destroy(&d->ch[i].page_lock);
	pthread_cond_destroy(&d->cond);
}

static void fill_result(struct dst *d)
{
	struct mig_result *r = d->res;
	uint64_t own_downtime = r->downtime_ns;

	r->broken_ns = mig_conns_broken_ns(&d->conns, 0);

	if (d->got_stats) {
		r->rounds = d->src.rounds;
		r->precopy_pages = d->src.precopy_pages;
		r->precopy_zero = d->src.precopy_zero;
		r->stopcopy_pages = d->src.stopcopy_pages;
		r->postcopy_pages = d->src.postcopy_pages;
		r->urgent_pages = d->src.urgent_pages;
		r->discarded = d->src.discarded;
		r->bytes_sent = d->src.bytes_sent;
		r->precopy_ns = d->src.precopy_ns;
		r->guest_downtime_ns = d->src.guest_downtime_ns;
		r->sw_pause_ns = d->src.sw_pause_ns;
		r->sw_final_pass_ns = d->src.sw_final_pass_ns;
		/* pause to resume as the source saw it: one-way delay more */
		r->downtime_ns = d->src.downtime_ns > own_downtime ?
				 d->src.downtime_ns : own_downtime;
		r->have_source_stats = 1;
	}
	r->bytes_received = get(&d->bytes);
	r->precopy_placed = get(&d->precopy_placed);
	r->overwritten = get(&d->overwritten);
	r->recv_in_place = get(&d->recv_in_place);
	r->pages_received = get(&d->rx_pages);
	r->resume_held = d->resume_held;
	r->pages_refetched = get(&d->refetched);
	r->faults = get(&d->faults);
	r->faults_remote = get(&d->faults_remote);
	r->faults_early = get(&d->faults_early);
	r->early_dropped = get(&d->early_dropped);
	r->prepause_discarded = get(&d->prepause_dropped);
	mig_lat_finish(&d->lat, r);
	if (d->t_start)
		r->total_ns = mig_now_ns() - d->t_start;
}

int mig_dest_run(const struct mig_config *cfg, struct mig_result *res)
{
	struct dst *d;
	unsigned int i;
	int ret, checked;

	d = mig_run_alloc(res, MIG_DEST, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = cfg;
	d->res = res;
	d->hk = &cfg->hooks;
	d->be.fd = d->be.ctl_fd = d->be.uffd = d->be.memfd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->ctrl_tx, NULL);
	pthread_mutex_init(&d->pre_tx, NULL);
	for (i = 0; i < MIG_MAX_CHANNELS; i++)
		pthread_mutex_init(&d->ch[i].page_lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	mig_conns_init(&d->conns, cfg, &d->lock, &d->cond, &d->nch,
		       &d->ctrl_tx, &d->pre_tx);

	ret = mig_tls_open(cfg, MIG_DEST, &d->tls, res->error,
			   sizeof(res->error));
	if (ret)
		goto out;
	res->tls = cfg->tls;
	ret = setup(d);
	if (ret)
		goto out;
	set_phase(d, MIG_PHASE_CONNECTING);
	d->t_start = mig_now_ns();
	ret = first_connect(d);
	if (ret)
		goto out;
	mig_logf(d->hk, MIG_LOG_INFO,
		 "connected to %s: migration %s, %u data channels",
		 cfg->addr, d->idtxt, d->nch);
	ret = chans_init(d);
	if (ret) {
		mig_set_error(res, 0, "channel setup: %s", mig_errstr(ret));
		goto out;
	}
	if (cfg->want_resume) {
		ret = restart(d);
		if (ret)
			goto out;
	}
	/* a VMM may read guest RAM before the switchover: serve it */
	ret = start_faults(d);
	if (ret) {
		mig_set_error(res, 0, "starting the fault thread: %s",
			      mig_errstr(ret));
		goto out;
	}
	ret = start_threads(d);
	if (ret)
		goto out;
	ret = migrate(d);
out:
	if (ret) {
		if (ret == -ECANCELED)
			mig_set_error(res, 0, "cancelled");
		else if (d->conns.broken_why[0])
			mig_set_error(res, 0, "%s", d->conns.broken_why);
		else
			mig_set_error(res, 0, "%s", mig_errstr(ret));
		/* tell the source, if it still listens */
		if (d->conns.ctrl >= 0 && !mig_conns_broken(&d->conns))
			ctrl_send(d, MIG_MSG_ERROR, 0, res->error,
				  strlen(res->error));
		d->phase = MIG_PHASE_FAILED;
	} else {
		res->ok = 1;
		d->phase = MIG_PHASE_COMPLETE;
	}
	stop_workers(d);
	if (d->conns.threads)
		mig_conns_stop(&d->conns);
	fill_result(d);
	checked = mig_be_check_present(&d->be, d->pages, res, ret,
				       "migration");
	if (checked != ret) {
		res->ok = 0;
		ret = checked;
		d->phase = MIG_PHASE_FAILED;
	}
	progress(d, 1);
	teardown(d);
	mig_tls_counts(d->tls, &res->tls_ktls, &res->tls_user);
	mig_tls_close(d->tls);
	free(d);
	return ret;
}
