// SPDX-License-Identifier: GPL-2.0
/*
 * postcopy-agent: control and fault-servicing agent for postcopy_assist.
 *
 * Subcommands live in one table; usage text is generated from it so the
 * help can never disagree with what is implemented.
 *
 * Exit codes: 0 success, 1 failure (reported on stderr as
 * "postcopy-agent: <what>: <reason>"), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lib/pca.h"

static const struct command commands[];

/* Set when a command refuses its arguments: exit 2, not 1. */
int usage_error;

static void usage(FILE *f);

int fail(const char *what, const char *why, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, why);
	return err;
}

char usage_text[256];

int cmd_usage(const char *name, const char *fmt, const char *arg)
{
	const struct command *cmd;

	snprintf(usage_text, sizeof(usage_text), fmt, arg);
	fprintf(stderr, PROG " %s: %s\n", name, usage_text);
	for (cmd = commands; cmd->name; cmd++)
		if (!strcmp(cmd->name, name))
			fprintf(stderr, "Usage: " PROG " %s %s\n", cmd->name,
				cmd->args);
	usage_error = 1;
	return -EINVAL;
}

/* The common option set so far: --json, nothing else, no operands. */
static int parse_json_opt(const char *name, int argc, char **argv, int *json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*json = 0;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "j", opts, NULL)) != -1) {
		if (opt != 'j')
			return cmd_usage(name, "unknown option %s",
					 argv[optind - 1]);
		*json = 1;
	}
	if (optind < argc)
		return cmd_usage(name, "unexpected argument %s", argv[optind]);
	return 0;
}

/* A query command's start: its only option, --json, then a client. */
static int open_query(const char *name, int argc, char **argv, int *json,
		      struct pca_client **c)
{
	int ret = parse_json_opt(name, argc, argv, json);

	if (ret)
		return ret;
	ret = pca_client_open(c);
	if (ret)
		return fail("connect", pca_strerror(NULL), ret);
	return 0;
}

/* Names of the set bits of @mask, space or comma separated, JSON or not. */
static void print_bits(uint64_t mask, const char *(*name)(unsigned int),
		       const char *sep, int json)
{
	unsigned int bit;
	int first = 1;

	for (bit = 0; bit < 64; bit++) {
		const char *n;

		if (!(mask & (1ULL << bit)))
			continue;
		n = name(bit);
		printf("%s%s", first ? "" : sep, json ? "\"" : "");
		if (n)
			printf("%s", n);
		else
			printf("bit%u", bit);
		printf("%s", json ? "\"" : "");
		first = 0;
	}
	if (first && !json)
		printf("none");
}

static const char *region_flag_name(unsigned int bit)
{
	switch (1ULL << bit) {
	case PCA_REGION_MISSING:	return "missing";
	case PCA_REGION_USER_ONLY:	return "user_only";
	}
	return NULL;
}

static const char *policy_name(uint32_t policy)
{
	switch (policy) {
	case PCA_POLICY_FAIL:	return "fail";
	case PCA_POLICY_WAIT:	return "wait";
	}
	return "unknown";
}

static int cmd_api(int argc, char **argv)
{
	struct pca_api_info info;
	struct pca_client *c;
	int json, ret;

	ret = open_query("api", argc, argv, &json, &c);
	if (ret)
		return ret;
	/* want nothing: the answer lists everything supported */
	ret = pca_api(c, PCA_API_VERSION, 0, &info);
	if (ret) {
		fail("api handshake", pca_strerror(c), ret);
		goto out;
	}

	if (json) {
		printf("{\"api_version\": %" PRIu32 ", \"features\": [",
		       info.version);
		print_bits(info.features, pca_feature_name, ", ", 1);
		printf("], \"features_mask\": \"0x%" PRIx64 "\", \"commands\": [",
		       info.features);
		print_bits(info.commands, pca_cmd_name, ", ", 1);
		printf("], \"commands_mask\": \"0x%" PRIx64 "\"}\n",
		       info.commands);
	} else {
		printf("postcopy_assist API %" PRIu32 "\n", info.version);
		printf("features: ");
		print_bits(info.features, pca_feature_name, " ", 0);
		printf("\ncommands: ");
		print_bits(info.commands, pca_cmd_name, " ", 0);
		printf("\n");
	}
out:
	pca_client_close(c);
	return ret;
}

static void print_size(uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = bytes;
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	printf("%" PRIu64 " (%.1f %s)", bytes, v, units[u]);
}

/* Upper bound of wait histogram bucket @n in microseconds. */
static uint64_t hist_bound(unsigned int n)
{
	return 1ULL << n;
}

static void print_region_text(const struct pca_region_info *r)
{
	const struct pca_region_stats *s = &r->stats;
	unsigned int i;

	printf("region %" PRIu32 ": size ", r->id);
	print_size(r->size);
	printf(" flags ");
	print_bits(r->flags, region_flag_name, ",", 0);
	printf("\n\tpages present %" PRIu64 " queues %" PRIu32 " policy %s\n",
	       r->pages_present, r->queues, policy_name(r->policy));
	if (r->has_dirty)
		printf("\tdirty tracking %s, %" PRIu64 " pages logged\n",
		       r->dirty_tracking ? "on" : "off", r->dirty_pages);
	if (!r->has_stats)
		return;
	printf("\tfaults %" PRIu64 " coalesced %" PRIu64 " pending %" PRIu64
	       "\n\tcopied %" PRIu64 " zeroed %" PRIu64 " eexist %" PRIu64 "\n",
	       s->faults, s->faults_coalesced, s->faults_pending,
	       s->pages_copied, s->pages_zeroed, s->copy_eexist);
	for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++)
		if (s->wait_hist[i])
			break;
	if (i == PCA_WAIT_HIST_BUCKETS)
		return;		/* nothing waited yet */
	printf("\twait");
	for (; i < PCA_WAIT_HIST_BUCKETS; i++) {
		if (!s->wait_hist[i])
			continue;
		if (i == PCA_WAIT_HIST_BUCKETS - 1)
			printf(" >=%" PRIu64 "us:%" PRIu64,
			       hist_bound(i - 1), s->wait_hist[i]);
		else
			printf(" <%" PRIu64 "us:%" PRIu64, hist_bound(i),
			       s->wait_hist[i]);
	}
	printf("\n");
}

static void print_region_json(const struct pca_region_info *r)
{
	const struct pca_region_stats *s = &r->stats;
	unsigned int i;

	printf("{\"id\": %" PRIu32 ", \"size\": %" PRIu64 ", \"flags\": [",
	       r->id, r->size);
	print_bits(r->flags, region_flag_name, ", ", 1);
	printf("], \"pages_present\": %" PRIu64 ", \"queues\": %" PRIu32
	       ", \"policy\": \"%s\"", r->pages_present, r->queues,
	       policy_name(r->policy));
	if (r->has_dirty)
		printf(", \"dirty_tracking\": %s, \"dirty_pages\": %" PRIu64,
		       r->dirty_tracking ? "true" : "false", r->dirty_pages);
	if (r->has_stats) {
		printf(", \"stats\": {\"faults\": %" PRIu64
		       ", \"faults_coalesced\": %" PRIu64
		       ", \"faults_pending\": %" PRIu64
		       ", \"pages_copied\": %" PRIu64
		       ", \"pages_zeroed\": %" PRIu64
		       ", \"copy_eexist\": %" PRIu64 ", \"wait_hist\": [",
		       s->faults, s->faults_coalesced, s->faults_pending,
		       s->pages_copied, s->pages_zeroed, s->copy_eexist);
		for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++)
			printf("%s%" PRIu64, i ? ", " : "", s->wait_hist[i]);
		printf("]}");
	}
	printf("}");
}

static int cmd_regions(int argc, char **argv)
{
	struct pca_region_info *v;
	struct pca_client *c;
	int json, ret;
	size_t n, i;

	ret = open_query("regions", argc, argv, &json, &c);
	if (ret)
		return ret;
	ret = pca_region_list(c, &v, &n);
	if (ret) {
		fail("listing regions", pca_strerror(c), ret);
		goto out;
	}

	if (json)
		printf("[");
	for (i = 0; i < n; i++) {
		if (json) {
			printf(i ? ",\n " : "");
			print_region_json(&v[i]);
		} else {
			print_region_text(&v[i]);
		}
	}
	if (json)
		printf("]\n");
	free(v);
out:
	pca_client_close(c);
	return ret;
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static const struct command commands[] = {
	{ "source", cmd_source,
	  "--listen ADDR:PORT --region-fd N --region-id ID [options]",
	  "serve a region to a destination: precopy, switchover, postcopy" },
	{ "destination", cmd_destination,
	  "--connect ADDR:PORT --region-id ID|PATH [--region-fd N] [options]",
	  "fill a missing-mode region from a source" },
	{ "status", cmd_status, "[--json]",
	  "migrations in progress on this host" },
	{ "daemon", cmd_daemon, "[--quiet]",
	  "take migration requests from the module's relay" },
	{ "migrate", cmd_migrate,
	  "--role ROLE --peer ADDR:PORT (--region-id ID|PATH | --qmp SOCKET) [options]",
	  "ask the relay for a migration, follow it to its end" },
	{ "migrations", cmd_migrations, "[--json]",
	  "migrations the module's relay knows of" },
	{ "snapshot", cmd_snapshot, "--region-fd N --output FILE [options]",
	  "write a region to a snapshot file (VMM paused meanwhile)" },
	{ "restore", cmd_restore,
	  "--snapshot FILE --region-id ID|PATH [--region-fd N] [options]",
	  "restore a region lazily from a snapshot file" },
	{ "api", cmd_api, "[--json]",
	  "API handshake: version, supported features and commands" },
	{ "regions", cmd_regions, "[--json]",
	  "list regions: size, flags, present pages, queues, statistics" },
	{ "help", cmd_help, "", "show this help" },
	{ NULL, NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	const struct command *cmd;

	fprintf(f, "Usage: " PROG " <command> [<args>]\n\nCommands:\n");
	for (cmd = commands; cmd->name; cmd++) {
		char head[96];

		snprintf(head, sizeof(head), "%s %s", cmd->name, cmd->args);
		if (strlen(head) > 24)
			fprintf(f, "  %s\n  %-24s %s\n", head, "", cmd->help);
		else
			fprintf(f, "  %-24s %s\n", head, cmd->help);
	}
	fprintf(f, "\nRun '" PROG " <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	const struct command *cmd;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(0, NULL);

	for (cmd = commands; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[1]))
			continue;
		/* the command sees itself as argv[0], like a program */
		if (cmd->fn(argc - 1, argv + 1))
			return usage_error ? 2 : 1;
		return 0;
	}

	fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
