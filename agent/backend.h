/* SPDX-License-Identifier: GPL-2.0 */
/*
 * backend.h: how the destination engine (dest.c) and the lazy restore
 * (snapshot.c) receive faults and place pages: through the module
 * (region fd ioctls or netlink, the module's fault queue and page count)
 * or through userfaultfd (UFFDIO_COPY / UFFDIO_ZEROPAGE / UFFDIO_WAKE,
 * faults read from the userfaultfd, a present bitmap of our own).  Every
 * difference between the two lives in backend.c; the callers only see
 * pages.  Internal to the engine.
 *
 * Conventions: 0 or -errno.  Placing a page that is present already is
 * success, and wakes its waiters unless MIG_PLACE_DONTWAKE (the module
 * wakes them on -EEXIST; for userfaultfd, UFFDIO_WAKE does).
 */
#ifndef PCA_BACKEND_H
#define PCA_BACKEND_H

#include <stdint.h>

#include "lib/pca.h"
#include "migrate.h"

/* Pages one placer call takes at most. */
#define MIG_PLACE_MAX		512
/* Place without waking the waiters: a wake follows (PCA_RESOLVE_DONTWAKE). */
#define MIG_PLACE_DONTWAKE	PCA_RESOLVE_DONTWAKE

/* A fault: the page, and when it was raised (or first seen) in ns. */
struct mig_fault {
	uint64_t page;
	uint64_t time_ns;	/* CLOCK_MONOTONIC */
};

struct mig_be {
	enum mig_backend kind;
	uint32_t psz;
	uint64_t size, pages;
	/* module */
	int fd;			/* region fd, or -1: netlink */
	int ctl_fd;		/* for DISCARD and the present pages: fd, or
				 * one opened by id for netlink placement
				 */
	int ctl_own;		/* ctl_fd is ours to close */
	uint64_t features;	/* PCA_FEATURE_* of the module (PCA_IOC_API) */
	uint32_t rid;
	struct pca_client *fnl;	/* the fault queue, or what attached the ring */
	struct pca_ring *ring;	/* the fault queue, where the module has rings */
	int attached;
	/* userfaultfd */
	int uffd;
	uint64_t base;		/* registered range, in the owner's mm */
	int memfd;		/* behind a shared range, or -1 */
	int local;		/* the range is mapped in this process */
	uint64_t *present;	/* bitmap, atomic */
	uint64_t npresent;	/* atomic */
};

/* One thread's way of placing pages. */
struct mig_placer {
	struct mig_be *be;
	struct pca_client *nl;	/* module without a region fd */
	char msg[200];		/* userfaultfd: the last failure */
	struct pca_copy_entry ents[MIG_PLACE_MAX];
	struct pca_page pgs[MIG_PLACE_MAX];
	uint64_t run_pages[MIG_PLACE_MAX];	/* mig_place_overwrite_many() */
	void *run_data[MIG_PLACE_MAX];
};

/*
 * Check the destination and get it ready: for the module, the region
 * (missing mode, empty unless @resume, sizes agree) and a fault queue
 * attached with PCA_POLICY_WAIT; for userfaultfd, the fd and range.
 * @what names the operation in errors ("migrate", "restore").  Failures
 * are described in @res->error.
 */
int mig_be_open(struct mig_be *be, const struct mig_config *cfg,
		int resume, const char *what, struct mig_result *res);
/* Detach (module); the userfaultfd stays open: it is the caller's. */
void mig_be_close(struct mig_be *be);
/*
 * Up to @max faults within @timeout_ms: their count (0: none), or -errno.
 * Lost module events are asked for again (pca_fault_resend()).
 */
int mig_be_faults(struct mig_be *be, struct mig_fault *f, unsigned int max,
		  int timeout_ms);
/* What went wrong receiving faults. */
const char *mig_be_fault_err(struct mig_be *be, int ret);
/* Pages present: the module's count, or our bitmap's; or -errno. */
int64_t mig_be_present(struct mig_be *be);
/* Who counts the pages present, for error texts. */
const char *mig_be_counter(const struct mig_be *be);
/*
 * The end of a run that returned @ret: res->pages_present as counted, and
 * when @ret is 0 but fewer than @pages are present, -EIO with the error
 * "... after the @after" in @res.  Returns @ret otherwise.
 */
int mig_be_check_present(struct mig_be *be, uint64_t pages,
			 struct mig_result *res, int ret, const char *after);

int mig_placer_init(struct mig_be *be, struct mig_placer *pl);
void mig_placer_fini(struct mig_placer *pl);
/* A thread's own placer: NULL when out of memory or without netlink. */
struct mig_placer *mig_placer_new(struct mig_be *be);
/* Frees what mig_placer_new() made; NULL is fine. */
void mig_placer_free(struct mig_placer *pl);
/* The text of a failed placer call that returned @ret. */
const char *mig_placer_err(struct mig_placer *pl, int ret);

/* One page from @data. */
int mig_place_copy(struct mig_placer *pl, uint64_t page, const void *data,
		   uint32_t flags);
/* @n pages (at most MIG_PLACE_MAX), each from its own buffer. */
int mig_place_many(struct mig_placer *pl, const uint64_t *pages,
		   void *const *data, unsigned int n, uint32_t flags);
/* Zero pages [@page, @page + @n). */
int mig_place_zero(struct mig_placer *pl, uint64_t page, uint64_t n,
		   uint32_t flags);
/*
 * Zero pages met one at a time, placed a run at a time: fewer calls than
 * a page each.
 */
struct mig_zero_run {
	uint64_t first, n;
};

/* Add @page; the run so far is placed first when @page does not extend it. */
int mig_zero_run_add(struct mig_placer *pl, struct mig_zero_run *z,
		     uint64_t page, uint32_t flags);
/* Place the run collected so far. */
int mig_zero_run_flush(struct mig_placer *pl, struct mig_zero_run *z,
		       uint32_t flags);
/* Wake the waiters of [@page, @page + @n). */
int mig_place_wake(struct mig_placer *pl, uint64_t page, uint64_t n);
/*
 * Make [@page, @page + @n) missing again: the next touch faults.  Module:
 * PCA_IOC_DISCARD; userfaultfd: fallocate(PUNCH_HOLE) on the memfd, or
 * MADV_DONTNEED on a local anonymous range.
 */
int mig_place_discard(struct mig_placer *pl, uint64_t page, uint64_t n);
/*
 * Replace @page, present already, with @data (zeros when NULL): for the
 * precopy only, while nobody runs on the region.  A page not present is
 * placed as by mig_place_copy().  Module: PCA_IOC_DISCARD, then COPY (or
 * ZERO): a fault between the two waits for the copy; userfaultfd: a
 * write into the memfd (the page stays present), or MADV_DONTNEED and
 * UFFDIO_COPY on a local anonymous range.
 */
int mig_place_overwrite(struct mig_placer *pl, uint64_t page,
			const void *data, uint32_t flags);
/* @n pages (at most MIG_PLACE_MAX), each from its own buffer (NULL: zeros). */
int mig_place_overwrite_many(struct mig_placer *pl, const uint64_t *pages,
			     void *const *data, unsigned int n,
			     uint32_t flags);
/*
 * Make every page whose bit is set in @bitmap (one bit per page of the
 * region) missing again, in as few calls as the backend allows;
 * *@discarded: how many of them were present, where the backend knows,
 * else how many bits were set.  @seal: the switchover's, after which no
 * copy replaces another (the module refuses a late overwrite); the
 * discard before the pause leaves the precopy open.
 */
int mig_place_discard_bitmap(struct mig_placer *pl, const uint64_t *bitmap,
			     int seal, uint64_t *discarded);
/*
 * Which pages the destination holds (one bit per page of the region, set:
 * present), learnt from the kernel, not from this process's memory: the
 * way a restarted agent finds what its predecessor placed.  Without a
 * fault: mincore() over a mapping of the region or memfd (page cache
 * residency), or of a local anonymous range.  Sets the userfaultfd
 * backend's own present bitmap to match.  The count of pages present,
 * or -errno (-EOPNOTSUPP: the backend cannot tell).
 */
int64_t mig_be_present_bitmap(struct mig_be *be, uint64_t *bitmap);

#endif /* PCA_BACKEND_H */
