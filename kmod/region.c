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
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/nsproxy.h>
#include <linux/pagemap.h>
#include <linux/pid_namespace.h>
#include <linux/pseudo_fs.h>
#include <linux/cred.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>
#include <net/net_namespace.h>

#include "compat.h"
#include "device.h"
#include "dirty.h"
#include "fault.h"
#include "limits.h"
#include "region.h"

#define PCA_FS_MAGIC	0x70636173	/* "pcas" */

const u64 pca_supported_features = PCA_FEATURE_MISSING |
	PCA_FEATURE_COPY_BATCH | PCA_FEATURE_FD_RESOLVE |
	PCA_FEATURE_USER_ONLY | PCA_FEATURE_WAIT_POLICY |
	PCA_FEATURE_SHARDED_QUEUES | PCA_FEATURE_DIRTY_LOG |
	PCA_FEATURE_DISCARD | PCA_FEATURE_MIGRATE | PCA_FEATURE_REGION_OPEN;

static struct vfsmount *pca_mnt;
static DEFINE_XARRAY_ALLOC1(pca_regions);
static u32 pca_next_region_id;

static void pca_region_free_rcu(struct rcu_head *head);

/*
 * The region's memory lives as long as its inode: a path to the inode
 * (/proc/<pid>/fd/<n> being opened) can outlast the region, and
 * pca_region_file_open() reads the region through inode->i_private.
 */
static void pca_fs_evict_inode(struct inode *inode)
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

static void pca_region_release(struct kref *kref)
{
	struct pca_region *r = container_of(kref, struct pca_region, ref);
	unsigned long index;
	struct page *page;

	xa_for_each(&r->pages, index, page) {
		/* Pages may outlive us pinned; they leave the address_space. */
		page->mapping = NULL;
		put_page(page);
	}
	xa_destroy(&r->pages);
	pca_dirty_free(r);
	free_percpu(r->stats);
	pca_limit_region_del(r->net, r->size);
	put_pid_ns(r->pid_ns);
	put_user_ns(r->user_ns);
	put_net(r->net);
	/* The inode frees @r when it goes (pca_fs_evict_inode()). */
	if (r->inode)
		iput(r->inode);
	else
		call_rcu(&r->rcu, pca_region_free_rcu);
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

int pca_region_range(const struct pca_region *r, u64 offset, u64 len,
		     const char **why)
{
	if (!len) {
		*why = "length is zero";
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(offset)) {
		*why = "offset is not page aligned";
		return -EINVAL;
	}
	if (!PAGE_ALIGNED(len)) {
		*why = "length is not a multiple of the page size";
		return -EINVAL;
	}
	if (offset >= r->size || len > r->size - offset) {
		*why = "range extends beyond the region";
		return -ERANGE;
	}
	return 0;
}

static int pca_fill_page(struct page *page, const struct pca_src *src)
{
	void *dst = kmap_local_page(page);
	int ret = 0;

	if (!src)
		clear_page(dst);
	else if (src->kbuf)
		memcpy(dst, src->kbuf, PAGE_SIZE);
	else if (copy_from_user(dst, src->ubuf, PAGE_SIZE))
		ret = -EFAULT;
	kunmap_local(dst);
	return ret;
}

/**
 * pca_region_place() - make one page present
 * @r: the region
 * @pgoff: page offset, already checked against the region size
 * @src: the page's contents, or NULL for zeroes
 *
 * The page is filled completely before it is published, so a fault that
 * finds it in @r->pages maps whole data.  Waiters are not woken here.
 *
 * Return: 0, -EEXIST if the page was already present, or -errno.
 */
int pca_region_place(struct pca_region *r, pgoff_t pgoff,
		     const struct pca_src *src)
{
	struct page *page, *old;
	int ret;

	/* The common race (urgent page beat the stream): no allocation. */
	if (xa_load(&r->pages, pgoff))
		return -EEXIST;

	page = alloc_page(GFP_HIGHUSER | __GFP_ACCOUNT);
	if (!page)
		return -ENOMEM;
	ret = pca_fill_page(page, src);
	if (ret) {
		__free_page(page);
		return ret;
	}
	/* Found by the rmap through the region's address_space (dirty log). */
	page->mapping = r->inode->i_mapping;
	page->index = pgoff;

	old = xa_cmpxchg(&r->pages, pgoff, NULL, page, GFP_KERNEL);
	if (old) {
		page->mapping = NULL;
		__free_page(page);
		return xa_is_err(old) ? xa_err(old) : -EEXIST;
	}
	atomic_long_inc(&r->nr_present);
	return 0;
}

/* COPY of one page: place, count, and wake unless told not to. */
int pca_region_copy(struct pca_region *r, pgoff_t pgoff,
		    const struct pca_src *src, u32 flags)
{
	int ret = pca_region_place(r, pgoff, src);

	if (!ret)
		pca_count_add(r, PCA_COUNT_COPIED, 1);
	else if (ret == -EEXIST)
		pca_count_add(r, PCA_COUNT_EEXIST, 1);
	/* Waiters wake on -EEXIST too: someone else placed their page. */
	if ((!ret || ret == -EEXIST) && !(flags & PCA_RESOLVE_DONTWAKE))
		pca_fault_wake_range(r, pgoff, 1);
	return ret;
}

/*
 * ZERO over [@pgoff, @pgoff + @nr): pages already present are left alone.
 * Return: 0, -EEXIST if any page was present, or the first other error;
 * *@done counts the pages placed.
 */
int pca_region_zero(struct pca_region *r, pgoff_t pgoff, pgoff_t nr,
		    u32 flags, pgoff_t *done)
{
	pgoff_t i;
	int ret = 0, err;

	*done = 0;
	for (i = 0; i < nr; i++) {
		err = pca_region_place(r, pgoff + i, NULL);
		if (err && err != -EEXIST) {
			ret = err;
			break;
		}
		if (err) {
			pca_count_add(r, PCA_COUNT_EEXIST, 1);
			ret = -EEXIST;
		} else {
			(*done)++;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			i++;
			break;
		}
		cond_resched();
	}
	pca_count_add(r, PCA_COUNT_ZEROED, *done);
	if (i && !(flags & PCA_RESOLVE_DONTWAKE))
		pca_fault_wake_range(r, pgoff, i);
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
 * faults to the agent) and zero-filled on touch otherwise.  Every mapping
 * of a page loses it before its lock is dropped; a pinned page lives on
 * with its pinner, outside the region.
 */
void pca_region_discard(struct pca_region *r, pgoff_t first, pgoff_t nr,
			pgoff_t *done)
{
	struct address_space *mapping = r->inode->i_mapping;
	struct page *page;
	pgoff_t pgoff;

	*done = 0;
	/* Dirty bits belong to present pages; keep the log consistent. */
	mutex_lock(&r->dirty_lock);
	for (pgoff = first; pgoff < first + nr; pgoff++) {
		page = xa_load(&r->pages, pgoff);
		if (!page)
			continue;
		lock_page(page);
		if (xa_cmpxchg(&r->pages, pgoff, page, NULL, 0) != page) {
			unlock_page(page);
			continue;
		}
		unmap_mapping_range(mapping, (loff_t)pgoff << PAGE_SHIFT,
				    PAGE_SIZE, 1);
		if (r->dirty && test_and_clear_bit(pgoff, r->dirty))
			atomic_long_dec(&r->nr_dirty);
		page->mapping = NULL;
		unlock_page(page);
		put_page(page);
		atomic_long_dec(&r->nr_present);
		(*done)++;
		cond_resched();
	}
	mutex_unlock(&r->dirty_lock);
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

/*
 * The page at @pgoff with a reference, or NULL.  DISCARD may free a page
 * at any time, so the reference is taken speculatively, as the page cache
 * does, and kept only if the page is still the region's.
 */
static struct page *pca_region_get_page(struct pca_region *r, pgoff_t pgoff)
{
	struct page *page;

	rcu_read_lock();
	for (;;) {
		page = xa_load(&r->pages, pgoff);
		if (!page)
			break;
		if (!get_page_unless_zero(page))
			continue;
		if (likely(xa_load(&r->pages, pgoff) == page))
			break;
		put_page(page);
	}
	rcu_read_unlock();
	return page;
}

static vm_fault_t pca_vm_fault(struct vm_fault *vmf)
{
	struct pca_region *r = vmf->vma->vm_file->private_data;
	struct page *page;
	vm_fault_t ret;
	int err;

	if (vmf->pgoff >= r->nr_pages)
		return VM_FAULT_SIGBUS;

	while (!(page = pca_region_get_page(r, vmf->pgoff))) {
		if (r->flags & PCA_REGION_MISSING) {
			ret = pca_fault_wait(r, vmf);
			if (ret)
				return ret;
			continue;
		}
		/* Present mode: first touch gets a zeroed page. */
		err = pca_region_place(r, vmf->pgoff, NULL);
		if (err && err != -EEXIST)
			return VM_FAULT_OOM;
	}
	/*
	 * DISCARD takes pages out of @pages under their lock and then zaps
	 * their PTEs; the core keeps the lock until our PTE is in place, so
	 * a page still in @pages here is either mapped before the zap or not
	 * mapped at all.
	 */
	lock_page(page);
	if (unlikely(xa_load(&r->pages, vmf->pgoff) != page)) {
		unlock_page(page);
		put_page(page);
		return VM_FAULT_NOPAGE;	/* retried from the start */
	}
	vmf->page = page;
	return VM_FAULT_LOCKED;
}

static const struct vm_operations_struct pca_vm_ops = {
	.fault		= pca_vm_fault,
	.page_mkwrite	= pca_dirty_page_mkwrite,
};

static int pca_region_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct pca_region *r = file->private_data;

	/* A private mapping would fill with anonymous COW copies. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_pgoff >= r->nr_pages ||
	    vma_pages(vma) > r->nr_pages - vma->vm_pgoff)
		return -EINVAL;
	/*
	 * No growth past the region through mremap; no core dump, which
	 * would otherwise stall on missing pages; and VM_DONTEXPAND also
	 * keeps mlock from trying to put our non-LRU pages on an LRU.
	 */
	pca_vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	vma->vm_ops = &pca_vm_ops;
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
	.mmap		= pca_region_mmap,
	.unlocked_ioctl	= pca_region_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.release	= pca_region_file_release,
};

static struct pca_region *pca_region_alloc(u64 size, u64 flags)
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
	r->policy = PCA_POLICY_FAIL;
	xa_init_flags(&r->pages, XA_FLAGS_ACCOUNT);
	mutex_init(&r->queues_lock);
	mutex_init(&r->dirty_lock);
	atomic_set(&r->nr_files, 1);
	pca_region_faults_init(r);
	r->net = get_net(current->nsproxy->net_ns);
	r->user_ns = get_user_ns(current_user_ns());
	r->pid_ns = get_pid_ns(task_active_pid_ns(current));
	return r;
}

/**
 * pca_region_create() - a new region and the file that owns it
 * @size: bytes, a non-zero page multiple up to PCA_REGION_MAX_SIZE
 * @flags: PCA_REGION_*
 * @id: the new region's id
 *
 * Return: the region file, or an ERR_PTR: -EDQUOT when the caller's
 * network namespace has as many regions, or region bytes, as allowed.
 */
struct file *pca_region_create(u64 size, u64 flags, u32 *id)
{
	struct pca_region *r;
	struct inode *inode;
	struct file *file;
	int ret;

	if (!size || !PAGE_ALIGNED(size) || size > PCA_REGION_MAX_SIZE)
		return ERR_PTR(-EINVAL);
	if (flags & ~(PCA_REGION_MISSING | PCA_REGION_USER_ONLY))
		return ERR_PTR(-EINVAL);

	ret = pca_limit_region_add(current->nsproxy->net_ns, size);
	if (ret)
		return ERR_PTR(ret);
	r = pca_region_alloc(size, flags);
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
	inode->i_fop = &pca_region_fops;
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
 * every netlink command on the region.
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
