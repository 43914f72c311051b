// SPDX-License-Identifier: GPL-2.0
/*
 * tls.c: mutual TLS 1.3 for the migration's connections (see tls.h),
 * with GnuTLS; records handed to kernel TLS where it is available.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <linux/tls.h>

#include "mig.h"
#include "tls.h"

/* TLS 1.3 only, AES-GCM only (what kernel TLS takes), no resumption. */
#define PRIO_X509	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM"
#define PRIO_PSK	PRIO_X509 ":+ECDHE-PSK:+DHE-PSK:+PSK"

#define PSK_MAX_IDS	64

struct psk_entry {
	char id[128];
	char hexkey[256];
};

struct mig_tls {
	enum mig_tls_mode mode;
	enum mig_role role;
	const struct mig_hooks *hk;
	const char *peer;		/* name or identity the peer must have */
	int no_ktls;
	gnutls_certificate_credentials_t x509;
	gnutls_psk_client_credentials_t psk_client;
	gnutls_psk_server_credentials_t psk_server;
	struct psk_entry *psk;
	unsigned int npsk;
	const char *psk_id;		/* destination: the identity it presents */
	gnutls_priority_t prio;
	unsigned int ktls, user;	/* atomic */
	int warned;			/* atomic: fallback logged */
};

struct mig_tls_hs {
	struct mig_tls *t;
	gnutls_session_t s;
	int done;			/* handshake over, ack to send */
};

int mig_tls_looks_like_tls(const unsigned char *p)
{
	/* handshake (22) or alert (21), then major version 3 */
	return (p[0] == 22 || p[0] == 21) && p[1] == 3;
}

void mig_tls_counts(const struct mig_tls *t, unsigned int *ktls,
		    unsigned int *user)
{
	*ktls = t ? __atomic_load_n(&t->ktls, __ATOMIC_RELAXED) : 0;
	*user = t ? __atomic_load_n(&t->user, __ATOMIC_RELAXED) : 0;
}

/* ---- credentials ------------------------------------------------------- */

static int load_psk(struct mig_tls *t, const char *path, char *err,
		    size_t err_len)
{
	char line[512];
	unsigned int n = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		snprintf(err, err_len, "--tls-psk %s: %s", path,
			 strerror(errno));
		return -errno;
	}
	t->psk = calloc(PSK_MAX_IDS, sizeof(*t->psk));
	if (!t->psk) {
		fclose(f);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), f) && n < PSK_MAX_IDS) {
		char *colon = strchr(line, ':'), *key;
		size_t klen;

		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (!colon || colon == line) {
			snprintf(err, err_len,
				 "--tls-psk %s: line \"%.40s\" is not identity:hexkey",
				 path, line);
			fclose(f);
			return -EINVAL;
		}
		*colon = '\0';
		key = colon + 1;
		klen = strlen(key);
		if (klen < 32 || klen % 2 || klen >= sizeof(t->psk->hexkey) ||
		    strspn(key, "0123456789abcdefABCDEF") != klen ||
		    strlen(line) >= sizeof(t->psk->id)) {
			snprintf(err, err_len,
				 "--tls-psk %s: identity %.40s: the key must be 32 to 254 hex digits (16 bytes at least)",
				 path, line);
			fclose(f);
			return -EINVAL;
		}
		snprintf(t->psk[n].id, sizeof(t->psk[n].id), "%s", line);
		snprintf(t->psk[n].hexkey, sizeof(t->psk[n].hexkey), "%s",
			 key);
		n++;
	}
	fclose(f);
	if (!n) {
		snprintf(err, err_len, "--tls-psk %s: no identity:hexkey line",
			 path);
		return -EINVAL;
	}
	t->npsk = n;
	return 0;
}

static const struct psk_entry *psk_find(const struct mig_tls *t,
					const char *id)
{
	unsigned int i;

	for (i = 0; i < t->npsk; i++)
		if (!strcmp(t->psk[i].id, id))
			return &t->psk[i];
	return NULL;
}

/*
 * The identity a handshake in this thread was refused for by --tls-peer
 * (the source's handshakes run in its poll loop, each step in one call).
 */
static __thread char psk_refused[128];

static int psk_server_key(gnutls_session_t s, const char *id,
			  gnutls_datum_t *key)
{
	const struct mig_tls *t = gnutls_session_get_ptr(s);
	const struct psk_entry *e;
	gnutls_datum_t hex;
	size_t len;

	if (t->peer && strcmp(t->peer, id)) {
		snprintf(psk_refused, sizeof(psk_refused), "%s", id);
		return -1;
	}
	e = psk_find(t, id);
	if (!e)
		return -1;
	len = strlen(e->hexkey) / 2;
	key->data = gnutls_malloc(len);
	if (!key->data)
		return -1;
	key->size = len;
	hex.data = (unsigned char *)e->hexkey;
	hex.size = strlen(e->hexkey);
	if (gnutls_hex_decode(&hex, key->data, &len) < 0) {
		gnutls_free(key->data);
		key->data = NULL;
		return -1;
	}
	key->size = len;
	return 0;
}

/* The destination presents one identity, the source looks them up. */
static int psk_creds(struct mig_tls *t, const char *path, char *err,
		     size_t err_len)
{
	const struct psk_entry *e;
	gnutls_datum_t k;

	if (t->role == MIG_SOURCE) {
		if (gnutls_psk_allocate_server_credentials(&t->psk_server) < 0)
			return -ENOMEM;
		gnutls_psk_set_server_credentials_function(t->psk_server,
							   psk_server_key);
		return 0;
	}
	e = t->peer ? psk_find(t, t->peer) : &t->psk[0];
	if (!e) {
		snprintf(err, err_len,
			 "--tls-psk %s has no identity %s (--tls-peer)", path,
			 t->peer);
		return -ENOENT;
	}
	if (gnutls_psk_allocate_client_credentials(&t->psk_client) < 0)
		return -ENOMEM;
	k.data = (unsigned char *)e->hexkey;
	k.size = strlen(e->hexkey);
	t->psk_id = e->id;
	if (gnutls_psk_set_client_credentials(t->psk_client, e->id, &k,
					      GNUTLS_PSK_KEY_HEX) < 0)
		return -EINVAL;
	return 0;
}

static int load_x509(struct mig_tls *t, const char *dir, char *err,
		     size_t err_len)
{
	const char *who = t->role == MIG_SOURCE ? "server" : "client";
	char ca[PATH_MAX], cert[PATH_MAX], key[PATH_MAX], crl[PATH_MAX];
	int ret;

	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir);
	snprintf(cert, sizeof(cert), "%s/%s-cert.pem", dir, who);
	snprintf(key, sizeof(key), "%s/%s-key.pem", dir, who);
	snprintf(crl, sizeof(crl), "%s/ca-crl.pem", dir);
	if (access(ca, R_OK) || access(cert, R_OK) || access(key, R_OK)) {
		snprintf(err, err_len,
			 "--tls-creds %s: needs ca-cert.pem, %s-cert.pem and %s-key.pem (as QEMU's tls-creds-x509): %s",
			 dir, who, who, strerror(errno));
		return -ENOENT;
	}
	if (gnutls_certificate_allocate_credentials(&t->x509) < 0)
		return -ENOMEM;
	ret = gnutls_certificate_set_x509_trust_file(t->x509, ca,
						     GNUTLS_X509_FMT_PEM);
	if (ret <= 0) {
		snprintf(err, err_len, "--tls-creds: %s: %s", ca,
			 ret ? gnutls_strerror(ret) : "no certificate in it");
		return -EINVAL;
	}
	ret = gnutls_certificate_set_x509_key_file(t->x509, cert, key,
						   GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		snprintf(err, err_len, "--tls-creds: %s, %s: %s", cert, key,
			 gnutls_strerror(ret));
		return -EINVAL;
	}
	if (!access(crl, R_OK)) {
		ret = gnutls_certificate_set_x509_crl_file(t->x509, crl,
							   GNUTLS_X509_FMT_PEM);
		if (ret < 0) {
			snprintf(err, err_len, "--tls-creds: %s: %s", crl,
				 gnutls_strerror(ret));
			return -EINVAL;
		}
	}
	return 0;
}

int mig_tls_open(const struct mig_config *cfg, enum mig_role role,
		 struct mig_tls **out, char *err, size_t err_len)
{
	struct mig_tls *t;
	const char *where;
	int ret;

	*out = NULL;
	if (cfg->tls == MIG_TLS_INSECURE)
		return 0;
	if (cfg->tls != MIG_TLS_X509 && cfg->tls != MIG_TLS_PSK) {
		snprintf(err, err_len,
			 "no credentials: pass --tls-creds DIR (X.509, as QEMU's tls-creds-x509) or --tls-psk FILE (identity:hexkey lines), the same kind on both sides, or --insecure for plain TCP");
		return -EINVAL;
	}
	if (!cfg->tls_creds || !cfg->tls_creds[0]) {
		snprintf(err, err_len, "%s needs a path",
			 cfg->tls == MIG_TLS_X509 ? "--tls-creds" : "--tls-psk");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->mode = cfg->tls;
	t->role = role;
	t->hk = &cfg->hooks;
	t->peer = cfg->tls_peer && cfg->tls_peer[0] ? cfg->tls_peer : NULL;
	t->no_ktls = cfg->tls_no_ktls;
	if (t->mode == MIG_TLS_X509) {
		ret = load_x509(t, cfg->tls_creds, err, err_len);
	} else {
		ret = load_psk(t, cfg->tls_creds, err, err_len);
		if (!ret)
			ret = psk_creds(t, cfg->tls_creds, err, err_len);
	}
	if (!ret && gnutls_priority_init(&t->prio, t->mode == MIG_TLS_PSK ?
					 PRIO_PSK : PRIO_X509, &where) < 0) {
		snprintf(err, err_len, "TLS priorities refused at \"%s\"",
			 where);
		ret = -EINVAL;
	}
	if (ret) {
		if (!err[0])
			snprintf(err, err_len, "loading TLS credentials: %s",
				 mig_errstr(ret));
		mig_tls_close(t);
		return ret;
	}
	*out = t;
	return 0;
}

void mig_tls_close(struct mig_tls *t)
{
	if (!t)
		return;
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	if (t->psk_client)
		gnutls_psk_free_client_credentials(t->psk_client);
	if (t->psk_server)
		gnutls_psk_free_server_credentials(t->psk_server);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	free(t->psk);
	free(t);
}

/* ---- sessions ---------------------------------------------------------- */

/* What GnuTLS writes: never SIGPIPE for a peer gone. */
static ssize_t push_nosignal(gnutls_transport_ptr_t p, const void *buf,
			     size_t len)
{
	return send((int)(intptr_t)p, buf, len, MSG_NOSIGNAL);
}

static int session_new(struct mig_tls *t, int fd, const char *host,
		       gnutls_session_t *sp)
{
	/*
	 * Both sides drive their handshakes from poll(): GnuTLS must never
	 * wait on a socket itself (a cancel or a deadline would go unseen).
	 */
	unsigned int flags = GNUTLS_NONBLOCK | (t->role == MIG_SOURCE ?
						 GNUTLS_SERVER : GNUTLS_CLIENT);
	gnutls_session_t s;
	int ret;

	ret = gnutls_init(&s, flags | GNUTLS_NO_TICKETS);
	if (ret < 0)
		return -ENOMEM;
	ret = gnutls_priority_set(s, t->prio);
	if (ret >= 0 && t->mode == MIG_TLS_X509) {
		ret = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
					     t->x509);
		if (t->role == MIG_SOURCE)
			gnutls_certificate_server_set_request(s,
							      GNUTLS_CERT_REQUIRE);
		/* the chain, dates and (when given) the peer's name */
		if (ret >= 0)
			gnutls_session_set_verify_cert(s, host, 0);
	} else if (ret >= 0) {
		ret = gnutls_credentials_set(s, GNUTLS_CRD_PSK,
					     t->role == MIG_SOURCE ?
					     (void *)t->psk_server :
					     (void *)t->psk_client);
	}
	if (ret < 0) {
		gnutls_deinit(s);
		return -EINVAL;
	}
	gnutls_session_set_ptr(s, t);
	gnutls_transport_set_int(s, fd);
	gnutls_transport_set_push_function(s, push_nosignal);
	*sp = s;
	return 0;
}

/* What a failed handshake means, in words an operator can act on. */
static void hs_error(gnutls_session_t s, struct mig_tls *t, int gret,
		     char *err, size_t err_len)
{
	const char *peer = t->role == MIG_SOURCE ? "destination" : "source";
	unsigned int status = gnutls_session_get_verify_cert_status(s);
	gnutls_datum_t st = { 0 };

	if (t->mode == MIG_TLS_PSK && t->role == MIG_SOURCE &&
	    psk_refused[0]) {
		snprintf(err, err_len,
			 "TLS: the destination presented PSK identity \"%.64s\": only \"%s\" is accepted (--tls-peer)",
			 psk_refused, t->peer);
	} else if (gret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
	    !gnutls_certificate_verification_status_print(status,
							  GNUTLS_CRT_X509,
							  &st, 0)) {
		char *end = (char *)st.data + strlen((char *)st.data);

		while (end > (char *)st.data && end[-1] == ' ')
			*--end = '\0';
		snprintf(err, err_len,
			 "TLS: the %s's certificate is refused: %s%s", peer,
			 (char *)st.data, t->peer ? "" :
			 " (check --tls-creds on both sides)");
		gnutls_free(st.data);
	} else if (t->mode == MIG_TLS_PSK &&
		   (gret == GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER ||
		    gret == GNUTLS_E_DECRYPTION_FAILED ||
		    gret == GNUTLS_E_KEYFILE_ERROR ||
		    (gret == GNUTLS_E_FATAL_ALERT_RECEIVED &&
		     (gnutls_alert_get(s) == GNUTLS_A_ILLEGAL_PARAMETER ||
		      gnutls_alert_get(s) == GNUTLS_A_DECRYPT_ERROR ||
		      gnutls_alert_get(s) == GNUTLS_A_UNKNOWN_PSK_IDENTITY)))) {
		snprintf(err, err_len,
			 "TLS: the %s does not hold this pre-shared key (%s): both sides need the same identity and key (--tls-psk%s)",
			 peer, gret == GNUTLS_E_FATAL_ALERT_RECEIVED ?
			 gnutls_alert_get_name(gnutls_alert_get(s)) :
			 gnutls_strerror(gret),
			 t->peer ? ", --tls-peer" : "");
	} else if (gret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		snprintf(err, err_len,
			 "TLS: the %s refused the handshake: %s: check that both sides use credentials of the same CA or PSK file (%s)%s%s%s",
			 peer, gnutls_alert_get_name(gnutls_alert_get(s)),
			 t->mode == MIG_TLS_X509 ? "--tls-creds" :
			 "--tls-psk", t->psk_id ? ", and that it accepts PSK identity \"" : "",
			 t->psk_id ? t->psk_id : "", t->psk_id ? "\"" : "");
	} else if (gret == GNUTLS_E_PREMATURE_TERMINATION ||
		   gret == GNUTLS_E_PULL_ERROR ||
		   gret == GNUTLS_E_PUSH_ERROR) {
		snprintf(err, err_len,
			 "TLS: the %s closed the connection during the TLS handshake: does it run with --insecure, or with other credentials?",
			 peer);
	} else if (gret == GNUTLS_E_NO_CIPHER_SUITES ||
		   gret == GNUTLS_E_UNSUPPORTED_VERSION_PACKET ||
		   gret == GNUTLS_E_NO_COMMON_KEY_SHARE) {
		snprintf(err, err_len,
			 "TLS: the %s offers no TLS 1.3 with AES-GCM (%s): older versions are refused",
			 peer, gnutls_strerror(gret));
	} else if (gret == GNUTLS_E_UNEXPECTED_PACKET_LENGTH ||
		   gret == GNUTLS_E_UNEXPECTED_PACKET) {
		snprintf(err, err_len,
			 "TLS: the %s does not speak TLS (%s): does it run with --insecure?",
			 peer, gnutls_strerror(gret));
	} else {
		snprintf(err, err_len, "TLS: handshake with the %s failed: %s",
			 peer, gnutls_strerror(gret));
	}
}

/* ---- kernel TLS -------------------------------------------------------- */

union ktls_info {
	struct tls12_crypto_info_aes_gcm_128 g128;
	struct tls12_crypto_info_aes_gcm_256 g256;
};

static int ktls_dir(gnutls_session_t s, int fd, int read)
{
	gnutls_cipher_algorithm_t c = gnutls_cipher_get(s);
	gnutls_datum_t mac, iv, key;
	unsigned char seq[8];
	union ktls_info u;
	socklen_t len;
	int ret;

	if (gnutls_record_get_state(s, read, &mac, &iv, &key, seq) < 0 ||
	    iv.size != 12)
		return -EOPNOTSUPP;
	memset(&u, 0, sizeof(u));
	if (c == GNUTLS_CIPHER_AES_128_GCM && key.size == 16) {
		u.g128.info.version = TLS_1_3_VERSION;
		u.g128.info.cipher_type = TLS_CIPHER_AES_GCM_128;
		memcpy(u.g128.salt, iv.data, 4);
		memcpy(u.g128.iv, iv.data + 4, 8);
		memcpy(u.g128.key, key.data, 16);
		memcpy(u.g128.rec_seq, seq, 8);
		len = sizeof(u.g128);
	} else if (c == GNUTLS_CIPHER_AES_256_GCM && key.size == 32) {
		u.g256.info.version = TLS_1_3_VERSION;
		u.g256.info.cipher_type = TLS_CIPHER_AES_GCM_256;
		memcpy(u.g256.salt, iv.data, 4);
		memcpy(u.g256.iv, iv.data + 4, 8);
		memcpy(u.g256.key, key.data, 32);
		memcpy(u.g256.rec_seq, seq, 8);
		len = sizeof(u.g256);
	} else {
		return -EOPNOTSUPP;
	}
	ret = setsockopt(fd, SOL_TLS, read ? TLS_RX : TLS_TX, &u, len) ?
	      -errno : 0;
	explicit_bzero(&u, sizeof(u));
	return ret;
}

/*
 * Hand @s's records to the kernel: 0 with the session done with, or
 * -errno with the socket untouched (the ULP refused: no tls module) or
 * unusable (a later step failed: the connection is lost).
 */
static int ktls_install(gnutls_session_t s, int fd, int *lost)
{
	char ulp[16] = "";
	socklen_t len = sizeof(ulp);
	int ret;

	*lost = 0;
	if (gnutls_record_check_pending(s))
		return -EAGAIN;	/* records read ahead: keep them here */
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")))
		return -errno;
	*lost = 1;
	ret = ktls_dir(s, fd, 0);
	if (!ret)
		ret = ktls_dir(s, fd, 1);
	if (!ret && (getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &len) ||
		     strcmp(ulp, "tls")))
		ret = -EPROTO;
	return ret;
}

/* ---- user-space TLS ---------------------------------------------------- */

struct pump {
	gnutls_session_t s;
	int tcp, usr;
	int refs;		/* atomic */
	/* on the pumps list: the engine's end, by fd and socket inode */
	int eng_fd;
	ino_t eng_ino;
	struct pump *next;
};

/*
 * The pumps running, for the socket options of the TCP socket under the
 * engine's end (mig_tcp_setsockopt()).  A pump leaves the list before it
 * closes its TCP socket, so that socket stays open for a call that found
 * it under pumps_lock.  Lock order: pumps_lock is innermost; nothing
 * else is taken under it.
 */
static pthread_mutex_t pumps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pump *pumps;

static void pump_unlist(struct pump *p)
{
	struct pump **pp;

	pthread_mutex_lock(&pumps_lock);
	for (pp = &pumps; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pthread_mutex_unlock(&pumps_lock);
}

static void pump_put(struct pump *p)
{
	if (__atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL))
		return;
	pump_unlist(p);
	gnutls_deinit(p->s);
	close(p->tcp);
	close(p->usr);
	free(p);
}

static ino_t sock_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* The TCP socket under the engine's @fd, under pumps_lock */
static int tcp_under(int fd)
{
	ino_t ino = 0;
	struct pump *p;

	for (p = pumps; p; p = p->next) {
		if (p->eng_fd != fd)
			continue;
		if (!ino)
			ino = sock_ino(fd);
		if (ino && p->eng_ino == ino)
			return p->tcp;
	}
	return fd;
}

int mig_tcp_setsockopt(int fd, int level, int name, const void *val,
		       socklen_t len)
{
	int ret;

	pthread_mutex_lock(&pumps_lock);
	ret = setsockopt(tcp_under(fd), level, name, val, len) ? -errno : 0;
	pthread_mutex_unlock(&pumps_lock);
	return ret;
}

int mig_tcp_getsockopt(int fd, int level, int name, void *val,
		       socklen_t *len)
{
	int ret;

	pthread_mutex_lock(&pumps_lock);
	ret = getsockopt(tcp_under(fd), level, name, val, len) ? -errno : 0;
	pthread_mutex_unlock(&pumps_lock);
	return ret;
}

static void pump_stop(struct pump *p)
{
	shutdown(p->tcp, SHUT_RDWR);
	shutdown(p->usr, SHUT_RDWR);
}

static int write_all(int fd, const char *b, size_t n)
{
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= w;
	}
	return 0;
}

/* TLS records from the peer to the engine's end. */
static void *pump_rx(void *arg)
{
	struct pump *p = arg;
	char buf[16384];

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = p->tcp, .events = POLLIN },
			{ .fd = p->usr, .events = POLLRDHUP },
		};
		ssize_t n;

		if (!gnutls_record_check_pending(p->s)) {
			if (poll(pfd, 2, -1) < 0 && errno != EINTR)
				break;
			if (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
				break;
			if (!pfd[0].revents)
				continue;
		}
		n = gnutls_record_recv(p->s, buf, sizeof(buf));
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n <= 0 || write_all(p->usr, buf, n))
			break;
	}
	pump_stop(p);
	pump_put(p);
	return NULL;
}

/* What the engine writes, to the peer as TLS records. */
static void *pump_tx(void *arg)
{
	struct pump *p = arg;
	char buf[16384];

	for (;;) {
		ssize_t n = recv(p->usr, buf, sizeof(buf), 0), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		while (off < n) {
			ssize_t w = gnutls_record_send(p->s, buf + off,
						       n - off);

			if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
				continue;
			if (w < 0)
				goto out;
			off += w;
		}
	}
out:
	pump_stop(p);
	pump_put(p);
	return NULL;
}

/*
 * The engine's end of a socket pair whose other end the pump serves;
 * @s and @tcp are the pump's from here on, also on failure.
 */
static int pump_start(gnutls_session_t s, int tcp, int *fd)
{
	int sv[2], buf = 4 << 20;
	pthread_attr_t a;
	pthread_t th;
	struct pump *p;

	p = calloc(1, sizeof(*p));
	if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		free(p);
		gnutls_deinit(s);
		close(tcp);
		return -ENOMEM;
	}
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	p->s = s;
	p->tcp = tcp;
	p->usr = sv[1];
	p->refs = 2;
	/* listed before a thread runs: the last pump_put() unlists it */
	p->eng_fd = sv[0];
	p->eng_ino = sock_ino(sv[0]);
	pthread_mutex_lock(&pumps_lock);
	p->next = pumps;
	pumps = p;
	pthread_mutex_unlock(&pumps_lock);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, pump_rx, p)) {
		pthread_attr_destroy(&a);
		close(sv[0]);
		p->refs = 1;
		pump_put(p);
		return -EAGAIN;
	}
	if (pthread_create(&th, &a, pump_tx, p)) {
		/* the rx thread lets go of the rest */
		close(sv[0]);
		pump_stop(p);
		pump_put(p);
		pthread_attr_destroy(&a);
		return -EAGAIN;
	}
	pthread_attr_destroy(&a);
	*fd = sv[0];
	return 0;
}

/*
 * The handshake is done: kernel TLS on *@fd, or the pump (*@fd then
 * replaced).  @s is consumed either way.
 */
static int established(struct mig_tls *t, gnutls_session_t s, int *fd,
		       char *err, size_t err_len)
{
	int ret = -EOPNOTSUPP, lost = 0, tcp = *fd, usr;

	if (!t->no_ktls) {
		ret = ktls_install(s, tcp, &lost);
		if (!ret) {
			/*
			 * A read waiting for the rest of a record wakes up
			 * each tick to see an abort (mig_recv_all()).
			 */
			struct timeval tv = {
				.tv_usec = MIG_TICK_MS * 1000,
			};

			setsockopt(tcp, SOL_SOCKET, SO_RCVTIMEO, &tv,
				   sizeof(tv));
			__atomic_add_fetch(&t->ktls, 1, __ATOMIC_RELAXED);
			gnutls_deinit(s);
			return 0;
		}
		if (lost) {
			snprintf(err, err_len,
				 "TLS: handing the connection to kernel TLS: %s",
				 mig_errstr(ret));
			gnutls_deinit(s);
			return ret;
		}
		if (!__atomic_exchange_n(&t->warned, 1, __ATOMIC_RELAXED))
			mig_logf(t->hk, MIG_LOG_WARN,
				 "kernel TLS not available (%s%s): TLS records are handled in user space, one more copy of every page",
				 mig_errstr(ret), ret == -ENOENT ?
				 ": load the tls module" : "");
	}
	/*
	 * The pump takes a copy of the socket: on failure the caller still
	 * closes *@fd, on success the engine's end replaces it.
	 */
	tcp = dup(tcp);
	if (tcp < 0) {
		gnutls_deinit(s);
		return -errno;
	}
	gnutls_transport_set_int(s, tcp);
	gnutls_transport_set_push_function(s, push_nosignal);
	/* the pump polls before it reads: a record may take its time */
	gnutls_record_set_timeout(s, 0);
	ret = pump_start(s, tcp, &usr);
	if (ret) {
		snprintf(err, err_len, "TLS: starting its threads: %s",
			 mig_errstr(ret));
		return ret;
	}
	close(*fd);
	*fd = usr;
	__atomic_add_fetch(&t->user, 1, __ATOMIC_RELAXED);
	return 0;
}

/* ---- both sides -------------------------------------------------------- */

/* The host part of "HOST:PORT" or "[V6]:PORT". */
static void addr_host(const char *addr, char *host, size_t len)
{
	const char *end;

	if (addr[0] == '[') {
		end = strchr(addr, ']');
		snprintf(host, len, "%.*s", end ? (int)(end - addr - 1) : 0,
			 addr + 1);
		return;
	}
	end = strrchr(addr, ':');
	snprintf(host, len, "%.*s", end ? (int)(end - addr) :
		 (int)strlen(addr), addr);
}

/*
 * Wait, a tick at a time, until the handshake on @fd can go on: 0,
 * -ETIMEDOUT past @deadline (ns, 0: none) or -ECANCELED once *@abort.
 */
static int hs_wait(gnutls_session_t s, int fd, uint64_t deadline,
		   const int *abort)
{
	struct pollfd pfd = {
		.fd = fd,
		.events = gnutls_record_get_direction(s) ? POLLOUT : POLLIN,
	};
	int tick = MIG_TICK_MS;

	if (abort && __atomic_load_n(abort, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (deadline) {
		uint64_t now = mig_now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		if ((deadline - now) / 1000000ULL < (uint64_t)tick)
			tick = (deadline - now) / 1000000ULL + 1;
	}
	if (poll(&pfd, 1, tick) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int mig_tls_client(struct mig_tls *t, const char *addr, int *fd,
		   int timeout_ms, const int *abort, char *err,
		   size_t err_len)
{
	uint64_t deadline = timeout_ms > 0 ? mig_now_ns() +
			    (uint64_t)timeout_ms * 1000000ULL : 0;
	int ret, tcp = *fd, fl = fcntl(tcp, F_GETFL);
	char host[128], ack;
	gnutls_session_t s;
	ssize_t n;

	if (t->peer)
		snprintf(host, sizeof(host), "%s", t->peer);
	else
		addr_host(addr, host, sizeof(host));
	ret = session_new(t, tcp, t->mode == MIG_TLS_X509 ? host : NULL, &s);
	if (ret) {
		snprintf(err, err_len, "TLS: session: %s", mig_errstr(ret));
		return ret;
	}
	/* the whole handshake within @timeout_ms, and cancellable */
	fcntl(tcp, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		ret = gnutls_handshake(s);
		if (ret >= 0 || gnutls_error_is_fatal(ret))
			break;
		ret = hs_wait(s, tcp, deadline, abort);
		if (ret)
			goto stop;
	}
	if (ret < 0) {
		hs_error(s, t, ret, err, err_len);
		/* the source learns why, too */
		gnutls_alert_send_appropriate(s, ret);
		gnutls_deinit(s);
		return -EACCES;
	}
	/* the source checked us too: its ack, or an alert saying why not */
	for (;;) {
		n = gnutls_record_recv(s, &ack, 1);
		if (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
			break;
		ret = hs_wait(s, tcp, deadline, abort);
		if (ret)
			goto stop;
	}
	if (n != 1 || ack != MIG_TLS_ACK) {
		if (n < 0)
			hs_error(s, t, n, err, err_len);
		else
			snprintf(err, err_len,
				 "TLS: the source did not confirm the handshake");
		gnutls_deinit(s);
		return -EACCES;
	}
	fcntl(tcp, F_SETFL, fl & ~O_NONBLOCK);
	return established(t, s, fd, err, err_len);
stop:
	snprintf(err, err_len, "TLS: handshake with the source: %s",
		 ret == -ETIMEDOUT ? "no answer in time" :
		 ret == -ECANCELED ? "cancelled" : mig_errstr(ret));
	gnutls_deinit(s);
	return ret;
}

int mig_tls_hs_start(struct mig_tls *t, int fd, struct mig_tls_hs **hsp,
		     char *err, size_t err_len)
{
	struct mig_tls_hs *hs = calloc(1, sizeof(*hs));
	int ret;

	if (!hs)
		return -ENOMEM;
	hs->t = t;
	ret = session_new(t, fd, t->mode == MIG_TLS_X509 ? t->peer : NULL,
			  &hs->s);
	if (ret) {
		snprintf(err, err_len, "TLS: session: %s", mig_errstr(ret));
		free(hs);
		return ret;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	*hsp = hs;
	return 0;
}

int mig_tls_hs_step(struct mig_tls_hs *hs, int *fd, int *want_write,
		    char *err, size_t err_len)
{
	static const char ack = MIG_TLS_ACK;
	gnutls_session_t s = hs->s;
	int ret;

	*want_write = 0;
	psk_refused[0] = '\0';
	if (!hs->done) {
		/* what GnuTLS read already is not for poll() to announce */
		do {
			ret = gnutls_handshake(s);
		} while (ret < 0 && !gnutls_error_is_fatal(ret) &&
			 gnutls_record_check_pending(s));
		if (ret < 0 && !gnutls_error_is_fatal(ret)) {
			*want_write = gnutls_record_get_direction(s);
			return -EAGAIN;
		}
		if (ret < 0) {
			hs_error(s, hs->t, ret, err, err_len);
			/* tell a peer that does not speak TLS, too */
			gnutls_alert_send_appropriate(s, ret);
			return -EACCES;
		}
		hs->done = 1;
	}
	ret = gnutls_record_send(s, &ack, 1);
	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
		*want_write = 1;
		return -EAGAIN;
	}
	if (ret != 1) {
		snprintf(err, err_len, "TLS: confirming the handshake: %s",
			 gnutls_strerror(ret));
		return -EIO;
	}
	fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) & ~O_NONBLOCK);
	hs->s = NULL;
	return established(hs->t, s, fd, err, err_len);
}

void mig_tls_hs_free(struct mig_tls_hs *hs)
{
	if (!hs)
		return;
	if (hs->s)
		gnutls_deinit(hs->s);
	free(hs);
}
