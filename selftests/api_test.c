// SPDX-License-Identifier: GPL-2.0
/*
 * api_test: the API handshake, the generic netlink family, the device and
 * the module life cycle.
 *
 * Runs as root inside the test guest; the unprivileged cases drop to
 * nobody themselves.  module_reload needs PCA_MODULE (path of the .ko,
 * set by the guest's init) and must stay last: it unloads the module.
 */
#include "pca_harness.h"

#include <linux/genetlink.h>
#include <sys/ioctl.h>

#define NOBODY		65534

/* ioctl() as 0 / -errno, for PCA_EXPECT_ERR() */
static long ioctl_err(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

/* -------------------------------------------------------------------------
 * Family and handshake
 */

static void test_family_resolves(struct pca_test_ctx *t)
{
	struct pca_client *c;

	if (pca_client_open(&c))
		PCA_FATAL(t, "pca_client_open: %s", pca_strerror(NULL));
	/* dynamic genl ids start above GENL_MIN_ID */
	PCA_EXPECT(t, pca_client_family(c) >= GENL_MIN_ID, "family id %d",
		   pca_client_family(c));
	PCA_EXPECT(t, pca_client_fd(c) >= 0, "fd %d", pca_client_fd(c));
	pca_client_close(c);
}

static void test_handshake(struct pca_test_ctx *t)
{
	struct pca_api_info info = { 0 }, again = { 0 };

	PCA_ASSERT_OK(t, pca_api(t->c, PCA_API_VERSION, 0, &info));
	PCA_EXPECT_EQ(t, info.version, PCA_API_VERSION);
	PCA_EXPECT(t, info.commands & (1ULL << PCA_CMD_API),
		   "commands %#llx", (unsigned long long)info.commands);
	/* Command 0 is unused; events are never requests. */
	PCA_EXPECT(t, !(info.commands & (1ULL << 0 | 1ULL << PCA_CMD_FAULT |
					 1ULL << PCA_CMD_MIGRATE_REQUEST |
					 1ULL << PCA_CMD_MIGRATE_EVENT)),
		   "commands %#llx", (unsigned long long)info.commands);
	pca_t_diag(t, "features %#llx commands %#llx",
		   (unsigned long long)info.features,
		   (unsigned long long)info.commands);

	/* asking for exactly what is supported must work too */
	PCA_ASSERT_OK(t, pca_api(t->c, PCA_API_VERSION, info.features,
				 &again));
	PCA_EXPECT_EQ(t, again.features, info.features);
	PCA_EXPECT_EQ(t, again.commands, info.commands);
}

static void test_handshake_twice(struct pca_test_ctx *t)
{
	struct pca_api_info a = { 0 }, b = { 0 };

	/* the handshake is stateless: a socket may repeat it */
	PCA_ASSERT_OK(t, pca_api(t->c, PCA_API_VERSION, 0, &a));
	PCA_ASSERT_OK(t, pca_api(t->c, PCA_API_VERSION, 0, &b));
	PCA_EXPECT_EQ(t, a.version, b.version);
	PCA_EXPECT_EQ(t, a.features, b.features);
	PCA_EXPECT_EQ(t, a.commands, b.commands);
}

static void test_bad_version(struct pca_test_ctx *t)
{
	PCA_EXPECT_EXTACK(t, pca_api(t->c, 0, 0, NULL), EINVAL);
	PCA_EXPECT_EXTACK(t, pca_api(t->c, PCA_API_VERSION + 1, 0, NULL),
			  EINVAL);
	PCA_EXPECT_EXTACK(t, pca_api(t->c, UINT32_MAX, 0, NULL), EINVAL);
	/* and the socket is still fine afterwards */
	PCA_EXPECT_OK(t, pca_api(t->c, PCA_API_VERSION, 0, NULL));
}

static void test_unknown_features(struct pca_test_ctx *t)
{
	PCA_EXPECT_EXTACK(t, pca_api(t->c, PCA_API_VERSION, 1ULL << 63, NULL),
			  EINVAL);
	/* a supported bit does not excuse an unknown one */
	PCA_EXPECT_EXTACK(t, pca_api(t->c, PCA_API_VERSION,
				     PCA_FEATURE_MISSING | 1ULL << 63, NULL),
			  EINVAL);
}

/* Send a handshake crafted by @build; returns pca_request()'s result. */
static int crafted_api(struct pca_test_ctx *t,
		       int (*build)(struct nl_msg *msg))
{
	struct nl_msg *msg = pca_msg_new(t->c, PCA_CMD_API, 0);

	if (!msg)
		PCA_FATAL(t, "pca_msg_new failed");
	if (build(msg)) {
		nlmsg_free(msg);
		PCA_FATAL(t, "building the message failed");
	}
	return pca_request(t->c, msg, NULL, NULL);
}

static int build_no_version(struct nl_msg *msg)
{
	return nla_put_u64(msg, PCA_A_FEATURES, 0);
}

static int build_empty(struct nl_msg *msg)
{
	(void)msg;
	return 0;
}

static void test_missing_version(struct pca_test_ctx *t)
{
	PCA_EXPECT_EXTACK(t, crafted_api(t, build_no_version), EINVAL);
	PCA_EXPECT_EXTACK(t, crafted_api(t, build_empty), EINVAL);
}

static int build_long_version(struct nl_msg *msg)
{
	return nla_put_u64(msg, PCA_A_API_VERSION, PCA_API_VERSION);
}

static int build_long_features(struct nl_msg *msg)
{
	uint64_t v[2] = { 0, 0 };

	return nla_put_u32(msg, PCA_A_API_VERSION, PCA_API_VERSION) ||
	       nla_put(msg, PCA_A_FEATURES, sizeof(v), v);
}

static int build_short_features(struct nl_msg *msg)
{
	return nla_put_u32(msg, PCA_A_API_VERSION, PCA_API_VERSION) ||
	       nla_put_u32(msg, PCA_A_FEATURES, 0);
}

static void test_oversized_attrs(struct pca_test_ctx *t)
{
	/* strict validation: a u32 is 4 bytes, a u64 8, nothing else */
	PCA_EXPECT_ERR2(t, crafted_api(t, build_long_version), EINVAL,
			ERANGE);
	PCA_EXPECT_ERR2(t, crafted_api(t, build_long_features), EINVAL,
			ERANGE);
	PCA_EXPECT_ERR2(t, crafted_api(t, build_short_features), EINVAL,
			ERANGE);
}

static int build_unknown_attr(struct nl_msg *msg)
{
	return nla_put_u32(msg, PCA_A_API_VERSION, PCA_API_VERSION) ||
	       nla_put_u32(msg, PCA_A_MAX + 5, 0);
}

static void test_unknown_attr(struct pca_test_ctx *t)
{
	long ret = crafted_api(t, build_unknown_attr);

	PCA_EXPECT(t, ret < 0, "an attribute type above PCA_A_MAX was accepted");
	if (ret < 0)
		pca_t_diag(t, "refused: %s", pca_strerror(t->c));
}

/* An attribute another command takes: each command has its own policy. */
static int build_foreign_attr(struct nl_msg *msg)
{
	return nla_put_u32(msg, PCA_A_API_VERSION, PCA_API_VERSION) ||
	       nla_put_u32(msg, PCA_A_REGION_ID, 1);
}

static void test_per_command_policy(struct pca_test_ctx *t)
{
	struct nl_msg *msg;

	PCA_EXPECT_ERR(t, crafted_api(t, build_foreign_attr), EINVAL);
	pca_t_diag(t, "api with region-id: %s", pca_strerror(t->c));
	/* DETACH takes only the region; a dirty-log attribute is refused
	 * before the region is even looked up.
	 */
	msg = pca_msg_new(t->c, PCA_CMD_DETACH, 0);
	PCA_ASSERT(t, msg, "pca_msg_new");
	nla_put_u32(msg, PCA_A_REGION_ID, 0x7ffffff0);
	nla_put_u32(msg, PCA_A_DIRTY_ENABLE, 1);
	PCA_EXPECT_ERR(t, pca_request(t->c, msg, NULL, NULL), EINVAL);
}

/* Events go from the kernel only: sent as requests, no command has them. */
static void test_events_not_requests(struct pca_test_ctx *t)
{
	static const uint8_t events[] = {
		PCA_CMD_FAULT, PCA_CMD_MIGRATE_REQUEST, PCA_CMD_MIGRATE_EVENT,
	};
	unsigned int i;

	for (i = 0; i < sizeof(events); i++) {
		struct nl_msg *msg = pca_msg_new(t->c, events[i], 0);

		PCA_ASSERT(t, msg, "pca_msg_new");
		nla_put_u32(msg, PCA_A_REGION_ID, 1);
		PCA_EXPECT_ERR(t, pca_request(t->c, msg, NULL, NULL),
			       EOPNOTSUPP);
	}
}

/* -------------------------------------------------------------------------
 * Privileges
 */

/* The device, as a node nobody may open by its permissions. */
#define NOBODY_DEV	"/tmp/api_test-dev"

/* open() as 0 / -errno */
static long open_err(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void unprivileged_part(struct pca_test_ctx *t)
{
	struct pca_region_info *v = NULL;
	size_t n = 0;

	/* resolving a family needs no privilege; using this one does */
	if (!t->c)
		PCA_FATAL(t, "pca_client_open as nobody: %s",
			  pca_strerror(NULL));
	PCA_EXPECT_REFUSED(t, pca_api(t->c, PCA_API_VERSION, 0, NULL), EPERM,
			   PCA_MSG_NEED_ADMIN);
	PCA_EXPECT_REFUSED(t, pca_region_list(t->c, &v, &n), EPERM,
			   PCA_MSG_NEED_ADMIN);
	free(v);

	/* The node is root's, mode 0600: the file permissions refuse. */
	PCA_EXPECT_ERR(t, open_err(PCA_DEVICE_PATH), EACCES);
	/* Past them, the module refuses: no CAP_SYS_ADMIN in the netns. */
	PCA_EXPECT_ERR(t, open_err(NOBODY_DEV), EPERM);
}

static void test_unprivileged_refused(struct pca_test_ctx *t)
{
	PCA_ASSERT_OK(t, pca_dev_node_for(NOBODY_DEV, NOBODY, NOBODY));
	pca_run_as(t, NOBODY, NOBODY, unprivileged_part);
	unlink(NOBODY_DEV);
}

/* -------------------------------------------------------------------------
 * Device
 */

static void test_device(struct pca_test_ctx *t)
{
	struct pca_range range = { 0 };
	struct pca_api a = { 0 };
	uint32_t small = 0;
	int fd;

	fd = PCA_ASSERT_OK(t, pca_dev_open());
	PCA_EXPECT_OK(t, pca_dev_api(fd, PCA_API_VERSION, 0, &a));
	PCA_EXPECT(t, a.ioctls & (1ULL << _IOC_NR(PCA_IOC_API)),
		   "ioctls %#llx", (unsigned long long)a.ioctls);
	PCA_EXPECT(t, a.ioctls & (1ULL << _IOC_NR(PCA_IOC_REGION_CREATE)),
		   "ioctls %#llx", (unsigned long long)a.ioctls);
	/* one module, one feature set, whichever way it is asked */
	PCA_EXPECT_EQ(t, a.features, t->api.features);
	pca_t_diag(t, "features %#llx ioctls %#llx",
		   (unsigned long long)a.features,
		   (unsigned long long)a.ioctls);

	PCA_EXPECT_ERR(t, pca_dev_api(fd, 0, 0, NULL), EINVAL);
	PCA_EXPECT_ERR(t, pca_dev_api(fd, PCA_API_VERSION + 1, 0, NULL),
		       EINVAL);
	PCA_EXPECT_ERR(t, pca_dev_api(fd, PCA_API_VERSION, 1ULL << 63, NULL),
		       EINVAL);

	/* unknown numbers and known numbers with the wrong size alike */
	PCA_EXPECT_ERR(t, ioctl_err(fd, _IO(PCA_IOC_MAGIC, 0x7f), NULL),
		       ENOTTY);
	PCA_EXPECT_ERR(t, ioctl_err(fd, _IOWR(PCA_IOC_MAGIC, 0x00, uint32_t),
				    &small), ENOTTY);
	/* region fd ioctls are not device ioctls */
	PCA_EXPECT_ERR(t, ioctl_err(fd, PCA_IOC_WAKE, &range), ENOTTY);

	/* the device stays usable after refusals */
	PCA_EXPECT_OK(t, pca_dev_api(fd, PCA_API_VERSION, 0, NULL));
	close(fd);
}

/* -------------------------------------------------------------------------
 * Flags: every bit of every flags field
 */

#define REGION_PAGES	4
#define PAGE_BYTES	4096ULL

/* ioctl() on a struct pca_range with @flags: 0 / -errno */
static long range_ioctl(int fd, unsigned long req, uint64_t flags)
{
	struct pca_range range = {
		.offset = 0, .len = PAGE_BYTES, .flags = flags,
	};

	return ioctl_err(fd, req, &range);
}

/*
 * Each bit 0..63 that a field does not define is refused with EINVAL,
 * before anything is done: the flags are __u64 and all 64 bits count.
 */
static void test_flags_every_bit(struct pca_test_ctx *t)
{
	static uint8_t page[PAGE_BYTES] __attribute__((aligned(4096)));
	struct pca_copy_entry ent = { .offset = 0 };
	struct pca_region_create rc;
	struct pca_region_open ro;
	struct pca_present_log pl;
	uint64_t bitmap[1], bit, known;
	int dev, fd, n;
	uint32_t id;

	ent.src = (uintptr_t)page;
	dev = PCA_ASSERT_OK(t, pca_dev_open());
	fd = PCA_ASSERT_OK(t, pca_region_create(REGION_PAGES * PAGE_BYTES, 0,
						&id));
	for (n = 0; n < 64; n++) {
		bit = 1ULL << n;
		known = PCA_REGION_MISSING | PCA_REGION_USER_ONLY;
		if (!(bit & known)) {
			rc = (struct pca_region_create){
				.size = PAGE_BYTES, .flags = bit,
			};
			PCA_EXPECT_ERR(t, ioctl_err(dev, PCA_IOC_REGION_CREATE,
						    &rc), EINVAL);
		}
		ro = (struct pca_region_open){ .region_id = id, .flags = bit };
		PCA_EXPECT_ERR(t, ioctl_err(dev, PCA_IOC_REGION_OPEN, &ro),
			       EINVAL);
		/* OVERWRITE is COPY's, not ZERO's */
		known = PCA_RESOLVE_DONTWAKE | PCA_RESOLVE_OVERWRITE;
		if (!(bit & known)) {
			PCA_EXPECT_ERR(t, pca_fd_copy(fd, 0, page, PAGE_BYTES,
						      bit, NULL), EINVAL);
			PCA_EXPECT_ERR(t, pca_fd_copy_batch(fd, &ent, 1, bit,
							    NULL, NULL),
				       EINVAL);
		}
		if (!(bit & PCA_RESOLVE_DONTWAKE))
			PCA_EXPECT_ERR(t, pca_fd_zero(fd, 0, PAGE_BYTES, bit,
						      NULL), EINVAL);
		if (!(bit & PCA_DISCARD_SEAL))
			PCA_EXPECT_ERR(t, pca_fd_discard_bitmap(fd, 0,
								PAGE_BYTES,
								bitmap,
								sizeof(bitmap),
								bit, NULL),
				       EINVAL);
		pl = (struct pca_present_log){
			.len = PAGE_BYTES, .bitmap = (uintptr_t)bitmap,
			.bitmap_size = sizeof(bitmap), .flags = bit,
		};
		PCA_EXPECT_ERR(t, ioctl_err(fd, PCA_IOC_PRESENT_LOG, &pl),
			       EINVAL);
		/* no flags at all here, DONTWAKE included */
		PCA_EXPECT_ERR(t, range_ioctl(fd, PCA_IOC_WAKE, bit), EINVAL);
		PCA_EXPECT_ERR(t, range_ioctl(fd, PCA_IOC_DISCARD, bit),
			       EINVAL);
		PCA_EXPECT_ERR(t, range_ioctl(fd, PCA_IOC_DIRTY_CLEAR, bit),
			       EINVAL);
		known = PCA_DIRTY_CLEAR | PCA_DIRTY_COUNT_ONLY;
		if (!(bit & known))
			PCA_EXPECT_ERR(t, pca_fd_dirty_log(fd, 0, PAGE_BYTES,
							   bit, bitmap,
							   sizeof(bitmap),
							   NULL), EINVAL);
		if (!(bit & t->api.features))
			PCA_EXPECT_ERR(t, pca_dev_api(fd, PCA_API_VERSION, bit,
						      NULL), EINVAL);
		/* netlink carries these in u32 attributes: bits 0..31 */
		if (n < 32 && !(bit & PCA_RESOLVE_DONTWAKE))
			PCA_EXPECT_EXTACK(t, pca_zero(t->c, id, 0, PAGE_BYTES,
						      (uint32_t)bit, NULL),
					  EINVAL);
		if (n < 32 && !(bit & known))
			PCA_EXPECT_EXTACK(t, pca_dirty_get(t->c, id, 0,
							   PAGE_BYTES,
							   (uint32_t)bit,
							   bitmap,
							   sizeof(bitmap),
							   NULL), EINVAL);
	}
	/* nothing refused above was done */
	PCA_EXPECT_ERR(t, pca_fd_dirty_log(fd, 0, PAGE_BYTES, 0, bitmap,
					   sizeof(bitmap), NULL), ENODATA);
	/* and what is defined still works */
	PCA_EXPECT_OK(t, pca_fd_zero(fd, 0, PAGE_BYTES, PCA_RESOLVE_DONTWAKE,
				     NULL));
	PCA_EXPECT_OK(t, range_ioctl(fd, PCA_IOC_WAKE, 0));
	PCA_EXPECT_OK(t, range_ioctl(fd, PCA_IOC_DISCARD, 0));
	close(fd);
	close(dev);
}

/*
 * The ioctl numbers: type 0xBA, which no other interface in the kernel's
 * ioctl-number.rst registers.  The type used before (0xCA, registered to
 * cxl) is not answered.
 */
static void test_ioctl_numbers(struct pca_test_ctx *t)
{
	struct pca_api a = { .api = PCA_API_VERSION };
	int dev;

	PCA_EXPECT_EQ(t, PCA_IOC_MAGIC, 0xBA);
	PCA_EXPECT_EQ(t, _IOC_TYPE(PCA_IOC_API), 0xBA);
	PCA_EXPECT_EQ(t, _IOC_TYPE(PCA_IOC_REGION_OPEN), 0xBA);
	PCA_EXPECT(t, _IOC_NR(PCA_IOC_REGION_OPEN) < 0x20,
		   "ioctl nr %#x beyond the registered range",
		   (unsigned int)_IOC_NR(PCA_IOC_REGION_OPEN));
	dev = PCA_ASSERT_OK(t, pca_dev_open());
	PCA_EXPECT_OK(t, ioctl_err(dev, PCA_IOC_API, &a));
	PCA_EXPECT_ERR(t, ioctl_err(dev, _IOWR(0xCA, 0x00, struct pca_api),
				    &a), ENOTTY);
	close(dev);
}

/* -------------------------------------------------------------------------
 * Module life cycle
 */

/* busybox in the guest; the plain tool where there is no busybox */
static int modtool(struct pca_test_ctx *t, char *tool, char *arg)
{
	char *bb[] = { "busybox", tool, arg, NULL };
	char *plain[] = { tool, arg, NULL };
	int ret;

	pca_t_diag(t, "running %s %s", tool, arg);
	ret = pca_run_cmd(bb);
	if (ret == -ENOENT)
		ret = pca_run_cmd(plain);
	return ret;
}

static void test_module_reload(struct pca_test_ctx *t)
{
	char *module = getenv("PCA_MODULE");
	struct pca_client *c;
	int ret, fd;

	if (!module || !*module)
		PCA_SKIP(t, "PCA_MODULE not set");

	ret = modtool(t, "rmmod", POSTCOPY_ASSIST_GENL_NAME);
	PCA_ASSERT(t, ret == 0, "rmmod of the idle module: %d", ret);

	/* gone: no family and no device */
	ret = pca_client_open(&c);
	PCA_EXPECT_EQ(t, ret, -ENOENT);
	if (!ret)
		pca_client_close(c);
	fd = pca_dev_open();
	PCA_EXPECT(t, fd < 0, "%s still opens after rmmod", PCA_DEVICE_PATH);
	if (fd >= 0)
		close(fd);

	ret = modtool(t, "insmod", module);
	PCA_ASSERT(t, ret == 0, "insmod %s: %d", module, ret);

	/* a fresh client: the family id may have changed */
	if (pca_client_open(&c))
		PCA_FATAL(t, "after reload: %s", pca_strerror(NULL));
	t->c = c;
	PCA_EXPECT_OK(t, pca_api(c, PCA_API_VERSION, 0, NULL));
	fd = PCA_EXPECT_OK(t, pca_dev_open());
	if (fd >= 0)
		close(fd);
}

PCA_TEST_F(family_resolves, test_family_resolves, 0,
	 .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(handshake, test_handshake, 0)
PCA_TEST_F(handshake_twice, test_handshake_twice, 0)
PCA_TEST_F(bad_version, test_bad_version, 0)
PCA_TEST_F(unknown_features, test_unknown_features, 0)
PCA_TEST_F(missing_version, test_missing_version, 0)
PCA_TEST_F(oversized_attrs, test_oversized_attrs, 0)
PCA_TEST_F(unknown_attr, test_unknown_attr, 0)
PCA_TEST_F(per_command_policy, test_per_command_policy, 0)
PCA_TEST_F(events_not_requests, test_events_not_requests, 0)
PCA_TEST_F(unprivileged_refused, test_unprivileged_refused, 0)
PCA_TEST_F(device, test_device, 0, .flags = PCA_TEST_NO_CLIENT)
PCA_TEST_F(flags_every_bit, test_flags_every_bit,
	 PCA_FEATURE_FD_RESOLVE | PCA_FEATURE_DIRTY_LOG)
PCA_TEST_F(ioctl_numbers, test_ioctl_numbers, 0,
	 .flags = PCA_TEST_NO_CLIENT)
/* last: it unloads the module */
PCA_TEST_F(module_reload, test_module_reload, 0, .timeout = 60,
	 .flags = PCA_TEST_NO_CLIENT)

TEST_HARNESS_MAIN
