// SPDX-License-Identifier: GPL-2.0
/*
 * vmm-migrate.c: what a VMM does to live-migrate its guest's RAM with
 * postcopy_assist, in one small program built against libpca.
 *
 *	pca-vmm-example --role source --peer ADDR:PORT [options]
 *	pca-vmm-example --role destination --peer ADDR:PORT [options]
 *
 * Both sides create a region (the destination's in missing mode: a page
 * it touches waits until the agent placed it), map it as guest RAM, and
 * ask the module's relay to migrate it; a postcopy-agent daemon on each
 * host takes the migration and moves the memory.  The VMM only follows
 * the relay's events and does what a VMM does at each:
 *
 *  - source, SWITCHOVER: stop the vCPUs (here: a thread that writes guest
 *    pages), then say so with pca_migrate_paused();
 *  - destination, POSTCOPY (or COMPLETED): start the vCPUs, say so with
 *    pca_migrate_running(); pages not there yet are fetched as they are
 *    touched;
 *  - FAILED or CANCELLED: the source's vCPUs run on (the guest never ran
 *    anywhere else before POSTCOPY).
 *
 * Every page carries a self-check (its index, a generation and a hash of
 * both, at several places), so the destination can tell a wrong, stale
 * or torn page from the right one without knowing the source's writes.
 *
 * Build: cc vmm-migrate.c $(pkg-config --cflags --libs libpca) -pthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <pca.h>

#define PAGE		4096UL
/* the self-check is written at these word offsets of a page */
#define CHECK_SPOTS	4
#define SPOT_STRIDE	(PAGE / 8 / CHECK_SPOTS)

struct vmm {
	int source;
	const char *peer, *args;
	uint64_t size, pages;
	unsigned int timeout_s;
	uint32_t region_id, mig_id;
	int region_fd;
	uint64_t *ram;
	struct pca_client *c;
	/* the source's "vCPU" */
	pthread_t vcpu;
	volatile int vcpu_stop;
	uint64_t writes;
};

static uint64_t check_of(uint64_t page, uint64_t gen)
{
	uint64_t x = page * 0x9e3779b97f4a7c15ULL ^ gen;

	x ^= x >> 31;
	return x * 0xbf58476d1ce4e5b9ULL;
}

/* What a vCPU writes: index, generation and hash, at each check spot. */
static void write_page(struct vmm *v, uint64_t page, uint64_t gen)
{
	uint64_t *p = v->ram + page * (PAGE / 8);
	unsigned int s;

	for (s = 0; s < CHECK_SPOTS; s++) {
		p[s * SPOT_STRIDE] = page;
		p[s * SPOT_STRIDE + 1] = gen;
		p[s * SPOT_STRIDE + 2] = check_of(page, gen);
	}
}

/* 0 if @page holds one consistent copy written by the source. */
static int check_page(const struct vmm *v, uint64_t page)
{
	const uint64_t *p = v->ram + page * (PAGE / 8);
	uint64_t gen = p[1];
	unsigned int s;

	for (s = 0; s < CHECK_SPOTS; s++)
		if (p[s * SPOT_STRIDE] != page ||
		    p[s * SPOT_STRIDE + 1] != gen ||
		    p[s * SPOT_STRIDE + 2] != check_of(page, gen))
			return -1;
	return 0;
}

/* The source's guest: rewrites pages at random until paused. */
static void *vcpu_thread(void *arg)
{
	struct vmm *v = arg;
	uint64_t seed = 88172645463325252ULL;

	while (!v->vcpu_stop) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		write_page(v, seed % v->pages, ++v->writes);
		if (!(v->writes % 64))
			usleep(1000);
	}
	return NULL;
}

static int region_setup(struct vmm *v)
{
	int fd = pca_region_create(v->size, v->source ? 0 : PCA_REGION_MISSING,
				   &v->region_id);

	if (fd < 0) {
		fprintf(stderr, "creating a region: %s\n", strerror(-fd));
		return fd;
	}
	v->region_fd = fd;
	v->ram = mmap(NULL, v->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (v->ram == MAP_FAILED) {
		fprintf(stderr, "mapping the region: %s\n", strerror(errno));
		return -errno;
	}
	return 0;
}

static int ask_relay(struct vmm *v)
{
	int ret = pca_client_open(&v->c), tries;

	if (ret) {
		fprintf(stderr, "netlink: %s\n", pca_strerror(NULL));
		return ret;
	}
	/* the events of every migration of this namespace */
	ret = pca_join_group(v->c, PCA_MCGRP_VMM);
	/* an agent daemon just started may not listen yet */
	for (tries = 0; !ret; tries++) {
		ret = pca_migrate(v->c, v->region_id, v->source ?
				  PCA_MIG_SOURCE : PCA_MIG_DESTINATION,
				  v->peer, v->args, &v->mig_id);
		if (ret != -ENOTCONN || tries >= 10 * (int)v->timeout_s)
			break;
		usleep(100000);
		ret = 0;
	}
	if (ret)
		fprintf(stderr, "asking the relay for a migration: %s\n",
			pca_strerror(v->c));
	else
		printf("%s: region %" PRIu32 ", migration %" PRIu32 "\n",
		       v->source ? "source" : "destination", v->region_id,
		       v->mig_id);
	return ret;
}

/* Touch every page as the guest would, and check it. */
static int check_all(const struct vmm *v)
{
	uint64_t p, bad = 0;

	for (p = 0; p < v->pages; p++)
		if (check_page(v, p) && bad++ < 5)
			fprintf(stderr, "page %" PRIu64 " is wrong\n", p);
	if (bad)
		fprintf(stderr, "%" PRIu64 " of %" PRIu64 " pages wrong\n",
			bad, v->pages);
	return bad ? -1 : 0;
}

/* Follow the migration's events and act on them; 0 once completed. */
static int follow(struct vmm *v)
{
	time_t end = time(NULL) + v->timeout_s;
	int paused = 0, running = 0, ret;
	uint32_t phase = PCA_MIG_REQUESTED;
	struct pca_mig_info m;

	while (time(NULL) < end) {
		ret = pca_mig_recv(v->c, &m, 500);
		if (ret > 0 && m.mig_id != v->mig_id)
			continue;	/* another VMM's migration */
		/* quiet, or events lost: the state is always there */
		if (ret <= 0 && pca_migrate_get(v->c, v->mig_id, &m))
			continue;
		if (m.phase != phase)
			printf("%s: %s%s%s\n", v->source ? "source" :
			       "destination", pca_mig_phase_name(m.phase),
			       m.message[0] ? ": " : "", m.message);
		phase = m.phase;
		if (v->source && phase == PCA_MIG_SWITCHOVER && !paused) {
			v->vcpu_stop = 1;
			pthread_join(v->vcpu, NULL);
			paused = 1;
			if (pca_migrate_paused(v->c, v->mig_id))
				fprintf(stderr, "migrate-paused: %s\n",
					pca_strerror(v->c));
		}
		if (!v->source && !running && (phase == PCA_MIG_POSTCOPY ||
					       phase == PCA_MIG_COMPLETED)) {
			running = 1;
			if (pca_migrate_running(v->c, v->mig_id))
				fprintf(stderr, "migrate-running: %s\n",
					pca_strerror(v->c));
			/* the guest runs: its first touches fault */
			if (check_all(v))
				return -1;
		}
		if (phase == PCA_MIG_COMPLETED) {
			printf("%s: summary: %" PRIu64 " pages, %.1f ms total, %.1f ms downtime, %" PRIu64 " faults\n",
			       v->source ? "source" : "destination",
			       (uint64_t)m.progress.pages_total,
			       m.progress.elapsed_ns / 1e6,
			       m.progress.downtime_ns / 1e6,
			       (uint64_t)m.progress.faults);
			return v->source ? 0 : check_all(v);
		}
		if (phase == PCA_MIG_FAILED || phase == PCA_MIG_CANCELLED) {
			fprintf(stderr, "migration %s: %s\n",
				pca_mig_phase_name(phase), m.message[0] ?
				m.message : strerror(m.error));
			return -1;
		}
	}
	fprintf(stderr, "no end after %u s: cancelling\n", v->timeout_s);
	pca_migrate_cancel(v->c, v->mig_id);
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: pca-vmm-example --role source|destination --peer ADDR:PORT\n"
		"       [--size MIB] [--args AGENT-ARGS] [--timeout-s N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "peer", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "args", required_argument, NULL, 'a' },
		{ "timeout-s", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmm v = { .size = 8 << 20, .args = "", .timeout_s = 120,
			 .region_fd = -1, .source = -1 };
	uint64_t p;
	int opt;

	while ((opt = getopt_long(argc, argv, "r:p:s:a:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			v.source = !strcmp(optarg, "source") ? 1 :
				   !strcmp(optarg, "destination") ? 0 : -1;
			break;
		case 'p':
			v.peer = optarg;
			break;
		case 's':
			v.size = strtoull(optarg, NULL, 0) << 20;
			break;
		case 'a':
			v.args = optarg;
			break;
		case 't':
			v.timeout_s = strtoul(optarg, NULL, 0);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (v.source < 0 || !v.peer || !v.size || !v.timeout_s ||
	    optind != argc) {
		usage(stderr);
		return 2;
	}
	v.pages = v.size / PAGE;

	if (region_setup(&v))
		return 1;
	if (v.source) {
		/* the guest's memory before the migration, then a running vCPU */
		for (p = 0; p < v.pages; p++)
			write_page(&v, p, 0);
		if (pthread_create(&v.vcpu, NULL, vcpu_thread, &v)) {
			fprintf(stderr, "starting the vCPU thread failed\n");
			return 1;
		}
	}
	if (ask_relay(&v) || follow(&v))
		return 1;
	printf("%s: ok\n", v.source ? "source" : "destination");
	pca_client_close(v.c);
	munmap(v.ram, v.size);
	close(v.region_fd);
	return 0;
}
