// SPDX-License-Identifier: GPL-2.0
/*
 * libpca: the migration relay.  The VMM side asks the kernel to migrate a
 * region (MIGRATE, MIGRATE_PAUSED, MIGRATE_CANCEL); the agent side takes the
 * requests and events the kernel relays and answers them (MIGRATE_ACCEPT,
 * MIGRATE_UPDATE).  Both can read the state with MIGRATE_GET.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/socket.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "pca-internal.h"

/* -------------------------------------------------------------------------
 * Relay messages the kernel sends on its own
 */

/* A relay message the kernel sent on its own (not an answer). */
int pca_is_mig_msg(struct pca_client *c, const struct nlmsghdr *nlh)
{
	const struct genlmsghdr *g = NLMSG_DATA(nlh);

	return nlh->nlmsg_type == c->family && nlh->nlmsg_seq == 0 &&
	       nlh->nlmsg_len >= NLMSG_LENGTH(GENL_HDRLEN) &&
	       (g->cmd == PCA_CMD_MIGRATE_REQUEST ||
		g->cmd == PCA_CMD_MIGRATE_EVENT);
}

static void copy_str(char *dst, size_t len, const struct nlattr *a)
{
	dst[0] = '\0';
	if (a)
		snprintf(dst, len, "%.*s", nla_len(a), (const char *)nla_data(a));
	dst[strnlen(dst, len - 1)] = '\0';
}

/* An older or newer kernel may send a shorter or longer progress. */
static size_t progress_len(const struct nlattr *a)
{
	size_t len = nla_len(a);

	return len < sizeof(struct pca_mig_progress) ?
	       len : sizeof(struct pca_mig_progress);
}

static int parse_mig(struct nlattr **tb, void *arg)
{
	struct pca_mig_info *m = arg;

	if (!tb[PCA_A_MIG_ID] || !tb[PCA_A_MIG_PHASE])
		return -EPROTO;
	m->mig_id = nla_get_u32(tb[PCA_A_MIG_ID]);
	m->phase = nla_get_u32(tb[PCA_A_MIG_PHASE]);
	m->region_id = tb[PCA_A_REGION_ID] ?
		       nla_get_u32(tb[PCA_A_REGION_ID]) : 0;
	m->role = tb[PCA_A_MIG_ROLE] ? nla_get_u32(tb[PCA_A_MIG_ROLE]) : 0;
	m->error = tb[PCA_A_MIG_ERROR] ? nla_get_u32(tb[PCA_A_MIG_ERROR]) : 0;
	memset(&m->progress, 0, sizeof(m->progress));
	if (tb[PCA_A_MIG_PROGRESS])
		memcpy(&m->progress, nla_data(tb[PCA_A_MIG_PROGRESS]),
		       progress_len(tb[PCA_A_MIG_PROGRESS]));
	copy_str(m->peer, sizeof(m->peer), tb[PCA_A_MIG_PEER]);
	copy_str(m->args, sizeof(m->args), tb[PCA_A_MIG_ARGS]);
	copy_str(m->message, sizeof(m->message), tb[PCA_A_MIG_MESSAGE]);
	m->running = !!tb[PCA_A_MIG_RUNNING];
	return 0;
}

/* Parse relay message @nlh into @m: 0 or -EPROTO. */
static int mig_from_msg(struct nlmsghdr *nlh, struct pca_mig_info *m)
{
	struct nlattr *tb[PCA_A_MAX + 1];

	if (genlmsg_parse(nlh, 0, tb, PCA_A_MAX, pca_spec_attr_policy) < 0)
		return -EPROTO;
	m->cmd = ((struct genlmsghdr *)NLMSG_DATA(nlh))->cmd;
	return parse_mig(tb, m);
}

/* Keep a relay message for pca_mig_recv(). */
void pca_stash_mig(struct pca_client *c, struct nlmsghdr *nlh)
{
	unsigned int slot;

	if (!c->mig_stash) {
		c->mig_stash = calloc(PCA_MIG_STASH, sizeof(*c->mig_stash));
		if (!c->mig_stash) {
			c->mig_lost = 1;
			return;
		}
	}
	if (c->mig_count == PCA_MIG_STASH) {
		c->mig_lost = 1;
		return;
	}
	slot = (c->mig_head + c->mig_count) % PCA_MIG_STASH;
	if (mig_from_msg(nlh, &c->mig_stash[slot]) == 0)
		c->mig_count++;
}

/* -------------------------------------------------------------------------
 * Migration relay
 */

static const char *const mig_phase_names[] = {
	[PCA_MIG_REQUESTED] = "requested",
	[PCA_MIG_ACCEPTED] = "accepted",
	[PCA_MIG_PRECOPY] = "precopy",
	[PCA_MIG_SWITCHOVER] = "switchover",
	[PCA_MIG_PAUSED] = "paused",
	[PCA_MIG_POSTCOPY] = "postcopy",
	[PCA_MIG_COMPLETED] = "completed",
	[PCA_MIG_FAILED] = "failed",
	[PCA_MIG_CANCELLED] = "cancelled",
	[PCA_MIG_RECOVERING] = "recovering",
};

int pca_mig_phase_final(uint32_t phase)
{
	return phase == PCA_MIG_COMPLETED || phase == PCA_MIG_FAILED ||
	       phase == PCA_MIG_CANCELLED;
}

const char *pca_mig_phase_name(uint32_t phase)
{
	if (phase < sizeof(mig_phase_names) / sizeof(mig_phase_names[0]))
		return mig_phase_names[phase];
	return "unknown";
}

const char *pca_mig_role_name(uint32_t role)
{
	switch (role) {
	case PCA_MIG_SOURCE:
		return "source";
	case PCA_MIG_DESTINATION:
		return "destination";
	}
	return "unknown";
}

int pca_join_group(struct pca_client *c, const char *group)
{
	int grp, ret;

	pca_clear_error(c);
	grp = genl_ctrl_resolve_grp(c->sk, POSTCOPY_ASSIST_GENL_NAME, group);
	if (grp < 0)
		return pca_set_error(c, grp == -NLE_OBJ_NOTFOUND ? -ENOENT :
				     pca_nl_to_errno(grp),
				     "multicast group %s of %s: %s", group,
				     POSTCOPY_ASSIST_GENL_NAME,
				     nl_geterror(grp));
	ret = nl_socket_add_membership(c->sk, grp);
	if (ret < 0) {
		ret = pca_nl_to_errno(ret);
		return pca_set_error(c, ret, "joining multicast group %s: %s%s",
				     group, pca_errno_text(ret),
				     ret == -EPERM ?
				     " (needs CAP_SYS_ADMIN in the network namespace)" : "");
	}
	return 0;
}

static struct nl_msg *mig_msg(struct pca_client *c, uint8_t cmd,
			      uint32_t mig_id)
{
	struct nl_msg *msg = pca_msg_new(c, cmd, 0);

	if (msg && nla_put_u32(msg, PCA_A_MIG_ID, mig_id) < 0)
		return pca_msg_discard(msg);
	return msg;
}

int pca_migrate(struct pca_client *c, uint32_t region_id, uint32_t role,
		const char *peer, const char *args, uint32_t *mig_id)
{
	struct nl_msg *msg = pca_msg_new(c, PCA_CMD_MIGRATE, 0);
	struct pca_mig_info m;
	int ret;

	if (msg && (nla_put_u32(msg, PCA_A_REGION_ID, region_id) < 0 ||
		    nla_put_u32(msg, PCA_A_MIG_ROLE, role) < 0 ||
		    nla_put_string(msg, PCA_A_MIG_PEER, peer) < 0 ||
		    (args && *args &&
		     nla_put_string(msg, PCA_A_MIG_ARGS, args) < 0)))
		msg = pca_msg_discard(msg);
	ret = pca_request(c, msg, parse_mig, &m);
	if (!ret && mig_id)
		*mig_id = m.mig_id;
	return ret;
}

int pca_migrate_paused(struct pca_client *c, uint32_t mig_id)
{
	return pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_PAUSED, mig_id),
			   NULL, NULL);
}

int pca_migrate_running(struct pca_client *c, uint32_t mig_id)
{
	return pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_RUNNING, mig_id),
			   NULL, NULL);
}

int pca_migrate_cancel(struct pca_client *c, uint32_t mig_id)
{
	return pca_request(c, mig_msg(c, PCA_CMD_MIGRATE_CANCEL, mig_id),
			   NULL, NULL);
}

/* @cmd on one migration, answered with its state, which goes to @info. */
static int mig_info_request(struct pca_client *c, uint8_t cmd,
			    uint32_t mig_id, struct pca_mig_info *info)
{
	struct pca_mig_info m;
	int ret;

	ret = pca_request(c, mig_msg(c, cmd, mig_id), parse_mig, &m);
	if (!ret && info) {
		*info = m;
		info->cmd = cmd;
	}
	return ret;
}

int pca_migrate_accept(struct pca_client *c, uint32_t mig_id,
		       struct pca_mig_info *info)
{
	return mig_info_request(c, PCA_CMD_MIGRATE_ACCEPT, mig_id, info);
}

int pca_migrate_update(struct pca_client *c, uint32_t mig_id, uint32_t phase,
		       const struct pca_mig_progress *progress, uint32_t error,
		       const char *message)
{
	struct nl_msg *msg = mig_msg(c, PCA_CMD_MIGRATE_UPDATE, mig_id);

	if (msg && (nla_put_u32(msg, PCA_A_MIG_PHASE, phase) < 0 ||
		    (progress &&
		     nla_put(msg, PCA_A_MIG_PROGRESS, sizeof(*progress),
			     progress) < 0) ||
		    (error && nla_put_u32(msg, PCA_A_MIG_ERROR, error) < 0) ||
		    (message && *message &&
		     nla_put_string(msg, PCA_A_MIG_MESSAGE, message) < 0)))
		msg = pca_msg_discard(msg);
	return pca_request(c, msg, NULL, NULL);
}

int pca_migrate_get(struct pca_client *c, uint32_t mig_id,
		    struct pca_mig_info *info)
{
	return mig_info_request(c, PCA_CMD_MIGRATE_GET, mig_id, info);
}

static int parse_mig_elem(struct nlattr **tb, void *elem)
{
	struct pca_mig_info *m = elem;

	m->cmd = PCA_CMD_MIGRATE_GET;
	return parse_mig(tb, m);
}

int pca_migrate_list(struct pca_client *c, struct pca_mig_info **out,
		     size_t *count)
{
	return pca_dump_request(c, PCA_CMD_MIGRATE_GET, sizeof(**out),
				parse_mig_elem, (void **)out, count);
}

int pca_mig_recv(struct pca_client *c, struct pca_mig_info *info,
		 int timeout_ms)
{
	int64_t deadline = timeout_ms < 0 ? -1 : pca_now_ms() + timeout_ms;

	pca_clear_error(c);
	for (;;) {
		struct nlmsghdr *nlh;
		ssize_t n;

		if (c->mig_lost) {
			c->mig_lost = 0;
			return pca_set_error(c, -ENOBUFS,
					     "migration messages were lost: ask for the state");
		}
		if (c->mig_count) {
			*info = c->mig_stash[c->mig_head];
			c->mig_head = (c->mig_head + 1) % PCA_MIG_STASH;
			c->mig_count--;
			return 1;
		}
		n = pca_recv_until(c, deadline, &c->mig_lost);
		/* after an overrun, the loop reports the loss */
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			return n;
		for (nlh = (struct nlmsghdr *)c->rxbuf; NLMSG_OK(nlh, n);
		     nlh = NLMSG_NEXT(nlh, n)) {
			if (pca_is_mig_msg(c, nlh))
				pca_stash_mig(c, nlh);
			else if (pca_is_fault_msg(c, nlh))
				pca_take_faults(c, nlh, NULL, 0);
		}
	}
}
