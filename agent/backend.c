// SPDX-License-Identifier: GPL-2.0
/*
 * backend.c: the destination's two ways of receiving faults and placing
 * pages (backend.h): the postcopy_assist module, and userfaultfd.
 *
 * userfaultfd notes.  UFFDIO_COPY and UFFDIO_ZEROPAGE place a contiguous
 * range from contiguous data; they stop at the first page present and
 * report what they placed (-EAGAIN with a partial count), or fail with
 * -EEXIST when the first page is present, without waking anybody: the
 * page is then woken here, as the module does.  Faults carry no kernel
 * timestamp; they are stamped when read.  The userfaultfd may have been
 * registered by another process (a VMM that passed it down): every
 * address is in that process's mm, and nothing here touches the memory
 * itself, except for discarding a local anonymous range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/userfaultfd.h>

#include "backend.h"
#include "mig.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY	1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW	_IO(0xAA, 0x00)
#endif

/* -------------------------------------------------------------------------
 * Registering a range (for the VMM side: tools/workload, or a real VMM)
 */

static int uffd_create(void)
{
	int fd, dev;

	fd = syscall(SYS_userfaultfd,
		     O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd < 0 && errno == EINVAL)	/* before 5.11 */
		fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 || errno != EPERM)
		return fd < 0 ? -errno : fd;
	/* vm.unprivileged_userfaultfd = 0: /dev/userfaultfd (6.1+) */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -EPERM;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

int mig_uffd_register(void *addr, uint64_t len, int *uffd, char *err,
		      size_t err_len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	uint64_t need = (1ULL << _UFFDIO_COPY) | (1ULL << _UFFDIO_ZEROPAGE) |
			(1ULL << _UFFDIO_WAKE);
	int fd, ret;

	*uffd = -1;
	fd = uffd_create();
	if (fd < 0) {
		snprintf(err, err_len,
			 "cannot create a userfaultfd: %s%s", mig_errstr(fd),
			 fd == -EPERM ?
			 " (set vm.unprivileged_userfaultfd=1, or run with CAP_SYS_PTRACE or access to /dev/userfaultfd)" :
			 fd == -ENOSYS ?
			 " (the kernel is built without CONFIG_USERFAULTFD)" :
			 "");
		return fd;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {
		ret = -errno;
		snprintf(err, err_len, "UFFDIO_API: %s", mig_errstr(ret));
		goto fail;
	}
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		snprintf(err, err_len,
			 "registering %llu bytes at %p with userfaultfd: %s%s",
			 (unsigned long long)len, addr, mig_errstr(ret),
			 ret == -EINVAL ?
			 " (the range must be page aligned and mapped, anonymous private or shmem/memfd shared memory)" :
			 "");
		goto fail;
	}
	if ((reg.ioctls & need) != need) {
		ret = -EOPNOTSUPP;
		snprintf(err, err_len,
			 "this kernel cannot place pages into the registered range (ioctls %#llx, UFFDIO_COPY, UFFDIO_ZEROPAGE and UFFDIO_WAKE needed): use anonymous or memfd memory",
			 (unsigned long long)reg.ioctls);
		goto fail;
	}
	*uffd = fd;
	return 0;
fail:
	close(fd);
	return ret;
}

/* -------------------------------------------------------------------------
 * Setup
 */

static int open_module(struct mig_be *be, const struct mig_config *cfg,
		       int resume, const char *what, struct mig_result *res)
{
	struct pca_region_info info;
	int ret;

	be->fd = cfg->region_fd;
	be->rid = cfg->region_id;
	if (!be->rid) {
		mig_set_error(res, 0,
			      "the destination needs the region id (--region-id): faults are received for it");
		return -EINVAL;
	}
	ret = pca_client_open(&be->fnl);
	if (ret) {
		mig_set_error(res, 0, "netlink: %s%s", pca_strerror(NULL),
			      " (without the module, use the userfaultfd backend)");
		return ret;
	}
	ret = pca_region_get(be->fnl, be->rid, &info);
	if (ret) {
		mig_set_error(res, 0, "region %u: %s", be->rid,
			      pca_strerror(be->fnl));
		return ret;
	}
	if (!(info.flags & PCA_REGION_MISSING)) {
		mig_set_error(res, 0,
			      "region %u is not in missing mode: create the destination region with PCA_REGION_MISSING",
			      be->rid);
		return -EINVAL;
	}
	if (info.flags & PCA_REGION_HUGE) {
		mig_set_error(res, 0,
			      "region %u has 2 MiB units (PCA_REGION_HUGE), which the destination does not place yet: use a region of pages",
			      be->rid);
		return -EOPNOTSUPP;
	}
	if (info.pages_present && !resume) {
		mig_set_error(res, 0,
			      "region %u already holds %llu pages: %s into a fresh region",
			      be->rid, (unsigned long long)info.pages_present,
			      what);
		return -EEXIST;
	}
	be->size = cfg->region_size ? cfg->region_size : info.size;
	if (be->size != info.size) {
		mig_set_error(res, 0, "region %u is %llu bytes, not %llu",
			      be->rid, (unsigned long long)info.size,
			      (unsigned long long)be->size);
		return -EINVAL;
	}
	if (be->fd >= 0) {
		int64_t fsz = pca_fd_region_size(be->fd);

		if (fsz > 0 && (uint64_t)fsz != be->size) {
			mig_set_error(res, 0,
				      "region fd %d is %lld bytes but region %u is %llu: fd and id name different regions",
				      be->fd, (long long)fsz, be->rid,
				      (unsigned long long)be->size);
			return -EINVAL;
		}
	}
	be->pages = be->size / be->psz;
	/*
	 * Placing through netlink: replacing and discarding pages still
	 * takes the region's ioctls, on an fd of our own.
	 */
	be->ctl_fd = be->fd >= 0 ? be->fd : pca_region_open(be->rid, NULL);
	be->ctl_own = be->fd < 0 && be->ctl_fd >= 0;
	if (be->ctl_fd >= 0) {
		struct pca_api api;

		/* which placement primitives this module has */
		if (!pca_dev_api(be->ctl_fd, PCA_API_VERSION, 0, &api))
			be->features = api.features;
	}
	/* faults wait for us, whatever happens to the connection */
	ret = pca_attach_fastest(be->fnl, be->rid, PCA_POLICY_WAIT, &be->ring);
	if (ret) {
		mig_set_error(res, 0, "attaching to region %u: %s", be->rid,
			      pca_strerror(be->fnl));
		return ret;
	}
	be->attached = 1;
	return 0;
}

static int open_uffd(struct mig_be *be, const struct mig_config *cfg,
		     struct mig_result *res)
{
	int fl;

	be->uffd = cfg->uffd;
	be->base = cfg->uffd_base;
	be->memfd = cfg->uffd_memfd;
	be->local = cfg->uffd_local;
	be->size = cfg->region_size;
	if (be->uffd < 0 || !be->base) {
		mig_set_error(res, 0,
			      "the userfaultfd backend needs the userfaultfd and the address of the registered range (--uffd-fd, --uffd-addr)");
		return -EINVAL;
	}
	if (!be->size || be->size % be->psz || be->base % be->psz) {
		mig_set_error(res, 0,
			      "the userfaultfd backend needs the page-aligned size of the registered range (--size), got %llu bytes at %#llx",
			      (unsigned long long)be->size,
			      (unsigned long long)be->base);
		return -EINVAL;
	}
	fl = fcntl(be->uffd, F_GETFL);
	if (fl < 0) {
		mig_set_error(res, 0, "userfaultfd %d: %s: pass the fd down",
			      be->uffd, mig_errstr(-errno));
		return -EBADF;
	}
	/* faults are polled for; a read must never block */
	if (!(fl & O_NONBLOCK) && fcntl(be->uffd, F_SETFL, fl | O_NONBLOCK)) {
		mig_set_error(res, 0, "userfaultfd %d: O_NONBLOCK: %s",
			      be->uffd, mig_errstr(-errno));
		return -errno;
	}
	be->pages = be->size / be->psz;
	be->present = calloc((be->pages + 63) / 64, sizeof(uint64_t));
	if (!be->present) {
		mig_set_error(res, 0, "out of memory for %llu pages",
			      (unsigned long long)be->pages);
		return -ENOMEM;
	}
	return 0;
}

int mig_be_open(struct mig_be *be, const struct mig_config *cfg,
		int resume, const char *what, struct mig_result *res)
{
	memset(be, 0, sizeof(*be));
	be->kind = cfg->backend;
	be->psz = sysconf(_SC_PAGESIZE);
	be->fd = -1;
	be->ctl_fd = -1;
	be->uffd = -1;
	be->memfd = -1;
	switch (be->kind) {
	case MIG_BACKEND_MODULE:
		return open_module(be, cfg, resume, what, res);
	case MIG_BACKEND_UFFD:
		return open_uffd(be, cfg, res);
	}
	mig_set_error(res, 0, "unknown destination backend %d", be->kind);
	return -EINVAL;
}

void mig_be_close(struct mig_be *be)
{
	if (be->ctl_own)
		close(be->ctl_fd);
	be->ctl_own = 0;
	be->ctl_fd = -1;
	if (be->attached && !be->ring)
		pca_detach(be->fnl, be->rid);
	be->attached = 0;
	pca_ring_close(be->ring);
	be->ring = NULL;
	pca_client_close(be->fnl);
	be->fnl = NULL;
	free(be->present);
	be->present = NULL;
}

const char *mig_be_counter(const struct mig_be *be)
{
	return be->kind == MIG_BACKEND_UFFD ?
	       "the userfaultfd backend's present bitmap" : "the module";
}

int64_t mig_be_present(struct mig_be *be)
{
	struct pca_region_info info;
	int ret;

	if (be->kind == MIG_BACKEND_UFFD)
		return __atomic_load_n(&be->npresent, __ATOMIC_ACQUIRE);
	if (!be->fnl || !be->rid)
		return -ENOTCONN;
	ret = pca_region_get(be->fnl, be->rid, &info);
	return ret ? ret : (int64_t)info.pages_present;
}

/* -------------------------------------------------------------------------
 * Faults
 */

static int uffd_faults(struct mig_be *be, struct mig_fault *f,
		       unsigned int max, int timeout_ms)
{
	struct pollfd pfd = { .fd = be->uffd, .events = POLLIN };
	struct uffd_msg msgs[64];
	unsigned int i, n = 0;
	ssize_t got;
	uint64_t now;
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	if (ret < 0)
		return errno == EINTR ? 0 : -errno;
	if (!ret)
		return 0;
	if (pfd.revents & (POLLERR | POLLNVAL))
		return -EBADFD;
	if (max > 64)
		max = 64;
	got = read(be->uffd, msgs, max * sizeof(msgs[0]));
	if (got < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	now = mig_now_ns();
	for (i = 0; i < got / sizeof(msgs[0]); i++) {
		uint64_t a = msgs[i].arg.pagefault.address;

		if (msgs[i].event != UFFD_EVENT_PAGEFAULT ||
		    a < be->base || a >= be->base + be->size)
			continue;
		f[n].page = (a - be->base) / be->psz;
		f[n].time_ns = now;
		n++;
	}
	return n;
}

int mig_be_faults(struct mig_be *be, struct mig_fault *f, unsigned int max,
		  int timeout_ms)
{
	struct pca_fault_record recs[64];
	int n, i, k = 0;

	if (be->kind == MIG_BACKEND_UFFD)
		return uffd_faults(be, f, max, timeout_ms);
	if (be->ring) {
		n = pca_ring_recv(be->ring, recs, MIG_MIN(max, 64U),
				  timeout_ms);
	} else {
		n = pca_recv_faults(be->fnl, recs, MIG_MIN(max, 64U),
				    timeout_ms);
	}
	if (n == -ENOBUFS) {
		/* events were lost: the kernel sends them all again */
		pca_fault_resend(be->fnl, be->rid);
		return 0;
	}
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		uint64_t page = recs[i].offset / be->psz;

		if (recs[i].region_id != be->rid || page >= be->pages)
			continue;
		f[k].page = page;
		f[k].time_ns = recs[i].time_ns ? recs[i].time_ns : 1;
		k++;
	}
	return k;
}

const char *mig_be_fault_err(struct mig_be *be, int ret)
{
	if (be->kind == MIG_BACKEND_MODULE && be->ring)
		return ret == -EPIPE ? "the fault ring was detached (the region closed)" :
		       ret == -EPROTO ? "the kernel finds the fault ring's tail corrupt" :
		       mig_errstr(ret);
	if (be->kind == MIG_BACKEND_MODULE)
		return pca_strerror(be->fnl);
	if (ret == -EBADFD)
		return "the userfaultfd reports an error (was UFFDIO_API done, is the fd still open?)";
	return mig_errstr(ret);
}

/* -------------------------------------------------------------------------
 * Placing
 */

int mig_placer_init(struct mig_be *be, struct mig_placer *pl)
{
	memset(pl, 0, sizeof(*pl));
	pl->be = be;
	if (be->kind != MIG_BACKEND_MODULE || be->fd >= 0)
		return 0;
	return pca_client_open(&pl->nl);
}

void mig_placer_fini(struct mig_placer *pl)
{
	pca_client_close(pl->nl);
	pl->nl = NULL;
}

int mig_be_check_present(struct mig_be *be, uint64_t pages,
			 struct mig_result *res, int ret, const char *after)
{
	int64_t present = mig_be_present(be);

	if (present >= 0)
		res->pages_present = present;
	if (ret || res->pages_present == pages)
		return ret;
	mig_set_error(res, 1,
		      "%s reports %llu of %llu pages present after the %s",
		      mig_be_counter(be),
		      (unsigned long long)res->pages_present,
		      (unsigned long long)pages, after);
	return -EIO;
}

int mig_zero_run_add(struct mig_placer *pl, struct mig_zero_run *z,
		     uint64_t page, uint32_t flags)
{
	int ret;

	if (z->n && z->first + z->n != page) {
		ret = mig_zero_run_flush(pl, z, flags);
		if (ret)
			return ret;
	}
	if (!z->n)
		z->first = page;
	z->n++;
	return 0;
}

int mig_zero_run_flush(struct mig_placer *pl, struct mig_zero_run *z,
		       uint32_t flags)
{
	int ret;

	if (!z->n)
		return 0;
	ret = mig_place_zero(pl, z->first, z->n, flags);
	if (!ret)
		z->n = 0;
	return ret;
}

struct mig_placer *mig_placer_new(struct mig_be *be)
{
	struct mig_placer *pl = malloc(sizeof(*pl));

	if (pl && mig_placer_init(be, pl)) {
		free(pl);
		pl = NULL;
	}
	return pl;
}

void mig_placer_free(struct mig_placer *pl)
{
	if (!pl)
		return;
	mig_placer_fini(pl);
	free(pl);
}

const char *mig_placer_err(struct mig_placer *pl, int ret)
{
	if (pl->msg[0])
		return pl->msg;
	if (pl->nl)
		return pca_strerror(pl->nl);
	return mig_errstr(ret);
}

static void mark_present(struct mig_be *be, uint64_t page, uint64_t n)
{
	uint64_t p;

	for (p = page; p < page + n; p++)
		if (!mig_test_and_set_bit(be->present, p))
			__atomic_fetch_add(&be->npresent, 1, __ATOMIC_ACQ_REL);
}

static int uffd_wake(struct mig_placer *pl, uint64_t page, uint64_t n)
{
	struct mig_be *be = pl->be;
	struct uffdio_range r = {
		.start = be->base + page * be->psz,
		.len = n * be->psz,
	};
	int ret;

	if (!ioctl(be->uffd, UFFDIO_WAKE, &r))
		return 0;
	ret = -errno;
	snprintf(pl->msg, sizeof(pl->msg), "UFFDIO_WAKE at page %llu: %s",
		 (unsigned long long)page, mig_errstr(ret));
	return ret;
}

/*
 * [@page, @page + @n) from @src (contiguous), or zeros when @src is NULL.
 * Present pages are skipped and counted, and woken unless DONTWAKE.
 */
static int uffd_fill(struct mig_placer *pl, uint64_t page, uint64_t n,
		     const uint8_t *src, uint32_t flags)
{
	struct mig_be *be = pl->be;
	uint64_t done = 0, len = n * be->psz;
	int dontwake = flags & MIG_PLACE_DONTWAKE, retries = 0, ret;

	while (done < len) {
		uint64_t dst = be->base + page * be->psz + done;
		int64_t got;

		if (src) {
			struct uffdio_copy c = {
				.dst = dst,
				.src = (uintptr_t)(src + done),
				.len = len - done,
				.mode = dontwake ? UFFDIO_COPY_MODE_DONTWAKE : 0,
			};

			ret = ioctl(be->uffd, UFFDIO_COPY, &c) ? -errno : 0;
			got = c.copy;
		} else {
			struct uffdio_zeropage z = {
				.range = { .start = dst, .len = len - done },
				.mode = dontwake ?
					UFFDIO_ZEROPAGE_MODE_DONTWAKE : 0,
			};

			ret = ioctl(be->uffd, UFFDIO_ZEROPAGE, &z) ? -errno : 0;
			got = z.zeropage;
		}
		if (!ret) {
			mark_present(be, page + done / be->psz,
				     (len - done) / be->psz);
			return 0;
		}
		if (got > 0) {
			/* stopped at a present page */
			mark_present(be, page + done / be->psz,
				     got / be->psz);
			done += got;
			continue;
		}
		if (ret == -EEXIST) {
			uint64_t p = page + done / be->psz;

			mark_present(be, p, 1);
			if (!dontwake) {
				ret = uffd_wake(pl, p, 1);
				if (ret)
					return ret;
			}
			done += be->psz;
			continue;
		}
		/* the mm is changing under us (fork, mremap): again */
		if (ret == -EAGAIN && ++retries < 1000) {
			sched_yield();
			continue;
		}
		snprintf(pl->msg, sizeof(pl->msg),
			 "%s at page %llu: %s%s",
			 src ? "UFFDIO_COPY" : "UFFDIO_ZEROPAGE",
			 (unsigned long long)(page + done / be->psz),
			 mig_errstr(ret),
			 ret == -ENOENT || ret == -EINVAL ?
			 " (is the range still mapped and registered with this userfaultfd?)" :
			 ret == -ESRCH ?
			 " (the process owning the memory has exited)" : "");
		return ret;
	}
	return 0;
}

int mig_place_copy(struct mig_placer *pl, uint64_t page, const void *data,
		   uint32_t flags)
{
	struct mig_be *be = pl->be;
	uint64_t off = page * be->psz;
	int ret;

	pl->msg[0] = '\0';

	if (be->kind == MIG_BACKEND_UFFD)
		return uffd_fill(pl, page, 1, data, flags);
	ret = pl->nl ? pca_copy(pl->nl, be->rid, off, data, flags, NULL) :
		       pca_fd_copy(be->fd, off, data, be->psz, flags, NULL);
	return ret == -EEXIST ? 0 : ret;
}

int mig_place_many(struct mig_placer *pl, const uint64_t *pages,
		   void *const *data, unsigned int n, uint32_t flags)
{
	struct mig_be *be = pl->be;
	unsigned int i, k;
	int ret;

	pl->msg[0] = '\0';

	if (!n)
		return 0;
	if (be->kind == MIG_BACKEND_UFFD) {
		/* runs contiguous in both the range and the data: one call */
		for (i = 0; i < n; i = k) {
			for (k = i + 1; k < n && pages[k] == pages[k - 1] + 1 &&
			     (uint8_t *)data[k] ==
			     (uint8_t *)data[k - 1] + be->psz; k++)
				;
			ret = uffd_fill(pl, pages[i], k - i, data[i], flags);
			if (ret)
				return ret;
		}
		return 0;
	}
	if (!pl->nl) {
		for (i = 0; i < n; i++) {
			pl->ents[i].offset = pages[i] * be->psz;
			pl->ents[i].src = (uintptr_t)data[i];
		}
		ret = pca_fd_copy_batch(be->fd, pl->ents, n, flags, NULL, NULL);
	} else {
		for (i = 0; i < n; i++) {
			pl->pgs[i].offset = pages[i] * be->psz;
			pl->pgs[i].data = data[i];
		}
		ret = pca_copy_pages(pl->nl, be->rid, pl->pgs, n, flags, NULL);
	}
	return ret == -EEXIST ? 0 : ret;
}

int mig_place_zero(struct mig_placer *pl, uint64_t page, uint64_t n,
		   uint32_t flags)
{
	struct mig_be *be = pl->be;
	int ret;

	pl->msg[0] = '\0';

	if (be->kind == MIG_BACKEND_UFFD)
		return uffd_fill(pl, page, n, NULL, flags);
	ret = pl->nl ? pca_zero(pl->nl, be->rid, page * be->psz, n * be->psz,
				flags, NULL) :
		       pca_fd_zero(be->fd, page * be->psz, n * be->psz, flags,
				   NULL);
	return ret == -EEXIST ? 0 : ret;
}

int mig_place_wake(struct mig_placer *pl, uint64_t page, uint64_t n)
{
	struct mig_be *be = pl->be;

	pl->msg[0] = '\0';

	if (be->kind == MIG_BACKEND_UFFD)
		return uffd_wake(pl, page, n);
	if (!pl->nl)
		return pca_fd_wake(be->fd, page * be->psz, n * be->psz);
	return pca_wake(pl->nl, be->rid, page * be->psz, n * be->psz);
}

int mig_place_discard(struct mig_placer *pl, uint64_t page, uint64_t n)
{
	struct mig_be *be = pl->be;
	uint64_t off = page * be->psz, len = n * be->psz, p;
	int ret;

	pl->msg[0] = '\0';

	if (be->kind == MIG_BACKEND_MODULE) {
		struct pca_range r = { .offset = off, .len = len };

		if (be->ctl_fd < 0) {
			snprintf(pl->msg, sizeof(pl->msg),
				 "discarding pages needs the region fd (--region-fd), or a module that opens regions by id");
			return -EOPNOTSUPP;
		}
		if (!ioctl(be->ctl_fd, PCA_IOC_DISCARD, &r))
			return 0;
		ret = -errno;
		snprintf(pl->msg, sizeof(pl->msg),
			 "PCA_IOC_DISCARD of pages %llu-%llu: %s",
			 (unsigned long long)page,
			 (unsigned long long)(page + n - 1), mig_errstr(ret));
		return ret;
	}
	if (be->memfd >= 0)
		ret = fallocate(be->memfd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				off, len) ? -errno : 0;
	else if (be->local)
		ret = madvise((void *)(uintptr_t)(be->base + off), len,
			      MADV_DONTNEED) ? -errno : 0;
	else
		ret = -EOPNOTSUPP;
	if (ret) {
		snprintf(pl->msg, sizeof(pl->msg),
			 "discarding pages %llu-%llu: %s%s",
			 (unsigned long long)page,
			 (unsigned long long)(page + n - 1), mig_errstr(ret),
			 ret == -EOPNOTSUPP ?
			 " (an anonymous range of another process cannot be discarded: use a memfd and pass it too)" :
			 "");
		return ret;
	}
	for (p = page; p < page + n; p++) {
		uint64_t m = 1ULL << (p % 64);

		if (__atomic_fetch_and(&be->present[p / 64], ~m,
				       __ATOMIC_ACQ_REL) & m)
			__atomic_fetch_sub(&be->npresent, 1, __ATOMIC_ACQ_REL);
	}
	return 0;
}

/* -------------------------------------------------------------------------
 * Replacing and discarding placed pages, and finding the present ones
 */

static int be_test_present(const struct mig_be *be, uint64_t page)
{
	return be->kind != MIG_BACKEND_UFFD || mig_test_bit(be->present, page);
}

static const uint8_t *zero_page(uint32_t psz)
{
	static uint8_t *zeros;
	uint8_t *z = __atomic_load_n(&zeros, __ATOMIC_ACQUIRE), *none = NULL;

	if (z)
		return z;
	z = calloc(1, psz);
	if (!z)
		return NULL;
	if (!__atomic_compare_exchange_n(&zeros, &none, z, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		free(z);
		z = none;
	}
	return z;
}

static int uffd_overwrite(struct mig_placer *pl, uint64_t page,
			  const void *data, uint32_t flags)
{
	struct mig_be *be = pl->be;
	uint64_t off = page * be->psz;
	ssize_t done;
	int ret;

	if (!be_test_present(be, page))
		return uffd_fill(pl, page, 1, data, flags);
	if (be->memfd >= 0) {
		/* the page stays present: nobody faults meanwhile */
		if (!data)
			data = zero_page(be->psz);
		if (!data)
			return -ENOMEM;
		done = pwrite(be->memfd, data, be->psz, off);
		if (done == (ssize_t)be->psz)
			return 0;
		ret = done < 0 ? -errno : -EIO;
		snprintf(pl->msg, sizeof(pl->msg),
			 "writing page %llu into the memfd: %s",
			 (unsigned long long)page, mig_errstr(ret));
		return ret;
	}
	ret = mig_place_discard(pl, page, 1);
	return ret ? ret : uffd_fill(pl, page, 1, data, flags);
}

int mig_place_overwrite(struct mig_placer *pl, uint64_t page,
			const void *data, uint32_t flags)
{
	struct mig_be *be = pl->be;
	int ret;

	pl->msg[0] = '\0';
	if (be->kind == MIG_BACKEND_UFFD)
		return uffd_overwrite(pl, page, data, flags);
	/*
	 * PCA_FEATURE_OVERWRITE: one COPY with PCA_RESOLVE_OVERWRITE
	 * replaces the page atomically (ZERO takes no overwrite: a zero
	 * page is copied).  Without it: DISCARD and COPY, with a window in
	 * which the page is missing: a fault in it waits for the COPY that
	 * follows.
	 */
	if (be->features & PCA_FEATURE_OVERWRITE) {
		if (!data)
			data = zero_page(be->psz);
		if (!data)
			return -ENOMEM;
		return mig_place_copy(pl, page, data,
				      flags | PCA_RESOLVE_OVERWRITE);
	}
	ret = mig_place_discard(pl, page, 1);
	if (ret)
		return ret;
	return data ? mig_place_copy(pl, page, data, flags) :
		      mig_place_zero(pl, page, 1, flags);
}

int mig_place_overwrite_many(struct mig_placer *pl, const uint64_t *pages,
			     void *const *data, unsigned int n,
			     uint32_t flags)
{
	unsigned int i, k;
	int ret;

	if (pl->be->kind == MIG_BACKEND_UFFD) {
		for (i = 0; i < n; i++) {
			ret = mig_place_overwrite(pl, pages[i], data[i], flags);
			if (ret)
				return ret;
		}
		return 0;
	}
	/*
	 * PCA_FEATURE_OVERWRITE: one COPY_BATCH with PCA_RESOLVE_OVERWRITE,
	 * zero pages copied from a zero buffer.  Without it: a DISCARD per
	 * run of adjacent pages, then one COPY_BATCH (pages with data) and a
	 * ZERO each.
	 */
	if (pl->be->features & PCA_FEATURE_OVERWRITE) {
		const uint8_t *z = zero_page(pl->be->psz);

		if (!z)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			pl->run_pages[i] = pages[i];
			pl->run_data[i] = data[i] ? data[i] : (void *)z;
		}
		return mig_place_many(pl, pl->run_pages, pl->run_data, n,
				      flags | PCA_RESOLVE_OVERWRITE);
	}
	for (i = 0; i < n; i = k) {
		for (k = i + 1; k < n && pages[k] == pages[k - 1] + 1; k++)
			;
		ret = mig_place_discard(pl, pages[i], k - i);
		if (ret)
			return ret;
	}
	for (i = 0; i < n; i++) {
		if (data[i])
			continue;
		ret = mig_place_zero(pl, pages[i], 1, flags);
		if (ret)
			return ret;
	}
	for (i = k = 0; i < n; i++) {
		if (!data[i])
			continue;
		pl->run_pages[k] = pages[i];
		pl->run_data[k++] = data[i];
	}
	return mig_place_many(pl, pl->run_pages, pl->run_data, k, flags);
}

int mig_place_discard_bitmap(struct mig_placer *pl, const uint64_t *bitmap,
			     int seal, uint64_t *discarded)
{
	struct mig_be *be = pl->be;
	uint64_t p = 0, first, n = 0, before = 0;
	int ret;

	/*
	 * PCA_FEATURE_PAGE_BITMAPS: one call, in time proportional to the
	 * bits set, which with @seal also seals the precopy (a late
	 * overwrite fails with -EPERM instead of bringing back a stale
	 * page).  Without it: a PCA_IOC_DISCARD per run of set bits.
	 */
	*discarded = 0;
	if (be->kind != MIG_BACKEND_UFFD &&
	    (be->features & PCA_FEATURE_PAGE_BITMAPS) && be->ctl_fd >= 0) {
		ret = pca_fd_discard_bitmap(be->ctl_fd, 0, be->size, bitmap,
					    (be->pages + 63) / 64 * 8,
					    seal ? PCA_DISCARD_SEAL : 0,
					    discarded);
		if (ret)
			snprintf(pl->msg, sizeof(pl->msg),
				 "discarding the stale pages: %s",
				 mig_errstr(ret));
		return ret;
	}
	if (be->kind == MIG_BACKEND_UFFD)
		before = __atomic_load_n(&be->npresent, __ATOMIC_ACQUIRE);
	while (p < be->pages) {
		if (!(p % 64) && !bitmap[p / 64]) {
			p += 64;
			continue;
		}
		if (!mig_test_bit(bitmap, p)) {
			p++;
			continue;
		}
		first = p;
		while (p < be->pages && mig_test_bit(bitmap, p))
			p++;
		ret = mig_place_discard(pl, first, p - first);
		if (ret)
			return ret;
		n += p - first;
	}
	if (be->kind == MIG_BACKEND_UFFD)
		n = before - __atomic_load_n(&be->npresent, __ATOMIC_ACQUIRE);
	*discarded = n;
	return 0;
}

/* The pages of the region's mapping @map that are resident, into @bitmap. */
static int64_t resident(struct mig_be *be, void *map, uint64_t *bitmap)
{
	const uint64_t step = 65536;
	unsigned char *vec = malloc(step);
	uint64_t first, i, n = 0;

	if (!vec)
		return -ENOMEM;
	for (first = 0; first < be->pages; first += step) {
		uint64_t k = MIG_MIN(step, be->pages - first);

		if (mincore((uint8_t *)map + first * be->psz, k * be->psz,
			    vec)) {
			int ret = -errno;

			free(vec);
			return ret;
		}
		for (i = 0; i < k; i++) {
			if (vec[i] & 1) {
				mig_set_bit(bitmap, first + i);
				n++;
			}
		}
	}
	free(vec);
	return n;
}

int64_t mig_be_present_bitmap(struct mig_be *be, uint64_t *bitmap)
{
	uint64_t words = (be->pages + 63) / 64;
	int64_t n;
	void *map;
	int fd;

	memset(bitmap, 0, words * sizeof(uint64_t));
	if (be->kind == MIG_BACKEND_UFFD && be->memfd < 0) {
		if (!be->local)
			return -EOPNOTSUPP;
		n = resident(be, (void *)(uintptr_t)be->base, bitmap);
		goto out;
	}
	/*
	 * The module tells directly (PCA_FEATURE_PAGE_BITMAPS), in time
	 * proportional to the pages present.  Otherwise the region's page
	 * cache, as for a memfd: mincore() over a mapping that is never
	 * touched, so nothing faults.
	 */
	if (be->kind != MIG_BACKEND_UFFD &&
	    (be->features & PCA_FEATURE_PAGE_BITMAPS) && be->ctl_fd >= 0) {
		uint64_t present = 0;
		int ret = pca_fd_present_log(be->ctl_fd, 0, be->size, bitmap,
					     words * 8, &present);

		return ret ? ret : (int64_t)present;
	}
	fd = be->kind == MIG_BACKEND_UFFD ? be->memfd : be->ctl_fd;
	if (fd < 0)
		return -EOPNOTSUPP;
	map = mmap(NULL, be->size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	n = resident(be, map, bitmap);
	munmap(map, be->size);
out:
	if (n < 0 || be->kind != MIG_BACKEND_UFFD)
		return n;
	memcpy(be->present, bitmap, words * sizeof(uint64_t));
	__atomic_store_n(&be->npresent, (uint64_t)n, __ATOMIC_RELEASE);
	return n;
}
