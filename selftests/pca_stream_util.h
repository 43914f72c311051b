/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Stream sockets for the tests and benchmarks that receive pages from a
 * socket (PCA_IOC_RECV): a connected loopback pair, plain or with kernel
 * TLS keyed by hand, and a thread that writes a buffer into one end.
 */
#ifndef PCA_STREAM_UTIL_H
#define PCA_STREAM_UTIL_H

#include <arpa/inet.h>
#include <errno.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* pca_stream_pair()'s stage when the kernel has no TLS to attach. */
static const char pca_stream_why_ulp[] = "kernel TLS (TCP_ULP tls)";

/*
 * A connected loopback TCP pair, fds[0] receiving and fds[1] sending,
 * with kernel TLS on both ends if @ktls: the sender's TX and the
 * receiver's RX state get the same fixed key (no handshake: these measure
 * and test the kernel's record path, not authentication), so records
 * written on one end decrypt on the other.  0, or -errno with *@why
 * naming the step that failed (pca_stream_why_ulp: no kernel TLS).
 */
static inline int pca_stream_pair(int fds[2], bool ktls, const char **why)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {
		.info.version = TLS_1_2_VERSION,
		.info.cipher_type = TLS_CIPHER_AES_GCM_128,
	};
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, i, ret;

	fds[0] = fds[1] = -1;
	*why = "loopback TCP";
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(l, 1) || getsockname(l, (struct sockaddr *)&a, &alen))
		goto err;
	fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&a, sizeof(a)))
		goto err;
	fds[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (fds[0] < 0)
		goto err;
	close(l);
	l = -1;
	if (!ktls)
		return 0;
	memset(ci.key, 0x5a, sizeof(ci.key));
	memset(ci.iv, 0x3c, sizeof(ci.iv));
	memset(ci.salt, 0x11, sizeof(ci.salt));
	*why = pca_stream_why_ulp;
	for (i = 0; i < 2; i++)
		if (setsockopt(fds[i], IPPROTO_TCP, TCP_ULP, "tls",
			       sizeof("tls")))
			goto err;
	*why = "kernel TLS keys";
	if (setsockopt(fds[1], SOL_TLS, TLS_TX, &ci, sizeof(ci)) ||
	    setsockopt(fds[0], SOL_TLS, TLS_RX, &ci, sizeof(ci)))
		goto err;
	return 0;
err:
	ret = -errno;
	if (l >= 0)
		close(l);
	for (i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	return ret;
}

/* A thread writing @len bytes of @buf to @fd, then ending the stream if @eof. */
struct pca_stream_sender {
	pthread_t th;
	int fd;
	const void *buf;
	size_t len;
	bool eof;
	int err;	/* errno of a failed send() */
};

static void *pca_stream_send_fn(void *arg)
{
	struct pca_stream_sender *s = arg;
	size_t done = 0;

	while (done < s->len) {
		ssize_t n = send(s->fd, (const char *)s->buf + done,
				 s->len - done, MSG_NOSIGNAL);

		if (n < 0) {
			s->err = errno;
			break;
		}
		done += n;
	}
	if (s->eof)
		shutdown(s->fd, SHUT_WR);
	return NULL;
}

/* 0, or the error of pthread_create(). */
static inline int pca_stream_send_start(struct pca_stream_sender *s, int fd,
					const void *buf, size_t len, bool eof)
{
	s->fd = fd;
	s->buf = buf;
	s->len = len;
	s->eof = eof;
	s->err = 0;
	return pthread_create(&s->th, NULL, pca_stream_send_fn, s);
}

/* Waits for the sender: 0, or the errno its send() failed with. */
static inline int pca_stream_send_join(struct pca_stream_sender *s)
{
	pthread_join(s->th, NULL);
	return s->err;
}

#endif /* PCA_STREAM_UTIL_H */
