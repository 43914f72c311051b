/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench_report.h: how the benchmarks report their results.
 *
 * A row compares what the module does ("ours") with a baseline (another
 * kernel interface) in one unit.  Each row is printed when measured, as
 * a KTAP diagnostic and as a line
 *
 *   BENCH-JSON {"name":...,"ours":...,"baseline":...,"unit":...,"ratio":...}
 *
 * that selftests/vm/parse-results.sh collects into build/bench.json (null
 * for what was not measured; ratio > 1: ours better).  bench_table()
 * prints all rows again at the end, after the KTAP totals.
 *
 * The rows live in MAP_SHARED memory: the tests run in children of the
 * harness, the table is printed by the parent.
 */
#ifndef PCA_BENCH_REPORT_H
#define PCA_BENCH_REPORT_H

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>

#include "pca_harness.h"

#define BENCH_MAX_ROWS		192

struct bench_row {
	char name[48];
	char unit[8];
	double ours, base;
	bool has_ours, has_base, lower_better;
};

struct bench_report {
	int header_done;	/* for the benchmark's own header */
	int nrows;
	struct bench_row rows[BENCH_MAX_ROWS];
};

/* How a benchmark labels and rounds its diagnostics. */
struct bench_style {
	const char *ours, *base;	/* column names */
	const char *ratio;		/* heading of the table's ratio */
	int name_w, num_w;		/* widths of names and values */
	int unit_w, table_unit_w;	/* of units: rows, table */
	const char *num_fmt;		/* values */
};

/* The module against a baseline, values printed with @fmt. */
#define BENCH_STYLE(fmt) {						\
	.ours = "ours", .base = "baseline",				\
	.ratio = "ratio (>1: ours better)",				\
	.name_w = 32, .num_w = 12, .unit_w = 8, .table_unit_w = 8,	\
	.num_fmt = (fmt),						\
}

static struct bench_report *bench;
static const struct bench_style *bench_style;

/* The shared rows, before the harness starts: 0 or -1 (said why). */
static inline int bench_report_init(const struct bench_style *style)
{
	bench = mmap(NULL, sizeof(*bench), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bench == MAP_FAILED) {
		perror("mmap");
		return -1;
	}
	bench_style = style;
	return 0;
}

static inline double bench_ratio(const struct bench_row *r)
{
	if (!r->has_ours || !r->has_base || r->ours <= 0 || r->base <= 0)
		return NAN;
	return r->lower_better ? r->base / r->ours : r->ours / r->base;
}

/* A JSON number, or null for what was not measured. */
static inline const char *bench_jnum(char *buf, size_t len, bool has,
				     double v, const char *fmt)
{
	if (!has || !isfinite(v))
		snprintf(buf, len, "null");
	else
		snprintf(buf, len, fmt, v);
	return buf;
}

/* One row: kept for the table, printed as a diagnostic and as JSON. */
static inline void bench_row(const char *name, const char *unit,
			     bool lower_better, bool has_ours, double ours,
			     bool has_base, double base)
{
	const struct bench_style *st = bench_style;
	char o[32], b[32], r[32];
	struct bench_row row = {
		.ours = ours,
		.base = base,
		.has_ours = has_ours,
		.has_base = has_base,
		.lower_better = lower_better,
	};
	double ratio;

	snprintf(row.name, sizeof(row.name), "%s", name);
	snprintf(row.unit, sizeof(row.unit), "%s", unit);
	ratio = bench_ratio(&row);
	if (bench->nrows < BENCH_MAX_ROWS)
		bench->rows[bench->nrows++] = row;
	pca_diag("%-*s %s %*s  %s %*s %-*s ratio %s", st->name_w, name,
		 st->ours, st->num_w,
		 bench_jnum(o, sizeof(o), has_ours, ours, st->num_fmt),
		 st->base, st->num_w,
		 bench_jnum(b, sizeof(b), has_base, base, st->num_fmt),
		 st->unit_w, unit,
		 bench_jnum(r, sizeof(r), true, ratio, "%.3f"));
	printf("BENCH-JSON {\"name\":\"%s\",\"ours\":%s,\"baseline\":%s,"
	       "\"unit\":\"%s\",\"ratio\":%s}\n", name,
	       bench_jnum(o, sizeof(o), has_ours, ours, "%.6g"),
	       bench_jnum(b, sizeof(b), has_base, base, "%.6g"), unit,
	       bench_jnum(r, sizeof(r), true, ratio, "%.4g"));
	fflush(stdout);
}

/* Every row again, as a table. */
static inline void bench_table(void)
{
	const struct bench_style *st = bench_style;
	char o[32], b[32], r[32];
	int i;

	if (!bench->nrows)
		return;
	pca_diag("%-*s %*s %*s %-*s %s", st->name_w, "name", st->num_w,
		 st->ours, st->num_w, st->base, st->table_unit_w, "unit",
		 st->ratio);
	for (i = 0; i < bench->nrows; i++) {
		const struct bench_row *row = &bench->rows[i];

		pca_diag("%-*s %*s %*s %-*s %s", st->name_w, row->name,
			 st->num_w, bench_jnum(o, sizeof(o), row->has_ours,
					       row->ours, st->num_fmt),
			 st->num_w, bench_jnum(b, sizeof(b), row->has_base,
					       row->base, st->num_fmt),
			 st->table_unit_w, row->unit,
			 bench_jnum(r, sizeof(r), true, bench_ratio(row),
				    "%.3f"));
	}
}

static pid_t bench_main_pid;

static void bench_table_atexit(void)
{
	if (getpid() == bench_main_pid)
		bench_table();
}

/*
 * bench_table() when the benchmark exits: the kernel harness's
 * test_harness_run() ends the process itself.  Only in the calling
 * process, not in the harness's forked tests.
 */
static inline void bench_table_at_exit(void)
{
	bench_main_pid = getpid();
	atexit(bench_table_atexit);
}

#endif /* PCA_BENCH_REPORT_H */
