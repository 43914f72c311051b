// SPDX-License-Identifier: GPL-2.0
/*
 * Regions: memory the module owns and a VMM maps through a region file.
 *
 * Each region file gets an inode of its own on a private pseudo filesystem,
 * so the region has an address_space of its own: its mappings are found
 * through it, and only its (unmap_mapping_range() for write protection and
 * discard), never those of other anonymous-inode files.
 */

#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/huge_mm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/net.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/pid_namespace.h>
#include <linux/pseudo_fs.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/user_namespace.h>
#include <linux/xarray.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "device.h"
#include "dirty.h"
#include "fault.h"
#include "limits.h"
#include "queue.h"
#include "region.h"
#include "regionfs.h"
#include "trace.h"

#define PCA_FS_MAGIC	0x70636173	/* "pcas" */

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
#define PCA_HUGE_ORDER	HPAGE_PMD_ORDER
#else
#define PCA_HUGE_ORDER	0	/* no PMD mappings of file pages: refused */
#endif

const u64 pca_supported_features = PCA_FEATURE_MISSING |
	PCA_FEATURE_COPY_BATCH | PCA_FEATURE_FD_RESOLVE |
	PCA_FEATURE_USER_ONLY | PCA_FEATURE_WAIT_POLICY |
	PCA_FEATURE_SHARDED_QUEUES | PCA_FEATURE_DIRTY_LOG |
	PCA_FEATURE_DISCARD | PCA_FEATURE_MIGRATE | PCA_FEATURE_REGION_OPEN |
	PCA_FEATURE_FAULT_RING | PCA_FEATURE_OVERWRITE |
	PCA_FEATURE_PAGE_BITMAPS | PCA_FEATURE_RECV |
	(PCA_HUGE_ORDER ? PCA_FEATURE_HUGE : 0);

static struct vfsmount *pca_mnt;
static DEFINE_XARRAY_ALLOC1(pca_regions);
static u32 pca_next_region_id;

static void pca_region_free_rcu(struct rcu_head *head);

/*
 * The region's memory lives as long as its inode: a path to the inode
 * (/proc/<pid>/fd/<n> being opened) can outlast the region, and
 * pca_region_file_open() reads the region through inode->i_private.
 */
void pca_fs_evict_inode(struct inode *inode)
{
	struct pca_region *r = inode->i_private;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	/* Lookups walk the id table under RCU only. */
	if (r)
		call_rcu(&r->rcu, pca_region_free_rcu);
}

static const struct super_operations pca_fs_sops = {
	.statfs		= simple_statfs,
	.evict_inode	= pca_fs_evict_inode,
};

static int pca_fs_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, PCA_FS_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->ops = &pca_fs_sops;
	return 0;
}

static struct file_system_type pca_fs_type = {
	.name		 = "postcopy_assist",
	.init_fs_context = pca_fs_init_fs_context,
	.kill_sb	 = kill_anon_super,
};

int pca_region_init(void)
{
	pca_mnt = kern_mount(&pca_fs_type);
	return PTR_ERR_OR_ZERO(pca_mnt);
}

void pca_region_exit(void)
{
	kern_unmount(pca_mnt);
}

static void pca_region_free_rcu(struct rcu_head *head)
{
	kfree(container_of(head, struct pca_region, rcu));
}

/* The region is going: nothing maps it any more. */
static void pca_region_drop_mms(struct pca_region *r)
{
	struct pca_region_mm *m, *tmp;

	list_for_each_entry_safe(m, tmp, &r->mms, node) {
		mmdrop(m->mm);
		kfree(m);
	}
}

static void pca_region_release(struct kref *kref)
{
	struct pca_region *r = container_of(kref, struct pca_region, ref);

	/*
	 * Nothing maps the region any more; its memory goes now, not when
	 * the inode does (a path to it can keep the inode).  Pinned pages
	 * live on with their pinners.  Process context only: truncation
	 * sleeps, and reschedules over millions of pages.
	 */
	might_sleep();
	if (r->inode)
		truncate_inode_pages(r->inode->i_mapping, 0);
	pca_dirty_free(r);
	pca_region_drop_mms(r);
	free_percpu(r->stats);
	mem_cgroup_put(r->memcg);
	pca_limit_region_del(r->net, r->size);
	put_pid_ns(r->pid_ns);
	put_user_ns(r->user_ns);
	put_net(r->net);
	/* The inode frees @r when it goes (pca_fs_evict_inode()). */
	if (r->inode) {
		struct pca_fs_info *fs = r->fs;

		iput(r->inode);
		/* After the iput: the superblock waits for it to go. */
		if (fs)
			pca_fs_region_gone(fs);
	} else {
		call_rcu(&r->rcu, pca_region_free_rcu);
	}
}

void pca_region_put(struct pca_region *r)
{
	kref_put(&r->ref, pca_region_release);
}

struct pca_region *pca_region_lookup(struct net *net, u32 id)
{
	struct pca_region *r;

	rcu_read_lock();
	r = xa_load(&pca_regions, id);
	if (r && (!net_eq(r->net, net) || !kref_get_unless_zero(&r->ref)))
		r = NULL;
	rcu_read_unlock();
	return r;
}

/*
 * The next region of @net with an id >= *@id, referenced; *@id is set to
 * its id.  NULL when there is none.
 */
struct pca_region *pca_region_find_next(struct net *net, unsigned long *id)
{
	struct pca_region *r;

	rcu_read_lock();
	for (;;) {
		r = xa_find(&pca_regions, id, ULONG_MAX, XA_PRESENT);
		if (!r)
			break;
		if (net_eq(r->net, net) && kref_get_unless_zero(&r->ref))
			break;
		(*id)++;
	}
	rcu_read_unlock();
	return r;
}

/**
 * pca_region_range() - check a byte range of a region
 * @r: the region
 * @offset: first byte
 * @len: bytes
 * @why: what is wrong with the range (for the caller's message), or NULL
 *
 * Ranges are in whole units: pages, or 2 MiB in a huge region.
 *
 * Return: 0, -EINVAL for an empty or unaligned range, -ERANGE for one
 * that does not lie within the region.
 */
int pca_region_range(const struct pca_region *r, u64 offset, u64 len,
		     enum pca_range_error *why)
{
	enum pca_range_error err = PCA_RANGE_OK;

	if (!len)
		err = PCA_RANGE_EMPTY;
	else if (!IS_ALIGNED(offset, pca_unit_size(r)))
		err = PCA_RANGE_OFFSET_UNALIGNED;
	else if (!IS_ALIGNED(len, pca_unit_size(r)))
		err = PCA_RANGE_LENGTH_UNALIGNED;
	else if (offset >= r->size || len > r->size - offset)
		err = PCA_RANGE_OUTSIDE;
	if (why)
		*why = err;
	if (err == PCA_RANGE_OK)
		return 0;
	return err == PCA_RANGE_OUTSIDE ? -ERANGE : -EINVAL;
}

/*
 * Receive a whole new folio from a stream socket, straight into its pages
 * (on a kernel TLS socket, the record layer decrypts into them).  The folio is
 * nobody's yet: no lock is held while the socket sleeps.  MSG_WAITALL
 * returns short only for end of stream, the socket's receive timeout
 * (SO_RCVTIMEO), a signal or an error; what follows a short read tells
 * which.
 *
 * The receive timeout bounds the wait for a unit to begin, never the wait
 * for the rest of one begun: a unit is the stream's smallest whole piece,
 * and giving up inside it would leave the stream out of sync for a pause
 * of the peer that is no error at all (a kernel TLS record split over a
 * slow link).  Once a byte is in, only the data, end of stream (the
 * caller's own shutdown() included), a socket error or a signal end the
 * wait.  A signal is -EINTR, never a restart: bytes may have been consumed.
 *
 * Return: 0 once every byte is in, -EAGAIN on timeout with nothing of the
 * unit read (the stream is still in sync), or -errno with the folio partly
 * written: -ECONNRESET at end of stream, -EINTR.
 */
static int pca_recv_folio(struct folio *folio, struct socket *sock)
{
	size_t len = folio_size(folio), got = 0;
	struct msghdr msg = {};
	struct bio_vec bv;
	int ret;

	while (got < len) {
		bv.bv_page = folio_page(folio, 0);
		bv.bv_offset = got;
		bv.bv_len = len - got;
		iov_iter_bvec(&msg.msg_iter, ITER_DEST, &bv, 1, len - got);
		ret = sock_recvmsg(sock, &msg, MSG_WAITALL | MSG_NOSIGNAL);
		if (ret == -ERESTARTSYS)
			return -EINTR;
		if (ret == -EAGAIN && got) {
			/* each wait is a whole SO_RCVTIMEO: no busy loop */
			cond_resched();
			continue;
		}
		if (ret < 0)
			return ret;
		if (!ret)
			return -ECONNRESET;
		got += ret;
	}
	return 0;
}

/* Fill every page of a new folio from @src, or with zeroes. */
static int pca_fill_folio(struct folio *folio, const struct pca_src *src)
{
	long i, nr = folio_nr_pages(folio);
	int ret = 0;

	if (src && src->sock)
		return pca_recv_folio(folio, src->sock);

	for (i = 0; i < nr && !ret; i++) {
		void *dst = kmap_local_page(folio_page(folio, i));
		size_t at = i * PAGE_SIZE;

		if (!src)
			clear_page(dst);
		else if (src->kbuf)
			memcpy(dst, src->kbuf + at, PAGE_SIZE);
		else if (copy_from_user(dst, src->ubuf + at, PAGE_SIZE))
			ret = -EFAULT;
		kunmap_local(dst);
	}
	return ret;
}

/* The page at @pgoff with a reference, or NULL if it is absent. */
struct folio *pca_region_get_folio(struct pca_region *r, pgoff_t pgoff)
{
	struct folio *folio = __filemap_get_folio(r->inode->i_mapping, pgoff,
						  0, 0);

	/* 6.1 answers NULL for "absent", later kernels ERR_PTR(-ENOENT). */
	return IS_ERR_OR_NULL(folio) ? NULL : folio;
}

/* Whether @pgoff is present, without a reference: a hint, and a fence. */
bool pca_region_present(struct pca_region *r, pgoff_t pgoff)
{
	void *entry = xa_load(&r->inode->i_mapping->i_pages, pgoff);

	return entry && !xa_is_value(entry);
}

/*
 * A new folio for one unit, filled from @src (or with zeroes) and
 * uptodate, not yet in the page cache: an ERR_PTR on failure.  The pages
 * are not movable (the mapping has no migration callback, and a dirty
 * folio without writeback cannot be moved), hence no __GFP_MOVABLE.  A
 * huge unit may take compaction to find; failing that, -ENOMEM.
 */
static struct folio *pca_region_new_folio(struct pca_region *r,
					  const struct pca_src *src)
{
	gfp_t gfp = GFP_HIGHUSER;
	struct folio *folio;
	int ret;

	if (r->unit_order)
		gfp |= __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	folio = folio_alloc(gfp, r->unit_order);
	if (!folio)
		return ERR_PTR(-ENOMEM);
	ret = pca_fill_folio(folio, src);
	if (ret) {
		folio_put(folio);
		return ERR_PTR(ret);
	}
	__folio_mark_uptodate(folio);
	return folio;
}

/*
 * @folio, new and whole, into the page cache at @pgoff: 0 (the page cache
 * holds it, our reference stays ours) or -errno, -EEXIST when the unit is
 * present already (then @folio is as it was, and may be added again).
 */
static int pca_region_insert(struct pca_region *r, pgoff_t pgoff,
			     struct folio *folio)
{
	struct mem_cgroup *old_memcg;
	int ret;

	/* The page cache charges the folio, to the active memcg if set. */
	old_memcg = set_active_memcg(r->memcg);
	ret = filemap_add_folio(r->inode->i_mapping, folio, pgoff, GFP_KERNEL);
	set_active_memcg(old_memcg);
	if (ret)
		return ret;
	folio_mark_dirty(folio);
	folio_unlock(folio);
	return 0;
}

/**
 * pca_region_place() - make one unit present
 * @r: the region
 * @pgoff: first page of the unit, already checked against the region
 * @src: the unit's contents, or NULL for zeroes
 *
 * A unit is one folio: a page, or a PMD-sized folio in a huge region,
 * which a fault maps with one PMD where the mapping is aligned.  The
 * folio is filled completely and marked uptodate before it enters the
 * region's page cache, so a fault (or fault-around) that finds it maps
 * whole data.  It enters dirty, as in ramfs: with no backing store, a
 * dirty page is one that drop_caches and fadvise never drop.  Waiters are
 * not woken here.
 * The page is charged to the memory cgroup of the region's creator (the
 * VMM, whose guest it is), not to the caller (an agent, or a thread that
 * touched a page of a present-mode region).
 *
 * From a socket, the unit's bytes are read whether or not the unit is
 * present, so that the stream stays aligned on units; a present unit
 * keeps its contents and the bytes read are dropped.
 *
 * Return: 0, -EEXIST if the unit was already present, or -errno.
 */
int pca_region_place(struct pca_region *r, pgoff_t pgoff,
		     const struct pca_src *src)
{
	struct folio *folio;
	int ret;

	/* The common race (urgent page beat the stream): no allocation. */
	if ((!src || !src->sock) && pca_region_present(r, pgoff))
		return -EEXIST;

	folio = pca_region_new_folio(r, src);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	/* -EEXIST: placed by someone else meanwhile */
	ret = pca_region_insert(r, pgoff, folio);
	folio_put(folio);	/* the page cache holds its own */
	return ret;
}

/*
 * Give the unit present at @pgoff the contents of @new, in place.
 *
 * Why in place, under the folio lock, rather than a new folio swapped into
 * the page cache: every mapping of a region's page is made with the page
 * locked (pca_vm_fault() hands it locked to the core, fault-around
 * trylocks it), so with the lock held and every PTE and PMD of the unit
 * zapped (unmap_mapping_pages(), which also tells secondary MMUs such as
 * KVM's), nobody can read the unit until we unlock: a reader that comes
 * back faults, waits for the lock and maps the new contents whole.  The
 * folio keeps its page cache entry, its memcg charge and its dirty state,
 * and no page cache internals are needed.  The source was copied from
 * user memory into @new beforehand, with no lock held: it may be a
 * mapping of this very unit, whose fault would wait for our lock.
 * A long-term pin (DMA) of the page is not a mapping: a device reading
 * through one may see the copy in progress, as with any write.
 *
 * Return: 0, or -ENOENT when the unit is absent (discarded meanwhile).
 */
static int pca_region_replace(struct pca_region *r, pgoff_t pgoff,
			      struct folio *new)
{
	struct address_space *mapping = r->inode->i_mapping;
	struct folio *old = pca_region_get_folio(r, pgoff);
	long i, nr;

	if (!old)
		return -ENOENT;
	folio_lock(old);
	if (unlikely(old->mapping != mapping)) {
		folio_unlock(old);
		folio_put(old);
		return -ENOENT;
	}
	nr = folio_nr_pages(old);
	/* Units are placed whole: the folio is the unit, never a part. */
	if (WARN_ON_ONCE(old->index != pgoff || nr != folio_nr_pages(new))) {
		folio_unlock(old);
		folio_put(old);
		return -EIO;
	}
	unmap_mapping_pages(mapping, pgoff, nr, false);
	for (i = 0; i < nr; i++) {
		copy_highpage(folio_page(old, i), folio_page(new, i));
		cond_resched();
	}
	folio_mark_dirty(old);
	folio_unlock(old);
	folio_put(old);
	return 0;
}

/*
 * COPY with PCA_RESOLVE_OVERWRITE of one unit: a missing unit is placed
 * as by pca_region_place(), a present one gets the new contents in place
 * (pca_region_replace()).  Under @seal_lock, read side, so that the seal
 * comes wholly before or after.
 * Return: 0, -EPERM once the precopy is sealed, -EINTR, or -errno.
 */
static int pca_region_overwrite(struct pca_region *r, pgoff_t pgoff,
				const struct pca_src *src)
{
	struct folio *folio;
	int ret;

	/* From a socket the unit is read whatever: the stream stays aligned. */
	if (READ_ONCE(r->sealed) && !(src && src->sock))
		return -EPERM;
	folio = pca_region_new_folio(r, src);
	if (IS_ERR(folio))
		return PTR_ERR(folio);
	if (down_read_killable(&r->seal_lock)) {
		folio_put(folio);
		return -EINTR;
	}
	ret = -EPERM;
	while (!r->sealed) {
		ret = pca_region_insert(r, pgoff, folio);
		if (ret != -EEXIST)
			break;
		ret = pca_region_replace(r, pgoff, folio);
		if (ret != -ENOENT)
			break;
		/* Discarded between the two: placed after all. */
		cond_resched();
	}
	up_read(&r->seal_lock);
	folio_put(folio);	/* a page cache that took it holds its own */
	return ret;
}

/*
 * COPY of one unit: place (or overwrite), count, and wake unless told not
 * to.
 */
int pca_region_copy(struct pca_region *r, pgoff_t pgoff,
		    const struct pca_src *src, u64 flags)
{
	int ret;

	if (flags & PCA_RESOLVE_OVERWRITE)
		ret = pca_region_overwrite(r, pgoff, src);
	else
		ret = pca_region_place(r, pgoff, src);
	if (!ret)
		pca_count_add(r, PCA_COUNT_COPIED, pca_unit_pages(r));
	else if (ret == -EEXIST)
		pca_count_add(r, PCA_COUNT_EEXIST, 1);
	/* Waiters wake on -EEXIST too: someone else placed their page. */
	if ((!ret || ret == -EEXIST) && !(flags & PCA_RESOLVE_DONTWAKE))
		pca_fault_wake_range(r, pgoff, pca_unit_pages(r));
	return ret;
}

/*
 * ZERO over [@pgoff, @pgoff + @nr), whole units: units already present
 * are left alone.
 * Return: 0, -EEXIST if any unit was present, or the first other error;
 * *@done counts the pages placed.
 */
int pca_region_zero(struct pca_region *r, pgoff_t pgoff, pgoff_t nr,
		    u64 flags, pgoff_t *done)
{
	pgoff_t i, step = pca_unit_pages(r), existed = 0;
	int ret = 0, err;

	*done = 0;
	for (i = 0; i < nr; i += step) {
		err = pca_region_place(r, pgoff + i, NULL);
		if (err && err != -EEXIST) {
			ret = err;
			break;
		}
		if (err) {
			pca_count_add(r, PCA_COUNT_EEXIST, 1);
			existed += step;
			ret = -EEXIST;
		} else {
			*done += step;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			i += step;
			break;
		}
		cond_resched();
	}
	pca_count_add(r, PCA_COUNT_ZEROED, *done);
	if (i && !(flags & PCA_RESOLVE_DONTWAKE))
		pca_fault_wake_range(r, pgoff, i);
	trace_pca_place(r, PCA_TRACE_ZERO, (u64)pgoff << PAGE_SHIFT, *done,
			existed, ret);
	return ret;
}

/*
 * The pages present in [@first, @first + @nr) out of the page cache, with
 * @dirty_lock held; *@done grows by the pages dropped.  0 or -EINTR.
 */
static int pca_discard_locked(struct pca_region *r, pgoff_t first,
			      pgoff_t nr, pgoff_t *done)
{
	struct address_space *mapping = r->inode->i_mapping;
	pgoff_t index = first, last = first + nr - 1;
	struct folio_batch fbatch;
	unsigned int i;
	int ret = 0;

	lockdep_assert_held(&r->dirty_lock);
	folio_batch_init(&fbatch);
	while (!ret && filemap_get_folios(mapping, &index, last, &fbatch)) {
		/*
		 * A run of adjacent folios goes in one truncation: one walk
		 * of the mappings, one TLB flush, not one per page.
		 */
		for (i = 0; i < folio_batch_count(&fbatch); ) {
			pgoff_t start = fbatch.folios[i]->index;
			pgoff_t end = folio_next_index(fbatch.folios[i]);

			for (i++; i < folio_batch_count(&fbatch) &&
			     fbatch.folios[i]->index == end; i++)
				end = folio_next_index(fbatch.folios[i]);
			truncate_pagecache_range(r->inode,
						 (loff_t)start << PAGE_SHIFT,
						 ((loff_t)end << PAGE_SHIFT) - 1);
			*done += pca_dirty_forget(r, start, end - start);
		}
		folio_batch_release(&fbatch);
		if (fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	return ret;
}

/**
 * pca_region_discard() - make pages absent again
 * @r: the region
 * @first: first page
 * @nr: number of pages
 * @done: pages that were present and are gone
 *
 * Absent pages are missing in a PCA_REGION_MISSING region (the next touch
 * faults to the agent) and zero-filled on touch otherwise.  Pages leave
 * the page cache as in a hole punch: unmapped from every mapping, then
 * truncated under their lock; a pinned page lives on with its pinner,
 * outside the region.  The walk visits present pages only, so its cost
 * follows them, not the length of the range.
 *
 * A page's dirty bit goes once the page has: pca_dirty_forget() clears it
 * only while the index is absent, with the page cache's lock held, so a
 * bit set by a write fault that came before the truncation goes with the
 * page, and one of a page placed there since stays.  Dirty bits belong
 * to present pages only.
 *
 * Return: 0, or -EINTR when a fatal signal stopped it part way (*@done
 * says how far it got; the pages not yet reached are untouched).
 */
int pca_region_discard(struct pca_region *r, pgoff_t first, pgoff_t nr,
		       pgoff_t *done)
{
	int ret;

	*done = 0;
	/* Dirty bits belong to present pages; keep the log consistent. */
	mutex_lock(&r->dirty_lock);
	ret = pca_discard_locked(r, first, nr, done);
	mutex_unlock(&r->dirty_lock);
	trace_pca_discard(r, first, nr, *done, ret);
	return ret;
}

/* Pages of bitmap read from user memory per step: 4 KiB of it. */
#define PCA_BITMAP_STEP		(SZ_4K * BITS_PER_BYTE)

/**
 * pca_region_discard_bitmap() - make the pages of a bitmap absent again
 * @r: the region
 * @first: first page of the range, unit aligned
 * @nr: pages in the range, whole units
 * @ubits: user bitmap, bit n of it for page @first + n, in __u64 words
 *	   (host order), at least DIV_ROUND_UP(@nr, 64) of them
 * @flags: PCA_DISCARD_SEAL to seal the precopy once done
 * @done: pages that were present and are gone
 *
 * Every page whose bit is set goes as with pca_region_discard(); in a
 * huge region, a unit goes whole when any of its pages' bits is set.  The
 * bitmap is read in steps of PCA_BITMAP_STEP pages and each run of set
 * bits is one truncation, so the cost follows the set bits and the pages
 * present under them; between steps a fatal signal stops it.
 * Words are read as unsigned long bitmaps: a __u64 word is one on 64-bit
 * hosts, and two in the same bit order on little-endian 32-bit ones.
 *
 * With PCA_DISCARD_SEAL, @seal_lock is held for write across the whole
 * discard, and @sealed set before it is released: a COPY with
 * PCA_RESOLVE_OVERWRITE either placed its unit before the discard began
 * (which then drops it if its bit is set) or fails with -EPERM.  A call
 * that fails leaves the precopy unsealed.
 *
 * Return: 0, -EFAULT for an unreadable bitmap, -EINTR; *@done says how
 * far it got, pages after that point are untouched.
 */
int pca_region_discard_bitmap(struct pca_region *r, pgoff_t first,
			      pgoff_t nr, const u64 __user *ubits, u64 flags,
			      pgoff_t *done)
{
	pgoff_t base, n, bit, end, step = pca_unit_pages(r);
	bool seal = flags & PCA_DISCARD_SEAL;
	unsigned long *bits;
	int ret = 0;

	*done = 0;
	bits = kmalloc(PCA_BITMAP_STEP / BITS_PER_BYTE, GFP_KERNEL);
	if (!bits)
		return -ENOMEM;
	if (seal && down_write_killable(&r->seal_lock)) {
		kfree(bits);
		return -EINTR;
	}
	/* @nr and the step are whole units: so is every chunk. */
	for (base = 0; base < nr && !ret; base += n) {
		n = min_t(pgoff_t, nr - base, PCA_BITMAP_STEP);
		if (copy_from_user(bits, ubits + base / 64,
				   DIV_ROUND_UP(n, 64) * sizeof(u64))) {
			ret = -EFAULT;
			break;
		}
		mutex_lock(&r->dirty_lock);
		for (bit = find_first_bit(bits, n); bit < n && !ret;
		     bit = find_next_bit(bits, n, end)) {
			end = round_up(find_next_zero_bit(bits, n, bit + 1),
				       step);
			bit = round_down(bit, step);
			ret = pca_discard_locked(r, first + base + bit,
						 end - bit, done);
			if (!ret && fatal_signal_pending(current))
				ret = -EINTR;
		}
		mutex_unlock(&r->dirty_lock);
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	if (seal) {
		if (!ret)
			WRITE_ONCE(r->sealed, true);
		up_write(&r->seal_lock);
	}
	kfree(bits);
	trace_pca_discard(r, first, nr, *done, ret);
	return ret;
}

/**
 * pca_region_present_log() - which pages of a range are present
 * @r: the region
 * @first: first page of the range
 * @nr: pages in the range
 * @ubits: user bitmap as for pca_region_discard_bitmap(), written whole
 * @present: pages present (a present unit counts all its pages)
 *
 * Walks the page cache, not every index: the cost follows the pages
 * present, plus writing the bitmap (zeroes where nothing is).  A snapshot
 * without locks: a page placed or discarded meanwhile may or may not be
 * seen.  In a huge region a present unit sets the bits of all its pages.
 *
 * Return: 0, -EFAULT, -ENOMEM or -EINTR.
 */
int pca_region_present_log(struct pca_region *r, pgoff_t first, pgoff_t nr,
			   u64 __user *ubits, pgoff_t *present)
{
	struct address_space *mapping = r->inode->i_mapping;
	pgoff_t base, n, index, last, start, end;
	struct folio_batch fbatch;
	unsigned long *bits;
	size_t bytes;
	unsigned int i;
	int ret = 0;

	*present = 0;
	bits = kvmalloc(PCA_DIRTY_MSG_PAGES / BITS_PER_BYTE, GFP_KERNEL);
	if (!bits)
		return -ENOMEM;
	folio_batch_init(&fbatch);
	for (base = 0; base < nr && !ret; base += n) {
		n = min_t(pgoff_t, nr - base, PCA_DIRTY_MSG_PAGES);
		bytes = DIV_ROUND_UP(n, 64) * sizeof(u64);
		memset(bits, 0, bytes);
		index = first + base;
		last = index + n - 1;
		while (filemap_get_folios(mapping, &index, last, &fbatch)) {
			for (i = 0; i < folio_batch_count(&fbatch); i++) {
				struct folio *folio = fbatch.folios[i];

				start = max(folio->index, first + base);
				end = min(folio_next_index(folio), last + 1);
				if (start >= end)
					continue;
				bitmap_set(bits, start - (first + base),
					   end - start);
				*present += end - start;
			}
			folio_batch_release(&fbatch);
			cond_resched();
		}
		if (copy_to_user(ubits + base / 64, bits, bytes))
			ret = -EFAULT;
		else if (fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	kvfree(bits);
	return ret;
}

void pca_region_stats(struct pca_region *r, struct pca_stats *sum)
{
	int cpu, i;

	memset(sum, 0, sizeof(*sum));
	for_each_possible_cpu(cpu) {
		const struct pca_stats *s = per_cpu_ptr(r->stats, cpu);

		for (i = 0; i < PCA_NR_COUNTS; i++)
			sum->count[i] += s->count[i];
		for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++)
			sum->wait_hist[i] += s->wait_hist[i];
	}
}

static vm_fault_t pca_vm_fault(struct vm_fault *vmf)
{
	struct pca_region *r = vmf->vma->vm_file->private_data;
	struct folio *folio;
	vm_fault_t ret;
	int err;

	if (vmf->pgoff >= r->nr_pages)
		return VM_FAULT_SIGBUS;

	while (!(folio = pca_region_get_folio(r, vmf->pgoff))) {
		if (r->flags & PCA_REGION_MISSING) {
			ret = pca_fault_wait(r, vmf);
			if (ret)
				return ret;
			continue;
		}
		/* Present mode: first touch gets a zeroed unit. */
		err = pca_region_place(r, pca_unit_start(r, vmf->pgoff), NULL);
		if (err && err != -EEXIST)
			return VM_FAULT_OOM;
	}
	/*
	 * DISCARD truncates a page under its lock, which unmaps it if it is
	 * mapped; the core keeps the lock until our PTE is in place, so a
	 * page still in the page cache here is either mapped before the
	 * truncation (and unmapped by it) or not mapped at all.
	 */
	folio_lock(folio);
	if (unlikely(folio->mapping != r->inode->i_mapping)) {
		folio_unlock(folio);
		folio_put(folio);
		return VM_FAULT_NOPAGE;	/* retried from the start */
	}
	vmf->page = folio_file_page(folio, vmf->pgoff);
	return VM_FAULT_LOCKED;
}

/*
 * The PMD of @addr in @mm if it points to a page table; NULL if there is
 * none yet (the first fault in the 2 MiB, whose table the core installs
 * only with the page) or the entry maps a huge page.  mmap_lock is held:
 * page tables down to the PMD's stay.
 */
static pmd_t *pca_pmd_table(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, val;

	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return NULL;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return NULL;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_bad(*pud))
		return NULL;
	pmd = pmd_offset(pud, addr);
	val = READ_ONCE(*pmd);
	/* Bad covers a huge entry: its flags are not a table's. */
	if (!pmd_present(val) || pmd_trans_huge(val) || pmd_bad(val))
		return NULL;
	return pmd;
}

/**
 * pca_region_premap() - map a page for the thread that faulted on it
 * @r: the region, a 4 KiB one
 * @mm: the faulting mm, with a reference (mmget)
 * @addr: where it faulted, page aligned
 * @pgoff: the page, present
 *
 * Installs the page table entry that the woken thread's retried read
 * fault would (filemap_map_pages(), the fault-around path of every read
 * fault of a region mapping), so that the thread needs no retry.  Tried
 * only: with @mm's mmap_lock taken for write (mmap, munmap, the dirty
 * log's write-notify switch) or the page locked (DISCARD, OVERWRITE, a
 * fault mapping it), nothing is done and the thread's own retry maps the
 * page.  What is checked under mmap_lock: the VMA at @addr is a shared
 * mapping of this region's pages with @pgoff at @addr (mremap or munmap
 * may have moved it), and the PMD points to a page table (on 6.1
 * filemap_map_pages() would otherwise install a table it was not given).
 * The page is mapped with the VMA's protection, read-only under write
 * notification (a write then faults to .page_mkwrite and is logged);
 * under the page lock with the mapping checked (DISCARD and OVERWRITE
 * unmap it through the rmap like any other mapping).
 *
 * Return: whether the page is now mapped at @addr by this call.
 */
bool pca_region_premap(struct pca_region *r, struct mm_struct *mm,
		       unsigned long addr, pgoff_t pgoff)
{
	struct vm_area_struct *vma;
	bool mapped = false;
	pmd_t *pmd;

	if (!mmap_read_trylock(mm)) {
		trace_pca_premap(r, pgoff, PCA_TRACE_PREMAP_LOCKED);
		return false;
	}
	vma = vma_lookup(mm, addr);
	if (!vma || !vma->vm_file ||
	    vma->vm_file->f_mapping != r->inode->i_mapping ||
	    !(vma->vm_flags & VM_SHARED) ||
	    vma->vm_ops->map_pages != filemap_map_pages ||
	    linear_page_index(vma, addr) != pgoff) {
		trace_pca_premap(r, pgoff, PCA_TRACE_PREMAP_MOVED);
		goto out;
	}
	pmd = pca_pmd_table(mm, addr);
	if (!pmd) {
		trace_pca_premap(r, pgoff, PCA_TRACE_PREMAP_NO_TABLE);
		goto out;
	}
	{
		/* A read fault at @addr, as the core builds it. */
		struct vm_fault vmf = {
			.vma = vma,
			.address = addr,
			.real_address = addr,
			.pgoff = pgoff,
			.gfp_mask = GFP_KERNEL,
			.flags = FAULT_FLAG_ALLOW_RETRY | FAULT_FLAG_KILLABLE,
			.pmd = pmd,
		};

		/* NOPAGE: the entry at vmf.address was installed. */
		mapped = filemap_map_pages(&vmf, pgoff, pgoff) ==
			 VM_FAULT_NOPAGE;
	}
	trace_pca_premap(r, pgoff, mapped ? PCA_TRACE_PREMAP_MAPPED :
					    PCA_TRACE_PREMAP_BUSY);
	if (mapped)
		pca_count_add(r, PCA_COUNT_PREMAPPED, 1);
out:
	mmap_read_unlock(mm);
	return mapped;
}

static void pca_vm_open(struct vm_area_struct *vma);

/*
 * .map_pages maps the present neighbours of a read fault (fault-around)
 * straight from the page cache, so that a guest reading pages placed ahead
 * of it takes a fraction of the faults.  It also lets 6.6+ kernels run
 * .fault under the per-VMA lock instead of retrying under mmap_lock.
 *
 * While the dirty log runs, mappings have the second set, whose
 * .page_mkwrite makes the core map pages read-only until written, so
 * that every first write faults and is logged; otherwise the first, with
 * which 6.5+ kernels let GUP take long-term write pins (see
 * pca_region_write_notify()).
 */
static const struct vm_operations_struct pca_vm_ops = {
	.open		= pca_vm_open,
	.fault		= pca_vm_fault,
	.map_pages	= filemap_map_pages,
};

static const struct vm_operations_struct pca_vm_ops_notify = {
	.open		= pca_vm_open,
	.fault		= pca_vm_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= pca_dirty_page_mkwrite,
};

/*
 * Write notification.  A shared mapping whose vm_ops have .page_mkwrite
 * is mapped read-only until written (vma_wants_writenotify()): that is how
 * the dirty log sees the first write to each page.  It also makes the
 * mapping one that needs dirty tracking in GUP's eyes, and from 6.5 on
 * GUP refuses long-term write pins there (FOLL_LONGTERM | FOLL_WRITE:
 * VFIO, io_uring fixed buffers, RDMA).  So mappings have .page_mkwrite
 * only while the dirty log runs, and pca_region_write_notify() switches
 * every VMA of the region, in every process, between the two sets.
 *
 * Finding the VMAs: a module cannot walk the mapping's i_mmap tree, so the
 * region keeps a list of the mms that may map it.  Every VMA of a region
 * comes from mmap() or from a split or copy (.open); both put its mm on
 * the list and give it the ops of the current mode under @mms_lock.  The
 * switch changes the mode under that lock, then visits every mm on the
 * list with its mmap_lock held for write, which waits out an mmap() that
 * registered under the old mode but has yet to insert its VMA, and
 * switches each VMA of the region it finds.  An mm stays on the list
 * until it is dead; dead ones are dropped as others are added.
 */

/* The page protection of @vma with or without write notification. */
static pgprot_t pca_vma_page_prot(struct vm_area_struct *vma, bool notify)
{
	vm_flags_t flags = vma->vm_flags;

	/* Soft-dirty tracking of the VMA wants read-only PTEs too. */
	if (IS_ENABLED(CONFIG_MEM_SOFT_DIRTY) && !(flags & VM_SOFTDIRTY))
		notify = true;
	if (notify)
		flags &= ~VM_SHARED;
	/*
	 * What mmap() gives a region VMA: nothing sets caching attributes
	 * on it, so there is nothing of the old protection to keep.
	 */
	return vm_get_page_prot(flags);
}

static const struct vm_operations_struct *pca_vm_ops_for(bool notify)
{
	return notify ? &pca_vm_ops_notify : &pca_vm_ops;
}

/*
 * Put @vma's mm on @r's list unless it is there, and give @vma the ops of
 * the current mode (and, with @set_prot, the page protection that goes
 * with them: mmap() leaves that to the core).  *@spare is an entry for a
 * new mm; false when one is needed and *@spare is NULL.
 */
static bool pca_region_add_vma(struct pca_region *r,
			       struct vm_area_struct *vma,
			       struct pca_region_mm **spare, bool set_prot)
{
	const struct vm_operations_struct *ops;
	struct pca_region_mm *m, *tmp;
	bool found = false;
	LIST_HEAD(dead);

	spin_lock(&r->mms_lock);
	list_for_each_entry_safe(m, tmp, &r->mms, node) {
		if (m->mm == vma->vm_mm)
			found = true;
		else if (!atomic_read(&m->mm->mm_users))
			list_move(&m->node, &dead);
	}
	if (!found) {
		if (!*spare) {
			list_splice(&dead, &r->mms);
			spin_unlock(&r->mms_lock);
			return false;
		}
		m = *spare;
		*spare = NULL;
		m->mm = vma->vm_mm;
		m->gen = r->mms_gen;	/* its VMA gets the mode now */
		mmgrab(m->mm);
		list_add(&m->node, &r->mms);
	}
	ops = pca_vm_ops_for(r->write_notify);
	if (set_prot && vma->vm_ops != ops)
		WRITE_ONCE(vma->vm_page_prot,
			   pca_vma_page_prot(vma, r->write_notify));
	vma->vm_ops = ops;
	spin_unlock(&r->mms_lock);

	list_for_each_entry_safe(m, tmp, &dead, node) {
		mmdrop(m->mm);
		kfree(m);
	}
	return true;
}

/*
 * A VMA split off, or copied by fork() or mremap(): its mm holds the
 * mmap_lock for write, and the VMA is not visible yet.  Nothing may fail
 * here, so a new mm's entry (a few bytes) is allocated without failing.
 */
static void pca_vm_open(struct vm_area_struct *vma)
{
	struct pca_region *r = vma->vm_file->private_data;
	struct pca_region_mm *spare = NULL;

	while (!pca_region_add_vma(r, vma, &spare, true))
		spare = kmalloc(sizeof(*spare),
				GFP_KERNEL_ACCOUNT | __GFP_NOFAIL);
	kfree(spare);
}

/**
 * pca_region_write_notify() - switch every mapping's write notification
 * @r: the region; its dirty_lock is held
 * @on: map pages read-only until written (.page_mkwrite), or not
 *
 * On return every VMA of the region has the ops and page protection of
 * @on, and every VMA created later gets them.  PTEs already writable stay
 * so: the caller write-protects the pages it needs to.  Takes each mapping
 * process's mmap_lock for write, in turn.
 *
 * Return: 0, or -EINTR when a fatal signal came while waiting for a
 * process's mmap_lock; the mode is set then, but some VMAs may not have
 * been switched, which a later call does.
 */
int pca_region_write_notify(struct pca_region *r, bool on)
{
	struct address_space *mapping = r->inode->i_mapping;
	const struct vm_operations_struct *ops = pca_vm_ops_for(on);
	struct vm_area_struct *vma;
	struct pca_region_mm *m;
	struct mm_struct *mm;
	u64 gen;

	lockdep_assert_held(&r->dirty_lock);
	spin_lock(&r->mms_lock);
	r->write_notify = on;
	gen = ++r->mms_gen;
	spin_unlock(&r->mms_lock);

	for (;;) {
		mm = NULL;
		spin_lock(&r->mms_lock);
		list_for_each_entry(m, &r->mms, node) {
			if (m->gen == gen)
				continue;
			m->gen = gen;
			if (mmget_not_zero(m->mm)) {
				mm = m->mm;
				break;
			}
		}
		spin_unlock(&r->mms_lock);
		if (!mm)
			return 0;

		if (mmap_write_lock_killable(mm)) {
			mmput(mm);
			return -EINTR;
		}
		{
			VMA_ITERATOR(vmi, mm, 0);

			for_each_vma(vmi, vma) {
				/*
				 * A fork that failed copying its VMAs (a
				 * fatal signal, no memory) marks where it
				 * stopped with a zero entry (6.8 on) and
				 * copied nothing after it; the mm is on its
				 * way out.  Its earlier VMAs were ours to find.
				 */
				if (unlikely(xa_is_zero(vma)))
					break;
				if (!vma->vm_file ||
				    vma->vm_file->f_mapping != mapping ||
				    vma->vm_ops == ops)
					continue;
				pca_vma_start_write(vma);
				WRITE_ONCE(vma->vm_page_prot,
					   pca_vma_page_prot(vma, on));
				vma->vm_ops = ops;
			}
		}
		mmap_write_unlock(mm);
		mmput(mm);
		cond_resched();
	}
}

int pca_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pca_region *r = file->private_data;
	struct pca_region_mm *spare = NULL;

	/* A private mapping would fill with anonymous COW copies. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= r->nr_pages ||
	    vma_pages(vma) > r->nr_pages - vma->vm_pgoff)
		return -EINVAL;
	/*
	 * No growth past the region through mremap, and no core dump, which
	 * would otherwise stall on missing pages.
	 */
	pca_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	if (!pca_region_add_vma(r, vma, &spare, false)) {
		spare = kmalloc(sizeof(*spare), GFP_KERNEL_ACCOUNT);
		if (!spare)
			return -ENOMEM;
		pca_region_add_vma(r, vma, &spare, false);
	}
	kfree(spare);
	return 0;
}

/*
 * A region file opened again by path, /proc/<pid>/fd/<n>: how a VMM that
 * only takes a path (QEMU's memory-backend-file) maps an existing region.
 */
static int pca_region_file_open(struct inode *inode, struct file *file)
{
	struct pca_region *r = inode->i_private;

	/*
	 * @r's memory lasts as long as the inode, which our caller's path
	 * pins, but the region itself may be gone or going: a reference
	 * first, so that the last file's release cannot drop the region
	 * between our nr_files and our reference.
	 */
	if (!kref_get_unless_zero(&r->ref))
		return -ENOENT;
	if (!atomic_inc_not_zero(&r->nr_files)) {
		pca_region_put(r);
		return -ENOENT;
	}
	file->private_data = r;
	return 0;
}

/* A file of @r goes: the last one closes the region. */
static void pca_region_file_put(struct pca_region *r)
{
	if (atomic_dec_and_test(&r->nr_files)) {
		xa_erase(&pca_regions, r->id);
		pca_queue_detach_all(r);
		pca_fault_wake_all(r);
	}
	pca_region_put(r);
}

static int pca_region_file_release(struct inode *inode, struct file *file)
{
	pca_region_file_put(file->private_data);
	return 0;
}

/*
 * fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE), and MADV_REMOVE on
 * a mapping, which comes here: how QEMU and other VMMs discard guest RAM
 * on a file (balloon, postcopy discard).  The same as DISCARD: missing
 * again in a missing-mode region, zero on the next touch otherwise.
 */
long pca_region_fallocate(struct file *file, int mode, loff_t offset,
			  loff_t len)
{
	struct pca_region *r = file->private_data;
	pgoff_t done;

	if (mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	/* No partial pages: a page is present or absent, never half. */
	if (pca_region_range(r, offset, len, NULL))
		return -EINVAL;
	return pca_region_discard(r, offset >> PAGE_SHIFT, len >> PAGE_SHIFT,
				  &done);
}

/*
 * The region's size is fixed: truncating it would drop guest memory.
 * ftruncate() to the size it has is allowed (a VMM sizing its "file");
 * owner and mode changes are a file's as usual.
 */
static int pca_region_setattr(PCA_SETATTR_ARGS, struct dentry *dentry,
			      struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);

	if (attr->ia_valid & ATTR_SIZE) {
		if (attr->ia_size != i_size_read(inode))
			return -EPERM;
		attr->ia_valid &= ~ATTR_SIZE;
	}
	return simple_setattr(pca_setattr_idmap, dentry, attr);
}

static const struct inode_operations pca_region_iops = {
	.setattr	= pca_region_setattr,
};

/* The size is what SEEK_END reports: VMMs size their mapping from it. */
static loff_t pca_region_llseek(struct file *file, loff_t offset, int whence)
{
	struct pca_region *r = file->private_data;

	return fixed_size_llseek(file, offset, whence, r->size);
}

static const struct file_operations pca_region_fops = {
	.owner		= THIS_MODULE,
	.open		= pca_region_file_open,
	.llseek		= pca_region_llseek,
	/* Mappings start on a PMD boundary, so that huge units map whole. */
	.get_unmapped_area = thp_get_unmapped_area,
	.mmap		= pca_region_mmap,
	.unlocked_ioctl	= pca_region_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.fallocate	= pca_region_fallocate,
	.release	= pca_region_file_release,
};

static struct pca_region *pca_region_alloc(u64 size, u64 flags,
					   unsigned int unit_order,
					   struct net *net)
{
	struct pca_region *r;

	/* Charged to the creator's memory cgroup, as are its pages. */
	r = kzalloc(sizeof(*r), GFP_KERNEL_ACCOUNT);
	if (!r)
		return NULL;
	r->stats = alloc_percpu_gfp(struct pca_stats, GFP_KERNEL_ACCOUNT);
	if (!r->stats) {
		kfree(r);
		return NULL;
	}
	kref_init(&r->ref);
	r->size = size;
	r->nr_pages = size >> PAGE_SHIFT;
	r->flags = flags;
	r->unit_order = unit_order;
	r->policy = PCA_POLICY_FAIL;
	mutex_init(&r->queues_lock);
	mutex_init(&r->dirty_lock);
	init_rwsem(&r->seal_lock);
	spin_lock_init(&r->mms_lock);
	INIT_LIST_HEAD(&r->mms);
	atomic_set(&r->nr_files, 1);
	pca_region_faults_init(r);
	r->net = get_net(net);
	r->user_ns = get_user_ns(current_user_ns());
	r->pid_ns = get_pid_ns(task_active_pid_ns(current));
	r->memcg = get_mem_cgroup_from_mm(current->mm);
	return r;
}

/**
 * pca_region_create() - a new region and the file that owns it
 * @size: bytes, a non-zero multiple of the unit up to PCA_REGION_MAX_SIZE
 * @flags: PCA_REGION_*
 * @id: the new region's id
 *
 * Return: the region file, or an ERR_PTR: -EDQUOT when the caller's
 * network namespace has as many regions, or region bytes, as allowed;
 * -EOPNOTSUPP for a huge region where the kernel cannot map file pages
 * with PMDs.
 */
struct file *pca_region_create(u64 size, u64 flags, u32 *id)
{
	unsigned int unit_order = 0;
	struct pca_region *r;
	struct inode *inode;
	struct file *file;
	int ret;

	if (flags & ~(PCA_REGION_MISSING | PCA_REGION_USER_ONLY |
		      PCA_REGION_HUGE))
		return ERR_PTR(-EINVAL);
	if (flags & PCA_REGION_HUGE) {
		if (!PCA_HUGE_ORDER || !has_transparent_hugepage())
			return ERR_PTR(-EOPNOTSUPP);
		unit_order = PCA_HUGE_ORDER;
	}
	if (!size || !IS_ALIGNED(size, PAGE_SIZE << unit_order) ||
	    size > PCA_REGION_MAX_SIZE)
		return ERR_PTR(-EINVAL);

	ret = pca_limit_region_add(current->nsproxy->net_ns, size);
	if (ret)
		return ERR_PTR(ret);
	r = pca_region_alloc(size, flags, unit_order,
			     current->nsproxy->net_ns);
	if (!r) {
		pca_limit_region_del(current->nsproxy->net_ns, size);
		return ERR_PTR(-ENOMEM);
	}

	inode = alloc_anon_inode(pca_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		ret = PTR_ERR(inode);
		goto err_region;
	}
	inode->i_size = size;
	/* A regular file to fstat() and fallocate(), of a fixed size. */
	inode->i_mode = S_IFREG | 0600;
	inode->i_op = &pca_region_iops;
	inode->i_fop = &pca_region_fops;
	/* Guest memory is never reclaimed, written back or dropped. */
	mapping_set_unevictable(inode->i_mapping);
	/* st_blksize: the unit, as hugetlbfs reports its page size. */
	if (unit_order) {
		mapping_set_large_folios(inode->i_mapping);
		inode->i_blkbits = PAGE_SHIFT + unit_order;
	}
	inode->i_private = r;
	inode->i_uid = current_fsuid();
	inode->i_gid = current_fsgid();
	r->inode = inode;
	ihold(inode);	/* the region's own, dropped when it is freed */

	/*
	 * The file's release drops a module reference (fops->owner) that
	 * alloc_file_pseudo() does not take.  Our caller is in a syscall on
	 * one of our files, so the module is pinned already.
	 */
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(inode, pca_mnt, "[postcopy_assist]",
				 O_RDWR, &pca_region_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(inode);	/* the file's, which it never took */
		ret = PTR_ERR(file);
		goto err_region;
	}
	file->private_data = r;

	ret = xa_alloc_cyclic(&pca_regions, &r->id, r, xa_limit_31b,
			      &pca_next_region_id, GFP_KERNEL);
	if (ret < 0) {
		/* The file's release undoes everything from here. */
		fput(file);
		return ERR_PTR(ret);
	}
	*id = r->id;
	return file;

err_region:
	pca_region_put(r);
	return ERR_PTR(ret);
}

/**
 * pca_region_open() - another file of an existing region
 * @id: the region's id, in the caller's network namespace
 * @size: the region's size
 *
 * For an agent that took a migration of a region it did not create.  The
 * caller needs CAP_SYS_ADMIN over the region's user namespace, as for
 * every netlink command on the region; a region that is a file of a region
 * filesystem is opened as that file (pca_fs_region_open()).
 *
 * Return: the new file, or an ERR_PTR: -ENOENT for no such region (or
 * one closing), -EPERM.
 */
struct file *pca_region_open(u32 id, u64 *size)
{
	struct pca_region *r;
	struct file *file;

	r = pca_region_lookup(current->nsproxy->net_ns, id);
	if (!r)
		return ERR_PTR(-ENOENT);
	if (!ns_capable(r->user_ns, CAP_SYS_ADMIN)) {
		pca_region_put(r);
		return ERR_PTR(-EPERM);
	}
	/* A file of a region filesystem: opened again at its path. */
	if (r->fs) {
		file = pca_fs_region_open(r);
		if (!IS_ERR(file))
			*size = r->size;
		pca_region_put(r);
		return file;
	}
	/* Its last file may be closing: the id is about to go. */
	if (!atomic_inc_not_zero(&r->nr_files)) {
		pca_region_put(r);
		return ERR_PTR(-ENOENT);
	}

	/* The new file's inode and module references, as at creation. */
	ihold(r->inode);
	__module_get(THIS_MODULE);
	file = alloc_file_pseudo(r->inode, pca_mnt, "[postcopy_assist]",
				 O_RDWR, &pca_region_fops);
	if (IS_ERR(file)) {
		module_put(THIS_MODULE);
		iput(r->inode);
		pca_region_file_put(r);
		return file;
	}
	file->private_data = r;
	*size = r->size;
	return file;
}

/**
 * pca_region_create_fs() - make a file of a region filesystem a region
 * @inode: the file, locked, with no region yet
 * @fs: its superblock's information
 * @net: the network namespace the filesystem was mounted in
 * @size: bytes, as for pca_region_create()
 * @flags: PCA_REGION_*
 *
 * Called when the file is first given a size.  The region gets an id and
 * is counted in @net as if made by PCA_IOC_REGION_CREATE; it lives until
 * the file is unlinked and no file of it is open any more, or the
 * filesystem goes (pca_region_close_fs()).
 *
 * Return: 0, -EINVAL, -EOPNOTSUPP, -EDQUOT or -ENOMEM.
 */
int pca_region_create_fs(struct inode *inode, struct pca_fs_info *fs,
			 struct net *net, u64 size, u64 flags)
{
	unsigned int unit_order = 0;
	struct pca_region *r;
	int ret;

	if (flags & PCA_REGION_HUGE) {
		if (!PCA_HUGE_ORDER || !has_transparent_hugepage())
			return -EOPNOTSUPP;
		unit_order = PCA_HUGE_ORDER;
	}
	if (!size || !IS_ALIGNED(size, PAGE_SIZE << unit_order) ||
	    size > PCA_REGION_MAX_SIZE)
		return -EINVAL;

	ret = pca_limit_region_add(net, size);
	if (ret)
		return ret;
	r = pca_region_alloc(size, flags, unit_order, net);
	if (!r) {
		pca_limit_region_del(net, size);
		return -ENOMEM;
	}
	/* No file holds it yet; the filesystem does, until it closes it. */
	atomic_set(&r->nr_files, 0);
	/* Before it has an id: commands check the file's permissions. */
	r->fs = fs;
	INIT_LIST_HEAD(&r->fs_node);
	mapping_set_unevictable(inode->i_mapping);
	if (unit_order) {
		mapping_set_large_folios(inode->i_mapping);
		inode->i_blkbits = PAGE_SHIFT + unit_order;
	}
	r->inode = inode;
	ihold(inode);	/* the region's own, dropped when it is freed */

	ret = xa_alloc_cyclic(&pca_regions, &r->id, r, xa_limit_31b,
			      &pca_next_region_id, GFP_KERNEL);
	if (ret < 0) {
		r->fs = NULL;	/* never counted there */
		r->inode = NULL;
		iput(inode);
		pca_region_put(r);
		return ret;
	}
	pca_fs_region_add(fs, r);
	/* Files of the inode find the region from here on. */
	smp_store_release(&inode->i_private, r);
	return 0;
}

/*
 * A region of a region filesystem closes, once: its file is unlinked and
 * no file of it is open, or the filesystem goes.  As the last close of an
 * ioctl region: it leaves the id table, queues detach, waiters wake.
 */
void pca_region_close_fs(struct pca_region *r)
{
	if (test_and_set_bit(0, &r->fs_closed))
		return;
	pca_fs_region_del(r);
	xa_erase(&pca_regions, r->id);
	pca_queue_detach_all(r);
	pca_fault_wake_all(r);
	pca_region_put(r);	/* the filesystem's */
}

/**
 * pca_region_set_flags() - choose a region's mode before it is used
 * @r: the region
 * @flags: PCA_REGION_MISSING and PCA_REGION_USER_ONLY, the others kept
 *
 * Return: 0, -EINVAL for other bits, -EBUSY once the region has been
 * mapped, holds pages or has an agent.
 */
int pca_region_set_flags(struct pca_region *r, u64 flags)
{
	int ret = 0;

	if (flags & ~(PCA_REGION_MISSING | PCA_REGION_USER_ONLY))
		return -EINVAL;
	mutex_lock(&r->queues_lock);
	spin_lock(&r->mms_lock);
	if (!list_empty(&r->mms) || r->nr_queues || r->closed ||
	    pca_region_nr_present(r))
		ret = -EBUSY;
	else
		WRITE_ONCE(r->flags, (r->flags & PCA_REGION_HUGE) | flags);
	spin_unlock(&r->mms_lock);
	mutex_unlock(&r->queues_lock);
	return ret;
}
