/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kselftest_pca.h: the postcopy_assist selftest harness.
 *
 * A test binary declares a table of struct pca_test and ends with
 * PCA_TEST_MAIN(table).  The harness:
 *  - does one API handshake to learn the supported features; a test whose
 *    required features are not all supported is skipped, not failed;
 *  - runs every test in a forked child, in its own process group, under a
 *    per-test timeout, so a hang or a crash fails that one test and the
 *    harness goes on;
 *  - prints KTAP: "KTAP version 1", the plan, one "ok"/"not ok" line per
 *    test, "# " diagnostics and the kselftest totals line;
 *  - exits 0 when no test failed, 1 otherwise.
 *
 * Options: -l lists the tests, -t NAME (repeatable) runs only those,
 * -T SECONDS overrides every test's timeout.  PCA_TIMEOUT_SCALE=N in the
 * environment multiplies the tests' own timeouts (slow debug kernels).
 *
 * Assertion macros print "# <test>: <file>:<line>: <what>" on failure.
 * PCA_ASSERT_* end the test at once (the test runs in its own process, so
 * they can be used from helpers too); PCA_EXPECT_* record the failure and
 * let the test go on.  Errors of 0 / -errno functions are printed with
 * pca_strerror(t->c) when t->c holds that very error, so the kernel's
 * extack text shows up in the log.
 */
#ifndef KSELFTEST_PCA_H
#define KSELFTEST_PCA_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "pca.h"

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

#define PCA_TEST_TIMEOUT	30	/* seconds, default per test */

/* struct pca_test.flags */
#define PCA_TEST_NO_CLIENT	(1U << 0) /* don't open t->c for the test */

struct pca_test_ctx;

struct pca_test {
	const char *name;
	void (*fn)(struct pca_test_ctx *t);
	uint64_t features;	/* required PCA_FEATURE_* */
	unsigned int timeout;	/* seconds; 0: PCA_TEST_TIMEOUT */
	unsigned int flags;	/* PCA_TEST_* */
};

/*
 * A table entry: PCA_TEST(name, fn, features), optionally followed by
 * designated initializers, e.g. PCA_TEST("x", test_x, 0, .timeout = 60).
 */
#define PCA_TEST(_name, _fn, _features, ...) \
	{ .name = (_name), .fn = (_fn), .features = (_features), __VA_ARGS__ }

struct pca_test_ctx {
	const struct pca_test *test;
	struct pca_client *c;	/* open unless PCA_TEST_NO_CLIENT */
	struct pca_api_info api; /* the harness's handshake */
	int failed;
};

/* Shared with the children, so a skip reason survives their exit. */
static char *pca_skip_reason;
#define PCA_SKIP_REASON_LEN	256

#define pca_diag(fmt, ...) \
	printf("# " fmt "\n", ##__VA_ARGS__)

#define pca_t_diag(t, fmt, ...) \
	pca_diag("%s: " fmt, (t)->test->name, ##__VA_ARGS__)

#ifdef __FILE_NAME__
#define __PCA_FILE	__FILE_NAME__
#else
#define __PCA_FILE	__FILE__
#endif

#define __pca_report(t, fmt, ...) \
	pca_t_diag(t, "%s:%d: " fmt, __PCA_FILE, __LINE__, ##__VA_ARGS__)

/* Text for a -errno @ret: the client's full error if it is that one. */
static inline const char *pca_t_errtext(struct pca_test_ctx *t, long ret)
{
	if (t->c && ret < 0 && pca_errno(t->c) == ret)
		return pca_strerror(t->c);
	if (ret < 0 && ret > -4096)
		return strerror(-ret);
	return "no error";
}

static inline void __attribute__((noreturn))
__pca_test_exit(struct pca_test_ctx *t, int code)
{
	(void)t;
	fflush(stdout);
	exit(code);
}

/* Record a failure and go on. */
#define PCA_FAIL(t, fmt, ...) do { \
	__pca_report(t, fmt, ##__VA_ARGS__); \
	(t)->failed = 1; \
} while (0)

/* Fail and end the test. */
#define PCA_FATAL(t, fmt, ...) do { \
	__pca_report(t, fmt, ##__VA_ARGS__); \
	__pca_test_exit(t, KSFT_FAIL); \
} while (0)

/* End the test as skipped, with a reason. */
#define PCA_SKIP(t, fmt, ...) do { \
	snprintf(pca_skip_reason, PCA_SKIP_REASON_LEN, fmt, ##__VA_ARGS__); \
	__pca_test_exit(t, KSFT_SKIP); \
} while (0)

/*
 * The public macros stringify their arguments themselves: one level down,
 * EINVAL or PCA_API_VERSION would already be expanded to numbers.
 */
#define __PCA_CHECK(t, on_fail, cond, what, fmt, ...) do { \
	if (!(cond)) \
		on_fail(t, "%s: " fmt, what, ##__VA_ARGS__); \
} while (0)

#define PCA_EXPECT(t, cond, fmt, ...) \
	__PCA_CHECK(t, PCA_FAIL, cond, #cond, fmt, ##__VA_ARGS__)
#define PCA_ASSERT(t, cond, fmt, ...) \
	__PCA_CHECK(t, PCA_FATAL, cond, #cond, fmt, ##__VA_ARGS__)

#define __PCA_CHECK_EQ(t, on_fail, a, b, what) do { \
	long long __a = (long long)(a), __b = (long long)(b); \
	if (__a != __b) \
		on_fail(t, "%s: %lld (%#llx) != %lld (%#llx)", what, \
			__a, (unsigned long long)__a, __b, \
			(unsigned long long)__b); \
} while (0)

#define PCA_EXPECT_EQ(t, a, b) \
	__PCA_CHECK_EQ(t, PCA_FAIL, a, b, #a " == " #b)
#define PCA_ASSERT_EQ(t, a, b) \
	__PCA_CHECK_EQ(t, PCA_FATAL, a, b, #a " == " #b)

/* @expr returns >= 0 (success, e.g. an fd) or -errno; yields its value. */
#define __PCA_CHECK_OK(t, on_fail, expr, what) ({ \
	long __r = (long)(expr); \
	if (__r < 0) \
		on_fail(t, "%s: %ld: %s", what, __r, pca_t_errtext(t, __r)); \
	__r; \
})

#define PCA_EXPECT_OK(t, expr)	__PCA_CHECK_OK(t, PCA_FAIL, expr, #expr)
#define PCA_ASSERT_OK(t, expr)	__PCA_CHECK_OK(t, PCA_FATAL, expr, #expr)

/* @expr must fail with -@e1 or -@e2 (positive errno values); yields it. */
#define __PCA_CHECK_ERR2(t, on_fail, expr, e1, e2, what, expected) ({ \
	long __r = (long)(expr); \
	if (__r != -(long)(e1) && __r != -(long)(e2)) \
		on_fail(t, "%s: expected %s, got %ld: %s", what, expected, \
			__r, pca_t_errtext(t, __r)); \
	__r; \
})

#define PCA_EXPECT_ERR(t, expr, e) \
	__PCA_CHECK_ERR2(t, PCA_FAIL, expr, e, e, #expr, "-" #e)
#define PCA_ASSERT_ERR(t, expr, e) \
	__PCA_CHECK_ERR2(t, PCA_FATAL, expr, e, e, #expr, "-" #e)
#define PCA_EXPECT_ERR2(t, expr, e1, e2) \
	__PCA_CHECK_ERR2(t, PCA_FAIL, expr, e1, e2, #expr, \
			 "-" #e1 " or -" #e2)

/*
 * Expect a failing client call that carries an extack message, e.g.
 *	PCA_EXPECT_EXTACK(t, pca_api(t->c, 0, 0, NULL), EINVAL);
 * The kernel's text is printed as a diagnostic either way.
 */
#define PCA_EXPECT_EXTACK(t, expr, e) do { \
	long __e = __PCA_CHECK_ERR2(t, PCA_FAIL, expr, e, e, #expr, "-" #e); \
	if (__e < 0 && (t)->c && !pca_extack((t)->c)[0]) \
		PCA_FAIL(t, "%s: no extack message", #expr); \
	else if (__e < 0 && (t)->c) \
		pca_t_diag(t, "%s: %s", #expr, pca_strerror((t)->c)); \
} while (0)

/*
 * Expect a failing client call refused by the module itself: errno @e and
 * an extack message that contains @text, e.g.
 *	PCA_EXPECT_REFUSED(t, pca_api(t->c, PCA_API_VERSION, 0, NULL),
 *			   EPERM, PCA_MSG_NEED_ADMIN);
 * A generic failure with the same errno (a path lookup, a socket that
 * could not be opened, a check of the core) carries no such text.
 */
#define PCA_EXPECT_REFUSED(t, expr, e, text) do { \
	long __e = __PCA_CHECK_ERR2(t, PCA_FAIL, expr, e, e, #expr, "-" #e); \
	const char *__x = (t)->c ? pca_extack((t)->c) : ""; \
	if (__e == -(long)(e) && !strstr(__x, (text))) \
		PCA_FAIL(t, "%s: extack \"%s\", expected \"%s\"", #expr, \
			 __x, (text)); \
} while (0)

/* The module's extack for a caller without CAP_SYS_ADMIN in its netns. */
#define PCA_MSG_NEED_ADMIN \
	"CAP_SYS_ADMIN in the network namespace's user namespace required"

/*
 * A node at @path for the module's device, owned by @uid:@gid, mode 0600:
 * the device given to a user as an operator would (through a group, say),
 * so that the user's open() passes the file permissions and meets the
 * module's own check.  0 or -errno.
 */
static inline int pca_dev_node_for(const char *path, uid_t uid, gid_t gid)
{
	struct stat st;

	if (stat(PCA_DEVICE_PATH, &st))
		return -errno;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	if (mknod(path, S_IFCHR | 0600, st.st_rdev) || chown(path, uid, gid))
		return -errno;
	return 0;
}

/*
 * Run @fn in a child that dropped to @uid/@gid, no supplementary groups
 * and so no capabilities, with a client of its own (NULL with the reason
 * in pca_strerror(NULL) if opening failed).  Its failures and skips count
 * for the calling test.
 */
static inline void pca_run_as(struct pca_test_ctx *t, uid_t uid, gid_t gid,
			      void (*fn)(struct pca_test_ctx *t))
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!pid) {
		struct pca_test_ctx ct = *t;

		/* the parent's socket is not ours to use */
		ct.c = NULL;
		ct.failed = 0;
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			PCA_FATAL(&ct, "dropping to %u:%u: %s", uid, gid,
				  strerror(errno));
		if (getuid() != uid || geteuid() != uid)
			PCA_FATAL(&ct, "still uid %u/%u", getuid(), geteuid());
		pca_client_open(&ct.c);
		fn(&ct);
		pca_client_close(ct.c);
		__pca_test_exit(&ct, ct.failed ? KSFT_FAIL : KSFT_PASS);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			PCA_FATAL(t, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP)
		__pca_test_exit(t, KSFT_SKIP);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != KSFT_PASS)
		PCA_FAIL(t, "part run as %u:%u failed (status %#x)", uid, gid,
			 status);
}

/*
 * fork/exec @argv (searched in PATH).  With @out, its stdout and stderr
 * are collected there (NUL terminated, cut at @len - 1 bytes); without,
 * its stdout goes to stderr so it cannot break the KTAP stream.  Returns
 * the exit status (128 + signal when killed), or -errno when it could not
 * run (-ENOENT: not found).
 */
static inline int pca_run_capture(char *const argv[], char *out, size_t len)
{
	int status, errpipe[2], outpipe[2] = { -1, -1 }, err = 0;
	size_t got = 0;
	pid_t pid;

	/* a close-on-exec pipe reports exec failures */
	if (pipe2(errpipe, O_CLOEXEC))
		return -errno;
	if (out && pipe2(outpipe, O_CLOEXEC)) {
		err = -errno;
		close(errpipe[0]);
		close(errpipe[1]);
		return err;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		goto out_close;
	}
	if (!pid) {
		if (out) {
			dup2(outpipe[1], STDOUT_FILENO);
			dup2(outpipe[1], STDERR_FILENO);
		} else {
			dup2(STDERR_FILENO, STDOUT_FILENO);
		}
		execvp(argv[0], argv);
		err = errno;
		if (write(errpipe[1], &err, sizeof(err)) < 0)
			_exit(127);
		_exit(127);
	}
	close(errpipe[1]);
	errpipe[1] = -1;
	if (out) {
		ssize_t n;

		close(outpipe[1]);
		outpipe[1] = -1;
		/* read to EOF, keeping what fits */
		for (;;) {
			char sink[512];
			char *dst = got + 1 < len ? out + got : sink;
			size_t room = got + 1 < len ? len - 1 - got :
				      sizeof(sink);

			n = read(outpipe[0], dst, room);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (dst != sink)
				got += n;
		}
		if (len)
			out[got] = '\0';
	}
	if (read(errpipe[0], &err, sizeof(err)) != sizeof(err))
		err = 0;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err = errno;
			break;
		}
	}
out_close:
	close(errpipe[0]);
	if (errpipe[1] >= 0)
		close(errpipe[1]);
	if (outpipe[0] >= 0)
		close(outpipe[0]);
	if (outpipe[1] >= 0)
		close(outpipe[1]);
	if (err)
		return err < 0 ? err : -err;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}


/* A "Key: N" field of /proc/meminfo (kB, or pages for HugePages_*), or -1. */
static inline long pca_meminfo(const char *key)
{
	size_t klen = strlen(key);
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}
/* Write @text to the file @path (procfs, sysfs, cgroupfs): 0 or -errno. */
static inline int pca_write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * A generic netlink request about region @region with @cmd, and with
 * PCA_A_POLICY @policy unless @policy < 0, built in @req for tests that
 * speak netlink on a socket of their own: its length.
 */
struct pca_raw_queue_req {
	struct nlmsghdr h;
	struct genlmsghdr g;
	struct nlattr id_hdr;
	uint32_t id;
	struct nlattr policy_hdr;
	uint32_t policy;
};

static inline size_t pca_raw_queue_req(struct pca_raw_queue_req *req,
				       uint16_t family, uint32_t seq,
				       uint8_t cmd, uint32_t region,
				       int policy)
{
	size_t len = policy < 0 ? offsetof(struct pca_raw_queue_req,
					   policy_hdr) : sizeof(*req);

	memset(req, 0, sizeof(*req));
	req->h.nlmsg_len = len;
	req->h.nlmsg_type = family;
	req->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req->h.nlmsg_seq = seq;
	req->g.cmd = cmd;
	req->g.version = POSTCOPY_ASSIST_GENL_VERSION;
	req->id_hdr.nla_len = NLA_HDRLEN + 4;
	req->id_hdr.nla_type = PCA_A_REGION_ID;
	req->id = region;
	req->policy_hdr.nla_len = NLA_HDRLEN + 4;
	req->policy_hdr.nla_type = PCA_A_POLICY;
	req->policy = policy;
	return len;
}

static inline int pca_run_cmd(char *const argv[])
{
	return pca_run_capture(argv, NULL, 0);
}

/* Print @text as diagnostics, one "# " line per line. */
static inline void pca_diag_lines(struct pca_test_ctx *t, const char *text)
{
	while (*text) {
		int n = strcspn(text, "\n");

		pca_t_diag(t, "| %.*s", n, text);
		text += n;
		if (*text)
			text++;
	}
}

/* -------------------------------------------------------------------------
 * The runner
 */

static volatile sig_atomic_t pca_timed_out;
static volatile sig_atomic_t pca_terminated;

static void pca_alarm(int sig)
{
	(void)sig;
	pca_timed_out = 1;
}

/*
 * An outer timeout (kselftest's runner, the guest's init) sends SIGTERM to
 * the harness only; the running test lives in its own process group and
 * must not outlive it.
 */
static void pca_term(int sig)
{
	pca_terminated = sig;
}

static inline void pca_features_text(uint64_t mask, char *buf, size_t len)
{
	unsigned int bit;
	size_t off = 0;

	buf[0] = '\0';
	for (bit = 0; bit < 64 && off < len; bit++) {
		const char *n = pca_feature_name(bit);

		if (!(mask & (1ULL << bit)))
			continue;
		if (n)
			off += snprintf(buf + off, len - off, "%s%s",
					off ? "," : "", n);
		else
			off += snprintf(buf + off, len - off, "%sbit%u",
					off ? "," : "", bit);
	}
}

/* KSFT_PASS, KSFT_FAIL or KSFT_SKIP for one test in its own process. */
static inline int pca_run_one(const struct pca_test *test,
			      const struct pca_api_info *api,
			      unsigned int timeout)
{
	struct sigaction sa = { .sa_handler = pca_alarm };
	int status, expired = 0;
	pid_t pid;

	pca_skip_reason[0] = '\0';
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		pca_diag("%s: fork: %s", test->name, strerror(errno));
		return KSFT_FAIL;
	}
	if (!pid) {
		struct pca_test_ctx t = { .test = test, .api = *api };
		int ret;

		/* its own group: a timeout kills whatever it started */
		setpgid(0, 0);
		signal(SIGALRM, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (!(test->flags & PCA_TEST_NO_CLIENT)) {
			ret = pca_client_open(&t.c);
			if (ret)
				PCA_FATAL(&t, "pca_client_open: %s",
					  pca_strerror(NULL));
		}
		test->fn(&t);
		pca_client_close(t.c);
		__pca_test_exit(&t, t.failed ? KSFT_FAIL : KSFT_PASS);
	}
	setpgid(pid, pid);	/* whichever of the two runs first */

	/* no SA_RESTART: the signals must interrupt waitpid() */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = pca_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	pca_timed_out = 0;
	alarm(timeout);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			pca_diag("%s: waitpid: %s", test->name,
				 strerror(errno));
			status = -1;
			break;
		}
		if (pca_timed_out) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			pca_timed_out = 0;
			expired = 1;
		}
		if (pca_terminated) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			printf("Bail out! %s: harness killed by signal %d\n",
			       test->name, (int)pca_terminated);
			fflush(stdout);
			signal(pca_terminated, SIG_DFL);
			raise(pca_terminated);
		}
	}
	alarm(0);
	/* leftovers of the test, e.g. a hung helper it forked */
	kill(-pid, SIGKILL);

	if (status == -1)
		return KSFT_FAIL;
	if (WIFSIGNALED(status)) {
		if (expired)
			pca_diag("%s: timed out after %u s", test->name,
				 timeout);
		else
			pca_diag("%s: killed by signal %d (%s)", test->name,
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		return KSFT_FAIL;
	}
	switch (WEXITSTATUS(status)) {
	case KSFT_PASS:
	case KSFT_SKIP:
		return WEXITSTATUS(status);
	case KSFT_FAIL:
		return KSFT_FAIL;
	default:
		pca_diag("%s: exited with status %d", test->name,
			 WEXITSTATUS(status));
		return KSFT_FAIL;
	}
}

/*
 * PCA_TIMEOUT_SCALE=N (N > 1) stretches every timeout: the harness's per
 * test limits and the waits inside tests, for slow (debug) kernels.
 */
static inline unsigned int pca_timeout_scale(void)
{
	const char *s = getenv("PCA_TIMEOUT_SCALE");
	unsigned long n = s ? strtoul(s, NULL, 0) : 1;

	return n > 1 && n < 100 ? n : 1;
}

/* A wait inside a test, in ms, scaled as above. */
static inline int pca_scaled_ms(int ms)
{
	return ms * (int)pca_timeout_scale();
}

static inline int pca_selected(const char *name, char **only, int nonly)
{
	int i;

	if (!nonly)
		return 1;
	for (i = 0; i < nonly; i++)
		if (!strcmp(name, only[i]))
			return 1;
	return 0;
}

static inline int pca_test_main(int argc, char **argv,
				const struct pca_test *tests, size_t ntests)
{
	unsigned int pass = 0, fail = 0, skip = 0, n = 0, override = 0;
	unsigned int scale;
	char handshake_err[512] = "";
	struct pca_api_info api = { 0 };
	struct pca_client *c;
	char **only;
	int opt, nonly = 0, planned = 0;
	size_t i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	only = calloc(argc, sizeof(*only));
	while ((opt = getopt(argc, argv, "lt:T:h")) != -1) {
		switch (opt) {
		case 'l':
			for (i = 0; i < ntests; i++)
				printf("%s\n", tests[i].name);
			return 0;
		case 't':
			only[nonly++] = optarg;
			break;
		case 'T':
			override = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr,
				"Usage: %s [-l] [-t TEST]... [-T SECONDS]\n",
				argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	for (i = 0; i < ntests; i++)
		planned += pca_selected(tests[i].name, only, nonly);
	scale = pca_timeout_scale();

	pca_skip_reason = mmap(NULL, PCA_SKIP_REASON_LEN,
			       PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (pca_skip_reason == MAP_FAILED) {
		perror("mmap");
		return KSFT_FAIL;
	}

	printf("KTAP version 1\n1..%d\n", planned);
	if (geteuid())
		pca_diag("not running as root: tests that need CAP_SYS_ADMIN will fail");

	/*
	 * The feature set decides skips.  The client is closed again at
	 * once: an open socket must not keep the module busy.
	 */
	if (pca_client_open(&c)) {
		snprintf(handshake_err, sizeof(handshake_err), "%s",
			 pca_strerror(NULL));
	} else {
		if (pca_api(c, PCA_API_VERSION, 0, &api))
			snprintf(handshake_err, sizeof(handshake_err), "%s",
				 pca_strerror(c));
		pca_client_close(c);
	}
	if (handshake_err[0]) {
		pca_diag("handshake failed: %s", handshake_err);
	} else {
		char feats[512];

		pca_features_text(api.features, feats, sizeof(feats));
		pca_diag("postcopy_assist API %u, features: %s", api.version,
			 feats[0] ? feats : "none");
	}

	for (i = 0; i < ntests; i++) {
		const struct pca_test *test = &tests[i];
		unsigned int timeout;
		uint64_t missing;
		int ret;

		if (!pca_selected(test->name, only, nonly))
			continue;
		n++;
		missing = test->features & ~api.features;
		if (missing && handshake_err[0]) {
			pca_diag("%s: needs features, handshake failed: %s",
				 test->name, handshake_err);
			ret = KSFT_FAIL;
		} else if (missing) {
			char feats[200];

			pca_features_text(missing, feats, sizeof(feats));
			snprintf(pca_skip_reason, PCA_SKIP_REASON_LEN,
				 "feature(s) not supported: %s", feats);
			ret = KSFT_SKIP;
		} else {
			timeout = override ? override :
				  scale * (test->timeout ? test->timeout :
					   PCA_TEST_TIMEOUT);
			ret = pca_run_one(test, &api, timeout);
		}

		switch (ret) {
		case KSFT_PASS:
			pass++;
			printf("ok %u %s\n", n, test->name);
			break;
		case KSFT_SKIP:
			skip++;
			printf("ok %u %s # SKIP %s\n", n, test->name,
			       pca_skip_reason[0] ? pca_skip_reason :
			       "no reason given");
			break;
		default:
			fail++;
			printf("not ok %u %s\n", n, test->name);
			break;
		}
	}

	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       pass, fail, skip);
	free(only);
	return fail ? KSFT_FAIL : KSFT_PASS;
}

#define PCA_TEST_MAIN(tests) \
	int main(int argc, char **argv) \
	{ \
		return pca_test_main(argc, argv, tests, \
				     sizeof(tests) / sizeof((tests)[0])); \
	}

#endif /* KSELFTEST_PCA_H */
