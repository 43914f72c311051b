// SPDX-License-Identifier: GPL-2.0
/*
 * pca-workload: stands in for a VMM and its guest around a migration.
 *
 * Creates a source region (written by vCPU threads at a chosen rate with
 * a verifiable pattern) and a destination region in missing mode,
 * migrates one into the other over loopback TCP (the engines in-process,
 * or postcopy-agent processes with --agent), pauses the writers at
 * switchover, runs vCPUs on the destination after the resume, and at the
 * end checks every page byte for byte.  The last line is
 *
 *   MIGRATION OK pages=N mismatches=0 total_s=... downtime_ms=...
 *   faults=... p50_us=... p99_us=... [region_mib=... dest_peak_mib=...]
 *
 * Exit status: 0 migrated and verified, 1 failed, 2 usage.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

static volatile int cancelled;

static void on_signal(int sig)
{
	(void)sig;
	cancelled = 1;
}

static const char help[] =
"Usage: pca-workload [options]\n"
"\n"
"  --size BYTES          region size, K/M/G suffixes (64M)\n"
"  --writers N           vCPU threads on each side (2)\n"
"  --rate N              pages written per second on the source (0: idle)\n"
"  --dest-rate N         pages touched per second on the destination (2000)\n"
"  --fill PCT            pages written before the migration (90)\n"
"  --channels N          data channels (4)\n"
"  --rounds N            precopy rounds at most (10); 0: postcopy only\n"
"  --downtime-ms MS      downtime target (300)\n"
"  --budget-ms MS        precopy time budget (none)\n"
"  --no-postcopy         finish with stop-and-copy\n"
"  --no-prepause-discard every stale page discarded inside the downtime\n"
"  --cut precopy|postcopy  cut every connection once, in that phase\n"
"  --cut-pct PCT         ... after PCT%% of the region went by (25)\n"
"  --cut-stall-ms MS     cut by stalling every connection this long\n"
"                        (the link goes silent) instead of closing\n"
"  --kill dest|source    with --agent: kill that agent at the cut point\n"
"                        instead (a destination is restarted with --resume)\n"
"  --garbage             send garbage to the source port first\n"
"  --netem SPEC          source and destination in two network namespaces\n"
"                        joined by a veth pair with this tc netem spec,\n"
"                        e.g. \"delay 1ms rate 1gbit\" (\"\" for none)\n"
"  --snapshot FILE       snapshot the source to FILE and restore the\n"
"                        destination lazily from it, instead of migrating\n"
"  --netlink             destination places pages over netlink\n"
"  --no-recv-in-place    destination reads page payloads into a buffer,\n"
"                        not straight into the region (PCA_IOC_RECV)\n"
"  --uffd[=anon|memfd]   the destination is ordinary memory registered with\n"
"                        userfaultfd (anonymous by default, or a memfd\n"
"                        mapped shared) instead of a module region\n"
"  --agent PATH          run postcopy-agent processes instead\n"
"  --relay               with --agent: start \"postcopy-agent daemon\" and\n"
"                        ask the module's relay for the migrations, as a\n"
"                        VMM does\n"
"  --tls-creds DIR       TLS with X.509 credentials (tls-creds-x509 layout)\n"
"  --tls-psk FILE        TLS with pre-shared keys (identity:hexkey lines)\n"
"  --insecure            plain TCP; one of the three is required\n"
"  --no-ktls             TLS records in user space, not in the kernel\n"
"  --tcp-probe MIB       with --netem: first send MIB MiB over plain TCP\n"
"                        between the two namespaces, the link's ceiling;\n"
"                        the last line then shows the migration's goodput\n"
"                        beside it\n"
"  --io-timeout-ms MS    (5000)\n"
"  --dead-after-ms MS    the engines' dead-peer limit (their default)\n"
"  --recover-timeout-ms MS (20000)\n"
"  --progress            progress lines\n"
"  --json                results as JSON\n"
"  --quiet               only the result\n";

/*
 * @arg of option @opt names one of two values, @a or @b; anything else
 * ends the program with status 2, as every other usage error does.
 */
static int parse_choice(const char *opt, const char *arg, const char *a,
			int va, const char *b, int vb)
{
	if (!strcmp(arg, a))
		return va;
	if (!strcmp(arg, b))
		return vb;
	fprintf(stderr, "pca-workload: %s %s or %s, not %s\n", opt, a, b, arg);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, NULL, 's' },
		{ "writers", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ "dest-rate", required_argument, NULL, 'R' },
		{ "fill", required_argument, NULL, 'f' },
		{ "channels", required_argument, NULL, 'c' },
		{ "rounds", required_argument, NULL, 'n' },
		{ "downtime-ms", required_argument, NULL, 'd' },
		{ "budget-ms", required_argument, NULL, 'b' },
		{ "no-postcopy", no_argument, NULL, 'N' },
		{ "no-prepause-discard", no_argument, NULL, 0x100 },
		{ "cut", required_argument, NULL, 'x' },
		{ "cut-pct", required_argument, NULL, 'X' },
		{ "cut-stall-ms", required_argument, NULL, 'Z' },
		{ "dead-after-ms", required_argument, NULL, 'D' },
		{ "garbage", no_argument, NULL, 'g' },
		{ "kill", required_argument, NULL, 'K' },
		{ "snapshot", required_argument, NULL, 'S' },
		{ "netem", required_argument, NULL, 'E' },
		{ "netlink", no_argument, NULL, 'l' },
		{ "uffd", optional_argument, NULL, 'u' },
		{ "agent", required_argument, NULL, 'a' },
		{ "relay", no_argument, NULL, 'Y' },
		{ "io-timeout-ms", required_argument, NULL, 'i' },
		{ "recover-timeout-ms", required_argument, NULL, 'T' },
		{ "progress", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "tls-creds", required_argument, NULL, 'C' },
		{ "tls-psk", required_argument, NULL, 'P' },
		{ "insecure", no_argument, NULL, 'I' },
		{ "no-ktls", no_argument, NULL, 'k' },
		{ "no-recv-in-place", no_argument, NULL, 'O' },
		{ "tcp-probe", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct wl_result r;
	struct wl_opts o;
	int opt, json = 0, quiet = 0, ret;
	unsigned long v;
	char *end;

	wl_opts_init(&o);
	o.log = stderr;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(help, stdout);
			return 0;
		}
		if (opt == '?') {
			fputs(help, stderr);
			return 2;
		}
		v = optarg ? strtoul(optarg, &end, 0) : 0;
		switch (opt) {
		case 's':
			o.size = wl_parse_size(optarg);
			if (!o.size) {
				fprintf(stderr, "pca-workload: bad size %s\n",
					optarg);
				return 2;
			}
			continue;
		case 'x':
			o.cut = parse_choice("--cut", optarg, "precopy",
					     WL_CUT_PRECOPY, "postcopy",
					     WL_CUT_POSTCOPY);
			continue;
		case 'a':
			o.agent = optarg;
			continue;
		case 'S':
			o.snapshot = optarg;
			continue;
		case 'E':
			o.netem = optarg;
			continue;
		case 'K':
			o.kill = parse_choice("--kill", optarg, "dest",
					      WL_KILL_DEST, "source",
					      WL_KILL_SOURCE);
			continue;
		case 'N':
			o.no_postcopy = 1;
			continue;
		case 0x100:
			o.no_prepause = 1;
			continue;
		case 'g':
			o.garbage_first = 1;
			continue;
		case 'l':
			o.netlink = 1;
			continue;
		case 'Y':
			o.relay = 1;
			continue;
		case 'C':
		case 'P':
			o.tls = opt == 'C' ? MIG_TLS_X509 : MIG_TLS_PSK;
			o.tls_creds = optarg;
			continue;
		case 'I':
			o.tls = MIG_TLS_INSECURE;
			continue;
		case 'k':
			o.tls_no_ktls = 1;
			continue;
		case 'O':
			o.recv_in_place = 0;
			continue;
		case 'u':
			if (!optarg || !strcmp(optarg, "anon")) {
				o.uffd = WL_UFFD_ANON;
			} else if (!strcmp(optarg, "memfd")) {
				o.uffd = WL_UFFD_MEMFD;
			} else {
				fprintf(stderr, "pca-workload: --uffd=anon or --uffd=memfd, not %s\n",
					optarg);
				return 2;
			}
			continue;
		case 'p':
			o.progress = 1;
			continue;
		case 'j':
			json = 1;
			continue;
		case 'q':
			quiet = 1;
			continue;
		}
		if (*end || *optarg == '-') {
			fprintf(stderr, "pca-workload: bad number %s\n", optarg);
			return 2;
		}
		switch (opt) {
		case 'w': o.writers = v; break;
		case 'r': o.rate = v; break;
		case 'R': o.dest_rate = v; break;
		case 'f': o.fill_pct = v > 100 ? 100 : v; break;
		case 'c': o.channels = v; break;
		case 'n': o.rounds = v; break;
		case 'd': o.downtime_ms = v; break;
		case 'b': o.budget_ms = v; break;
		case 'X': o.cut_pct = v; break;
		case 'Z': o.cut_stall_ms = v; break;
		case 'D': o.dead_after_ms = v; break;
		case 'i': o.io_timeout_ms = v; break;
		case 'T': o.recover_timeout_ms = v; break;
		case 'G': o.tcp_probe_mib = v; break;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pca-workload: unexpected argument %s\n",
			argv[optind]);
		return 2;
	}
	if (quiet)
		o.log = NULL;
	o.cancel = &cancelled;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = wl_run(&o, &r);
	if (json) {
		printf("{\"ok\": %s, \"pages\": %" PRIu64 ", \"mismatches\": %" PRIu64
		       ", \"dest_checked\": %" PRIu64 ", \"dest_bad\": %" PRIu64
		       ", \"source_writes\": %" PRIu64 ", \"dest_writes\": %" PRIu64
		       ", \"wall_s\": %.2f, \"destination\": ",
		       r.ok ? "true" : "false", r.pages, r.mismatches,
		       r.dest_checked, r.dest_bad, r.src_writes, r.dest_writes,
		       r.wall_s);
		if (r.have_dst)
			mig_print_json(stdout, &r.dst);
		else
			printf("null\n");
		printf("}\n");
	} else if (!quiet) {
		/* postcopy-agent printed its own summaries */
		if (r.have_dst && !o.agent)
			mig_print_summary(stdout, &r.dst);
		else if (r.have_src && !o.agent)
			mig_print_summary(stdout, &r.src);
		printf("workload: %" PRIu64 " source writes, %" PRIu64
		       " destination pages checked on first read (%" PRIu64
		       " bad), %" PRIu64 " destination writes\n",
		       r.src_writes, r.dest_checked, r.dest_bad, r.dest_writes);
		if (r.touch_count)
			printf("workload: first reads on the destination during the migration: %"
			       PRIu64 ", p50 %" PRIu64 " us, p99 %" PRIu64
			       " us, max %" PRIu64 " us\n", r.touch_count,
			       r.touch_p50_ns / 1000, r.touch_p99_ns / 1000,
			       r.touch_max_ns / 1000);
	}
	wl_print_line(json ? stderr : stdout, &r);
	return ret ? 1 : 0;
}
