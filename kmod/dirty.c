// SPDX-License-Identifier: GPL-2.0
/*
 * The dirty log: which pages of a region were written since the log was
 * last cleared, for precopy rounds on the source host.
 *
 * Region pages carry the region's address_space and their page offset, so
 * the rmap finds every PTE that maps them, in every process.  While the
 * log runs, shared mappings of a region have a page_mkwrite handler
 * (pca_region_write_notify()), which makes the core map pages read-only
 * until they are written: the first write through any
 * mapping, by a thread or by the kernel on its behalf (read() into the
 * region, GUP for write), comes to page_mkwrite, which sets the page's bit.
 * Clearing a bit write-protects the page again with folio_mkclean().
 *
 * Bit and write permission change together under the page lock, which
 * page_mkwrite holds until the writable PTE is installed: a write either
 * happened before a clear (and was in the log the clear reported, with its
 * data readable once the clear returns) or faults after it and lands in the
 * next log.  A page pinned for DMA can be written without a fault, so a
 * clear leaves its bit set until the pin goes.
 *
 * Cost: one minor fault per page per round that writes it; a clear costs
 * one rmap walk per dirty page, nothing for clean pages, or, when the
 * range is dense, a page lock per dirty page and one page-table walk of
 * the range per mapping (pca_dirty_by_range()).
 *
 * A huge region logs whole units (2 MiB): the first write to a unit after
 * a clear sets its bit and every later write to it is free, and a clear
 * is one rmap walk per folio of a dirty unit (one, unless the kernel
 * split it).
 */

#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pagevec.h>
#include <linux/rmap.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "dirty.h"
#include "region.h"
#include "trace.h"

/*
 * Log the unit of @pgoff as written.  A unit's state is the bit of its
 * first page; the others stay clear in the kernel's bitmap (reports set
 * them, pca_dirty_report()), so that no bitmap word is ever written but
 * by atomic bit operations: the pages of a huge unit whose folio the
 * kernel split (MADV_COLD or MADV_PAGEOUT over part of it) fault under
 * locks of their own.  @nr_dirty counts pages.
 */
static void pca_dirty_set(struct pca_region *r, pgoff_t pgoff)
{
	if (!test_and_set_bit(pca_unit_start(r, pgoff), r->dirty))
		atomic_long_add(pca_unit_pages(r), &r->nr_dirty);
}

/* Set bits [@bit, @bit + @nr) of a report. */
static void pca_dirty_report(u64 *bitmap, pgoff_t bit, pgoff_t nr)
{
	for (; nr && bit % 64; bit++, nr--)
		bitmap[bit / 64] |= 1ULL << (bit % 64);
	for (; nr >= 64; bit += 64, nr -= 64)
		bitmap[bit / 64] = ~0ULL;
	for (; nr; bit++, nr--)
		bitmap[bit / 64] |= 1ULL << (bit % 64);
}

/*
 * The mappings of @folio, each of which holds a reference: PTEs and PMDs.
 * 6.1 counts a PMD mapping of a file folio in every page's _mapcount and
 * in the entire mapcount, and exports no folio_mapcount(); later kernels
 * count each mapping once, inline.
 */
static long pca_folio_mappings(struct folio *folio)
{
#ifdef PCA_HAVE_INLINE_FOLIO_MAPCOUNT
	return folio_mapcount(folio);
#else
	long i, nr, sum = 0;

	if (!folio_test_large(folio))
		return atomic_read(&folio->_mapcount) + 1;
	nr = folio_nr_pages(folio);
	for (i = 0; i < nr; i++)
		sum += atomic_read(&folio_page(folio, i)->_mapcount) + 1;
	return sum - (nr - 1) * folio_entire_mapcount(folio);
#endif
}

/*
 * Whether something may write @folio without a fault, now or later: a
 * FOLL_PIN pin (O_DIRECT from 6.5 on, io_uring, VFIO, RDMA), or a
 * reference beyond the page cache's, the mappings' and the @held ones of
 * the caller: 6.1's block layer takes plain references (FOLL_GET) for
 * O_DIRECT, as does any get_user_pages() for write.  A mapping takes its
 * reference before it counts and drops it after, so a page being mapped
 * or unmapped only looks referenced.  A folio not yet on the LRU may sit
 * in a CPU's LRU batch, which holds a reference of its own; that one is
 * allowed for.  A wrong "yes" only logs a page that was not written.
 */
static bool pca_folio_may_dma(struct folio *folio, long held)
{
	long expected = folio_nr_pages(folio) + pca_folio_mappings(folio) +
			held;

	if (folio_maybe_dma_pinned(folio))
		return true;
	if (!folio_test_lru(folio))
		expected++;
	return folio_ref_count(folio) > expected;
}

/* Whether the page at @pgoff may be written without a fault. */
static bool pca_dirty_pinned(struct pca_region *r, pgoff_t pgoff)
{
	struct folio *folio = pca_region_get_folio(r, pgoff);
	bool pinned;

	if (!folio)
		return false;
	pinned = pca_folio_may_dma(folio, 1);
	folio_put(folio);
	return pinned;
}

vm_fault_t pca_dirty_page_mkwrite(struct vm_fault *vmf)
{
	struct pca_region *r = vmf->vma->vm_file->private_data;
	struct folio *folio = page_folio(vmf->page);

	/* Held until the core has made the PTE writable. */
	folio_lock(folio);
	/*
	 * The core unlocked the page between ->fault and here: DISCARD may
	 * have taken it from the region.  Then retry the fault from scratch.
	 */
	if (unlikely(folio->mapping != r->inode->i_mapping)) {
		folio_unlock(folio);
		return VM_FAULT_NOPAGE;
	}
	/* Pairs with smp_store_release() in pca_dirty_track(). */
	if (smp_load_acquire(&r->tracking))
		pca_dirty_set(r, vmf->pgoff);
	return VM_FAULT_LOCKED;
}

/**
 * pca_dirty_track() - start or stop logging writes
 * @r: the region
 * @on: start (with an empty log) or stop (the log stays readable)
 *
 * Mappings take write faults only while the log runs: starting switches
 * them to write notification first, stopping switches them back, which
 * lets GUP take long-term write pins on them again.
 *
 * Return: 0, -ENOMEM, or -EINTR (a fatal signal while switching the
 * mappings; starting then leaves tracking off).
 */
int pca_dirty_track(struct pca_region *r, bool on)
{
	struct address_space *mapping = r->inode->i_mapping;
	struct folio_batch fbatch;
	pgoff_t index = 0;
	unsigned int i;
	int ret;

	mutex_lock(&r->dirty_lock);
	if (!on) {
		WRITE_ONCE(r->tracking, false);
		ret = pca_region_write_notify(r, false);
		mutex_unlock(&r->dirty_lock);
		return ret;
	}
	if (r->tracking) {
		mutex_unlock(&r->dirty_lock);
		return 0;
	}
	if (!r->dirty) {
		r->dirty = kvcalloc(BITS_TO_LONGS(r->nr_pages),
				    sizeof(unsigned long), GFP_KERNEL_ACCOUNT);
		if (!r->dirty) {
			mutex_unlock(&r->dirty_lock);
			return -ENOMEM;
		}
	} else {
		bitmap_zero(r->dirty, r->nr_pages);
	}
	atomic_long_set(&r->nr_dirty, 0);
	/*
	 * Every mapping faults on write from here; the walk below makes
	 * PTEs that are writable already fault again.
	 */
	ret = pca_region_write_notify(r, true);
	if (ret) {
		mutex_unlock(&r->dirty_lock);
		return ret;
	}
	/* The bitmap is ready before page_mkwrite can see tracking on. */
	smp_store_release(&r->tracking, true);

	/* Writable PTEs from before must fault again to be seen. */
	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, r->nr_pages - 1, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			folio_lock(folio);
			if (folio->mapping == mapping) {
				folio_mkclean(folio);
				/*
				 * Pinned before tracking began: DMA may write
				 * it without a fault, in any round.
				 */
				if (pca_folio_may_dma(folio, 1))
					pca_dirty_set(r, folio->index);
			}
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
	mutex_unlock(&r->dirty_lock);
	return 0;
}

/*
 * Clear the bits of the unit at @pgoff and write-protect it, unless it is
 * pinned.  A huge unit mapped by a PMD stays so mapped: the first write
 * after this replaces the read-only PMD (the kernel drops it and faults
 * again at page level, which maps the whole unit writable after
 * page_mkwrite).
 * dirty_lock is held, so the page cannot be discarded under us; but it
 * may have been discarded (or discarded and placed again) since its bit
 * was reported, when the report was delivered with the lock dropped.
 * DISCARD cleared the bit then, and a page placed since has a bit of its
 * own, which this clears as it would any other written page.
 */
static bool pca_dirty_clear_unit(struct pca_region *r, pgoff_t unit);

static bool pca_dirty_clear_page(struct pca_region *r, pgoff_t pgoff,
				 bool wrprotect)
{
	struct folio *folio;
	bool cleared = false;

	if (r->unit_order)
		return pca_dirty_clear_unit(r, pgoff);
	folio = pca_region_get_folio(r, pgoff);
	if (!folio)
		return false;
	/*
	 * The lock waits out a write fault that set the bit and has yet to
	 * make its PTE writable: the write protection that follows, here or
	 * for the whole range after the loop, then sees that PTE.
	 */
	folio_lock(folio);
	if (folio->mapping == r->inode->i_mapping &&
	    !pca_folio_may_dma(folio, 1) &&
	    test_and_clear_bit(pgoff, r->dirty)) {
		atomic_long_dec(&r->nr_dirty);
		cleared = true;
		/* Write-protect every mapping of the page. */
		if (wrprotect) {
			folio_mkclean(folio);
			/*
			 * A GUP-fast pin through a PTE still writable after
			 * the check above: the page stays in the log.  A pin
			 * after this faults, and page_mkwrite logs it.
			 */
			if (pca_folio_may_dma(folio, 1)) {
				pca_dirty_set(r, pgoff);
				cleared = false;
			}
		}
	}
	folio_unlock(folio);
	folio_put(folio);
	return cleared;
}

/* Whether any folio of [@first, @last] may be written without a fault. */
static bool pca_dirty_range_may_dma(struct pca_region *r, pgoff_t first,
				    pgoff_t last)
{
	struct folio_batch fbatch;
	bool held = false;
	unsigned int i;

	folio_batch_init(&fbatch);
	while (!held && filemap_get_folios(r->inode->i_mapping, &first, last,
					   &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++)
			held |= pca_folio_may_dma(fbatch.folios[i], 1);
		folio_batch_release(&fbatch);
	}
	return held;
}

/*
 * pca_dirty_clear_page() for a unit of a huge region.  The unit is one
 * folio unless the kernel split it (MADV_COLD or MADV_PAGEOUT over part
 * of a unit splits it into pages, which stay in the page cache): every
 * folio of the unit is write-protected, each under its lock, after the
 * unit's bit is cleared.  A write fault on one of them that set the bit
 * before the clear finishes under that folio's lock before the write
 * protection of that folio, and one after it sets the bit again; writes
 * through PTEs still writable land before the call returns, when the
 * agent has yet to read the unit.
 */
static bool pca_dirty_clear_unit(struct pca_region *r, pgoff_t unit)
{
	struct address_space *mapping = r->inode->i_mapping;
	pgoff_t index = unit, last = unit + pca_unit_pages(r) - 1;
	struct folio_batch fbatch;
	bool held = false;
	unsigned int i;

	if (!test_bit(unit, r->dirty) ||
	    pca_dirty_range_may_dma(r, unit, last))
		return false;
	if (!test_and_clear_bit(unit, r->dirty))
		return false;
	atomic_long_sub(pca_unit_pages(r), &r->nr_dirty);

	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, last, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			struct folio *folio = fbatch.folios[i];

			folio_lock(folio);
			if (folio->mapping == mapping) {
				folio_mkclean(folio);
				/* A GUP-fast pin before the protection. */
				held |= pca_folio_may_dma(folio, 1);
			}
			folio_unlock(folio);
		}
		folio_batch_release(&fbatch);
	}
	if (held)
		pca_dirty_set(r, unit);
	return !held;
}

/*
 * Re-arming a dense stretch of the log costs less as one walk of the
 * range's page tables in every mapping, with a TLB flush per mapping,
 * than as an rmap walk and a flush per page; a sparse one the other way
 * round.  The range walk is chosen when at least one page in this many is
 * to be cleared (and the kernel has the walk: CONFIG_MAPPING_DIRTY_HELPERS,
 * which every distribution kernel with vmwgfx has).  Never in a huge
 * region: that walk does not write-protect PMDs (and warns at a writable
 * one); the rmap walk does, and a huge region has 512 times fewer units.
 */
#define PCA_DIRTY_RANGE_RATIO	64

static bool pca_dirty_by_range(struct pca_region *r, pgoff_t nr, u64 count)
{
	return IS_ENABLED(CONFIG_MAPPING_DIRTY_HELPERS) && !r->unit_order &&
	       count * PCA_DIRTY_RANGE_RATIO >= nr;
}

/*
 * Write-protect [@first, @first + @nr) in every mapping of the region,
 * after the bits of the pages in @bitmap were cleared.  A page pinned
 * through a PTE still writable in between (GUP-fast) goes back into the
 * log: DMA can write it without a fault.  A pin after the walk faults.
 */
static void pca_dirty_wrprotect_range(struct pca_region *r, pgoff_t first,
				      pgoff_t nr, const u64 *bitmap)
{
	pgoff_t w, i;
	u64 word;

#ifdef CONFIG_MAPPING_DIRTY_HELPERS
	wp_shared_mapping_range(r->inode->i_mapping, first, nr);
#endif
	for (w = 0; w < DIV_ROUND_UP(nr, 64); w++) {
		for (word = bitmap[w]; word; word &= word - 1) {
			i = w * 64 + __ffs64(word);
			if (i >= nr)
				break;
			if (pca_dirty_pinned(r, first + i))
				pca_dirty_set(r, first + i);
		}
		cond_resched();
	}
}

/**
 * pca_dirty_forget() - drop the bits of pages that left the region
 * @r: the region; its dirty_lock is held
 * @first: first page
 * @nr: number of pages
 *
 * Each bit is cleared only if its page is absent, under the page cache's
 * lock: a page placed there meanwhile (and its bit) cannot appear between
 * the look and the clear, and a fault on the old page no longer sets bits
 * (page_mkwrite finds it truncated).
 *
 * Return: the pages of the range that are absent.
 */
unsigned long pca_dirty_forget(struct pca_region *r, pgoff_t first,
			       pgoff_t nr)
{
	struct address_space *mapping = r->inode->i_mapping;
	unsigned long absent = 0;
	pgoff_t pgoff;
	void *entry;

	lockdep_assert_held(&r->dirty_lock);
	xa_lock_irq(&mapping->i_pages);
	for (pgoff = first; pgoff < first + nr; pgoff++) {
		entry = xa_load(&mapping->i_pages, pgoff);
		if (entry && !xa_is_value(entry))
			continue;
		absent++;
		/*
		 * A unit's bit is its first page's; a unit goes whole (its
		 * pages are absent together once DISCARD has truncated it).
		 */
		if (r->dirty && pgoff == pca_unit_start(r, pgoff) &&
		    test_and_clear_bit(pgoff, r->dirty))
			atomic_long_sub(pca_unit_pages(r), &r->nr_dirty);
		/* Each page stands alone: let interrupts in now and then. */
		if (pgoff % 1024 == 1023) {
			xa_unlock_irq(&mapping->i_pages);
			cond_resched();
			xa_lock_irq(&mapping->i_pages);
		}
	}
	xa_unlock_irq(&mapping->i_pages);
	return absent;
}

/**
 * pca_dirty_collect() - read, and optionally clear, part of the log
 * @r: the region
 * @first: first page
 * @nr: number of pages
 * @bitmap: DIV_ROUND_UP(@nr, 64) zeroed words to set bits in, or NULL
 * @clear: clear what is reported, write-protecting the pages again
 * @dirty: dirty pages found
 *
 * A fatal signal stops a walk that loses nothing by stopping: one that
 * only reports, or only clears.  One that reports into @bitmap and clears
 * at once runs to the end, since its caller delivers what it cleared;
 * such callers keep @nr small (a dump message).
 *
 * Return: 0, -ENODATA if the region never tracked writes, -EINTR.
 */
int pca_dirty_collect(struct pca_region *r, pgoff_t first, pgoff_t nr,
		      u64 *bitmap, bool clear, u64 *dirty)
{
	bool killable = !(bitmap && clear), by_range = false;
	pgoff_t end = first + nr, pgoff, step = pca_unit_pages(r);
	/* The walk's time is for the trace alone: no clock read without it. */
	u64 start = trace_pca_dirty_collect_enabled() ? ktime_get_ns() : 0;
	unsigned long cleared = 0;
	int ret = 0;

	*dirty = 0;
	mutex_lock(&r->dirty_lock);
	if (!r->dirty) {
		mutex_unlock(&r->dirty_lock);
		return -ENODATA;
	}
	/* The range walk needs the report, to look for pins after it. */
	if (clear && bitmap)
		by_range = pca_dirty_by_range(r, nr,
					      atomic_long_read(&r->nr_dirty));
	/*
	 * Unit by unit: a dirty unit is reported whole, by its first bit
	 * (the rest may still be being set by page_mkwrite).  Ranges are in
	 * whole units.
	 */
	for (pgoff = find_next_bit(r->dirty, end, first); pgoff < end;
	     pgoff = find_next_bit(r->dirty, end, pgoff + step)) {
		pgoff = pca_unit_start(r, pgoff);
		if (bitmap)
			pca_dirty_report(bitmap, pgoff - first, step);
		*dirty += step;
		if (clear)
			cleared += pca_dirty_clear_page(r, pgoff, !by_range);
		if (killable && fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
	/* Before the lock goes: nothing cleared stays writable after it. */
	if (by_range && cleared)
		pca_dirty_wrprotect_range(r, first, nr, bitmap);
	mutex_unlock(&r->dirty_lock);
	trace_pca_dirty_collect(r, first, nr, *dirty,
				(u64)cleared << r->unit_order, start);
	return ret;
}

/**
 * pca_dirty_clear_bits() - clear what a collect reported, once delivered
 * @r: the region
 * @first: first page of the report
 * @nr: pages it covers
 * @bitmap: its bitmap
 *
 * Callers that can fail to deliver a report (copy_to_user, a full socket)
 * collect without clearing, deliver, then clear the pages the report
 * named, and only those: a page written for the first time while the
 * report was in flight keeps its bit for the next round.  A page the
 * report named and written again in between has its bit cleared here, and
 * is not missed: the agent reads the pages a report names after the
 * report, so it reads that write too.  Pages discarded in between are
 * skipped (DISCARD cleared their bits).  Runs to the end whatever the
 * signals: the report is out, so its bits must go.
 */
void pca_dirty_clear_bits(struct pca_region *r, pgoff_t first, pgoff_t nr,
			  const u64 *bitmap)
{
	pgoff_t w, i, words = DIV_ROUND_UP(nr, 64);
	/* As in pca_dirty_collect(): the clock only for the trace. */
	u64 start = trace_pca_dirty_clear_enabled() ? ktime_get_ns() : 0;
	unsigned long cleared = 0;
	u64 word, count = 0;
	bool by_range;

	for (w = 0; w < words; w++)
		count += hweight64(bitmap[w]);
	by_range = pca_dirty_by_range(r, nr, count);
	mutex_lock(&r->dirty_lock);
	for (w = 0; w < words; w++) {
		/* Clean words cost one test: most of a sparse log is clean. */
		for (word = bitmap[w]; word; word &= word - 1) {
			i = w * 64 + __ffs64(word);
			if (i >= nr)
				break;
			/* A unit goes by its first bit; reports are whole. */
			if (first + i != pca_unit_start(r, first + i))
				continue;
			cleared += pca_dirty_clear_page(r, first + i,
							!by_range);
			cond_resched();
		}
	}
	if (by_range && cleared)
		pca_dirty_wrprotect_range(r, first, nr, bitmap);
	mutex_unlock(&r->dirty_lock);
	trace_pca_dirty_clear(r, first, nr, count,
			      (u64)cleared << r->unit_order, start);
}

void pca_dirty_free(struct pca_region *r)
{
	kvfree(r->dirty);
}
