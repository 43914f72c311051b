// SPDX-License-Identifier: GPL-2.0
/*
 * The guest of qemu_test: a multiboot kernel that QEMU boots inside the
 * test guest on a file of the region filesystem.  It writes the pages of
 * an area of its RAM in a random order, each with a pattern that names
 * the page and its generation (how often it was written), checks every
 * page it touches before writing it again, checks the whole area after
 * every batch of writes, and reports on the first serial port (COM1):
 *
 *   pca-payload: start pages=N base=0x...
 *   pca-payload: filled
 *   pca-payload: pass P ops O bad B total T
 *   pca-payload: MISMATCH page X gen G word W got V want U
 *
 * A page the destination of a migration has not received yet is touched
 * like any other, so postcopy faults happen.  Nothing but the serial port
 * is used: no interrupts, no timers, no paging.
 */
#include <stdint.h>

#define AREA_BASE	0x400000u	/* 4 MiB: above the payload and BIOS */
#define AREA_PAGES	4096u		/* 16 MiB */
#define PAGE_WORDS	1024u
#define STRIDE		16u		/* one word of every 64 bytes */
#define OPS_PER_PASS	4096u
#define MAX_REPORTS	8u

#define COM1		0x3f8

static uint32_t gen[AREA_PAGES];
static uint32_t rng_state;

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* no interrupts */
	outb(COM1 + 3, 0x80);	/* divisor latch */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);	/* FIFO on */
}

static void putc_serial(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

static void put_dec(uint32_t v)
{
	char buf[12];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		putc_serial(buf[--i]);
}

static void put_hex(uint32_t v)
{
	int i;

	puts_serial("0x");
	for (i = 28; i >= 0; i -= 4)
		putc_serial("0123456789abcdef"[(v >> i) & 0xf]);
}

/* xorshift32: the order of the writes */
static uint32_t rnd(void)
{
	uint32_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	rng_state = x;
	return x;
}

static inline volatile uint32_t *page_ptr(uint32_t p)
{
	return (volatile uint32_t *)(uintptr_t)(AREA_BASE + p * 4096u);
}

/* Word @k * STRIDE of page @p at generation @g (0: never written, zero). */
static inline uint32_t pattern(uint32_t p, uint32_t g, uint32_t k)
{
	if (!g)
		return 0;
	if (k == 0)
		return p;
	if (k == 1)
		return g;
	return (p * 0x9e3779b1u) ^ (g * 0x85ebca6bu) ^ (k * 0xc2b2ae35u);
}

static void write_page(uint32_t p, uint32_t g)
{
	volatile uint32_t *w = page_ptr(p);
	uint32_t k;

	w[0] = p;
	w[1] = g;
	for (k = 2; k < PAGE_WORDS / STRIDE; k++)
		w[k * STRIDE] = pattern(p, g, k);
}

static uint32_t reports;

/* Whether page @p holds generation gen[p]; reports the first bad word. */
static int check_page(uint32_t p)
{
	volatile uint32_t *w = page_ptr(p);
	uint32_t g = gen[p], k, idx, got, want;

	for (k = 0; k < PAGE_WORDS / STRIDE; k++) {
		idx = k < 2 ? k : k * STRIDE;
		got = w[idx];
		want = pattern(p, g, k);
		if (got == want)
			continue;
		if (reports < MAX_REPORTS) {
			reports++;
			puts_serial("pca-payload: MISMATCH page ");
			put_dec(p);
			puts_serial(" gen ");
			put_dec(g);
			puts_serial(" word ");
			put_dec(idx);
			puts_serial(" got ");
			put_hex(got);
			puts_serial(" want ");
			put_hex(want);
			putc_serial('\n');
		}
		return 0;
	}
	return 1;
}

void main(void);

void main(void)
{
	uint32_t p, i, pass, bad, total = 0, ops = 0, x;

	serial_init();
	for (p = 0; p < AREA_PAGES; p++)
		gen[p] = 0;
	rng_state = 0x2545f491u;
	puts_serial("pca-payload: start pages=");
	put_dec(AREA_PAGES);
	puts_serial(" base=");
	put_hex(AREA_BASE);
	putc_serial('\n');

	/* every page once, in an order an LCG mod 2^12 makes (full period) */
	x = rnd() & (AREA_PAGES - 1);
	for (i = 0; i < AREA_PAGES; i++) {
		x = (x * 2533u + 1013u) & (AREA_PAGES - 1);
		gen[x] = 1;
		write_page(x, 1);
	}
	puts_serial("pca-payload: filled\n");

	for (pass = 1;; pass++) {
		for (i = 0; i < OPS_PER_PASS; i++) {
			p = rnd() % AREA_PAGES;
			if (!check_page(p))
				total++;
			gen[p]++;
			write_page(p, gen[p]);
			ops++;
		}
		bad = 0;
		reports = 0;
		for (p = 0; p < AREA_PAGES; p++)
			if (!check_page(p))
				bad++;
		total += bad;
		puts_serial("pca-payload: pass ");
		put_dec(pass);
		puts_serial(" ops ");
		put_dec(ops);
		puts_serial(" bad ");
		put_dec(bad);
		puts_serial(" total ");
		put_dec(total);
		putc_serial('\n');
	}
}
