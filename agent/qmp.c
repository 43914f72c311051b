// SPDX-License-Identifier: GPL-2.0
/*
 * qmp.c: the QMP client of postcopy-agent migrate --qmp (qmp.h).
 *
 * QMP is JSON objects over a stream socket: QEMU greets with {"QMP":
 * ...}, a client leaves the negotiation mode with qmp_capabilities, then
 * sends {"execute": ..., "arguments": ..., "id": ...} and gets
 * {"return": ..., "id": ...} or {"error": {"class", "desc"}, "id": ...};
 * {"event": ...} objects come in between at any time.  json-c parses the
 * stream (objects may arrive split or several in one read).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"

/* The region filesystem's f_type (statfs), "pcaf". */
#define PCAFS_MAGIC	0x70636166

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

#define qerr(q, ...) snprintf((q)->err, sizeof((q)->err), __VA_ARGS__)

/* The next JSON object from QEMU. */
static int qmp_next(struct qmp *q, json_object **out)
{
	long long deadline = ms_now() + q->timeout_ms;

	for (;;) {
		while (q->rx_off < q->rx_len) {
			json_object *o;
			enum json_tokener_error e;

			o = json_tokener_parse_ex(q->tok, q->rx + q->rx_off,
						  q->rx_len - q->rx_off);
			e = json_tokener_get_error(q->tok);
			q->rx_off += json_tokener_get_parse_end(q->tok);
			if (o) {
				json_tokener_reset(q->tok);
				if (!json_object_is_type(o, json_type_object)) {
					json_object_put(o);
					qerr(q, "%s: a QMP message that is no JSON object: is it QEMU's QMP socket?",
					     q->path);
					return -EPROTO;
				}
				*out = o;
				return 0;
			}
			if (e != json_tokener_continue) {
				qerr(q, "%s speaks no JSON (%s): is it QEMU's QMP socket (-qmp unix:%s,server=on,wait=off)?",
				     q->path, json_tokener_error_desc(e),
				     q->path);
				return -EPROTO;
			}
		}
		q->rx_off = q->rx_len = 0;
		for (;;) {
			struct pollfd p = { .fd = q->fd, .events = POLLIN };
			long long left = deadline - ms_now();
			ssize_t n;
			int r;

			if (left <= 0) {
				qerr(q, "%s: no answer from QEMU within %d ms",
				     q->path, q->timeout_ms);
				return -ETIMEDOUT;
			}
			r = poll(&p, 1, (int)left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				continue;
			n = read(q->fd, q->rx, sizeof(q->rx));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				qerr(q, "%s: QEMU closed the QMP connection%s",
				     q->path, n < 0 ? " with an error" : "");
				return -ECONNRESET;
			}
			q->rx_len = n;
			break;
		}
	}
}

static int qmp_send(struct qmp *q, json_object *msg)
{
	const char *s = json_object_to_json_string_ext(msg,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n = send(q->fd, s + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			qerr(q, "%s: writing to QEMU: %s", q->path,
			     strerror(errno));
			return -errno;
		}
		off += n;
	}
	return send(q->fd, "\n", 1, MSG_NOSIGNAL) == 1 ? 0 : -EPIPE;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int qmp_exec(struct qmp *q, const char *cmd, json_object *args,
	     json_object **ret)
{
	json_object *msg = json_object_new_object(), *ans, *v;
	unsigned int id = ++q->next_id;
	int r;

	if (ret)
		*ret = NULL;
	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	json_object_object_add(msg, "id", json_object_new_int64(id));
	r = qmp_send(q, msg);
	json_object_put(msg);
	if (r)
		return r;
	for (;;) {
		r = qmp_next(q, &ans);
		if (r)
			return r;
		if (json_object_object_get_ex(ans, "event", NULL) ||
		    (json_object_object_get_ex(ans, "id", &v) &&
		     json_object_get_int64(v) != id)) {
			json_object_put(ans);
			continue;
		}
		if (json_object_object_get_ex(ans, "return", &v)) {
			if (ret)
				*ret = json_object_get(v);
			json_object_put(ans);
			return 0;
		}
		if (json_object_object_get_ex(ans, "error", &v)) {
			const char *c = str_of(v, "class");
			const char *d = str_of(v, "desc");

			qerr(q, "QEMU refused %s: %s%s%s", cmd, d ? d : "",
			     c ? " (" : "", c ? c : "");
			if (c)
				strncat(q->err, ")",
					sizeof(q->err) - strlen(q->err) - 1);
			json_object_put(ans);
			return -EREMOTEIO;
		}
		json_object_put(ans);
		qerr(q, "%s: an answer to %s with neither return nor error",
		     q->path, cmd);
		return -EPROTO;
	}
}

int qmp_open(struct qmp *q, const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	json_object *g, *v, *qv;
	int r;

	memset(q, 0, sizeof(*q));
	q->fd = -1;
	q->path = path;
	q->timeout_ms = timeout_ms;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		qerr(q, "QMP socket path %s is too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	q->tok = json_tokener_new();
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!q->tok || q->fd < 0) {
		qerr(q, "QMP: %s", strerror(errno ? errno : ENOMEM));
		return -ENOMEM;
	}
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		r = -errno;
		if (r == -ENOENT)
			qerr(q, "QMP socket %s does not exist: start QEMU with -qmp unix:%s,server=on,wait=off",
			     path, path);
		else if (r == -ECONNREFUSED)
			qerr(q, "nobody listens on QMP socket %s: is QEMU running?",
			     path);
		else
			qerr(q, "QMP socket %s: %s", path, strerror(-r));
		return r;
	}
	r = qmp_next(q, &g);
	if (r) {
		if (r == -ETIMEDOUT)
			qerr(q, "%s sent no QMP greeting within %d ms: is it QEMU's QMP socket?",
			     path, timeout_ms);
		return r;
	}
	if (!json_object_object_get_ex(g, "QMP", &v)) {
		json_object_put(g);
		qerr(q, "%s greeted without \"QMP\": it is not a QEMU QMP monitor",
		     path);
		return -EPROTO;
	}
	if (json_object_object_get_ex(v, "version", &v) &&
	    json_object_object_get_ex(v, "qemu", &qv)) {
		json_object *ma, *mi, *mc;

		if (json_object_object_get_ex(qv, "major", &ma) &&
		    json_object_object_get_ex(qv, "minor", &mi) &&
		    json_object_object_get_ex(qv, "micro", &mc))
			snprintf(q->version, sizeof(q->version), "%d.%d.%d",
				 json_object_get_int(ma),
				 json_object_get_int(mi),
				 json_object_get_int(mc));
	}
	json_object_put(g);
	if (!q->version[0])
		snprintf(q->version, sizeof(q->version), "unknown");
	return qmp_exec(q, "qmp_capabilities", NULL, NULL);
}

void qmp_close(struct qmp *q)
{
	if (q->fd >= 0)
		close(q->fd);
	q->fd = -1;
	if (q->tok)
		json_tokener_free(q->tok);
	q->tok = NULL;
}

/* qom-get @path @prop: the value, referenced, or NULL (q->err says). */
static json_object *qom_get(struct qmp *q, const char *path, const char *prop)
{
	json_object *args = json_object_new_object(), *v;

	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "property", json_object_new_string(prop));
	if (qmp_exec(q, "qom-get", args, &v))
		return NULL;
	return v;
}

static int capability_state(json_object *caps, const char *name)
{
	size_t i, n = json_object_array_length(caps);

	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(caps, i), *st;
		const char *cn = str_of(c, "capability");

		if (cn && !strcmp(cn, name))
			return json_object_object_get_ex(c, "state", &st) &&
			       json_object_get_boolean(st);
	}
	return -1;
}

/*
 * A directory mem-path: QEMU made its RAM file there and unlinked it
 * (as libvirt's memory_backing_dir may have it do), so only QEMU's open
 * fd still names the region.  QEMU is the peer of the QMP socket; of its
 * open files, the one unlinked from @dir on a region filesystem is the
 * RAM.  Its /proc/PID/fd/N path opens the region like any other path.
 */
static int qmp_unlinked_file(struct qmp *q, const char *backend,
			     const char *dir, char *out, size_t len)
{
	static const char deleted[] = " (deleted)";
	size_t dl = strlen(dir), sl = strlen(deleted);
	char fddir[64], fd_path[64 + NAME_MAX + 2], link[PATH_MAX];
	socklen_t cl = sizeof(struct ucred);
	struct ucred cr;
	struct statfs sfs;
	struct dirent *e;
	int found = 0;
	DIR *d;

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	if (getsockopt(q->fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) ||
	    cr.pid <= 0) {
		qerr(q, "RAM backend %s: mem-path %s is a directory, and the QEMU at %s cannot be told apart (no peer credentials): name a file, mem-path=%s/NAME",
		     backend, dir, q->path, dir);
		return -ESRCH;
	}
	snprintf(fddir, sizeof(fddir), "/proc/%d/fd", (int)cr.pid);
	d = opendir(fddir);
	if (!d) {
		int err = errno;

		qerr(q, "RAM backend %s: mem-path %s is a directory; reading QEMU's open files (%s) to find its RAM file: %s",
		     backend, dir, fddir, strerror(err));
		return -err;
	}
	while ((e = readdir(d))) {
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fd_path, sizeof(fd_path), "%s/%s", fddir, e->d_name);
		n = readlink(fd_path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		/* DIR/NAME (deleted), directly in the directory */
		if ((size_t)n <= dl + 1 + sl || strncmp(link, dir, dl) ||
		    link[dl] != '/' || strcmp(link + n - sl, deleted) ||
		    memchr(link + dl + 1, '/', n - sl - dl - 1))
			continue;
		if (statfs(fd_path, &sfs) || sfs.f_type != PCAFS_MAGIC)
			continue;
		if (found++)
			break;
		snprintf(out, len, "%s", fd_path);
	}
	closedir(d);
	if (found == 1)
		return 0;
	qerr(q, found ? "RAM backend %s: mem-path %s is a directory in which QEMU holds several unlinked region files: name a file, mem-path=%s/NAME" :
		 "RAM backend %s: mem-path %s is a directory, and QEMU holds no unlinked region file made in it: name a file, mem-path=%s/NAME",
	     backend, dir, dir);
	return found ? -EEXIST : -ENOENT;
}

static json_object *cap(const char *name, int state)
{
	json_object *c = json_object_new_object();

	json_object_object_add(c, "capability", json_object_new_string(name));
	json_object_object_add(c, "state", json_object_new_boolean(state));
	return c;
}

int qmp_prepare(struct qmp *q, char *mem_path, size_t len)
{
	json_object *caps, *v, *args, *list;
	char backend[128], obj[160];
	struct statfs sfs;
	struct stat st;
	int r, postcopy;

	r = qmp_exec(q, "query-migrate-capabilities", NULL, &caps);
	if (r)
		return r;
	if (!json_object_is_type(caps, json_type_array) ||
	    capability_state(caps, "x-ignore-shared") < 0) {
		json_object_put(caps);
		qerr(q, "QEMU %s at %s has no migration capability x-ignore-shared (QEMU 4.0 or later has): it would copy the guest's RAM itself",
		     q->version, q->path);
		return -EOPNOTSUPP;
	}
	postcopy = capability_state(caps, "postcopy-ram");
	json_object_put(caps);

	v = qom_get(q, "/machine", "memory-backend");
	if (!v || !json_object_is_type(v, json_type_string) ||
	    !json_object_get_string_len(v)) {
		json_object_put(v);
		qerr(q, "QEMU at %s has no RAM backend object: start it with -machine memory-backend=ID and -object memory-backend-file,id=ID,mem-path=FILE,share=on,size=... on a region filesystem",
		     q->path);
		return -ENOENT;
	}
	/* an id, or (QEMU 7) the object's path, /objects/ID */
	snprintf(backend, sizeof(backend), "%s",
		 strrchr(json_object_get_string(v), '/') ?
		 strrchr(json_object_get_string(v), '/') + 1 :
		 json_object_get_string(v));
	json_object_put(v);
	snprintf(obj, sizeof(obj), "/objects/%s", backend);
	v = qom_get(q, obj, "mem-path");
	if (!v || !json_object_is_type(v, json_type_string)) {
		json_object_put(v);
		qerr(q, "RAM backend %s of QEMU at %s is not a memory-backend-file: use -object memory-backend-file,id=%s,mem-path=FILE,share=on on a region filesystem",
		     backend, q->path, backend);
		return -EINVAL;
	}
	snprintf(mem_path, len, "%s", json_object_get_string(v));
	json_object_put(v);
	v = qom_get(q, obj, "share");
	if (!v || !json_object_get_boolean(v)) {
		json_object_put(v);
		qerr(q, "RAM backend %s (%s) is not shared: add share=on, or the region never sees the guest's writes",
		     backend, mem_path);
		return -EINVAL;
	}
	json_object_put(v);
	if (statfs(mem_path, &sfs) || sfs.f_type != PCAFS_MAGIC) {
		qerr(q, "RAM backend %s: mem-path %s is not on a region filesystem (mount -t pcafs none DIR; Documentation/qemu.rst)",
		     backend, mem_path);
		return -EINVAL;
	}
	if (!stat(mem_path, &st) && S_ISDIR(st.st_mode)) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", mem_path);
		r = qmp_unlinked_file(q, backend, dir, mem_path, len);
		if (r)
			return r;
	}

	/* QEMU moves the device state, the agent the RAM */
	list = json_object_new_array();
	json_object_array_add(list, cap("x-ignore-shared", 1));
	if (postcopy > 0)
		json_object_array_add(list, cap("postcopy-ram", 0));
	args = json_object_new_object();
	json_object_object_add(args, "capabilities", list);
	return qmp_exec(q, "migrate-set-capabilities", args, NULL);
}

int qmp_run_state(struct qmp *q, char *status, size_t len)
{
	json_object *v;
	const char *s;
	int r = qmp_exec(q, "query-status", NULL, &v);

	if (r)
		return r;
	s = str_of(v, "status");
	snprintf(status, len, "%s", s ? s : "unknown");
	json_object_put(v);
	return 0;
}

int qmp_check_incoming(struct qmp *q)
{
	char st[32];
	int r = qmp_run_state(q, st, sizeof(st));

	if (r)
		return r;
	if (strcmp(st, "inmigrate")) {
		qerr(q, "QEMU at %s does not wait for a migration (its state is %s): start the destination QEMU with -incoming defer",
		     q->path, st);
		return -EINVAL;
	}
	return 0;
}

int qmp_migrate_status(struct qmp *q, char *status, size_t len)
{
	json_object *v;
	const char *s, *e;
	int r = qmp_exec(q, "query-migrate", NULL, &v);

	if (r)
		return r;
	s = str_of(v, "status");
	snprintf(status, len, "%s", s ? s : "none");
	e = str_of(v, "error-desc");
	if (s && !strcmp(s, "failed"))
		qerr(q, "QEMU's migration failed%s%s", e ? ": " : "",
		     e ? e : "");
	json_object_put(v);
	return 0;
}
