// SPDX-License-Identifier: GPL-2.0
/*
 * libpca_test: libpca against the module, end to end: region queries,
 * queues, fault delivery (direct, and kept aside while a request waits),
 * netlink and fd resolution, the agent CLI, and the example VMM
 * (examples/).  The module's own semantics get their own tests; this one
 * checks the library's plumbing.
 */
#include "pca_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PG	4096UL

struct toucher {
	volatile unsigned char *p;
	unsigned char seen;
	pthread_t th;
};

static void *touch(void *arg)
{
	struct toucher *to = arg;

	to->seen = *to->p;
	return NULL;
}

static void toucher_start(struct pca_test_ctx *t, struct toucher *to,
			  void *addr)
{
	to->p = addr;
	to->seen = 0xee;
	if (pthread_create(&to->th, NULL, touch, to))
		PCA_FATAL(t, "pthread_create");
}

static void *map_region(struct pca_test_ctx *t, int fd, size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		PCA_FATAL(t, "mmap: %s", strerror(errno));
	return p;
}

static void test_region_lifecycle(struct pca_test_ctx *t)
{
	struct pca_region_info info, *v;
	uint32_t id;
	size_t n, i;
	int fd, found = 0;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	pca_t_diag(t, "region %u fd %d", id, fd);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.id, id);
	PCA_EXPECT_EQ(t, info.size, 16 * PG);
	PCA_EXPECT_EQ(t, info.flags, PCA_REGION_MISSING);
	PCA_EXPECT_EQ(t, info.pages_present, 0);
	PCA_EXPECT_EQ(t, info.queues, 0);
	PCA_EXPECT(t, info.has_stats, "no stats");
	PCA_ASSERT_OK(t, pca_region_list(t->c, &v, &n));
	for (i = 0; i < n; i++)
		found |= v[i].id == id;
	free(v);
	PCA_EXPECT(t, found, "region %u not in the dump of %zu", id, n);
	PCA_EXPECT_EXTACK(t, pca_region_get(t->c, id + 1000, &info), ENOENT);
	close(fd);
	PCA_EXPECT_ERR(t, pca_region_get(t->c, id, &info), ENOENT);
}

static void test_attach_detach(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	uint32_t id, qid = 99;
	int fd;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	PCA_ASSERT_OK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, &qid));
	pca_t_diag(t, "queue id %u", qid);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.queues, 1);
	PCA_EXPECT_EXTACK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL),
			  EEXIST);
	PCA_EXPECT_OK(t, pca_detach(t->c, id));
	PCA_EXPECT_EXTACK(t, pca_detach(t->c, id), ENOENT);
	PCA_EXPECT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.queues, 0);
	close(fd);
}

static void test_fault_copy(struct pca_test_ctx *t)
{
	struct pca_fault_record recs[8];
	struct pca_region_info info;
	struct toucher to;
	unsigned char page[PG];
	unsigned char *map;
	uint32_t id;
	int fd, n;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	map = map_region(t, fd, 16 * PG);
	PCA_ASSERT_OK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL));
	toucher_start(t, &to, map + 3 * PG + 7);
	n = PCA_ASSERT_OK(t, pca_recv_faults(t->c, recs, 8, 5000));
	PCA_ASSERT_EQ(t, n, 1);
	PCA_EXPECT_EQ(t, recs[0].offset, 3 * PG);
	PCA_EXPECT_EQ(t, recs[0].region_id, id);
	PCA_EXPECT(t, recs[0].time_ns, "no time");
	pca_t_diag(t, "fault tid %u flags %#x queue %u", recs[0].tid,
		   recs[0].flags, recs[0].queue_id);
	memset(page, 0x5a, sizeof(page));
	PCA_EXPECT_OK(t, pca_copy(t->c, id, 3 * PG, page, 0, NULL));
	pthread_join(to.th, NULL);
	PCA_EXPECT_EQ(t, to.seen, 0x5a);
	PCA_EXPECT_ERR(t, pca_copy(t->c, id, 3 * PG, page, 0, NULL), EEXIST);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 1);
	PCA_EXPECT(t, info.stats.faults >= 1, "faults %llu",
		   (unsigned long long)info.stats.faults);
	PCA_EXPECT_EQ(t, info.stats.pages_copied, 1);
	munmap(map, 16 * PG);
	close(fd);
}

static void test_fault_stashed(struct pca_test_ctx *t)
{
	struct pca_fault_record recs[8];
	struct pca_region_info info;
	struct pollfd pfd = { .events = POLLIN };
	struct toucher to;
	unsigned char *map;
	uint32_t id;
	int fd, n, i;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	map = map_region(t, fd, 16 * PG);
	PCA_ASSERT_OK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL));
	toucher_start(t, &to, map + 5 * PG);
	for (i = 0; i < 100; i++) {
		PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
		if (info.stats.faults_pending)
			break;
		usleep(10000);
	}
	PCA_ASSERT(t, info.stats.faults_pending, "the fault never came");
	/*
	 * Let the event land in the socket, then make a request: its answer
	 * queues behind the event, so the request must set the event aside
	 * and leave the socket empty.
	 */
	usleep(50000);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	pfd.fd = pca_client_fd(t->c);
	PCA_EXPECT_EQ(t, poll(&pfd, 1, 0), 0);
	n = PCA_ASSERT_OK(t, pca_recv_faults(t->c, recs, 8, 0));
	PCA_ASSERT_EQ(t, n, 1);
	PCA_EXPECT_EQ(t, recs[0].offset, 5 * PG);
	PCA_EXPECT_OK(t, pca_zero(t->c, id, 5 * PG, PG, 0, NULL));
	pthread_join(to.th, NULL);
	PCA_EXPECT_EQ(t, to.seen, 0);
	PCA_EXPECT_EQ(t, pca_recv_faults(t->c, recs, 8, 50), 0);
	munmap(map, 16 * PG);
	close(fd);
}

static void test_copy_pages(struct pca_test_ctx *t)
{
	static unsigned char data[128][PG];
	struct pca_page pages[128];
	struct pca_resolve_result res;
	struct pca_region_info info;
	unsigned char *map;
	uint32_t id;
	int fd, i;

	fd = PCA_ASSERT_OK(t, pca_region_create(256 * PG, PCA_REGION_MISSING,
						&id));
	for (i = 0; i < 128; i++) {
		memset(data[i], i + 1, PG);
		pages[i].offset = i * PG;
		pages[i].data = data[i];
	}
	PCA_ASSERT_OK(t, pca_copy_pages(t->c, id, pages, 100, 0, &res));
	PCA_EXPECT_EQ(t, res.done, 100);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 100);
	/* 90..127: 90..99 exist, the rest must still be placed */
	PCA_EXPECT_ERR(t, pca_copy_pages(t->c, id, pages + 90, 38, 0, &res),
		       EEXIST);
	pca_t_diag(t, "%s", pca_strerror(t->c));
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 128);
	map = map_region(t, fd, 256 * PG);
	for (i = 0; i < 128; i++)
		if (map[i * PG + 100] != i + 1)
			PCA_FAIL(t, "page %d holds %d", i, map[i * PG + 100]);
	/* bad offsets: refused with extack */
	PCA_EXPECT_EXTACK(t, pca_copy(t->c, id, 256 * PG, data[0], 0, NULL),
			  ERANGE);
	PCA_EXPECT_EXTACK(t, pca_copy(t->c, id, 7, data[0], 0, NULL), EINVAL);
	PCA_EXPECT_OK(t, pca_wake(t->c, id, 0, 256 * PG));
	munmap(map, 256 * PG);
	close(fd);
}

static void test_fd_path(struct pca_test_ctx *t)
{
	static unsigned char buf[4][PG];
	struct pca_copy_entry e[3];
	uint64_t copied = 0, existed = 0;
	struct pca_api a;
	unsigned char *map;
	int64_t n = 0;
	uint32_t id;
	int fd;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	PCA_EXPECT_OK(t, pca_dev_api(fd, PCA_API_VERSION, 0, &a));
	pca_t_diag(t, "region fd ioctls %#llx", (unsigned long long)a.ioctls);
	memset(buf, 0x11, sizeof(buf));
	PCA_EXPECT_OK(t, pca_fd_copy(fd, 0, buf, 2 * PG, 0, &n));
	PCA_EXPECT_EQ(t, n, 2 * PG);
	PCA_EXPECT_OK(t, pca_fd_zero(fd, 2 * PG, 2 * PG, 0, &n));
	PCA_EXPECT_EQ(t, n, 2 * PG);
	e[0] = (struct pca_copy_entry){ 1 * PG, (uintptr_t)buf[1] };
	e[1] = (struct pca_copy_entry){ 4 * PG, (uintptr_t)buf[2] };
	e[2] = (struct pca_copy_entry){ 5 * PG, (uintptr_t)buf[3] };
	memset(buf[2], 0x22, PG);
	memset(buf[3], 0x33, PG);
	/* one page exists: -EEXIST, the others placed, both counted */
	PCA_EXPECT_ERR(t, pca_fd_copy_batch(fd, e, 3, 0, &copied, &existed),
		       EEXIST);
	PCA_EXPECT_EQ(t, copied, 2);
	PCA_EXPECT_EQ(t, existed, 1);
	PCA_EXPECT_OK(t, pca_fd_wake(fd, 0, 16 * PG));
	map = map_region(t, fd, 16 * PG);
	PCA_EXPECT_EQ(t, map[0], 0x11);
	PCA_EXPECT_EQ(t, map[2 * PG], 0);
	PCA_EXPECT_EQ(t, map[4 * PG], 0x22);
	PCA_EXPECT_EQ(t, map[5 * PG + 4095], 0x33);
	PCA_EXPECT_ERR(t, pca_fd_copy(fd, 1, buf, PG, 0, &n), EINVAL);
	/* a partly present range: counts come back with the error */
	PCA_EXPECT_ERR(t, pca_fd_copy(fd, 5 * PG, buf, 2 * PG, 0, &n), EEXIST);
	PCA_EXPECT_EQ(t, n, PG);
	munmap(map, 16 * PG);
	close(fd);
}

/* Run the agent, its output as diagnostics; returns its exit status. */
static int agent(struct pca_test_ctx *t, char *out, size_t len,
		 char *arg1, char *arg2)
{
	char *argv[] = { "postcopy-agent", arg1, arg2, NULL };
	int ret;

	ret = pca_run_capture(argv, out, len);
	pca_t_diag(t, "postcopy-agent %s %s: exit %d", arg1, arg2 ? arg2 : "",
		   ret);
	pca_diag_lines(t, out);
	return ret;
}

static void test_agent_cli(struct pca_test_ctx *t)
{
	char out[8192], want[64];
	uint32_t id;
	int fd;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	PCA_EXPECT_OK(t, pca_zero(t->c, id, 0, 2 * PG, 0, NULL));

	PCA_EXPECT_EQ(t, agent(t, out, sizeof(out), "api", NULL), 0);
	snprintf(want, sizeof(want), "postcopy_assist API %d\n",
		 PCA_API_VERSION);
	PCA_EXPECT(t, strstr(out, want), "no \"%s\"", want);
	PCA_EXPECT(t, strstr(out, "commands: api "), "commands");
	PCA_EXPECT_EQ(t, agent(t, out, sizeof(out), "api", "--json"), 0);
	snprintf(want, sizeof(want), "\"api_version\": %d,", PCA_API_VERSION);
	PCA_EXPECT(t, strstr(out, want), "no %s", want);

	snprintf(want, sizeof(want), "region %u: size 65536 ", id);
	PCA_EXPECT_EQ(t, agent(t, out, sizeof(out), "regions", NULL), 0);
	PCA_EXPECT(t, strstr(out, want), "no \"%s\"", want);
	PCA_EXPECT(t, strstr(out, "zeroed 2 "), "zeroed count");
	snprintf(want, sizeof(want), "{\"id\": %u, \"size\": 65536,", id);
	PCA_EXPECT_EQ(t, agent(t, out, sizeof(out), "regions", "--json"), 0);
	PCA_EXPECT(t, strstr(out, want), "no \"%s\"", want);

	/* usage errors exit 2 */
	PCA_EXPECT_EQ(t, agent(t, out, sizeof(out), "nope", NULL), 2);
	PCA_EXPECT_EQ(t, agent(t, out, sizeof(out), "api", "--bogus"), 2);
	close(fd);
}

/* Run the agent with up to five arguments; as agent(). */
static int agent_argv(struct pca_test_ctx *t, char *out, size_t len,
		      char **args)
{
	char *argv[8] = { "postcopy-agent" };
	int ret, i;

	for (i = 0; args[i] && i < 6; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	ret = pca_run_capture(argv, out, len);
	pca_t_diag(t, "postcopy-agent %s ...: exit %d", args[0], ret);
	pca_diag_lines(t, out);
	return ret;
}

/*
 * stats: after one fault that waited for its page, the counters and one
 * bar of the wait histogram; --watch samples again; bad regions and
 * options are refused.
 */
static void test_agent_stats(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct toucher to;
	unsigned char page[PG];
	unsigned char *map;
	char out[8192], ids[16], want[96];
	uint32_t id;
	int fd;

	fd = PCA_ASSERT_OK(t, pca_region_create(16 * PG, PCA_REGION_MISSING,
						&id));
	snprintf(ids, sizeof(ids), "%u", id);
	map = map_region(t, fd, 16 * PG);
	PCA_ASSERT_OK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL));
	toucher_start(t, &to, map + 2 * PG);
	PCA_ASSERT_EQ(t, PCA_ASSERT_OK(t, pca_recv_faults(t->c, &rec, 1,
							  5000)), 1);
	memset(page, 0x3c, sizeof(page));
	PCA_EXPECT_OK(t, pca_copy(t->c, id, 2 * PG, page, 0, NULL));
	pthread_join(to.th, NULL);
	PCA_EXPECT_OK(t, pca_zero(t->c, id, 8 * PG, 3 * PG, 0, NULL));

	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", ids, NULL }), 0);
	snprintf(want, sizeof(want), "region %u: size 65536 ", id);
	PCA_EXPECT(t, strstr(out, want), "no \"%s\"", want);
	PCA_EXPECT(t, strstr(out, ", 4 of 16 units present,"),
		   "present count");
	PCA_EXPECT(t, strstr(out, "faults 1 (coalesced 0, pending 0)"),
		   "fault counters");
	PCA_EXPECT(t, strstr(out, "units copied 1, zeroed 3,"),
		   "placement counters");
	/* the one fault is the histogram's only entry: one full bar */
	PCA_EXPECT(t, strstr(out, "fault wait (1 faults):"), "histogram");
	PCA_EXPECT(t, strstr(out, "      1 100.0% ####################"
				  "####################\n"), "histogram bar");

	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", ids, "--json",
						NULL }), 0);
	snprintf(want, sizeof(want), "{\"id\": %u, \"size\": 65536,", id);
	PCA_EXPECT(t, strstr(out, want), "no %s", want);
	PCA_EXPECT(t, strstr(out, "\"copy_eexist\": 0, \"faults_premapped\": "),
		   "no faults_premapped");

	/* two samples, the second with rates, then it stops by itself */
	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", ids, "--watch=0.2",
						"--count", "2", NULL }), 0);
	PCA_EXPECT(t, strstr(out, "rates over "), "no rates in --watch");
	PCA_EXPECT(t, strstr(out, "units placed/s"), "rates");

	/* errors: a region that does not exist, bad options */
	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", "999999", NULL }), 1);
	PCA_EXPECT(t, strstr(out, "stats: region 999999: "), "no error text");
	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", NULL }), 2);
	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", ids, "--watch=0",
						NULL }), 2);
	PCA_EXPECT_EQ(t, agent_argv(t, out, sizeof(out),
				    (char *[]){ "stats", ids, "--count", "2",
						NULL }), 2);
	munmap(map, 16 * PG);
	close(fd);
}

#define EXAMPLE		"/bin/pca-vmm-example"
#define EXAMPLE_PEER	"127.0.0.1:47411"

/*
 * examples/vmm-migrate.c, the example VMM integration, as documented:
 * two VMMs on one host (loopback) with an agent daemon, the source's
 * vCPU writing, the destination checking every page it touches.
 */
static void test_example_vmm(struct pca_test_ctx *t)
{
	char *daemon_argv[] = { "/bin/postcopy-agent", "daemon", "--tls-creds",
				"/etc/pca/tls/x509", NULL };
	char *dst_argv[] = { EXAMPLE, "--role", "destination", "--peer",
			     EXAMPLE_PEER, "--size", "8", "--timeout-s", "100",
			     NULL };
	char *src_argv[] = { EXAMPLE, "--role", "source", "--peer",
			     EXAMPLE_PEER, "--size", "8", "--args",
			     "--rounds 2", "--timeout-s", "100", NULL };
	int st_src, st_dst;
	pid_t pdm, ps, pd;
	char out[8192];

	if (access("/bin/postcopy-agent", X_OK))
		PCA_SKIP(t, "no /bin/postcopy-agent");
	PCA_ASSERT(t, !access(EXAMPLE, X_OK), "no " EXAMPLE
		   " (examples/, built by make userspace)");
	pdm = pca_spawn_to_file(t, daemon_argv, "/tmp/libpca_test-daemon.out");
	pd = pca_spawn_to_file(t, dst_argv, "/tmp/libpca_test-dst.out");
	ps = pca_spawn_to_file(t, src_argv, "/tmp/libpca_test-src.out");
	st_src = pca_waitpid_ms(ps, pca_scaled_ms(110000));
	st_dst = pca_waitpid_ms(pd, pca_scaled_ms(110000));
	kill(pdm, SIGTERM);
	pca_waitpid_ms(pdm, pca_scaled_ms(10000));

	pca_file_text("/tmp/libpca_test-src.out", out, sizeof(out));
	pca_diag_lines(t, out);
	PCA_EXPECT(t, st_src == 0 &&
		   strstr(out, "source: summary: 2048 pages") &&
		   strstr(out, "source: ok"), "source VMM: status %#x", st_src);
	pca_file_text("/tmp/libpca_test-dst.out", out, sizeof(out));
	pca_diag_lines(t, out);
	PCA_EXPECT(t, st_dst == 0 &&
		   strstr(out, "destination: summary: 2048 pages") &&
		   strstr(out, "destination: ok"),
		   "destination VMM: status %#x", st_dst);
	if (st_src || st_dst) {
		pca_file_text("/tmp/libpca_test-daemon.out", out, sizeof(out));
		pca_diag_lines(t, out);
	}
}

PCA_TEST_F(region_lifecycle, test_region_lifecycle,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(attach_detach, test_attach_detach, PCA_FEATURE_MISSING)
PCA_TEST_F(fault_copy, test_fault_copy, PCA_FEATURE_MISSING)
PCA_TEST_F(fault_stashed, test_fault_stashed, PCA_FEATURE_MISSING)
PCA_TEST_F(copy_pages, test_copy_pages, PCA_FEATURE_COPY_BATCH)
PCA_TEST_F(fd_path, test_fd_path, PCA_FEATURE_FD_RESOLVE)
PCA_TEST_F(agent_cli, test_agent_cli, PCA_FEATURE_MISSING)
PCA_TEST_F(agent_stats, test_agent_stats, PCA_FEATURE_MISSING)
PCA_TEST_F(example_vmm, test_example_vmm, PCA_FEATURE_MIGRATE,
	   .timeout = 150)

TEST_HARNESS_MAIN
