/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tls.h: mutual TLS 1.3 on every connection of a migration (tls.c).
 *
 * The destination connects and runs the client side, the source the
 * server side; both present credentials and check the peer's: X.509
 * certificates from a directory laid out as QEMU's tls-creds-x509
 * (ca-cert.pem, server-cert.pem, server-key.pem, client-cert.pem,
 * client-key.pem, optionally ca-crl.pem), or a pre-shared key file as
 * QEMU's tls-creds-psk ("identity:hexkey" lines).  Only TLS 1.3 is
 * spoken, with AES-GCM.  After its handshake the source sends one
 * application byte (MIG_TLS_ACK), so that a destination whose
 * certificate the source refused learns why before it speaks.
 *
 * An established connection is handed to kernel TLS (TCP_ULP "tls") and
 * the engine goes on with plain reads and writes on the same fd; where
 * kernel TLS is not available, a pair of threads moves the records
 * between the TCP socket and one end of a socket pair that the engine
 * gets instead (user-space TLS).  Internal to the engine.
 */
#ifndef PCA_TLS_H
#define PCA_TLS_H

#include <stddef.h>

#include "migrate.h"

#define MIG_TLS_ACK	0x06

struct mig_tls;
struct mig_tls_hs;

/*
 * Load @cfg's credentials for @role: 0, NULL in *@out when cfg->tls is
 * MIG_TLS_INSECURE, or -errno with @err saying what is wrong (no
 * credentials given at all included: -EINVAL).
 */
int mig_tls_open(const struct mig_config *cfg, enum mig_role role,
		 struct mig_tls **out, char *err, size_t err_len);
void mig_tls_close(struct mig_tls *t);
/* Connections handed to kernel TLS and to user-space TLS so far. */
void mig_tls_counts(const struct mig_tls *t, unsigned int *ktls,
		    unsigned int *user);

/*
 * Destination: TLS on a connected socket *@fd to @addr ("HOST:PORT"),
 * the handshake within @timeout_ms (<= 0: no limit), given up with
 * -ECANCELED as soon as *@abort is set (may be NULL).  0 with *@fd ready for
 * plain reads and writes (possibly another fd: the old one then belongs
 * to the TLS threads), or -errno with @err saying why; *@fd is left to
 * the caller to close either way on failure.
 */
int mig_tls_client(struct mig_tls *t, const char *addr, int *fd,
		   int timeout_ms, const int *abort, char *err,
		   size_t err_len);

/*
 * Source: a handshake on accepted socket @fd, driven step by step by
 * the caller's poll loop.  mig_tls_hs_start() makes @fd non-blocking;
 * mig_tls_hs_step() returns 0 once established (*@fd then ready as
 * above, blocking again), -EAGAIN to be called again when @fd is ready
 * for POLLIN, or POLLOUT when *@want_write, or -errno with @err saying
 * why.  mig_tls_hs_free() at the end, whatever the outcome; the fd is
 * never closed by these.
 */
int mig_tls_hs_start(struct mig_tls *t, int fd, struct mig_tls_hs **hs,
		     char *err, size_t err_len);
int mig_tls_hs_step(struct mig_tls_hs *hs, int *fd, int *want_write,
		    char *err, size_t err_len);
void mig_tls_hs_free(struct mig_tls_hs *hs);

/* Whether the first bytes @p a peer sent look like a TLS record. */
int mig_tls_looks_like_tls(const unsigned char *p);

#endif /* PCA_TLS_H */
