// SPDX-License-Identifier: GPL-2.0
/*
 * Missing-page faults: waiting, coalescing and waking.
 *
 * A fault on a missing page hashes a pending entry by the offset of its
 * unit (the page, or the 2 MiB of a huge region: one record and one wait
 * for all the unit's threads), one lock per bucket, never one lock per
 * region, and hands a new entry to queue.c, which delivers it to an agent.
 * The thread then drops its fault lock and sleeps until the page is
 * resolved (interruptibly for a user access, killably for a kernel one).
 *
 * Whether a fault may wait at all is the region's policy: with no agent
 * attached, PCA_POLICY_WAIT keeps faults waiting for the first one, and
 * PCA_POLICY_FAIL fails them (SIGBUS), including those already asleep when
 * the last agent leaves.
 *
 * The hash is the only complete list of pending faults: queue.c scans it
 * whenever delivery may have been lost.
 */

#include <linux/file.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/pid_namespace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/wait.h>

#include "compat.h"
#include "fault.h"
#include "queue.h"
#include "region.h"
#include "trace.h"

static struct kmem_cache *pca_fault_cache;

/*
 * One free entry kept per CPU: a fault takes it and the last reference to
 * an entry puts it back, so that a steady stream of faults (one pending
 * at a time per CPU, as a vCPU's) neither allocates nor frees.  A fault
 * that joins a pending entry returns the spare it took.
 */
static DEFINE_PER_CPU(struct pca_fault *, pca_fault_spare);

int pca_fault_init(void)
{
	pca_fault_cache = KMEM_CACHE(pca_fault, 0);
	if (!pca_fault_cache)
		return -ENOMEM;
	return 0;
}

void pca_fault_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct pca_fault *f = per_cpu(pca_fault_spare, cpu);

		if (f)
			kmem_cache_free(pca_fault_cache, f);
	}
	kmem_cache_destroy(pca_fault_cache);
}

static struct pca_fault *pca_fault_alloc(void)
{
	struct pca_fault *f = this_cpu_xchg(pca_fault_spare, NULL);

	return f ?: kmem_cache_alloc(pca_fault_cache, GFP_KERNEL);
}

static void pca_fault_free(struct pca_fault *f)
{
	if (this_cpu_cmpxchg(pca_fault_spare, NULL, f))
		kmem_cache_free(pca_fault_cache, f);
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

void pca_fault_put(struct pca_fault *f)
{
	if (refcount_dec_and_test(&f->ref))
		pca_fault_free(f);
}

/* The record of @f that queue @queue_id sends to its agent. */
void pca_fault_record(const struct pca_region *r, const struct pca_fault *f,
		      u32 queue_id, struct pca_fault_record *rec)
{
	/* Reserved fields go out as zeroes, never as stack contents. */
	memset(rec, 0, sizeof(*rec));
	rec->offset = (u64)f->pgoff << PAGE_SHIFT;
	rec->length = pca_unit_size(r);
	rec->time_ns = f->time_ns;
	rec->region_id = r->id;
	rec->flags = f->flags;
	rec->tid = f->tid;
	rec->queue_id = queue_id;
}

/* Fill @recs for queue @queue_id with up to @max faults pending in @r. */
unsigned int pca_fault_pending_records(struct pca_region *r, u32 queue_id,
				       struct pca_fault_record *recs,
				       unsigned int max)
{
	unsigned int n = 0, i;
	struct pca_fault *f;

	for (i = 0; i < PCA_FAULT_BUCKETS && n < max; i++) {
		struct pca_fault_bucket *b = &r->buckets[i];

		spin_lock(&b->lock);
		hlist_for_each_entry(f, &b->head, node) {
			if (n == max)
				break;
			pca_fault_record(r, f, queue_id, &recs[n++]);
		}
		spin_unlock(&b->lock);
	}
	return n;
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

/* A fault that may not wait: SIGBUS, and its end in the trace. */
static vm_fault_t pca_fault_fail(struct pca_region *r, pgoff_t unit)
{
	trace_pca_fault_resolved(r, unit, 0, PCA_TRACE_FAILED);
	return VM_FAULT_SIGBUS;
}

/**
 * pca_fault_wait() - wait for a missing page
 * @r: the region
 * @vmf: the fault, on a page found missing
 *
 * Return: 0 if the page turned up meanwhile (the fault lock is still held,
 * look again); VM_FAULT_RETRY once woken, with the fault lock dropped (or
 * held, for FAULT_FLAG_RETRY_NOWAIT, which does not wait);
 * VM_FAULT_NOPAGE | VM_FAULT_COMPLETED once woken with the page mapped
 * for us, the fault lock dropped; VM_FAULT_SIGBUS when the fault may not
 * wait; VM_FAULT_OOM.
 */
vm_fault_t pca_fault_wait(struct pca_region *r, struct vm_fault *vmf)
{
	/* A fault waits for, and reports, the whole unit of its page. */
	pgoff_t unit = pca_unit_start(r, vmf->pgoff);
	struct pca_fault_bucket *b = pca_bucket(r, unit);
	struct pca_fault *f, *new;
	struct mm_struct *mm = vmf->vma->vm_mm;
	unsigned long address = vmf->address;
	struct pca_queue *q = NULL;
	bool created = false, present, premap;
	struct file *file;
	u64 start;
	int err;

	/* Hosts may forbid the kernel itself to stall on an agent. */
	if (!(vmf->flags & FAULT_FLAG_USER) &&
	    (r->flags & PCA_REGION_USER_ONLY))
		return pca_fault_fail(r, unit);
	/* Never sleep for userspace with the fault lock held. */
	if (!(vmf->flags & FAULT_FLAG_ALLOW_RETRY))
		return pca_fault_fail(r, unit);
	if (!pca_region_can_wait(r))
		return pca_fault_fail(r, unit);

	/*
	 * The resolution may map the page for us (pca_bucket_premap()): a
	 * page of a 4 KiB region for a thread that waits, unless it writes
	 * where the first write is logged (.page_mkwrite: the pre-map is a
	 * read fault's, and the write would fault once more).
	 */
	premap = !r->unit_order && !(vmf->flags & FAULT_FLAG_RETRY_NOWAIT) &&
		 (!(vmf->flags & FAULT_FLAG_WRITE) ||
		  !vmf->vma->vm_ops->page_mkwrite);

	new = pca_fault_alloc();
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
		/* No pid lookup where the creator sees global ids. */
		f->tid = r->pid_ns == &init_pid_ns ? current->pid :
			 task_pid_nr_ns(current, r->pid_ns);
		f->done = false;
		f->premapped = false;
		f->owner = NULL;
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
			pca_fault_free(new);
		return present ? 0 : pca_fault_fail(r, unit);
	}
	/* The first waiter, or one after it left, gets the page mapped. */
	if (premap && !f->owner) {
		f->owner = current;
		f->mm = mm;
		f->address = address;
	}
	spin_unlock(&b->lock);
	if (new)
		pca_fault_free(new);

	if (created) {
		pca_count_add(r, PCA_COUNT_FAULTS, 1);
		q = pca_queue_add(r, f);
		trace_pca_fault_raised(r, f, q);
	} else {
		pca_count_add(r, PCA_COUNT_COALESCED, 1);
		trace_pca_fault_coalesced(r, f);
	}

	if (vmf->flags & FAULT_FLAG_RETRY_NOWAIT) {
		pca_queue_flush(q);
		pca_fault_put(f);
		return VM_FAULT_RETRY;
	}

	/* The VMA may go once the lock is dropped; the region may not. */
	file = get_file(vmf->vma->vm_file);
	pca_release_fault_lock(vmf);

	pca_queue_flush(q);
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
	/*
	 * Leaving unwoken (the entry may stay hashed): no resolution may
	 * use our mm from now on.  Only we set @owner to ourselves, so the
	 * unlocked look is exact.
	 */
	if (err && READ_ONCE(f->owner) == current) {
		spin_lock(&b->lock);
		f->owner = NULL;
		spin_unlock(&b->lock);
	}
	/* The tracepoint times the wait from @start, only when enabled. */
	trace_pca_fault_resolved(r, unit, start,
				 err ? PCA_TRACE_INTERRUPTED : PCA_TRACE_WOKEN);
	/*
	 * Our page is mapped where we faulted: the fault is complete (its
	 * lock dropped: VM_FAULT_COMPLETED, which every caller that allows
	 * a retry handles), the access runs again without a retry of the
	 * fault (under mmap_lock, walking to the new PTE).  NOPAGE with it,
	 * because it is true and because the core's __do_fault() returns
	 * at once only on NOPAGE, RETRY or an error (on anything else it
	 * takes vmf->page).  Should the PTE be gone by the time the access
	 * runs (DISCARD), it faults again, as after any retry.
	 */
	premap = !err && READ_ONCE(f->premapped) && f->mm == mm &&
		 f->address == address;
	pca_fault_put(f);
	fput(file);
	return premap ? VM_FAULT_NOPAGE | VM_FAULT_COMPLETED : VM_FAULT_RETRY;
}

/*
 * Map the page at @unit into the mapping of the thread waiting for it,
 * before waking it (a 4 KiB region only).  Return: the owner whose fault
 * was mapped, NULL if none (see pca_region_premap()).
 *
 * Lock order: the bucket lock is dropped before the mm is used; the
 * mm's mmap_lock is only tried (read side), with none of the region's
 * locks held (the callers of pca_fault_wake_range() hold none), and the
 * core's folio (tried) and page table locks nest inside it, as in a
 * fault.  A resolver never waits for a process's mmap_lock.
 */
static struct task_struct *pca_bucket_premap(struct pca_region *r,
					     struct pca_fault_bucket *b,
					     pgoff_t unit, unsigned long *addr)
{
	struct task_struct *owner = NULL;
	struct mm_struct *mm = NULL;
	struct pca_fault *f;

	/* A WAKE of a missing page: nothing to map. */
	if (!pca_region_present(r, unit))
		return NULL;
	spin_lock(&b->lock);
	f = pca_bucket_find(b, unit);
	/* @owner waits (it clears itself under this lock before leaving). */
	if (f && f->owner && mmget_not_zero(f->mm)) {
		owner = f->owner;
		mm = f->mm;
		*addr = f->address;
	}
	spin_unlock(&b->lock);
	if (!mm)
		return NULL;
	if (!pca_region_premap(r, mm, *addr, unit))
		owner = NULL;
	/* Never the exit of an address space in the resolver's context. */
	mmput_async(mm);
	return owner;
}

/* Wake the waiters of pages [@first, @end) hashed in @b. */
static void pca_bucket_wake(struct pca_region *r, struct pca_fault_bucket *b,
			    pgoff_t first, pgoff_t end, bool premap)
{
	struct task_struct *owner = NULL;
	unsigned long addr = 0;
	struct pca_fault *f;
	struct hlist_node *tmp;
	HLIST_HEAD(woken);

	if (premap)
		owner = pca_bucket_premap(r, b, first, &addr);
	spin_lock(&b->lock);
	hlist_for_each_entry_safe(f, tmp, &b->head, node) {
		if (f->pgoff < first || f->pgoff >= end)
			continue;
		hlist_del(&f->node);
		atomic_dec(&r->nr_pending);
		/* Mapped for the thread that still owns the entry. */
		if (owner && f->owner == owner && f->address == addr)
			f->premapped = true;
		WRITE_ONCE(f->done, true);
		wake_up_all(&f->wq);
		hlist_add_head(&f->node, &woken);
	}
	spin_unlock(&b->lock);
	hlist_for_each_entry_safe(f, tmp, &woken, node)
		pca_fault_put(f);
}

/* Wake the waiters of [@start, @start + @nr), pre-mapping with @premap. */
static void pca_fault_wake(struct pca_region *r, pgoff_t start, pgoff_t nr,
			   bool premap)
{
	pgoff_t i, step = pca_unit_pages(r);

	/* Pairs with smp_mb__after_atomic() in pca_fault_wait(). */
	smp_mb();
	if (!atomic_read(&r->nr_pending))
		return;
	/* Entries are keyed by unit; ranges are whole units. */
	if (nr >> r->unit_order <= PCA_FAULT_BUCKETS) {
		for (i = start; i < start + nr; i += step)
			pca_bucket_wake(r, pca_bucket(r, i), i, i + step,
					premap && !r->unit_order);
		return;
	}
	for (i = 0; i < PCA_FAULT_BUCKETS; i++)
		pca_bucket_wake(r, &r->buckets[i], start, start + nr, false);
}

/**
 * pca_fault_wake_range() - wake every thread waiting for a page in range
 * @r: the region
 * @start: first page, of a unit
 * @nr: number of pages, whole units
 *
 * Woken threads retry their fault: they map the page if it is present
 * now, and fault again (a new event) if it is not.  Where a range of up
 * to PCA_FAULT_BUCKETS pages has a present page with a waiter, the page
 * is mapped for its first waiter before the wake (pca_bucket_premap()),
 * whose fault then completes without a retry.
 */
void pca_fault_wake_range(struct pca_region *r, pgoff_t start, pgoff_t nr)
{
	pca_fault_wake(r, start, nr, true);
}

/* Close, or the last agent gone under PCA_POLICY_FAIL: no page to map. */
void pca_fault_wake_all(struct pca_region *r)
{
	pca_fault_wake(r, 0, r->nr_pages, false);
}

/*
 * The last queue left the region: under PCA_POLICY_FAIL every waiter fails
 * (they retry, find no agent and get SIGBUS); PCA_POLICY_WAIT leaves them
 * waiting for the next agent, which receives their faults as it attaches.
 */
void pca_fault_no_agent(struct pca_region *r)
{
	if (READ_ONCE(r->policy) == PCA_POLICY_FAIL)
		pca_fault_wake_all(r);
}
