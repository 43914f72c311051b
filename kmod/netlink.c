// SPDX-License-Identifier: GPL-2.0
/*
 * The postcopy_assist generic netlink family: handshake, region queries,
 * agent attach/detach, fault events and resolution.
 *
 * Every command needs CAP_SYS_ADMIN over the network namespace it is sent
 * in, and regions are visible only in the namespace that created them.
 * An agent's socket is its fault queue: closing it (or the agent dying)
 * detaches it, observed through the netlink release notifier.
 *
 * Messages meant for one agent (fault records, migration events) go to the
 * socket object that asked for them, never to a port number: see
 * pca_nl_deliver().
 */

#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/namei.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "compat.h"
#include "dirty.h"
#include "migrate.h"
#include "fault.h"
#include "netlink.h"
#include "netlink-gen.h"
#include "queue.h"
#include "region.h"
#include "regionfs.h"
#include "trace.h"

/* Pages per message of a DIRTY_GET dump: a 2 KiB bitmap fits any skb. */
#define PCA_DIRTY_DUMP_PAGES	(16 * 1024)

/* Bit n set: command n has an op; reported by the api handshake. */
static u64 pca_nl_commands __ro_after_init;

/* Commands whose requests name a region: pre_doit looks it up. */
#define PCA_NL_REGION_CMDS	(BIT_ULL(PCA_CMD_REGION_GET) | \
				 BIT_ULL(PCA_CMD_ATTACH) | \
				 BIT_ULL(PCA_CMD_DETACH) | \
				 BIT_ULL(PCA_CMD_FAULT_RESEND) | \
				 BIT_ULL(PCA_CMD_COPY) | BIT_ULL(PCA_CMD_ZERO) | \
				 BIT_ULL(PCA_CMD_WAKE) | \
				 BIT_ULL(PCA_CMD_DIRTY_TRACK) | \
				 BIT_ULL(PCA_CMD_DIRTY_GET) | \
				 BIT_ULL(PCA_CMD_DIRTY_CLEAR) | \
				 BIT_ULL(PCA_CMD_DISCARD) | \
				 BIT_ULL(PCA_CMD_MIGRATE))

/* Commands that only read the region: MAY_READ on a region's file. */
#define PCA_NL_READ_CMDS	(BIT_ULL(PCA_CMD_REGION_GET) | \
				 BIT_ULL(PCA_CMD_DIRTY_GET))

/*
 * Whether the caller may @mask (MAY_READ, MAY_WRITE) a region that is a
 * file of a region filesystem: the file's owner, group and mode decide,
 * with the caller's credentials, as open() would.  Other regions: yes.
 */
static int pca_nl_may(struct pca_region *r, int mask)
{
	if (!r->fs)
		return 0;
	return inode_permission(pca_nop_idmap, r->inode, mask);
}

static u32 pca_nl_dirty_flags(struct nlattr **attrs)
{
	return attrs[PCA_A_DIRTY_FLAGS] ? nla_get_u32(attrs[PCA_A_DIRTY_FLAGS]) :
					  0;
}

/* The access a command needs to a region's file: see pca_nl_may(). */
static int pca_nl_mask(u8 cmd, struct nlattr **attrs)
{
	if (!(PCA_NL_READ_CMDS & BIT_ULL(cmd)))
		return MAY_WRITE;
	/* Reading the dirty log and clearing it changes the log. */
	if (cmd == PCA_CMD_DIRTY_GET &&
	    (pca_nl_dirty_flags(attrs) & PCA_DIRTY_CLEAR))
		return MAY_WRITE;
	return MAY_READ;
}

static int pca_nl_admin(struct sk_buff *skb, struct genl_info *info)
{
	if (netlink_ns_capable(skb, genl_info_net(info)->user_ns,
			       CAP_SYS_ADMIN))
		return 0;
	NL_SET_ERR_MSG_MOD(info->extack,
			   "CAP_SYS_ADMIN in the network namespace's user namespace required");
	return -EPERM;
}

/* The same check for a dump, which pre_doit does not see. */
bool pca_nl_dump_admin(struct netlink_callback *cb)
{
	if (netlink_ns_capable(cb->skb, sock_net(cb->skb->sk)->user_ns,
			       CAP_SYS_ADMIN))
		return true;
	NL_SET_ERR_MSG_MOD(cb->extack,
			   "CAP_SYS_ADMIN in the network namespace's user namespace required");
	return false;
}

/*
 * @r (or an error) as the caller may use it: CAP_SYS_ADMIN over its user
 * namespace, and for a file of a region filesystem, @mask access to it.
 * Drops @r when refused.
 */
static struct pca_region *pca_nl_region_check(struct sk_buff *skb,
					      struct pca_region *r,
					      struct netlink_ext_ack *extack,
					      int mask)
{
	int ret;

	if (IS_ERR(r))
		return r;
	if (!netlink_ns_capable(skb, r->user_ns, CAP_SYS_ADMIN)) {
		pca_region_put(r);
		NL_SET_ERR_MSG_MOD(extack, "caller does not own the region");
		return ERR_PTR(-EPERM);
	}
	ret = pca_nl_may(r, mask);
	if (ret) {
		pca_region_put(r);
		if (mask & MAY_WRITE)
			NL_SET_ERR_MSG_MOD(extack,
					   "no write permission on the region's file");
		else
			NL_SET_ERR_MSG_MOD(extack,
					   "no read permission on the region's file");
		return ERR_PTR(ret);
	}
	return r;
}

/* The region of the file at @attr's path, referenced. */
static struct pca_region *pca_nl_region_path(struct net *net,
					     const struct nlattr *attr,
					     struct netlink_ext_ack *extack)
{
	struct pca_region *r = NULL;
	struct inode *inode;
	struct path path;
	char *name;
	int ret;

	name = nla_strdup(attr, GFP_KERNEL);
	if (!name)
		return ERR_PTR(-ENOMEM);
	/* In the caller's context: its root, cwd and permissions. */
	ret = kern_path(name, LOOKUP_FOLLOW, &path);
	kfree(name);
	if (ret) {
		NL_SET_ERR_MSG_ATTR(extack, attr, "cannot look up the path");
		return ERR_PTR(ret);
	}
	inode = d_backing_inode(path.dentry);
	if (!pca_regionfs_inode(inode) || !S_ISREG(inode->i_mode)) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "not a file of a region filesystem");
		ret = -EINVAL;
		goto out;
	}
	/* The inode keeps the region's memory; the region may be gone. */
	r = smp_load_acquire(&inode->i_private);
	if (!r) {
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "the file has no size yet: not a region");
		ret = -ENODATA;
	} else if (!kref_get_unless_zero(&r->ref)) {
		r = NULL;
		ret = -ENOENT;
	} else if (test_bit(0, &r->fs_closed) || !net_eq(r->net, net)) {
		pca_region_put(r);
		r = NULL;
		ret = -ENOENT;
	}
	if (ret == -ENOENT)
		NL_SET_ERR_MSG_ATTR(extack, attr,
				    "no region of this network namespace there");
out:
	path_put(&path);
	return r ? r : ERR_PTR(ret);
}

/**
 * pca_nl_region() - the region a request names, if the caller may use it
 * @skb: the request
 * @attrs: its attributes: PCA_A_REGION_ID or PCA_A_REGION_PATH
 * @net: the namespace it was sent in
 * @extack: for the reason of a refusal
 * @mask: MAY_READ for a command that only reads the region, else MAY_WRITE
 *
 * The caller needs CAP_SYS_ADMIN over the region's user namespace and, for
 * a region that is a file of a region filesystem, @mask access to the file
 * (its owner, group and mode, as for open()), whether the request names it
 * by path or by id.
 *
 * Return: the region, referenced, or an ERR_PTR.
 */
static struct pca_region *pca_nl_region(struct sk_buff *skb,
					struct nlattr **attrs, struct net *net,
					struct netlink_ext_ack *extack,
					int mask)
{
	struct pca_region *r;

	if (attrs[PCA_A_REGION_ID] && attrs[PCA_A_REGION_PATH]) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[PCA_A_REGION_PATH],
				    "name the region by id or by path, not both");
		return ERR_PTR(-EINVAL);
	}
	if (attrs[PCA_A_REGION_PATH])
		return pca_nl_region_check(skb, pca_nl_region_path(net,
					   attrs[PCA_A_REGION_PATH], extack),
					   extack, mask);
	if (NL_REQ_ATTR_CHECK(extack, NULL, attrs, PCA_A_REGION_ID))
		return ERR_PTR(-EINVAL);
	r = pca_region_lookup(net, nla_get_u32(attrs[PCA_A_REGION_ID]));
	if (!r) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[PCA_A_REGION_ID],
				    "no such region");
		return ERR_PTR(-ENOENT);
	}
	return pca_nl_region_check(skb, r, extack, mask);
}

/*
 * Before every doit: the caller's capability, and the region a request
 * names, referenced in info->user_ptr[0] until post_doit.  Dumps check for
 * themselves (pre_doit does not run for them).
 */
static int pca_nl_pre_doit(const struct pca_genl_split_ops *ops,
			   struct sk_buff *skb, struct genl_info *info)
{
	struct pca_region *r;
	int ret;

	ret = pca_nl_admin(skb, info);
	if (ret || !(PCA_NL_REGION_CMDS & BIT_ULL(ops->cmd)))
		return ret;
	r = pca_nl_region(skb, info->attrs, genl_info_net(info),
			  info->extack, pca_nl_mask(ops->cmd, info->attrs));
	if (IS_ERR(r))
		return PTR_ERR(r);
	info->user_ptr[0] = r;
	return 0;
}

static void pca_nl_post_doit(const struct pca_genl_split_ops *ops,
			     struct sk_buff *skb, struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];

	if (r)
		pca_region_put(r);
}

int postcopy_assist_nl_api_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	u64 want = 0;
	u32 version;

	if (GENL_REQ_ATTR_CHECK(info, PCA_A_API_VERSION))
		return -EINVAL;
	version = nla_get_u32(info->attrs[PCA_A_API_VERSION]);
	if (version != PCA_API_VERSION) {
		PCA_ERR_FMT(info->extack, "unsupported API version",
			    "unsupported API version %u (this module speaks %u)",
			    version, PCA_API_VERSION);
		NL_SET_BAD_ATTR(info->extack, info->attrs[PCA_A_API_VERSION]);
		return -EINVAL;
	}
	if (info->attrs[PCA_A_FEATURES])
		want = nla_get_u64(info->attrs[PCA_A_FEATURES]);
	if (want & ~pca_supported_features) {
		PCA_ERR_FMT(info->extack, "unknown feature bits",
			    "unknown feature bits 0x%llx",
			    want & ~pca_supported_features);
		NL_SET_BAD_ATTR(info->extack, info->attrs[PCA_A_FEATURES]);
		return -EINVAL;
	}

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &pca_family, 0, PCA_CMD_API);
	if (!hdr ||
	    nla_put_u32(msg, PCA_A_API_VERSION, PCA_API_VERSION) ||
	    nla_put_u64_64bit(msg, PCA_A_FEATURES, pca_supported_features,
			      PCA_A_PAD) ||
	    nla_put_u64_64bit(msg, PCA_A_COMMANDS, pca_nl_commands,
			      PCA_A_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static const u16 pca_count_attr[PCA_NR_COUNTS] = {
	[PCA_COUNT_FAULTS]	= PCA_STAT_FAULTS,
	[PCA_COUNT_COALESCED]	= PCA_STAT_FAULTS_COALESCED,
	[PCA_COUNT_COPIED]	= PCA_STAT_PAGES_COPIED,
	[PCA_COUNT_ZEROED]	= PCA_STAT_PAGES_ZEROED,
	[PCA_COUNT_EEXIST]	= PCA_STAT_COPY_EEXIST,
	[PCA_COUNT_PREMAPPED]	= PCA_STAT_FAULTS_PREMAPPED,
};

static int pca_nl_put_stats(struct sk_buff *msg, struct pca_region *r)
{
	struct pca_stats s;
	struct nlattr *nest;
	int i;

	pca_region_stats(r, &s);
	nest = nla_nest_start(msg, PCA_A_STATS);
	if (!nest)
		return -EMSGSIZE;
	for (i = 0; i < PCA_NR_COUNTS; i++)
		if (nla_put_u64_64bit(msg, pca_count_attr[i], s.count[i],
				      PCA_STAT_PAD))
			return -EMSGSIZE;
	if (nla_put_u64_64bit(msg, PCA_STAT_FAULTS_PENDING,
			      atomic_read(&r->nr_pending), PCA_STAT_PAD) ||
	    nla_put(msg, PCA_STAT_WAIT_HIST, sizeof(s.wait_hist),
		    s.wait_hist))
		return -EMSGSIZE;
	nla_nest_end(msg, nest);
	return 0;
}

static int pca_nl_fill_region(struct sk_buff *msg, struct pca_region *r,
			      u32 portid, u32 seq, int flags)
{
	void *hdr;

	hdr = genlmsg_put(msg, portid, seq, &pca_family, flags,
			  PCA_CMD_REGION_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(msg, PCA_A_REGION_ID, r->id) ||
	    nla_put_u64_64bit(msg, PCA_A_REGION_SIZE, r->size, PCA_A_PAD) ||
	    nla_put_u64_64bit(msg, PCA_A_REGION_FLAGS, r->flags, PCA_A_PAD) ||
	    nla_put_u64_64bit(msg, PCA_A_REGION_UNIT, pca_unit_size(r),
			      PCA_A_PAD) ||
	    nla_put_u64_64bit(msg, PCA_A_PAGES_PRESENT,
			      pca_region_nr_present(r), PCA_A_PAD) ||
	    nla_put_u32(msg, PCA_A_QUEUES, READ_ONCE(r->nr_queues)) ||
	    nla_put_u32(msg, PCA_A_POLICY, READ_ONCE(r->policy)) ||
	    nla_put_u32(msg, PCA_A_DIRTY_TRACKING, READ_ONCE(r->tracking)) ||
	    nla_put_u64_64bit(msg, PCA_A_DIRTY_PAGES,
			      atomic_long_read(&r->nr_dirty), PCA_A_PAD) ||
	    pca_nl_put_stats(msg, r)) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

int postcopy_assist_nl_region_get_doit(struct sk_buff *skb,
				       struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	struct sk_buff *msg;
	int ret;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	ret = pca_nl_fill_region(msg, r, info->snd_portid, info->snd_seq, 0);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/*
 * Checked in the dump rather than in .start, whose errors carry no extack
 * text on 6.1; cb->args[1] says the check was made.
 */
int postcopy_assist_nl_region_get_dumpit(struct sk_buff *skb,
					 struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	unsigned long id = cb->args[0];
	struct pca_region *r;
	int ret;

	if (!cb->args[1]) {
		if (!pca_nl_dump_admin(cb))
			return -EPERM;
		cb->args[1] = 1;
	}
	while ((r = pca_region_find_next(net, &id))) {
		/* List only what REGION_GET would show this caller. */
		if (!netlink_ns_capable(cb->skb, r->user_ns, CAP_SYS_ADMIN) ||
		    pca_nl_may(r, MAY_READ))
			ret = 0;
		else
			ret = pca_nl_fill_region(skb, r,
						 NETLINK_CB(cb->skb).portid,
						 cb->nlh->nlmsg_seq,
						 NLM_F_MULTI);
		pca_region_put(r);
		if (ret)
			break;
		id++;
	}
	cb->args[0] = id;
	return skb->len;
}

static void pca_nl_attach_error(struct genl_info *info, int ret)
{
	if (ret == -EEXIST)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "socket already attached to region");
	else if (ret == -ENOSPC)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "region has the most queues allowed");
	else if (ret == -ENOENT)
		NL_SET_ERR_MSG_MOD(info->extack, "region is closing");
	else if (ret == -EINVAL)
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[PCA_A_RING_ENTRIES],
				    "ring entries must be a power of two from 16 to 65536");
}

int postcopy_assist_nl_attach_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	u32 policy = PCA_POLICY_KEEP, queue_id;
	struct file *ring = NULL;
	struct sk_buff *msg;
	int ret, fd = -1;
	void *hdr;

	if (info->attrs[PCA_A_POLICY])
		policy = nla_get_u32(info->attrs[PCA_A_POLICY]);

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	if (info->attrs[PCA_A_RING_ENTRIES]) {
		u32 entries = nla_get_u32(info->attrs[PCA_A_RING_ENTRIES]);

		/* The caller's process gets the fd: doit runs in its context. */
		fd = get_unused_fd_flags(O_CLOEXEC);
		if (fd < 0) {
			nlmsg_free(msg);
			return fd;
		}
		ring = pca_queue_attach_ring(r, entries, policy, &queue_id);
		ret = PTR_ERR_OR_ZERO(ring);
		if (ret)
			put_unused_fd(fd);
	} else {
		ret = pca_queue_attach(r, pca_nl_sender(skb), info->snd_portid,
				       policy, &queue_id);
	}
	if (ret) {
		nlmsg_free(msg);
		pca_nl_attach_error(info, ret);
		return ret;
	}
	hdr = genlmsg_put_reply(msg, info, &pca_family, 0, PCA_CMD_ATTACH);
	if (!hdr || nla_put_u32(msg, PCA_A_REGION_ID, r->id) ||
	    nla_put_u32(msg, PCA_A_QUEUE_ID, queue_id) ||
	    (ring && nla_put_u32(msg, PCA_A_RING_FD, fd))) {
		nlmsg_free(msg);
		if (!ring)
			/* Attached all the same; the agent can ask REGION_GET. */
			return 0;
		/* Nobody would learn the fd: detach the ring again. */
		put_unused_fd(fd);
		fput(ring);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	if (ring)
		fd_install(fd, ring);
	return genlmsg_reply(msg, info);
}

int postcopy_assist_nl_detach_doit(struct sk_buff *skb, struct genl_info *info)
{
	int ret = pca_queue_detach(info->user_ptr[0], pca_nl_sender(skb));

	if (ret == -ENOENT)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "socket is not attached to region");
	return ret;
}

int postcopy_assist_nl_fault_resend_doit(struct sk_buff *skb,
					 struct genl_info *info)
{
	int ret = pca_queue_resend(info->user_ptr[0], pca_nl_sender(skb));

	if (ret == -ENOENT)
		NL_SET_ERR_MSG_MOD(info->extack,
				   "socket is not attached to region");
	return ret;
}

static u64 pca_nl_resolve_flags(struct genl_info *info)
{
	struct nlattr *a = info->attrs[PCA_A_RESOLVE_FLAGS];

	return a ? nla_get_u32(a) : 0;
}

/*
 * Explain a range refused by pca_region_range(); @offset and @len are the
 * attributes that carried it (the same one for a page).
 */
static void pca_nl_range_error(struct netlink_ext_ack *extack,
			       const struct nlattr *offset,
			       const struct nlattr *len,
			       enum pca_range_error why)
{
	switch (why) {
	case PCA_RANGE_OK:
		break;
	case PCA_RANGE_EMPTY:
		NL_SET_ERR_MSG_ATTR(extack, len, "length is zero");
		break;
	case PCA_RANGE_OFFSET_UNALIGNED:
		NL_SET_ERR_MSG_ATTR(extack, offset,
				    "offset is not aligned to the region's unit");
		break;
	case PCA_RANGE_LENGTH_UNALIGNED:
		NL_SET_ERR_MSG_ATTR(extack, len,
				    "length is not a multiple of the region's unit");
		break;
	case PCA_RANGE_OUTSIDE:
		NL_SET_ERR_MSG_ATTR(extack, offset,
				    "range extends beyond the region");
		break;
	}
}

/* Parse one PCA_A_PAGE nest and check its offset against @r. */
static int pca_nl_page(struct pca_region *r, const struct nlattr *page,
		       struct nlattr **tb, struct netlink_ext_ack *extack)
{
	enum pca_range_error why;
	int ret;

	ret = nla_parse_nested(tb, PCA_PAGE_A_MAX, page,
			       postcopy_assist_page_nl_policy, extack);
	if (ret)
		return ret;
	if (!tb[PCA_PAGE_A_OFFSET] || !tb[PCA_PAGE_A_DATA]) {
		NL_SET_ERR_MSG_ATTR(extack, page,
				    "page needs PCA_PAGE_A_OFFSET and PCA_PAGE_A_DATA");
		return -EINVAL;
	}
	ret = pca_region_range(r, nla_get_u64(tb[PCA_PAGE_A_OFFSET]),
			       PAGE_SIZE, &why);
	if (ret)
		pca_nl_range_error(extack, tb[PCA_PAGE_A_OFFSET],
				   tb[PCA_PAGE_A_OFFSET], why);
	return ret;
}

/* COPY with PCA_RESOLVE_OVERWRITE once the precopy is sealed. */
static void pca_nl_sealed(struct genl_info *info)
{
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PCA_A_RESOLVE_FLAGS],
			    "precopy sealed: overwrite refused");
}

int postcopy_assist_nl_copy_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	struct nlattr *tb[PCA_PAGE_A_MAX + 1];
	unsigned int pages = 0, existed = 0, placed = 0;
	const struct nlattr *head, *a;
	u64 offset, first = 0;
	struct pca_src src = {};
	int len, rem, ret = 0;
	u64 flags;

	/* A unit of 2 MiB does not fit in an attribute (64 KiB at most). */
	if (r->unit_order) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "huge region: place units with PCA_IOC_COPY");
		return -EOPNOTSUPP;
	}
	flags = pca_nl_resolve_flags(info);
	if ((flags & PCA_RESOLVE_OVERWRITE) && READ_ONCE(r->sealed)) {
		pca_nl_sealed(info);
		return -EPERM;
	}
	head = nlmsg_attrdata(info->nlhdr, GENL_HDRLEN);
	len = nlmsg_attrlen(info->nlhdr, GENL_HDRLEN);

	/* Check every page before placing any: bad input changes nothing. */
	nla_for_each_attr(a, head, len, rem) {
		if (nla_type(a) != PCA_A_PAGE)
			continue;
		ret = pca_nl_page(r, a, tb, info->extack);
		if (ret)
			return ret;
		pages++;
	}
	if (!pages) {
		NL_SET_ERR_MSG_MOD(info->extack, "no PCA_A_PAGE to copy");
		return -EINVAL;
	}

	nla_for_each_attr(a, head, len, rem) {
		if (nla_type(a) != PCA_A_PAGE)
			continue;
		ret = pca_nl_page(r, a, tb, info->extack);
		if (ret)
			break;
		src.kbuf = nla_data(tb[PCA_PAGE_A_DATA]);
		offset = nla_get_u64(tb[PCA_PAGE_A_OFFSET]);
		if (!placed && !existed)
			first = offset;
		ret = pca_region_copy(r, offset >> PAGE_SHIFT, &src, flags);
		if (!ret) {
			placed++;
		} else if (ret == -EEXIST) {
			existed++;
			ret = 0;
		} else {
			if (ret == -EPERM)	/* sealed since the check above */
				pca_nl_sealed(info);
			else
				NL_SET_ERR_MSG_ATTR(info->extack, a,
						    "could not place page");
			break;
		}
	}
	if (!ret && existed) {
		PCA_ERR_FMT(info->extack, "page already present",
			    "%u of %u pages already present", existed, pages);
		ret = -EEXIST;
	}
	trace_pca_place(r, PCA_TRACE_COPY, first, placed, existed, ret);
	return ret;
}

/*
 * PCA_A_OFFSET + PCA_A_LENGTH, checked against @r, as pages.  With
 * @whole_default, a request naming neither means the whole region.
 */
static int pca_nl_range_attrs(struct pca_region *r, struct nlattr **attrs,
			      struct netlink_ext_ack *extack,
			      bool whole_default, pgoff_t *first, pgoff_t *nr)
{
	enum pca_range_error why;
	u64 offset, len;
	int ret;

	if (whole_default && !attrs[PCA_A_OFFSET] && !attrs[PCA_A_LENGTH]) {
		*first = 0;
		*nr = r->nr_pages;
		return 0;
	}
	if (NL_REQ_ATTR_CHECK(extack, NULL, attrs, PCA_A_OFFSET) ||
	    NL_REQ_ATTR_CHECK(extack, NULL, attrs, PCA_A_LENGTH))
		return -EINVAL;
	offset = nla_get_u64(attrs[PCA_A_OFFSET]);
	len = nla_get_u64(attrs[PCA_A_LENGTH]);
	ret = pca_region_range(r, offset, len, &why);
	if (ret) {
		pca_nl_range_error(extack, attrs[PCA_A_OFFSET],
				   attrs[PCA_A_LENGTH], why);
		return ret;
	}
	*first = offset >> PAGE_SHIFT;
	*nr = len >> PAGE_SHIFT;
	return 0;
}

static int pca_nl_range(struct pca_region *r, struct genl_info *info,
			pgoff_t *first, pgoff_t *nr)
{
	return pca_nl_range_attrs(r, info->attrs, info->extack, false, first,
				  nr);
}

int postcopy_assist_nl_zero_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	pgoff_t first, nr, done;
	int ret;

	if (pca_nl_resolve_flags(info) & PCA_RESOLVE_OVERWRITE) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[PCA_A_RESOLVE_FLAGS],
				    "overwrite is for copy only");
		return -EINVAL;
	}
	ret = pca_nl_range(r, info, &first, &nr);
	if (!ret) {
		ret = pca_region_zero(r, first, nr, pca_nl_resolve_flags(info),
				      &done);
		if (ret == -EEXIST)
			NL_SET_ERR_MSG_MOD(info->extack,
					   "some pages already present");
	}
	return ret;
}

int postcopy_assist_nl_wake_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	pgoff_t first, nr;
	int ret;

	if (pca_nl_resolve_flags(info)) {
		NL_SET_ERR_MSG_ATTR(info->extack,
				    info->attrs[PCA_A_RESOLVE_FLAGS],
				    "WAKE takes no flags");
		ret = -EINVAL;
	} else {
		ret = pca_nl_range(r, info, &first, &nr);
	}
	if (!ret)
		pca_fault_wake_range(r, first, nr);
	return ret;
}

int postcopy_assist_nl_dirty_track_doit(struct sk_buff *skb,
					struct genl_info *info)
{
	if (GENL_REQ_ATTR_CHECK(info, PCA_A_DIRTY_ENABLE))
		return -EINVAL;
	return pca_dirty_track(info->user_ptr[0],
			       nla_get_u32(info->attrs[PCA_A_DIRTY_ENABLE]));
}

static void pca_nl_dirty_error(struct netlink_ext_ack *extack, int err)
{
	if (err == -ENODATA)
		NL_SET_ERR_MSG_MOD(extack,
				   "dirty tracking was never enabled on region");
}

/*
 * One message: the log of pages [@first, @first + @nr) of @r; *@bitmapp
 * (may be NULL) gets the bitmap attribute.  Dumps clear here: the core
 * queues every dump message it asked for.
 */
static int pca_nl_fill_dirty(struct sk_buff *msg, struct pca_region *r,
			     pgoff_t first, pgoff_t nr, u32 flags,
			     u32 portid, u32 seq, int nlflags,
			     struct netlink_ext_ack *extack,
			     struct nlattr **bitmapp)
{
	struct nlattr *bitmap = NULL, *pages;
	u64 dirty;
	void *hdr;
	int ret;

	hdr = genlmsg_put(msg, portid, seq, &pca_family, nlflags,
			  PCA_CMD_DIRTY_GET);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(msg, PCA_A_REGION_ID, r->id) ||
	    nla_put_u64_64bit(msg, PCA_A_OFFSET, (u64)first << PAGE_SHIFT,
			      PCA_A_PAD) ||
	    nla_put_u64_64bit(msg, PCA_A_LENGTH, (u64)nr << PAGE_SHIFT,
			      PCA_A_PAD))
		goto cancel;
	if (!(flags & PCA_DIRTY_COUNT_ONLY)) {
		bitmap = nla_reserve_64bit(msg, PCA_A_DIRTY_BITMAP,
					   DIV_ROUND_UP(nr, 64) * sizeof(u64),
					   PCA_A_PAD);
		if (!bitmap)
			goto cancel;
		memset(nla_data(bitmap), 0, nla_len(bitmap));
	}
	/* All room taken before clearing: a cleared bit is always reported. */
	pages = nla_reserve_64bit(msg, PCA_A_DIRTY_PAGES, sizeof(u64),
				  PCA_A_PAD);
	if (!pages)
		goto cancel;
	ret = pca_dirty_collect(r, first, nr, bitmap ? nla_data(bitmap) : NULL,
				flags & PCA_DIRTY_CLEAR, &dirty);
	if (ret) {
		pca_nl_dirty_error(extack, ret);
		genlmsg_cancel(msg, hdr);
		return ret;
	}
	memcpy(nla_data(pages), &dirty, sizeof(dirty));
	genlmsg_end(msg, hdr);
	if (bitmapp)
		*bitmapp = bitmap;
	return 0;
cancel:
	genlmsg_cancel(msg, hdr);
	return -EMSGSIZE;
}

int postcopy_assist_nl_dirty_get_doit(struct sk_buff *skb,
				      struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	struct nlattr *bitmap = NULL;
	pgoff_t first, nr;
	struct sk_buff *msg;
	u64 *sent = NULL;
	u32 flags;
	int ret;

	flags = pca_nl_dirty_flags(info->attrs);
	ret = pca_nl_range_attrs(r, info->attrs, info->extack, true, &first,
				 &nr);
	if (ret)
		return ret;
	if ((flags & PCA_DIRTY_CLEAR) && (flags & PCA_DIRTY_COUNT_ONLY)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "clearing needs the bitmap: use DIRTY_CLEAR");
		return -EINVAL;
	}
	if (nr > PCA_DIRTY_MSG_PAGES && !(flags & PCA_DIRTY_COUNT_ONLY)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "range too large for one message: dump it");
		return -E2BIG;
	}
	msg = genlmsg_new(nla_total_size_64bit(DIV_ROUND_UP(nr, 64) * 8) +
			  NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	/* A reply can be dropped (full socket): clear once it is queued. */
	ret = pca_nl_fill_dirty(msg, r, first, nr, flags & ~PCA_DIRTY_CLEAR,
				info->snd_portid, info->snd_seq, 0,
				info->extack, &bitmap);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	if (flags & PCA_DIRTY_CLEAR) {
		sent = kvmalloc(nla_len(bitmap), GFP_KERNEL);
		if (!sent) {
			nlmsg_free(msg);
			return -ENOMEM;
		}
		memcpy(sent, nla_data(bitmap), nla_len(bitmap));
	}
	ret = genlmsg_reply(msg, info);
	if (!ret && sent)
		pca_dirty_clear_bits(r, first, nr, sent);
	kvfree(sent);
	return ret;
}

/*
 * Dump state in cb->args: region id, next page, end page, flags, started.
 * Checked in the first dump call rather than in .start, whose errors carry
 * no extack text on 6.1.
 */
static int pca_nl_dirty_dump_init(struct netlink_callback *cb)
{
	struct nlattr **attrs = pca_dump_attrs(cb);
	struct net *net = sock_net(cb->skb->sk);
	struct pca_region *r;
	pgoff_t first, nr;
	int ret;

	if (!pca_nl_dump_admin(cb))
		return -EPERM;
	r = pca_nl_region(cb->skb, attrs, net, cb->extack,
			  pca_nl_mask(PCA_CMD_DIRTY_GET, attrs));
	if (IS_ERR(r))
		return PTR_ERR(r);
	ret = 0;
	if (!READ_ONCE(r->dirty)) {
		pca_nl_dirty_error(cb->extack, -ENODATA);
		ret = -ENODATA;
	} else {
		ret = pca_nl_range_attrs(r, attrs, cb->extack, true, &first,
					 &nr);
	}
	if (!ret && (pca_nl_dirty_flags(attrs) & PCA_DIRTY_CLEAR) &&
	    (pca_nl_dirty_flags(attrs) & PCA_DIRTY_COUNT_ONLY)) {
		NL_SET_ERR_MSG_MOD(cb->extack,
				   "clearing needs the bitmap: use DIRTY_CLEAR");
		ret = -EINVAL;
	}
	if (!ret) {
		cb->args[0] = r->id;
		cb->args[1] = first;
		cb->args[2] = first + nr;
		cb->args[3] = pca_nl_dirty_flags(attrs);
		cb->args[4] = 1;
	}
	pca_region_put(r);
	return ret;
}

int postcopy_assist_nl_dirty_get_dumpit(struct sk_buff *skb,
					struct netlink_callback *cb)
{
	struct pca_region *r;
	pgoff_t next, end, nr;
	int ret = 0;

	if (!cb->args[4]) {
		ret = pca_nl_dirty_dump_init(cb);
		if (ret)
			return ret;
	}
	next = cb->args[1];
	end = cb->args[2];
	r = pca_region_lookup(sock_net(skb->sk), cb->args[0]);
	if (!r)
		return -ENOENT;
	while (next < end) {
		nr = min_t(pgoff_t, end - next, PCA_DIRTY_DUMP_PAGES);
		ret = pca_nl_fill_dirty(skb, r, next, nr, cb->args[3],
					NETLINK_CB(cb->skb).portid,
					cb->nlh->nlmsg_seq, NLM_F_MULTI,
					cb->extack, NULL);
		if (ret)
			break;
		next += nr;
	}
	pca_region_put(r);
	cb->args[1] = next;
	/* A full skb goes out; the dump goes on from @next. */
	if (ret == -EMSGSIZE && skb->len)
		return skb->len;
	return ret ? ret : skb->len;
}

int postcopy_assist_nl_dirty_clear_doit(struct sk_buff *skb,
					struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	pgoff_t first, nr;
	u64 dirty;
	int ret;

	ret = pca_nl_range(r, info, &first, &nr);
	if (!ret) {
		ret = pca_dirty_collect(r, first, nr, NULL, true, &dirty);
		pca_nl_dirty_error(info->extack, ret);
	}
	return ret;
}

int postcopy_assist_nl_discard_doit(struct sk_buff *skb,
				    struct genl_info *info)
{
	struct pca_region *r = info->user_ptr[0];
	pgoff_t first, nr, done;
	int ret;

	ret = pca_nl_range(r, info, &first, &nr);
	if (!ret)
		ret = pca_region_discard(r, first, nr, &done);
	return ret;
}

/*
 * The spec's groups, with the capability the spec cannot express: joining
 * either needs CAP_SYS_ADMIN, as every command does.
 */
static const struct genl_multicast_group pca_mcgrps[] = {
	[POSTCOPY_ASSIST_NLGRP_AGENT] = {
		.name	= PCA_MCGRP_AGENT,
		.flags	= GENL_MCAST_CAP_SYS_ADMIN,
	},
	[POSTCOPY_ASSIST_NLGRP_VMM] = {
		.name	= PCA_MCGRP_VMM,
		.flags	= GENL_MCAST_CAP_SYS_ADMIN,
	},
};

struct genl_family pca_family __ro_after_init = {
	.name		= POSTCOPY_ASSIST_GENL_NAME,
	.version	= POSTCOPY_ASSIST_GENL_VERSION,
	.netnsok	= true,
	.parallel_ops	= true,
	.module		= THIS_MODULE,
	.pre_doit	= pca_nl_pre_doit,
	.post_doit	= pca_nl_post_doit,
	.ops		= postcopy_assist_nl_ops,
	.n_ops		= ARRAY_SIZE(postcopy_assist_nl_ops),
	.mcgrps		= pca_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(pca_mcgrps),
};

/**
 * pca_nl_deliver() - queue a message on the socket it is meant for
 * @sk: the socket, referenced by the caller
 * @msg: the message, consumed
 *
 * genlmsg_unicast() addresses a port number, and netlink frees a closing
 * socket's number (unhashes it) before it orphans the socket and before the
 * release notifier runs: any process may bind the number in between and
 * would receive what was meant for the closing socket.  So the module keeps
 * the socket itself and queues on it directly, as netlink does once it has
 * looked the port up, and only while the socket is not dead: sock_orphan()
 * sets SOCK_DEAD under sk_callback_lock held for writing, so under the read
 * side the socket either is still its owner's or is known to be dead.  A
 * message queued just before the owner closed is freed with the socket,
 * whose receive queue is purged only by its destructor, which the caller's
 * reference holds off.
 *
 * The socket's filter applies, as with netlink_unicast(); network taps
 * (nlmon) do not see these messages.  The buffer check is netlink's (a
 * message always fits an empty queue), without its overrun report, which
 * is private to netlink: a full socket is the caller's to handle.
 *
 * Return: 0 (also when the socket's filter dropped @msg), -ECONNREFUSED if
 * the socket is closing, -EAGAIN if its receive buffer is full.
 */
int pca_nl_deliver(struct sock *sk, struct sk_buff *msg)
{
	unsigned int rmem;
	int ret = 0;

	if (sk_filter(sk, msg)) {
		kfree_skb(msg);
		return 0;
	}
	read_lock_bh(&sk->sk_callback_lock);
	rmem = atomic_read(&sk->sk_rmem_alloc);
	if (sock_flag(sk, SOCK_DEAD)) {
		ret = -ECONNREFUSED;
	} else if (rmem && rmem + msg->truesize > READ_ONCE(sk->sk_rcvbuf)) {
		ret = -EAGAIN;
	} else {
		skb_set_owner_r(msg, sk);
		skb_queue_tail(&sk->sk_receive_queue, msg);
		sk->sk_data_ready(sk);
		msg = NULL;
	}
	read_unlock_bh(&sk->sk_callback_lock);
	kfree_skb(msg);
	return ret;
}

/*
 * Report a message lost for good on @sk, as netlink reports an overrun:
 * the owner's next receive fails with ENOBUFS.  Netlink's own state (the
 * congestion bit, NETLINK_NO_ENOBUFS) is private to it, so this is done
 * only when no error is pending already.
 */
void pca_nl_report_loss(struct sock *sk)
{
	read_lock_bh(&sk->sk_callback_lock);
	if (!sock_flag(sk, SOCK_DEAD) && !READ_ONCE(sk->sk_err)) {
		WRITE_ONCE(sk->sk_err, ENOBUFS);
		sk_error_report(sk);
	}
	read_unlock_bh(&sk->sk_callback_lock);
}

int pca_nl_send_faults(struct sock *sk, const struct pca_fault_record *recs,
		       unsigned int n)
{
	size_t len = n * sizeof(*recs);
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(nla_total_size(len), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put(msg, 0, 0, &pca_family, 0, PCA_CMD_FAULT);
	if (!hdr || nla_put(msg, PCA_A_FAULT_RECORDS, len, recs)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return pca_nl_deliver(sk, msg);
}

static int pca_nl_release(struct notifier_block *nb, unsigned long event,
			  void *ptr)
{
	struct netlink_notify *n = ptr;

	/*
	 * The notifier names the port, not the socket, and the port may have
	 * a new owner by now: only dead sockets bound to it are let go.
	 */
	if (event == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC &&
	    n->portid) {
		pca_queue_release_portid(n->net, n->portid);
		pca_migrate_release_portid(n->net, n->portid);
	}
	return NOTIFY_DONE;
}

static struct notifier_block pca_nl_notifier = {
	.notifier_call = pca_nl_release,
};

int pca_netlink_init(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(postcopy_assist_nl_ops); i++)
		pca_nl_commands |= BIT_ULL(postcopy_assist_nl_ops[i].cmd);

	ret = netlink_register_notifier(&pca_nl_notifier);
	if (ret)
		return ret;
	ret = genl_register_family(&pca_family);
	if (ret)
		netlink_unregister_notifier(&pca_nl_notifier);
	return ret;
}

void pca_netlink_exit(void)
{
	genl_unregister_family(&pca_family);
	netlink_unregister_notifier(&pca_nl_notifier);
	pca_migrate_exit();
}
