// SPDX-License-Identifier: GPL-2.0
/*
 * report.c: the migration summary, as text or JSON, and the progress
 * line.  Shared by postcopy-agent and pca-workload.
 */
#include <inttypes.h>
#include <stdio.h>

#include "migrate.h"

static const char *size_text(double bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", bytes, units[u]);
	return buf;
}

static const char *us_text(uint64_t ns, char *buf, size_t len)
{
	if (ns >= 10000000ULL)
		snprintf(buf, len, "%.1f ms", ns / 1e6);
	else
		snprintf(buf, len, "%" PRIu64 " us", ns / 1000);
	return buf;
}

/*
 * The downtime's phases, those this side measured or learned: "pause
 * 0.1 ms, final pass 12.3 ms, ..." into @buf, "" when there are none.
 */
const char *mig_switchover_text(char *buf, size_t len,
				const struct mig_result *r)
{
	const struct {
		const char *name;
		uint64_t ns;
		int have;
	} ph[] = {
		{ "pause", r->sw_pause_ns,
		  r->role == MIG_SOURCE || r->have_source_stats },
		{ "final pass", r->sw_final_pass_ns,
		  r->role == MIG_SOURCE || r->have_source_stats },
		{ "wait", r->sw_wait_ns, r->role == MIG_DEST },
		{ "discard", r->sw_discard_ns, r->role == MIG_DEST },
		{ "resume", r->sw_resume_ns, r->role == MIG_DEST },
	};
	size_t i, n = 0;

	buf[0] = 0;
	if (!r->downtime_ns)
		return buf;
	for (i = 0; i < sizeof(ph) / sizeof(ph[0]) && n < len; i++) {
		if (!ph[i].have)
			continue;
		n += snprintf(buf + n, len - n, "%s%s %.1f ms", n ? ", " : "",
			      ph[i].name, ph[i].ns / 1e6);
	}
	return buf;
}

static void mig_print_switchover(FILE *f, const struct mig_result *r)
{
	char buf[160];

	if (*mig_switchover_text(buf, sizeof(buf), r))
		fprintf(f, "  switchover      %s\n", buf);
}

void mig_print_summary(FILE *f, const struct mig_result *r)
{
	char id[2 * MIG_ID_LEN + 1], a[32], b[32], c[32];

	mig_format_id(r->id, id);
	fprintf(f, "migration %s (%s): %s in %.2f s\n", id,
		r->role == MIG_SOURCE ? "source" : "destination",
		r->ok ? "complete" : "FAILED", r->total_ns / 1e9);
	if (!r->ok)
		fprintf(f, "  error           %s\n", r->error);
	fprintf(f, "  region          %" PRIu64 " pages of %" PRIu64 " bytes (%s)\n",
		r->pages, r->page_size,
		size_text((double)r->pages * r->page_size, a, sizeof(a)));
	fprintf(f, "  downtime        %.1f ms (agent), %.1f ms (guest: pause to the VMM running)\n",
		r->downtime_ns / 1e6, r->guest_downtime_ns / 1e6);
	mig_print_switchover(f, r);
	if (r->role == MIG_SOURCE || r->have_source_stats) {
		fprintf(f, "  precopy         %" PRIu64 " round%s, %.2f s, %" PRIu64
			" pages (%" PRIu64 " zero)\n", r->rounds,
			r->rounds == 1 ? "" : "s", r->precopy_ns / 1e9,
			r->precopy_pages, r->precopy_zero);
		fprintf(f, "  stop-and-copy   %" PRIu64 " pages\n",
			r->stopcopy_pages);
		fprintf(f, "  postcopy        %" PRIu64 " discarded at switchover, %"
			PRIu64 " pages background, %" PRIu64 " urgent\n",
			r->discarded, r->postcopy_pages, r->urgent_pages);
	}
	if (r->role == MIG_SOURCE && *r->push_cc)
		fprintf(f, "  data channels   congestion control %.*s\n",
			(int)sizeof(r->push_cc), r->push_cc);
	if (r->role == MIG_SOURCE && *r->postcopy_cc)
		fprintf(f, "  postcopy push   %u channel%s, congestion control %.*s\n",
			r->postcopy_pushers, r->postcopy_pushers == 1 ? "" : "s",
			(int)sizeof(r->postcopy_cc), r->postcopy_cc);
	if (r->prepause_named)
		fprintf(f, "  before pause    %" PRIu64 " pages named stale, %"
			PRIu64 " copies made missing in %.1f ms, the VMM running\n",
			r->prepause_named, r->prepause_discarded,
			r->prepause_ns / 1e6);
	if (r->role == MIG_DEST) {
		fprintf(f, "  in place        %" PRIu64 " pages placed in precopy, %"
			PRIu64 " replaced by newer copies, %" PRIu64
			" discarded as stale at switchover; %" PRIu64
			" received straight into the region\n",
			r->precopy_placed, r->overwritten, r->early_dropped,
			r->recv_in_place);
		fprintf(f, "  wire            %s sent by the source, %s received\n",
			size_text(r->bytes_sent, a, sizeof(a)),
			size_text(r->bytes_received, b, sizeof(b)));
		fprintf(f, "  faults          %" PRIu64 " (%" PRIu64
			" from the source, %" PRIu64
			" before the switchover); latency p50 %s, p99 %s, max %s\n",
			r->faults, r->faults_remote, r->faults_early,
			us_text(r->lat_p50_ns, a, sizeof(a)),
			us_text(r->lat_p99_ns, b, sizeof(b)),
			us_text(r->lat_max_ns, c, sizeof(c)));
		fprintf(f, "  present         %" PRIu64 " of %" PRIu64 " pages\n",
			r->pages_present, r->pages);
	} else {
		fprintf(f, "  wire            %s sent\n",
			size_text(r->bytes_sent, a, sizeof(a)));
	}
	fprintf(f, "  reconnects      %" PRIu64, r->reconnects);
	if (r->reconnects)
		fprintf(f, ", disconnected %.1f ms in all",
			r->broken_ns / 1e6);
	fputc('\n', f);
	fprintf(f, "  transport       %s", mig_tls_mode_name(r->tls));
	if (r->tls_ktls || r->tls_user)
		fprintf(f, ", %u connections in kernel TLS, %u in user space",
			r->tls_ktls, r->tls_user);
	fputc('\n', f);
}

const char *mig_tls_mode_name(enum mig_tls_mode mode)
{
	switch (mode) {
	case MIG_TLS_INSECURE:
		return "plain TCP (--insecure)";
	case MIG_TLS_X509:
		return "TLS 1.3, X.509";
	case MIG_TLS_PSK:
		return "TLS 1.3, PSK";
	default:
		return "none";
	}
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

void mig_print_json(FILE *f, const struct mig_result *r)
{
	char id[2 * MIG_ID_LEN + 1];

	mig_format_id(r->id, id);
	fprintf(f, "{\"role\": \"%s\", \"ok\": %s, \"migration_id\": \"%s\", ",
		r->role == MIG_SOURCE ? "source" : "destination",
		r->ok ? "true" : "false", id);
	fprintf(f, "\"error\": ");
	json_str(f, r->ok ? "" : r->error);
	fprintf(f, ", \"pages\": %" PRIu64 ", \"page_size\": %" PRIu64
		", \"total_s\": %.3f, \"downtime_ms\": %.3f"
		", \"guest_downtime_ms\": %.3f"
		", \"switch_pause_ms\": %.3f, \"switch_final_pass_ms\": %.3f"
		", \"switch_wait_ms\": %.3f, \"switch_discard_ms\": %.3f"
		", \"switch_resume_ms\": %.3f"
		", \"precopy_s\": %.3f, \"rounds\": %" PRIu64
		", \"precopy_pages\": %" PRIu64 ", \"precopy_zero\": %" PRIu64
		", \"stopcopy_pages\": %" PRIu64 ", \"discarded\": %" PRIu64
		", \"postcopy_pages\": %" PRIu64 ", \"urgent_pages\": %" PRIu64
		", \"precopy_placed\": %" PRIu64 ", \"overwritten\": %" PRIu64
		", \"pages_received\": %" PRIu64 ", \"recv_in_place\": %" PRIu64
		", \"resume_held\": %" PRIu64
		", \"pages_refetched\": %" PRIu64
		", \"bytes_sent\": %" PRIu64 ", \"bytes_received\": %" PRIu64
		", \"faults\": %" PRIu64 ", \"faults_remote\": %" PRIu64
		", \"faults_early\": %" PRIu64 ", \"early_dropped\": %" PRIu64
		", \"prepause_named\": %" PRIu64
		", \"prepause_discarded\": %" PRIu64
		", \"prepause_ms\": %.3f"
		", \"latency_samples\": %" PRIu64
		", \"p50_us\": %" PRIu64 ", \"p99_us\": %" PRIu64
		", \"max_us\": %" PRIu64 ", \"reconnects\": %" PRIu64
		", \"broken_ms\": %.3f, \"pages_present\": %" PRIu64 ", \"transport\": \"%s\""
		", \"tls_ktls\": %u, \"tls_user\": %u, \"congestion\": ",
		r->pages, r->page_size, r->total_ns / 1e9,
		r->downtime_ns / 1e6, r->guest_downtime_ns / 1e6,
		r->sw_pause_ns / 1e6, r->sw_final_pass_ns / 1e6,
		r->sw_wait_ns / 1e6, r->sw_discard_ns / 1e6,
		r->sw_resume_ns / 1e6,
		r->precopy_ns / 1e9, r->rounds,
		r->precopy_pages, r->precopy_zero, r->stopcopy_pages,
		r->discarded, r->postcopy_pages, r->urgent_pages,
		r->precopy_placed, r->overwritten, r->pages_received,
		r->recv_in_place, r->resume_held, r->pages_refetched, r->bytes_sent, r->bytes_received,
		r->faults, r->faults_remote, r->faults_early,
		r->early_dropped, r->prepause_named, r->prepause_discarded,
		r->prepause_ns / 1e6, r->lat_count,
		r->lat_p50_ns / 1000, r->lat_p99_ns / 1000,
		r->lat_max_ns / 1000, r->reconnects, r->broken_ns / 1e6,
		r->pages_present,
		mig_tls_mode_name(r->tls), r->tls_ktls, r->tls_user);
	json_str(f, r->push_cc);
	fprintf(f, ", \"postcopy_pushers\": %u, \"postcopy_congestion\": ",
		r->postcopy_pushers);
	json_str(f, r->postcopy_cc);
	fputs("}\n", f);
}

void mig_format_progress(char *buf, size_t len, const struct mig_progress *p)
{
	char rate[32], rec[64] = "";

	size_text(p->rate_bps, rate, sizeof(rate));
	if (p->phase == MIG_PHASE_RECOVERING)
		snprintf(rec, sizeof(rec), " (reconnect %" PRIu64
			 ", broken %.1f s)", p->reconnects,
			 p->broken_ns / 1e9);
	else if (p->reconnects)
		snprintf(rec, sizeof(rec), " (%" PRIu64 " reconnect%s)",
			 p->reconnects, p->reconnects == 1 ? "" : "s");
	if (p->role == MIG_SOURCE)
		snprintf(buf, len,
			 "source  %-10s round %-2u sent %-8" PRIu64
			 " left %-8" PRIu64 " %9s/s dirty %7.0f p/s %6.1fs%s",
			 mig_phase_name(p->phase), p->round, p->pages_sent,
			 p->pages_remaining, rate, p->dirty_rate,
			 p->elapsed_ns / 1e9, rec);
	else
		snprintf(buf, len,
			 "dest    %-10s round %-2u missing %-8" PRIu64
			 " of %-8" PRIu64 " %9s/s faults %-6" PRIu64
			 " %6.1fs%s",
			 mig_phase_name(p->phase), p->round,
			 p->pages_remaining, p->pages, rate, p->faults,
			 p->elapsed_ns / 1e9, rec);
}
