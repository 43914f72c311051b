/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernel lines the module is built for (6.1, 6.12).
 * Each shim names the interface that changed and the version it changed in;
 * Kbuild probes the headers for it (PCA_HAVE_*).
 */
#ifndef _PCA_COMPAT_H
#define _PCA_COMPAT_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <net/genetlink.h>
#include <net/netlink.h>

/*
 * 6.4 added per-VMA locks: a VMA's fields change under its write lock as
 * well as under mmap_lock.  Before, mmap_lock held for write was enough.
 */
#ifdef PCA_HAVE_VMA_START_WRITE
static inline void pca_vma_start_write(struct vm_area_struct *vma)
{
	vma_start_write(vma);
}
#else
static inline void pca_vma_start_write(struct vm_area_struct *vma)
{
}
#endif

/* 6.3 made vma->vm_flags read-only outside helpers. */
#ifdef PCA_HAVE_VM_FLAGS_SET
static inline void pca_vm_flags_set(struct vm_area_struct *vma,
				    vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}
#else
static inline void pca_vm_flags_set(struct vm_area_struct *vma,
				    vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

/*
 * Faults on file mappings may run under the per-VMA lock from 6.6 on; release_fault_lock()
 * drops whichever lock the fault holds.  Before that it is always mmap_lock.
 */
#ifdef PCA_HAVE_RELEASE_FAULT_LOCK
static inline void pca_release_fault_lock(struct vm_fault *vmf)
{
	release_fault_lock(vmf);
}
#else
static inline void pca_release_fault_lock(struct vm_fault *vmf)
{
	mmap_read_unlock(vmf->vma->vm_mm);
}
#endif

/*
 * Formatted extack messages arrived in 6.2; older kernels get the plain
 * message, which must make sense on its own.
 */
#ifdef NL_SET_ERR_MSG_FMT_MOD
#define PCA_ERR_FMT(extack, plain, fmt, args...) \
	NL_SET_ERR_MSG_FMT_MOD(extack, fmt, ##args)
#else
#define PCA_ERR_FMT(extack, plain, fmt, args...) \
	NL_SET_ERR_MSG_MOD(extack, plain)
#endif

/*
 * 6.3 passes inode operations a struct mnt_idmap where 6.1 passed the
 * mount's user namespace; PCA_SETATTR_ARGS names the first argument
 * pca_setattr_idmap whichever it is.
 */
#ifdef PCA_HAVE_MNT_IDMAP
#define PCA_SETATTR_ARGS	struct mnt_idmap *pca_setattr_idmap
#else
#define PCA_SETATTR_ARGS	struct user_namespace *pca_setattr_idmap
#endif

/* The identity mapping of a mount: 6.3 made it a struct mnt_idmap. */
#ifdef PCA_HAVE_MNT_IDMAP
#define pca_nop_idmap		(&nop_mnt_idmap)
#else
#define pca_nop_idmap		(&init_user_ns)
#endif

/* 6.6 hid an inode's times behind accessors. */
#ifdef PCA_HAVE_INODE_SET_CTIME_CURRENT
static inline void pca_inode_init_ts(struct inode *inode)
{
	simple_inode_init_ts(inode);
}

static inline void pca_inode_touch(struct inode *inode)
{
	inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
}
#else
static inline void pca_inode_init_ts(struct inode *inode)
{
	struct timespec64 now = current_time(inode);

	inode->i_atime = now;
	inode->i_mtime = now;
	inode->i_ctime = now;
}

static inline void pca_inode_touch(struct inode *inode)
{
	struct timespec64 now = current_time(inode);

	inode->i_mtime = now;
	inode->i_ctime = now;
}
#endif

/*
 * 6.2 split an op into its do and dump halves (struct genl_split_ops), which
 * a family's pre_doit and post_doit are given; before, the whole op.
 */
#ifdef PCA_HAVE_GENL_SPLIT_OPS
#define pca_genl_split_ops	genl_split_ops
#else
#define pca_genl_split_ops	genl_ops
#endif

/* 6.6 moved the dump's attributes into a struct genl_info. */
#ifdef PCA_HAVE_GENL_INFO_DUMP
static inline struct nlattr **pca_dump_attrs(struct netlink_callback *cb)
{
	return genl_info_dump(cb)->attrs;
}
#else
static inline struct nlattr **pca_dump_attrs(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->attrs;
}
#endif

#endif /* _PCA_COMPAT_H */
