// SPDX-License-Identifier: GPL-2.0
/*
 * The region filesystem, "pcafs": a regular file in it is a region.
 *
 *   mount -t pcafs -o uid=,gid=,mode=,missing,huge none /mnt/x
 *
 * A VMM opens a file with O_CREAT, gives it its size with ftruncate() and
 * maps it MAP_SHARED, as it would on hugetlbfs; QEMU's memory-backend-file
 * works unmodified, with a file or a directory as mem-path.  The first
 * non-zero size makes the file a region, with an id like any other,
 * counted in the network namespace the filesystem was mounted in; from
 * then on the size is fixed.  The region lives as long as its file: it is
 * closed when the file is unlinked and no file of it is open (a mapping
 * holds its file), or when the filesystem goes.
 *
 * Files are regions only: no read() or write() (EINVAL), no O_DIRECT, no
 * hard links, no symlinks or device nodes.  Directories and rename work.
 */

#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/huge_mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/cred.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/user_namespace.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "device.h"
#include "region.h"
#include "regionfs.h"

#define PCA_REGIONFS_MAGIC	0x70636166	/* "pcaf" */
#define PCA_REGIONFS_MODE	0755

static struct file_system_type pca_regionfs_type;
static const struct inode_operations pca_fs_dir_iops;
static const struct inode_operations pca_fs_file_iops;
static const struct file_operations pca_fs_file_fops;

bool pca_regionfs_inode(const struct inode *inode)
{
	return inode->i_sb->s_type == &pca_regionfs_type;
}

void pca_fs_region_add(struct pca_fs_info *fs, struct pca_region *r)
{
	atomic_inc(&fs->nr_regions);
	spin_lock(&fs->lock);
	r->fs = fs;
	list_add_tail(&r->fs_node, &fs->regions);
	spin_unlock(&fs->lock);
}

void pca_fs_region_del(struct pca_region *r)
{
	spin_lock(&r->fs->lock);
	list_del_init(&r->fs_node);
	spin_unlock(&r->fs->lock);
}

/* A region of @fs is freed, its inode reference dropped. */
void pca_fs_region_gone(struct pca_fs_info *fs)
{
	if (atomic_dec_and_test(&fs->nr_regions))
		complete(&fs->gone);
}

/*
 * The region closes once its file has no name and no open file: whichever
 * of unlink and the last close comes second sees both.  Both sides order
 * their own change before reading the other's (atomic_dec_and_test() is a
 * full barrier, as is the smp_mb() after unlink).  The last file drops the
 * path kept for PCA_IOC_REGION_OPEN.
 */
void pca_fs_file_put(struct pca_region *r)
{
	struct path old = {};
	bool last;

	spin_lock(&r->fs->lock);
	last = atomic_dec_and_test(&r->nr_files);
	if (last)
		swap(old, r->fs_path);
	spin_unlock(&r->fs->lock);
	if (last) {
		if (old.mnt)
			path_put(&old);
		if (!READ_ONCE(r->inode->i_nlink))
			pca_region_close_fs(r);
	}
	pca_region_put(r);
}

static void pca_fs_unlinked(struct inode *inode)
{
	/* Pairs with the release in pca_region_create_fs(). */
	struct pca_region *r = smp_load_acquire(&inode->i_private);

	if (!r || inode->i_nlink)
		return;
	smp_mb();	/* i_nlink before nr_files: see pca_fs_file_put() */
	if (!atomic_read(&r->nr_files))
		pca_region_close_fs(r);
}

/*
 * The region of @file's inode, once it has one (the file was given a
 * size), held by @file from then on: file->private_data, as for a file
 * made by PCA_IOC_REGION_CREATE.  NULL while the file has no size, or
 * when its region has closed.  The first open file of the region lends
 * its path to PCA_IOC_REGION_OPEN until the last one goes.
 */
static struct pca_region *pca_fs_file_region(struct file *file)
{
	struct inode *inode = file_inode(file);
	struct pca_region *r = READ_ONCE(file->private_data);
	struct pca_fs_info *fs;

	if (r)
		return r;
	/* Pairs with the release in pca_region_create_fs(). */
	r = smp_load_acquire(&inode->i_private);
	if (!r)
		return NULL;
	fs = r->fs;
	spin_lock(&fs->lock);
	if (file->private_data) {
		r = file->private_data;		/* another thread was first */
	} else if (test_bit(0, &r->fs_closed) ||
		   !kref_get_unless_zero(&r->ref)) {
		/* Its memory lasts as long as the inode; the region did not. */
		r = NULL;
	} else {
		if (atomic_inc_return(&r->nr_files) == 1) {
			r->fs_path = file->f_path;
			path_get(&r->fs_path);
		}
		WRITE_ONCE(file->private_data, r);
	}
	spin_unlock(&fs->lock);
	return r;
}

/**
 * pca_fs_region_open() - another file of a file's region, by its id
 * @r: the region, referenced, of a region filesystem
 *
 * PCA_IOC_REGION_OPEN for a region that is a file: the file opened again
 * at the path of one of its open files, with the caller's credentials,
 * which need read and write permission on it.
 *
 * Return: the file, or an ERR_PTR: -ENOENT when no file of the region is
 * open (or it has closed), -EACCES.
 */
struct file *pca_fs_region_open(struct pca_region *r)
{
	struct path path = {};
	struct file *file;
	int ret;

	spin_lock(&r->fs->lock);
	if (r->fs_path.mnt) {
		path = r->fs_path;
		path_get(&path);
	}
	spin_unlock(&r->fs->lock);
	if (!path.mnt)
		return ERR_PTR(-ENOENT);
	ret = inode_permission(pca_nop_idmap, r->inode, MAY_READ | MAY_WRITE);
	if (ret) {
		path_put(&path);
		return ERR_PTR(ret);
	}
	file = dentry_open(&path, O_RDWR, current_cred());
	path_put(&path);
	if (!IS_ERR(file) && !file->private_data) {
		fput(file);
		file = ERR_PTR(-ENOENT);
	}
	return file;
}

static int pca_fs_open(struct inode *inode, struct file *file)
{
	/* Nothing to read or write directly: guest memory is mapped. */
	if (file->f_flags & O_DIRECT)
		return -EINVAL;
	pca_fs_file_region(file);
	return 0;
}

static int pca_fs_release(struct inode *inode, struct file *file)
{
	struct pca_region *r = file->private_data;

	if (r)
		pca_fs_file_put(r);
	return 0;
}

/* Before the size is set there is nothing to map. */
static int pca_fs_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (!pca_fs_file_region(file))
		return -EINVAL;
	return pca_region_mmap(file, vma);
}

static long pca_fs_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	/* The handshake works before the size is set; the rest needs it. */
	if (!pca_fs_file_region(file) && cmd != PCA_IOC_API)
		return -ENODATA;
	return pca_region_ioctl(file, cmd, arg);
}

static long pca_fs_fallocate(struct file *file, int mode, loff_t offset,
			     loff_t len)
{
	if (!pca_fs_file_region(file))
		return mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) ?
			0 : -EOPNOTSUPP;
	return pca_region_fallocate(file, mode, offset, len);
}

static const struct file_operations pca_fs_file_fops = {
	.owner		= THIS_MODULE,
	.open		= pca_fs_open,
	.release	= pca_fs_release,
	.llseek		= generic_file_llseek,
	/* Mappings start on a PMD boundary, so that huge units map whole. */
	.get_unmapped_area = thp_get_unmapped_area,
	.mmap		= pca_fs_mmap,
	.unlocked_ioctl	= pca_fs_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.fallocate	= pca_fs_fallocate,
};

/*
 * The size: the first non-zero one makes the file a region (with the
 * mount's mode, PCA_IOC_SET_FLAGS changes it until the first mmap); after
 * that it is fixed, since shrinking would drop guest memory from under
 * its mappings and growing would need more than a region holds.
 * ftruncate() to the size the file has succeeds.  Owner, group and mode
 * change as in any filesystem.
 */
static int pca_fs_setattr(PCA_SETATTR_ARGS, struct dentry *dentry,
			  struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	struct pca_fs_info *fs = inode->i_sb->s_fs_info;
	int ret;

	ret = setattr_prepare(pca_setattr_idmap, dentry, attr);
	if (ret)
		return ret;
	if (attr->ia_valid & ATTR_SIZE) {
		loff_t size = attr->ia_size;

		if (size != i_size_read(inode)) {
			if (inode->i_private)
				return -EBUSY;
			ret = pca_region_create_fs(inode, fs, fs->net, size,
						   fs->flags);
			if (ret)
				return ret;
			i_size_write(inode, size);
		}
		attr->ia_valid &= ~ATTR_SIZE;
	}
	setattr_copy(pca_setattr_idmap, inode, attr);
	mark_inode_dirty(inode);
	return 0;
}

static const struct inode_operations pca_fs_file_iops = {
	.setattr	= pca_fs_setattr,
};

/* As for an anonymous inode: pages are dirty from the start, never written. */
static const struct address_space_operations pca_fs_aops = {
	.dirty_folio	= noop_dirty_folio,
};

static struct inode *pca_fs_new_inode(struct super_block *sb,
				      PCA_SETATTR_ARGS, struct inode *dir,
				      umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;
	inode->i_ino = get_next_ino();
	inode_init_owner(pca_setattr_idmap, inode, dir, mode);
	pca_inode_init_ts(inode);
	if (S_ISDIR(mode)) {
		inode->i_op = &pca_fs_dir_iops;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);	/* "." */
	} else {
		inode->i_op = &pca_fs_file_iops;
		inode->i_fop = &pca_fs_file_fops;
		inode->i_mapping->a_ops = &pca_fs_aops;
	}
	return inode;
}

static int pca_fs_mknod(PCA_SETATTR_ARGS, struct inode *dir,
			struct dentry *dentry, umode_t mode)
{
	struct inode *inode = pca_fs_new_inode(dir->i_sb, pca_setattr_idmap,
					       dir, mode);

	if (!inode)
		return -ENOMEM;
	d_instantiate(dentry, inode);
	dget(dentry);	/* the name pins it, as in ramfs */
	pca_inode_touch(dir);
	return 0;
}

static int pca_fs_create(PCA_SETATTR_ARGS, struct inode *dir,
			 struct dentry *dentry, umode_t mode, bool excl)
{
	return pca_fs_mknod(pca_setattr_idmap, dir, dentry,
			    (mode & 07777) | S_IFREG);
}

static int pca_fs_mkdir(PCA_SETATTR_ARGS, struct inode *dir,
			struct dentry *dentry, umode_t mode)
{
	int ret = pca_fs_mknod(pca_setattr_idmap, dir, dentry,
			       (mode & 07777) | S_IFDIR);

	if (!ret)
		inc_nlink(dir);
	return ret;
}

static int pca_fs_unlink(struct inode *dir, struct dentry *dentry)
{
	struct inode *inode = d_inode(dentry);
	int ret = simple_unlink(dir, dentry);

	if (!ret)
		pca_fs_unlinked(inode);
	return ret;
}

/* Rename over a file unlinks that file. */
static int pca_fs_rename(PCA_SETATTR_ARGS, struct inode *old_dir,
			 struct dentry *old_dentry, struct inode *new_dir,
			 struct dentry *new_dentry, unsigned int flags)
{
	struct inode *victim = d_inode(new_dentry);
	int ret;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	if (victim)
		ihold(victim);
	ret = simple_rename(pca_setattr_idmap, old_dir, old_dentry, new_dir,
			    new_dentry, flags);
	if (victim) {
		if (!ret && !S_ISDIR(victim->i_mode))
			pca_fs_unlinked(victim);
		iput(victim);
	}
	return ret;
}

/* No .link, .symlink or .mknod: EPERM. */
static const struct inode_operations pca_fs_dir_iops = {
	.lookup		= simple_lookup,
	.create		= pca_fs_create,
	.mkdir		= pca_fs_mkdir,
	.rmdir		= simple_rmdir,
	.unlink		= pca_fs_unlink,
	.rename		= pca_fs_rename,
};

static int pca_fs_show_options(struct seq_file *m, struct dentry *root)
{
	struct pca_fs_info *fs = root->d_sb->s_fs_info;

	if (!uid_eq(fs->uid, GLOBAL_ROOT_UID))
		seq_printf(m, ",uid=%u",
			   from_kuid_munged(&init_user_ns, fs->uid));
	if (!gid_eq(fs->gid, GLOBAL_ROOT_GID))
		seq_printf(m, ",gid=%u",
			   from_kgid_munged(&init_user_ns, fs->gid));
	if (fs->mode != PCA_REGIONFS_MODE)
		seq_printf(m, ",mode=%o", fs->mode);
	if (fs->flags & PCA_REGION_MISSING)
		seq_puts(m, ",missing");
	if (fs->flags & PCA_REGION_HUGE)
		seq_puts(m, ",huge");
	return 0;
}

static const struct super_operations pca_fs_sops = {
	.statfs		= simple_statfs,
	.drop_inode	= generic_delete_inode,
	.evict_inode	= pca_fs_evict_inode,
	.show_options	= pca_fs_show_options,
};

enum { PCA_OPT_UID, PCA_OPT_GID, PCA_OPT_MODE, PCA_OPT_MISSING,
	PCA_OPT_HUGE };

static const struct fs_parameter_spec pca_fs_params[] = {
	fsparam_u32("uid", PCA_OPT_UID),
	fsparam_u32("gid", PCA_OPT_GID),
	fsparam_u32oct("mode", PCA_OPT_MODE),
	fsparam_flag("missing", PCA_OPT_MISSING),
	fsparam_flag("huge", PCA_OPT_HUGE),
	{}
};

static int pca_fs_parse_param(struct fs_context *fc,
			      struct fs_parameter *param)
{
	struct pca_fs_info *opts = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, pca_fs_params, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case PCA_OPT_UID:
		opts->uid = make_kuid(current_user_ns(), result.uint_32);
		if (!uid_valid(opts->uid))
			return invalfc(fc, "uid %u has no mapping",
				       result.uint_32);
		break;
	case PCA_OPT_GID:
		opts->gid = make_kgid(current_user_ns(), result.uint_32);
		if (!gid_valid(opts->gid))
			return invalfc(fc, "gid %u has no mapping",
				       result.uint_32);
		break;
	case PCA_OPT_MODE:
		if (result.uint_32 & ~07777)
			return invalfc(fc, "mode %o is more than permissions",
				       result.uint_32);
		opts->mode = result.uint_32;
		break;
	case PCA_OPT_MISSING:
		opts->flags |= PCA_REGION_MISSING;
		break;
	case PCA_OPT_HUGE:
		if (!(pca_supported_features & PCA_FEATURE_HUGE) ||
		    !has_transparent_hugepage())
			return invalfc(fc, "huge: the kernel maps no huge file pages");
		opts->flags |= PCA_REGION_HUGE;
		break;
	}
	return 0;
}

static int pca_fs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct pca_fs_info *opts = fc->fs_private;
	struct pca_fs_info *fs;
	struct inode *root;

	fs = kmemdup(opts, sizeof(*fs), GFP_KERNEL);
	if (!fs)
		return -ENOMEM;
	spin_lock_init(&fs->lock);
	INIT_LIST_HEAD(&fs->regions);
	atomic_set(&fs->nr_regions, 1);
	init_completion(&fs->gone);
	fs->net = get_net(fc->net_ns);
	sb->s_fs_info = fs;

	sb->s_maxbytes = PCA_REGION_MAX_SIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = PCA_REGIONFS_MAGIC;
	sb->s_op = &pca_fs_sops;
	sb->s_time_gran = 1;

	root = pca_fs_new_inode(sb, pca_nop_idmap, NULL,
				S_IFDIR | fs->mode);
	if (!root)
		return -ENOMEM;
	root->i_uid = fs->uid;
	root->i_gid = fs->gid;
	inc_nlink(root);	/* its ".." */
	sb->s_root = d_make_root(root);
	return sb->s_root ? 0 : -ENOMEM;
}

static int pca_fs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, pca_fs_fill_super);
}

static void pca_fs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations pca_fs_context_ops = {
	.free		= pca_fs_free_fc,
	.parse_param	= pca_fs_parse_param,
	.get_tree	= pca_fs_get_tree,
};

static int pca_fs_init_fs_context(struct fs_context *fc)
{
	struct pca_fs_info *opts = kzalloc(sizeof(*opts), GFP_KERNEL);

	if (!opts)
		return -ENOMEM;
	opts->uid = current_fsuid();
	opts->gid = current_fsgid();
	opts->mode = PCA_REGIONFS_MODE;
	fc->fs_private = opts;
	fc->ops = &pca_fs_context_ops;
	return 0;
}

/*
 * Unmounted and no file open: close every region still named, then wait
 * for the last references (a netlink command running) to drop their
 * inodes before the inodes go.
 */
static void pca_fs_kill_sb(struct super_block *sb)
{
	struct pca_fs_info *fs = sb->s_fs_info;
	struct pca_region *r;

	while (fs) {
		spin_lock(&fs->lock);
		r = list_first_entry_or_null(&fs->regions, struct pca_region,
					     fs_node);
		if (r)
			pca_region_get(r);
		spin_unlock(&fs->lock);
		if (!r)
			break;
		pca_region_close_fs(r);
		pca_region_put(r);
	}
	if (fs && !atomic_dec_and_test(&fs->nr_regions))
		wait_for_completion(&fs->gone);
	kill_litter_super(sb);
	if (fs) {
		put_net(fs->net);
		kfree(fs);
	}
}

static struct file_system_type pca_regionfs_type = {
	.owner		 = THIS_MODULE,
	.name		 = "pcafs",
	.init_fs_context = pca_fs_init_fs_context,
	.parameters	 = pca_fs_params,
	.kill_sb	 = pca_fs_kill_sb,
};
MODULE_ALIAS_FS("pcafs");

int pca_regionfs_init(void)
{
	return register_filesystem(&pca_regionfs_type);
}

void pca_regionfs_exit(void)
{
	unregister_filesystem(&pca_regionfs_type);
}
