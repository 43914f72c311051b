// SPDX-License-Identifier: GPL-2.0
/*
 * ynl_region_helper: a region for ynl_test to look at with the kernel's
 * ynl CLI.  Regions are made with an ioctl, which ynl cannot send, and
 * live as long as their fd: this process holds one while the test runs.
 *
 * usage: ynl_region_helper PAGES
 *
 * Creates a region of PAGES pages (no flags: pages fill with zeroes on
 * first touch), maps it and prints "region ID SIZE FLAGS".  Then reads
 * commands from stdin, one a line, and answers each with "ok" or
 * "error ...":
 *   write N   writes page N through the mapping
 * At the end of stdin it exits, and the region goes away with its fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "pca.h"

#define PAGE	4096UL

int main(int argc, char **argv)
{
	unsigned long pages, n;
	char line[128];
	uint8_t *mem;
	uint32_t id;
	int fd;

	if (argc != 2 || !(pages = strtoul(argv[1], NULL, 0))) {
		fprintf(stderr, "usage: %s PAGES\n", argv[0]);
		return 2;
	}
	fd = pca_region_create(pages * PAGE, 0, &id);
	if (fd < 0) {
		fprintf(stderr, "region create: %s\n", strerror(-fd));
		return 1;
	}
	mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "mmap: %s\n", strerror(errno));
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("region %u %lu 0\n", id, pages * PAGE);

	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "write %lu", &n) == 1) {
			if (n >= pages) {
				printf("error page %lu beyond %lu\n", n, pages);
				continue;
			}
			memset(mem + n * PAGE, (int)(n & 0xff) | 1, PAGE);
			printf("ok\n");
		} else {
			printf("error unknown command: %s", line);
		}
	}
	return 0;
}
