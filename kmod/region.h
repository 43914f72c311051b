/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_REGION_H
#define _PCA_REGION_H

#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>
#include <linux/rcupdate.h>
#include <linux/percpu.h>
#include <linux/rwsem.h>
#include <linux/fs.h>
#include <linux/path.h>
#include <linux/sizes.h>
#include <uapi/linux/postcopy_assist.h>

struct net;
struct user_namespace;
struct pid_namespace;
struct inode;
struct file;
struct pca_queue;
struct pca_fs_info;
struct socket;
struct mem_cgroup;
struct mm_struct;

/*
 * A process (mm) that may map the region: see pca_region_write_notify().
 * Holds the mm_struct (mmgrab(), not its address space); dropped once the
 * mm is dead, or with the region.
 */
struct pca_region_mm {
	struct list_head node;
	struct mm_struct *mm;
	u64 gen;		/* write-notify switch that last saw it */
};

/* Largest region accepted: 1 TiB, far above any guest we expect. */
#define PCA_REGION_MAX_SIZE	SZ_1T
#define PCA_FAULT_BUCKETS	64	/* power of two */
#define PCA_MAX_QUEUES		64

/* Pending faults hash by page offset (fault.c); one lock per bucket. */
struct pca_fault_bucket {
	spinlock_t lock;		/* guards @head and its entries */
	struct hlist_head head;
} ____cacheline_aligned_in_smp;

enum pca_count {
	PCA_COUNT_FAULTS,
	PCA_COUNT_COALESCED,
	PCA_COUNT_COPIED,
	PCA_COUNT_ZEROED,
	PCA_COUNT_EEXIST,
	PCA_COUNT_PREMAPPED,
	PCA_NR_COUNTS
};

/* Per-CPU so that counting never bounces a cache line between faults. */
struct pca_stats {
	u64 count[PCA_NR_COUNTS];
	u64 wait_hist[PCA_WAIT_HIST_BUCKETS];
};

/**
 * struct pca_region - guest memory owned by the module
 *
 * A region's pages live in the page cache of its inode (@inode->i_mapping),
 * indexed by page offset, unevictable and dirty from the start, charged to
 * the creator's memory cgroup (@memcg).  A page is *present* when the page
 * cache holds it; in a PCA_REGION_MISSING region an absent page is
 * *missing* and a fault on it waits for an agent.  A page enters the page
 * cache uptodate and fully written, and only through pca_region_place(),
 * so no thread ever maps a partial page.  DISCARD truncates pages out
 * again, under the page lock, which the fault path also holds while it
 * maps a page.
 *
 * Lifetime: the region file (and every VMA through it, and every thread
 * asleep in a fault) holds a reference; so do netlink commands between
 * lookup and reply.  The file's release closes the region: it leaves the
 * id table, its queues detach and pending entries left by killed waiters
 * are dropped.  The last reference frees the pages; the struct itself
 * goes with the inode (a path being opened can still reach it).
 *
 * Locking, outermost first:
 *   @queues_lock (mutex) - attach, detach, close; guards @queues writers,
 *                          @nr_queues, @policy, @closed.
 *     pca_queue.lock     - a queue's DEAD bit against queueing its resend
 *                          work (queue.c); nothing else is taken under it.
 *   pca_fault_bucket.lock - pending faults of one hash bucket (fault.c).
 * The page cache has its own locks (i_pages, the folio lock, i_mmap_rwsem);
 * lookups are RCU only.
 * Outermost of its own: @seal_lock (rwsem) orders copies with
 * PCA_RESOLVE_OVERWRITE (read side, around placing one unit, with no user
 * memory touched under it) against the discard that seals the precopy
 * (write side, around the whole discard and the setting of @sealed, which
 * reads the user's bitmap under it); @dirty_lock and the page cache's
 * locks nest inside it.  A fault never takes it.
 * Separately: @dirty_lock (mutex) serialises dirty-log operations; under
 * it, a page's lock orders its dirty bit against its write permission,
 * and the write-notify switch takes each mapping process's mmap_lock for
 * write (and a VMA's lock), then @mms_lock, a spinlock nothing nests in.
 * A fault holds mmap_lock (or the VMA lock) only up to the point it queues
 * its record; it sleeps without it.  The pre-map of a resolved page for
 * its waiter (fault.c, pca_region_premap()) runs with none of the locks
 * above: it only tries the waiter's mmap_lock (read side), after dropping
 * the bucket lock, and the core's page lock (tried) and page table lock
 * nest inside it.  Fault messages are built and sent
 * with none of the locks above, and with the fault lock only on the
 * FAULT_FLAG_RETRY_NOWAIT path, which never sleeps for userspace; delivery
 * takes the agent socket's sk_callback_lock (read side, pca_nl_deliver()).
 */
struct pca_region {
	u32 id;
	u64 flags;
	u64 size;
	pgoff_t nr_pages;
	/* A unit is 1 << @unit_order pages: 0, or PMD order when huge. */
	unsigned int unit_order;
	struct kref ref;
	struct rcu_head rcu;

	struct net *net;
	struct user_namespace *user_ns;
	struct pid_namespace *pid_ns;
	struct inode *inode;
	/* The creator's: every page is charged here, whoever places it. */
	struct mem_cgroup *memcg;

	/* Faults waiting now; lets resolution skip the hash when zero. */
	atomic_t nr_pending;
	struct pca_fault_bucket buckets[PCA_FAULT_BUCKETS];

	struct mutex queues_lock;	/* see the lock order above */
	struct pca_queue __rcu *queues[PCA_MAX_QUEUES];
	u32 nr_queues;
	u32 next_queue_id;
	u32 policy;
	bool closed;

	struct pca_stats __percpu *stats;

	/* Open files of the region; the last to close closes the region. */
	atomic_t nr_files;

	/*
	 * Whether mappings take write faults (.page_mkwrite), and every mm
	 * that may map the region, for switching them.  @mms_lock is a leaf.
	 */
	spinlock_t mms_lock;
	struct list_head mms;
	bool write_notify;
	u64 mms_gen;

	/*
	 * Set, once and for good, by PCA_IOC_DISCARD_BITMAP with
	 * PCA_DISCARD_SEAL: the precopy is over, PCA_RESOLVE_OVERWRITE is
	 * refused.  Written under @seal_lock for write; read under it.
	 */
	struct rw_semaphore seal_lock;	/* see the lock order above */
	bool sealed;

	/* Dirty log: a bit per page, allocated when first enabled. */
	struct mutex dirty_lock;	/* see the lock order above */
	unsigned long *dirty;
	atomic_long_t nr_dirty;
	bool tracking;

	/*
	 * A region that is a file of a mounted region filesystem
	 * (regionfs.c): its superblock's, on whose list @fs_node is (under
	 * the list's lock), whether it has been closed (bit 0), and the
	 * path of an open file of it while it has one (for
	 * PCA_IOC_REGION_OPEN; under the list's lock too).  NULL for a
	 * region made by PCA_IOC_REGION_CREATE.
	 */
	struct pca_fs_info *fs;
	struct list_head fs_node;
	unsigned long fs_closed;
	struct path fs_path;
};

int pca_region_init(void);
void pca_region_exit(void);

struct file *pca_region_create(u64 size, u64 flags, u32 *id);
int pca_region_create_fs(struct inode *inode, struct pca_fs_info *fs,
			 struct net *net, u64 size, u64 flags);
void pca_region_close_fs(struct pca_region *r);
int pca_region_set_flags(struct pca_region *r, u64 flags);
void pca_fs_evict_inode(struct inode *inode);
int pca_region_mmap(struct file *file, struct vm_area_struct *vma);
long pca_region_fallocate(struct file *file, int mode, loff_t offset,
			  loff_t len);
struct file *pca_region_open(u32 id, u64 *size);
struct pca_region *pca_region_lookup(struct net *net, u32 id);
struct pca_region *pca_region_find_next(struct net *net, unsigned long *id);
void pca_region_put(struct pca_region *r);
static inline void pca_region_get(struct pca_region *r)
{
	kref_get(&r->ref);
}

/* What is wrong with a range a caller gave. */
enum pca_range_error {
	PCA_RANGE_OK,
	PCA_RANGE_EMPTY,
	PCA_RANGE_OFFSET_UNALIGNED,
	PCA_RANGE_LENGTH_UNALIGNED,
	PCA_RANGE_OUTSIDE,
};

int pca_region_range(const struct pca_region *r, u64 offset, u64 len,
		     enum pca_range_error *why);

/*
 * Units: what a region places, drops, faults on and logs as one.  A page
 * in a region of 4 KiB pages; 2 MiB (PMD size) in a PCA_REGION_HUGE one.
 */
static inline pgoff_t pca_unit_pages(const struct pca_region *r)
{
	return 1UL << r->unit_order;
}

static inline u64 pca_unit_size(const struct pca_region *r)
{
	return PAGE_SIZE << r->unit_order;
}

/* The first page of the unit that holds @pgoff. */
static inline pgoff_t pca_unit_start(const struct pca_region *r,
				     pgoff_t pgoff)
{
	return round_down(pgoff, pca_unit_pages(r));
}

/*
 * Where the bytes of one unit come from: a kernel or a user buffer, or a
 * stream socket, read from (one unit's worth) straight into the new folio.
 */
struct pca_src {
	const void *kbuf;
	const void __user *ubuf;
	struct socket *sock;
};

struct folio *pca_region_get_folio(struct pca_region *r, pgoff_t pgoff);
bool pca_region_present(struct pca_region *r, pgoff_t pgoff);
int pca_region_place(struct pca_region *r, pgoff_t pgoff,
		     const struct pca_src *src);
int pca_region_copy(struct pca_region *r, pgoff_t pgoff,
		    const struct pca_src *src, u64 flags);
int pca_region_zero(struct pca_region *r, pgoff_t pgoff, pgoff_t nr,
		    u64 flags, pgoff_t *done);
int pca_region_discard(struct pca_region *r, pgoff_t first, pgoff_t nr,
		       pgoff_t *done);
int pca_region_discard_bitmap(struct pca_region *r, pgoff_t first,
			      pgoff_t nr, const u64 __user *ubits, u64 flags,
			      pgoff_t *done);
int pca_region_present_log(struct pca_region *r, pgoff_t first, pgoff_t nr,
			   u64 __user *ubits, pgoff_t *present);
void pca_region_stats(struct pca_region *r, struct pca_stats *sum);
int pca_region_write_notify(struct pca_region *r, bool on);
bool pca_region_premap(struct pca_region *r, struct mm_struct *mm,
		       unsigned long addr, pgoff_t pgoff);

static inline void pca_count_add(struct pca_region *r, enum pca_count c,
				 u64 n)
{
	this_cpu_add(r->stats->count[c], n);
}

static inline void pca_count_wait(struct pca_region *r, unsigned int bucket)
{
	this_cpu_inc(r->stats->wait_hist[bucket]);
}

/* Pages present now. */
static inline unsigned long pca_region_nr_present(struct pca_region *r)
{
	return READ_ONCE(r->inode->i_mapping->nrpages);
}

extern const u64 pca_supported_features;

#endif /* _PCA_REGION_H */
