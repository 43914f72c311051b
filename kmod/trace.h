/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of postcopy_assist, in /sys/kernel/tracing/events/
 * postcopy_assist/.  Each is a static key, a no-op until enabled: call
 * sites pass what they already have, and anything that costs more (a
 * clock read, a queue's id) is done here, in TP_fast_assign(), which runs
 * only for an enabled event.  Offsets are in bytes, as in fault records.
 *
 * main.c defines CREATE_TRACE_POINTS; Kbuild adds -I$(src) for it, since
 * define_trace.h includes this file again by TRACE_INCLUDE_PATH.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM postcopy_assist

#if !defined(_PCA_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _PCA_TRACE_H

#include <linux/ktime.h>
#include <linux/tracepoint.h>
#include <uapi/linux/postcopy_assist.h>

#include "fault.h"
#include "queue.h"
#include "region.h"

#ifndef _PCA_TRACE_ENUMS
#define _PCA_TRACE_ENUMS
/* How a fault's wait ended (pca_fault_resolved). */
enum pca_trace_wait {
	PCA_TRACE_WOKEN,	/* resolved: placed, woken, or the agent left */
	PCA_TRACE_INTERRUPTED,	/* a signal ended the wait */
	PCA_TRACE_FAILED,	/* may not wait: VM_FAULT_SIGBUS */
};

/* What placed pages (pca_place). */
enum pca_trace_place {
	PCA_TRACE_COPY,		/* COPY over netlink or PCA_IOC_COPY */
	PCA_TRACE_ZERO,		/* ZERO over netlink or PCA_IOC_ZERO */
	PCA_TRACE_BATCH,	/* PCA_IOC_COPY_BATCH */
	PCA_TRACE_RECV,		/* PCA_IOC_RECV */
};

/* What the pre-map of a resolved page for its waiter did (pca_premap). */
enum pca_trace_premap {
	PCA_TRACE_PREMAP_MAPPED,	/* mapped where the waiter faulted */
	PCA_TRACE_PREMAP_LOCKED,	/* its mmap_lock was held for write */
	PCA_TRACE_PREMAP_MOVED,		/* no such mapping of the page there */
	PCA_TRACE_PREMAP_NO_TABLE,	/* no page table there yet */
	PCA_TRACE_PREMAP_BUSY,		/* page locked, or mapped already */
};
#endif

/* For tools that read the raw format: the values of the names printed. */
TRACE_DEFINE_ENUM(PCA_TRACE_WOKEN);
TRACE_DEFINE_ENUM(PCA_TRACE_INTERRUPTED);
TRACE_DEFINE_ENUM(PCA_TRACE_FAILED);
TRACE_DEFINE_ENUM(PCA_TRACE_COPY);
TRACE_DEFINE_ENUM(PCA_TRACE_ZERO);
TRACE_DEFINE_ENUM(PCA_TRACE_BATCH);
TRACE_DEFINE_ENUM(PCA_TRACE_RECV);
TRACE_DEFINE_ENUM(PCA_TRACE_PREMAP_MAPPED);
TRACE_DEFINE_ENUM(PCA_TRACE_PREMAP_LOCKED);
TRACE_DEFINE_ENUM(PCA_TRACE_PREMAP_MOVED);
TRACE_DEFINE_ENUM(PCA_TRACE_PREMAP_NO_TABLE);
TRACE_DEFINE_ENUM(PCA_TRACE_PREMAP_BUSY);
TRACE_DEFINE_ENUM(PCA_POLICY_FAIL);
TRACE_DEFINE_ENUM(PCA_POLICY_WAIT);
TRACE_DEFINE_ENUM(PCA_MIG_SOURCE);
TRACE_DEFINE_ENUM(PCA_MIG_DESTINATION);
TRACE_DEFINE_ENUM(PCA_MIG_REQUESTED);
TRACE_DEFINE_ENUM(PCA_MIG_ACCEPTED);
TRACE_DEFINE_ENUM(PCA_MIG_PRECOPY);
TRACE_DEFINE_ENUM(PCA_MIG_SWITCHOVER);
TRACE_DEFINE_ENUM(PCA_MIG_PAUSED);
TRACE_DEFINE_ENUM(PCA_MIG_POSTCOPY);
TRACE_DEFINE_ENUM(PCA_MIG_COMPLETED);
TRACE_DEFINE_ENUM(PCA_MIG_FAILED);
TRACE_DEFINE_ENUM(PCA_MIG_CANCELLED);

#define pca_trace_show_wait(how)				\
	__print_symbolic(how,					\
			 { PCA_TRACE_WOKEN, "woken" },		\
			 { PCA_TRACE_INTERRUPTED, "interrupted" }, \
			 { PCA_TRACE_FAILED, "failed" })

#define pca_trace_show_place(how)				\
	__print_symbolic(how,					\
			 { PCA_TRACE_COPY, "copy" },		\
			 { PCA_TRACE_ZERO, "zero" },		\
			 { PCA_TRACE_BATCH, "batch" },		\
			 { PCA_TRACE_RECV, "recv" })

#define pca_trace_show_premap(how)				\
	__print_symbolic(how,					\
			 { PCA_TRACE_PREMAP_MAPPED, "mapped" },	\
			 { PCA_TRACE_PREMAP_LOCKED, "locked" },	\
			 { PCA_TRACE_PREMAP_MOVED, "moved" },	\
			 { PCA_TRACE_PREMAP_NO_TABLE, "no_table" }, \
			 { PCA_TRACE_PREMAP_BUSY, "busy" })

#define pca_trace_show_policy(policy)				\
	__print_symbolic(policy,				\
			 { PCA_POLICY_FAIL, "fail" },		\
			 { PCA_POLICY_WAIT, "wait" })

#define pca_trace_show_role(role)				\
	__print_symbolic(role,					\
			 { PCA_MIG_SOURCE, "source" },		\
			 { PCA_MIG_DESTINATION, "destination" })

#define pca_trace_show_phase(phase)				\
	__print_symbolic(phase,					\
			 { PCA_MIG_REQUESTED, "requested" },	\
			 { PCA_MIG_ACCEPTED, "accepted" },	\
			 { PCA_MIG_PRECOPY, "precopy" },	\
			 { PCA_MIG_SWITCHOVER, "switchover" },	\
			 { PCA_MIG_PAUSED, "paused" },		\
			 { PCA_MIG_POSTCOPY, "postcopy" },	\
			 { PCA_MIG_COMPLETED, "completed" },	\
			 { PCA_MIG_FAILED, "failed" },		\
			 { PCA_MIG_CANCELLED, "cancelled" },	\
			 { PCA_MIG_RECOVERING, "recovering" })

/*
 * A thread hashed a new pending fault; its record goes to @q (NULL: no
 * agent attached, the first to attach receives it).  The fields are those
 * of the record.
 */
TRACE_EVENT(pca_fault_raised,
	    TP_PROTO(const struct pca_region *r, const struct pca_fault *f,
		     const struct pca_queue *q),
	    TP_ARGS(r, f, q),
	    TP_STRUCT__entry(__field(u32, region)
			     __field(u64, offset)
			     __field(u64, len)
			     __field(u32, tid)
			     __field(u32, queue)
			     __field(bool, write)
			     __field(bool, kernel)
	    ),
	    TP_fast_assign(__entry->region = r->id;
			   __entry->offset = (u64)f->pgoff << PAGE_SHIFT;
			   __entry->len = pca_unit_size(r);
			   __entry->tid = f->tid;
			   __entry->queue = pca_queue_id(q);
			   __entry->write = f->flags & PCA_FAULT_WRITE;
			   __entry->kernel = f->flags & PCA_FAULT_KERNEL;
	    ),
	    TP_printk("region=%u offset=0x%llx len=%llu write=%d kernel=%d tid=%u queue=%d",
		      __entry->region, __entry->offset, __entry->len,
		      __entry->write, __entry->kernel, __entry->tid,
		      (int)__entry->queue)
);

/* A thread joined the pending fault of its unit: no new record. */
TRACE_EVENT(pca_fault_coalesced,
	    TP_PROTO(const struct pca_region *r, const struct pca_fault *f),
	    TP_ARGS(r, f),
	    TP_STRUCT__entry(__field(u32, region)
			     __field(u64, offset)
			     __field(u32, first_tid)
	    ),
	    TP_fast_assign(__entry->region = r->id;
			   __entry->offset = (u64)f->pgoff << PAGE_SHIFT;
			   __entry->first_tid = f->tid;
	    ),
	    TP_printk("region=%u offset=0x%llx first_tid=%u",
		      __entry->region, __entry->offset, __entry->first_tid)
);

/*
 * A thread's fault ended: woken (it retries, and maps the page if it is
 * present), interrupted by a signal, or failed without waiting.  @start
 * is when its wait began, 0 for one that did not wait.
 */
TRACE_EVENT(pca_fault_resolved,
	    TP_PROTO(const struct pca_region *r, pgoff_t unit, u64 start,
		     enum pca_trace_wait how),
	    TP_ARGS(r, unit, start, how),
	    TP_STRUCT__entry(__field(u32, region)
			     __field(u64, offset)
			     __field(u64, wait_ns)
			     __field(u32, how)
	    ),
	    TP_fast_assign(__entry->region = r->id;
			   __entry->offset = (u64)unit << PAGE_SHIFT;
			   __entry->wait_ns = start ? ktime_get_ns() - start : 0;
			   __entry->how = how;
	    ),
	    TP_printk("region=%u offset=0x%llx wait_ns=%llu how=%s",
		      __entry->region, __entry->offset, __entry->wait_ns,
		      pca_trace_show_wait(__entry->how))
);

/*
 * A resolution mapped (or could not map) the page at @unit for the thread
 * waiting for it, before waking it (pca_region_premap()).
 */
TRACE_EVENT(pca_premap,
	    TP_PROTO(const struct pca_region *r, pgoff_t unit,
		     enum pca_trace_premap how),
	    TP_ARGS(r, unit, how),
	    TP_STRUCT__entry(__field(u32, region)
			     __field(u64, offset)
			     __field(u32, how)
	    ),
	    TP_fast_assign(__entry->region = r->id;
			   __entry->offset = (u64)unit << PAGE_SHIFT;
			   __entry->how = how;
	    ),
	    TP_printk("region=%u offset=0x%llx how=%s",
		      __entry->region, __entry->offset,
		      pca_trace_show_premap(__entry->how))
);

/*
 * One placing request: @pages placed from @first (for COPY over netlink
 * and batches, the offset of the first entry; theirs need not be
 * contiguous), @existed pages found present, and the request's result.
 */
TRACE_EVENT(pca_place,
	    TP_PROTO(const struct pca_region *r, enum pca_trace_place how,
		     u64 first, u64 pages, u64 existed, int err),
	    TP_ARGS(r, how, first, pages, existed, err),
	    TP_STRUCT__entry(__field(u32, region)
			     __field(u32, how)
			     __field(u64, offset)
			     __field(u64, pages)
			     __field(u64, existed)
			     __field(int, err)
	    ),
	    TP_fast_assign(__entry->region = r->id;
			   __entry->how = how;
			   __entry->offset = first;
			   __entry->pages = pages;
			   __entry->existed = existed;
			   __entry->err = err;
	    ),
	    TP_printk("region=%u how=%s offset=0x%llx pages=%llu existed=%llu err=%d",
		      __entry->region, pca_trace_show_place(__entry->how),
		      __entry->offset, __entry->pages, __entry->existed,
		      __entry->err)
);

/* DISCARD of [@first, @first + @nr) pages, of which @done were present. */
TRACE_EVENT(pca_discard,
	    TP_PROTO(const struct pca_region *r, pgoff_t first, pgoff_t nr,
		     pgoff_t done, int err),
	    TP_ARGS(r, first, nr, done, err),
	    TP_STRUCT__entry(__field(u32, region)
			     __field(u64, offset)
			     __field(u64, pages)
			     __field(u64, discarded)
			     __field(int, err)
	    ),
	    TP_fast_assign(__entry->region = r->id;
			   __entry->offset = (u64)first << PAGE_SHIFT;
			   __entry->pages = nr;
			   __entry->discarded = done;
			   __entry->err = err;
	    ),
	    TP_printk("region=%u offset=0x%llx pages=%llu discarded=%llu err=%d",
		      __entry->region, __entry->offset, __entry->pages,
		      __entry->discarded, __entry->err)
);

/*
 * A walk of the dirty log over [@first, @first + @nr): @dirty pages
 * reported, @cleared of them cleared and write-protected again, and the
 * time since @start (taken only while the event is enabled).
 */
DECLARE_EVENT_CLASS(pca_dirty_class,
		    TP_PROTO(const struct pca_region *r, pgoff_t first, pgoff_t nr,
			     u64 dirty, u64 cleared, u64 start),
		    TP_ARGS(r, first, nr, dirty, cleared, start),
		    TP_STRUCT__entry(__field(u32, region)
				     __field(u64, offset)
				     __field(u64, pages)
				     __field(u64, dirty)
				     __field(u64, cleared)
				     __field(u64, ns)
		    ),
		    TP_fast_assign(__entry->region = r->id;
				   __entry->offset = (u64)first << PAGE_SHIFT;
				   __entry->pages = nr;
				   __entry->dirty = dirty;
				   __entry->cleared = cleared;
				   __entry->ns = start ? ktime_get_ns() - start : 0;
		    ),
		    TP_printk("region=%u offset=0x%llx pages=%llu dirty=%llu cleared=%llu ns=%llu",
			      __entry->region, __entry->offset, __entry->pages,
			      __entry->dirty, __entry->cleared, __entry->ns)
);

/* Read the log, and clear it at once (DIRTY_CLEAR) or not (DIRTY_GET). */
DEFINE_EVENT(pca_dirty_class, pca_dirty_collect,
	     TP_PROTO(const struct pca_region *r, pgoff_t first, pgoff_t nr,
		      u64 dirty, u64 cleared, u64 start),
	     TP_ARGS(r, first, nr, dirty, cleared, start)
);

/* Clear what a DIRTY_GET reported, once the report was delivered. */
DEFINE_EVENT(pca_dirty_class, pca_dirty_clear,
	     TP_PROTO(const struct pca_region *r, pgoff_t first, pgoff_t nr,
		      u64 dirty, u64 cleared, u64 start),
	     TP_ARGS(r, first, nr, dirty, cleared, start)
);

/* An agent's socket attached to or detached from a region. */
DECLARE_EVENT_CLASS(pca_queue_class,
		    TP_PROTO(const struct pca_region *r, u32 queue, u32 portid),
		    TP_ARGS(r, queue, portid),
		    TP_STRUCT__entry(__field(u32, region)
				     __field(u32, queue)
				     __field(u32, portid)
				     __field(u32, policy)
				     __field(u32, nr_queues)
		    ),
		    TP_fast_assign(__entry->region = r->id;
				   __entry->queue = queue;
				   __entry->portid = portid;
				   __entry->policy = READ_ONCE(r->policy);
				   __entry->nr_queues = READ_ONCE(r->nr_queues);
		    ),
		    TP_printk("region=%u queue=%u portid=%u policy=%s nr_queues=%u",
			      __entry->region, __entry->queue, __entry->portid,
			      pca_trace_show_policy(__entry->policy), __entry->nr_queues)
);

DEFINE_EVENT(pca_queue_class, pca_queue_attach,
	     TP_PROTO(const struct pca_region *r, u32 queue, u32 portid),
	     TP_ARGS(r, queue, portid)
);

DEFINE_EVENT(pca_queue_class, pca_queue_detach,
	     TP_PROTO(const struct pca_region *r, u32 queue, u32 portid),
	     TP_ARGS(r, queue, portid)
);

/*
 * A relayed migration moved from @old to @phase (on creation both are
 * "requested"); @error is its errno, 0 unless it failed or was cancelled.
 */
TRACE_EVENT(pca_migrate_phase,
	    TP_PROTO(u32 id, u32 region, u32 role, u32 old, u32 phase, u32 error),
	    TP_ARGS(id, region, role, old, phase, error),
	    TP_STRUCT__entry(__field(u32, id)
			     __field(u32, region)
			     __field(u32, role)
			     __field(u32, old)
			     __field(u32, phase)
			     __field(u32, error)
	    ),
	    TP_fast_assign(__entry->id = id;
			   __entry->region = region;
			   __entry->role = role;
			   __entry->old = old;
			   __entry->phase = phase;
			   __entry->error = error;
	    ),
	    TP_printk("migration=%u region=%u role=%s old=%s phase=%s error=%u",
		      __entry->id, __entry->region,
		      pca_trace_show_role(__entry->role),
		      pca_trace_show_phase(__entry->old),
		      pca_trace_show_phase(__entry->phase), __entry->error)
);

#endif /* _PCA_TRACE_H */

/* Outside the guard: define_trace.h reads this file again from here. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
