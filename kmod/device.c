// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/postcopy_assist and the ioctls of region files: the path a VMM
 * uses to create regions, and the fast resolution path that copies page
 * data straight from user buffers (one copy, no socket buffer).
 */

#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/net.h>
#include <linux/module.h>
#include <linux/nsproxy.h>
#include <net/net_namespace.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "device.h"
#include "dirty.h"
#include "fault.h"
#include "region.h"
#include "trace.h"

#define PCA_DEVICE_IOCTLS	(BIT_ULL(_IOC_NR(PCA_IOC_API)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_REGION_CREATE)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_REGION_OPEN)))
#define PCA_REGION_IOCTLS	(BIT_ULL(_IOC_NR(PCA_IOC_API)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_COPY)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_ZERO)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_WAKE)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_COPY_BATCH)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_DIRTY_LOG)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_DIRTY_CLEAR)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_DISCARD)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_SET_FLAGS)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_DISCARD_BITMAP)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_PRESENT_LOG)) | \
				 BIT_ULL(_IOC_NR(PCA_IOC_RECV)))
/* The resolve flags COPY and COPY_BATCH take. */
#define PCA_COPY_FLAGS		(PCA_RESOLVE_DONTWAKE | PCA_RESOLVE_OVERWRITE)

/* Entries read from user space per step of a COPY_BATCH. */
#define PCA_BATCH_CHUNK		16
/* One COPY_BATCH call places at most this many pages (4 GiB). */
#define PCA_BATCH_MAX		SZ_1M

static int pca_ioctl_api(void __user *argp, u64 ioctls)
{
	struct pca_api api;

	if (copy_from_user(&api, argp, sizeof(api)))
		return -EFAULT;
	if (api.api != PCA_API_VERSION)
		return -EINVAL;
	if (api.features & ~pca_supported_features)
		return -EINVAL;
	api.features = pca_supported_features;
	api.ioctls = ioctls;
	if (copy_to_user(argp, &api, sizeof(api)))
		return -EFAULT;
	return 0;
}

/*
 * Hand @file to the caller as a new fd, once @len bytes of @arg are back
 * at @argp; on failure the file goes.
 */
static int pca_install_fd(struct file *file, void __user *argp,
			  const void *arg, size_t len)
{
	int fd = get_unused_fd_flags(O_CLOEXEC);

	if (fd < 0)
		goto err_file;
	if (copy_to_user(argp, arg, len)) {
		put_unused_fd(fd);
		fd = -EFAULT;
		goto err_file;
	}
	fd_install(fd, file);
	return fd;

err_file:
	fput(file);
	return fd;
}

static int pca_ioctl_region_create(void __user *argp)
{
	struct pca_region_create rc;
	struct file *file;
	u32 id;

	if (copy_from_user(&rc, argp, sizeof(rc)))
		return -EFAULT;
	file = pca_region_create(rc.size, rc.flags, &id);
	if (IS_ERR(file))
		return PTR_ERR(file);
	rc.region_id = id;
	return pca_install_fd(file, argp, &rc, sizeof(rc));
}

static int pca_ioctl_region_open(void __user *argp)
{
	struct pca_region_open ro;
	struct file *file;

	if (copy_from_user(&ro, argp, sizeof(ro)))
		return -EFAULT;
	if (ro.flags || ro.region_id > U32_MAX)
		return -EINVAL;
	file = pca_region_open(ro.region_id, &ro.size);
	if (IS_ERR(file))
		return PTR_ERR(file);
	return pca_install_fd(file, argp, &ro, sizeof(ro));
}

static long pca_device_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case PCA_IOC_API:
		return pca_ioctl_api(argp, PCA_DEVICE_IOCTLS);
	case PCA_IOC_REGION_CREATE:
		return pca_ioctl_region_create(argp);
	case PCA_IOC_REGION_OPEN:
		return pca_ioctl_region_open(argp);
	}
	return -ENOTTY;
}

static int pca_device_open(struct inode *inode, struct file *file)
{
	/*
	 * The node is root-only; beyond that, the same privilege as for the
	 * netlink family: regions belong to the caller's network namespace.
	 */
	if (!ns_capable(current->nsproxy->net_ns->user_ns, CAP_SYS_ADMIN))
		return -EPERM;
	return 0;
}

static const struct file_operations pca_device_fops = {
	.owner		= THIS_MODULE,
	.open		= pca_device_open,
	.unlocked_ioctl	= pca_device_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static struct miscdevice pca_miscdev = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= POSTCOPY_ASSIST_DEVICE_NAME,
	.fops	= &pca_device_fops,
	.mode	= 0600,
};

int pca_device_init(void)
{
	return misc_register(&pca_miscdev);
}

void pca_device_exit(void)
{
	misc_deregister(&pca_miscdev);
}

/*
 * A byte range of an ioctl argument, checked against @r as netlink
 * requests are, as a run of pages: *@first and *@nr.
 */
static int pca_ioctl_pages(const struct pca_region *r, u64 offset, u64 len,
			   pgoff_t *first, pgoff_t *nr)
{
	int ret = pca_region_range(r, offset, len, NULL);

	if (ret)
		return ret;
	*first = offset >> PAGE_SHIFT;
	*nr = len >> PAGE_SHIFT;
	return 0;
}

static int pca_ioctl_copy(struct pca_region *r, struct pca_copy __user *argp)
{
	struct pca_copy uc;
	struct pca_src src = {};
	pgoff_t i, nr, pgoff, step = pca_unit_pages(r);
	u64 placed = 0, existed = 0;
	int ret, err = 0;

	if (copy_from_user(&uc, argp, sizeof(uc)))
		return -EFAULT;
	if (uc.flags & ~(u64)PCA_COPY_FLAGS)
		return -EINVAL;
	ret = pca_ioctl_pages(r, uc.offset, uc.len, &pgoff, &nr);
	if (ret)
		return ret;
	/* Also checked per unit, against a seal racing the copy. */
	if ((uc.flags & PCA_RESOLVE_OVERWRITE) && READ_ONCE(r->sealed))
		return -EPERM;

	for (i = 0; i < nr; i += step) {
		src.ubuf = u64_to_user_ptr(uc.src + (i << PAGE_SHIFT));
		ret = pca_region_copy(r, pgoff + i, &src, uc.flags);
		if (ret && ret != -EEXIST) {
			err = ret;
			break;
		}
		if (ret) {
			err = ret;	/* reported once the rest is placed */
			existed += step;
		} else {
			placed += step;
		}
		/* Present pages cost little each, but a range can be 1 TiB. */
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	trace_pca_place(r, PCA_TRACE_COPY, uc.offset, placed, existed, err);
	uc.copied = placed << PAGE_SHIFT;
	if (put_user(uc.copied, &argp->copied))
		return -EFAULT;
	return err;
}

static int pca_ioctl_range(struct pca_region *r, unsigned int cmd,
			   struct pca_range __user *argp)
{
	struct pca_range ur;
	pgoff_t first, nr, done = 0;
	int ret;

	if (copy_from_user(&ur, argp, sizeof(ur)))
		return -EFAULT;
	if (ur.flags & ~PCA_RESOLVE_DONTWAKE)
		return -EINVAL;
	/* Only ZERO leaves something undone: DONTWAKE means nothing else. */
	if (cmd != PCA_IOC_ZERO && ur.flags)
		return -EINVAL;
	ret = pca_ioctl_pages(r, ur.offset, ur.len, &first, &nr);
	if (ret)
		return ret;

	if (cmd == PCA_IOC_WAKE) {
		pca_fault_wake_range(r, first, nr);
		return 0;
	}
	if (cmd == PCA_IOC_DISCARD) {
		ret = pca_region_discard(r, first, nr, &done);
		if (put_user((s64)done << PAGE_SHIFT, &argp->done))
			return -EFAULT;
		return ret;
	}
	ret = pca_region_zero(r, first, nr, ur.flags, &done);
	if (put_user((s64)done << PAGE_SHIFT, &argp->done))
		return -EFAULT;
	return ret;
}

/* Read entries [@first, @first + @n) of a COPY_BATCH. */
static int pca_batch_read(struct pca_copy_entry *ents,
			  const struct pca_copy_entry __user *uents,
			  u64 first, unsigned int n)
{
	if (copy_from_user(ents, uents + first, n * sizeof(*ents)))
		return -EFAULT;
	return 0;
}

/* Every offset in range, before anything is placed. */
static int pca_batch_check(struct pca_region *r,
			   const struct pca_copy_entry __user *uents,
			   u64 count)
{
	struct pca_copy_entry ents[PCA_BATCH_CHUNK];
	unsigned int j, n;
	u64 i;
	int ret;

	for (i = 0; i < count; i += n) {
		n = min_t(u64, count - i, PCA_BATCH_CHUNK);
		ret = pca_batch_read(ents, uents, i, n);
		for (j = 0; !ret && j < n; j++)
			ret = pca_region_range(r, ents[j].offset,
					       pca_unit_size(r), NULL);
		if (ret)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	return 0;
}

static int pca_ioctl_copy_batch(struct pca_region *r,
				struct pca_copy_batch __user *argp)
{
	struct pca_copy_entry ents[PCA_BATCH_CHUNK];
	struct pca_copy_entry __user *uents;
	struct pca_copy_batch ub;
	struct pca_src src = {};
	u64 i, copied = 0, existed = 0, first = 0;
	unsigned int j, n;
	int ret, err;

	if (copy_from_user(&ub, argp, sizeof(ub)))
		return -EFAULT;
	if (ub.flags & ~(u64)PCA_COPY_FLAGS)
		return -EINVAL;
	if (ub.count > PCA_BATCH_MAX)
		return -E2BIG;
	if ((ub.flags & PCA_RESOLVE_OVERWRITE) && READ_ONCE(r->sealed))
		return -EPERM;
	uents = u64_to_user_ptr(ub.entries);
	ret = pca_batch_check(r, uents, ub.count);

	for (i = 0; i < ub.count && !ret; i += n) {
		n = min_t(u64, ub.count - i, PCA_BATCH_CHUNK);
		ret = pca_batch_read(ents, uents, i, n);
		for (j = 0; !ret && j < n; j++) {
			/* User memory may have changed since the check. */
			err = pca_region_range(r, ents[j].offset,
					       pca_unit_size(r), NULL);
			if (err) {
				ret = err;
				break;
			}
			if (!i && !j)
				first = ents[j].offset;
			src.ubuf = u64_to_user_ptr(ents[j].src);
			err = pca_region_copy(r, ents[j].offset >> PAGE_SHIFT,
					      &src, ub.flags);
			if (!err)
				copied++;
			else if (err == -EEXIST)
				existed++;
			else
				ret = err;
		}
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
		cond_resched();
	}
	trace_pca_place(r, PCA_TRACE_BATCH, first, copied << r->unit_order,
			existed << r->unit_order, ret);
	if (put_user(copied, &argp->copied) ||
	    put_user(existed, &argp->existed))
		return -EFAULT;
	if (!ret && existed)
		ret = -EEXIST;
	return ret;
}

/* The fields of a PCA_IOC_RECV that need no lookup. */
static int pca_recv_check(struct pca_region *r, const struct pca_recv *ur)
{
	if (ur->flags & ~(u64)PCA_COPY_FLAGS)
		return -EINVAL;
	/* Refused before the stream is touched; a racing seal: per unit. */
	if ((ur->flags & PCA_RESOLVE_OVERWRITE) && READ_ONCE(r->sealed))
		return -EPERM;
	if (ur->reserved[0] || ur->reserved[1] || ur->reserved[2])
		return -EINVAL;
	if (ur->sockfd > INT_MAX)
		return -EBADF;
	if (ur->count > PCA_RECV_MAX)
		return -E2BIG;
	return 0;
}

/*
 * PCA_IOC_RECV: units from a stream socket, each read straight into its
 * new folio (pca_region_place()).  The offsets are copied in and checked
 * first, so that bad input consumes nothing from the stream; @received
 * is written whatever happens once the argument is read.  No lock is
 * held while the socket sleeps; the socket's own timeout bounds the wait
 * for a unit to begin (-EAGAIN, with the stream still on a unit
 * boundary), a signal ends any wait, and a fatal one also ends the call
 * between units.
 */
static int pca_ioctl_recv(struct pca_region *r, struct pca_recv __user *argp)
{
	u64 i, received = 0, existed = 0, first = 0;
	struct pca_src src = {};
	struct pca_recv ur;
	u64 *offs = NULL;
	int ret, err;

	if (copy_from_user(&ur, argp, sizeof(ur)))
		return -EFAULT;
	ret = pca_recv_check(r, &ur);
	if (ret)
		goto out;
	if (ur.count) {
		offs = memdup_user(u64_to_user_ptr(ur.entries),
				   ur.count * sizeof(*offs));
		if (IS_ERR(offs)) {
			ret = PTR_ERR(offs);
			offs = NULL;
			goto out;
		}
		first = offs[0];
	}
	for (i = 0; i < ur.count && !ret; i++)
		ret = pca_region_range(r, offs[i], pca_unit_size(r), NULL);
	if (ret)
		goto out;

	src.sock = sockfd_lookup(ur.sockfd, &ret);
	if (!src.sock)
		goto out;
	if (src.sock->type != SOCK_STREAM) {
		ret = -EINVAL;
		goto out_sock;
	}
	for (i = 0; i < ur.count; i++) {
		err = pca_region_copy(r, offs[i] >> PAGE_SHIFT, &src, ur.flags);
		if (err == -EEXIST) {
			existed++;
		} else if (err) {
			ret = err;
			break;
		}
		received++;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		cond_resched();
	}
out_sock:
	sockfd_put(src.sock);
	trace_pca_place(r, PCA_TRACE_RECV, first,
			(received - existed) << r->unit_order,
			existed << r->unit_order, ret);
out:
	kfree(offs);
	if (put_user(received, &argp->received))
		return -EFAULT;
	if (!ret && existed)
		ret = -EEXIST;
	return ret;
}

static int pca_ioctl_dirty_log(struct pca_region *r,
			       struct pca_dirty_log __user *argp)
{
	struct pca_dirty_log ud;
	u64 __user *ubits;
	pgoff_t first, nr, done, n;
	u64 dirty, total = 0;
	u64 *bits = NULL;
	size_t words;
	int ret;

	if (copy_from_user(&ud, argp, sizeof(ud)))
		return -EFAULT;
	if (ud.flags & ~(u64)(PCA_DIRTY_CLEAR | PCA_DIRTY_COUNT_ONLY))
		return -EINVAL;
	/* Clearing what nobody sees would lose writes. */
	if ((ud.flags & PCA_DIRTY_CLEAR) && (ud.flags & PCA_DIRTY_COUNT_ONLY))
		return -EINVAL;
	ret = pca_ioctl_pages(r, ud.offset, ud.len, &first, &nr);
	if (ret)
		return ret;
	ubits = u64_to_user_ptr(ud.bitmap);
	if (!(ud.flags & PCA_DIRTY_COUNT_ONLY)) {
		if (ud.bitmap_size < DIV_ROUND_UP(nr, 64) * sizeof(u64))
			return -ENOSPC;
		bits = kvmalloc(PCA_DIRTY_MSG_PAGES / 8, GFP_KERNEL);
		if (!bits)
			return -ENOMEM;
	}

	/* In steps of one message's worth, so memory stays bounded. */
	for (done = 0; done < nr && !ret; done += n) {
		n = min_t(pgoff_t, nr - done, PCA_DIRTY_MSG_PAGES);
		words = DIV_ROUND_UP(n, 64);
		if (bits)
			memset(bits, 0, words * sizeof(u64));
		ret = pca_dirty_collect(r, first + done, n, bits, false,
					&dirty);
		total += dirty;
		if (!ret && bits &&
		    copy_to_user(ubits + done / 64, bits, words * sizeof(u64)))
			ret = -EFAULT;
		/* Delivered: only now may the bits go. */
		if (!ret && (ud.flags & PCA_DIRTY_CLEAR))
			pca_dirty_clear_bits(r, first + done, n, bits);
		/* Between chunks nothing reported is left uncleared. */
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
	}
	kvfree(bits);
	if (!ret && put_user(total, &argp->dirty))
		ret = -EFAULT;
	return ret;
}

static int pca_ioctl_dirty_clear(struct pca_region *r,
				 struct pca_range __user *argp)
{
	struct pca_range ur;
	pgoff_t first, nr;
	u64 dirty;
	int ret;

	if (copy_from_user(&ur, argp, sizeof(ur)))
		return -EFAULT;
	if (ur.flags)
		return -EINVAL;
	ret = pca_ioctl_pages(r, ur.offset, ur.len, &first, &nr);
	if (ret)
		return ret;
	return pca_dirty_collect(r, first, nr, NULL, true, &dirty);
}

/* The bitmap of a range of @nr pages fits in @size bytes. */
static bool pca_bitmap_fits(pgoff_t nr, u64 size)
{
	return size >= DIV_ROUND_UP((u64)nr, 64) * sizeof(u64);
}

static int pca_ioctl_discard_bitmap(struct pca_region *r,
				    struct pca_discard_bitmap __user *argp)
{
	struct pca_discard_bitmap ub;
	pgoff_t first, nr, done = 0;
	int ret;

	if (copy_from_user(&ub, argp, sizeof(ub)))
		return -EFAULT;
	if (ub.flags & ~(u64)PCA_DISCARD_SEAL)
		return -EINVAL;
	ret = pca_ioctl_pages(r, ub.offset, ub.len, &first, &nr);
	if (ret)
		return ret;
	if (!pca_bitmap_fits(nr, ub.bitmap_size))
		return -ENOSPC;
	ret = pca_region_discard_bitmap(r, first, nr,
					u64_to_user_ptr(ub.bitmap), ub.flags,
					&done);
	if (put_user((u64)done, &argp->discarded))
		return -EFAULT;
	return ret;
}

static int pca_ioctl_present_log(struct pca_region *r,
				 struct pca_present_log __user *argp)
{
	struct pca_present_log up;
	pgoff_t first, nr, present = 0;
	int ret;

	if (copy_from_user(&up, argp, sizeof(up)))
		return -EFAULT;
	if (up.flags)
		return -EINVAL;
	ret = pca_ioctl_pages(r, up.offset, up.len, &first, &nr);
	if (ret)
		return ret;
	if (!pca_bitmap_fits(nr, up.bitmap_size))
		return -ENOSPC;
	ret = pca_region_present_log(r, first, nr, u64_to_user_ptr(up.bitmap),
				     &present);
	if (!ret && put_user((u64)present, &argp->present))
		ret = -EFAULT;
	return ret;
}

long pca_region_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct pca_region *r = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case PCA_IOC_API:
		return pca_ioctl_api(argp, PCA_REGION_IOCTLS);
	case PCA_IOC_COPY:
		return pca_ioctl_copy(r, argp);
	case PCA_IOC_ZERO:
	case PCA_IOC_WAKE:
	case PCA_IOC_DISCARD:
		return pca_ioctl_range(r, cmd, argp);
	case PCA_IOC_COPY_BATCH:
		return pca_ioctl_copy_batch(r, argp);
	case PCA_IOC_RECV:
		return pca_ioctl_recv(r, argp);
	case PCA_IOC_DIRTY_LOG:
		return pca_ioctl_dirty_log(r, argp);
	case PCA_IOC_DIRTY_CLEAR:
		return pca_ioctl_dirty_clear(r, argp);
	case PCA_IOC_DISCARD_BITMAP:
		return pca_ioctl_discard_bitmap(r, argp);
	case PCA_IOC_PRESENT_LOG:
		return pca_ioctl_present_log(r, argp);
	case PCA_IOC_SET_FLAGS: {
		struct pca_set_flags sf;

		if (copy_from_user(&sf, argp, sizeof(sf)))
			return -EFAULT;
		return pca_region_set_flags(r, sf.flags);
	}
	}
	return -ENOTTY;
}
