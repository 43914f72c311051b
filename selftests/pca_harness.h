/* SPDX-License-Identifier: GPL-2.0 */
/*
 * pca_harness.h: what the postcopy_assist selftests add to the kernel's
 * kselftest harness (tools/testing/selftests/kselftest_harness.h).
 *
 * The kernel's harness runs the tests: each TEST_F in a forked child in its
 * own process group under a timeout, KTAP output, SKIP/XFAIL, -l/-t/-r
 * selection, the exit status.  This header adds, for this module only:
 *
 *  - the fixture "postcopy_assist": one API handshake per test
 *    (self->t.api), the client context struct pca_test_ctx (t->c, open
 *    unless the test says PCA_TEST_NO_CLIENT), feature gating (a test
 *    whose required PCA_FEATURE_* bits are not all supported is skipped,
 *    not failed), and no process of a test left behind when it ends;
 *  - PCA_TEST_F(name, fn, features, ...): a TEST_F of the fixture whose
 *    body calls fn(t); options as designated initializers, e.g.
 *    PCA_TEST_F(x, test_x, 0, .timeout = 60, .flags = PCA_TEST_NO_CLIENT);
 *  - timeouts that stretch on slow (debug) kernels: PCA_TIMEOUT_SCALE=N in
 *    the environment multiplies every test's limit (pca_test_timeout())
 *    and the waits inside tests (pca_scaled_ms());
 *  - checks that print a -errno's text, and the kernel's extack message
 *    when the client holds that very error: PCA_EXPECT_OK/ERR/EXTACK/
 *    REFUSED and friends, reported through the harness (TH_LOG, the
 *    test's exit code);
 *  - helpers: run-as-user (pca_run_as), running commands (pca_run_cmd,
 *    pca_run_capture), /proc and sysfs files, a raw netlink request.
 *
 * PCA_ASSERT_*, PCA_FATAL and PCA_SKIP end the test at once with exit(),
 * so they work from helpers, forked children and threads alike; the
 * kernel's ASSERT_* longjmp() and are for the test's own thread only.
 * The kernel's EXPECT_* and ASSERT_* need _metadata in scope:
 * PCA_METADATA(t) declares it in a function that has the context.
 */
#ifndef PCA_HARNESS_H
#define PCA_HARNESS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

/*
 * The kernel's harness is written for -Wall; this suite builds with
 * -Wextra too.  Its setjmp() in every TEST_F wrapper is what -Wclobbered
 * warns about, for the whole file.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#pragma GCC diagnostic ignored "-Wclobbered"

#include "pca.h"

/* struct pca_test.flags */
#define PCA_TEST_NO_CLIENT	(1U << 0) /* don't open t->c for the test */

struct pca_test_ctx;

/* What PCA_TEST_F() knows of a test besides its name. */
struct pca_test {
	const char *name;
	void (*fn)(struct pca_test_ctx *t);
	uint64_t features;	/* required PCA_FEATURE_* */
	unsigned int timeout;	/* seconds; 0: the harness's default */
	unsigned int flags;	/* PCA_TEST_* */
};

struct pca_test_ctx {
	struct __test_metadata *md;	/* the kernel harness's test */
	const struct pca_test *test;
	struct pca_client *c;	/* open unless PCA_TEST_NO_CLIENT */
	struct pca_api_info api; /* the fixture's handshake */
	char handshake_err[256]; /* why it failed, or "" */
	struct timespec started;	/* when the test body began */
};

/* The kernel's EXPECT_* and ASSERT_* in a function with the context. */
#define PCA_METADATA(t) \
	struct __test_metadata __attribute__((unused)) *_metadata = (t)->md

#define pca_diag(fmt, ...) \
	printf("# " fmt "\n", ##__VA_ARGS__)

#define pca_t_diag(t, fmt, ...) \
	pca_diag("%s: " fmt, (t)->test->name, ##__VA_ARGS__)

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

/* A test's time limit in seconds for the harness: its own, scaled. */
static inline int pca_test_timeout(unsigned int seconds)
{
	return (seconds ? seconds : TEST_TIMEOUT_DEFAULT) *
	       pca_timeout_scale();
}

/* Whether a check of the test failed so far. */
static inline int pca_failed(struct pca_test_ctx *t)
{
	return t->md->exit_code == KSFT_FAIL;
}

/* Text for a -errno @ret: the client's full error if it is that one. */
static inline const char *pca_t_errtext(struct pca_test_ctx *t, long ret)
{
	if (t->c && ret < 0 && pca_errno(t->c) == ret)
		return pca_strerror(t->c);
	if (ret < 0 && ret > -4096)
		return strerror(-ret);
	return "no error";
}

/* End the test (or the forked part of it) with @code, output flushed. */
static inline void __attribute__((noreturn))
pca_test_exit(struct pca_test_ctx *t, int code)
{
	(void)t;
	fflush(stdout);
	fflush(stderr);
	exit(code);
}

/* The end of a forked part of a test: its status for pca_wait_part(). */
static inline void __attribute__((noreturn))
pca_part_exit(struct pca_test_ctx *t)
{
	pca_test_exit(t, pca_failed(t) ? KSFT_FAIL : KSFT_PASS);
}

/* Record a failure and go on. */
#define PCA_FAIL(t, fmt, ...) do { \
	PCA_METADATA(t); \
	TH_LOG(" " fmt, ##__VA_ARGS__); \
	_metadata->exit_code = KSFT_FAIL; \
} while (0)

/* Fail and end the test. */
#define PCA_FATAL(t, fmt, ...) do { \
	PCA_FAIL(t, fmt, ##__VA_ARGS__); \
	pca_test_exit(t, KSFT_FAIL); \
} while (0)

/*
 * End the test as skipped, with a reason; from a helper or a forked part
 * too (the reason lives in the harness's shared memory).
 */
#define PCA_SKIP(t, fmt, ...) do { \
	PCA_METADATA(t); \
	SKIP(pca_test_exit(t, KSFT_SKIP), fmt, ##__VA_ARGS__); \
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
 * The context of a forked part of a test: the same test, without the
 * parent's client (its socket is not the child's to use).
 */
static inline struct pca_test_ctx pca_part_ctx(struct pca_test_ctx *t)
{
	struct pca_test_ctx ct = *t;

	ct.c = NULL;
	return ct;
}

/*
 * The wait status of child @pid once it ended within @ms (scaled for slow
 * guests), or -1 when it did not: then it is killed and reaped.
 */
static inline int pca_waitpid_ms(pid_t pid, int ms)
{
	int status, waited;

	for (waited = 0; waited < pca_scaled_ms(ms); waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * Wait for a forked part of @t: its skip ends @t as skipped, any other
 * ending but success fails @t (its own checks have reported already).
 */
static inline void pca_wait_part(struct pca_test_ctx *t, pid_t pid,
				 const char *what)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			PCA_FATAL(t, "waitpid: %s", strerror(errno));
	if (WIFEXITED(status) && WEXITSTATUS(status) == KSFT_SKIP)
		pca_test_exit(t, KSFT_SKIP);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != KSFT_PASS)
		PCA_FAIL(t, "%s failed (status %#x)", what, status);
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
	char what[64];
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!pid) {
		struct pca_test_ctx ct = pca_part_ctx(t);

		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			PCA_FATAL(&ct, "dropping to %u:%u: %s", uid, gid,
				  strerror(errno));
		if (getuid() != uid || geteuid() != uid)
			PCA_FATAL(&ct, "still uid %u/%u", getuid(), geteuid());
		pca_client_open(&ct.c);
		fn(&ct);
		pca_client_close(ct.c);
		pca_part_exit(&ct);
	}
	snprintf(what, sizeof(what), "part run as %u:%u", uid, gid);
	pca_wait_part(t, pid, what);
}

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
 * Start @argv[0] (a path) in the background, in the network namespace
 * @nsfd (-1: this one), stdin from /dev/null, its stdout and stderr into
 * the file @out, appended to with @append and truncated otherwise: for
 * daemons and long runs whose output is read later with pca_file_text().
 * Returns its pid; failing to fork ends the test.
 */
static inline pid_t pca_spawn_in_netns(struct pca_test_ctx *t, int nsfd,
				       char *const argv[], const char *out,
				       bool append)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!pid) {
		int fd = open(out, O_WRONLY | O_CREAT | O_CLOEXEC |
			      (append ? O_APPEND : O_TRUNC), 0644);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || null < 0)
			_exit(126);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET))
			_exit(125);
		dup2(null, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* pca_spawn_in_netns() in this namespace, @out truncated first. */
static inline pid_t pca_spawn_to_file(struct pca_test_ctx *t,
				      char *const argv[], const char *out)
{
	return pca_spawn_in_netns(t, -1, argv, out, false);
}

/* The text of the file @path into @buf (NUL terminated; "" if unreadable). */
static inline void pca_file_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
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

/* Names of the PCA_FEATURE_* bits in @mask, comma separated. */
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

/* -------------------------------------------------------------------------
 * The fixture
 */

FIXTURE(postcopy_assist) {
	struct pca_test_ctx t;
};

/*
 * The handshake learns the supported features.  Its client is closed
 * again at once: an open socket must not keep the module busy.
 */
FIXTURE_SETUP(postcopy_assist)
{
	struct pca_client *c;

	self->t.md = _metadata;
	if (pca_client_open(&c)) {
		snprintf(self->t.handshake_err, sizeof(self->t.handshake_err),
			 "%s", pca_strerror(NULL));
		return;
	}
	if (pca_api(c, PCA_API_VERSION, 0, &self->t.api))
		snprintf(self->t.handshake_err, sizeof(self->t.handshake_err),
			 "%s", pca_strerror(c));
	pca_client_close(c);
}

/*
 * A test that takes a second or more says how long: what a lane costs,
 * case by case, is read from its log.
 */
FIXTURE_TEARDOWN(postcopy_assist)
{
	struct timespec now;
	double secs;

	pca_client_close(self->t.c);
	self->t.c = NULL;
	if (!self->t.test || clock_gettime(CLOCK_MONOTONIC, &now))
		return;
	secs = (double)(now.tv_sec - self->t.started.tv_sec) +
	       (double)(now.tv_nsec - self->t.started.tv_nsec) / 1e9;
	if (secs >= 1.0)
		pca_diag("%s: took %.1f s", self->t.test->name, secs);
}

/*
 * The kernel's harness kills a test's process group only when the test
 * times out.  A test leaves nothing behind either way: when it ends, by
 * return or exit(), whatever else runs in its group (helpers it forked)
 * is killed, except the harness's own process waiting for it.
 */
static pid_t pca_test_pid;

static void pca_kill_leftovers(void)
{
	pid_t pgrp = getpgrp(), self = getpid(), parent = getppid();
	struct dirent *e;
	DIR *d;

	if (self != pca_test_pid)
		return;	/* a helper of the test exiting */
	d = opendir("/proc");
	if (!d)
		return;
	while ((e = readdir(d))) {
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);

		if (pid > 0 && pid != self && pid != parent &&
		    getpgid(pid) == pgrp)
			kill(pid, SIGKILL);
	}
	closedir(d);
}

/* The body of every PCA_TEST_F(): gating, the client, then the test. */
static inline void pca_test_body(struct __test_metadata *_metadata,
				 struct pca_test_ctx *t,
				 const struct pca_test *test)
{
	uint64_t missing = test->features & ~t->api.features;

	t->md = _metadata;
	t->test = test;
	clock_gettime(CLOCK_MONOTONIC, &t->started);
	pca_test_pid = getpid();
	atexit(pca_kill_leftovers);
	if (missing && t->handshake_err[0])
		PCA_FATAL(t, "needs features, handshake failed: %s",
			  t->handshake_err);
	if (missing) {
		char feats[200];

		pca_features_text(missing, feats, sizeof(feats));
		SKIP(return, "feature(s) not supported: %s", feats);
	}
	if (!(test->flags & PCA_TEST_NO_CLIENT) && pca_client_open(&t->c))
		PCA_FATAL(t, "pca_client_open: %s", pca_strerror(NULL));
	test->fn(t);
	fflush(stdout);
	fflush(stderr);
	pca_kill_leftovers();
}

/*
 * PCA_TEST_F(name, fn, features[, .timeout = S][, .flags = F]): the test
 * "postcopy_assist.name" of the kernel's harness, running fn(t) when every feature
 * bit in @features is supported, under the (scaled) time limit S.
 */
#define PCA_TEST_F(_name, _fn, _features, ...) \
	static const struct pca_test pca_test_##_name = { \
		.name = #_name, .fn = (_fn), .features = (_features), \
		__VA_ARGS__ }; \
	TEST_F_TIMEOUT(postcopy_assist, _name, \
		       pca_test_timeout(pca_test_##_name.timeout)) \
	{ \
		pca_test_body(_metadata, &self->t, &pca_test_##_name); \
	}

/* Change the time limit of PCA_TEST_F(@_name) at run time, before main(). */
#define PCA_SET_TIMEOUT(_name, _seconds) \
	(_postcopy_assist_##_name##_object->timeout = pca_test_timeout(_seconds))

/* Every test's time limit, e.g. from a -T option of the binary's own. */
static inline void pca_set_all_timeouts(unsigned int seconds)
{
	struct __fixture_metadata *f;
	struct __test_metadata *test;

	for (f = __fixture_list; f; f = f->next)
		for (test = f->tests; test; test = test->next)
			test->timeout = seconds;
}

/*
 * An outer timeout (kselftest's runner) sends SIGTERM to the harness only;
 * the running test lives in its own process group and must not outlive it.
 */
static void pca_harness_term(int sig)
{
	if (__active_test && __active_test->pid > 0)
		kill(-__active_test->pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void __attribute__((constructor(KSELFTEST_PRIO_XFAIL + 1)))
pca_harness_init(void)
{
	struct sigaction sa = { .sa_handler = pca_harness_term };

	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (geteuid())
		pca_diag("not running as root: tests that need CAP_SYS_ADMIN will fail");
}

#endif /* PCA_HARNESS_H */
