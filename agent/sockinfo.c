// SPDX-License-Identifier: GPL-2.0
/*
 * What the kernel's TCP_INFO says of a connection, for what glibc's
 * struct tcp_info lacks (its fields end before the rate sample's flags):
 * this file takes the kernel's own struct and nothing of netinet/tcp.h.
 */
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include "mig.h"

int mig_sock_push_limits(int fd, struct mig_push_limits *l)
{
	struct tcp_info ti = { 0 };
	socklen_t len = sizeof(ti);

	int ret = mig_tcp_getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len);

	if (ret)
		return ret;
	/* kernels before 4.10 know neither */
	if (len < offsetof(struct tcp_info, tcpi_rwnd_limited) +
		  sizeof(ti.tcpi_rwnd_limited))
		return -EOPNOTSUPP;
	l->app_limited = ti.tcpi_delivery_rate_app_limited;
	l->rwnd_limited_us = ti.tcpi_rwnd_limited;
	return 0;
}
