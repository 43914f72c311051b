// SPDX-License-Identifier: GPL-2.0
/*
 * qemu_test: Debian's QEMU, booted inside the test guest on a file of the
 * region filesystem (pcafs), live-migrated with the agent between two
 * network namespaces joined by a veth pair with netem (a rate limit and a
 * delay), as between two hosts.
 *
 * The guest QEMU runs is qemu/payload.c (qemu_payload.elf, a multiboot
 * kernel built with the host's compiler): it writes the pages of 16 MiB of
 * its RAM in a random order with a pattern naming page and generation,
 * checks each page before writing it again, checks the whole area after
 * every batch, and reports on its serial port, a file this test reads.
 *
 * QEMU keeps guest RAM out of its own migration stream
 * (memory-backend-file with share=on, capability x-ignore-shared): the
 * agent moves RAM, QEMU moves device state.  An agent daemon runs in each
 * namespace; "postcopy-agent migrate" asks each side's module for the
 * migration and runs the QMP commands at the switchover
 * (drive_migration()).
 *
 * Pass: no mismatch in any check of the payload, before and after every
 * migration (at least two whole-area checks on every destination),
 * postcopy faults served, and the module left as it was found (no
 * mount, file or agent holding it).  Printed for each migration: the
 * guest's downtime (QMP stop on the source to cont on the destination),
 * the agent's, the faults served and their latency p50/p99.
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <sched.h>
#include <sys/mount.h>
#include <time.h>

#include "pca_harness.h"

#define NS_A		"pca-qemu-a"
#define NS_B		"pca-qemu-b"
#define ADDR_A		"10.77.0.1"
#define ADDR_B		"10.77.0.2"
#define NETEM		"rate 40mbit delay 1ms"
#define WORK		"/tmp/qemu_test"
#define AGENT		"/bin/postcopy-agent"
/* where selftests/vm/mkinitramfs.sh puts Debian's QEMU */
#define QEMU_BIN	"/opt/qemu/bin/qemu-system-x86_64"
#define X509		"/etc/pca/tls/x509"
#define GUEST_MB	32
#define AGENT_PORT	4450
#define QEMU_PORT	4460
/*
 * The agents' I/O limit: a cut connection is noticed within CUT_IO_MS;
 * the other cases leave more room to a loaded machine.
 */
#define IO_TIMEOUT_MS	10000
#define CUT_IO_MS	3000
/* payload checks of the whole area a destination must print */
#define PASSES_AFTER	2

static char qemu_bin[64], payload[256], qmp_helper[256];
/*
 * The agent drives QEMU itself ("postcopy-agent migrate --qmp"), or, as
 * for a VMM the agent does not know, our QMP commands do, through
 * --pause-cmd and --resume-cmd (the case pause_resume_cmds).
 */
static int agent_qmp = 1;
/*
 * QEMUs get a directory as mem-path, make their file in it and unlink it
 * (the case directory_mem_path): the agent finds the region through the
 * QEMU's open files; no file name is given to it.
 */
static int dir_backed;

/* One QEMU: a file of a pcafs mount in one of the namespaces. */
struct vm {
	char name;		/* 'a', 'b', ... */
	int ns;			/* 0: NS_A, 1: NS_B */
	char dir[64], file[80], qmp[64], serial[64], log[64];
	pid_t pid;
	int dir_backed;		/* mem-path is dir: QEMU's file, unlinked */
};

struct lab {
	int nsfd[2];
	pid_t daemon[2];
	char daemon_out[2][64];
	struct vm vm[3];
	unsigned int nvm;
};

/* What one migration measured. */
struct hop {
	double guest_downtime_ms, agent_downtime_ms, p50_us, p99_us;
	unsigned long long faults, pages;
	unsigned int reconnects, passes_after;
};

static struct lab *cur_lab;
static pid_t lab_owner;

static const char *ns_name(int ns)
{
	return ns ? NS_B : NS_A;
}

static const char *ns_addr(int ns)
{
	return ns ? ADDR_B : ADDR_A;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return pca_run_capture(argv, NULL, 0);
}

static void read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = 0, r;

	while (fd >= 0 && (size_t)n < len - 1 &&
	       (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += r;
	buf[n] = '\0';
	if (fd >= 0)
		close(fd);
}

/* qemu_qmp on @vm's socket with the steps @... (NULL-terminated) */
static int qmp(struct vm *vm, ...)
{
	char *argv[16] = { qmp_helper, vm->qmp };
	char buf[4096];
	va_list ap;
	int n = 2, ret;

	va_start(ap, vm);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	ret = pca_run_capture(argv, buf, sizeof(buf));
	if (ret)
		pca_diag("qmp %c: %s: status %d: %s", vm->name, argv[2], ret,
			 buf);
	return ret;
}

static void vm_stop(struct vm *vm)
{
	if (vm->pid > 0) {
		kill(vm->pid, SIGKILL);
		waitpid(vm->pid, NULL, 0);
		vm->pid = 0;
	}
}

/* Undo everything a lab made; also at exit, after a failed check. */
static void lab_teardown(void)
{
	struct lab *l = cur_lab;
	unsigned int i;

	if (!l || getpid() != lab_owner)
		return;
	for (i = 0; i < l->nvm; i++)
		vm_stop(&l->vm[i]);
	for (i = 0; i < 2; i++) {
		if (l->daemon[i] > 0) {
			kill(l->daemon[i], SIGTERM);
			if (pca_waitpid_ms(l->daemon[i], 10000) < 0)
				pca_diag("agent daemon %d killed", i);
			l->daemon[i] = 0;
		}
	}
	for (i = 0; i < l->nvm; i++) {
		unlink(l->vm[i].file);
		if (umount(l->vm[i].dir) && errno != EINVAL && errno != ENOENT)
			pca_diag("umount %s: %s", l->vm[i].dir, strerror(errno));
	}
	for (i = 0; i < 2; i++)
		if (l->nsfd[i] >= 0)
			close(l->nsfd[i]);
	sh("/bin/ip netns del " NS_A " 2>/dev/null; /bin/ip netns del " NS_B
	   " 2>/dev/null; true");
	cur_lab = NULL;
}

static int module_refcnt(void)
{
	char buf[32];

	read_text("/sys/module/postcopy_assist/refcnt", buf, sizeof(buf));
	return buf[0] ? atoi(buf) : -1;
}

static void find_files(struct pca_test_ctx *t)
{
	char self[200], *dir;
	ssize_t n;

	if (access(AGENT, X_OK))
		PCA_SKIP(t, "no " AGENT);
	if (access("/bin/ip", X_OK) || access("/bin/tc", X_OK))
		PCA_SKIP(t, "no iproute2 ip and tc in the guest");
	snprintf(qemu_bin, sizeof(qemu_bin), QEMU_BIN);
	if (access(qemu_bin, X_OK))
		PCA_SKIP(t, "no %s (the initramfs gets it with qemu_test)",
			 qemu_bin);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	PCA_ASSERT(t, n > 0, "readlink /proc/self/exe: %s", strerror(errno));
	self[n] = '\0';
	dir = dirname(self);
	snprintf(payload, sizeof(payload), "%s/qemu_payload.elf", dir);
	snprintf(qmp_helper, sizeof(qmp_helper), "%s/qemu_qmp", dir);
	if (access(payload, R_OK) || access(qmp_helper, X_OK))
		PCA_SKIP(t, "no %s or %s", payload, qmp_helper);
}

/* Mount pcafs for @vm from inside its namespace: the region belongs there. */
static void vm_mount(struct pca_test_ctx *t, struct lab *l, struct vm *vm,
		     const char *opts)
{
	pid_t pid;
	int st;

	if (mkdir(vm->dir, 0755) && errno != EEXIST)
		PCA_FATAL(t, "mkdir %s: %s", vm->dir, strerror(errno));
	fflush(stdout);
	pid = fork();
	PCA_ASSERT(t, pid >= 0, "fork: %s", strerror(errno));
	if (!pid) {
		if (l->nsfd[vm->ns] >= 0 &&
		    setns(l->nsfd[vm->ns], CLONE_NEWNET))
			_exit(1);
		_exit(mount("none", vm->dir, "pcafs", 0, opts) ? 2 : 0);
	}
	st = pca_waitpid_ms(pid, 10000);
	PCA_ASSERT(t, st == 0, "mount pcafs -o %s on %s in %s: status %#x",
		   opts ? opts : "", vm->dir, ns_name(vm->ns), st);
}

static struct vm *vm_add(struct pca_test_ctx *t, struct lab *l, int ns,
			 const char *opts)
{
	struct vm *vm = &l->vm[l->nvm];

	vm->name = 'a' + l->nvm++;
	vm->ns = ns;
	snprintf(vm->dir, sizeof(vm->dir), WORK "/%c", vm->name);
	snprintf(vm->file, sizeof(vm->file), WORK "/%c/ram", vm->name);
	vm->dir_backed = dir_backed;
	snprintf(vm->qmp, sizeof(vm->qmp), WORK "/%c.qmp", vm->name);
	snprintf(vm->serial, sizeof(vm->serial), WORK "/%c.serial", vm->name);
	snprintf(vm->log, sizeof(vm->log), WORK "/%c.log", vm->name);
	unlink(vm->serial);
	unlink(vm->log);
	vm_mount(t, l, vm, opts);
	return vm;
}

/* Everything a case needs; with @net, the namespaces and agent daemons. */
static void lab_setup(struct pca_test_ctx *t, struct lab *l, int net)
{
	static const char *const ns_path[2] = { "/run/netns/" NS_A,
						"/run/netns/" NS_B };
	unsigned int i;
	int ret;

	find_files(t);
	memset(l, 0, sizeof(*l));
	l->nsfd[0] = l->nsfd[1] = -1;
	sh("rm -rf " WORK "; mkdir -p " WORK " /run/netns; /bin/ip netns del "
	   NS_A " 2>/dev/null; /bin/ip netns del " NS_B " 2>/dev/null; true");
	cur_lab = l;
	lab_owner = getpid();
	atexit(lab_teardown);
	if (!net)
		return;

	ret = sh("set -e; IP=/bin/ip; $IP netns add " NS_A "; $IP netns add " NS_B "; "
		 "$IP link add pca-qveth0 type veth peer name pca-qveth1; "
		 "$IP link set pca-qveth0 netns " NS_A "; "
		 "$IP link set pca-qveth1 netns " NS_B "; "
		 "$IP -n " NS_A " addr add " ADDR_A "/24 dev pca-qveth0; "
		 "$IP -n " NS_B " addr add " ADDR_B "/24 dev pca-qveth1; "
		 "$IP -n " NS_A " link set lo up; $IP -n " NS_B " link set lo up; "
		 "$IP -n " NS_A " link set pca-qveth0 up; "
		 "$IP -n " NS_B " link set pca-qveth1 up; "
		 "/bin/tc -n " NS_A " qdisc add dev pca-qveth0 root netem " NETEM "; "
		 "/bin/tc -n " NS_B " qdisc add dev pca-qveth1 root netem " NETEM);
	PCA_ASSERT(t, ret == 0, "setting up the namespaces: status %d", ret);
	for (i = 0; i < 2; i++) {
		l->nsfd[i] = open(ns_path[i], O_RDONLY | O_CLOEXEC);
		PCA_ASSERT(t, l->nsfd[i] >= 0, "%s: %s", ns_path[i],
			   strerror(errno));
	}

	/* an agent daemon per namespace, as on two hosts */
	for (i = 0; i < 2; i++) {
		char *argv[] = { AGENT, "daemon", "--tls-creds", X509, NULL };
		long long end = now_ns() + pca_scaled_ms(20000) * 1000000LL;
		char out[4096];

		snprintf(l->daemon_out[i], sizeof(l->daemon_out[i]),
			 WORK "/daemon-%s.out", ns_name(i));
		l->daemon[i] = pca_spawn_in_netns(t, l->nsfd[i], argv,
						  l->daemon_out[i], true);
		for (;;) {
			read_text(l->daemon_out[i], out, sizeof(out));
			if (strstr(out, "waiting for migration requests"))
				break;
			if (now_ns() > end ||
			    waitpid(l->daemon[i], NULL, WNOHANG) == l->daemon[i])
				PCA_FATAL(t, "agent daemon in %s did not start: %s",
					  ns_name(i), out);
			usleep(20000);
		}
	}
}

/* Start QEMU for @vm: running the payload, or waiting for a migration. */
static void vm_start(struct pca_test_ctx *t, struct lab *l, struct vm *vm,
		     int incoming, unsigned int hop)
{
	char backend[160], serial[96], qmpopt[96], mem[16], uri[96];
	char *argv[32];
	long long end;
	int n = 0;

	snprintf(backend, sizeof(backend),
		 "memory-backend-file,id=ram,mem-path=%s,share=on,size=%dM",
		 vm->dir_backed ? vm->dir : vm->file, GUEST_MB);
	snprintf(serial, sizeof(serial), "file:%s", vm->serial);
	snprintf(qmpopt, sizeof(qmpopt), "unix:%s,server=on,wait=off",
		 vm->qmp);
	snprintf(mem, sizeof(mem), "%dM", GUEST_MB);
	argv[n++] = qemu_bin;
	argv[n++] = "-machine";
	argv[n++] = "pc,memory-backend=ram";
	argv[n++] = "-accel";
	argv[n++] = "tcg,tb-size=32";
	argv[n++] = "-m";
	argv[n++] = mem;
	argv[n++] = "-object";
	argv[n++] = backend;
	argv[n++] = "-nodefaults";
	argv[n++] = "-display";
	argv[n++] = "none";
	argv[n++] = "-serial";
	argv[n++] = serial;
	argv[n++] = "-qmp";
	argv[n++] = qmpopt;
	argv[n++] = "-kernel";
	argv[n++] = payload;
	if (incoming) {
		argv[n++] = "-incoming";
		argv[n++] = "defer";
		argv[n++] = "-S";
	}
	argv[n] = NULL;
	unlink(vm->qmp);
	vm->pid = pca_spawn_in_netns(t, l->nsfd[vm->ns], argv, vm->log, true);

	/* QMP answers once QEMU is up */
	end = now_ns() + pca_scaled_ms(30000) * 1000000LL;
	while (access(vm->qmp, F_OK) ||
	       qmp(vm, "{\"execute\": \"query-status\"}", NULL)) {
		char log[2048];

		if (now_ns() > end ||
		    waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
			read_text(vm->log, log, sizeof(log));
			vm->pid = 0;
			PCA_FATAL(t, "QEMU %c did not start: %s", vm->name,
				  log);
		}
		usleep(50000);
	}
	PCA_ASSERT(t, !qmp(vm, "{\"execute\": \"migrate-set-capabilities\", \"arguments\": {\"capabilities\": [{\"capability\": \"x-ignore-shared\", \"state\": true}]}}",
			   NULL), "QEMU %c: x-ignore-shared refused", vm->name);
	/* with --qmp, the destination agent starts the incoming migration */
	if (incoming && !agent_qmp) {
		char cmd[160];

		snprintf(uri, sizeof(uri), "tcp:%s:%u", ns_addr(vm->ns),
			 QEMU_PORT + hop);
		snprintf(cmd, sizeof(cmd),
			 "{\"execute\": \"migrate-incoming\", \"arguments\": {\"uri\": \"%s\"}}",
			 uri);
		PCA_ASSERT(t, !qmp(vm, cmd, NULL),
			   "QEMU %c: migrate-incoming refused", vm->name);
	}
}

/*
 * The payload's serial output of @vm: whole-area checks ("pass") and
 * mismatches.  Returns the number of passes; fails @t on any mismatch.
 */
static unsigned int serial_check(struct pca_test_ctx *t, struct vm *vm,
				 int report)
{
	static char buf[1 << 20];
	unsigned int passes = 0;
	char *line, *save;

	read_text(vm->serial, buf, sizeof(buf));
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned int pass, ops, bad, total;

		if (strstr(line, "MISMATCH")) {
			if (report)
				PCA_FAIL(t, "QEMU %c: %s", vm->name, line);
			continue;
		}
		if (sscanf(line, "pca-payload: pass %u ops %u bad %u total %u",
			   &pass, &ops, &bad, &total) != 4)
			continue;
		passes++;
		if (report && (bad || total))
			PCA_FAIL(t, "QEMU %c: %s", vm->name, line);
	}
	return passes;
}

/* Wait until @vm's payload printed @want whole-area checks. */
static unsigned int wait_passes(struct pca_test_ctx *t, struct vm *vm,
				unsigned int want, int ms)
{
	long long end = now_ns() + pca_scaled_ms(ms) * 1000000LL;
	unsigned int n;

	while ((n = serial_check(t, vm, 0)) < want) {
		if (now_ns() > end)
			PCA_FATAL(t, "QEMU %c: %u of %u payload passes within %d ms",
				  vm->name, n, want, pca_scaled_ms(ms));
		if (vm->pid > 0 && waitpid(vm->pid, NULL, WNOHANG) == vm->pid) {
			vm->pid = 0;
			PCA_FATAL(t, "QEMU %c exited", vm->name);
		}
		usleep(100000);
	}
	return serial_check(t, vm, 1);
}

static double json_num(const char *line, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\": ", key);
	p = strstr(line, k);
	return p ? strtod(p + strlen(k), NULL) : -1;
}

/* The "completed" event of a "migrate --json" output file, or NULL. */
static const char *completed_event(const char *path, char *buf, size_t len)
{
	char *p, *line = NULL;

	read_text(path, buf, len);
	for (p = strstr(buf, "\"phase\": \"completed\""); p;
	     p = strstr(p + 1, "\"phase\": \"completed\""))
		line = p;
	if (!line)
		return NULL;
	while (line > buf && line[-1] != '\n')
		line--;
	p = strchr(line, '\n');
	if (p)
		*p = '\0';
	return line;
}

static long long stamp(const char *path)
{
	char buf[32];

	read_text(path, buf, sizeof(buf));
	return buf[0] ? atoll(buf) : -1;
}

/* "reconnects N" of the workers' summaries the daemon printed from @off */
static unsigned int daemon_reconnects(const char *path, size_t off)
{
	static char buf[1 << 18];
	unsigned int max = 0, n;
	char *p;

	read_text(path, buf, sizeof(buf));
	if (off > strlen(buf))
		return 0;
	for (p = strstr(buf + off, "reconnects"); p;
	     p = strstr(p + 1, "reconnects"))
		if (sscanf(p, "reconnects %u", &n) == 1 && n > max)
			max = n;
	return max;
}

static size_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (size_t)st.st_size;
}

/* Whether the destination's guest runs: cont sent, by us or the agent. */
static int guest_runs(const char *dout, const char *cont_f)
{
	static char buf[1 << 18];

	if (!agent_qmp)
		return stamp(cont_f) > 0;
	read_text(dout, buf, sizeof(buf));
	return strstr(buf, "\"running\": true") != NULL;
}

/* No packet passes the link for @ms, in both directions, then all do. */
static void cut_link(struct pca_test_ctx *t, int ms)
{
	int ret;

	ret = sh("/bin/tc -n " NS_A " qdisc change dev pca-qveth0 root netem loss 100%%; "
		 "/bin/tc -n " NS_B " qdisc change dev pca-qveth1 root netem loss 100%%");
	PCA_ASSERT(t, ret == 0, "cutting the link: status %d", ret);
	usleep(ms * 1000);
	ret = sh("/bin/tc -n " NS_A " qdisc change dev pca-qveth0 root netem " NETEM "; "
		 "/bin/tc -n " NS_B " qdisc change dev pca-qveth1 root netem " NETEM);
	PCA_ASSERT(t, ret == 0, "restoring the link: status %d", ret);
}

/*
 * "postcopy-agent migrate" for @vm in @role into @argv (20 entries): the
 * agent drives QEMU itself when given @vmm_in, QEMU's incoming address;
 * otherwise @cmd_opt (--pause-cmd, --resume-cmd) runs @cmd at the
 * switchover.
 */
static void agent_argv(char *argv[20], struct vm *vm, char *role, char *peer,
		       char *args, char *vmm_in, char *cmd_opt, char *cmd)
{
	int n = 0;

	argv[n++] = AGENT;
	argv[n++] = "migrate";
	if (!vm->dir_backed) {
		argv[n++] = "--region-id";
		argv[n++] = vm->file;
	}
	argv[n++] = "--role";
	argv[n++] = role;
	argv[n++] = "--peer";
	argv[n++] = peer;
	argv[n++] = "--args";
	argv[n++] = args;
	if (vmm_in) {
		argv[n++] = "--qmp";
		argv[n++] = vm->qmp;
		argv[n++] = "--vmm-incoming";
		argv[n++] = vmm_in;
	} else {
		argv[n++] = cmd_opt;
		argv[n++] = cmd;
	}
	argv[n++] = "--timeout-s";
	argv[n++] = "180";
	argv[n++] = "--json";
	argv[n] = NULL;
}

/*
 * The one place that says how a migration of @src to @dst is driven:
 * "postcopy-agent migrate" on both sides, through the agent daemons.
 * An agent that knows "--qmp" drives QEMU itself (x-ignore-shared,
 * migrate-incoming, stop, migrate, cont) and reports the guest's
 * downtime.  Otherwise the QMP commands of the switchover are our
 * --pause-cmd and --resume-cmd.  The source's pause command stops
 * the vCPUs and only starts QEMU's migration of device state: the
 * destination QEMU reads guest RAM while loading it, which waits for the
 * agent's switchover, so the pause command must not wait for the load.
 * The destination's resume command waits for the device state and lets
 * the guest run.  The QMP steps stamp the guest's downtime.
 */
static void drive_migration(struct pca_test_ctx *t, struct lab *l,
			    struct vm *src, struct vm *dst, unsigned int hop,
			    const char *src_args, int cut, struct hop *h)
{
	char pause[1024], resume[512], peer[64], sargs[256], dargs[128];
	char vmm_in[64];
	char stop_f[64], cont_f[64], sout[64], dout[64];
	static char buf[1 << 18];
	char *sargv[20], *dargv[20];
	size_t doff = file_size(l->daemon_out[dst->ns]);
	const char *ev;
	pid_t ps, pd;
	int ss, sd, io_ms;

	snprintf(stop_f, sizeof(stop_f), WORK "/stop-%u", hop);
	snprintf(cont_f, sizeof(cont_f), WORK "/cont-%u", hop);
	snprintf(sout, sizeof(sout), WORK "/migrate-src-%u.json", hop);
	snprintf(dout, sizeof(dout), WORK "/migrate-dst-%u.json", hop);
	unlink(stop_f);
	unlink(cont_f);
	snprintf(peer, sizeof(peer), "%s:%u", ns_addr(src->ns),
		 AGENT_PORT + hop);
	snprintf(vmm_in, sizeof(vmm_in), "%s:%u", ns_addr(dst->ns),
		 QEMU_PORT + hop);
	snprintf(pause, sizeof(pause),
		 "%s %s '{\"execute\": \"stop\"}' stamp:%s '{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"tcp:%s:%u\"}}'",
		 qmp_helper, src->qmp, stop_f, ns_addr(dst->ns),
		 QEMU_PORT + hop);
	snprintf(resume, sizeof(resume),
		 "%s %s wait:paused '{\"execute\": \"cont\"}' stamp:%s",
		 qmp_helper, dst->qmp, cont_f);
	io_ms = pca_scaled_ms(cut ? CUT_IO_MS : IO_TIMEOUT_MS);
	snprintf(sargs, sizeof(sargs), "%s --io-timeout-ms %d", src_args,
		 io_ms);
	snprintf(dargs, sizeof(dargs), "--io-timeout-ms %d", io_ms);

	agent_argv(dargv, dst, "destination", peer, dargs,
		   agent_qmp ? vmm_in : NULL, "--resume-cmd", resume);
	agent_argv(sargv, src, "source", peer, sargs,
		   agent_qmp ? vmm_in : NULL, "--pause-cmd", pause);

	pd = pca_spawn_in_netns(t, l->nsfd[dst->ns], dargv, dout, true);
	ps = pca_spawn_in_netns(t, l->nsfd[src->ns], sargv, sout, true);

	if (cut) {
		/* once the guest runs on the destination: in postcopy */
		long long end = now_ns() + pca_scaled_ms(120000) * 1000000LL;

		while (!guest_runs(dout, cont_f) && now_ns() < end &&
		       waitpid(pd, &sd, WNOHANG) == 0)
			usleep(20000);
		PCA_ASSERT(t, guest_runs(dout, cont_f),
			   "the destination never resumed the guest");
		cut_link(t, io_ms + 1500);
	}
	ss = pca_waitpid_ms(ps, 200000);
	sd = pca_waitpid_ms(pd, 200000);
	read_text(sout, buf, sizeof(buf));
	PCA_EXPECT(t, ss == 0, "migrate (source): status %#x: %s", ss, buf);
	read_text(dout, buf, sizeof(buf));
	PCA_EXPECT(t, sd == 0, "migrate (destination): status %#x: %s", sd,
		   buf);
	if (ss || sd) {
		read_text(l->daemon_out[0], buf, sizeof(buf));
		pca_diag_lines(t, buf);
		read_text(l->daemon_out[1], buf, sizeof(buf));
		pca_diag_lines(t, buf);
		PCA_FATAL(t, "migration %c -> %c failed", src->name,
			  dst->name);
	}

	memset(h, 0, sizeof(*h));
	ev = completed_event(dout, buf, sizeof(buf));
	PCA_ASSERT(t, ev, "no completed event from the destination");
	h->faults = (unsigned long long)json_num(ev, "faults");
	h->pages = (unsigned long long)json_num(ev, "pages");
	h->p50_us = json_num(ev, "p50_us");
	h->p99_us = json_num(ev, "p99_us");
	h->agent_downtime_ms = json_num(ev, "downtime_ms");
	ev = completed_event(sout, buf, sizeof(buf));
	if (ev && json_num(ev, "downtime_ms") > 0)
		h->agent_downtime_ms = json_num(ev, "downtime_ms");
	if (agent_qmp) {
		/* the agents report it: source pause to guest running */
		h->guest_downtime_ms = json_num(ev ? ev : "", "guest_downtime_ms");
		ev = completed_event(dout, buf, sizeof(buf));
		if (json_num(ev, "guest_downtime_ms") > h->guest_downtime_ms)
			h->guest_downtime_ms = json_num(ev, "guest_downtime_ms");
	} else {
		PCA_ASSERT(t, stamp(stop_f) > 0 && stamp(cont_f) > 0,
			   "no stop or cont stamp: the QMP commands did not run");
		h->guest_downtime_ms = (stamp(cont_f) - stamp(stop_f)) / 1e6;
	}
	h->reconnects = daemon_reconnects(l->daemon_out[dst->ns], doff);
}

/*
 * One case: QEMU 'a' boots in NS_A, then migrates hop by hop, each time
 * to a new QEMU on a missing-mode mount in the other namespace (the
 * destination of one hop is the source of the next).  @rounds[i]: the
 * source's precopy rounds of hop i (0: postcopy only).
 */
static void run_case(struct pca_test_ctx *t, unsigned int hops,
		     const unsigned int *rounds, int cut)
{
	struct lab lab;
	struct vm *src, *dst;
	unsigned int i;
	int refcnt = module_refcnt();

	lab_setup(t, &lab, 1);
	pca_t_diag(t, "driven by postcopy-agent migrate %s",
		   agent_qmp ? "--qmp" : "--pause-cmd/--resume-cmd and qemu_qmp");
	src = vm_add(t, &lab, 0, NULL);
	vm_start(t, &lab, src, 0, 0);
	wait_passes(t, src, 2, 120000);

	for (i = 0; i < hops; i++) {
		char args[96];
		struct hop h;

		dst = vm_add(t, &lab, !src->ns, "missing");
		vm_start(t, &lab, dst, 1, i);
		/*
		 * A cut lands in postcopy only if postcopy outlasts the wait
		 * for the guest to run (up to an event interval and more on a
		 * loaded machine): the push capped at 2 MB/s moves the 16 MiB
		 * area in about 8 s instead of 3.
		 */
		snprintf(args, sizeof(args), "--rounds %u --downtime-ms 50%s",
			 rounds[i], cut ? " --push-max-rate 2000000" : "");
		drive_migration(t, &lab, src, dst, i, args, cut, &h);
		/* the destination's payload checks, every page, twice */
		h.passes_after = wait_passes(t, dst, PASSES_AFTER, 120000);
		serial_check(t, src, 1);
		pca_t_diag(t, "hop %u %c->%c (%s, %s): guest downtime %.1f ms, agent downtime %.1f ms, faults %llu, latency p50 %.0f us p99 %.0f us, reconnects %u, %u payload passes after, 0 mismatches",
			   i + 1, src->name, dst->name,
			   rounds[i] ? "precopy+postcopy" : "postcopy only",
			   cut ? "link cut in postcopy" : NETEM,
			   h.guest_downtime_ms, h.agent_downtime_ms, h.faults,
			   h.p50_us, h.p99_us, h.reconnects, h.passes_after);
		PCA_EXPECT(t, h.faults > 0, "no postcopy fault served");
		PCA_EXPECT(t, h.guest_downtime_ms > 0,
			   "guest downtime %.1f ms", h.guest_downtime_ms);
		if (cut)
			PCA_EXPECT(t, h.reconnects >= 1,
				   "no reconnect after the cut");
		/* the source QEMU is done; its file goes with it */
		vm_stop(src);
		unlink(src->file);
		src = dst;
	}
	lab_teardown();
	PCA_EXPECT_EQ(t, module_refcnt(), refcnt);
}

static void test_precopy_postcopy(struct pca_test_ctx *t)
{
	static const unsigned int rounds[] = { 2 };

	run_case(t, 1, rounds, 0);
}

/*
 * QEMU's RAM in a file it made in a directory of the mount and unlinked,
 * as with libvirt's memory_backing_dir: migrate --qmp finds the regions.
 */
static void test_directory_mem_path(struct pca_test_ctx *t)
{
	static const unsigned int rounds[] = { 1 };

	dir_backed = 1;
	run_case(t, 1, rounds, 0);
}

/* The same migration with the switchover as shell commands of a VMM. */
static void test_pause_resume_cmds(struct pca_test_ctx *t)
{
	static const unsigned int rounds[] = { 2 };

	agent_qmp = 0;
	run_case(t, 1, rounds, 0);
}

static void test_postcopy_only(struct pca_test_ctx *t)
{
	static const unsigned int rounds[] = { 0 };

	run_case(t, 1, rounds, 0);
}

static void test_chained(struct pca_test_ctx *t)
{
	static const unsigned int rounds[] = { 1, 0 };

	run_case(t, 2, rounds, 0);
}

static void test_cut_postcopy(struct pca_test_ctx *t)
{
	static const unsigned int rounds[] = { 0 };

	run_case(t, 1, rounds, 1);
}

/*
 * The payload's checks can fail: a page of its area discarded under it
 * (a hole punched in the file: the page reads as zero again) must be
 * reported as a mismatch.
 */
static void test_detects_corruption(struct pca_test_ctx *t)
{
	static char buf[1 << 16];
	char *mm;
	long long end;
	struct lab lab;
	struct vm *vm;
	int fd, refcnt = module_refcnt();

	lab_setup(t, &lab, 0);
	vm = vm_add(t, &lab, 0, NULL);
	vm_start(t, &lab, vm, 0, 0);
	wait_passes(t, vm, 1, 120000);
	fd = open(vm->file, O_RDWR | O_CLOEXEC);
	PCA_ASSERT(t, fd >= 0, "%s: %s", vm->file, strerror(errno));
	/* pages 100-107 of the area, at 4 MiB */
	PCA_ASSERT(t, !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 (4 << 20) + 100 * 4096, 8 * 4096),
		   "punching a hole: %s", strerror(errno));
	close(fd);
	end = now_ns() + pca_scaled_ms(60000) * 1000000LL;
	for (;;) {
		read_text(vm->serial, buf, sizeof(buf));
		if (strstr(buf, "MISMATCH"))
			break;
		PCA_ASSERT(t, now_ns() < end,
			   "the payload did not notice 8 zeroed pages");
		usleep(100000);
	}
	mm = strstr(buf, "pca-payload: MISMATCH");
	if (mm && strchr(mm, '\n'))
		*strchr(mm, '\n') = '\0';
	pca_t_diag(t, "%s", mm ? mm : "MISMATCH");
	lab_teardown();
	PCA_EXPECT_EQ(t, module_refcnt(), refcnt);
}

#define QEMU_FEATURES	(PCA_FEATURE_MISSING | PCA_FEATURE_DIRTY_LOG | \
			 PCA_FEATURE_MIGRATE | PCA_FEATURE_REGION_OPEN)

PCA_TEST_F(detects_corruption, test_detects_corruption, PCA_FEATURE_MISSING,
	   .timeout = 200, .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(precopy_postcopy, test_precopy_postcopy, QEMU_FEATURES,
	   .timeout = 300, .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(pause_resume_cmds, test_pause_resume_cmds, QEMU_FEATURES,
	   .timeout = 300, .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(directory_mem_path, test_directory_mem_path, QEMU_FEATURES,
	   .timeout = 300, .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(postcopy_only, test_postcopy_only, QEMU_FEATURES,
	   .timeout = 300, .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(chained, test_chained, QEMU_FEATURES, .timeout = 400,
	   .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(cut_postcopy, test_cut_postcopy, QEMU_FEATURES,
	   .timeout = 300, .flags = PCA_TEST_NO_CLIENT)

TEST_HARNESS_MAIN
