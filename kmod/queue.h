/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Delivering faults to agents (queue.c): fault queues, the agents' netlink
 * sockets attached to a region, and the records sent to them.
 *
 * Netlink calls attach, attach_ring, detach, resend and release_portid on
 * behalf of agents (and of the release notifier); the region's close calls
 * pca_queue_detach_all().  fault.c calls pca_queue_add() for each new
 * pending fault while it still holds the fault lock, and
 * pca_queue_flush() to send it, usually after dropping that lock.
 */
#ifndef _PCA_QUEUE_H
#define _PCA_QUEUE_H

#include <linux/limits.h>
#include <linux/types.h>

struct file;
struct net;
struct pca_fault;
struct pca_queue;
struct pca_region;
struct sock;

int pca_queue_init(void);
void pca_queue_exit(void);

/* ATTACH without PCA_A_POLICY leaves the region's policy as it is. */
#define PCA_POLICY_KEEP		U32_MAX

int pca_queue_attach(struct pca_region *r, struct sock *sk, u32 portid,
		     u32 policy, u32 *queue_id);
struct file *pca_queue_attach_ring(struct pca_region *r, u32 entries,
				   u32 policy, u32 *queue_id);
int pca_queue_detach(struct pca_region *r, struct sock *sk);
void pca_queue_detach_all(struct pca_region *r);
int pca_queue_resend(struct pca_region *r, struct sock *sk);
void pca_queue_release_portid(struct net *net, u32 portid);

/* For fault.c. */
struct pca_queue *pca_queue_add(struct pca_region *r, struct pca_fault *f);
void pca_queue_flush(struct pca_queue *q);
/* For trace.h: @q's id, U32_MAX for none. */
u32 pca_queue_id(const struct pca_queue *q);

#endif /* _PCA_QUEUE_H */
