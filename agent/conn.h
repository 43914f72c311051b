/* SPDX-License-Identifier: GPL-2.0 */
/*
 * conn.h: the connections of one epoch, as both roles hold them.
 *
 * An epoch is the time between two connection breaks: one control
 * channel, the data channels and the preempt channel, each served by a
 * thread of the role (source.c, dest.c).  A failure on any of them ends
 * the epoch for all: every socket is shut down so that every blocked
 * thread wakes up, and the role reconnects (or gives up) once it has
 * joined them.  The sockets, records and handshakes themselves are in
 * mig.h (migrate.c).  Internal to the engine.
 */
#ifndef PCA_CONN_H
#define PCA_CONN_H

#include <pthread.h>

#include "mig.h"

struct mig_conns {
	const struct mig_config *cfg;
	pthread_mutex_t *lock;		/* the role's lock */
	pthread_cond_t *cond;		/* the role's; broadcast on a break */
	const unsigned int *nch;	/* the role's data channel count */
	/* taken to close the channels they guard, when set */
	pthread_mutex_t *ctrl_tx, *pre_tx;

	int ctrl, data[MIG_MAX_CHANNELS], pre;
	int broken;		/* atomic: the epoch is over */
	uint64_t t_broken;	/* atomic: when it broke; 0 while not */
	uint64_t broken_ns;	/* atomic: time between epochs, in all */
	unsigned int epochs;	/* started, counting the first */
	int threads;		/* channel threads running */
	pthread_t data_th[MIG_MAX_CHANNELS], pre_th, rx_th, hb_th;
	int (*beat)(void *arg);	/* sends a heartbeat on the control channel */
	void *arg;
	char broken_why[256];	/* under *lock */
};

/* No connections yet; the pointers are the role's, kept for its life. */
void mig_conns_init(struct mig_conns *c, const struct mig_config *cfg,
		    pthread_mutex_t *lock, pthread_cond_t *cond,
		    const unsigned int *nch, pthread_mutex_t *ctrl_tx,
		    pthread_mutex_t *pre_tx);

static inline int mig_conns_broken(struct mig_conns *c)
{
	return __atomic_load_n(&c->broken, __ATOMIC_ACQUIRE);
}

/*
 * End the epoch from any thread: every blocked channel wakes up.  The
 * first break's reason (@fmt, then @err as text) is kept in broken_why.
 */
void mig_conns_break(struct mig_conns *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* mig_conns_break()'s @err for a peer taken for dead: @fmt says why. */
#define MIG_CONNS_DEAD	(-EHOSTDOWN)
/*
 * A new epoch: not broken, no threads yet.  The time since the last
 * epoch broke is added to broken_ns.
 */
void mig_conns_reset(struct mig_conns *c);
/*
 * The time between epochs, in all; with @recovering, the current break
 * so far too.
 */
uint64_t mig_conns_broken_ns(struct mig_conns *c, int recovering);
/* How often the heartbeat thread sends a heartbeat. */
int mig_heartbeat_every_ms(const struct mig_config *cfg);
/*
 * One channel thread, counted in threads.  0, or -errno with the epoch
 * broken ("starting threads").
 */
int mig_conns_start_thread(struct mig_conns *c, pthread_t *th,
			   void *(*fn)(void *), void *arg);
/*
 * After the data threads: the preempt and control rx threads (@pre and
 * @rx, given @arg) and the heartbeat thread, which calls @beat(@arg)
 * every mig_heartbeat_every_ms() until the epoch breaks or @beat fails,
 * and breaks the epoch when no byte came from the peer on any of its
 * connections for cfg->dead_after_ms (MIG_CONNS_DEAD).  Each
 * is counted in threads as it starts.  0, or -errno with the epoch
 * broken, as mig_conns_start_thread() does.
 */
int mig_conns_start_ctrl(struct mig_conns *c, void *(*pre)(void *),
			 void *(*rx)(void *), int (*beat)(void *), void *arg);
/*
 * An ERROR record of @len bytes on the control channel: its text goes to
 * @msg and *@peer_error is set, under the role's lock.  -EREMOTEIO, or
 * the error that cut the text short.
 */
int mig_conns_recv_error(struct mig_conns *c, uint32_t len, int *peer_error,
			 char *msg, size_t msg_size);
/* A role's control record handler's answer: not one of its records. */
#define MIG_CTRL_NOT_MINE	1

/*
 * The control channel's receive loop, for the role's rx thread.  Each
 * record's header goes to @record(@arg, header), which reads or skips
 * the payload and returns 0, -errno, or MIG_CTRL_NOT_MINE: then a
 * heartbeat is skipped, an ERROR taken in as mig_conns_recv_error() does
 * (@peer_error, @msg), and any other record is logged and -EPROTO.  The
 * first error ends the loop and, unless it is -ECANCELED, the epoch.
 */
void mig_conns_ctrl_rx(struct mig_conns *c, const struct mig_hooks *hk,
		       int (*record)(void *arg, const struct mig_rec *r),
		       void *arg, int *peer_error, char *msg,
		       size_t msg_size);
/* Stop the epoch: every thread joined, every connection closed. */
void mig_conns_stop(struct mig_conns *c);
void mig_conns_close(struct mig_conns *c);

#endif /* PCA_CONN_H */
