// SPDX-License-Identifier: GPL-2.0
/*
 * postcopy_assist: kernel-assisted demand paging for live migration.
 */

#include <linux/module.h>
#include <net/genetlink.h>

#include "device.h"
#include "fault.h"
#include "limits.h"
#include "netlink.h"
#include "queue.h"
#include "region.h"
#include "regionfs.h"

/* The tracepoints' definitions: once, here (trace.h). */
#define CREATE_TRACE_POINTS
#include "trace.h"

static int __init pca_init(void)
{
	int ret;

	/* First in, last out: every object counted there is gone by then. */
	ret = pca_limits_init();
	if (ret)
		return ret;
	ret = pca_region_init();
	if (ret)
		goto err_limits;
	ret = pca_fault_init();
	if (ret)
		goto err_region;
	ret = pca_queue_init();
	if (ret)
		goto err_fault;
	ret = pca_netlink_init();
	if (ret)
		goto err_queue;
	ret = pca_device_init();
	if (ret)
		goto err_netlink;
	/* Last: a mount may make regions at once. */
	ret = pca_regionfs_init();
	if (ret)
		goto err_device;
	pr_info("API %d loaded\n", PCA_API_VERSION);
	return 0;

err_device:
	pca_device_exit();
err_netlink:
	pca_netlink_exit();
err_queue:
	pca_queue_exit();
err_fault:
	pca_fault_exit();
err_region:
	pca_region_exit();
err_limits:
	pca_limits_exit();
	return ret;
}

static void __exit pca_exit(void)
{
	/* Not mounted anywhere: each mount holds the module. */
	pca_regionfs_exit();
	pca_device_exit();
	pca_netlink_exit();
	/* Drains late resends, which may drop the last region reference. */
	pca_queue_exit();
	pca_fault_exit();
	pca_region_exit();
	pca_limits_exit();
}

module_init(pca_init);
module_exit(pca_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Kernel-assisted demand paging for live migration");
MODULE_AUTHOR("postcopy_assist developers");
MODULE_ALIAS_GENL_FAMILY(POSTCOPY_ASSIST_GENL_NAME);
