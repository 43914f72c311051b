// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_qmp: a small QMP client for qemu_test, usable as a command of
 * "postcopy-agent migrate --pause-cmd/--resume-cmd".
 *
 *   qemu_qmp SOCKET STEP...
 *
 * connects to QEMU's QMP socket (a unix socket), negotiates
 * capabilities and runs the steps in order:
 *
 *   {...}          send this command; fail unless QEMU answers "return"
 *   wait:STATUS    poll query-status until the run state is STATUS
 *   stamp:FILE     write CLOCK_MONOTONIC in ns to FILE (when the step
 *                  before it was answered)
 *   print          print the answer of the last command on stdout
 *
 * Events QEMU sends in between are skipped.  Exit status 0 when every step
 * succeeded; errors on stderr.  A step waits at most QMP_TIMEOUT_S
 * seconds (environment, default 60).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int qmp_fd = -1;
static char rbuf[65536];
static size_t rlen;
static char answer[65536];
static long timeout_ms = 60000;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* One line from QEMU into @line (without the newline), or -1. */
static int read_line(char *line, size_t len)
{
	long long end = now_ns() + timeout_ms * 1000000LL;

	for (;;) {
		char *nl = memchr(rbuf, '\n', rlen);
		struct pollfd p = { .fd = qmp_fd, .events = POLLIN };
		ssize_t n;
		int left;

		if (nl) {
			size_t l = nl - rbuf;

			if (l >= len)
				l = len - 1;
			memcpy(line, rbuf, l);
			line[l] = '\0';
			rlen -= nl + 1 - rbuf;
			memmove(rbuf, nl + 1, rlen);
			return 0;
		}
		if (rlen == sizeof(rbuf)) {
			fprintf(stderr, "qemu_qmp: line too long\n");
			return -1;
		}
		left = (int)((end - now_ns()) / 1000000);
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			fprintf(stderr, "qemu_qmp: no answer from QEMU\n");
			return -1;
		}
		n = read(qmp_fd, rbuf + rlen, sizeof(rbuf) - rlen);
		if (n <= 0) {
			fprintf(stderr, "qemu_qmp: QEMU closed the socket\n");
			return -1;
		}
		rlen += n;
	}
}

/* Send @cmd; the answer ("return" or "error") into answer[]. */
static int execute(const char *cmd)
{
	size_t len = strlen(cmd), off = 0;

	while (off < len) {
		ssize_t n = write(qmp_fd, cmd + off, len - off);

		if (n <= 0) {
			fprintf(stderr, "qemu_qmp: write: %s\n", strerror(errno));
			return -1;
		}
		off += n;
	}
	if (write(qmp_fd, "\n", 1) != 1)
		return -1;
	for (;;) {
		if (read_line(answer, sizeof(answer)))
			return -1;
		if (strstr(answer, "\"event\""))
			continue;
		if (!strncmp(answer, "{\"return\"", 9))
			return 0;
		fprintf(stderr, "qemu_qmp: %s: %s\n", cmd, answer);
		return -1;
	}
}

static int wait_status(const char *status)
{
	long long end = now_ns() + timeout_ms * 1000000LL;
	char want[128];

	snprintf(want, sizeof(want), "\"status\": \"%s\"", status);
	for (;;) {
		if (execute("{\"execute\": \"query-status\"}"))
			return -1;
		if (strstr(answer, want))
			return 0;
		if (now_ns() > end) {
			fprintf(stderr, "qemu_qmp: still not %s: %s\n", status,
				answer);
			return -1;
		}
		usleep(20000);
	}
}

static int stamp(const char *file)
{
	long long t = now_ns();
	FILE *f = fopen(file, "w");

	if (!f || fprintf(f, "%lld\n", t) < 0 || fclose(f)) {
		fprintf(stderr, "qemu_qmp: %s: %s\n", file, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *env = getenv("QMP_TIMEOUT_S");
	char line[4096];
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: qemu_qmp SOCKET STEP...\n");
		return 2;
	}
	if (env)
		timeout_ms = atol(env) * 1000;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	qmp_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (qmp_fd < 0 || connect(qmp_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "qemu_qmp: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* the greeting, then capabilities negotiation */
	if (read_line(line, sizeof(line)) || !strstr(line, "\"QMP\"")) {
		fprintf(stderr, "qemu_qmp: %s: no QMP greeting\n", argv[1]);
		return 1;
	}
	if (execute("{\"execute\": \"qmp_capabilities\"}"))
		return 1;
	for (i = 2; i < argc; i++) {
		const char *s = argv[i];
		int ret;

		if (s[0] == '{') {
			ret = execute(s);
		} else if (!strncmp(s, "wait:", 5)) {
			ret = wait_status(s + 5);
		} else if (!strncmp(s, "stamp:", 6)) {
			ret = stamp(s + 6);
		} else if (!strcmp(s, "print")) {
			ret = printf("%s\n", answer) < 0;
		} else {
			fprintf(stderr, "qemu_qmp: unknown step %s\n", s);
			return 2;
		}
		if (ret)
			return 1;
	}
	return 0;
}
