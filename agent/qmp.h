/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qmp.h: a QMP client, enough for postcopy-agent migrate --qmp to do
 * what a QEMU user would script around a migration whose RAM lives on a
 * region filesystem (Documentation/qemu.rst): the handshake, commands
 * and their answers (json-c objects), the checks of the RAM backend and
 * of the migration capabilities, and QEMU's own migration of device
 * state.
 *
 * Every call waits at most the timeout given to qmp_open(); failures are
 * -errno with a sentence in qmp->err that says what to do.
 */
#ifndef PCA_QMP_H
#define PCA_QMP_H

#include <stddef.h>
#include <json-c/json.h>

struct qmp {
	int fd;
	int timeout_ms;
	const char *path;
	unsigned int next_id;
	json_tokener *tok;
	char rx[8192];
	size_t rx_len, rx_off;
	char err[512];
	char version[32];	/* "7.2.0" */
};

/*
 * Connect to the QMP socket @path (a unix socket), read the greeting and
 * leave the capabilities negotiation mode.
 */
int qmp_open(struct qmp *q, const char *path, int timeout_ms);
void qmp_close(struct qmp *q);

/*
 * Run @cmd with @args (taken over, may be NULL): 0 with *@ret the
 * "return" value (referenced; the caller puts it; @ret may be NULL), or
 * -EREMOTEIO with QEMU's error in q->err, or another -errno.  Events
 * that arrive meanwhile are dropped.
 */
int qmp_exec(struct qmp *q, const char *cmd, json_object *args,
	     json_object **ret);

/*
 * The checks and settings both sides need: the guest's RAM backend is a
 * shared file of a region filesystem (its mem-path in @mem_path, of
 * @len bytes; for a directory mem-path, the /proc/PID/fd/N path of the
 * file QEMU made there and unlinked), and QEMU has x-ignore-shared, which
 * is set (and
 * postcopy-ram cleared): QEMU moves the device state, the agent the RAM.
 */
int qmp_prepare(struct qmp *q, char *mem_path, size_t len);

/* Destination: QEMU waits for an incoming migration (-incoming defer). */
int qmp_check_incoming(struct qmp *q);

/*
 * The status of QEMU's migration (query-migrate): "completed",
 * "failed", ... into @status ("none" before any); on "failed" QEMU's
 * reason, when it gives one, into q->err.
 */
int qmp_migrate_status(struct qmp *q, char *status, size_t len);

/* The run state (query-status): "running", "paused", "inmigrate", ... */
int qmp_run_state(struct qmp *q, char *status, size_t len);

#endif /* PCA_QMP_H */
