// SPDX-License-Identifier: GPL-2.0
/*
 * Missing-page faults: waiting, coalescing, and forwarding to agents.
 *
 * A fault on a missing page hashes a pending entry by the offset of its
 * unit (the page, or the 2 MiB of a huge region: one record and one wait
 * for all the unit's threads), one lock per bucket, never one lock per
 * region, then hands the entry to one of the region's fault queues, chosen
 * by the faulting CPU.  A queue is an agent's netlink socket (the object,
 * referenced, not its port number: pca_nl_deliver() says why); its pending
 * list is lock-free, and whichever faulting thread finds the queue idle
 * sends everything queued so far in as few messages as it can.  The thread
 * then drops its fault lock and sleeps until the page is resolved
 * (interruptibly for a user access, killably for a kernel one).
 *
 * Records are never the only copy of a fault: the hash is.  Whenever
 * delivery may have been lost (a full socket, an agent that went away, the
 * first agent to attach), every pending fault is sent again.  Agents must
 * therefore accept a fault they already know.
 */

#include <linux/file.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/pid_namespace.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include "compat.h"
#include "fault.h"
#include "netlink.h"
#include "region.h"

/* Most records sent in one netlink message. */
#define PCA_RECORDS_PER_MSG	64
/* Delay before sending again after an agent's socket was full. */
#define PCA_RESEND_DELAY_MS	10

/**
 * struct pca_fault - a missing page that threads are waiting for
 * @node: bucket chain; a hashed entry holds one reference
 * @send: place on a queue's send list, which holds one reference
 * @ref: the hash's, the send list's, and one for each waiting thread
 * @pgoff: the first page of the missing unit (the page, or its 2 MiB)
 * @time_ns: when the first thread faulted
 * @flags: PCA_FAULT_* of the first thread
 * @tid: the first thread, in the region creator's pid namespace
 * @done: set, with the entry unhashed, when its waiters are woken
 * @wq: the waiting threads
 */
struct pca_fault {
	struct hlist_node node;
	struct llist_node send;
	refcount_t ref;
	pgoff_t pgoff;
	u64 time_ns;
	u32 flags;
	u32 tid;
	bool done;
	wait_queue_head_t wq;
};

enum {
	PCA_QUEUE_SENDING,	/* a thread is draining @pending */
	PCA_QUEUE_DEAD,		/* detached; sends nothing more */
};

/**
 * struct pca_queue - an agent socket that receives a region's faults
 * @region: referenced for the queue's lifetime
 * @id: stable id reported in records
 * @sk: the agent's socket, referenced for the queue's lifetime
 * @portid: @sk's port at ATTACH, to match the release notifier
 * @ref: the region's queue table holds one; so do senders and @resend
 * @state: PCA_QUEUE_* bits
 * @lock: makes setting PCA_QUEUE_DEAD and queueing @resend exclusive
 * @pending: faults not yet sent
 * @resend: sends every pending fault again after a failed send
 * @rcu: frees the queue after lock-free readers of the table are done
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
 * pca_nl_deliver()).
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
};

static struct kmem_cache *pca_fault_cache;
static struct workqueue_struct *pca_wq;
/* Queues attached anywhere: socket release skips the search when zero. */
static atomic_t pca_nr_queues = ATOMIC_INIT(0);

int pca_fault_init(void)
{
	pca_fault_cache = KMEM_CACHE(pca_fault, 0);
	if (!pca_fault_cache)
		return -ENOMEM;
	pca_wq = alloc_workqueue("postcopy_assist", WQ_UNBOUND, 0);
	if (!pca_wq) {
		kmem_cache_destroy(pca_fault_cache);
		return -ENOMEM;
	}
	return 0;
}

void pca_fault_exit(void)
{
	/*
	 * Every queue was disposed before the module's last reference went,
	 * so no resend is pending; this waits for anything still running.
	 */
	destroy_workqueue(pca_wq);
	/* Queues and regions are freed through RCU callbacks. */
	rcu_barrier();
	kmem_cache_destroy(pca_fault_cache);
}

void pca_region_faults_init(struct pca_region *r)
{
	int i;

	for (i = 0; i < PCA_FAULT_BUCKETS; i++) {
		spin_lock_init(&r->buckets[i].lock);
		INIT_HLIST_HEAD(&r->buckets[i].head);
	}
}

static struct pca_fault_bucket *pca_bucket(struct pca_region *r,
					   pgoff_t pgoff)
{
	/* Neighbouring units land in different buckets. */
	return &r->buckets[(pgoff >> r->unit_order) & (PCA_FAULT_BUCKETS - 1)];
}

static struct pca_fault *pca_bucket_find(struct pca_fault_bucket *b,
					 pgoff_t pgoff)
{
	struct pca_fault *f;

	hlist_for_each_entry(f, &b->head, node)
		if (f->pgoff == pgoff)
			return f;
	return NULL;
}

static void pca_fault_put(struct pca_fault *f)
{
	if (refcount_dec_and_test(&f->ref))
		kmem_cache_free(pca_fault_cache, f);
}

static void pca_fault_record(const struct pca_region *r,
			     const struct pca_queue *q,
			     const struct pca_fault *f,
			     struct pca_fault_record *rec)
{
	/* Reserved fields go out as zeroes, never as stack contents. */
	memset(rec, 0, sizeof(*rec));
	rec->offset = (u64)f->pgoff << PAGE_SHIFT;
	rec->length = pca_unit_size(r);
	rec->time_ns = f->time_ns;
	rec->region_id = r->id;
	rec->flags = f->flags;
	rec->tid = f->tid;
	rec->queue_id = q->id;
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
	sock_put(q->sk);
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

static int pca_queue_send(struct pca_queue *q,
			  struct pca_fault_record *recs, unsigned int n)
{
	int err = pca_nl_send_faults(q->sk, recs, n);

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
	unsigned int n = 0, max, i, sent;
	struct pca_fault *f;

	max = atomic_read(&r->nr_pending);
	if (!max)
		return;
	/* Faults that arrive during the scan go out through a queue. */
	recs = kvmalloc_array(max, sizeof(*recs), GFP_KERNEL);
	if (!recs) {
		pca_queue_schedule_resend(q);
		return;
	}
	for (i = 0; i < PCA_FAULT_BUCKETS && n < max; i++) {
		struct pca_fault_bucket *b = &r->buckets[i];

		spin_lock(&b->lock);
		hlist_for_each_entry(f, &b->head, node) {
			if (n == max)
				break;
			pca_fault_record(r, q, f, &recs[n++]);
		}
		spin_unlock(&b->lock);
	}
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
			pca_fault_record(q->region, q, f, &recs[n++]);
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

static bool pca_region_can_wait(struct pca_region *r)
{
	return !READ_ONCE(r->closed) &&
	       (READ_ONCE(r->nr_queues) ||
		READ_ONCE(r->policy) == PCA_POLICY_WAIT);
}

static void pca_wait_hist(struct pca_region *r, u64 ns)
{
	unsigned int bucket = fls64(div_u64(ns, NSEC_PER_USEC));

	if (bucket >= PCA_WAIT_HIST_BUCKETS)
		bucket = PCA_WAIT_HIST_BUCKETS - 1;
	pca_count_wait(r, bucket);
}

/**
 * pca_fault_wait() - wait for a missing page
 * @r: the region
 * @vmf: the fault, on a page found missing
 *
 * Return: 0 if the page turned up meanwhile (the fault lock is still held,
 * look again); VM_FAULT_RETRY once woken, with the fault lock dropped (or
 * held, for FAULT_FLAG_RETRY_NOWAIT, which does not wait); VM_FAULT_SIGBUS
 * when the fault may not wait; VM_FAULT_OOM.
 */
vm_fault_t pca_fault_wait(struct pca_region *r, struct vm_fault *vmf)
{
	/* A fault waits for, and reports, the whole unit of its page. */
	pgoff_t unit = pca_unit_start(r, vmf->pgoff);
	struct pca_fault_bucket *b = pca_bucket(r, unit);
	struct pca_fault *f, *new;
	struct pca_queue *q = NULL;
	bool created = false, present;
	struct file *file;
	u64 start;
	int err;

	/* Hosts may forbid the kernel itself to stall on an agent. */
	if (!(vmf->flags & FAULT_FLAG_USER) &&
	    (r->flags & PCA_REGION_USER_ONLY))
		return VM_FAULT_SIGBUS;
	/* Never sleep for userspace with the fault lock held. */
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		return VM_FAULT_SIGBUS;
	if (!pca_region_can_wait(r))
		return VM_FAULT_SIGBUS;

	new = kmem_cache_alloc(pca_fault_cache, GFP_KERNEL);
	if (!new)
		return VM_FAULT_OOM;

	spin_lock(&b->lock);
	f = pca_bucket_find(b, unit);
	if (f) {
		refcount_inc(&f->ref);
	} else {
		f = new;
		new = NULL;
		created = true;
		refcount_set(&f->ref, 2);	/* the hash's and ours */
		f->pgoff = unit;
		f->time_ns = ktime_get_ns();
		f->flags = (vmf->flags & FAULT_FLAG_WRITE ? PCA_FAULT_WRITE : 0) |
			   (vmf->flags & FAULT_FLAG_USER ? 0 : PCA_FAULT_KERNEL);
		f->tid = task_pid_nr_ns(current, r->pid_ns);
		f->done = false;
		init_waitqueue_head(&f->wq);
		hlist_add_head(&f->node, &b->head);
		atomic_inc(&r->nr_pending);
	}
	/*
	 * Pairs with smp_mb() in pca_fault_wake_range(): either we see the
	 * page placed, or the resolver sees us pending and wakes us.  The
	 * same holds for a detach that leaves no agent under the FAIL policy.
	 */
	smp_mb__after_atomic();
	present = pca_region_present(r, unit);
	if (present || !pca_region_can_wait(r)) {
		if (created) {
			hlist_del(&f->node);
			atomic_dec(&r->nr_pending);
			refcount_set(&f->ref, 1);
		}
		spin_unlock(&b->lock);
		pca_fault_put(f);
		if (new)
			kmem_cache_free(pca_fault_cache, new);
		return present ? 0 : VM_FAULT_SIGBUS;
	}
	spin_unlock(&b->lock);
	if (new)
		kmem_cache_free(pca_fault_cache, new);

	if (created) {
		pca_count_add(r, PCA_COUNT_FAULTS, 1);
		q = pca_queue_pick(r);
		if (q) {
			refcount_inc(&f->ref);	/* the send list's */
			llist_add(&f->send, &q->pending);
		}
	} else {
		pca_count_add(r, PCA_COUNT_COALESCED, 1);
	}

	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT) {
		if (q) {
			pca_queue_kick(q);
			pca_queue_put(q);
		}
		pca_fault_put(f);
		return VM_FAULT_RETRY;
	}

	/* The VMA may go once the lock is dropped; the region may not. */
	file = get_file(vmf->vma->vm_file);
	pca_release_fault_lock(vmf);

	if (q) {
		pca_queue_kick(q);
		pca_queue_put(q);
	}
	start = ktime_get_ns();
	/*
	 * A user access may be interrupted by any signal (a VMM kicks a vCPU
	 * thread out with one): the handler runs and the access faults
	 * again, joining the same pending entry.  A kernel access would only
	 * retry at once, so it waits for the page or a fatal signal.
	 */
	if ((vmf->flags & (FAULT_FLAG_INTERRUPTIBLE | FAULT_FLAG_USER)) ==
	    (FAULT_FLAG_INTERRUPTIBLE | FAULT_FLAG_USER))
		err = wait_event_interruptible(f->wq, READ_ONCE(f->done));
	else
		err = wait_event_killable(f->wq, READ_ONCE(f->done));
	if (!err)
		pca_wait_hist(r, ktime_get_ns() - start);
	pca_fault_put(f);
	fput(file);
	return VM_FAULT_RETRY;
}

/* Wake the waiters of pages [@first, @end) hashed in @b. */
static void pca_bucket_wake(struct pca_region *r, struct pca_fault_bucket *b,
			    pgoff_t first, pgoff_t end)
{
	struct pca_fault *f;
	struct hlist_node *tmp;
	HLIST_HEAD(woken);

	spin_lock(&b->lock);
	hlist_for_each_entry_safe(f, tmp, &b->head, node) {
		if (f->pgoff < first || f->pgoff >= end)
			continue;
		hlist_del(&f->node);
		atomic_dec(&r->nr_pending);
		WRITE_ONCE(f->done, true);
		wake_up_all(&f->wq);
		hlist_add_head(&f->node, &woken);
	}
	spin_unlock(&b->lock);
	hlist_for_each_entry_safe(f, tmp, &woken, node)
		pca_fault_put(f);
}

/**
 * pca_fault_wake_range() - wake every thread waiting for a page in range
 * @r: the region
 * @start: first page, of a unit
 * @nr: number of pages, whole units
 *
 * Woken threads retry their fault: they map the page if it is present
 * now, and fault again (a new event) if it is not.
 */
void pca_fault_wake_range(struct pca_region *r, pgoff_t start, pgoff_t nr)
{
	pgoff_t i, step = pca_unit_pages(r);

	/* Pairs with smp_mb__after_atomic() in pca_fault_wait(). */
	smp_mb();
	if (!atomic_read(&r->nr_pending))
		return;
	/* Entries are keyed by unit; ranges are whole units. */
	if (nr >> r->unit_order <= PCA_FAULT_BUCKETS) {
		for (i = start; i < start + nr; i += step)
			pca_bucket_wake(r, pca_bucket(r, i), i, i + step);
		return;
	}
	for (i = 0; i < PCA_FAULT_BUCKETS; i++)
		pca_bucket_wake(r, &r->buckets[i], start, start + nr);
}

void pca_fault_wake_all(struct pca_region *r)
{
	pca_fault_wake_range(r, 0, r->nr_pages);
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
		if (sk ? q->sk == sk :
			 q->portid == portid && sock_flag(q->sk, SOCK_DEAD)) {
			*slot = i;
			return q;
		}
	}
	return NULL;
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
	struct pca_queue *q;
	unsigned int slot;
	bool first;
	int ret = 0;

	q = kzalloc(sizeof(*q), GFP_KERNEL);
	if (!q)
		return -ENOMEM;
	q->portid = portid;
	refcount_set(&q->ref, 2);	/* the table's and ours */
	spin_lock_init(&q->lock);
	init_llist_head(&q->pending);
	INIT_DELAYED_WORK(&q->resend, pca_queue_resend_work);

	mutex_lock(&r->queues_lock);
	if (r->closed)
		ret = -ENOENT;
	else if (pca_queue_find(r, sk, 0, &slot))
		ret = -EEXIST;
	else if (r->nr_queues == PCA_MAX_QUEUES)
		ret = -ENOSPC;
	if (ret) {
		mutex_unlock(&r->queues_lock);
		kfree(q);
		return ret;
	}
	pca_region_get(r);
	q->region = r;
	sock_hold(sk);
	q->sk = sk;
	q->id = r->next_queue_id++;
	if (policy != PCA_POLICY_KEEP)
		WRITE_ONCE(r->policy, policy);
	first = !r->nr_queues;
	rcu_assign_pointer(r->queues[r->nr_queues], q);
	WRITE_ONCE(r->nr_queues, r->nr_queues + 1);
	atomic_inc(&pca_nr_queues);
	mutex_unlock(&r->queues_lock);

	*queue_id = q->id;
	if (first)
		pca_queue_resend_all(q);
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
	atomic_dec(&pca_nr_queues);
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
 * queue; with none left, the FAIL policy fails every waiter (they retry,
 * find no agent and get SIGBUS) and the WAIT policy leaves them waiting.
 */
static void pca_queue_after_detach(struct pca_region *r)
{
	struct pca_queue *q = pca_queue_pick(r);

	if (q) {
		pca_queue_resend_all(q);
		pca_queue_put(q);
	} else if (READ_ONCE(r->policy) == PCA_POLICY_FAIL) {
		pca_fault_wake_all(r);
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
