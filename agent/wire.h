/* SPDX-License-Identifier: GPL-2.0 */
/*
 * wire.h: the migration protocol between postcopy-agent source and
 * destination, as it is on the wire.
 *
 * Every structure is fixed size, little-endian, with naturally aligned
 * fields and no implicit padding; nothing here depends on the host's byte
 * order or on the compiler's layout (static asserts below).  A field that
 * is reserved is sent as zero and ignored on receipt.
 *
 * Connections.  The source listens, the destination connects.  A migration
 * uses 2 + N TCP connections, each opened by the destination and started
 * with a struct mig_hello, answered by the source with a struct
 * mig_welcome:
 *
 *   control   (MIG_CHAN_CONTROL) first; rounds, switchover, the discard
 *             bitmap, heartbeats, completion, statistics, errors;
 *   data 0..N-1 (MIG_CHAN_DATA) pages of precopy and, after switchover,
 *             the postcopy background stream; page (offset / page_size)
 *             always travels on channel ((page / 64) % N), so versions of
 *             one page arrive in the order they were sent;
 *   preempt   (MIG_CHAN_PREEMPT) urgent requests from the destination and
 *             the pages that answer them, never queued behind the
 *             background stream; from the first contact on, as faults
 *             are served from the start.  Once the source paused it
 *             sends END_PRECOPY here too: answers before it were read
 *             while the source still ran, and are subject to the
 *             switchover like precopy pages.
 *
 * Data and preempt connections name the migration id that the control
 * welcome announced; the source refuses any other.  After a broken
 * connection, the destination opens a new control connection with
 * MIG_HELLO_RESUME and the same id, then the other channels, then sends
 * MIG_MSG_RECEIVED with the versions of the pages it holds (below).
 *
 * Liveness during the handshake: a destination that sets
 * MIG_HELLO_HEARTBEAT accepts MIG_MSG_HEARTBEAT records (a bare header,
 * len 0) before the welcome, and the source sends one about every second
 * while the connection waits for its answer (the source may be busy,
 * e.g. still setting up a large region).  A welcome starts with
 * MIG_MAGIC, a heartbeat with its type: the first four bytes tell them
 * apart.  The flag keeps both sides compatible with agents that do not
 * know it: without it no heartbeat precedes the welcome, and a source
 * that does not know it ignores it.
 *
 * After the handshake, each connection carries records: a struct mig_hdr
 * followed by hdr.len bytes of payload.
 */
#ifndef PCA_WIRE_H
#define PCA_WIRE_H

#include <endian.h>
#include <stdint.h>

#define MIG_MAGIC		0x4d414350u	/* "PCAM" as bytes on the wire */
#define MIG_VERSION		2
#define MIG_ID_LEN		16
#define MIG_REASON_LEN		64
#define MIG_MAX_CHANNELS	16

typedef uint16_t mig_le16;
typedef uint32_t mig_le32;
typedef uint64_t mig_le64;

enum mig_chan {
	MIG_CHAN_CONTROL = 1,
	MIG_CHAN_DATA = 2,
	MIG_CHAN_PREEMPT = 3,
};

/* mig_hello.flags */
#define MIG_HELLO_RESUME	(1ULL << 0) /* reconnect to migration id */
#define MIG_HELLO_HEARTBEAT	(1ULL << 1) /* heartbeats before the welcome */
#define MIG_HELLO_PREPAUSE	(1ULL << 2) /* control: takes MIG_MSG_PREPAUSE */

/* First bytes on every connection, destination -> source: 56 bytes. */
struct mig_hello {
	mig_le32 magic;		/* MIG_MAGIC */
	mig_le16 version;	/* MIG_VERSION */
	mig_le16 chan;		/* enum mig_chan */
	uint8_t id[MIG_ID_LEN];	/* migration id; zero: any (new control) */
	mig_le32 index;		/* data channel index */
	mig_le32 nchannels;	/* data channels the destination wants */
	mig_le64 flags;		/* MIG_HELLO_* */
	mig_le64 region_size;	/* destination region, bytes */
	mig_le32 page_size;
	mig_le32 reserved;
};

enum mig_status {
	MIG_OK = 0,
	MIG_ERR_VERSION = 1,	/* protocol version not spoken */
	MIG_ERR_ID = 2,		/* no such migration id */
	MIG_ERR_SIZE = 3,	/* region or page size differs */
	MIG_ERR_BUSY = 4,	/* the source serves another destination */
	MIG_ERR_STATE = 5,	/* hello out of place, e.g. data before control */
	MIG_ERR_CHANNEL = 6,	/* bad channel type or index */
};

/* mig_welcome.flags: the source's state, for a resuming destination */
#define MIG_WELCOME_POSTCOPY	(1ULL << 0) /* switchover happened */

/* The source's answer: 112 bytes. */
struct mig_welcome {
	mig_le32 magic;
	mig_le16 version;	/* the source's MIG_VERSION */
	mig_le16 status;	/* enum mig_status */
	uint8_t id[MIG_ID_LEN];	/* the migration id */
	mig_le64 region_size;	/* source region, bytes */
	mig_le32 page_size;
	mig_le32 nchannels;	/* data channels to open */
	mig_le64 flags;		/* MIG_WELCOME_* */
	char reason[MIG_REASON_LEN];	/* NUL-terminated when status != 0 */
};

enum mig_msg {
	/* source -> destination */
	MIG_MSG_PAGE = 1,	/* offset; MIG_PAGE_ZERO or page_size bytes */
	MIG_MSG_ROUND = 2,	/* control: arg = round number */
	MIG_MSG_END_PRECOPY = 3, /* data: no precopy page follows;
				  * preempt: no answer read before the pause
				  */
	MIG_MSG_SWITCHOVER = 4,	/* control: discard bitmap, offset = count */
	MIG_MSG_STATS = 5,	/* control: struct mig_wire_stats */
	MIG_MSG_PREPAUSE = 6,	/* control: bitmap of pages written since
				 * they were sent, offset = count, while the
				 * VMM still runs (below)
				 */
	/* destination -> source */
	MIG_MSG_REQUEST = 16,	/* preempt: offset, flags 0, len 0, the
				 * number of pages in MIG_REQ_PAGES(flags)
				 */
	MIG_MSG_RECEIVED = 17,	/* control: versions of the pages held */
	MIG_MSG_RESUMED = 18,	/* control: the destination runs */
	MIG_MSG_COMPLETE = 19,	/* control: every page is present */
	MIG_MSG_SWITCHED = 20,	/* control: the discard bitmap is applied;
				 * the destination's VMM is told to run
				 */
	MIG_MSG_PREPAUSE_DONE = 21, /* control: MIG_MSG_PREPAUSE applied,
				     * offset = pages made missing
				     */
	/* both ways */
	MIG_MSG_HEARTBEAT = 32,	/* control, every second while idle; any
				 * connection before its welcome (above)
				 */
	MIG_MSG_ERROR = 33,	/* control: text, then the sender closes */
};

/* mig_hdr.flags of MIG_MSG_PAGE */
#define MIG_PAGE_ZERO		(1U << 0) /* all zero, no payload */
#define MIG_PAGE_URGENT		(1U << 1) /* answers a request */
/* mig_hdr.flags of MIG_MSG_REQUEST: pages wanted from offset on, 1..64 */
#define MIG_REQ_PAGES(f)	((f) & 0xff)

/*
 * Record header: 24 bytes.
 *
 * Page versions: the source numbers every send of a page (1, 2, ...) and
 * a page record carries its number in @arg.  The destination remembers
 * the number of the copy it holds, and a resuming destination sends them
 * all (MIG_MSG_RECEIVED): a page whose number differs from the source's
 * last is sent again, which covers copies lost in flight when the
 * connection broke, also for pages the destination held an older copy
 * of.
 */
struct mig_hdr {
	mig_le32 type;		/* enum mig_msg */
	mig_le32 flags;
	mig_le64 offset;	/* PAGE, REQUEST: byte offset in the region */
	mig_le32 len;		/* payload bytes that follow */
	mig_le32 arg;		/* PAGE: version; ROUND: round number */
};

/*
 * MIG_MSG_RECEIVED: flags MIG_RECV_SWITCHED when the destination applied
 * the switchover (everything it holds is final); payload: one le32 page
 * version per page of the region, 0 for a page it does not hold.
 */
#define MIG_RECV_SWITCHED	(1U << 0)

/*
 * MIG_MSG_PREPAUSE: the discard before the pause.  After its last precopy
 * round the source reads the dirty log once more while the VMM still
 * runs and, to a destination whose control hello set MIG_HELLO_PREPAUSE,
 * sends those pages as a bitmap (one le64 word per 64 pages, as the
 * switchover's).  The destination makes the copies it holds of them
 * missing and answers MIG_MSG_PREPAUSE_DONE; the source then pauses.  The
 * pages stay in the source's send set, so the switchover's bitmap names
 * them again: the bitmap before the pause only moves work out of the
 * downtime, and the switchover alone decides what is stale (a copy still
 * in flight when the first bitmap was applied is discarded by the
 * second).  What the switchover then finds placed and stale is what was
 * written in the short window between the two reads of the log.
 */

/* Payload of MIG_MSG_STATS: what only the source knows.  96 bytes. */
struct mig_wire_stats {
	mig_le64 rounds;
	mig_le64 precopy_pages;		/* sent in precopy rounds */
	mig_le64 precopy_zero;		/* of which zero markers */
	mig_le64 stopcopy_pages;	/* sent while paused, before resume */
	mig_le64 postcopy_pages;	/* background stream */
	mig_le64 urgent_pages;		/* answers to requests */
	mig_le64 discarded;		/* pages in the discard bitmap */
	mig_le64 bytes_sent;		/* by the source, all channels */
	mig_le64 downtime_ns;		/* pause -> MIG_MSG_SWITCHED arrived */
	mig_le64 precopy_ns;
	mig_le64 reconnects;
	mig_le64 guest_downtime_ns;	/* pause -> MIG_MSG_RESUMED arrived */
	/* since MIG_WIRE_STATS_V2_SIZE: the source's switchover phases */
	mig_le64 sw_pause_ns;		/* the VMM's pause */
	mig_le64 sw_final_pass_ns;	/* paused -> discard bitmap sent */
	mig_le64 reserved[2];		/* zero */
};

/*
 * Longest payload a receiver accepts for a control record: the versions
 * of a 1 TiB region of 4 KiB pages.
 */
#define MIG_MAX_CTRL_PAYLOAD	(1U << 30)

_Static_assert(sizeof(struct mig_hello) == 56, "mig_hello layout");
_Static_assert(sizeof(struct mig_welcome) == 112, "mig_welcome layout");
_Static_assert(sizeof(struct mig_hdr) == 24, "mig_hdr layout");
/* A receiver takes the first 96 bytes (older sources) or all of them. */
#define MIG_WIRE_STATS_V1_SIZE	96
#define MIG_WIRE_STATS_V2_SIZE	128
_Static_assert(sizeof(struct mig_wire_stats) == MIG_WIRE_STATS_V2_SIZE,
	       "mig_wire_stats layout");

/*
 * Snapshot files (postcopy-agent snapshot / restore).  One header page,
 * then page p of the region at file offset (p + 1) * page_size; pages
 * that are all zero are holes (never written), so the file is sparse.
 * The header is struct mig_snap_header, zero-padded to page_size.
 */
#define MIG_SNAP_MAGIC		"PCASNAP1"
#define MIG_SNAP_VERSION	1

struct mig_snap_header {
	char magic[8];		/* MIG_SNAP_MAGIC, no NUL */
	mig_le32 version;	/* MIG_SNAP_VERSION */
	mig_le32 page_size;
	mig_le64 region_size;	/* bytes */
	mig_le64 pages;
	mig_le64 data_pages;	/* pages written (not zero) */
	uint8_t id[MIG_ID_LEN];	/* random, names the snapshot */
	mig_le64 created;	/* CLOCK_REALTIME, seconds */
	mig_le64 flags;		/* none yet */
};

_Static_assert(sizeof(struct mig_snap_header) == 72, "snapshot header");

#define mig_cpu_to_le16(x)	htole16(x)
#define mig_cpu_to_le32(x)	htole32(x)
#define mig_cpu_to_le64(x)	htole64(x)
#define mig_le16_to_cpu(x)	le16toh(x)
#define mig_le32_to_cpu(x)	le32toh(x)
#define mig_le64_to_cpu(x)	le64toh(x)

#endif /* PCA_WIRE_H */
