// SPDX-License-Identifier: GPL-2.0
/*
 * cli-relay.c: postcopy-agent daemon, migrate and migrations.
 *
 * The daemon is the host's agent for the module's migration relay
 * (Documentation/relay.rst): it listens on the "agent" group and forks a
 * worker for every migration request.  The worker accepts the migration
 * on a socket of its own, so the module sees it go if it dies, and runs
 * it to the end (relay_worker() in cli-migrate.c).  A crash in one
 * migration cannot take the others, or the daemon, with it.
 *
 * migrate is the VMM's side for operators and scripts: it asks for a
 * migration, follows its events, pauses and resumes through commands of
 * the operator's choosing, and waits for the end.  migrations lists what
 * the module knows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "lib/pca.h"
#include "qmp.h"

#define DAEMON_MAX_WORKERS	256
#define DAEMON_POLL_MS		500

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void catch_stop(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int relay_client(const char *name, const char *group,
			struct pca_client **c)
{
	struct pca_api_info api;
	int ret;

	ret = pca_client_open(c);
	if (ret)
		return fail(name, pca_strerror(NULL), ret);
	ret = pca_api(*c, PCA_API_VERSION, PCA_FEATURE_MIGRATE |
		      PCA_FEATURE_REGION_OPEN, &api);
	if (!ret && group)
		ret = pca_join_group(*c, group);
	if (ret) {
		fail(name, pca_strerror(*c), ret);
		pca_client_close(*c);
		*c = NULL;
	}
	return ret;
}

/* -------------------------------------------------------------------------
 * daemon
 */

struct daemon {
	struct pca_client *c;
	int quiet;
	/* TLS options every worker starts from (the migration's override) */
	const char *tls_args[8];
	int ntls;
	pid_t workers[DAEMON_MAX_WORKERS];
	uint32_t mig_ids[DAEMON_MAX_WORKERS];
	unsigned int nr_workers;
};

static void daemon_spawn(struct daemon *d, const struct pca_mig_info *req)
{
	unsigned int i;
	pid_t pid;

	for (i = 0; i < d->nr_workers; i++)
		if (d->mig_ids[i] == req->mig_id)
			return;		/* seen twice: a rescan */
	if (d->nr_workers == DAEMON_MAX_WORKERS) {
		fprintf(stderr, PROG ": daemon: migration %u left to another agent: %u migrations run here already\n",
			req->mig_id, DAEMON_MAX_WORKERS);
		return;
	}
	/* no stdio buffer may be written twice */
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, PROG ": daemon: migration %u: fork: %s\n",
			req->mig_id, strerror(errno));
		return;
	}
	if (!pid) {
		/* the worker: the daemon's socket is not its to read */
		pca_client_close(d->c);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		int ret = relay_worker(req, d->quiet, (char *const *)d->tls_args,
				       d->ntls);

		/*
		 * _exit() flushes no stdio buffer: the worker's summary
		 * would be lost whenever stdout is a pipe or a file.
		 */
		fflush(stdout);
		fflush(stderr);
		_exit(ret ? 1 : 0);
	}
	d->workers[d->nr_workers] = pid;
	d->mig_ids[d->nr_workers++] = req->mig_id;
	if (!d->quiet)
		fprintf(stderr, PROG ": daemon: migration %u (%s of region %u, peer %s): worker %d\n",
			req->mig_id, pca_mig_role_name(req->role),
			req->region_id, req->peer, (int)pid);
}

static void daemon_reap(struct daemon *d, int hang)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, hang ? 0 : WNOHANG)) > 0) {
		unsigned int i;

		for (i = 0; i < d->nr_workers; i++)
			if (d->workers[i] == pid)
				break;
		if (i == d->nr_workers)
			continue;
		if (!d->quiet || !WIFEXITED(status) || WEXITSTATUS(status))
			fprintf(stderr, PROG ": daemon: migration %u: worker %d %s %d\n",
				d->mig_ids[i], (int)pid,
				WIFEXITED(status) ? "exited with status" :
				"killed by signal",
				WIFEXITED(status) ? WEXITSTATUS(status) :
				WTERMSIG(status));
		d->nr_workers--;
		d->workers[i] = d->workers[d->nr_workers];
		d->mig_ids[i] = d->mig_ids[d->nr_workers];
		if (hang && !d->nr_workers)
			break;
	}
}

/* Requests made while no daemon listened (one was restarting). */
static void daemon_rescan(struct daemon *d)
{
	struct pca_mig_info *v;
	size_t n, i;

	if (pca_migrate_list(d->c, &v, &n)) {
		fprintf(stderr, PROG ": daemon: listing migrations: %s\n",
			pca_strerror(d->c));
		return;
	}
	for (i = 0; i < n; i++)
		if (v[i].phase == PCA_MIG_REQUESTED)
			daemon_spawn(d, &v[i]);
	free(v);
}

int cmd_daemon(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "tls-creds", required_argument, NULL, 'c' },
		{ "tls-psk", required_argument, NULL, 'p' },
		{ "tls-peer", required_argument, NULL, 'n' },
		{ "insecure", no_argument, NULL, 'i' },
		{ "no-ktls", no_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon *d;
	int opt, ret;

	d = calloc(1, sizeof(*d));
	if (!d)
		return fail("daemon", "out of memory", -ENOMEM);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		if (opt == 'q') {
			d->quiet = 1;
		} else if ((opt == 'c' || opt == 'p' || opt == 'n') &&
			   d->ntls <= 6) {
			d->tls_args[d->ntls++] = opt == 'c' ? "--tls-creds" :
						 opt == 'p' ? "--tls-psk" :
						 "--tls-peer";
			d->tls_args[d->ntls++] = optarg;
		} else if ((opt == 'i' || opt == 'k') && d->ntls <= 7) {
			d->tls_args[d->ntls++] = opt == 'i' ? "--insecure" :
						 "--no-ktls";
		} else if (opt == 'h') {
			printf("Usage: " PROG " daemon [--quiet] [--tls-creds DIR | --tls-psk FILE | --insecure]\n"
			       "       [--tls-peer NAME] [--no-ktls]\n\n"
			       "Take migration requests from the module's relay (one daemon per\n"
			       "host and network namespace), one worker process each.  The\n"
			       "migration's arguments are the options of '" PROG " source' or\n"
			       "'" PROG " destination', e.g. \"--channels 4 --rounds 5\".\n"
			       "The TLS options given here apply to every migration; its\n"
			       "arguments may override them (e.g. \"--tls-psk FILE\").  Without\n"
			       "one, a migration's arguments must choose.\n");
			free(d);
			return 0;
		} else {
			free(d);
			return cmd_usage("daemon", "unknown option %s",
					 argv[optind - 1]);
		}
	}
	if (optind < argc) {
		free(d);
		return cmd_usage("daemon", "unexpected argument %s",
				 argv[optind]);
	}

	ret = relay_client("daemon", PCA_MCGRP_AGENT, &d->c);
	if (ret) {
		free(d);
		return ret;
	}
	catch_stop();
	if (!d->quiet)
		fprintf(stderr, PROG ": daemon: waiting for migration requests\n");
	daemon_rescan(d);
	/*
	 * Under systemd (Type=notify): ready, requests are taken from here
	 * on.  The environment goes, so that the workers do not notify.
	 */
	sd_notify(1, "READY=1");

	while (!stop_requested) {
		struct pca_mig_info req;

		ret = pca_mig_recv(d->c, &req, DAEMON_POLL_MS);
		if (ret == -ENOBUFS) {
			daemon_rescan(d);
		} else if (ret < 0 && ret != -EINTR) {
			fail("daemon", pca_strerror(d->c), ret);
			break;
		} else if (ret > 0 && req.cmd == PCA_CMD_MIGRATE_REQUEST &&
			   req.phase == PCA_MIG_REQUESTED) {
			daemon_spawn(d, &req);
		}
		daemon_reap(d, 0);
		ret = 0;
	}

	/* workers end their migrations as failed, and say so */
	if (d->nr_workers) {
		unsigned int i;

		for (i = 0; i < d->nr_workers; i++)
			kill(d->workers[i], SIGTERM);
		daemon_reap(d, 1);
	}
	pca_client_close(d->c);
	free(d);
	return ret;
}

/* -------------------------------------------------------------------------
 * migrate: the VMM's side, for operators
 */

static int run_cmd(const char *what, const char *cmd)
{
	int status;

	if (!cmd)
		return 0;
	status = system(cmd);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, PROG ": migrate: %s command failed: %s\n",
			what, cmd);
		return -EIO;
	}
	return 0;
}

static void print_event(const struct pca_mig_info *m, int json)
{
	const struct pca_mig_progress *p = &m->progress;

	if (json) {
		printf("{\"id\": %u, \"region\": %u, \"role\": \"%s\", \"phase\": \"%s\", \"peer\": \"%s\", \"pages\": %llu, \"pages_sent\": %llu, \"pages_remaining\": %llu, \"round\": %llu, \"bytes\": %llu, \"dirty_rate\": %llu, \"faults\": %llu, \"elapsed_s\": %.3f, \"downtime_ms\": %.3f, \"guest_downtime_ms\": %.3f, \"running\": %s, \"p50_us\": %.1f, \"p99_us\": %.1f, \"reconnects\": %llu, \"broken_ms\": %.1f, \"error\": %u, \"message\": \"%s\"}\n",
		       m->mig_id, m->region_id, pca_mig_role_name(m->role),
		       pca_mig_phase_name(m->phase), m->peer,
		       (unsigned long long)p->pages_total,
		       (unsigned long long)p->pages_sent,
		       (unsigned long long)p->pages_remaining,
		       (unsigned long long)p->round,
		       (unsigned long long)p->bytes_wire,
		       (unsigned long long)p->dirty_rate,
		       (unsigned long long)p->faults, p->elapsed_ns / 1e9,
		       p->downtime_ns / 1e6, p->guest_downtime_ns / 1e6,
		       m->running ? "true" : "false", p->fault_p50_ns / 1e3,
		       p->fault_p99_ns / 1e3,
		       (unsigned long long)p->reconnects, p->broken_ns / 1e6,
		       m->error, m->message);
	} else {
		char rec[64] = "";

		if (p->reconnects || m->phase == PCA_MIG_RECOVERING)
			snprintf(rec, sizeof(rec),
				 ", %llu reconnect%s, broken %.1f s",
				 (unsigned long long)p->reconnects,
				 p->reconnects == 1 ? "" : "s",
				 p->broken_ns / 1e9);
		printf("migration %u: %-10s %s region %u, %llu/%llu pages, %llu left, round %llu, %.1f MiB, %llu faults, %.1f s%s%s%s\n",
		       m->mig_id, pca_mig_phase_name(m->phase),
		       pca_mig_role_name(m->role), m->region_id,
		       (unsigned long long)p->pages_sent,
		       (unsigned long long)p->pages_total,
		       (unsigned long long)p->pages_remaining,
		       (unsigned long long)p->round,
		       p->bytes_wire / 1048576.0,
		       (unsigned long long)p->faults, p->elapsed_ns / 1e9,
		       rec, m->message[0] ? ": " : "", m->message);
	}
	fflush(stdout);
}

/* -------------------------------------------------------------------------
 * migrate --qmp: QEMU as the VMM (Documentation/qemu.rst)
 */

struct vmm_qmp {
	struct qmp q;
	const char *sock;
	const char *incoming;		/* the destination QEMU's ADDR:PORT */
	int timeout_ms;
	int stopped;			/* source: we stopped the vCPUs */
	int started, sent;		/* source: QEMU's migration */
	int running;			/* destination: the guest runs */
};

static json_object *uri_args(const char *incoming)
{
	json_object *a = json_object_new_object();
	char uri[PCA_MIG_PEER_MAX + 8];

	snprintf(uri, sizeof(uri), "tcp:%s", incoming);
	json_object_object_add(a, "uri", json_object_new_string(uri));
	return a;
}

static int vmm_fail(struct vmm_qmp *v, int ret)
{
	fprintf(stderr, PROG ": migrate: %s\n", v->q.err);
	return ret;
}

/* Both sides: checks, capabilities, before the migration is asked for. */
static int vmm_setup(struct vmm_qmp *v, int role, char *mem_path, size_t len)
{
	int ret = qmp_open(&v->q, v->sock, v->timeout_ms);

	if (!ret)
		ret = qmp_prepare(&v->q, mem_path, len);
	if (!ret && role == PCA_MIG_DESTINATION)
		ret = qmp_check_incoming(&v->q);
	if (ret)
		return vmm_fail(v, ret);
	printf("QEMU %s: RAM on %s, x-ignore-shared set\n", v->q.version,
	       mem_path);
	fflush(stdout);
	return 0;
}

/*
 * Destination, once the migration is asked for (a refusal, e.g. no
 * daemon, leaves QEMU as it was): QEMU listens for the device state.
 */
static int vmm_listen(struct vmm_qmp *v)
{
	int ret = qmp_exec(&v->q, "migrate-incoming", uri_args(v->incoming),
			   NULL);

	if (ret)
		return vmm_fail(v, ret);
	printf("QEMU takes the device state on %s\n", v->incoming);
	fflush(stdout);
	return 0;
}

/* Source, at switchover: the vCPUs stop. */
static int vmm_stop(struct vmm_qmp *v)
{
	int ret = qmp_exec(&v->q, "stop", NULL, NULL);

	if (ret)
		return vmm_fail(v, ret);
	v->stopped = 1;
	return 0;
}

/* Wait for QEMU's migration to end: 0 completed, -EIO failed. */
static int vmm_wait_migration(struct vmm_qmp *v, const char *side)
{
	struct timespec t0, now;
	char st[32];
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ret = qmp_migrate_status(&v->q, st, sizeof(st));
		if (ret)
			return vmm_fail(v, ret);
		if (!strcmp(st, "completed"))
			return 0;
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			if (!strcmp(st, "cancelled"))
				snprintf(v->q.err, sizeof(v->q.err),
					 "QEMU's migration was cancelled");
			fprintf(stderr, PROG ": migrate: %s (%s)\n", v->q.err,
				side);
			return -EIO;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000 > v->timeout_ms) {
			fprintf(stderr, PROG ": migrate: QEMU's migration of device state did not end within %d ms (--qmp-timeout-ms; %s, status %s)\n",
				v->timeout_ms, side, st);
			return -ETIMEDOUT;
		}
		if (stop_requested)
			return -ECANCELED;
		usleep(10000);
	}
}

/* Source, once the destination switched over: the device state. */
static int vmm_send_state(struct vmm_qmp *v)
{
	int ret;

	v->started = 1;
	ret = qmp_exec(&v->q, "migrate", uri_args(v->incoming), NULL);
	if (ret)
		return vmm_fail(v, ret);
	ret = vmm_wait_migration(v, "source");
	if (!ret) {
		v->sent = 1;
		printf("QEMU's device state sent to %s\n", v->incoming);
		fflush(stdout);
	}
	return ret;
}

/* Source, when the migration failed before QEMU's did: the guest goes on. */
static void vmm_continue(struct vmm_qmp *v)
{
	if (!v->stopped || v->sent)
		return;
	if (qmp_exec(&v->q, "cont", NULL, NULL))
		fprintf(stderr, PROG ": migrate: the guest could not be continued on the source: %s\n",
			v->q.err);
	else
		fprintf(stderr, PROG ": migrate: the guest keeps running on the source\n");
	v->stopped = 0;
}

/* Destination: the device state loaded, the guest runs. */
static int vmm_run(struct vmm_qmp *v)
{
	char st[32];
	int ret = vmm_wait_migration(v, "destination");

	if (ret)
		return ret;
	ret = qmp_run_state(&v->q, st, sizeof(st));
	/* without -S QEMU runs the guest itself once loaded */
	if (!ret && strcmp(st, "running"))
		ret = qmp_exec(&v->q, "cont", NULL, NULL);
	if (ret)
		return vmm_fail(v, ret);
	v->running = 1;
	return 0;
}

static const char migrate_help[] =
"Usage: " PROG " migrate --region-id ID|PATH --role source|destination --peer ADDR:PORT\n"
"                       [--args \"OPTIONS\"] [--pause-cmd CMD] [--resume-cmd CMD]\n"
"                       [--qmp SOCKET --vmm-incoming ADDR:PORT [--qmp-timeout-ms MS]]\n"
"                       [--timeout-s N] [--json]\n"
"\n"
"Ask the module's relay for a migration of a region (the daemon does the\n"
"work), print its events, and wait for its end.  The migration belongs\n"
"to this command: interrupting it cancels the migration.\n"
"\n"
"  --region-id ID|PATH   the region (created by the VMM), or its file on a\n"
"                        region filesystem (pcafs)\n"
"  --role ROLE           source (PEER: the address to listen on) or\n"
"                        destination (PEER: the source's address)\n"
"  --peer ADDR:PORT\n"
"  --args \"OPTIONS\"      options for the agent, as for '" PROG " source'\n"
"                        or 'destination', e.g. \"--channels 4\"\n"
"  --pause-cmd CMD       source, at switchover: a shell command that stops\n"
"                        every writer of the region (none: it is idle)\n"
"  --resume-cmd CMD      destination: a shell command that starts the VMM\n"
"  --qmp SOCKET          QEMU's QMP socket (-qmp unix:SOCKET,server=on,wait=off):\n"
"                        check its RAM backend (a shared file of pcafs, also\n"
"                        the region when --region-id is not given) and set\n"
"                        x-ignore-shared; source: stop at switchover, send\n"
"                        the device state with QEMU's migrate; destination:\n"
"                        migrate-incoming, cont once loaded (Documentation/qemu.rst)\n"
"  --vmm-incoming ADDR:PORT  with --qmp, on both sides: where the destination\n"
"                        QEMU takes the device state (tcp:ADDR:PORT)\n"
"  --qmp-timeout-ms MS   with --qmp: an answer from QEMU, and QEMU's\n"
"                        migration of device state, may take this long (60000)\n"
"  --timeout-s N         give up (cancel) after N seconds (0: never)\n"
"  --json                one JSON object per event\n";

int cmd_migrate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "region-id", required_argument, NULL, 'r' },
		{ "role", required_argument, NULL, 'o' },
		{ "peer", required_argument, NULL, 'p' },
		{ "args", required_argument, NULL, 'a' },
		{ "pause-cmd", required_argument, NULL, 'P' },
		{ "resume-cmd", required_argument, NULL, 'R' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "qmp", required_argument, NULL, 'Q' },
		{ "vmm-incoming", required_argument, NULL, 'I' },
		{ "qmp-timeout-ms", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *peer = NULL, *args = NULL, *pause_cmd = NULL;
	const char *resume_cmd = NULL, *region_name = NULL;
	unsigned long region = 0, timeout_s = 0, qmp_ms = 60000;
	int role = -1, json = 0, opt, ret, resumed = 0, paused = 0;
	struct vmm_qmp v = { .q.fd = -1 };
	char mem_path[PATH_MAX], qargs[PCA_MIG_ARGS_MAX + 64];
	struct pca_client *c;
	struct timespec t0, now;
	uint32_t id, last_phase = PCA_MIG_REQUESTED;
	char *end;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			/* A path names a file of a region filesystem. */
			if (*optarg < '0' || *optarg > '9') {
				region_name = optarg;
				region = 0;
				break;
			}
			errno = 0;
			region = strtoul(optarg, &end, 0);
			if (errno || *end || !region || region > UINT32_MAX)
				return cmd_usage("migrate",
						 "bad region id %s", optarg);
			region_name = NULL;
			break;
		case 'o':
			if (!strcmp(optarg, "source"))
				role = PCA_MIG_SOURCE;
			else if (!strcmp(optarg, "destination"))
				role = PCA_MIG_DESTINATION;
			else
				return cmd_usage("migrate",
						 "--role is source or destination, not %s",
						 optarg);
			break;
		case 'p':
			peer = optarg;
			break;
		case 'a':
			args = optarg;
			break;
		case 'P':
			pause_cmd = optarg;
			break;
		case 'R':
			resume_cmd = optarg;
			break;
		case 't':
			errno = 0;
			timeout_s = strtoul(optarg, &end, 0);
			if (errno || *end)
				return cmd_usage("migrate",
						 "bad --timeout-s %s", optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'Q':
			v.sock = optarg;
			break;
		case 'I':
			v.incoming = optarg;
			break;
		case 'T':
			errno = 0;
			qmp_ms = strtoul(optarg, &end, 0);
			if (errno || *end || !qmp_ms || qmp_ms > INT_MAX)
				return cmd_usage("migrate",
						 "bad --qmp-timeout-ms %s", optarg);
			break;
		case 'h':
			fputs(migrate_help, stdout);
			return 0;
		default:
			return cmd_usage("migrate", "unknown option %s",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cmd_usage("migrate", "unexpected argument %s",
				 argv[optind]);
	if (v.sock && (pause_cmd || resume_cmd))
		return cmd_usage("migrate", "%s",
				 "--qmp does what --pause-cmd and --resume-cmd do: give one or the other");
	if (!v.sock != !v.incoming)
		return cmd_usage("migrate", "%s",
				 "--qmp SOCKET and --vmm-incoming ADDR:PORT go together (on both sides)");
	if (v.incoming && strlen(v.incoming) >= PCA_MIG_PEER_MAX)
		return cmd_usage("migrate", "--vmm-incoming %s is too long",
				 v.incoming);
	if ((!region && !region_name && !v.sock) || role < 0 || !peer)
		return cmd_usage("migrate", "%s",
				 "--region-id (or --qmp), --role and --peer are required");
	if (strlen(peer) >= PCA_MIG_PEER_MAX)
		return cmd_usage("migrate", "--peer %s is too long", peer);
	if (args && strlen(args) >= PCA_MIG_ARGS_MAX)
		return cmd_usage("migrate", "%s", "--args is too long");

	if (v.sock) {
		v.timeout_ms = (int)qmp_ms;
		ret = vmm_setup(&v, role, mem_path, sizeof(mem_path));
		if (ret) {
			qmp_close(&v.q);
			return ret;
		}
		/* the RAM backend's file is the region */
		if (!region && !region_name)
			region_name = mem_path;
		if (role == PCA_MIG_DESTINATION) {
			/* the source streams once the guest runs here */
			snprintf(qargs, sizeof(qargs), "--wait-running %lu%s%s",
				 qmp_ms, args ? " " : "", args ? args : "");
			if (strlen(qargs) >= PCA_MIG_ARGS_MAX) {
				qmp_close(&v.q);
				return cmd_usage("migrate", "%s",
						 "--args is too long");
			}
			args = qargs;
		}
	}

	/* events first, so that none is missed */
	ret = relay_client("migrate", PCA_MCGRP_VMM, &c);
	if (ret) {
		qmp_close(&v.q);
		return ret;
	}
	if (region_name) {
		uint32_t rid;

		ret = pca_region_resolve(c, region_name, &rid);
		if (ret) {
			fprintf(stderr, PROG ": migrate: --region-id %s: %s\n",
				region_name, pca_strerror(c));
			pca_client_close(c);
			qmp_close(&v.q);
			return ret;
		}
		region = rid;
	}
	ret = pca_migrate(c, region, role, peer, args, &id);
	if (ret) {
		fail("migrate", pca_strerror(c), ret);
		pca_client_close(c);
		qmp_close(&v.q);
		return ret;
	}
	if (v.sock && role == PCA_MIG_DESTINATION) {
		ret = vmm_listen(&v);
		if (ret) {
			pca_migrate_cancel(c, id);
			pca_client_close(c);
			qmp_close(&v.q);
			return ret;
		}
	}
	catch_stop();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!json)
		printf("migration %u: requested\n", id);

	for (;;) {
		struct pca_mig_info ev;

		if (stop_requested) {
			fprintf(stderr, PROG ": migrate: interrupted: cancelling migration %u\n",
				id);
			pca_migrate_cancel(c, id);
			ret = -ECANCELED;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (timeout_s && now.tv_sec - t0.tv_sec >= (time_t)timeout_s) {
			fprintf(stderr, PROG ": migrate: migration %u did not end within %lu s: cancelled\n",
				id, timeout_s);
			pca_migrate_cancel(c, id);
			ret = -ETIMEDOUT;
			break;
		}
		ret = pca_mig_recv(c, &ev, 1000);
		if (ret == 0 || ret == -ENOBUFS || ret == -EINTR) {
			/* quiet, or events lost: ask */
			if (pca_migrate_get(c, id, &ev)) {
				ret = fail("migrate", pca_strerror(c), -EIO);
				break;
			}
			if (ev.phase == last_phase)
				continue;
		} else if (ret < 0) {
			fail("migrate", pca_strerror(c), ret);
			break;
		} else if (ev.mig_id != id) {
			continue;
		}
		last_phase = ev.phase;
		print_event(&ev, json);
		/* once: a recovery may go back to switchover */
		if (ev.phase == PCA_MIG_SWITCHOVER && role == PCA_MIG_SOURCE &&
		    !paused) {
			paused = 1;
			ret = v.sock ? vmm_stop(&v) : run_cmd("pause", pause_cmd);
			if (!ret)
				ret = pca_migrate_paused(c, id);
			if (ret) {
				if (ret != -EIO)
					fail("migrate", pca_strerror(c), ret);
				pca_migrate_cancel(c, id);
				break;
			}
		}
		/* the destination switched over: no stale page there */
		if (v.sock && role == PCA_MIG_SOURCE && !v.started &&
		    (ev.phase == PCA_MIG_POSTCOPY ||
		     ev.phase == PCA_MIG_COMPLETED)) {
			ret = vmm_send_state(&v);
			if (ret) {
				pca_migrate_cancel(c, id);
				break;
			}
		}
		if (role == PCA_MIG_DESTINATION && !resumed &&
		    (ev.phase == PCA_MIG_POSTCOPY ||
		     ev.phase == PCA_MIG_COMPLETED)) {
			resumed = 1;
			if (!v.sock) {
				run_cmd("resume", resume_cmd);
			} else {
				ret = vmm_run(&v);
				if (ret) {
					pca_migrate_cancel(c, id);
					break;
				}
				if (pca_migrate_running(c, id))
					fprintf(stderr, PROG ": migrate: telling the agent the guest runs: %s\n",
						pca_strerror(c));
				else if (!json)
					printf("migration %u: the guest runs\n",
					       id);
			}
		}
		if (pca_mig_phase_final(ev.phase)) {
			ret = ev.phase == PCA_MIG_COMPLETED ? 0 :
			      -(int)(ev.error ? ev.error : EIO);
			if (ret && !json)
				fprintf(stderr, PROG ": migrate: migration %u %s: %s\n",
					id, pca_mig_phase_name(ev.phase),
					ev.message[0] ? ev.message :
					strerror(-ret));
			if (!ret && !json)
				printf("migration %u: downtime %.1f ms (agent), %.1f ms (guest), %llu reconnects (%.1f ms disconnected)\n",
				       id, ev.progress.downtime_ns / 1e6,
				       ev.progress.guest_downtime_ns / 1e6,
				       (unsigned long long)ev.progress.reconnects,
				       ev.progress.broken_ns / 1e6);
			break;
		}
	}
	/* a failure before QEMU moved the device state: the guest goes on */
	if (ret && v.sock && role == PCA_MIG_SOURCE)
		vmm_continue(&v);
	qmp_close(&v.q);
	pca_client_close(c);
	return ret;
}

/* -------------------------------------------------------------------------
 * migrations
 */

int cmd_migrations(int argc, char **argv)
{
	struct pca_mig_info *v;
	struct pca_client *c;
	size_t n, i;
	int json = 0, ret;

	if (argc == 2 && !strcmp(argv[1], "--json"))
		json = 1;
	else if (argc > 1)
		return cmd_usage("migrations", "unexpected argument %s",
				 argv[1]);
	ret = relay_client("migrations", NULL, &c);
	if (ret)
		return ret;
	ret = pca_migrate_list(c, &v, &n);
	if (ret) {
		fail("migrations", pca_strerror(c), ret);
		pca_client_close(c);
		return ret;
	}
	if (json)
		printf("[");
	for (i = 0; i < n; i++) {
		if (json && i)
			printf(",");
		print_event(&v[i], json);
	}
	if (json)
		printf("]\n");
	else if (!n)
		printf("no migrations\n");
	free(v);
	pca_client_close(c);
	return 0;
}
