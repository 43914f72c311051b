/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _PCA_REGIONFS_H
#define _PCA_REGIONFS_H

#include <linux/completion.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>

struct inode;
struct net;
struct pca_region;

/**
 * struct pca_fs_info - a mounted region filesystem (its superblock's)
 * @net: the network namespace it was mounted in: its files' regions
 *       belong to it and count against its limits
 * @uid: owner of the root directory
 * @gid: group of the root directory
 * @mode: permissions of the root directory
 * @flags: PCA_REGION_MISSING and PCA_REGION_HUGE, given to every region
 *         made on it
 * @lock: guards @regions, and each of their @nr_files transitions and
 *        @fs_path; no lock of ours nests in it (path_get() does, the
 *        dentry's and mount's own)
 * @regions: its regions not yet closed (pca_region.fs_node)
 * @nr_regions: its regions not yet freed, plus one while it is mounted
 * @gone: completed when @nr_regions drops to zero
 */
struct pca_fs_info {
	struct net *net;
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	u64 flags;
	spinlock_t lock;		/* see above */
	struct list_head regions;
	atomic_t nr_regions;
	struct completion gone;
};

int pca_regionfs_init(void);
void pca_regionfs_exit(void);

bool pca_regionfs_inode(const struct inode *inode);
void pca_fs_region_add(struct pca_fs_info *fs, struct pca_region *r);
void pca_fs_region_del(struct pca_region *r);
void pca_fs_region_gone(struct pca_fs_info *fs);
void pca_fs_file_put(struct pca_region *r);
struct file *pca_fs_region_open(struct pca_region *r);

#endif /* _PCA_REGIONFS_H */
