// SPDX-License-Identifier: GPL-2.0
/*
 * Limits per network namespace: migrations in the relay, regions, and the
 * bytes of those regions.
 *
 * Any user can own a network namespace (unshare -Urn) and be its admin,
 * which is all the module asks of a caller.  Whatever such a user creates
 * is therefore counted against its own namespace and never against a
 * table shared with the others, so that no namespace can deny service to
 * another.  Memory taken on a caller's behalf is also charged to its
 * memory cgroup (__GFP_ACCOUNT at each allocation); the counts here bound
 * what a memory cgroup cannot see, such as how many entries a namespace
 * keeps in the global id tables and how large a dirty bitmap it may ask
 * for later.
 *
 * The initial network namespace is the host's: it gets generous limits.
 * Every other namespace gets smaller ones.  Both sets are module
 * parameters, writable by the host's root only, and are read at each
 * check, so a change applies to every namespace at once; lowering a limit
 * below what a namespace holds refuses new objects and leaves the old.
 */

#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netlink.h>

#include "limits.h"

/* A parameter in bytes that takes the suffixes memparse() knows: 64G. */
static int pca_param_set_bytes(const char *val, const struct kernel_param *kp)
{
	char *end;
	u64 bytes;

	bytes = memparse(val, &end);
	if (end == val || (*end && strcmp(end, "\n")))
		return -EINVAL;
	WRITE_ONCE(*(u64 *)kp->arg, bytes);
	return 0;
}

static int pca_param_get_bytes(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(*(u64 *)kp->arg));
}

static const struct kernel_param_ops pca_param_bytes_ops = {
	.set	= pca_param_set_bytes,
	.get	= pca_param_get_bytes,
};

/*
 * The host's namespace: the relay's old global table size, and room for
 * thousands of guests' memory slots.  64 TiB of regions is more guest
 * memory than one host has; its dirty bitmaps would be 2 GiB.
 */
static unsigned int init_net_max_migrations = 1024;
module_param(init_net_max_migrations, uint, 0644);
MODULE_PARM_DESC(init_net_max_migrations,
		 "Migrations at once in the initial network namespace (default 1024)");

static unsigned int init_net_max_regions = 4096;
module_param(init_net_max_regions, uint, 0644);
MODULE_PARM_DESC(init_net_max_regions,
		 "Regions in the initial network namespace (default 4096)");

static u64 init_net_max_region_bytes = 64 * SZ_1T;
module_param_cb(init_net_max_region_bytes, &pca_param_bytes_ops,
		&init_net_max_region_bytes, 0644);
MODULE_PARM_DESC(init_net_max_region_bytes,
		 "Total size of the regions of the initial network namespace, bytes, K/M/G/T suffixes (default 64T)");

/*
 * Every other namespace: a container that runs a few VMMs, each with a
 * few memory slots; one region of the largest size (1 TiB, a 32 MiB
 * dirty bitmap).
 */
static unsigned int netns_max_migrations = 64;
module_param(netns_max_migrations, uint, 0644);
MODULE_PARM_DESC(netns_max_migrations,
		 "Migrations at once in each other network namespace (default 64)");

static unsigned int netns_max_regions = 64;
module_param(netns_max_regions, uint, 0644);
MODULE_PARM_DESC(netns_max_regions,
		 "Regions in each other network namespace (default 64)");

static u64 netns_max_region_bytes = SZ_1T;
module_param_cb(netns_max_region_bytes, &pca_param_bytes_ops,
		&netns_max_region_bytes, 0644);
MODULE_PARM_DESC(netns_max_region_bytes,
		 "Total size of the regions of each other network namespace, bytes, K/M/G/T suffixes (default 1T)");

/* What one namespace holds now. */
struct pca_net_usage {
	spinlock_t lock;	/* guards the counts below */
	unsigned int migrations;
	unsigned int regions;
	u64 region_bytes;
};

static unsigned int pca_limits_id __read_mostly;

static struct pca_net_usage *pca_usage(struct net *net)
{
	return net_generic(net, pca_limits_id);
}

int pca_limit_migration_add(struct net *net, struct netlink_ext_ack *extack)
{
	struct pca_net_usage *u = pca_usage(net);
	bool host = net_eq(net, &init_net);
	unsigned int max;
	int ret = 0;

	max = host ? READ_ONCE(init_net_max_migrations) :
		     READ_ONCE(netns_max_migrations);
	spin_lock(&u->lock);
	if (u->migrations >= max)
		ret = -EDQUOT;
	else
		u->migrations++;
	spin_unlock(&u->lock);
	/* The parameter to raise, for the host's operator. */
	if (ret && host)
		NL_SET_ERR_MSG_MOD(extack,
				   "initial network namespace reached its migration limit (init_net_max_migrations)");
	else if (ret)
		NL_SET_ERR_MSG_MOD(extack,
				   "network namespace reached its migration limit (netns_max_migrations)");
	return ret;
}

void pca_limit_migration_del(struct net *net)
{
	struct pca_net_usage *u = pca_usage(net);

	spin_lock(&u->lock);
	u->migrations--;
	spin_unlock(&u->lock);
}

/* Return: 0, or -EDQUOT when the namespace has as many regions or bytes. */
int pca_limit_region_add(struct net *net, u64 size)
{
	struct pca_net_usage *u = pca_usage(net);
	bool host = net_eq(net, &init_net);
	unsigned int max;
	u64 max_bytes;
	int ret = 0;

	max = host ? READ_ONCE(init_net_max_regions) :
		     READ_ONCE(netns_max_regions);
	max_bytes = host ? READ_ONCE(init_net_max_region_bytes) :
			   READ_ONCE(netns_max_region_bytes);
	spin_lock(&u->lock);
	if (u->regions >= max || size > max_bytes ||
	    u->region_bytes > max_bytes - size) {
		ret = -EDQUOT;
	} else {
		u->regions++;
		u->region_bytes += size;
	}
	spin_unlock(&u->lock);
	return ret;
}

void pca_limit_region_del(struct net *net, u64 size)
{
	struct pca_net_usage *u = pca_usage(net);

	spin_lock(&u->lock);
	u->regions--;
	u->region_bytes -= size;
	spin_unlock(&u->lock);
}

static int __net_init pca_limits_net_init(struct net *net)
{
	/* The rest is zeroed by the core. */
	spin_lock_init(&pca_usage(net)->lock);
	return 0;
}

static struct pernet_operations pca_limits_net_ops = {
	.init	= pca_limits_net_init,
	.id	= &pca_limits_id,
	.size	= sizeof(struct pca_net_usage),
};

int pca_limits_init(void)
{
	return register_pernet_subsys(&pca_limits_net_ops);
}

void pca_limits_exit(void)
{
	unregister_pernet_subsys(&pca_limits_net_ops);
}
