// SPDX-License-Identifier: GPL-2.0
/*
 * Fault delivery: the queues through which agents receive a region's
 * missing-page faults, and the records sent on them.
 *
 * A queue is an agent's netlink socket (the object, referenced, not its
 * port number: pca_nl_deliver() says why), attached to a region over
 * netlink.  fault.c hands each new pending fault to one of the region's
 * queues, chosen by the faulting CPU (pca_queue_add()).  A queue's pending
 * list is lock-free, and whichever faulting thread finds the queue idle
 * sends everything queued so far in as few messages as it can
 * (pca_queue_flush()).
 *
 * Records are never the only copy of a fault: fault.c's hash is.  Whenever
 * delivery may have been lost (a full socket, an agent that went away, the
 * first agent to attach), every pending fault is sent again.  Agents must
 * therefore accept a fault they already know.
 *
 * A queue may instead be a fault ring (PCA_A_RING_ENTRIES at ATTACH): the
 * same records, written to memory the agent maps from the ring's fd, with
 * a wake-up of the fd's pollers, and no socket buffer, netlink header or
 * receive system call per batch.  The ring fd owns such a queue: closing
 * it detaches the queue, and no port number is involved.
 */

#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "compat.h"
#include "fault.h"
#include "netlink.h"
#include "queue.h"
#include "region.h"
#include "trace.h"

/* Most records sent in one netlink message. */
#define PCA_RECORDS_PER_MSG	64
/* Delay before sending again after an agent's socket was full. */
#define PCA_RESEND_DELAY_MS	10

enum {
	PCA_QUEUE_SENDING,	/* a thread is draining @pending */
	PCA_QUEUE_DEAD,		/* detached; sends nothing more */
};

/**
 * struct pca_queue - an agent socket that receives a region's faults
 * @region: referenced for the queue's lifetime
 * @id: stable id reported in records
 * @sk: the agent's socket, referenced for the queue's lifetime; NULL for a
 *	fault ring
 * @portid: @sk's port at ATTACH, to match the release notifier
 * @ref: the region's queue table holds one; so do senders and @resend
 * @state: PCA_QUEUE_* bits
 * @lock: makes setting PCA_QUEUE_DEAD and queueing @resend exclusive
 * @pending: faults not yet sent
 * @resend: sends every pending fault again after a failed send
 * @rcu: frees the queue after lock-free readers of the table are done
 * @ring: a fault ring's shared memory (header, then records), or NULL
 * @ring_recs: the records of @ring
 * @ring_mask: records in @ring, minus one
 * @ring_head: records written to @ring; @ring's own copy is the agent's
 * @ring_lock: serialises writers of @ring (senders and @resend)
 * @ring_wq: pollers of the ring fd
 *
 * A queue is the socket object, not its port: records are queued on @sk
 * while it is alive (pca_nl_deliver()), never on whichever socket holds
 * the port number later.  Holding @sk keeps the struct sock, not the
 * agent's file: the socket closes as usual, turns SOCK_DEAD, and the
 * release notifier detaches every queue of a dead socket with that port.
 * Until then records to it fail with -ECONNREFUSED and are not resent.
 *
 * Lifetime: pca_queue_unlink() sets PCA_QUEUE_DEAD under @lock and
 * pca_queue_dispose() then waits for @resend; pca_queue_schedule_resend()
 * queues @resend only under @lock with the bit clear.  So once a queue is
 * disposed no work of it is pending or running, and none can start: the
 * module's exit, which comes after every queue was disposed (a queue lives
 * in a region, a region in an open file, a file holds the module), finds
 * nothing of it on the workqueue.  The last reference drops @sk and
 * @region and frees the queue after an RCU grace period.
 *
 * Locking: the region's queues_lock, then @lock; @lock is held only around
 * the flag and queue_delayed_work().  No lock of ours is held while a
 * message is delivered (sk_callback_lock, read side, inside
 * pca_nl_deliver()).  @ring_lock is a leaf, held only while records are
 * copied into @ring.
 *
 * A fault ring's fd holds a reference, and so does every mapping of it
 * (through the file): @ring is freed with the queue, after the last
 * munmap().
 */
struct pca_queue {
	struct pca_region *region;
	u32 id;
	struct sock *sk;
	u32 portid;
	refcount_t ref;
	unsigned long state;
	spinlock_t lock;	/* see above */
	struct llist_head pending;
	struct delayed_work resend;
	struct rcu_head rcu;
	struct pca_ring_header *ring;
	struct pca_fault_record *ring_recs;
	u32 ring_mask;
	u64 ring_head;
	spinlock_t ring_lock;	/* see above */
	wait_queue_head_t ring_wq;
};

static struct workqueue_struct *pca_wq;
/* Queues attached anywhere: socket release skips the search when zero. */
static atomic_t pca_nr_queues = ATOMIC_INIT(0);

int pca_queue_init(void)
{
	pca_wq = alloc_workqueue("postcopy_assist", WQ_UNBOUND, 0);
	if (!pca_wq)
		return -ENOMEM;
	return 0;
}

void pca_queue_exit(void)
{
	/*
	 * Every queue was disposed before the module's last reference went,
	 * so no resend is pending; this waits for anything still running.
	 */
	destroy_workqueue(pca_wq);
	/* Queues and regions are freed through RCU callbacks. */
	rcu_barrier();
}

static void pca_queue_release_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct pca_queue, rcu));
}

static void pca_queue_put(struct pca_queue *q)
{
	struct llist_node *list;
	struct pca_fault *f, *tmp;

	if (!refcount_dec_and_test(&q->ref))
		return;
	/* Unsent faults stay hashed; they are sent again elsewhere. */
	list = llist_del_all(&q->pending);
	llist_for_each_entry_safe(f, tmp, list, send)
		pca_fault_put(f);
	if (q->sk)
		sock_put(q->sk);
	vfree(q->ring);
	pca_region_put(q->region);
	call_rcu(&q->rcu, pca_queue_release_rcu);
}

/* Send everything again soon; the caller holds a reference to @q. */
static void pca_queue_schedule_resend(struct pca_queue *q)
{
	bool queued = false;

	/* Atomic with unlink's DEAD: nothing is queued after a dispose. */
	spin_lock(&q->lock);
	if (!test_bit(PCA_QUEUE_DEAD, &q->state)) {
		refcount_inc(&q->ref);	/* the work's */
		queued = queue_delayed_work(pca_wq, &q->resend,
					    msecs_to_jiffies(PCA_RESEND_DELAY_MS));
		/* Pending already: the work has a reference, and we hold one. */
		if (!queued)
			refcount_dec(&q->ref);
	}
	spin_unlock(&q->lock);
}

/* Records @head - @tail of a ring are unread; more than it holds is a lie. */
static bool pca_ring_tail_ok(const struct pca_queue *q, u64 head, u64 tail)
{
	return head - tail <= (u64)q->ring_mask + 1;
}

/*
 * Copy @n records into @q's ring: 0, or -EAGAIN when they did not all fit
 * (a full ring, or a tail the agent wrote wrong, which counts as full).
 */
static int pca_ring_write(struct pca_queue *q,
			  const struct pca_fault_record *recs, unsigned int n)
{
	u64 head, tail, room;
	unsigned int i;

	spin_lock(&q->ring_lock);
	head = q->ring_head;
	/* The agent read the records before it moved the tail past them. */
	tail = smp_load_acquire(&q->ring->tail);
	room = pca_ring_tail_ok(q, head, tail) ?
	       (u64)q->ring_mask + 1 - (head - tail) : 0;
	if (room > n)
		room = n;
	for (i = 0; i < room; i++)
		memcpy(&q->ring_recs[(head + i) & q->ring_mask], &recs[i],
		       sizeof(*recs));
	if (room) {
		WRITE_ONCE(q->ring_head, head + room);
		/* The records before the head that shows them. */
		smp_store_release(&q->ring->head, head + room);
	}
	spin_unlock(&q->ring_lock);
	/* Pairs with the barrier after poll_wait() in pca_ring_poll(). */
	if (room && wq_has_sleeper(&q->ring_wq))
		wake_up_interruptible_poll(&q->ring_wq, EPOLLIN | EPOLLRDNORM);
	return room == n ? 0 : -EAGAIN;
}

static int pca_queue_send(struct pca_queue *q,
			  struct pca_fault_record *recs, unsigned int n)
{
	int err = q->ring ? pca_ring_write(q, recs, n) :
			    pca_nl_send_faults(q->sk, recs, n);

	/* A full socket drops the message; the hash still has it all. */
	if (err == -EAGAIN || err == -ENOMEM)
		pca_queue_schedule_resend(q);
	return err;
}

/* Send every fault now pending in the region to @q. */
static void pca_queue_resend_all(struct pca_queue *q)
{
	struct pca_region *r = q->region;
	struct pca_fault_record *recs;
	unsigned int n, max, sent;

	max = atomic_read(&r->nr_pending);
	if (!max)
		return;
	/* Faults that arrive during the scan go out through a queue. */
	recs = kvmalloc_array(max, sizeof(*recs), GFP_KERNEL);
	if (!recs) {
		pca_queue_schedule_resend(q);
		return;
	}
	n = pca_fault_pending_records(r, q->id, recs, max);
	for (sent = 0; sent < n; sent += PCA_RECORDS_PER_MSG)
		if (pca_queue_send(q, recs + sent,
				   min_t(unsigned int, n - sent,
					 PCA_RECORDS_PER_MSG)))
			break;
	kvfree(recs);
}

static void pca_queue_resend_work(struct work_struct *work)
{
	struct pca_queue *q = container_of(to_delayed_work(work),
					   struct pca_queue, resend);

	if (!test_bit(PCA_QUEUE_DEAD, &q->state))
		pca_queue_resend_all(q);
	pca_queue_put(q);
}

/* Records sent from the stack; larger batches take an allocation. */
#define PCA_RECORDS_ON_STACK	4

/* Send one batch taken off the pending list; drops the list's refs. */
static void pca_queue_send_batch(struct pca_queue *q, struct llist_node *batch)
{
	struct pca_fault_record stack[PCA_RECORDS_ON_STACK], *recs = stack;
	unsigned int n = 0, max = PCA_RECORDS_ON_STACK, count = 0;
	struct pca_fault *f, *tmp;
	bool failed = false;

	llist_for_each_entry(f, batch, send)
		count++;
	/* The usual batch is one fault: no allocation on the fault path. */
	if (count > PCA_RECORDS_ON_STACK) {
		max = min_t(unsigned int, count, PCA_RECORDS_PER_MSG);
		recs = kmalloc_array(max, sizeof(*recs), GFP_KERNEL);
	}
	llist_for_each_entry_safe(f, tmp, batch, send) {
		/* Resolved before we got to it: nobody needs the record. */
		if (recs && !failed && !READ_ONCE(f->done))
			pca_fault_record(q->region, f, q->id, &recs[n++]);
		pca_fault_put(f);
		if (n == max) {
			failed = pca_queue_send(q, recs, n) != 0;
			n = 0;
		}
	}
	if (n && !failed)
		pca_queue_send(q, recs, n);
	if (!recs)
		pca_queue_schedule_resend(q);
	if (recs != stack)
		kfree(recs);
}

/*
 * Drain @q's pending list unless another thread already is.  That thread
 * looks at the list again after it stops, so nothing is left behind.
 */
static void pca_queue_kick(struct pca_queue *q)
{
	struct llist_node *batch;

	while (!llist_empty(&q->pending)) {
		if (test_and_set_bit_lock(PCA_QUEUE_SENDING, &q->state))
			return;
		batch = llist_reverse_order(llist_del_all(&q->pending));
		pca_queue_send_batch(q, batch);
		clear_bit_unlock(PCA_QUEUE_SENDING, &q->state);
		/* Order the unlock before the emptiness check above. */
		smp_mb__after_atomic();
	}
}

/* A queue for a new fault, spread over the queues by faulting CPU. */
static struct pca_queue *pca_queue_pick(struct pca_region *r)
{
	struct pca_queue *q = NULL;
	u32 n, i, first;

	rcu_read_lock();
	n = READ_ONCE(r->nr_queues);
	first = n ? raw_smp_processor_id() % n : 0;
	for (i = 0; i < n && !q; i++) {
		q = rcu_dereference(r->queues[(first + i) % n]);
		if (q && !refcount_inc_not_zero(&q->ref))
			q = NULL;
	}
	rcu_read_unlock();
	return q;
}

/**
 * pca_queue_add() - queue the record of a new pending fault
 * @r: the region
 * @f: the fault, just hashed; the send list takes a reference of its own
 *
 * Nothing is sent yet: the caller holds the fault lock, and sends with
 * pca_queue_flush() once it has dropped it (FAULT_FLAG_RETRY_NOWAIT
 * aside, which keeps it).
 *
 * Return: the queue, referenced, for pca_queue_flush(); NULL when no
 * agent is attached (the fault stays hashed, and the first agent to
 * attach receives it).
 */
struct pca_queue *pca_queue_add(struct pca_region *r, struct pca_fault *f)
{
	struct pca_queue *q = pca_queue_pick(r);

	if (q) {
		refcount_inc(&f->ref);	/* the send list's */
		llist_add(&f->send, &q->pending);
	}
	return q;
}

/**
 * pca_queue_flush() - send what is queued on @q, drop the caller's reference
 * @q: a queue from pca_queue_add(), or NULL
 *
 * When another thread is sending on @q already, that thread sends the
 * records too, and this returns at once.
 */
void pca_queue_flush(struct pca_queue *q)
{
	if (q) {
		pca_queue_kick(q);
		pca_queue_put(q);
	}
}

u32 pca_queue_id(const struct pca_queue *q)
{
	return q ? q->id : U32_MAX;
}

/*
 * The queue of socket @sk, or with @sk NULL the first queue of a dead
 * socket that was bound to @portid.
 */
static struct pca_queue *pca_queue_find(struct pca_region *r, struct sock *sk,
					u32 portid, unsigned int *slot)
{
	struct pca_queue *q;
	unsigned int i;

	lockdep_assert_held(&r->queues_lock);
	for (i = 0; i < r->nr_queues; i++) {
		q = rcu_dereference_protected(r->queues[i],
					      lockdep_is_held(&r->queues_lock));
		/* Fault rings have no socket: only their fd detaches them. */
		if (sk ? q->sk == sk :
			 q->sk && q->portid == portid &&
			 sock_flag(q->sk, SOCK_DEAD)) {
			*slot = i;
			return q;
		}
	}
	return NULL;
}

static struct pca_queue *pca_queue_alloc(u32 portid)
{
	struct pca_queue *q = kzalloc(sizeof(*q), GFP_KERNEL);

	if (!q)
		return NULL;
	q->portid = portid;
	refcount_set(&q->ref, 2);	/* the table's and ours */
	spin_lock_init(&q->lock);
	init_llist_head(&q->pending);
	INIT_DELAYED_WORK(&q->resend, pca_queue_resend_work);
	spin_lock_init(&q->ring_lock);
	init_waitqueue_head(&q->ring_wq);
	return q;
}

/*
 * Put the new queue @q (of socket @sk, or a ring with @sk NULL) in @r's
 * table.  On failure the caller frees @q, which holds nothing yet.
 */
static int pca_queue_link(struct pca_region *r, struct pca_queue *q,
			  struct sock *sk, u32 policy, u32 *queue_id)
{
	unsigned int slot;
	bool first;
	int ret = 0;

	mutex_lock(&r->queues_lock);
	if (r->closed)
		ret = -ENOENT;
	else if (sk && pca_queue_find(r, sk, 0, &slot))
		ret = -EEXIST;
	else if (r->nr_queues == PCA_MAX_QUEUES)
		ret = -ENOSPC;
	if (ret) {
		mutex_unlock(&r->queues_lock);
		return ret;
	}
	pca_region_get(r);
	q->region = r;
	if (sk) {
		sock_hold(sk);
		q->sk = sk;
	}
	q->id = r->next_queue_id++;
	if (q->ring) {
		q->ring->queue_id = q->id;
		q->ring->region_id = r->id;
	}
	if (policy != PCA_POLICY_KEEP)
		WRITE_ONCE(r->policy, policy);
	first = !r->nr_queues;
	rcu_assign_pointer(r->queues[r->nr_queues], q);
	WRITE_ONCE(r->nr_queues, r->nr_queues + 1);
	atomic_inc(&pca_nr_queues);
	trace_pca_queue_attach(r, q->id, q->portid);
	mutex_unlock(&r->queues_lock);

	*queue_id = q->id;
	if (first)
		pca_queue_resend_all(q);
	return 0;
}

/**
 * pca_queue_attach() - make the socket @sk a fault queue of @r
 * @r: the region
 * @sk: the agent's socket, which sent the request
 * @portid: its port
 * @policy: what faults do while no agent is attached, from now on
 * @queue_id: the new queue's id
 *
 * The first queue to attach receives every fault already pending.  A dead
 * socket that had the same port and is not detached yet is no obstacle:
 * queues are told apart by socket.
 *
 * Return: 0, -EEXIST if @sk is attached already, -ENOSPC when the region
 * has PCA_MAX_QUEUES, -ENOENT if the region is closed, -ENOMEM.
 */
int pca_queue_attach(struct pca_region *r, struct sock *sk, u32 portid,
		     u32 policy, u32 *queue_id)
{
	struct pca_queue *q = pca_queue_alloc(portid);
	int ret;

	if (!q)
		return -ENOMEM;
	ret = pca_queue_link(r, q, sk, policy, queue_id);
	if (ret) {
		kfree(q);
		return ret;
	}
	pca_queue_put(q);
	return 0;
}

/*
 * Take the queue in @slot out of the table.  The last slot moves into the
 * hole; a lock-free reader may briefly miss or double-see a queue, which
 * only changes which agent gets a fault.
 */
static struct pca_queue *pca_queue_unlink(struct pca_region *r,
					  unsigned int slot)
{
	struct pca_queue *q, *last;

	lockdep_assert_held(&r->queues_lock);
	q = rcu_dereference_protected(r->queues[slot],
				      lockdep_is_held(&r->queues_lock));
	last = rcu_dereference_protected(r->queues[r->nr_queues - 1],
					 lockdep_is_held(&r->queues_lock));
	rcu_assign_pointer(r->queues[slot], last);
	RCU_INIT_POINTER(r->queues[r->nr_queues - 1], NULL);
	WRITE_ONCE(r->nr_queues, r->nr_queues - 1);
	spin_lock(&q->lock);
	set_bit(PCA_QUEUE_DEAD, &q->state);
	spin_unlock(&q->lock);
	/* A ring's pollers learn that nothing more will come. */
	if (q->ring)
		wake_up_interruptible_poll(&q->ring_wq, EPOLLHUP);
	atomic_dec(&pca_nr_queues);
	trace_pca_queue_detach(r, q->id, q->portid);
	return q;
}

/*
 * Drop the table's reference of an unlinked queue.  Its resend can no
 * longer be queued (DEAD is set); wait for one pending or running, so
 * that none outlives this call.  Sleeps: process context, and never from
 * the resend work itself.
 */
static void pca_queue_dispose(struct pca_queue *q)
{
	if (cancel_delayed_work_sync(&q->resend))
		pca_queue_put(q);
	pca_queue_put(q);
}

/*
 * After a queue left: its unsent and unresolved faults go to a surviving
 * queue; with none left, the region's policy decides for the waiters.
 */
static void pca_queue_after_detach(struct pca_region *r)
{
	struct pca_queue *q = pca_queue_pick(r);

	if (q) {
		pca_queue_resend_all(q);
		pca_queue_put(q);
	} else {
		pca_fault_no_agent(r);
	}
}

/* Detach @sk's queue, or with @sk NULL every dead socket's of @portid. */
static int pca_queue_detach_match(struct pca_region *r, struct sock *sk,
				  u32 portid)
{
	struct pca_queue *gone[PCA_MAX_QUEUES], *q;
	unsigned int slot, n = 0;

	mutex_lock(&r->queues_lock);
	while (n < PCA_MAX_QUEUES &&
	       (q = pca_queue_find(r, sk, portid, &slot))) {
		gone[n++] = pca_queue_unlink(r, slot);
		if (sk)
			break;
	}
	mutex_unlock(&r->queues_lock);
	if (!n)
		return -ENOENT;
	while (n)
		pca_queue_dispose(gone[--n]);
	pca_queue_after_detach(r);
	return 0;
}

int pca_queue_detach(struct pca_region *r, struct sock *sk)
{
	return pca_queue_detach_match(r, sk, 0);
}

/* The region is closing: no queue stays, no fault waits. */
void pca_queue_detach_all(struct pca_region *r)
{
	struct pca_queue *gone[PCA_MAX_QUEUES];
	unsigned int n = 0;

	mutex_lock(&r->queues_lock);
	WRITE_ONCE(r->closed, true);
	while (r->nr_queues)
		gone[n++] = pca_queue_unlink(r, r->nr_queues - 1);
	mutex_unlock(&r->queues_lock);
	while (n)
		pca_queue_dispose(gone[--n]);
}

int pca_queue_resend(struct pca_region *r, struct sock *sk)
{
	struct pca_queue *q;
	unsigned int slot;

	mutex_lock(&r->queues_lock);
	q = pca_queue_find(r, sk, 0, &slot);
	if (q)
		refcount_inc(&q->ref);
	mutex_unlock(&r->queues_lock);
	if (!q)
		return -ENOENT;
	pca_queue_resend_all(q);
	pca_queue_put(q);
	return 0;
}

/*
 * A socket bound to @portid closed (or its agent died): detach it
 * everywhere.  It is dead by now (netlink orphans it before it notifies);
 * a live socket that took the port meanwhile keeps its queues.
 */
void pca_queue_release_portid(struct net *net, u32 portid)
{
	struct pca_region *r;
	unsigned long id = 0;

	if (!atomic_read(&pca_nr_queues))
		return;
	while ((r = pca_region_find_next(net, &id))) {
		pca_queue_detach_match(r, NULL, portid);
		pca_region_put(r);
		id++;
	}
}

/* -------------------------------------------------------------------------
 * Fault rings
 */

static int pca_ring_release(struct inode *inode, struct file *file)
{
	struct pca_queue *q = file->private_data, *gone = NULL;
	struct pca_region *r;
	unsigned int i;

	/* A ring whose ATTACH failed: its queue was never linked. */
	if (!q)
		return 0;
	r = q->region;
	mutex_lock(&r->queues_lock);
	for (i = 0; i < r->nr_queues; i++) {
		if (rcu_access_pointer(r->queues[i]) == q) {
			gone = pca_queue_unlink(r, i);
			break;
		}
	}
	mutex_unlock(&r->queues_lock);
	/* Not linked any more when the region closed first. */
	if (gone) {
		pca_queue_dispose(gone);
		pca_queue_after_detach(r);
	}
	pca_queue_put(q);	/* the file's */
	return 0;
}

static __poll_t pca_ring_poll(struct file *file, poll_table *wait)
{
	struct pca_queue *q = file->private_data;
	__poll_t mask = 0;
	u64 head, tail;

	poll_wait(file, &q->ring_wq, wait);
	/* Pairs with wq_has_sleeper() in pca_ring_write(). */
	smp_mb();
	if (test_bit(PCA_QUEUE_DEAD, &q->state))
		mask |= EPOLLHUP;
	head = READ_ONCE(q->ring_head);
	tail = READ_ONCE(q->ring->tail);
	if (!pca_ring_tail_ok(q, head, tail))
		mask |= EPOLLERR;
	else if (head != tail)
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

static int pca_ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pca_queue *q = file->private_data;
	unsigned long size = PAGE_ALIGN(PCA_RING_MAP_SIZE(q->ring_mask + 1));

	/* A private copy would hide the agent's tail from the kernel. */
	if (!(vma->vm_flags & VM_SHARED) || vma->vm_pgoff ||
	    vma->vm_end - vma->vm_start > size)
		return -EINVAL;
	/*
	 * A child's copy of the mapping would hold the file, and with it the
	 * queue, after the agent closed its fd: forks do not inherit it.
	 */
	pca_vm_flags_set(vma, VM_DONTCOPY);
	return remap_vmalloc_range(vma, q->ring, 0);
}

static long pca_ring_ioctl(struct file *file, unsigned int cmd,
			   unsigned long arg)
{
	return -ENOTTY;
}

static const struct file_operations pca_ring_fops = {
	.owner		= THIS_MODULE,
	.release	= pca_ring_release,
	.poll		= pca_ring_poll,
	.mmap		= pca_ring_mmap,
	.unlocked_ioctl	= pca_ring_ioctl,
	.compat_ioctl	= pca_ring_ioctl,
	.llseek		= noop_llseek,
};

/**
 * pca_queue_attach_ring() - attach a fault ring of @entries records to @r
 * @r: the region
 * @entries: records the ring holds, a power of two
 * @policy: what faults do while no agent is attached, from now on
 * @queue_id: the new queue's id
 *
 * Return: the ring's file, which owns the queue (its release detaches it),
 * for the caller to install; ERR_PTR() of -EINVAL (@entries not a power
 * of two from PCA_RING_MIN_ENTRIES to PCA_RING_MAX_ENTRIES), or of
 * -ENOSPC, -ENOENT or -ENOMEM as pca_queue_attach().
 */
struct file *pca_queue_attach_ring(struct pca_region *r, u32 entries,
				   u32 policy, u32 *queue_id)
{
	struct pca_queue *q;
	struct file *file;
	int ret;

	if (!is_power_of_2(entries) || entries < PCA_RING_MIN_ENTRIES ||
	    entries > PCA_RING_MAX_ENTRIES)
		return ERR_PTR(-EINVAL);
	q = pca_queue_alloc(0);
	if (!q)
		return ERR_PTR(-ENOMEM);
	q->ring = vmalloc_user(PAGE_ALIGN(PCA_RING_MAP_SIZE(entries)));
	if (!q->ring) {
		kfree(q);
		return ERR_PTR(-ENOMEM);
	}
	q->ring_recs = (void *)q->ring + PCA_RING_RECORDS_OFFSET;
	q->ring_mask = entries - 1;
	q->ring->entries = entries;
	/* The file takes our reference; the table gets its own. */
	file = anon_inode_getfile("[pca-fault-ring]", &pca_ring_fops, q,
				  O_RDWR | O_CLOEXEC);
	if (IS_ERR(file)) {
		vfree(q->ring);
		kfree(q);
		return file;
	}
	ret = pca_queue_link(r, q, NULL, policy, queue_id);
	if (ret) {
		/* Release finds nothing to detach; q->region is unset. */
		q->region = NULL;
		refcount_set(&q->ref, 1);
		file->private_data = NULL;
		fput(file);
		vfree(q->ring);
		kfree(q);
		return ERR_PTR(ret);
	}
	return file;
}
