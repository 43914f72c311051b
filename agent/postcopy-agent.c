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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
		       ", \"copy_eexist\": %" PRIu64
		       ", \"faults_premapped\": %" PRIu64 ", \"wait_hist\": [",
		       s->faults, s->faults_coalesced, s->faults_pending,
		       s->pages_copied, s->pages_zeroed, s->copy_eexist,
		       s->faults_premapped);
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

/*
 * stats: one region's counters and its fault wait-time histogram, as
 * bars; with --watch, again every interval with the rates since the
 * previous sample.
 */
static const char *wait_bound_text(unsigned int n, char *buf, size_t len)
{
	uint64_t v = hist_bound(n);

	if (v < 1000)
		snprintf(buf, len, "%u us", (unsigned int)v);
	else if (v < 1000000)
		snprintf(buf, len, "%.3g ms", v / 1e3);
	else
		snprintf(buf, len, "%.3g s", v / 1e6);
	return buf;
}

#define STATS_BAR	40

static void print_wait_hist(const struct pca_region_stats *s)
{
	unsigned int i, first = PCA_WAIT_HIST_BUCKETS, last = 0;
	uint64_t max = 0, total = 0;
	char lo[16], hi[16];

	for (i = 0; i < PCA_WAIT_HIST_BUCKETS; i++) {
		if (!s->wait_hist[i])
			continue;
		if (first == PCA_WAIT_HIST_BUCKETS)
			first = i;
		last = i;
		total += s->wait_hist[i];
		if (s->wait_hist[i] > max)
			max = s->wait_hist[i];
	}
	if (!total) {
		printf("fault wait: no fault has waited yet\n");
		return;
	}
	printf("fault wait (%" PRIu64 " faults):\n", total);
	for (i = first; i <= last; i++) {
		uint64_t n = s->wait_hist[i];
		/* rounded up: a bucket that is not empty shows */
		int bar = (int)((n * STATS_BAR + max - 1) / max);

		if (i == PCA_WAIT_HIST_BUCKETS - 1)
			printf("  %8s and more  ", wait_bound_text(i - 1, lo,
								  sizeof(lo)));
		else if (!i)
			printf("  %8s .. %-6s ", "0", wait_bound_text(0, hi,
								  sizeof(hi)));
		else
			printf("  %8s .. %-6s ",
			       wait_bound_text(i - 1, lo, sizeof(lo)),
			       wait_bound_text(i, hi, sizeof(hi)));
		printf("%10" PRIu64 " %5.1f%% %.*s\n", n, 100.0 * n / total,
		       bar, "########################################");
	}
}

static void print_stats_text(const struct pca_region_info *r,
			     const struct pca_region_info *prev, double secs)
{
	const struct pca_region_stats *s = &r->stats;

	printf("region %" PRIu32 ": size ", r->id);
	print_size(r->size);
	printf(", %" PRIu64 " of %" PRIu64 " units present, %" PRIu32
	       " queues, policy %s\n", r->pages_present,
	       r->unit ? r->size / r->unit : 0, r->queues,
	       policy_name(r->policy));
	if (r->has_dirty)
		printf("dirty tracking %s, %" PRIu64 " pages logged\n",
		       r->dirty_tracking ? "on" : "off", r->dirty_pages);
	if (!r->has_stats) {
		printf("no statistics in the module's reply\n");
		return;
	}
	printf("faults %" PRIu64 " (coalesced %" PRIu64 ", pending %" PRIu64
	       ")\nunits copied %" PRIu64 ", zeroed %" PRIu64
	       ", already present %" PRIu64 "\n", s->faults,
	       s->faults_coalesced, s->faults_pending, s->pages_copied,
	       s->pages_zeroed, s->copy_eexist);
	if (prev && secs > 0)
		printf("rates over %.1f s: %.0f faults/s, %.0f units placed/s\n",
		       secs, (s->faults - prev->stats.faults) / secs,
		       (s->pages_copied + s->pages_zeroed -
			prev->stats.pages_copied - prev->stats.pages_zeroed) /
		       secs);
	print_wait_hist(s);
}

static volatile sig_atomic_t stats_stop;

static void stats_signal(int sig)
{
	(void)sig;
	stats_stop = 1;
}

static int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pca_region_info info, prev;
	unsigned long count = 0, n = 0;
	double interval = 0;
	struct pca_client *c;
	int json = 0, opt, ret;
	struct timespec t0, t1;
	uint32_t id;
	char *end;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "jw::c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			json = 1;
			break;
		case 'w':
			interval = 1;
			if (optarg) {
				interval = strtod(optarg, &end);
				if (*end || !(interval >= 0.1 &&
					       interval <= 3600))
					return cmd_usage("stats",
							 "--watch takes seconds from 0.1 to 3600, not %s",
							 optarg);
			}
			break;
		case 'c':
			count = strtoul(optarg, &end, 10);
			if (*end || !count)
				return cmd_usage("stats",
						 "--count takes a positive number, not %s",
						 optarg);
			break;
		case 'h':
			printf("Usage: " PROG " stats REGION [--json] [--watch[=SECONDS]] [--count N]\n"
			       "  REGION            a region id, or the path of a region file\n"
			       "  --json            one JSON object per sample\n"
			       "  --watch[=SECONDS] sample again every SECONDS (1), with rates\n"
			       "  --count N         stop after N samples\n");
			return 0;
		default:
			return cmd_usage("stats", "unknown option %s",
					 argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cmd_usage("stats", "%s", optind < argc ?
				 "one region, no more" : "which region?");
	if (!interval && count > 1)
		return cmd_usage("stats", "%s", "--count needs --watch");
	ret = pca_client_open(&c);
	if (ret)
		return fail("connect", pca_strerror(NULL), ret);
	ret = pca_region_resolve(c, argv[optind], &id);
	if (ret) {
		fprintf(stderr, PROG " stats: region %s: %s\n", argv[optind],
			pca_strerror(c));
		goto out;
	}
	if (interval) {
		signal(SIGINT, stats_signal);
		signal(SIGTERM, stats_signal);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ret = pca_region_get(c, id, &info);
		if (ret) {
			fprintf(stderr, PROG " stats: region %" PRIu32 ": %s\n",
				id, pca_strerror(c));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (json) {
			print_region_json(&info);
			printf("\n");
		} else {
			if (n)
				printf("\n");
			print_stats_text(&info, n ? &prev : NULL,
					 (t1.tv_sec - t0.tv_sec) +
					 (t1.tv_nsec - t0.tv_nsec) / 1e9);
		}
		fflush(stdout);
		prev = info;
		t0 = t1;
		if (!interval || ++n == count)
			break;
		usleep((useconds_t)(interval * 1e6));
		if (stats_stop)
			break;
	}
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
	{ "stats", cmd_stats, "REGION [--json] [--watch[=SECONDS]] [--count N]",
	  "one region's counters and fault wait-time histogram" },
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
