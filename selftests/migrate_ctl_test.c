// SPDX-License-Identifier: GPL-2.0
/*
 * migrate_ctl_test: the migration relay between a VMM and the agent
 * daemon: requests on the "agent" group, events on the "vmm" group, the
 * phase rules, and what happens when either side goes away.
 *
 * Each side is a bare libnl socket here, because the relay cares about
 * which socket says what.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "pca_harness.h"

#define PAGE	4096UL
#define MAX_SEEN 32

struct seen {
	uint8_t cmd;
	uint32_t id, phase, error, role;
	int running;
	char peer[64], args[128];
	struct pca_mig_progress progress;
};

struct side {
	struct nl_sock *sk;
	int family;
	int err;		/* last NLMSG_ERROR, as -errno */
	char extack[256];	/* its extack message, "" when none */
	int nseen;
	struct seen seen[MAX_SEEN];
};

static int side_valid(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *g = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[PCA_A_MAX + 1];
	struct side *s = arg;
	struct seen *e;

	if (s->nseen == MAX_SEEN ||
	    genlmsg_parse(nlmsg_hdr(msg), 0, tb, PCA_A_MAX, NULL))
		return NL_OK;
	e = &s->seen[s->nseen++];
	memset(e, 0, sizeof(*e));
	e->cmd = g->cmd;
	if (tb[PCA_A_MIG_ID])
		e->id = nla_get_u32(tb[PCA_A_MIG_ID]);
	if (tb[PCA_A_MIG_PHASE])
		e->phase = nla_get_u32(tb[PCA_A_MIG_PHASE]);
	if (tb[PCA_A_MIG_ERROR])
		e->error = nla_get_u32(tb[PCA_A_MIG_ERROR]);
	if (tb[PCA_A_MIG_ROLE])
		e->role = nla_get_u32(tb[PCA_A_MIG_ROLE]);
	e->running = !!tb[PCA_A_MIG_RUNNING];
	if (tb[PCA_A_MIG_PEER])
		nla_strlcpy(e->peer, tb[PCA_A_MIG_PEER], sizeof(e->peer));
	if (tb[PCA_A_MIG_ARGS])
		nla_strlcpy(e->args, tb[PCA_A_MIG_ARGS], sizeof(e->args));
	if (tb[PCA_A_MIG_PROGRESS])
		nla_memcpy(&e->progress, tb[PCA_A_MIG_PROGRESS],
			   sizeof(e->progress));
	return NL_OK;
}

static int side_error(struct sockaddr_nl *nla, struct nlmsgerr *err,
		      void *arg)
{
	const struct nlmsghdr *nlh = (const void *)((const char *)err -
						    NLMSG_HDRLEN);
	size_t off = sizeof(*err);
	struct side *s = arg;
	struct nlattr *a;
	int rem;

	(void)nla;
	s->err = err->error;
	s->extack[0] = '\0';
	/* The TLVs follow the request, unless it was capped. */
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NL_STOP;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += err->msg.nlmsg_len - NLMSG_HDRLEN;
	off = NLMSG_ALIGN(off);
	if (NLMSG_LENGTH(off) >= nlh->nlmsg_len)
		return NL_STOP;
	nla_for_each_attr(a, (struct nlattr *)((char *)err + off),
			  nlh->nlmsg_len - NLMSG_LENGTH(off), rem)
		if (nla_type(a) == NLMSGERR_ATTR_MSG)
			snprintf(s->extack, sizeof(s->extack), "%.*s",
				 nla_len(a), (char *)nla_data(a));
	return NL_STOP;
}

/* @err (an -errno of side_req()) with @text in the extack message. */
static int side_refused(struct side *s, int ret, int err, const char *text)
{
	if (ret != -err || !strstr(s->extack, text)) {
		pca_diag("expected %d \"%s\", got %d \"%s\"", -err, text,
			 ret, s->extack);
		return 0;
	}
	return 1;
}

static int side_ack(struct nl_msg *msg, void *arg)
{
	(void)msg;
	((struct side *)arg)->err = 0;
	return NL_STOP;
}

static void side_open(struct pca_test_ctx *t, struct side *s, const char *grp)
{
	int g, one = 1;

	memset(s, 0, sizeof(*s));
	s->sk = nl_socket_alloc();
	PCA_ASSERT(t, s->sk, "nl_socket_alloc");
	PCA_ASSERT_EQ(t, genl_connect(s->sk), 0);
	s->family = genl_ctrl_resolve(s->sk, POSTCOPY_ASSIST_GENL_NAME);
	PCA_ASSERT(t, s->family > 0, "family");
	nl_socket_disable_seq_check(s->sk);
	nl_socket_modify_cb(s->sk, NL_CB_VALID, NL_CB_CUSTOM, side_valid, s);
	nl_socket_modify_cb(s->sk, NL_CB_ACK, NL_CB_CUSTOM, side_ack, s);
	nl_socket_modify_err_cb(s->sk, NL_CB_CUSTOM, side_error, s);
	nl_socket_set_nonblocking(s->sk);
	PCA_ASSERT_EQ(t, setsockopt(nl_socket_get_fd(s->sk), SOL_NETLINK,
				    NETLINK_EXT_ACK, &one, sizeof(one)), 0);
	if (grp) {
		g = genl_ctrl_resolve_grp(s->sk, POSTCOPY_ASSIST_GENL_NAME,
					  grp);
		PCA_ASSERT(t, g >= 0, "group %s", grp);
		PCA_ASSERT_EQ(t, nl_socket_add_membership(s->sk, g), 0);
	}
}

static void side_close(struct side *s)
{
	if (s->sk)
		nl_socket_free(s->sk);
	s->sk = NULL;
}

/* Read whatever arrives within @ms. */
static void side_drain(struct side *s, int ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(s->sk), .events = POLLIN };

	while (poll(&p, 1, ms) > 0)
		nl_recvmsgs_default(s->sk);
}

/* The newest message of @cmd seen, waiting up to a second for it. */
static struct seen *side_wait(struct side *s, uint8_t cmd, uint32_t phase)
{
	int i, tries;

	for (tries = 0; tries < 20; tries++) {
		for (i = s->nseen - 1; i >= 0; i--)
			if (s->seen[i].cmd == cmd && s->seen[i].phase == phase)
				return &s->seen[i];
		side_drain(s, 50);
	}
	return NULL;
}

struct req {
	uint32_t region, id, role, phase, error;
	const char *peer, *args;
	const struct pca_mig_progress *progress;
	int has_id, has_phase, has_region;
};

static int side_req(struct side *s, uint8_t cmd, const struct req *r)
{
	struct nl_msg *m = nlmsg_alloc();
	struct pollfd p = { .fd = nl_socket_get_fd(s->sk), .events = POLLIN };

	genlmsg_put(m, NL_AUTO_PORT, NL_AUTO_SEQ, s->family, 0, NLM_F_ACK, cmd,
		    POSTCOPY_ASSIST_GENL_VERSION);
	if (r->has_region)
		nla_put_u32(m, PCA_A_REGION_ID, r->region);
	if (r->has_id)
		nla_put_u32(m, PCA_A_MIG_ID, r->id);
	if (r->peer) {
		nla_put_u32(m, PCA_A_MIG_ROLE, r->role);
		nla_put_string(m, PCA_A_MIG_PEER, r->peer);
	}
	if (r->args)
		nla_put_string(m, PCA_A_MIG_ARGS, r->args);
	if (r->has_phase)
		nla_put_u32(m, PCA_A_MIG_PHASE, r->phase);
	if (r->progress)
		nla_put(m, PCA_A_MIG_PROGRESS, sizeof(*r->progress),
			r->progress);
	s->err = 1;
	nl_send_auto(s->sk, m);
	nlmsg_free(m);
	while (s->err == 1 && poll(&p, 1, 2000) > 0)
		nl_recvmsgs_default(s->sk);
	return s->err == 1 ? -ETIMEDOUT : s->err;
}

/*
 * The VMM asks for @r's migration and the reply names it: the reply's
 * event (the migration id in ->id).
 */
static struct seen *vmm_requested(struct pca_test_ctx *t, struct side *vmm,
				  const struct req *r)
{
	struct seen *e;

	PCA_ASSERT_EQ(t, side_req(vmm, PCA_CMD_MIGRATE, r), 0);
	e = side_wait(vmm, PCA_CMD_MIGRATE, PCA_MIG_REQUESTED);
	PCA_ASSERT(t, e, "no reply with the migration id");
	return e;
}

/* @r's migration asked for by @vmm and taken by @agent: *@r names it. */
static void agent_accepted(struct pca_test_ctx *t, struct side *agent,
			   struct side *vmm, struct req *r)
{
	*r = (struct req){ .id = vmm_requested(t, vmm, r)->id, .has_id = 1 };
	PCA_ASSERT_EQ(t, side_req(agent, PCA_CMD_MIGRATE_ACCEPT, r), 0);
}

static uint32_t region_id_new(struct pca_test_ctx *t, int *fd)
{
	uint32_t id;

	*fd = PCA_ASSERT_OK(t, pca_region_create(16 * PAGE, 0, &id));
	return id;
}

static void test_no_agent_listening(struct pca_test_ctx *t)
{
	struct side vmm;
	int fd;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "127.0.0.1:7000" };

	side_open(t, &vmm, PCA_MCGRP_VMM);
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE, &r), -ENOTCONN);
	side_close(&vmm);
	close(fd);
}

static void test_full_flow(struct pca_test_ctx *t)
{
	struct pca_mig_progress pr = { .pages_total = 1000, .pages_sent = 400,
				       .round = 2 };
	struct side agent, vmm, other;
	struct seen *e;
	uint32_t id;
	int fd;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "10.0.0.2:4444", .args = "rounds=3",
			 .role = PCA_MIG_SOURCE };

	side_open(t, &agent, PCA_MCGRP_AGENT);
	side_open(t, &vmm, PCA_MCGRP_VMM);
	side_open(t, &other, NULL);

	id = vmm_requested(t, &vmm, &r)->id;
	e = side_wait(&agent, PCA_CMD_MIGRATE_REQUEST, PCA_MIG_REQUESTED);
	PCA_ASSERT(t, e, "agent heard no request");
	PCA_EXPECT_EQ(t, e->id, id);
	PCA_EXPECT(t, !strcmp(e->peer, "10.0.0.2:4444") &&
		   !strcmp(e->args, "rounds=3"), "peer/args");

	r = (struct req){ .id = id, .has_id = 1 };
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_ACCEPT, &r), 0);
	PCA_EXPECT_EQ(t, side_req(&other, PCA_CMD_MIGRATE_ACCEPT, &r), -EBUSY);
	PCA_EXPECT(t, side_wait(&vmm, PCA_CMD_MIGRATE_EVENT, PCA_MIG_ACCEPTED),
		   "no ACCEPTED event");

	r.has_phase = 1;
	r.phase = PCA_MIG_PRECOPY;
	r.progress = &pr;
	PCA_EXPECT(t, side_refused(&other,
				   side_req(&other, PCA_CMD_MIGRATE_UPDATE, &r),
				   EPERM, "only the agent that accepted"),
		   "UPDATE from another socket");
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	e = side_wait(&vmm, PCA_CMD_MIGRATE_EVENT, PCA_MIG_PRECOPY);
	PCA_ASSERT(t, e, "no PRECOPY event");
	PCA_EXPECT_EQ(t, e->progress.pages_sent, 400);

	/* Only forward, and only the VMM pauses. */
	r.progress = NULL;
	r.phase = PCA_MIG_ACCEPTED;
	PCA_EXPECT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), -EINVAL);
	r.phase = PCA_MIG_PAUSED;
	PCA_EXPECT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), -EINVAL);
	r.has_phase = 0;
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_PAUSED, &r), -EINVAL);

	r.has_phase = 1;
	r.phase = PCA_MIG_SWITCHOVER;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	PCA_ASSERT(t, side_wait(&vmm, PCA_CMD_MIGRATE_EVENT,
				PCA_MIG_SWITCHOVER), "no SWITCHOVER event");
	r.has_phase = 0;
	PCA_EXPECT(t, side_refused(&other,
				   side_req(&other, PCA_CMD_MIGRATE_PAUSED, &r),
				   EPERM, "only the socket that asked"),
		   "PAUSED from another socket");
	PCA_ASSERT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_PAUSED, &r), 0);
	PCA_EXPECT(t, side_wait(&agent, PCA_CMD_MIGRATE_EVENT, PCA_MIG_PAUSED),
		   "agent not told of the pause");

	r.has_phase = 1;
	r.phase = PCA_MIG_POSTCOPY;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	r.phase = PCA_MIG_COMPLETED;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	PCA_EXPECT(t, side_wait(&vmm, PCA_CMD_MIGRATE_EVENT, PCA_MIG_COMPLETED),
		   "no COMPLETED event");
	r.phase = PCA_MIG_FAILED;
	PCA_EXPECT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), -EINVAL);
	r.has_phase = 0;
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_CANCEL, &r), -EINVAL);

	/* GET keeps the result, with the last progress. */
	PCA_ASSERT_EQ(t, side_req(&other, PCA_CMD_MIGRATE_GET, &r), 0);
	e = side_wait(&other, PCA_CMD_MIGRATE_GET, PCA_MIG_COMPLETED);
	PCA_ASSERT(t, e, "GET");
	PCA_EXPECT_EQ(t, e->progress.pages_total, 1000);

	/* The owner goes: so does the migration. */
	side_close(&vmm);
	PCA_EXPECT_EQ(t, side_req(&other, PCA_CMD_MIGRATE_GET, &r), -ENOENT);
	side_close(&agent);
	side_close(&other);
	close(fd);
}

/*
 * A destination's VMM says the guest runs again: only its owner, only a
 * destination, only once the agent reported POSTCOPY (or the end), only
 * once; the agent hears it, and so do the VMMs, as a flag on the state.
 */
static void test_running(struct pca_test_ctx *t)
{
	struct side agent, vmm, other;
	struct seen *e;
	uint32_t id;
	int fd, i;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "10.0.0.1:4444",
			 .role = PCA_MIG_DESTINATION };

	side_open(t, &agent, PCA_MCGRP_AGENT);
	side_open(t, &vmm, PCA_MCGRP_VMM);
	side_open(t, &other, NULL);

	e = vmm_requested(t, &vmm, &r);
	id = e->id;
	PCA_EXPECT(t, !e->running, "running before anything ran");
	r = (struct req){ .id = id, .has_id = 1 };
	PCA_EXPECT(t, side_refused(&vmm,
				   side_req(&vmm, PCA_CMD_MIGRATE_RUNNING, &r),
				   EINVAL, "once the agent resumed it"),
		   "RUNNING before the agent accepted");
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_ACCEPT, &r), 0);
	r.has_phase = 1;
	r.phase = PCA_MIG_PRECOPY;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	r.has_phase = 0;
	PCA_EXPECT(t, side_refused(&vmm,
				   side_req(&vmm, PCA_CMD_MIGRATE_RUNNING, &r),
				   EINVAL, "once the agent resumed it"),
		   "RUNNING in precopy");
	r.has_phase = 1;
	r.phase = PCA_MIG_POSTCOPY;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	r.has_phase = 0;
	PCA_EXPECT(t, side_refused(&other,
				   side_req(&other, PCA_CMD_MIGRATE_RUNNING, &r),
				   EPERM, "only the socket that asked"),
		   "RUNNING from another socket");
	/* the agent may not say it either */
	PCA_EXPECT(t, side_refused(&agent,
				   side_req(&agent, PCA_CMD_MIGRATE_RUNNING, &r),
				   EPERM, "only the socket that asked"),
		   "RUNNING from the agent");
	agent.nseen = 0;
	PCA_ASSERT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_RUNNING, &r), 0);
	e = side_wait(&agent, PCA_CMD_MIGRATE_EVENT, PCA_MIG_POSTCOPY);
	PCA_ASSERT(t, e, "the agent was not told");
	PCA_EXPECT(t, e->running, "no running flag in the agent's event");
	PCA_EXPECT(t, side_refused(&vmm,
				   side_req(&vmm, PCA_CMD_MIGRATE_RUNNING, &r),
				   EALREADY, "reported running already"),
		   "RUNNING twice");
	/* the state keeps it */
	other.nseen = 0;
	PCA_ASSERT_EQ(t, side_req(&other, PCA_CMD_MIGRATE_GET, &r), 0);
	e = side_wait(&other, PCA_CMD_MIGRATE_GET, PCA_MIG_POSTCOPY);
	PCA_ASSERT(t, e, "GET");
	PCA_EXPECT(t, e->running, "GET lost the running flag");
	side_drain(&vmm, 100);
	for (i = 0; i < vmm.nseen; i++)
		if (vmm.seen[i].cmd == PCA_CMD_MIGRATE_EVENT &&
		    vmm.seen[i].running)
			break;
	PCA_EXPECT(t, i < vmm.nseen, "the vmm group heard no running flag");
	side_close(&vmm);
	side_close(&agent);
	side_close(&other);
	close(fd);
}

/* The agent's update @phase of @r's migration, and the VMM's event of it. */
static struct seen *update_seen(struct side *agent, struct side *vmm,
				struct req *r, uint32_t phase)
{
	r->has_phase = 1;
	r->phase = phase;
	vmm->nseen = 0;
	if (side_req(agent, PCA_CMD_MIGRATE_UPDATE, r))
		return NULL;
	return side_wait(vmm, PCA_CMD_MIGRATE_EVENT, phase);
}

/*
 * Recovering comes and goes: from any phase an agent reported, back to
 * it (or a later one) with the counts in the progress; not back behind
 * it, not into paused unless the migration was paused, and never after
 * the end.  The VMM's steps still work while the agents reconnect.
 */
static void test_recovering(struct pca_test_ctx *t)
{
	struct pca_mig_progress pr = { .pages_total = 1000, .reconnects = 1,
				       .broken_ns = 1500000000ULL };
	struct side agent, vmm;
	struct seen *e;
	int fd;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "10.0.0.1:4444",
			 .role = PCA_MIG_DESTINATION };

	side_open(t, &agent, PCA_MCGRP_AGENT);
	side_open(t, &vmm, PCA_MCGRP_VMM);

	/* a destination: recovering in precopy and in postcopy */
	r = (struct req){ .id = vmm_requested(t, &vmm, &r)->id, .has_id = 1 };
	/* not before an agent took it */
	r.has_phase = 1;
	r.phase = PCA_MIG_RECOVERING;
	PCA_EXPECT(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r) < 0,
		   "RECOVERING before ACCEPT");
	r.has_phase = 0;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_ACCEPT, &r), 0);
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_PRECOPY),
		   "no PRECOPY event");
	r.progress = &pr;
	e = update_seen(&agent, &vmm, &r, PCA_MIG_RECOVERING);
	PCA_ASSERT(t, e, "no RECOVERING event");
	PCA_EXPECT_EQ(t, e->progress.reconnects, 1);
	PCA_EXPECT_EQ(t, e->progress.broken_ns, 1500000000ULL);
	/* progress while recovering is no change of phase */
	pr.broken_ns = 2000000000ULL;
	e = update_seen(&agent, &vmm, &r, PCA_MIG_RECOVERING);
	PCA_ASSERT(t, e, "no second RECOVERING event");
	PCA_EXPECT_EQ(t, e->progress.broken_ns, 2000000000ULL);
	/* not back behind the phase it interrupted, nor into paused */
	r.phase = PCA_MIG_ACCEPTED;
	PCA_EXPECT(t, side_refused(&agent,
				   side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r),
				   EINVAL, "only move forward"),
		   "back to ACCEPTED");
	r.phase = PCA_MIG_PAUSED;
	PCA_EXPECT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), -EINVAL);
	e = update_seen(&agent, &vmm, &r, PCA_MIG_PRECOPY);
	PCA_ASSERT(t, e, "no PRECOPY event after the recovery");
	PCA_EXPECT_EQ(t, e->progress.reconnects, 1);
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_POSTCOPY),
		   "no POSTCOPY event");
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_RECOVERING),
		   "no RECOVERING event in postcopy");
	/* the guest may be reported running meanwhile */
	r.has_phase = 0;
	r.progress = NULL;
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_RUNNING, &r), 0);
	r.progress = &pr;
	r.has_phase = 1;
	r.phase = PCA_MIG_PRECOPY;
	PCA_EXPECT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), -EINVAL);
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_POSTCOPY),
		   "no POSTCOPY event after the recovery");
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_COMPLETED),
		   "no COMPLETED event");
	r.phase = PCA_MIG_RECOVERING;
	PCA_EXPECT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), -EINVAL);

	/* a source: the pause while recovering, a cancel while recovering */
	close(fd);
	r = (struct req){ .region = region_id_new(t, &fd), .has_region = 1,
			  .peer = "10.0.0.1:4444", .role = PCA_MIG_SOURCE };
	vmm.nseen = 0;
	agent_accepted(t, &agent, &vmm, &r);
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_SWITCHOVER),
		   "no SWITCHOVER event");
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_RECOVERING),
		   "no RECOVERING event in the switchover");
	r.has_phase = 0;
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_PAUSED, &r), 0);
	/* the agent goes on paused: the pause came meanwhile */
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_PAUSED),
		   "no PAUSED event after the recovery");
	PCA_ASSERT(t, update_seen(&agent, &vmm, &r, PCA_MIG_RECOVERING),
		   "no RECOVERING event while paused");
	r.has_phase = 0;
	agent.nseen = 0;
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_CANCEL, &r), 0);
	PCA_EXPECT(t, side_wait(&agent, PCA_CMD_MIGRATE_EVENT,
				PCA_MIG_CANCELLED),
		   "a recovering migration was not cancelled");
	side_close(&vmm);
	side_close(&agent);
	close(fd);
}

/* A source's guest does not "run again" through the relay. */
static void test_running_source_refused(struct pca_test_ctx *t)
{
	struct side agent, vmm;
	int fd;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "10.0.0.1:4444", .role = PCA_MIG_SOURCE };

	side_open(t, &agent, PCA_MCGRP_AGENT);
	side_open(t, &vmm, PCA_MCGRP_VMM);
	agent_accepted(t, &agent, &vmm, &r);
	r.has_phase = 1;
	r.phase = PCA_MIG_POSTCOPY;
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_UPDATE, &r), 0);
	r.has_phase = 0;
	PCA_EXPECT(t, side_refused(&vmm,
				   side_req(&vmm, PCA_CMD_MIGRATE_RUNNING, &r),
				   EINVAL, "only a destination"),
		   "RUNNING for a source");
	side_close(&vmm);
	side_close(&agent);
	close(fd);
}

static void test_agent_death_fails(struct pca_test_ctx *t)
{
	struct side agent, vmm;
	struct seen *e;
	int fd;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "h:1", .role = PCA_MIG_DESTINATION };

	side_open(t, &agent, PCA_MCGRP_AGENT);
	side_open(t, &vmm, PCA_MCGRP_VMM);
	PCA_ASSERT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE, &r), 0);
	e = side_wait(&agent, PCA_CMD_MIGRATE_REQUEST, PCA_MIG_REQUESTED);
	PCA_ASSERT(t, e, "request");
	r = (struct req){ .id = e->id, .has_id = 1 };
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_ACCEPT, &r), 0);
	side_close(&agent);
	e = side_wait(&vmm, PCA_CMD_MIGRATE_EVENT, PCA_MIG_FAILED);
	PCA_ASSERT(t, e, "no FAILED event");
	PCA_EXPECT_EQ(t, e->error, ECONNABORTED);
	side_close(&vmm);
	close(fd);
}

static void test_cancel_tells_agent(struct pca_test_ctx *t)
{
	struct side agent, vmm;
	struct seen *e;
	int fd;
	struct req r = { .region = region_id_new(t, &fd), .has_region = 1,
			 .peer = "h:1" };

	side_open(t, &agent, PCA_MCGRP_AGENT);
	side_open(t, &vmm, NULL);
	PCA_ASSERT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE, &r), 0);
	e = side_wait(&agent, PCA_CMD_MIGRATE_REQUEST, PCA_MIG_REQUESTED);
	PCA_ASSERT(t, e, "request");
	r = (struct req){ .id = e->id, .has_id = 1 };
	PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_ACCEPT, &r), 0);
	PCA_EXPECT(t, side_refused(&agent,
				   side_req(&agent, PCA_CMD_MIGRATE_CANCEL, &r),
				   EPERM, "only the socket that asked"),
		   "CANCEL from the agent");
	PCA_ASSERT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_CANCEL, &r), 0);
	e = side_wait(&agent, PCA_CMD_MIGRATE_EVENT, PCA_MIG_CANCELLED);
	PCA_ASSERT(t, e, "agent not told");
	PCA_EXPECT_EQ(t, e->error, ECANCELED);
	r.id = 0x7ffffff0;
	PCA_EXPECT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE_GET, &r), -ENOENT);
	side_close(&agent);
	side_close(&vmm);
	close(fd);
}

/*
 * An agent that accepted migrations closes its socket while the VMM
 * cancels them, and an unprivileged process binds the agent's port id as
 * soon as it is free: the cancel events meant for the agent must not reach
 * it.  The relay used to address the agent by port id, which netlink frees
 * before it tells the module of the close.  The agent is also attached to
 * many regions, as fault queues, which the module's release handler
 * detaches before it comes to the relay: the window is wider, as on a busy
 * host.
 */
#define REUSE_MIGS	30
#define REUSE_IDLE	150
#define REUSE_MS	6000

struct thief_result {
	int bound;		/* the port was ours within the time limit */
	int msgs;		/* messages received on it */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

/* As nobody: bind each port the parent names and count what arrives. */
static void port_thief(int in, int out)
{
	static uint8_t buf[64 * 1024];
	uint32_t portid;

	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		_exit(2);
	while (read(in, &portid, sizeof(portid)) == sizeof(portid) && portid) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK,
					  .nl_pid = portid };
		struct thief_result res = { 0 };
		uint64_t end = now_ms() + pca_scaled_ms(2000);
		socklen_t len = sizeof(sa);
		int fd;

		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC,
			    NETLINK_GENERIC);
		if (fd < 0)
			_exit(3);
		/* taken while the agent's socket lives: try until it is not */
		while (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
		       errno == EADDRINUSE && now_ms() < end)
			;
		res.bound = !getsockname(fd, (struct sockaddr *)&sa, &len) &&
			    sa.nl_pid == portid;
		/* the agent's events come at once, if they come */
		end = now_ms() + pca_scaled_ms(60);
		while (res.bound && now_ms() < end) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			struct nlmsghdr *h;
			ssize_t n;

			if (poll(&p, 1, 10) <= 0)
				continue;
			n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
			for (h = (struct nlmsghdr *)buf;
			     n > 0 && NLMSG_OK(h, (size_t)n);
			     h = NLMSG_NEXT(h, n))
				res.msgs++;
		}
		close(fd);
		if (write(out, &res, sizeof(res)) != sizeof(res))
			_exit(4);
	}
	_exit(0);
}

struct canceller {
	pthread_t th;
	struct side *vmm;
	uint32_t ids[REUSE_MIGS];
	atomic_int sent;
	int cancelled;
};

static void *cancel_fn(void *arg)
{
	struct canceller *c = arg;
	int i;

	for (i = 0; i < REUSE_MIGS; i++) {
		struct req r = { .id = c->ids[i], .has_id = 1 };

		c->vmm->nseen = 0;
		if (!side_req(c->vmm, PCA_CMD_MIGRATE_CANCEL, &r))
			c->cancelled++;
		atomic_fetch_add(&c->sent, 1);
	}
	return NULL;
}

static void test_agent_port_reuse(struct pca_test_ctx *t)
{
	int idle[REUSE_IDLE], to_thief[2], from_thief[2], fd, i, status;
	int trials = 0, bound = 0, leaked = 0, cancelled = 0;
	uint32_t idle_id[REUSE_IDLE], region = region_id_new(t, &fd);
	unsigned int seed = 3;
	uint64_t end;
	pid_t thief;

	PCA_ASSERT_OK(t, pipe(to_thief));
	PCA_ASSERT_OK(t, pipe(from_thief));
	fflush(stdout);
	thief = fork();
	PCA_ASSERT(t, thief >= 0, "fork");
	if (!thief) {
		close(pca_client_fd(t->c));
		port_thief(to_thief[0], from_thief[1]);
	}
	for (i = 0; i < REUSE_IDLE; i++)
		idle[i] = PCA_ASSERT_OK(t, pca_region_create(PAGE, 0,
							     &idle_id[i]));

	end = now_ms() + REUSE_MS;
	while (now_ms() < end) {
		struct pollfd p = { .fd = from_thief[0], .events = POLLIN };
		struct canceller c = { 0 };
		int close_after = 5 + rand_r(&seed) % (REUSE_MIGS - 10);
		uint64_t give_up = now_ms() + pca_scaled_ms(5000);
		struct thief_result res;
		struct side agent, vmm;
		uint32_t portid;
		struct seen *e;

		side_open(t, &agent, PCA_MCGRP_AGENT);
		side_open(t, &vmm, NULL);
		for (i = 0; i < REUSE_IDLE; i++) {
			struct req r = { .region = idle_id[i],
					 .has_region = 1 };

			agent.nseen = 0;
			PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_ATTACH, &r),
				      0);
		}
		for (i = 0; i < REUSE_MIGS; i++) {
			struct req r = { .region = region, .has_region = 1,
					 .peer = "h:1" };

			vmm.nseen = 0;
			PCA_ASSERT_EQ(t, side_req(&vmm, PCA_CMD_MIGRATE, &r),
				      0);
			e = side_wait(&vmm, PCA_CMD_MIGRATE, PCA_MIG_REQUESTED);
			PCA_ASSERT(t, e, "no migration id");
			r = (struct req){ .id = e->id, .has_id = 1 };
			agent.nseen = 0;
			PCA_ASSERT_EQ(t, side_req(&agent, PCA_CMD_MIGRATE_ACCEPT,
						  &r), 0);
			c.ids[i] = r.id;
		}
		portid = nl_socket_get_local_port(agent.sk);
		PCA_ASSERT_EQ(t, write(to_thief[1], &portid, sizeof(portid)),
			      sizeof(portid));
		/* the VMM cancels them all, and the agent goes meanwhile */
		c.vmm = &vmm;
		PCA_ASSERT_EQ(t, pthread_create(&c.th, NULL, cancel_fn, &c),
			      0);
		while (atomic_load(&c.sent) < close_after &&
		       now_ms() < give_up)
			sched_yield();
		side_close(&agent);
		pthread_join(c.th, NULL);
		PCA_ASSERT(t, poll(&p, 1, pca_scaled_ms(5000)) == 1,
			   "the thief does not answer");
		PCA_ASSERT_EQ(t, read(from_thief[0], &res, sizeof(res)),
			      sizeof(res));
		side_close(&vmm);
		trials++;
		bound += res.bound;
		leaked += res.msgs;
		cancelled += c.cancelled;
	}
	i = 0;	/* port 0: the thief is done */
	PCA_EXPECT_EQ(t, write(to_thief[1], &i, sizeof(i)), sizeof(i));
	PCA_EXPECT_EQ(t, waitpid(thief, &status, 0), thief);
	PCA_EXPECT(t, WIFEXITED(status) && !WEXITSTATUS(status),
		   "thief status %#x", status);
	pca_t_diag(t, "%d trials, port taken over in %d, %d migrations cancelled, %d messages reached the new owner",
		   trials, bound, cancelled, leaked);
	PCA_EXPECT_EQ(t, leaked, 0);
	/* a run in which the port was never taken over proves nothing */
	PCA_EXPECT(t, bound > 0, "the thief never got the port");
	PCA_EXPECT(t, cancelled > 0, "nothing was cancelled");
	for (i = 0; i < REUSE_IDLE; i++)
		close(idle[i]);
	close(fd);
}

static uint32_t unpriv_region;

static void unpriv_part(struct pca_test_ctx *t)
{
	struct side s;
	int g;
	struct req r = { .region = unpriv_region, .has_region = 1,
			 .peer = "h:1" };

	side_open(t, &s, NULL);
	g = genl_ctrl_resolve_grp(s.sk, POSTCOPY_ASSIST_GENL_NAME,
				  PCA_MCGRP_AGENT);
	PCA_ASSERT(t, g >= 0, "group");
	/* the family asks the core to check CAP_SYS_ADMIN for the group */
	PCA_EXPECT_EQ(t, nl_socket_add_membership(s.sk, g), -NLE_PERM);
	PCA_EXPECT(t, side_refused(&s, side_req(&s, PCA_CMD_MIGRATE, &r),
				   EPERM, PCA_MSG_NEED_ADMIN),
		   "MIGRATE as nobody");
	side_close(&s);
}

static void test_unprivileged_refused(struct pca_test_ctx *t)
{
	int fd;

	unpriv_region = region_id_new(t, &fd);
	pca_run_as(t, 65534, 65534, unpriv_part);
	close(fd);
}

PCA_TEST_F(no_agent_listening, test_no_agent_listening,
	 PCA_FEATURE_MIGRATE)
PCA_TEST_F(full_flow, test_full_flow, PCA_FEATURE_MIGRATE)
PCA_TEST_F(running, test_running, PCA_FEATURE_MIGRATE)
PCA_TEST_F(recovering, test_recovering, PCA_FEATURE_MIGRATE)
PCA_TEST_F(running_source_refused, test_running_source_refused,
	   PCA_FEATURE_MIGRATE)
PCA_TEST_F(agent_death_fails, test_agent_death_fails,
	 PCA_FEATURE_MIGRATE)
PCA_TEST_F(cancel_tells_agent, test_cancel_tells_agent,
	 PCA_FEATURE_MIGRATE)
PCA_TEST_F(agent_port_reuse, test_agent_port_reuse,
	 PCA_FEATURE_MIGRATE, .timeout = 60)
PCA_TEST_F(unprivileged_refused, test_unprivileged_refused,
	 PCA_FEATURE_MIGRATE)

TEST_HARNESS_MAIN
