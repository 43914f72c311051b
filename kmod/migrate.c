// SPDX-License-Identifier: GPL-2.0
/*
 * Migrations: the relay between a VMM and the agent daemon.
 *
 * The kernel moves no pages here.  It keeps a small record per migration
 * so that a VMM and one agent daemon per host can find each other without
 * another channel, as the kernel's handshake family does for TLS: the VMM
 * asks (MIGRATE), the daemon hears it on the "agent" group and takes it
 * (ACCEPT), reports phases and progress (UPDATE), and the VMM hears those
 * on the "vmm" group and answers the pause request at switchover (PAUSED).
 *
 * A migration belongs to the VMM socket that asked for it: when that socket
 * closes the migration is cancelled and forgotten.  When the agent's socket
 * closes first, the migration fails and the VMM is told.  Both are held as
 * socket objects, not port numbers, so a process that binds a closed
 * socket's port neither steers the migration nor hears the agent's events.
 */

#include <linux/capability.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/xarray.h>
#include <net/genetlink.h>
#include <net/sock.h>

#include "compat.h"
#include "limits.h"
#include "migrate.h"
#include "netlink.h"
#include "netlink-gen.h"
#include "region.h"
#include "trace.h"

#define PCA_MIG_PEER_LEN	64
#define PCA_MIG_MESSAGE_LEN	128

/**
 * struct pca_migration - one migration request and what became of it
 * @id: its id
 * @net: namespace of the VMM socket that owns it (which pins @net)
 * @region_id: the region to migrate
 * @role: enum pca_mig_role
 * @phase: enum pca_mig_phase
 * @back: while @phase is PCA_MIG_RECOVERING, the phase the break
 *	interrupted: the phase the migration goes on from
 * @vmm_sk: the owner's socket, referenced
 * @vmm_portid: its port, to match the release notifier
 * @agent_sk: the socket of the agent that accepted it, referenced; NULL
 *	before, and after that socket closed
 * @agent_portid: its port
 * @error: errno of a failure
 * @peer: peer address, as the VMM gave it
 * @args: agent options, or NULL
 * @message: last message from the agent
 * @progress: last progress from the agent
 * @running: the destination's VMM said the guest runs again
 *
 * All fields are guarded by pca_mig_lock.  The release notifier names
 * only a port: it lets go of a socket with that port that is dead (a live
 * one bound the port after the closed one let it go).
 */
struct pca_migration {
	u32 id;
	struct net *net;
	u32 region_id;
	u32 role;
	u32 phase;
	u32 back;
	struct sock *vmm_sk;
	u32 vmm_portid;
	struct sock *agent_sk;
	u32 agent_portid;
	u32 error;
	char peer[PCA_MIG_PEER_LEN];
	char *args;
	char message[PCA_MIG_MESSAGE_LEN];
	struct pca_mig_progress progress;
	bool running;
};

static DEFINE_MUTEX(pca_mig_lock);
static DEFINE_XARRAY_ALLOC1(pca_migrations);
static u32 pca_next_mig_id;

static bool pca_mig_final(u32 phase)
{
	return phase == PCA_MIG_COMPLETED || phase == PCA_MIG_FAILED ||
	       phase == PCA_MIG_CANCELLED;
}

/*
 * Where @m stands in the order of phases: a recovery stands where the
 * break interrupted it.
 */
static u32 pca_mig_stage(const struct pca_migration *m)
{
	return m->phase == PCA_MIG_RECOVERING ? m->back : m->phase;
}

/*
 * The agent's move of @m to @phase: forward, into a recovery and out of
 * it (to where it was, or further), never into paused but back to it.
 */
static bool pca_mig_agent_may(const struct pca_migration *m, u32 phase)
{
	u32 stage = pca_mig_stage(m);

	if (pca_mig_final(m->phase))
		return false;
	if (phase == PCA_MIG_RECOVERING)
		return stage >= PCA_MIG_ACCEPTED;
	if (phase < stage)
		return false;
	return phase != PCA_MIG_PAUSED || stage == PCA_MIG_PAUSED;
}

/* @m went from phase @old to its phase now; pca_mig_lock held. */
static void pca_mig_trace(const struct pca_migration *m, u32 old)
{
	trace_pca_migrate_phase(m->id, m->region_id, m->role, old, m->phase,
				m->error);
}

static int pca_mig_fill(struct sk_buff *msg, const struct pca_migration *m,
			u8 cmd, u32 portid, u32 seq, int flags)
{
	void *hdr;

	hdr = genlmsg_put(msg, portid, seq, &pca_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(msg, PCA_A_MIG_ID, m->id) ||
	    nla_put_u32(msg, PCA_A_REGION_ID, m->region_id) ||
	    nla_put_u32(msg, PCA_A_MIG_ROLE, m->role) ||
	    nla_put_string(msg, PCA_A_MIG_PEER, m->peer) ||
	    (m->args && nla_put_string(msg, PCA_A_MIG_ARGS, m->args)) ||
	    nla_put_u32(msg, PCA_A_MIG_PHASE, m->phase) ||
	    nla_put_64bit(msg, PCA_A_MIG_PROGRESS, sizeof(m->progress),
			  &m->progress, PCA_A_PAD) ||
	    nla_put_u32(msg, PCA_A_MIG_ERROR, m->error) ||
	    (m->message[0] &&
	     nla_put_string(msg, PCA_A_MIG_MESSAGE, m->message)) ||
	    (m->running && nla_put_flag(msg, PCA_A_MIG_RUNNING))) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

static struct sk_buff *pca_mig_msg(const struct pca_migration *m, u8 cmd)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);

	if (msg && pca_mig_fill(msg, m, cmd, 0, 0, 0)) {
		nlmsg_free(msg);
		msg = NULL;
	}
	return msg;
}

/*
 * Tell the "vmm" group, and the agent if there is one, that @m changed.
 * Delivery is best effort: GET always has the state.
 */
static void pca_mig_event(const struct pca_migration *m, bool to_agent)
{
	struct sk_buff *msg;

	if (to_agent && m->agent_sk) {
		msg = pca_mig_msg(m, PCA_CMD_MIGRATE_EVENT);
		/* Lost for good: the agent learns to ask for the state. */
		if (!msg || pca_nl_deliver(m->agent_sk, msg) == -EAGAIN)
			pca_nl_report_loss(m->agent_sk);
	}
	if (!genl_has_listeners(&pca_family, m->net, POSTCOPY_ASSIST_NLGRP_VMM))
		return;
	msg = pca_mig_msg(m, PCA_CMD_MIGRATE_EVENT);
	if (msg)
		genlmsg_multicast_netns(&pca_family, m->net, msg, 0,
					POSTCOPY_ASSIST_NLGRP_VMM, GFP_KERNEL);
}

static void pca_mig_set_agent(struct pca_migration *m, struct sock *sk,
			      u32 portid)
{
	if (sk)
		sock_hold(sk);
	if (m->agent_sk)
		sock_put(m->agent_sk);
	m->agent_sk = sk;
	m->agent_portid = portid;
}

static void pca_mig_free(struct pca_migration *m)
{
	xa_erase(&pca_migrations, m->id);
	pca_limit_migration_del(m->net);
	pca_mig_set_agent(m, NULL, 0);
	sock_put(m->vmm_sk);
	kfree(m->args);
	kfree(m);
}

/* The migration named in @info, in the caller's namespace; lock held. */
static struct pca_migration *pca_mig_find(struct genl_info *info)
{
	struct pca_migration *m;

	lockdep_assert_held(&pca_mig_lock);
	if (GENL_REQ_ATTR_CHECK(info, PCA_A_MIG_ID))
		return ERR_PTR(-EINVAL);
	m = xa_load(&pca_migrations, nla_get_u32(info->attrs[PCA_A_MIG_ID]));
	if (!m || !net_eq(m->net, genl_info_net(info))) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[PCA_A_MIG_ID],
				    "no such migration");
		return ERR_PTR(-ENOENT);
	}
	return m;
}

static int pca_mig_reply(struct genl_info *info, const struct pca_migration *m,
			 u8 cmd)
{
	struct sk_buff *msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	int ret;

	if (!msg)
		return -ENOMEM;
	ret = pca_mig_fill(msg, m, cmd, info->snd_portid, info->snd_seq, 0);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/* pre_doit checked that the caller owns the region it names. */
int postcopy_assist_nl_migrate_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct net *net = genl_info_net(info);
	struct pca_migration *m;
	struct sk_buff *req;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, PCA_A_MIG_ROLE) ||
	    GENL_REQ_ATTR_CHECK(info, PCA_A_MIG_PEER))
		return -EINVAL;
	if (!genl_has_listeners(&pca_family, net, POSTCOPY_ASSIST_NLGRP_AGENT)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "no agent daemon listens: start postcopy-agent daemon");
		return -ENOTCONN;
	}

	/* Counted in the caller's namespace, charged to its memory cgroup. */
	ret = pca_limit_migration_add(net, info->extack);
	if (ret)
		return ret;
	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m) {
		ret = -ENOMEM;
		goto err_limit;
	}
	m->net = net;
	/* Named by id or by path: pre_doit found it. */
	m->region_id = ((struct pca_region *)info->user_ptr[0])->id;
	m->role = nla_get_u32(info->attrs[PCA_A_MIG_ROLE]);
	m->phase = PCA_MIG_REQUESTED;
	nla_strscpy(m->peer, info->attrs[PCA_A_MIG_PEER], sizeof(m->peer));
	if (info->attrs[PCA_A_MIG_ARGS]) {
		m->args = nla_strdup(info->attrs[PCA_A_MIG_ARGS],
				     GFP_KERNEL_ACCOUNT);
		if (!m->args) {
			kfree(m);
			ret = -ENOMEM;
			goto err_limit;
		}
	}

	mutex_lock(&pca_mig_lock);
	ret = xa_alloc_cyclic(&pca_migrations, &m->id, m, xa_limit_31b,
			      &pca_next_mig_id, GFP_KERNEL);
	if (ret < 0) {
		mutex_unlock(&pca_mig_lock);
		kfree(m->args);
		kfree(m);
		goto err_limit;
	}
	m->vmm_sk = pca_nl_sender(skb);
	sock_hold(m->vmm_sk);
	m->vmm_portid = info->snd_portid;
	ret = pca_mig_reply(info, m, PCA_CMD_MIGRATE);
	req = pca_mig_msg(m, PCA_CMD_MIGRATE_REQUEST);
	if (req)
		genlmsg_multicast_netns(&pca_family, net, req, 0,
					POSTCOPY_ASSIST_NLGRP_AGENT, GFP_KERNEL);
	else
		ret = -ENOMEM;
	if (ret)
		pca_mig_free(m);
	else
		pca_mig_trace(m, PCA_MIG_REQUESTED);
	mutex_unlock(&pca_mig_lock);
	return ret;

err_limit:
	pca_limit_migration_del(net);
	return ret;
}

int postcopy_assist_nl_migrate_accept_doit(struct sk_buff *skb,
					   struct genl_info *info)
{
	struct pca_migration *m;
	int ret;

	mutex_lock(&pca_mig_lock);
	m = pca_mig_find(info);
	if (IS_ERR(m)) {
		ret = PTR_ERR(m);
	} else if (m->phase != PCA_MIG_REQUESTED) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "migration was accepted already or ended");
		ret = -EBUSY;
	} else {
		pca_mig_set_agent(m, pca_nl_sender(skb), info->snd_portid);
		m->phase = PCA_MIG_ACCEPTED;
		ret = pca_mig_reply(info, m, PCA_CMD_MIGRATE_ACCEPT);
		if (ret) {
			pca_mig_set_agent(m, NULL, 0);
			m->phase = PCA_MIG_REQUESTED;
		} else {
			pca_mig_trace(m, PCA_MIG_REQUESTED);
			pca_mig_event(m, false);
		}
	}
	mutex_unlock(&pca_mig_lock);
	return ret;
}

int postcopy_assist_nl_migrate_update_doit(struct sk_buff *skb,
					   struct genl_info *info)
{
	struct nlattr **attrs = info->attrs;
	struct pca_migration *m;
	u32 phase, old;
	int ret = 0;

	mutex_lock(&pca_mig_lock);
	m = pca_mig_find(info);
	if (IS_ERR(m)) {
		ret = PTR_ERR(m);
		goto out;
	}
	if (!m->agent_sk || m->agent_sk != pca_nl_sender(skb)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "only the agent that accepted the migration may update it");
		ret = -EPERM;
		goto out;
	}
	phase = attrs[PCA_A_MIG_PHASE] ? nla_get_u32(attrs[PCA_A_MIG_PHASE]) :
					 m->phase;
	if (phase != m->phase && !pca_mig_agent_may(m, phase)) {
		NL_SET_ERR_MSG_ATTR(info->extack, attrs[PCA_A_MIG_PHASE],
				    "phase may only move forward (but for recovering), and only the VMM pauses");
		ret = -EINVAL;
		goto out;
	}
	if (pca_mig_final(m->phase)) {
		NL_SET_ERR_MSG_MOD(info->extack, "migration has ended already");
		ret = -EINVAL;
		goto out;
	}
	old = m->phase;
	if (phase == PCA_MIG_RECOVERING && old != PCA_MIG_RECOVERING)
		m->back = old;
	m->phase = phase;
	if (attrs[PCA_A_MIG_PROGRESS])
		nla_memcpy(&m->progress, attrs[PCA_A_MIG_PROGRESS],
			   sizeof(m->progress));
	if (attrs[PCA_A_MIG_ERROR])
		m->error = nla_get_u32(attrs[PCA_A_MIG_ERROR]);
	if (attrs[PCA_A_MIG_MESSAGE])
		nla_strscpy(m->message, attrs[PCA_A_MIG_MESSAGE],
			    sizeof(m->message));
	/* Progress alone is no change of state. */
	if (phase != old)
		pca_mig_trace(m, old);
	pca_mig_event(m, false);
out:
	mutex_unlock(&pca_mig_lock);
	return ret;
}

/* Checks for commands only the migration's VMM may send; lock held. */
static struct pca_migration *pca_mig_find_owned(struct sk_buff *skb,
						struct genl_info *info)
{
	struct pca_migration *m = pca_mig_find(info);

	if (!IS_ERR(m) && m->vmm_sk != pca_nl_sender(skb)) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "only the socket that asked for the migration may steer it");
		return ERR_PTR(-EPERM);
	}
	return m;
}

/* pca_mig_vmm_step()'s answer when the phase does not allow the step. */
#define PCA_MIG_WRONG_PHASE	1

/*
 * A step only the owning VMM takes, allowed from the phases in @from (a
 * mask of BIT(phase)); the agent hears of it too.  Return: 0, -errno, or
 * PCA_MIG_WRONG_PHASE for the caller to explain.
 */
static int pca_mig_vmm_step(struct sk_buff *skb, struct genl_info *info,
			    u32 from, u32 to, u32 error)
{
	struct pca_migration *m;
	int ret = 0;

	mutex_lock(&pca_mig_lock);
	m = pca_mig_find_owned(skb, info);
	if (IS_ERR(m)) {
		ret = PTR_ERR(m);
	} else if (!(BIT(pca_mig_stage(m)) & from)) {
		ret = PCA_MIG_WRONG_PHASE;
	} else {
		u32 old = m->phase;

		/* a pause while the agents reconnect: they go on paused */
		if (old == PCA_MIG_RECOVERING && !pca_mig_final(to))
			m->back = to;
		else
			m->phase = to;
		m->error = error;
		pca_mig_trace(m, old);
		pca_mig_event(m, true);
	}
	mutex_unlock(&pca_mig_lock);
	return ret;
}

int postcopy_assist_nl_migrate_paused_doit(struct sk_buff *skb,
					   struct genl_info *info)
{
	int ret = pca_mig_vmm_step(skb, info, BIT(PCA_MIG_SWITCHOVER),
				   PCA_MIG_PAUSED, 0);

	if (ret == PCA_MIG_WRONG_PHASE) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "the agent has not asked for a pause");
		ret = -EINVAL;
	}
	return ret;
}

/*
 * The destination's VMM runs the guest again: no change of phase, a
 * fact the agent reports as the end of the guest's downtime.
 */
int postcopy_assist_nl_migrate_running_doit(struct sk_buff *skb,
					    struct genl_info *info)
{
	struct pca_migration *m;
	int ret = 0;

	mutex_lock(&pca_mig_lock);
	m = pca_mig_find_owned(skb, info);
	if (IS_ERR(m)) {
		ret = PTR_ERR(m);
	} else if (m->role != PCA_MIG_DESTINATION) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "only a destination's guest runs again");
		ret = -EINVAL;
	} else if (pca_mig_stage(m) != PCA_MIG_POSTCOPY &&
		   m->phase != PCA_MIG_COMPLETED) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "the guest may run only once the agent resumed it (postcopy or completed)");
		ret = -EINVAL;
	} else if (m->running) {
		NL_SET_ERR_MSG_MOD(info->extack,
				   "the guest was reported running already");
		ret = -EALREADY;
	} else {
		m->running = true;
		pca_mig_event(m, true);
	}
	mutex_unlock(&pca_mig_lock);
	return ret;
}

int postcopy_assist_nl_migrate_cancel_doit(struct sk_buff *skb,
					   struct genl_info *info)
{
	int ret = pca_mig_vmm_step(skb, info, BIT(PCA_MIG_COMPLETED) - 1,
				   PCA_MIG_CANCELLED, ECANCELED);

	if (ret == PCA_MIG_WRONG_PHASE) {
		NL_SET_ERR_MSG_MOD(info->extack, "migration has ended already");
		ret = -EINVAL;
	}
	return ret;
}

int postcopy_assist_nl_migrate_get_doit(struct sk_buff *skb,
					struct genl_info *info)
{
	struct pca_migration *m;
	int ret;

	mutex_lock(&pca_mig_lock);
	m = pca_mig_find(info);
	ret = IS_ERR(m) ? PTR_ERR(m) : pca_mig_reply(info, m,
						     PCA_CMD_MIGRATE_GET);
	mutex_unlock(&pca_mig_lock);
	return ret;
}

int postcopy_assist_nl_migrate_get_dumpit(struct sk_buff *skb,
					  struct netlink_callback *cb)
{
	struct net *net = sock_net(skb->sk);
	unsigned long id = cb->args[0];
	struct pca_migration *m;

	if (!pca_nl_dump_admin(cb))
		return -EPERM;
	mutex_lock(&pca_mig_lock);
	xa_for_each_start(&pca_migrations, id, m, cb->args[0]) {
		if (!net_eq(m->net, net))
			continue;
		if (pca_mig_fill(skb, m, PCA_CMD_MIGRATE_GET,
				 NETLINK_CB(cb->skb).portid,
				 cb->nlh->nlmsg_seq, NLM_F_MULTI))
			break;
	}
	mutex_unlock(&pca_mig_lock);
	cb->args[0] = m ? id : ULONG_MAX;
	return skb->len;
}

/* True if @sk is a dead socket that had @portid. */
static bool pca_mig_released(struct sock *sk, u32 sk_portid, u32 portid)
{
	return sk && sk_portid == portid && sock_flag(sk, SOCK_DEAD);
}

/*
 * A socket bound to @portid closed: its VMM's migrations go, its agent's
 * migrations fail.
 */
void pca_migrate_release_portid(struct net *net, u32 portid)
{
	struct pca_migration *m;
	unsigned long id;
	u32 old;

	mutex_lock(&pca_mig_lock);
	xa_for_each(&pca_migrations, id, m) {
		if (!net_eq(m->net, net))
			continue;
		if (pca_mig_released(m->vmm_sk, m->vmm_portid, portid)) {
			if (!pca_mig_final(m->phase)) {
				old = m->phase;
				m->phase = PCA_MIG_CANCELLED;
				m->error = ECANCELED;
				pca_mig_trace(m, old);
				pca_mig_event(m, true);
			}
			pca_mig_free(m);
		} else if (pca_mig_released(m->agent_sk, m->agent_portid,
					    portid)) {
			pca_mig_set_agent(m, NULL, 0);
			if (pca_mig_final(m->phase))
				continue;
			old = m->phase;
			m->phase = PCA_MIG_FAILED;
			m->error = ECONNABORTED;
			strscpy(m->message, "the agent went away",
				sizeof(m->message));
			pca_mig_trace(m, old);
			pca_mig_event(m, false);
		}
	}
	mutex_unlock(&pca_mig_lock);
}

void pca_migrate_exit(void)
{
	struct pca_migration *m;
	unsigned long id;

	/* The family is gone: nobody can reach these any more. */
	mutex_lock(&pca_mig_lock);
	xa_for_each(&pca_migrations, id, m)
		pca_mig_free(m);
	mutex_unlock(&pca_mig_lock);
}
