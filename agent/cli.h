/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli.h: what the postcopy-agent subcommands share (postcopy-agent.c).
 */
#ifndef PCA_CLI_H
#define PCA_CLI_H

#include <stdio.h>

#define PROG	"postcopy-agent"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

/* Set when a command refuses its arguments: the exit status is 2. */
extern int usage_error;

/* "postcopy-agent: <what>: <why>" on stderr; returns @err. */
int fail(const char *what, const char *why, int err);
/* A usage error of command @name (fmt takes one string); -EINVAL. */
int cmd_usage(const char *name, const char *fmt, const char *arg);
/* The text of the last usage error. */
extern char usage_text[256];

/* cli-migrate.c */
int cmd_source(int argc, char **argv);
int cmd_destination(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);

struct pca_mig_info;
/*
 * Take migration @req from the relay and run it to its end (a process of
 * its own, forked by the daemon): 0, or -errno once reported to the VMM.
 * @defaults (@ndefaults words) are options read before the migration's
 * arguments: the daemon's TLS options.
 */
int relay_worker(const struct pca_mig_info *req, int quiet,
		 char *const *defaults, int ndefaults);

/* cli-relay.c */
int cmd_daemon(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_migrations(int argc, char **argv);

#endif /* PCA_CLI_H */
