// SPDX-License-Identifier: GPL-2.0
/*
 * regionfs_test: the region filesystem (pcafs), a regular file of which is
 * a region: what a VMM does with it (open, ftruncate, mmap, punch holes,
 * the mkstemp + unlink pattern of a directory mem-path), what an agent
 * does (find it by path, serve its faults), who may name it over netlink
 * (the file's permissions), and what ends it (unlink and last close,
 * unmount).  Each test mounts a filesystem of its own and unmounts it.
 */
#include "pca_region_util.h"

#include <linux/capability.h>
#include <linux/falloc.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#define HUGE		(2UL << 20)
#define FS_TYPE		"pcafs"
#define FS_MAGIC	0x70636166
#define MNT		"/tmp/regionfs_test"
#define OTHER_UID	1000
#define REFCNT		"/sys/module/postcopy_assist/refcnt"
#define WAIT_MS		10000

#define MSG_NO_READ	"no read permission on the region's file"
#define MSG_NO_WRITE	"no write permission on the region's file"

/* -------------------------------------------------------------------------
 * Helpers
 */

static void fs_mount(struct pca_test_ctx *t, const char *opts)
{
	pcafs_mount(t, MNT, opts);
}

static void fs_umount(struct pca_test_ctx *t)
{
	if (umount(MNT))
		PCA_FAIL(t, "umount %s: %s", MNT, strerror(errno));
}

/* A file of @size bytes at MNT/@name, its fd; *@id gets its region id. */
static int fs_region(struct pca_test_ctx *t, const char *name, size_t size,
		     uint32_t *id)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), MNT "/%s", name);
	fd = pcafs_create(t, path, size);
	PCA_ASSERT_OK(t, pca_region_resolve(t->c, path, id));
	return fd;
}

static size_t nr_regions(struct pca_test_ctx *t)
{
	struct pca_region_info *v = NULL;
	size_t n = 0;

	PCA_ASSERT_OK(t, pca_region_list(t->c, &v, &n));
	free(v);
	return n;
}

static long refcnt(void)
{
	char buf[32] = "";
	int fd = open(REFCNT, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

/* A child that reads @p and exits 0, or dies of its signal. */
static pid_t touch_start(struct pca_test_ctx *t, volatile uint8_t *p)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!pid) {
		/* no agent socket may live on in the toucher */
		close_range(3, ~0U, 0);
		_exit(*p == 0xee ? 3 : 0);
	}
	return pid;
}

/* The next fault record of @c, or fail. */
static struct pca_fault_record one_fault(struct pca_test_ctx *t,
					 struct pca_client *c)
{
	struct pca_fault_record rec;
	int n = pca_recv_faults(c, &rec, 1, pca_scaled_ms(WAIT_MS));

	if (n != 1)
		PCA_FATAL(t, "no fault record (%d: %s)", n,
			  n < 0 ? pca_strerror(c) : "timeout");
	return rec;
}

/* fsopen() + fsconfig() of one option: the kernel's message on failure. */
static int fs_option_msg(const char *key, const char *val, char *msg,
			 size_t len)
{
	int fd = syscall(SYS_fsopen, FS_TYPE, 0), ret = 0;
	ssize_t n;

	msg[0] = '\0';
	if (fd < 0)
		return -errno;
	if (syscall(SYS_fsconfig, fd, val ? 1 /* FSCONFIG_SET_STRING */ :
		    0 /* FSCONFIG_SET_FLAG */, key, val, 0) < 0) {
		ret = -errno;
		n = read(fd, msg, len - 1);
		msg[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	return ret;
}

/*
 * Become uid OTHER_UID with CAP_SYS_ADMIN only: the module's capability
 * check passes, and only the file's permissions decide (no
 * CAP_DAC_OVERRIDE, no CAP_FOWNER).
 */
static void become_other_admin(struct pca_test_ctx *t)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {};

	if (prctl(PR_SET_KEEPCAPS, 1) || setgroups(0, NULL) ||
	    setresgid(OTHER_UID, OTHER_UID, OTHER_UID) ||
	    setresuid(OTHER_UID, OTHER_UID, OTHER_UID))
		PCA_FATAL(t, "dropping to %u: %s", OTHER_UID, strerror(errno));
	d[0].effective = d[0].permitted = 1U << CAP_SYS_ADMIN;
	if (syscall(SYS_capset, &h, d))
		PCA_FATAL(t, "capset: %s", strerror(errno));
}

/* -------------------------------------------------------------------------
 * Tests
 */

static void test_mount_options(struct pca_test_ctx *t)
{
	char line[512], *found = NULL;
	struct statfs sfs;
	struct stat st;
	FILE *f;

	fs_mount(t, "uid=1000,gid=1001,mode=0770,missing");
	PCA_ASSERT(t, !stat(MNT, &st), "stat: %s", strerror(errno));
	PCA_EXPECT_EQ(t, st.st_uid, 1000);
	PCA_EXPECT_EQ(t, st.st_gid, 1001);
	PCA_EXPECT_EQ(t, st.st_mode, S_IFDIR | 0770);
	PCA_ASSERT(t, !statfs(MNT, &sfs), "statfs: %s", strerror(errno));
	PCA_EXPECT_EQ(t, sfs.f_type, FS_MAGIC);
	PCA_EXPECT_EQ(t, sfs.f_bsize, PAGE);

	/* the options show in /proc/mounts as given */
	f = fopen("/proc/mounts", "r");
	PCA_ASSERT(t, f, "/proc/mounts: %s", strerror(errno));
	while (!found && fgets(line, sizeof(line), f))
		if (strstr(line, " " MNT " " FS_TYPE " "))
			found = line;
	fclose(f);
	PCA_ASSERT(t, found, "no %s line in /proc/mounts", MNT);
	pca_t_diag(t, "%s", strtok(found, "\n"));
	PCA_EXPECT(t, strstr(found, "uid=1000") && strstr(found, "gid=1001") &&
		   strstr(found, "mode=770") && strstr(found, "missing"),
		   "options missing from %s", found);
	fs_umount(t);

	/* defaults: root's, 0755, present mode */
	fs_mount(t, NULL);
	PCA_ASSERT(t, !stat(MNT, &st), "stat: %s", strerror(errno));
	PCA_EXPECT_EQ(t, st.st_mode, S_IFDIR | 0755);
	PCA_EXPECT_EQ(t, st.st_uid, 0);
	fs_umount(t);
}

static void test_bad_options(struct pca_test_ctx *t)
{
	static const struct {
		const char *key, *val, *text;
	} bad[] = {
		{ "mode", "8", "mode" },
		{ "mode", "17777", "more than permissions" },
		{ "uid", "x", "uid" },
		{ "size", "1G", "size" },
		{ "missing", "yes", "missing" },
	};
	char msg[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = fs_option_msg(bad[i].key, bad[i].val, msg,
					sizeof(msg));

		if (ret == -ENOSYS)
			PCA_SKIP(t, "no fsopen()");
		PCA_EXPECT(t, ret == -EINVAL, "%s=%s: %d, expected -EINVAL",
			   bad[i].key, bad[i].val, ret);
		PCA_EXPECT(t, strstr(msg, bad[i].text),
			   "%s=%s: message \"%s\"", bad[i].key, bad[i].val,
			   msg);
		pca_t_diag(t, "%s=%s: %s", bad[i].key, bad[i].val,
			   strtok(msg, "\n") ? msg : "");
	}
	/* mount(2) too */
	if (mkdir(MNT, 0755) && errno != EEXIST)
		PCA_FATAL(t, "mkdir: %s", strerror(errno));
	PCA_EXPECT(t, mount("none", MNT, FS_TYPE, 0, "bogus") && errno == EINVAL,
		   "mount -o bogus: %s", strerror(errno));
}

static void test_create_map(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	size_t before = nr_regions(t), size = 16 * PAGE, i;
	char buf[16];
	struct stat st;
	uint32_t id, id2;
	uint8_t *p;
	int fd;

	fs_mount(t, NULL);
	fd = open(MNT "/vm0", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	PCA_ASSERT(t, fd >= 0, "open: %s", strerror(errno));
	/* no size, no region: nothing to map, nothing to name */
	PCA_EXPECT(t, mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0) ==
		   MAP_FAILED && errno == EINVAL, "mmap without a size");
	PCA_EXPECT_EXTACK(t, pca_region_resolve(t->c, MNT "/vm0", &id),
			  ENODATA);
	PCA_EXPECT_EQ(t, nr_regions(t), before);

	PCA_ASSERT(t, !ftruncate(fd, size), "ftruncate: %s", strerror(errno));
	PCA_ASSERT_OK(t, pca_region_resolve(t->c, MNT "/vm0", &id));
	PCA_EXPECT_EQ(t, nr_regions(t), before + 1);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.size, size);
	PCA_EXPECT_EQ(t, info.flags & PCA_REGION_MISSING, 0);
	PCA_EXPECT_EQ(t, info.pages_present, 0);
	PCA_ASSERT(t, !fstat(fd, &st), "fstat: %s", strerror(errno));
	PCA_EXPECT_EQ(t, st.st_size, size);
	PCA_EXPECT_EQ(t, lseek(fd, 0, SEEK_END), (off_t)size);

	/* the size is fixed once set; the same size is fine */
	PCA_EXPECT(t, ftruncate(fd, 2 * size) && errno == EBUSY, "grow: %s",
		   strerror(errno));
	PCA_EXPECT(t, ftruncate(fd, PAGE) && errno == EBUSY, "shrink: %s",
		   strerror(errno));
	PCA_EXPECT(t, !ftruncate(fd, size), "same size: %s", strerror(errno));

	/* present mode: first touch gives zeroes, writes stay */
	p = region_map(t, fd, size);
	for (i = 0; i < 16; i++)
		PCA_EXPECT_EQ(t, p[i * PAGE], 0);
	memset(p, 0xab, 4 * PAGE);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 16);

	/* no read/write, no O_DIRECT, no hard link */
	PCA_EXPECT(t, read(fd, buf, sizeof(buf)) < 0 && errno == EINVAL,
		   "read: %s", strerror(errno));
	PCA_EXPECT(t, write(fd, buf, sizeof(buf)) < 0 && errno == EINVAL,
		   "write: %s", strerror(errno));
	PCA_EXPECT(t, open(MNT "/vm0", O_RDWR | O_DIRECT) < 0 &&
		   errno == EINVAL, "O_DIRECT: %s", strerror(errno));
	PCA_EXPECT(t, link(MNT "/vm0", MNT "/vm0-link") && errno == EPERM,
		   "link: %s", strerror(errno));

	/* rename keeps the region; a second open is the same region */
	PCA_ASSERT(t, !rename(MNT "/vm0", MNT "/vm1"), "rename: %s",
		   strerror(errno));
	PCA_ASSERT_OK(t, pca_region_resolve(t->c, MNT "/vm1", &id2));
	PCA_EXPECT_EQ(t, id2, id);
	{
		int fd2 = open(MNT "/vm1", O_RDWR | O_CLOEXEC);
		uint8_t *q;

		PCA_ASSERT(t, fd2 >= 0, "reopen: %s", strerror(errno));
		q = region_map(t, fd2, size);
		PCA_EXPECT_EQ(t, q[PAGE], 0xab);
		munmap(q, size);
		close(fd2);
	}
	/* closed and unmapped but named: the region and its pages stay */
	munmap(p, size);
	close(fd);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 16);

	/* mkdir works (libvirt makes directories under its backing dir) */
	PCA_EXPECT(t, !mkdir(MNT "/libvirt", 0700), "mkdir: %s",
		   strerror(errno));
	PCA_EXPECT(t, !rmdir(MNT "/libvirt"), "rmdir: %s", strerror(errno));

	PCA_ASSERT(t, !unlink(MNT "/vm1"), "unlink: %s", strerror(errno));
	PCA_EXPECT_ERR(t, pca_region_get(t->c, id, &info), ENOENT);
	PCA_EXPECT_EQ(t, nr_regions(t), before);
	fs_umount(t);
}

static void test_missing_fault_by_path(struct pca_test_ctx *t)
{
	struct pca_fault_record rec;
	struct pca_region_info info;
	uint8_t data[PAGE];
	uint32_t id;
	uint8_t *p;
	pid_t pid;
	int fd, status;

	fs_mount(t, "missing");
	fd = fs_region(t, "dst", 8 * PAGE, &id);
	PCA_ASSERT_OK(t, pca_region_get_path(t->c, MNT "/dst", &info));
	PCA_EXPECT_EQ(t, info.id, id);
	PCA_EXPECT(t, info.flags & PCA_REGION_MISSING, "flags %#llx",
		   (unsigned long long)info.flags);
	p = region_map(t, fd, 8 * PAGE);

	/* the agent finds the region by its path, then serves by id */
	PCA_ASSERT_OK(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL));
	pid = touch_start(t, p + 3 * PAGE + 5);
	rec = one_fault(t, t->c);
	PCA_EXPECT_EQ(t, rec.region_id, id);
	PCA_EXPECT_EQ(t, rec.offset, 3 * PAGE);
	memset(data, 0x5c, sizeof(data));
	PCA_ASSERT_OK(t, pca_copy(t->c, id, 3 * PAGE, data, 0, NULL));
	status = pca_waitpid_ms(pid, WAIT_MS);
	PCA_EXPECT(t, status == 0, "toucher: status %#x", status);
	PCA_EXPECT_EQ(t, p[3 * PAGE + 5], 0x5c);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 1);
	PCA_EXPECT_EQ(t, info.stats.faults, 1);

	munmap(p, 8 * PAGE);
	close(fd);
	unlink(MNT "/dst");
	fs_umount(t);
}

static void test_set_flags(struct pca_test_ctx *t)
{
	struct pca_set_flags sf = { .flags = 0 };
	struct pca_region_info info;
	uint32_t id;
	uint8_t *p;
	int fd;

	/* a file of a missing-mode mount made present before its mmap */
	fs_mount(t, "missing");
	fd = open(MNT "/f", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	PCA_ASSERT(t, fd >= 0, "open: %s", strerror(errno));
	PCA_EXPECT(t, ioctl(fd, PCA_IOC_SET_FLAGS, &sf) < 0 &&
		   errno == ENODATA, "SET_FLAGS before the size: %s",
		   strerror(errno));
	PCA_ASSERT(t, !ftruncate(fd, 4 * PAGE), "ftruncate: %s",
		   strerror(errno));
	PCA_ASSERT(t, !ioctl(fd, PCA_IOC_SET_FLAGS, &sf), "SET_FLAGS: %s",
		   strerror(errno));
	PCA_ASSERT_OK(t, pca_region_resolve(t->c, MNT "/f", &id));
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.flags & PCA_REGION_MISSING, 0);
	sf.flags = PCA_REGION_HUGE;
	PCA_EXPECT(t, ioctl(fd, PCA_IOC_SET_FLAGS, &sf) < 0 &&
		   errno == EINVAL, "SET_FLAGS HUGE: %s", strerror(errno));
	p = region_map(t, fd, 4 * PAGE);
	PCA_EXPECT_EQ(t, p[2 * PAGE], 0);	/* no agent needed */
	sf.flags = PCA_REGION_MISSING;
	PCA_EXPECT(t, ioctl(fd, PCA_IOC_SET_FLAGS, &sf) < 0 &&
		   errno == EBUSY, "SET_FLAGS once mapped: %s",
		   strerror(errno));
	munmap(p, 4 * PAGE);
	close(fd);
	unlink(MNT "/f");
	fs_umount(t);

	/* and the other way */
	fs_mount(t, NULL);
	fd = fs_region(t, "g", 4 * PAGE, &id);
	sf.flags = PCA_REGION_MISSING;
	PCA_ASSERT(t, !ioctl(fd, PCA_IOC_SET_FLAGS, &sf), "SET_FLAGS: %s",
		   strerror(errno));
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT(t, info.flags & PCA_REGION_MISSING, "flags %#llx",
		   (unsigned long long)info.flags);
	close(fd);
	unlink(MNT "/g");
	fs_umount(t);
}

/* What QEMU does with a directory mem-path, and libvirt's backing dir. */
static void test_mkstemp_pattern(struct pca_test_ctx *t)
{
	char path[] = MNT "/qemu_back_mem.pc.ram.XXXXXX";
	size_t before = nr_regions(t), size = 32 * PAGE;
	struct pca_region_info *v = NULL;
	size_t n = 0, i;
	int fd, found = 0;
	uint8_t *p;

	fs_mount(t, "mode=1777");
	fd = mkstemp(path);
	PCA_ASSERT(t, fd >= 0, "mkstemp: %s", strerror(errno));
	PCA_ASSERT(t, !unlink(path), "unlink: %s", strerror(errno));
	PCA_ASSERT(t, !ftruncate(fd, size), "ftruncate: %s", strerror(errno));
	p = region_map(t, fd, size);
	close(fd);		/* QEMU keeps it; the mapping alone holds it too */
	memset(p, 0x11, size);

	PCA_ASSERT_OK(t, pca_region_list(t->c, &v, &n));
	for (i = 0; i < n; i++)
		if (v[i].size == size && v[i].pages_present == 32)
			found = 1;
	free(v);
	PCA_EXPECT(t, found, "no region of %zu bytes, 32 pages present", size);
	PCA_EXPECT_EQ(t, nr_regions(t), before + 1);
	/* unlinked, closed: the last munmap frees it */
	munmap(p, size);
	PCA_EXPECT_EQ(t, nr_regions(t), before);
	fs_umount(t);
}

static void other_refused(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	uint32_t id;

	become_other_admin(t);
	PCA_ASSERT_OK(t, pca_client_open(&t->c));
	/* by path and by id: the file's permissions */
	PCA_EXPECT_REFUSED(t, pca_region_get_path(t->c, MNT "/r", &info),
			   EACCES, MSG_NO_READ);
	id = (uint32_t)strtoul(getenv("REGIONFS_ID"), NULL, 10);
	PCA_EXPECT_REFUSED(t, pca_region_get(t->c, id, &info), EACCES,
			   MSG_NO_READ);
	PCA_EXPECT_REFUSED(t, pca_zero(t->c, id, 0, PAGE, 0, NULL), EACCES,
			   MSG_NO_WRITE);
	PCA_EXPECT_REFUSED(t, pca_attach(t->c, id, PCA_POLICY_FAIL, NULL),
			   EACCES, MSG_NO_WRITE);
	/* a dump lists only what the caller may read */
	{
		struct pca_region_info *v = NULL;
		size_t n = 0, i;

		PCA_ASSERT_OK(t, pca_region_list(t->c, &v, &n));
		for (i = 0; i < n; i++)
			PCA_EXPECT(t, v[i].id != id, "region %u listed", id);
		free(v);
	}
}

static void other_reads(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	uint32_t id;

	become_other_admin(t);
	PCA_ASSERT_OK(t, pca_client_open(&t->c));
	id = (uint32_t)strtoul(getenv("REGIONFS_ID"), NULL, 10);
	PCA_EXPECT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_REFUSED(t, pca_wake(t->c, id, 0, PAGE), EACCES,
			   MSG_NO_WRITE);
}

static void other_writes(struct pca_test_ctx *t)
{
	uint32_t id;

	become_other_admin(t);
	PCA_ASSERT_OK(t, pca_client_open(&t->c));
	PCA_ASSERT_OK(t, pca_region_resolve(t->c, MNT "/r", &id));
	PCA_EXPECT_OK(t, pca_zero(t->c, id, 0, PAGE, 0, NULL));
}

/* Run @fn in a child (it drops its own privileges). */
static void run_child(struct pca_test_ctx *t, void (*fn)(struct pca_test_ctx *))
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		PCA_FATAL(t, "fork: %s", strerror(errno));
	if (!pid) {
		struct pca_test_ctx ct = pca_part_ctx(t);

		fn(&ct);
		pca_client_close(ct.c);
		pca_part_exit(&ct);
	}
	pca_wait_part(t, pid, "child part");
}

static void test_permissions(struct pca_test_ctx *t)
{
	char idtext[16];
	uint32_t id;
	int fd;

	fs_mount(t, "missing,mode=0755");
	fd = fs_region(t, "r", 4 * PAGE, &id);
	snprintf(idtext, sizeof(idtext), "%u", id);
	setenv("REGIONFS_ID", idtext, 1);

	/* root's file, 0600: another user with CAP_SYS_ADMIN is refused */
	run_child(t, other_refused);
	/* 0644: it may read (REGION_GET), not write (WAKE) */
	PCA_ASSERT(t, !fchmod(fd, 0644), "chmod: %s", strerror(errno));
	run_child(t, other_reads);
	/* its own: it may place pages */
	PCA_ASSERT(t, !fchown(fd, OTHER_UID, OTHER_UID), "chown: %s",
		   strerror(errno));
	run_child(t, other_writes);

	close(fd);
	unlink(MNT "/r");
	fs_umount(t);
}

static void test_unlink_frees(struct pca_test_ctx *t)
{
	size_t before = nr_regions(t), size = 1024 * PAGE;
	struct pca_region_info info;
	long u0, u1, u2;
	uint32_t id;
	uint8_t *p;
	int fd;

	fs_mount(t, NULL);
	u0 = pca_meminfo("Unevictable");
	fd = fs_region(t, "big", size, &id);
	p = region_map(t, fd, size);
	memset(p, 0x42, size);
	u1 = pca_meminfo("Unevictable");
	pca_t_diag(t, "Unevictable %ld kB, %ld kB with 4 MiB placed", u0, u1);
	PCA_EXPECT(t, u1 - u0 >= 3 * 1024, "placed pages not counted");

	/* unlinked while open and mapped: it stays until both go */
	PCA_ASSERT(t, !unlink(MNT "/big"), "unlink: %s", strerror(errno));
	PCA_EXPECT_OK(t, pca_region_get(t->c, id, &info));
	close(fd);
	PCA_EXPECT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, p[size - 1], 0x42);
	munmap(p, size);
	PCA_EXPECT_ERR(t, pca_region_get(t->c, id, &info), ENOENT);
	PCA_EXPECT_EQ(t, nr_regions(t), before);
	u2 = pca_meminfo("Unevictable");
	pca_t_diag(t, "Unevictable %ld kB after unlink, close, munmap", u2);
	PCA_EXPECT(t, u1 - u2 >= 3 * 1024, "pages not freed: %ld kB", u2);
	fs_umount(t);
}

static void test_umount_busy(struct pca_test_ctx *t)
{
	size_t before = nr_regions(t);
	long r0 = refcnt(), r1;
	uint32_t id;
	uint8_t *p;
	int fd;

	fs_mount(t, NULL);
	r1 = refcnt();
	pca_t_diag(t, "module refcnt %ld, %ld mounted", r0, r1);
	PCA_EXPECT(t, r1 > r0, "a mount does not hold the module");

	fd = fs_region(t, "a", 4 * PAGE, &id);
	p = region_map(t, fd, 4 * PAGE);
	p[0] = 1;
	PCA_EXPECT(t, umount(MNT) && errno == EBUSY, "umount with a file open: %s",
		   strerror(errno));
	close(fd);
	PCA_EXPECT(t, umount(MNT) && errno == EBUSY, "umount with a mapping: %s",
		   strerror(errno));
	munmap(p, 4 * PAGE);
	/* another file, named, never unlinked: unmounting ends it */
	fd = fs_region(t, "b", 4 * PAGE, &id);
	close(fd);
	PCA_EXPECT_EQ(t, nr_regions(t), before + 2);
	fs_umount(t);
	PCA_EXPECT_EQ(t, nr_regions(t), before);
	PCA_EXPECT_EQ(t, refcnt(), r0);

	/* a lazy unmount with a mapping: the region lives on with it */
	fs_mount(t, NULL);
	fd = fs_region(t, "c", 4 * PAGE, &id);
	p = region_map(t, fd, 4 * PAGE);
	close(fd);
	PCA_ASSERT(t, !umount2(MNT, MNT_DETACH), "umount -l: %s",
		   strerror(errno));
	p[PAGE] = 7;
	PCA_EXPECT_EQ(t, nr_regions(t), before + 1);
	munmap(p, 4 * PAGE);
	PCA_EXPECT_EQ(t, nr_regions(t), before);
	PCA_EXPECT_EQ(t, refcnt(), r0);
}

static void test_punch_hole(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	uint32_t id;
	uint8_t *p;
	int fd;

	fs_mount(t, NULL);
	fd = fs_region(t, "h", 8 * PAGE, &id);
	p = region_map(t, fd, 8 * PAGE);
	memset(p, 0x77, 8 * PAGE);
	PCA_ASSERT(t, !fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 2 * PAGE, 3 * PAGE), "punch: %s",
		   strerror(errno));
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, 5);
	PCA_EXPECT_EQ(t, p[3 * PAGE], 0);	/* zero on the next touch */
	PCA_EXPECT_EQ(t, p[5 * PAGE], 0x77);
	PCA_EXPECT(t, fallocate(fd, 0, 0, PAGE) && errno == EOPNOTSUPP,
		   "fallocate(0): %s", strerror(errno));
	PCA_EXPECT(t, fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				100, PAGE) && errno == EINVAL,
		   "unaligned punch: %s", strerror(errno));
	munmap(p, 8 * PAGE);
	close(fd);
	unlink(MNT "/h");
	fs_umount(t);
}

/*
 * Unlinked while a fault waits: the mapping holds the region, the agent
 * still serves it by id; once the agent goes, the waiter gets SIGBUS.
 */
static void test_unlink_while_faulting(struct pca_test_ctx *t)
{
	struct pca_client *agent;
	uint8_t data[PAGE];
	uint32_t id;
	uint8_t *p;
	pid_t pid;
	int fd, status;

	fs_mount(t, "missing");
	fd = fs_region(t, "u", 4 * PAGE, &id);
	p = region_map(t, fd, 4 * PAGE);
	close(fd);
	PCA_ASSERT_OK(t, pca_client_open(&agent));
	PCA_ASSERT_OK(t, pca_attach(agent, id, PCA_POLICY_FAIL, NULL));

	pid = touch_start(t, p + PAGE);
	one_fault(t, agent);
	PCA_ASSERT(t, !unlink(MNT "/u"), "unlink: %s", strerror(errno));
	memset(data, 0x3d, sizeof(data));
	PCA_EXPECT_OK(t, pca_copy(agent, id, PAGE, data, 0, NULL));
	status = pca_waitpid_ms(pid, WAIT_MS);
	PCA_EXPECT(t, status == 0, "served waiter: status %#x", status);

	pid = touch_start(t, p + 2 * PAGE);
	one_fault(t, agent);
	pca_client_close(agent);	/* no agent: FAIL policy */
	status = pca_waitpid_ms(pid, WAIT_MS);
	PCA_EXPECT(t, status >= 0 && WIFSIGNALED(status) &&
		   WTERMSIG(status) == SIGBUS, "waiter: status %#x", status);
	munmap(p, 4 * PAGE);
	fs_umount(t);
}

static void test_huge(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	struct stat st;
	uint32_t id;
	uint8_t *p;
	int fd;

	if (!(t->api.features & PCA_FEATURE_HUGE))
		PCA_SKIP(t, "no huge regions on this kernel");
	fs_mount(t, "huge");
	fd = open(MNT "/bad", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	PCA_ASSERT(t, fd >= 0, "open: %s", strerror(errno));
	PCA_EXPECT(t, ftruncate(fd, HUGE + PAGE) && errno == EINVAL,
		   "ftruncate to no multiple of 2 MiB: %s", strerror(errno));
	close(fd);
	unlink(MNT "/bad");

	fd = fs_region(t, "h", 2 * HUGE, &id);
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.unit, HUGE);
	PCA_EXPECT(t, info.flags & PCA_REGION_HUGE, "flags %#llx",
		   (unsigned long long)info.flags);
	PCA_ASSERT(t, !fstat(fd, &st), "fstat: %s", strerror(errno));
	PCA_EXPECT_EQ(t, st.st_blksize, HUGE);
	p = region_map(t, fd, 2 * HUGE);
	p[HUGE + 5] = 1;
	PCA_ASSERT_OK(t, pca_region_get(t->c, id, &info));
	PCA_EXPECT_EQ(t, info.pages_present, HUGE / PAGE);
	munmap(p, 2 * HUGE);
	close(fd);
	unlink(MNT "/h");
	fs_umount(t);
}

static void netns_part(struct pca_test_ctx *t)
{
	struct pca_region_info info;
	uint32_t id;

	if (unshare(CLONE_NEWNET))
		PCA_FATAL(t, "unshare: %s", strerror(errno));
	PCA_ASSERT_OK(t, pca_client_open(&t->c));
	id = (uint32_t)strtoul(getenv("REGIONFS_ID"), NULL, 10);
	PCA_EXPECT_ERR(t, pca_region_get(t->c, id, &info), ENOENT);
	PCA_EXPECT_EXTACK(t, pca_region_get_path(t->c, MNT "/n", &info),
			  ENOENT);
}

/* The region belongs to the namespace the filesystem was mounted in. */
static void test_netns(struct pca_test_ctx *t)
{
	char idtext[16];
	uint32_t id;
	int fd;

	fs_mount(t, NULL);
	fd = fs_region(t, "n", 4 * PAGE, &id);
	snprintf(idtext, sizeof(idtext), "%u", id);
	setenv("REGIONFS_ID", idtext, 1);
	run_child(t, netns_part);
	close(fd);
	unlink(MNT "/n");
	fs_umount(t);
}

/* A path that is no region: clear refusals. */
static void test_not_a_region(struct pca_test_ctx *t)
{
	struct pca_region_info info;

	PCA_EXPECT_EXTACK(t, pca_region_get_path(t->c, "/proc/self/status",
						 &info), EINVAL);
	PCA_EXPECT_EXTACK(t, pca_region_get_path(t->c, MNT "/nothing-here",
						 &info), ENOENT);
}

/*
 * PCA_IOC_REGION_OPEN by id (what the relay's agent daemon does) opens
 * the file again while a file of it is open or mapped.
 */
static void test_region_open(struct pca_test_ctx *t)
{
	uint64_t size = 0;
	uint32_t id;
	uint8_t *p, *q;
	int fd, fd2;

	fs_mount(t, NULL);
	fd = fs_region(t, "o", 4 * PAGE, &id);
	p = region_map(t, fd, 4 * PAGE);
	close(fd);		/* the mapping holds the file */
	p[PAGE] = 0x61;
	fd2 = PCA_ASSERT_OK(t, pca_region_open(id, &size));
	PCA_EXPECT_EQ(t, size, 4 * PAGE);
	q = region_map(t, fd2, 4 * PAGE);
	PCA_EXPECT_EQ(t, q[PAGE], 0x61);
	q[2 * PAGE] = 0x62;
	PCA_EXPECT_EQ(t, p[2 * PAGE], 0x62);
	munmap(q, 4 * PAGE);
	close(fd2);
	munmap(p, 4 * PAGE);
	/* named, but no file open: nothing to open it from */
	PCA_EXPECT_ERR(t, pca_region_open(id, &size), ENOENT);
	unlink(MNT "/o");
	fs_umount(t);
}

PCA_TEST_F(mount_options, test_mount_options, 0)
PCA_TEST_F(bad_options, test_bad_options, 0)
PCA_TEST_F(create_map, test_create_map, 0)
PCA_TEST_F(missing_fault_by_path, test_missing_fault_by_path,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(set_flags, test_set_flags, PCA_FEATURE_MISSING)
PCA_TEST_F(mkstemp_pattern, test_mkstemp_pattern, 0)
PCA_TEST_F(permissions, test_permissions, PCA_FEATURE_MISSING)
PCA_TEST_F(unlink_frees, test_unlink_frees, 0)
PCA_TEST_F(umount_busy, test_umount_busy, 0)
PCA_TEST_F(punch_hole, test_punch_hole, PCA_FEATURE_DISCARD)
PCA_TEST_F(unlink_while_faulting, test_unlink_while_faulting,
	 PCA_FEATURE_MISSING)
PCA_TEST_F(huge, test_huge, 0)
PCA_TEST_F(netns, test_netns, 0)
PCA_TEST_F(not_a_region, test_not_a_region, 0)
PCA_TEST_F(region_open, test_region_open, PCA_FEATURE_REGION_OPEN)

TEST_HARNESS_MAIN
