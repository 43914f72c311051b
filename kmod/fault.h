/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Waiting for missing pages (fault.c): the pending-fault hash, and the
 * threads asleep on its entries.  How faults reach agents is queue.c's.
 *
 * The region's fault handler calls pca_fault_wait(); resolution (COPY,
 * ZERO, WAKE, over netlink or ioctls) calls pca_fault_wake_range(); the
 * region's close calls pca_fault_wake_all().
 *
 * The rest is for queue.c: it sends records of the entries fault.c hashes
 * (struct pca_fault, handed over by pca_queue_add()), snapshots the hash
 * to send it all again (pca_fault_pending_records()), and tells fault.c
 * when the last agent left (pca_fault_no_agent()).
 */
#ifndef _PCA_FAULT_H
#define _PCA_FAULT_H

#include <linux/llist.h>
#include <linux/mm_types.h>
#include <linux/refcount.h>
#include <linux/types.h>
#include <linux/wait.h>

struct pca_fault_record;
struct pca_region;
struct task_struct;

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
 * @premapped: set before @done when the waker mapped the page at
 *	@address in @mm (the waiter then returns without retrying)
 * @owner: the waiting thread whose mapping a resolution maps the page
 *	into before waking it (the pre-map), or NULL; compared, never
 *	dereferenced
 * @mm: @owner's faulting mm; used only under the bucket lock while
 *	@owner is set, which @owner clears (under that lock) before it
 *	stops waiting unwoken: the faulting context keeps the mm_struct
 *	while it waits, and mmget_not_zero() tells if its pages are alive
 * @address: where @owner faulted, page aligned
 * @wq: the waiting threads
 *
 * fault.c creates, hashes and wakes entries; queue.c only links them on
 * its send lists through @send, with a reference, and reads @done to skip
 * entries resolved before their record went out.
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
	bool premapped;
	struct task_struct *owner;
	struct mm_struct *mm;
	unsigned long address;
	wait_queue_head_t wq;
};

int pca_fault_init(void);
void pca_fault_exit(void);

void pca_region_faults_init(struct pca_region *r);
vm_fault_t pca_fault_wait(struct pca_region *r, struct vm_fault *vmf);
void pca_fault_wake_range(struct pca_region *r, pgoff_t start, pgoff_t nr);
void pca_fault_wake_all(struct pca_region *r);

/* For queue.c. */
void pca_fault_put(struct pca_fault *f);
void pca_fault_record(const struct pca_region *r, const struct pca_fault *f,
		      u32 queue_id, struct pca_fault_record *rec);
unsigned int pca_fault_pending_records(struct pca_region *r, u32 queue_id,
				       struct pca_fault_record *recs,
				       unsigned int max);
void pca_fault_no_agent(struct pca_region *r);

#endif /* _PCA_FAULT_H */
