// SPDX-License-Identifier: GPL-2.0
/*
 * limits_test: the limits each network namespace has (migrations in the
 * relay, regions, bytes of regions), their module parameters, and that
 * one namespace at its limit leaves the others working.
 *
 * The namespaced parts run as nobody in a user and network namespace of
 * their own (what unshare -Urn gives any user), root inside it.  They
 * reach the device through a node nobody owns (pca_dev_node_for()), as if
 * an operator had given it to that user: the module's own checks apply,
 * and only its limits stop them.  A refused migration must carry the
 * module's errno (EDQUOT) and extack text; a refused region its errno,
 * which nothing else in the module returns.
 */
#include "pca_harness.h"

#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#define PAGE		4096ULL
#define NOBODY		65534
#define NS_DEV		"/tmp/limits_test-dev"
#define PARAMS		"/sys/module/postcopy_assist/parameters/"
#define TIB		(1ULL << 40)

#define MSG_NETNS_MIGRATIONS \
	"network namespace reached its migration limit (netns_max_migrations)"
#define MSG_INIT_MIGRATIONS \
	"initial network namespace reached its migration limit (init_net_max_migrations)"

/* -------------------------------------------------------------------------
 * Module parameters
 */

static int param_read(const char *name, uint64_t *val)
{
	char path[256], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENODATA;
	buf[n] = '\0';
	*val = strtoull(buf, NULL, 0);
	return 0;
}

static uint64_t param_get(struct pca_test_ctx *t, const char *name)
{
	uint64_t val = 0;
	int ret = param_read(name, &val);

	if (ret)
		PCA_FATAL(t, "reading parameter %s: %s", name, strerror(-ret));
	return val;
}

/*
 * The limit a namespaced part fills: the parameter, or its documented
 * default where the module has no such parameter, so that a module
 * without limits fails on what its namespaces can do, not on a file.
 */
static uint64_t param_or(struct pca_test_ctx *t, const char *name,
			 uint64_t dflt)
{
	uint64_t val = 0;
	int ret = param_read(name, &val);

	if (ret == -ENOENT) {
		pca_t_diag(t, "no parameter %s: expecting %llu", name,
			   (unsigned long long)dflt);
		return dflt;
	}
	if (ret)
		PCA_FATAL(t, "reading parameter %s: %s", name, strerror(-ret));
	return val;
}

static int param_write(const char *name, const char *val)
{
	char path[256];
	ssize_t n;
	int fd, err = 0;

	snprintf(path, sizeof(path), PARAMS "%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Values changed by a test, put back when its process exits. */
#define MAX_SAVED	8
static struct {
	const char *name;
	char val[32];
} saved[MAX_SAVED];
static int nsaved;
static pid_t saved_by;

static void params_restore(void)
{
	/* the namespaced children inherit the handler; only the saver acts */
	if (getpid() != saved_by)
		return;
	while (nsaved > 0) {
		nsaved--;
		param_write(saved[nsaved].name, saved[nsaved].val);
	}
}

static void param_set(struct pca_test_ctx *t, const char *name,
		      const char *val)
{
	int i, ret;

	for (i = 0; i < nsaved && strcmp(saved[i].name, name); i++)
		;
	if (i == nsaved) {
		PCA_ASSERT(t, nsaved < MAX_SAVED, "too many parameters");
		if (!saved_by) {
			saved_by = getpid();
			atexit(params_restore);
		}
		saved[i].name = name;
		snprintf(saved[i].val, sizeof(saved[i].val), "%llu",
			 (unsigned long long)param_get(t, name));
		nsaved++;
	}
	ret = param_write(name, val);
	if (ret)
		PCA_FATAL(t, "setting %s to %s: %s", name, val, strerror(-ret));
}

/* -------------------------------------------------------------------------
 * Children in a user and network namespace of their own
 */

struct nschild {
	pid_t pid;
	int to;		/* parent -> child */
	int from;	/* child -> parent */
};

/*
 * Whether nobody may create a user and network namespace here: kernels
 * without CONFIG_USER_NS (the debug lane's) or with it restricted skip the
 * tests that need one, rather than fail in a child.
 */
static void need_userns(struct pca_test_ctx *t)
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork");
	if (!pid) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(2);
		_exit(unshare(CLONE_NEWUSER | CLONE_NEWNET) ? 1 : 0);
	}
	PCA_ASSERT(t, waitpid(pid, &status, 0) == pid, "waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 2)
		PCA_FATAL(t, "dropping to nobody failed: status %#x", status);
	if (WEXITSTATUS(status))
		PCA_SKIP(t, "no unprivileged user namespaces here");
}

/* Drop to nobody, then unshare -Urn: root of a new user and net namespace. */
static void enter_userns(struct pca_test_ctx *t)
{
	static const char *const maps[] = { "/proc/self/setgroups",
					    "/proc/self/gid_map",
					    "/proc/self/uid_map" };
	char map[32];
	int i, fd;

	if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
		PCA_FATAL(t, "dropping to nobody: %s", strerror(errno));
	/* setuid() made us undumpable, which keeps /proc/self root's */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0))
		PCA_FATAL(t, "PR_SET_DUMPABLE: %s", strerror(errno));
	if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
		if (errno == EPERM || errno == ENOSPC)
			PCA_SKIP(t, "no unprivileged user namespaces: %s",
				 strerror(errno));
		PCA_FATAL(t, "unshare: %s", strerror(errno));
	}
	snprintf(map, sizeof(map), "0 %u 1", NOBODY);
	for (i = 0; i < 3; i++) {
		const char *val = i ? map : "deny";

		fd = open(maps[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, val, strlen(val)) < 0)
			PCA_FATAL(t, "%s: %s", maps[i], strerror(errno));
		close(fd);
	}
	if (geteuid() != 0)
		PCA_FATAL(t, "not root in the new namespace: uid %u", geteuid());
}

/* Start @fn in a namespaced child with a client of its own. */
static void ns_start(struct pca_test_ctx *t, struct nschild *k,
		     void (*fn)(struct pca_test_ctx *t, struct nschild *k))
{
	int to[2], from[2];

	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC))
		PCA_FATAL(t, "pipe: %s", strerror(errno));
	fflush(stdout);
	k->pid = fork();
	if (k->pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!k->pid) {
		struct pca_test_ctx ct = *t;

		/* the parent's socket is not ours to use */
		ct.c = NULL;
		close(to[1]);
		close(from[0]);
		k->to = to[0];
		k->from = from[1];
		enter_userns(&ct);
		if (pca_client_open(&ct.c))
			PCA_FATAL(&ct, "client in the namespace: %s",
				  pca_strerror(NULL));
		fn(&ct, k);
		pca_client_close(ct.c);
		pca_part_exit(&ct);
	}
	close(to[0]);
	close(from[1]);
	k->to = to[1];
	k->from = from[0];
}

static void ns_say(int fd, char what)
{
	if (write(fd, &what, 1) != 1)
		return;	/* the other side is gone; its status tells why */
}

/* The next word from @fd, or 0 when it closed or said nothing in time. */
static char ns_hear(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char what = 0;

	if (poll(&p, 1, pca_scaled_ms(20000)) <= 0 || read(fd, &what, 1) != 1)
		return 0;
	return what;
}

/* Wait for the child; its failures and skips count for @t. */
static void ns_finish(struct pca_test_ctx *t, struct nschild *k)
{
	int status;

	close(k->to);
	close(k->from);
	while (waitpid(k->pid, &status, 0) < 0)
		if (errno != EINTR)
			PCA_FATAL(t, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP)
		pca_test_exit(t, KSFT_SKIP);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != KSFT_PASS)
		PCA_FAIL(t, "namespaced part failed (status %#x)", status);
}

/* -------------------------------------------------------------------------
 * Helpers
 */

/* PCA_IOC_REGION_CREATE on the device fd @dev: region fd or -errno. */
static int region_create_on(int dev, uint64_t size, uint32_t *id)
{
	struct pca_region_create rc = { .size = size };
	int fd = ioctl(dev, PCA_IOC_REGION_CREATE, &rc);

	if (fd < 0)
		return -errno;
	if (id)
		*id = rc.region_id;
	return fd;
}

static int ns_dev_open(struct pca_test_ctx *t)
{
	int fd = open(NS_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		PCA_FATAL(t, "open %s: %s", NS_DEV, strerror(errno));
	return fd;
}

/* A client listening on the agent group, so that MIGRATE is relayed. */
static struct pca_client *agent_open(struct pca_test_ctx *t)
{
	struct pca_client *c;

	if (pca_client_open(&c))
		PCA_FATAL(t, "agent client: %s", pca_strerror(NULL));
	if (pca_join_group(c, PCA_MCGRP_AGENT))
		PCA_FATAL(t, "joining the agent group: %s", pca_strerror(c));
	return c;
}

static int migrate(struct pca_client *c, uint32_t region)
{
	uint32_t id;

	return pca_migrate(c, region, PCA_MIG_SOURCE, "h:1", NULL, &id);
}

/* Regions of the caller's namespace: how many, how many bytes. */
static void region_usage(struct pca_test_ctx *t, uint64_t *n, uint64_t *bytes)
{
	struct pca_region_info *v = NULL;
	size_t i, cnt = 0;

	PCA_ASSERT_OK(t, pca_region_list(t->c, &v, &cnt));
	*n = cnt;
	*bytes = 0;
	for (i = 0; i < cnt; i++)
		*bytes += v[i].size;
	free(v);
}

/* Limits the namespaced children were told of by the parent. */
static uint64_t ns_max_migrations, ns_max_regions, ns_max_bytes;

/* -------------------------------------------------------------------------
 * Tests
 */

static void test_param_defaults(struct pca_test_ctx *t)
{
	static const struct {
		const char *name;
		uint64_t val;
	} defaults[] = {
		{ "init_net_max_migrations", 1024 },
		{ "init_net_max_regions", 4096 },
		{ "init_net_max_region_bytes", 64 * TIB },
		{ "netns_max_migrations", 64 },
		{ "netns_max_regions", 64 },
		{ "netns_max_region_bytes", TIB },
	};
	unsigned int i;

	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		uint64_t v = param_get(t, defaults[i].name);

		if (v != defaults[i].val)
			PCA_FAIL(t, "%s is %llu, documented %llu",
				 defaults[i].name, (unsigned long long)v,
				 (unsigned long long)defaults[i].val);
	}

	/* sizes take suffixes; nonsense is refused and changes nothing */
	param_set(t, "netns_max_region_bytes", "3G");
	PCA_EXPECT_EQ(t, param_get(t, "netns_max_region_bytes"), 3ULL << 30);
	PCA_EXPECT_ERR(t, param_write("netns_max_region_bytes", "lots"),
		       EINVAL);
	PCA_EXPECT_ERR(t, param_write("netns_max_region_bytes", "4Gx"),
		       EINVAL);
	PCA_EXPECT_EQ(t, param_get(t, "netns_max_region_bytes"), 3ULL << 30);
}

/* The namespace creates migrations until its limit refuses one. */
static void fill_migrations(struct pca_test_ctx *t, struct nschild *k)
{
	struct pca_client *agent = agent_open(t);
	int dev = ns_dev_open(t), rfd;
	uint32_t region = 0;
	uint64_t n;

	rfd = PCA_ASSERT_OK(t, region_create_on(dev, PAGE, &region));
	for (n = 0; n < ns_max_migrations; n++)
		if (migrate(t->c, region))
			PCA_FATAL(t, "migration %llu of %llu: %s",
				  (unsigned long long)n + 1,
				  (unsigned long long)ns_max_migrations,
				  pca_strerror(t->c));
	PCA_EXPECT_REFUSED(t, migrate(t->c, region), EDQUOT,
			   MSG_NETNS_MIGRATIONS);
	ns_say(k->from, 'F');
	PCA_ASSERT_EQ(t, ns_hear(k->to), 'G');

	/* The VMM socket goes, with its migrations: there is room again. */
	pca_client_close(t->c);
	if (pca_client_open(&t->c))
		PCA_FATAL(t, "client: %s", pca_strerror(NULL));
	PCA_EXPECT_OK(t, migrate(t->c, region));
	pca_client_close(agent);
	close(rfd);
	close(dev);
	ns_say(k->from, 'D');
}

/* A namespace that has nothing yet relays a migration. */
static void one_migration(struct pca_test_ctx *t, struct nschild *k)
{
	struct pca_client *agent = agent_open(t);
	int dev = ns_dev_open(t), rfd;
	uint32_t region = 0;

	(void)k;
	rfd = PCA_ASSERT_OK(t, region_create_on(dev, PAGE, &region));
	PCA_EXPECT_OK(t, migrate(t->c, region));
	pca_client_close(agent);
	close(rfd);
	close(dev);
}

static void test_netns_migrations(struct pca_test_ctx *t)
{
	struct pca_client *agent;
	struct nschild a, b;
	uint32_t region = 0;
	int rfd;

	need_userns(t);
	ns_max_migrations = param_or(t, "netns_max_migrations", 64);
	PCA_ASSERT(t, ns_max_migrations && ns_max_migrations <= 100000,
		   "netns_max_migrations %llu",
		   (unsigned long long)ns_max_migrations);
	PCA_ASSERT_OK(t, pca_dev_node_for(NS_DEV, NOBODY, NOBODY));

	ns_start(t, &a, fill_migrations);
	PCA_ASSERT_EQ(t, ns_hear(a.from), 'F');

	/* One namespace at its limit: the host's still relays... */
	agent = agent_open(t);
	rfd = PCA_ASSERT_OK(t, pca_region_create(PAGE, 0, &region));
	PCA_EXPECT_OK(t, migrate(t->c, region));
	pca_client_close(agent);
	close(rfd);
	/* ...and so does another namespace. */
	ns_start(t, &b, one_migration);
	ns_finish(t, &b);

	ns_say(a.to, 'G');
	PCA_EXPECT_EQ(t, ns_hear(a.from), 'D');
	ns_finish(t, &a);
	unlink(NS_DEV);
}

/* The namespace creates regions until its limits refuse one. */
static void fill_regions(struct pca_test_ctx *t, struct nschild *k)
{
	int dev = ns_dev_open(t), big, fd;
	int *fds = calloc(ns_max_regions, sizeof(*fds));
	uint64_t n;

	PCA_ASSERT(t, fds, "calloc");
	for (n = 0; n < ns_max_regions; n++) {
		fds[n] = region_create_on(dev, PAGE, NULL);
		if (fds[n] < 0)
			PCA_FATAL(t, "region %llu of %llu: %s",
				  (unsigned long long)n + 1,
				  (unsigned long long)ns_max_regions,
				  strerror(-fds[n]));
	}
	PCA_EXPECT_ERR(t, region_create_on(dev, PAGE, NULL), EDQUOT);
	ns_say(k->from, 'F');
	PCA_ASSERT_EQ(t, ns_hear(k->to), 'G');
	for (n = 0; n < ns_max_regions; n++)
		close(fds[n]);
	free(fds);

	/* Bytes: the whole allowance in one region, then not a page more. */
	big = PCA_ASSERT_OK(t, region_create_on(dev, ns_max_bytes, NULL));
	PCA_EXPECT_ERR(t, region_create_on(dev, PAGE, NULL), EDQUOT);
	ns_say(k->from, 'B');
	PCA_ASSERT_EQ(t, ns_hear(k->to), 'G');
	close(big);
	/* a freed region gives its room back */
	fd = PCA_EXPECT_OK(t, region_create_on(dev, PAGE, NULL));
	if (fd >= 0)
		close(fd);
	close(dev);
	ns_say(k->from, 'D');
}

static void one_region(struct pca_test_ctx *t, struct nschild *k)
{
	int dev = ns_dev_open(t);
	int fd = PCA_EXPECT_OK(t, region_create_on(dev, PAGE, NULL));

	(void)k;
	if (fd >= 0)
		close(fd);
	close(dev);
}

/* While namespace A is at a limit, the host and namespace B create. */
static void others_create(struct pca_test_ctx *t, uint64_t size)
{
	struct nschild b;
	int fd;

	fd = PCA_EXPECT_OK(t, pca_region_create(size, 0, NULL));
	if (fd >= 0)
		close(fd);
	ns_start(t, &b, one_region);
	ns_finish(t, &b);
}

static void test_netns_regions(struct pca_test_ctx *t)
{
	struct nschild a;

	need_userns(t);
	ns_max_regions = param_or(t, "netns_max_regions", 64);
	ns_max_bytes = param_or(t, "netns_max_region_bytes", TIB);
	PCA_ASSERT(t, ns_max_regions && ns_max_regions <= 1000,
		   "netns_max_regions %llu",
		   (unsigned long long)ns_max_regions);
	/* one region can hold the whole allowance */
	PCA_ASSERT(t, ns_max_bytes >= PAGE && ns_max_bytes <= TIB &&
		   !(ns_max_bytes % PAGE), "netns_max_region_bytes %llu",
		   (unsigned long long)ns_max_bytes);
	PCA_ASSERT_OK(t, pca_dev_node_for(NS_DEV, NOBODY, NOBODY));

	ns_start(t, &a, fill_regions);
	PCA_ASSERT_EQ(t, ns_hear(a.from), 'F');
	others_create(t, PAGE);
	ns_say(a.to, 'G');
	PCA_ASSERT_EQ(t, ns_hear(a.from), 'B');
	/* the host may have more bytes than a namespace */
	others_create(t, TIB);
	ns_say(a.to, 'G');
	PCA_EXPECT_EQ(t, ns_hear(a.from), 'D');
	ns_finish(t, &a);
	unlink(NS_DEV);
}

/* The host's own limits, lowered to what it holds plus a little. */
static void test_init_net_limits(struct pca_test_ctx *t)
{
	struct pca_client *agent;
	uint64_t n, bytes;
	struct nschild b;
	uint32_t region = 0;
	char val[32];
	int rfd, fd;

	need_userns(t);
	PCA_ASSERT_OK(t, pca_dev_node_for(NS_DEV, NOBODY, NOBODY));
	agent = agent_open(t);
	rfd = PCA_ASSERT_OK(t, pca_region_create(PAGE, 0, &region));

	/* Migrations: this socket's are all the namespace has. */
	param_set(t, "init_net_max_migrations", "2");
	PCA_EXPECT_OK(t, migrate(t->c, region));
	PCA_EXPECT_OK(t, migrate(t->c, region));
	PCA_EXPECT_REFUSED(t, migrate(t->c, region), EDQUOT,
			   MSG_INIT_MIGRATIONS);
	/* other namespaces have limits of their own */
	ns_start(t, &b, one_migration);
	ns_finish(t, &b);

	/* Regions: one more than there are, then none. */
	region_usage(t, &n, &bytes);
	snprintf(val, sizeof(val), "%llu", (unsigned long long)n + 1);
	param_set(t, "init_net_max_regions", val);
	fd = PCA_EXPECT_OK(t, pca_region_create(PAGE, 0, NULL));
	PCA_EXPECT_ERR(t, pca_region_create(PAGE, 0, NULL), EDQUOT);
	if (fd >= 0)
		close(fd);
	ns_start(t, &b, one_region);
	ns_finish(t, &b);
	param_set(t, "init_net_max_regions", "4096");

	/* Bytes: two pages more than there are, in K. */
	region_usage(t, &n, &bytes);
	snprintf(val, sizeof(val), "%lluK",
		 (unsigned long long)(bytes + 2 * PAGE) / 1024);
	param_set(t, "init_net_max_region_bytes", val);
	PCA_EXPECT_EQ(t, param_get(t, "init_net_max_region_bytes"),
		      bytes + 2 * PAGE);
	PCA_EXPECT_ERR(t, pca_region_create(3 * PAGE, 0, NULL), EDQUOT);
	fd = PCA_EXPECT_OK(t, pca_region_create(2 * PAGE, 0, NULL));
	PCA_EXPECT_ERR(t, pca_region_create(PAGE, 0, NULL), EDQUOT);
	if (fd >= 0)
		close(fd);
	ns_start(t, &b, one_region);
	ns_finish(t, &b);

	params_restore();
	pca_client_close(agent);
	close(rfd);
	unlink(NS_DEV);
}

/* -------------------------------------------------------------------------
 * Memory cgroup charges
 */

#define CGROOT		"/sys/fs/cgroup"
#define CG		CGROOT "/limits_test"
#define CG_REGIONS	400
#define CG_MIGRATIONS	900

static uint64_t cg_current(struct pca_test_ctx *t)
{
	char buf[64] = "";
	int fd = open(CG "/memory.current", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		PCA_FATAL(t, "reading memory.current: %s", strerror(errno));
	buf[n] = '\0';
	return strtoull(buf, NULL, 0);
}

/* In the cgroup: what its regions and migrations cost it. */
static void memcg_part(struct pca_test_ctx *t)
{
	static int fds[CG_REGIONS];
	struct pca_client *agent = agent_open(t);
	char args[1000];
	uint64_t before, after;
	uint32_t region = 0;
	int i, big;

	/*
	 * Regions: the struct (with its fault hash, 8 KiB of slab), the
	 * per-CPU statistics; file, inode and dentry were charged before.
	 */
	before = cg_current(t);
	for (i = 0; i < CG_REGIONS; i++)
		fds[i] = PCA_ASSERT_OK(t, pca_region_create(PAGE, 0,
							    i ? NULL : &region));
	after = cg_current(t);
	pca_t_diag(t, "%d regions: %lld bytes charged", CG_REGIONS,
		   (long long)(after - before));
	PCA_EXPECT(t, after > before &&
		   after - before >= CG_REGIONS * 6144ULL,
		   "%d regions charged %lld bytes, expected 6 KiB or more each",
		   CG_REGIONS, (long long)(after - before));

	/* Migrations with 1000 bytes of arguments each. */
	memset(args, 'a', sizeof(args) - 1);
	args[sizeof(args) - 1] = '\0';
	before = cg_current(t);
	for (i = 0; i < CG_MIGRATIONS; i++) {
		uint32_t id;

		PCA_ASSERT_OK(t, pca_migrate(t->c, region, PCA_MIG_SOURCE,
					     "h:1", args, &id));
	}
	after = cg_current(t);
	pca_t_diag(t, "%d migrations: %lld bytes charged", CG_MIGRATIONS,
		   (long long)(after - before));
	PCA_EXPECT(t, after > before &&
		   after - before >= CG_MIGRATIONS * 1024ULL,
		   "%d migrations charged %lld bytes, expected 1 KiB or more each",
		   CG_MIGRATIONS, (long long)(after - before));
	pca_client_close(agent);

	/* A 1 TiB region's dirty bitmap: 32 MiB. */
	big = PCA_ASSERT_OK(t, pca_region_create(TIB, 0, &region));
	before = cg_current(t);
	PCA_ASSERT_OK(t, pca_dirty_track(t->c, region, 1));
	after = cg_current(t);
	pca_t_diag(t, "dirty bitmap of 1 TiB: %lld bytes charged",
		   (long long)(after - before));
	PCA_EXPECT(t, after > before && after - before >= (32ULL << 20),
		   "the dirty bitmap charged %lld bytes, expected 32 MiB",
		   (long long)(after - before));
	/* closed only now: what they free goes back at RCU's pace */
	close(big);
	for (i = 0; i < CG_REGIONS; i++)
		close(fds[i]);
}

static void test_memcg_charged(struct pca_test_ctx *t)
{
	char pid[32];
	int status, mounted = 0;
	pid_t child;

	if (access(CGROOT "/cgroup.controllers", F_OK)) {
		if (mount("cgroup2", CGROOT, "cgroup2", 0, NULL))
			PCA_SKIP(t, "no cgroup2: %s", strerror(errno));
		mounted = 1;
	}
	if (pca_write_file(CGROOT "/cgroup.subtree_control", "+memory"))
		PCA_SKIP(t, "no memory controller: %s", strerror(errno));
	if (mkdir(CG, 0755) && errno != EEXIST)
		PCA_FATAL(t, "mkdir %s: %s", CG, strerror(errno));

	fflush(stdout);
	child = fork();
	if (child < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!child) {
		struct pca_test_ctx ct = *t;

		ct.c = NULL;
		snprintf(pid, sizeof(pid), "%d", getpid());
		if (pca_write_file(CG "/cgroup.procs", pid))
			PCA_FATAL(&ct, "joining %s: %s", CG, strerror(errno));
		if (pca_client_open(&ct.c))
			PCA_FATAL(&ct, "client: %s", pca_strerror(NULL));
		memcg_part(&ct);
		pca_client_close(ct.c);
		pca_part_exit(&ct);
	}
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			PCA_FATAL(t, "waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != KSFT_PASS)
		PCA_FAIL(t, "part in the cgroup failed (status %#x)", status);
	rmdir(CG);
	if (mounted)
		umount2(CGROOT, MNT_DETACH);
}

PCA_TEST_F(param_defaults, test_param_defaults, 0)
PCA_TEST_F(netns_migrations, test_netns_migrations,
	 PCA_FEATURE_MIGRATE, .timeout = 60)
PCA_TEST_F(netns_regions, test_netns_regions, 0, .timeout = 60)
PCA_TEST_F(init_net_limits, test_init_net_limits, PCA_FEATURE_MIGRATE,
	 .timeout = 60)
PCA_TEST_F(memcg_charged, test_memcg_charged,
	 PCA_FEATURE_MIGRATE | PCA_FEATURE_DIRTY_LOG, .timeout = 60)

TEST_HARNESS_MAIN
