// SPDX-License-Identifier: GPL-2.0
/*
 * snapshot.c: write a region to a snapshot file, and restore a region
 * lazily from one (the Firecracker use case: no live source).
 *
 * The file (wire.h) is sparse: a header page, then every page at
 * (page + 1) * page_size, zero pages as holes.  Restoring resumes the VMM
 * at once; a fault thread serves faults from the file, and a background
 * thread places the rest, from the page after the last fault on, placing
 * holes as zero ranges without reading them (SEEK_DATA).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "lib/pca.h"
#include "mig.h"

/* Pages per background step and per write. */
#define SNAP_CHUNK	64

/* -------------------------------------------------------------------------
 * Writing
 */

static int write_all_at(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int mig_snapshot_write(const struct mig_config *cfg, const char *path,
		       int keep_paused, struct mig_result *res)
{
	const struct mig_hooks *hk = &cfg->hooks;
	uint32_t psz = sysconf(_SC_PAGESIZE);
	uint64_t t0 = mig_now_ns(), size, pages, p, data = 0, t_pause = 0;
	struct mig_snap_header h;
	char tmp[4096];
	const uint8_t *mem = NULL;
	uint8_t *hdr = NULL;
	int fd = -1, ret, paused = 0;
	int64_t sz;

	memset(res, 0, sizeof(*res));
	res->role = MIG_SOURCE;
	if (cfg->region_fd < 0) {
		mig_set_error(res, 0, "a snapshot needs the region fd (--region-fd)");
		return -EINVAL;
	}
	sz = cfg->region_size ? (int64_t)cfg->region_size :
				pca_fd_region_size(cfg->region_fd);
	if (sz <= 0 || sz % psz) {
		mig_set_error(res, 0,
			      "cannot tell the region's size from fd %d: give it with --size",
			      cfg->region_fd);
		return sz < 0 ? (int)sz : -EINVAL;
	}
	size = sz;
	pages = size / psz;
	res->pages = pages;
	res->page_size = psz;
	mig_random_id(res->id);

	mem = mmap(NULL, size, PROT_READ, MAP_SHARED, cfg->region_fd, 0);
	if (mem == MAP_FAILED) {
		ret = -errno;
		mem = NULL;
		mig_set_error(res, 0, "cannot map the region: %s",
			      mig_errstr(ret));
		return ret;
	}
	hdr = calloc(1, psz);
	if (!hdr) {
		ret = -ENOMEM;
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		mig_set_error(res, 0, "cannot create %s: %s", tmp,
			      mig_errstr(ret));
		goto out;
	}

	if (hk->pause) {
		ret = hk->pause(hk->arg);
		if (ret) {
			mig_set_error(res, 0, "the VMM could not pause: %s",
				      mig_errstr(ret));
			goto out;
		}
	}
	paused = 1;
	t_pause = mig_now_ns();
	for (p = 0; p < pages && !mig_cancelled(cfg); ) {
		uint64_t n = 0;

		/* a run of non-zero pages in one write */
		while (p + n < pages && n < SNAP_CHUNK &&
		       !mig_page_is_zero(mem + (p + n) * psz, psz))
			n++;
		if (!n) {
			p++;
			continue;
		}
		ret = write_all_at(fd, mem + p * psz, n * psz, (p + 1) * psz);
		if (ret) {
			mig_set_error(res, 0, "writing %s: %s", tmp,
				      mig_errstr(ret));
			goto out;
		}
		data += n;
		p += n;
	}
	if (mig_cancelled(cfg)) {
		ret = -ECANCELED;
		mig_set_error(res, 0, "cancelled");
		goto out;
	}
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, MIG_SNAP_MAGIC, sizeof(h.magic));
	h.version = mig_cpu_to_le32(MIG_SNAP_VERSION);
	h.page_size = mig_cpu_to_le32(psz);
	h.region_size = mig_cpu_to_le64(size);
	h.pages = mig_cpu_to_le64(pages);
	h.data_pages = mig_cpu_to_le64(data);
	memcpy(h.id, res->id, MIG_ID_LEN);
	h.created = mig_cpu_to_le64(time(NULL));
	memcpy(hdr, &h, sizeof(h));
	ret = write_all_at(fd, hdr, psz, 0);
	if (!ret && ftruncate(fd, (pages + 1) * psz))
		ret = -errno;
	if (!ret && fsync(fd))
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		mig_set_error(res, 0, "writing %s: %s", path, mig_errstr(ret));
		goto out;
	}
	res->precopy_pages = data;
	res->precopy_zero = pages - data;
	res->bytes_sent = (data + 1) * psz;
	res->ok = 1;
	mig_logf(hk, MIG_LOG_INFO,
		 "snapshot %s: %llu pages, %llu with data", path,
		 (unsigned long long)pages, (unsigned long long)data);
out:
	if (fd >= 0) {
		close(fd);
		if (ret)
			unlink(tmp);
	}
	if (paused && !keep_paused) {
		res->downtime_ns = mig_now_ns() - t_pause;
		if (hk->unpause)
			hk->unpause(hk->arg);
	}
	free(hdr);
	if (mem)
		munmap((void *)mem, size);
	res->total_ns = mig_now_ns() - t0;
	return ret;
}

/* -------------------------------------------------------------------------
 * Restoring
 */

struct rst {
	const struct mig_config *cfg;
	struct mig_result *res;
	const struct mig_hooks *hk;
	struct mig_be be;	/* faults and placement (backend.c) */
	int sfd;		/* snapshot file */
	uint64_t size, pages;
	uint32_t psz;
	uint64_t *placed;	/* bitmap, atomic */
	uint64_t nplaced;	/* atomic */
	uint64_t *fault_ns;	/* atomic */
	int stop;		/* atomic */
	uint64_t hint;		/* atomic: the background goes on here */
	unsigned int hint_gen;	/* atomic */
	struct mig_lat lat;
	uint64_t faults, bytes;	/* atomic */

	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done, fatal;
	char fatal_msg[256];
};

/* The run's first fatal error, in @r->fatal_msg. */
#define rst_fatal(r, ...)						\
	mig_set_fatal(&(r)->lock, &(r)->cond, &(r)->fatal, (r)->fatal_msg, \
		      sizeof((r)->fatal_msg), __VA_ARGS__)

static void r_mark(struct rst *r, uint64_t page)
{
	uint64_t t;

	if (!mig_test_and_set_bit(r->placed, page) &&
	    __atomic_add_fetch(&r->nplaced, 1, __ATOMIC_ACQ_REL) == r->pages) {
		pthread_mutex_lock(&r->lock);
		r->done = 1;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
	t = __atomic_exchange_n(&r->fault_ns[page], 0, __ATOMIC_ACQ_REL);
	if (t) {
		uint64_t now = mig_now_ns();

		mig_lat_add(&r->lat, now > t ? now - t : 0);
	}
}

static int read_pages(struct rst *r, uint64_t page, uint64_t n, void *buf)
{
	size_t len = n * r->psz;
	off_t off = (page + 1) * r->psz;
	char *p = buf;

	while (len) {
		ssize_t got = pread(r->sfd, p, len, off);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (!got)
			return -ENODATA;	/* truncated file */
		p += got;
		off += got;
		len -= got;
	}
	__atomic_fetch_add(&r->bytes, n * r->psz, __ATOMIC_RELAXED);
	return 0;
}

static void *rst_fault_thread(void *arg)
{
	struct rst *r = arg;
	struct mig_fault faults[64];
	struct mig_placer *pl = mig_placer_new(&r->be);
	uint8_t *buf = malloc(r->psz);
	int n, i, ret;

	if (!pl || !buf) {
		rst_fatal(r, "fault thread: out of memory or no netlink");
		goto out;
	}
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		n = mig_be_faults(&r->be, faults, 64, MIG_TICK_MS);
		if (n < 0) {
			rst_fatal(r, "receiving faults: %s",
				  mig_be_fault_err(&r->be, n));
			break;
		}
		for (i = 0; i < n; i++) {
			uint64_t page = faults[i].page, zero = 0;

			if (page >= r->pages)
				continue;
			__atomic_fetch_add(&r->faults, 1, __ATOMIC_RELAXED);
			__atomic_compare_exchange_n(&r->fault_ns[page], &zero,
						    faults[i].time_ns, 0,
						    __ATOMIC_ACQ_REL,
						    __ATOMIC_RELAXED);
			if (mig_test_bit(r->placed, page)) {
				ret = mig_place_wake(pl, page, 1);
			} else {
				ret = read_pages(r, page, 1, buf);
				if (!ret)
					ret = mig_page_is_zero(buf, r->psz) ?
					      mig_place_zero(pl, page, 1, 0) :
					      mig_place_copy(pl, page, buf, 0);
			}
			if (ret) {
				rst_fatal(r, "resolving a fault at page %llu: %s",
					  (unsigned long long)page,
					  ret == -ENODATA ?
					  "the snapshot file is truncated" :
					  mig_placer_err(pl, ret));
				goto out;
			}
			r_mark(r, page);
			__atomic_store_n(&r->hint, page + 1, __ATOMIC_RELAXED);
			__atomic_fetch_add(&r->hint_gen, 1, __ATOMIC_RELEASE);
		}
	}
out:
	mig_placer_free(pl);
	free(buf);
	return NULL;
}

/* Place [first, first + n) that is not placed yet. */
static int rst_chunk(struct rst *r, struct mig_placer *pl, uint64_t first,
		     uint64_t n, uint8_t *buf)
{
	uint64_t pages[SNAP_CHUNK], p;
	struct mig_zero_run zeros = { 0 };
	void *data[SNAP_CHUNK];
	unsigned int k = 0;
	off_t next;
	int ret;

	/* a hole all along: zero pages, nothing to read */
	next = lseek(r->sfd, (first + 1) * r->psz, SEEK_DATA);
	if ((next < 0 && errno == ENXIO) ||
	    (next >= 0 && (uint64_t)next >= (first + n + 1) * r->psz)) {
		ret = mig_place_zero(pl, first, n, 0);
		if (ret)
			return ret;
		for (p = first; p < first + n; p++)
			r_mark(r, p);
		return 0;
	}
	ret = read_pages(r, first, n, buf);
	if (ret)
		return ret;
	for (p = first; p < first + n; p++) {
		uint8_t *d = buf + (p - first) * r->psz;

		if (mig_test_bit(r->placed, p))
			continue;
		if (mig_page_is_zero(d, r->psz)) {
			ret = mig_zero_run_add(pl, &zeros, p, 0);
			if (ret)
				return ret;
			continue;
		}
		pages[k] = p;
		data[k++] = d;
	}
	ret = mig_zero_run_flush(pl, &zeros, 0);
	if (ret)
		return ret;
	ret = k ? mig_place_many(pl, pages, data, k, 0) : 0;
	if (ret)
		return ret;
	for (p = first; p < first + n; p++)
		r_mark(r, p);
	return 0;
}

static void *rst_bg_thread(void *arg)
{
	struct rst *r = arg;
	uint64_t chunks = (r->pages + SNAP_CHUNK - 1) / SNAP_CHUNK;
	uint64_t c = 0, empty = 0;
	struct mig_placer *pl = mig_placer_new(&r->be);
	uint8_t *buf = malloc((size_t)SNAP_CHUNK * r->psz);
	unsigned int seen = 0;
	int ret;

	if (!pl || !buf) {
		rst_fatal(r, "background: out of memory or no netlink");
		goto out;
	}
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&r->nplaced, __ATOMIC_ACQUIRE) < r->pages &&
	       empty <= chunks) {
		unsigned int g = __atomic_load_n(&r->hint_gen,
						 __ATOMIC_ACQUIRE);
		uint64_t first, n, p;
		int todo = 0;

		if (g != seen) {
			seen = g;
			c = __atomic_load_n(&r->hint, __ATOMIC_RELAXED) /
			    SNAP_CHUNK;
		}
		if (c >= chunks)
			c = 0;
		first = c * SNAP_CHUNK;
		n = MIG_MIN(SNAP_CHUNK, r->pages - first);
		for (p = first; p < first + n && !todo; p++)
			todo = !mig_test_bit(r->placed, p);
		c++;
		if (!todo) {
			empty++;
			continue;
		}
		empty = 0;
		ret = rst_chunk(r, pl, first, n, buf);
		if (ret) {
			rst_fatal(r, "placing pages %llu-%llu: %s",
				  (unsigned long long)first,
				  (unsigned long long)(first + n - 1),
				  ret == -ENODATA ?
				  "the snapshot file is truncated" :
				  mig_placer_err(pl, ret));
			break;
		}
	}
out:
	mig_placer_free(pl);
	free(buf);
	return NULL;
}

static int rst_open(struct rst *r, const char *path)
{
	struct mig_snap_header h;
	struct stat st;
	ssize_t n;
	int ret;

	r->sfd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->sfd < 0) {
		ret = -errno;
		mig_set_error(r->res, 0, "cannot open the snapshot %s: %s",
			      path, mig_errstr(ret));
		return ret;
	}
	n = pread(r->sfd, &h, sizeof(h), 0);
	if (n != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, MIG_SNAP_MAGIC, sizeof(h.magic))) {
		mig_set_error(r->res, 0,
			      "%s is not a postcopy-agent snapshot (bad magic)",
			      path);
		return -EINVAL;
	}
	if (mig_le32_to_cpu(h.version) != MIG_SNAP_VERSION) {
		mig_set_error(r->res, 0,
			      "%s is a version %u snapshot, this agent reads version %u",
			      path, mig_le32_to_cpu(h.version),
			      MIG_SNAP_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (mig_le32_to_cpu(h.page_size) != r->psz ||
	    mig_le64_to_cpu(h.region_size) != r->size) {
		mig_set_error(r->res, 0,
			      "%s holds %llu bytes of %u-byte pages, the destination is %llu bytes of %u-byte pages: restore into a region of the snapshot's size",
			      path,
			      (unsigned long long)mig_le64_to_cpu(h.region_size),
			      mig_le32_to_cpu(h.page_size),
			      (unsigned long long)r->size, r->psz);
		return -EINVAL;
	}
	if (fstat(r->sfd, &st) ||
	    (uint64_t)st.st_size < (r->pages + 1) * r->psz) {
		mig_set_error(r->res, 0, "%s is truncated", path);
		return -EINVAL;
	}
	memcpy(r->res->id, h.id, MIG_ID_LEN);
	return 0;
}

static int rst_setup(struct rst *r)
{
	int ret;

	r->psz = sysconf(_SC_PAGESIZE);
	/* the module: missing mode, empty, attached with PCA_POLICY_WAIT */
	ret = mig_be_open(&r->be, r->cfg, 0, "restore", r->res);
	if (ret)
		return ret;
	r->size = r->be.size;
	r->pages = r->size / r->psz;
	r->res->pages = r->pages;
	r->res->page_size = r->psz;
	r->placed = calloc((r->pages + 63) / 64, sizeof(uint64_t));
	r->fault_ns = calloc(r->pages, sizeof(uint64_t));
	if (!r->placed || !r->fault_ns || mig_lat_init(&r->lat, r->pages)) {
		mig_set_error(r->res, 0, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int mig_restore_run(const struct mig_config *cfg, const char *path,
		    struct mig_result *res)
{
	pthread_t fth, bth;
	int ret, fstarted = 0, bstarted = 0;
	uint64_t t0 = mig_now_ns();
	struct rst *r;

	r = mig_run_alloc(res, MIG_DEST, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = cfg;
	r->res = res;
	r->hk = &cfg->hooks;
	r->sfd = -1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);

	ret = rst_setup(r);
	if (!ret)
		ret = rst_open(r, path);
	if (ret)
		goto out;
	ret = -pthread_create(&fth, NULL, rst_fault_thread, r);
	if (!ret) {
		fstarted = 1;
		ret = -pthread_create(&bth, NULL, rst_bg_thread, r);
		bstarted = !ret;
	}
	if (ret) {
		mig_set_error(res, 0, "starting threads: %s", mig_errstr(ret));
		goto out;
	}
	/* nothing stale can be in the region: run now */
	if (r->hk->resume)
		r->hk->resume(r->hk->arg);
	pthread_mutex_lock(&r->lock);
	while (!r->done && !r->fatal && !mig_cancelled(cfg))
		mig_cond_wait_tick(&r->cond, &r->lock);
	if (r->fatal) {
		mig_set_error(res, 0, "%s", r->fatal_msg);
		ret = -EIO;
	} else if (!r->done) {
		mig_set_error(res, 0, "cancelled");
		ret = -ECANCELED;
	}
	pthread_mutex_unlock(&r->lock);
out:
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	if (fstarted)
		pthread_join(fth, NULL);
	if (bstarted)
		pthread_join(bth, NULL);
	res->faults = res->faults_remote = r->faults;
	res->bytes_received = r->bytes;
	if (r->lat.us)
		mig_lat_finish(&r->lat, res);
	if (r->pages)
		ret = mig_be_check_present(&r->be, r->pages, res, ret,
					   "restore");
	res->ok = !ret;
	res->total_ns = mig_now_ns() - t0;
	if (r->sfd >= 0)
		close(r->sfd);
	mig_be_close(&r->be);
	mig_lat_free(&r->lat);
	free(r->placed);
	free(r->fault_ns);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
	return ret;
}
