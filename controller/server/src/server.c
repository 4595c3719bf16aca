/*
 * The controller's HTTP API on libmicrohttpd, one thread per connection so
 * a watch stream may block waiting for the store's next event.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "controller/server.h"

#define API_PREFIX "/apis/" CTL_API_VERSION "/"
#define TOKENS_MAX 10000
#define WATCH_POLL_MS 250

struct token {
	char *token;
	enum ctl_role role;
	char *gateway;
};

struct tokens {
	struct token *v;
	size_t n;
};

struct ctl_server {
	struct MHD_Daemon *d;
	struct ctl_store *store;
	char *tokens_file, *artifacts_dir, *version;
	char *cert_pem, *key_pem;
	bool no_auth;
	size_t body_max, batch_max, artifact_max;
	uint16_t port;
	pthread_rwlock_t tlock;
	struct tokens tokens;
	atomic_bool stopping;
	time_t started;
	/* metrics */
	atomic_ulong req_total[6]; /* by status class 1xx..5xx, [0] other */
	atomic_ulong req_by_code[600];
	atomic_ulong watchers;
	atomic_ulong status_updates;
	atomic_ulong events_sent;
	/* hooks (GitOps) */
	int (*sync_hook)(void *ctx, bool run, json_t **ret_body);
	void (*metrics_hook)(void *ctx, FILE *f);
	void *hook_ctx;
};

/* One request in flight: the body as it arrives. */
struct req {
	char *buf;
	size_t len, cap, limit;
	bool too_big;
	bool started;
};

/* ---- tokens ---- */

static void tokens_done(struct tokens *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->v[i].token);
		free(t->v[i].gateway);
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int tokens_parse(const char *text, size_t len, struct tokens *out, size_t *ret_line)
{
	struct tokens t = {0};
	size_t line = 0;
	const char *p = text, *end = text + len;
	int r = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		char buf[512];
		size_t l = (size_t)(le - p);
		p = nl ? nl + 1 : end;
		if (l >= sizeof(buf)) {
			r = -EINVAL;
			break;
		}
		memcpy(buf, p - l - (nl ? 1 : 0), l);
		buf[l] = 0;
		char *save, *tok = strtok_r(buf, " \t\r", &save);
		if (!tok || tok[0] == '#')
			continue;
		char *role = strtok_r(NULL, " \t\r", &save);
		char *gw = strtok_r(NULL, " \t\r", &save);
		char *extra = strtok_r(NULL, " \t\r", &save);
		enum ctl_role ro = CTL_ROLE_NONE;
		if (role && strcmp(role, "admin") == 0)
			ro = CTL_ROLE_ADMIN;
		else if (role && strcmp(role, "read-only") == 0)
			ro = CTL_ROLE_READONLY;
		else if (role && strcmp(role, "gateway") == 0)
			ro = CTL_ROLE_GATEWAY;
		if (ro == CTL_ROLE_NONE || extra || strlen(tok) < 16 ||
		    (ro == CTL_ROLE_GATEWAY) != (gw != NULL) ||
		    (gw && !ctl_obj_name_valid(gw)) || t.n >= TOKENS_MAX) {
			r = -EINVAL;
			break;
		}
		struct token *nv = realloc(t.v, (t.n + 1) * sizeof(*nv));
		if (!nv) {
			r = -ENOMEM;
			break;
		}
		t.v = nv;
		t.v[t.n].token = strdup(tok);
		t.v[t.n].role = ro;
		t.v[t.n].gateway = gw ? strdup(gw) : NULL;
		t.n++;
	}
	if (r) {
		tokens_done(&t);
		if (ret_line)
			*ret_line = line;
		return r;
	}
	*out = t;
	return 0;
}

int ctl_server_parse_tokens(const char *text, size_t len, size_t *ret_n, size_t *ret_line)
{
	struct tokens t;
	int r = tokens_parse(text, len, &t, ret_line);
	if (r == 0) {
		if (ret_n)
			*ret_n = t.n;
		tokens_done(&t);
	}
	return r;
}

static int read_small_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
		close(fd);
		return -EFBIG;
	}
	char *b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	ssize_t n = read(fd, b, (size_t)st.st_size);
	close(fd);
	if (n < 0) {
		free(b);
		return -EIO;
	}
	b[n] = 0;
	*ret = b;
	if (ret_len)
		*ret_len = (size_t)n;
	return 0;
}

int ctl_server_reload(struct ctl_server *srv)
{
	if (!srv->tokens_file)
		return 0;
	char *text;
	size_t len;
	int r = read_small_file(srv->tokens_file, CTL_TOKENS_FILE_MAX, &text, &len);
	if (r)
		return r;
	struct tokens t;
	r = tokens_parse(text, len, &t, NULL);
	free(text);
	if (r)
		return r;
	pthread_rwlock_wrlock(&srv->tlock);
	tokens_done(&srv->tokens);
	srv->tokens = t;
	pthread_rwlock_unlock(&srv->tlock);
	return 0;
}

/* Constant-time compare of equal-length strings. */
static bool token_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = (unsigned char)(la != lb);
	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

struct who {
	enum ctl_role role;
	char gateway[CTL_NAME_MAX + 1];
};

static void authenticate(struct ctl_server *srv, struct MHD_Connection *c, struct who *w)
{
	memset(w, 0, sizeof(*w));
	if (srv->no_auth) {
		w->role = CTL_ROLE_ADMIN;
		return;
	}
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return;
	h += 7;
	pthread_rwlock_rdlock(&srv->tlock);
	for (size_t i = 0; i < srv->tokens.n; i++) {
		if (token_eq(srv->tokens.v[i].token, h)) {
			w->role = srv->tokens.v[i].role;
			if (srv->tokens.v[i].gateway)
				snprintf(w->gateway, sizeof(w->gateway), "%s", srv->tokens.v[i].gateway);
		}
	}
	pthread_rwlock_unlock(&srv->tlock);
}

/* ---- responses ---- */

static enum MHD_Result send_text(struct ctl_server *srv, struct MHD_Connection *c, unsigned code,
				 const char *ctype, char *text /* taken */)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (code == 401)
		MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
	enum MHD_Result r = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	if (code < 600)
		srv->req_by_code[code]++;
	return r;
}

static enum MHD_Result send_json(struct ctl_server *srv, struct MHD_Connection *c, unsigned code,
				 json_t *j /* taken */)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return MHD_NO;
	size_t l = strlen(text);
	char *t2 = realloc(text, l + 2);
	if (t2) {
		text = t2;
		text[l] = '\n';
		text[l + 1] = 0;
	}
	return send_text(srv, c, code, "application/json", text);
}

static const char *reason_of(unsigned code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 410: return "Expired";
	case 413: return "RequestEntityTooLarge";
	case 422: return "Invalid";
	case 503: return "ServiceUnavailable";
	default: return code >= 500 ? "InternalError" : "Failure";
	}
}

static json_t *status_obj(unsigned code, const char *msg, const char *field, const char *why)
{
	json_t *s = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "apiVersion", "v1", "kind",
			      "Status", "status", code < 300 ? "Success" : "Failure", "code",
			      (int)code, "reason", reason_of(code), "message", msg ? msg : "");
	if (s && field)
		json_object_set_new(s, "details",
				    json_pack("{s:s, s:s}", "field", field, "reason", why ? why : ""));
	return s;
}

static enum MHD_Result fail(struct ctl_server *srv, struct MHD_Connection *c, unsigned code,
			    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result fail(struct ctl_server *srv, struct MHD_Connection *c, unsigned code,
			    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return send_json(srv, c, code, status_obj(code, msg, NULL, NULL));
}

static unsigned errno_code(int e)
{
	switch (e) {
	case -ENOENT: return 404;
	case -EEXIST: return 409;
	case -ESTALE: return 409;
	case -EPERM: return 403;
	case -EINVAL: return 422;
	case -ERANGE: return 410;
	case -E2BIG: return 413;
	case -EAGAIN:
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -EHOSTUNREACH: return 503;
	default: return 500;
	}
}

static enum MHD_Result fail_errno(struct ctl_server *srv, struct MHD_Connection *c, int e,
				  const char *what)
{
	unsigned code = errno_code(e);
	const char *m = e == -ESTALE	? "the object has been modified; read it again and retry"
			: e == -EEXIST	? "already exists"
			: e == -ENOENT	? "not found"
			: e == -ERANGE	? "resourceVersion too old; list again"
					: strerror(-e);
	return fail(srv, c, code, "%s: %s", what, m);
}

/* ---- watch streams ---- */

enum watch_view { VIEW_OBJECT, VIEW_ASSIGNMENT };

struct wstream {
	struct ctl_server *srv;
	struct ctl_watch *w;
	char *owner; /* only objects whose status.gateway is this */
	struct ctl_selector *sel;
	enum watch_view view;
	char *pending;
	size_t plen, poff;
	time_t deadline;
	bool done;
};

static json_t *assignment_of(const json_t *dev)
{
	json_t *a = json_object_get(json_object_get(dev, "spec"), "assignment");
	json_t *md = json_object_get(dev, "metadata");
	return json_pack("{s:O?, s:O?, s:O}", "device", json_object_get(md, "name"),
			 "resourceVersion", json_object_get(md, "resourceVersion"), "assignment",
			 a ? a : json_null());
}

static void wstream_free(void *cls)
{
	struct wstream *ws = cls;
	ctl_store_watch_close(ws->w);
	ctl_selector_free(ws->sel);
	free(ws->owner);
	free(ws->pending);
	ws->srv->watchers--;
	free(ws);
}

static ssize_t wstream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct wstream *ws = cls;
	(void)pos;
	while (!ws->pending) {
		if (ws->done || ws->srv->stopping)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (ws->deadline && time(NULL) >= ws->deadline)
			return MHD_CONTENT_READER_END_OF_STREAM;
		struct ctl_event ev;
		int r = ctl_store_watch_next(ws->w, WATCH_POLL_MS, &ev);
		if (r == -EAGAIN)
			continue;
		json_t *line;
		if (r < 0) {
			unsigned code = r == -ERANGE ? 410 : 500;
			line = json_pack("{s:s, s:o}", "type", "ERROR", "object",
					 status_obj(code, r == -ERANGE ? "resourceVersion too old"
								       : "watch broke",
						    NULL, NULL));
			ws->done = true;
		} else {
			const char *own = ctl_obj_owner(ev.obj);
			if ((ws->owner && (!own || strcmp(own, ws->owner) != 0)) ||
			    (ws->sel &&
			     !ctl_selector_match(ws->sel, json_object_get(json_object_get(ev.obj,
										       "metadata"),
									   "labels")))) {
				ctl_event_done(&ev);
				continue;
			}
			json_t *o = ws->view == VIEW_ASSIGNMENT ? assignment_of(ev.obj)
								 : json_incref(ev.obj);
			line = json_pack("{s:s, s:o}", "type", ctl_event_type_name(ev.type), "object",
					 o);
			ctl_event_done(&ev);
		}
		if (!line)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		char *t = json_dumps(line, JSON_COMPACT);
		json_decref(line);
		if (!t)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		size_t l = strlen(t);
		ws->pending = realloc(t, l + 1);
		ws->pending[l] = '\n';
		ws->plen = l + 1;
		ws->poff = 0;
		ws->srv->events_sent++;
	}
	size_t n = ws->plen - ws->poff;
	if (n > max)
		n = max;
	memcpy(buf, ws->pending + ws->poff, n);
	ws->poff += n;
	if (ws->poff == ws->plen) {
		free(ws->pending);
		ws->pending = NULL;
	}
	return (ssize_t)n;
}

static enum MHD_Result start_watch(struct ctl_server *srv, struct MHD_Connection *c, int kind,
				   const char *owner, struct ctl_selector *sel /* taken */,
				   enum watch_view view)
{
	const char *rvs = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
	const char *tos = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timeoutSeconds");
	uint64_t from = 0;
	if (rvs && *rvs) {
		char *end;
		from = strtoull(rvs, &end, 10);
		if (*end) {
			ctl_selector_free(sel);
			return fail(srv, c, 400, "resourceVersion must be a number");
		}
	}
	struct wstream *ws = calloc(1, sizeof(*ws));
	if (!ws) {
		ctl_selector_free(sel);
		return MHD_NO;
	}
	ws->srv = srv;
	ws->sel = sel;
	ws->view = view;
	ws->owner = owner ? strdup(owner) : NULL;
	if (tos && atoi(tos) > 0)
		ws->deadline = time(NULL) + atoi(tos);
	srv->watchers++;
	int r = ctl_store_watch_open(srv->store, kind, from, &ws->w);
	if (r < 0) {
		wstream_free(ws);
		return fail_errno(srv, c, r, "watch");
	}
	struct MHD_Response *resp =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, wstream_read, ws,
						  wstream_free);
	if (!resp) {
		wstream_free(ws);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	enum MHD_Result res = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	srv->req_by_code[200]++;
	return res;
}

/* ---- objects ---- */

static void now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

static json_t *parse_body(struct ctl_server *srv, struct MHD_Connection *c, const struct req *rq,
			  enum MHD_Result *res)
{
	json_error_t err;
	json_t *j = json_loadb(rq->buf ? rq->buf : "", rq->len, JSON_REJECT_DUPLICATES, &err);
	if (!j) {
		char msg[300];
		snprintf(msg, sizeof(msg), "body is not JSON: %s (line %d column %d)", err.text,
			 err.line, err.column);
		*res = send_json(srv, c, 400, status_obj(400, msg, NULL, NULL));
		return NULL;
	}
	return j;
}

static enum MHD_Result invalid(struct ctl_server *srv, struct MHD_Connection *c, const char *path,
			       const char *why)
{
	char msg[600];
	snprintf(msg, sizeof(msg), "%s: %s", path, why);
	return send_json(srv, c, 422, status_obj(422, msg, path, why));
}

static enum MHD_Result do_list(struct ctl_server *srv, struct MHD_Connection *c, enum ctl_kind kind,
			       const char *owner, enum watch_view view)
{
	const char *ls = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "labelSelector");
	const char *lim = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
	const char *cont = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "continue");
	const char *watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
	struct ctl_selector *sel = NULL;
	int r = ctl_selector_parse(ls, &sel);
	if (r < 0)
		return invalid(srv, c, "labelSelector", r == -E2BIG ? "too long" : "syntax error");
	if (watch && (strcmp(watch, "true") == 0 || strcmp(watch, "1") == 0))
		return start_watch(srv, c, (int)kind, owner, sel, view);
	size_t limit = 0;
	if (lim && *lim) {
		char *end;
		unsigned long l = strtoul(lim, &end, 10);
		if (*end || l > CTL_LIST_LIMIT_MAX) {
			ctl_selector_free(sel);
			return invalid(srv, c, "limit", "must be 0.." "100000");
		}
		limit = l;
	}
	/* The continue token is the last name returned, hex-encoded. */
	char after[CTL_NAME_MAX + 1] = "";
	if (cont && *cont) {
		size_t n = strlen(cont);
		if (n % 2 || n / 2 > CTL_NAME_MAX) {
			ctl_selector_free(sel);
			return invalid(srv, c, "continue", "malformed token");
		}
		for (size_t i = 0; i < n / 2; i++) {
			unsigned v;
			if (sscanf(cont + 2 * i, "%2x", &v) != 1) {
				ctl_selector_free(sel);
				return invalid(srv, c, "continue", "malformed token");
			}
			after[i] = (char)v;
		}
		after[n / 2] = 0;
	}
	json_t *items = NULL;
	int more = 0;
	uint64_t rv = 0;
	r = ctl_store_list(srv->store, kind, sel, owner, limit, after[0] ? after : NULL, &items,
			   &more, &rv);
	ctl_selector_free(sel);
	if (r < 0)
		return fail_errno(srv, c, r, "list");
	char rvs[24], kl[64];
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rv);
	snprintf(kl, sizeof(kl), "%sList", view == VIEW_ASSIGNMENT ? "Assignment" : ctl_kind_name(kind));
	json_t *md = json_pack("{s:s}", "resourceVersion", rvs);
	if (more && json_array_size(items)) {
		const char *last = ctl_obj_name(json_array_get(items, json_array_size(items) - 1));
		char tok[2 * CTL_NAME_MAX + 1];
		for (size_t i = 0; last[i]; i++)
			snprintf(tok + 2 * i, 3, "%02x", (unsigned char)last[i]);
		json_object_set_new(md, "continue", json_string(tok));
	}
	if (view == VIEW_ASSIGNMENT) {
		json_t *a = json_array();
		size_t i;
		json_t *x;
		json_array_foreach(items, i, x) {
			if (json_object_get(json_object_get(x, "spec"), "assignment"))
				json_array_append_new(a, assignment_of(x));
		}
		json_decref(items);
		items = a;
	}
	return send_json(srv, c, 200,
			 json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", CTL_API_VERSION, "kind", kl,
				   "metadata", md, "items", items));
}

static bool spec_equal(const json_t *a, const json_t *b)
{
	const json_t *sa = json_object_get(a, "spec"), *sb = json_object_get(b, "spec");
	if (!sa && !sb)
		return true;
	if (!sa || !sb)
		return json_object_size(sa ? sa : sb) == 0;
	return json_equal(sa, sb);
}

static enum MHD_Result do_create(struct ctl_server *srv, struct MHD_Connection *c,
				 enum ctl_kind kind, const struct req *rq, const struct who *w)
{
	enum MHD_Result res;
	json_t *obj = parse_body(srv, c, rq, &res);
	if (!obj)
		return res;
	char path[256], why[256];
	if (ctl_obj_validate(kind, obj, path, sizeof(path), why, sizeof(why)) < 0) {
		json_decref(obj);
		return invalid(srv, c, path, why);
	}
	const char *name = ctl_obj_name(obj);
	if (w->role == CTL_ROLE_GATEWAY) {
		const char *own = ctl_obj_owner(obj);
		if (kind != CTL_KIND_GATEWAY || strcmp(name, w->gateway) != 0 ||
		    (own && strcmp(own, w->gateway) != 0)) {
			json_decref(obj);
			return fail(srv, c, 403, "a gateway may create only its own Gateway object");
		}
	}
	json_t *md = json_object_get(obj, "metadata");
	char ts[32];
	now_rfc3339(ts, sizeof(ts));
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	json_object_set_new(md, "generation", json_integer(1));
	json_object_del(md, "resourceVersion");
	if (!json_object_get(obj, "spec"))
		json_object_set_new(obj, "spec", json_object());
	int r = ctl_store_create(srv->store, kind, obj);
	if (r < 0) {
		enum MHD_Result res2 = fail_errno(srv, c, r, name);
		json_decref(obj);
		return res2;
	}
	return send_json(srv, c, 201, obj);
}

static enum MHD_Result do_update(struct ctl_server *srv, struct MHD_Connection *c,
				 enum ctl_kind kind, const char *name, bool status_only,
				 const struct req *rq, const struct who *w)
{
	enum MHD_Result res;
	json_t *obj = parse_body(srv, c, rq, &res);
	if (!obj)
		return res;
	char path[256], why[256];
	if (ctl_obj_validate(kind, obj, path, sizeof(path), why, sizeof(why)) < 0) {
		json_decref(obj);
		return invalid(srv, c, path, why);
	}
	if (strcmp(ctl_obj_name(obj), name) != 0) {
		json_decref(obj);
		return invalid(srv, c, "metadata.name", "does not match the URL");
	}
	uint64_t want = ctl_obj_rv(obj);
	json_t *cur = NULL;
	int r = ctl_store_get(srv->store, kind, name, &cur);
	if (r < 0) {
		json_decref(obj);
		return fail_errno(srv, c, r, name);
	}
	if (w->role == CTL_ROLE_GATEWAY) {
		/* Own Gateway object, or the status of its own devices. */
		const char *own = ctl_obj_owner(cur);
		const char *nown = ctl_obj_owner(obj);
		bool ok = kind == CTL_KIND_GATEWAY ? strcmp(name, w->gateway) == 0
			  : kind == CTL_KIND_DEVICE ? status_only && own &&
							  strcmp(own, w->gateway) == 0
						    : false;
		if (ok && nown && strcmp(nown, w->gateway) != 0)
			ok = false;
		if (!ok) {
			json_decref(obj);
			json_decref(cur);
			return fail(srv, c, 403, "gateway %s may not write %s %s", w->gateway,
				    ctl_kind_name(kind), name);
		}
	}
	json_t *out;
	if (status_only) {
		out = cur;
		json_t *st = json_object_get(obj, "status");
		json_object_set(out, "status", st ? st : json_object());
	} else {
		out = obj;
		json_t *md = json_object_get(out, "metadata"), *cmd = json_object_get(cur, "metadata");
		json_object_set(md, "creationTimestamp", json_object_get(cmd, "creationTimestamp"));
		json_int_t gen = json_integer_value(json_object_get(cmd, "generation"));
		json_object_set_new(md, "generation",
				    json_integer(spec_equal(cur, out) ? gen : gen + 1));
		/* status belongs to the status subresource */
		json_t *st = json_object_get(cur, "status");
		if (st)
			json_object_set(out, "status", st);
		else
			json_object_del(out, "status");
		if (!json_object_get(out, "spec"))
			json_object_set_new(out, "spec", json_object());
	}
	/* Without a version in the body: compare against what was just read. */
	r = ctl_store_update(srv->store, kind, out, want ? want : ctl_obj_rv(cur));
	if (r == 0 && status_only)
		srv->status_updates++;
	if (r < 0) {
		json_decref(obj);
		json_decref(cur);
		return fail_errno(srv, c, r, name);
	}
	json_incref(out);
	json_decref(obj);
	json_decref(cur);
	return send_json(srv, c, 200, out);
}

static enum MHD_Result do_batch(struct ctl_server *srv, struct MHD_Connection *c,
				const struct req *rq, const struct who *w)
{
	enum MHD_Result res;
	json_t *b = parse_body(srv, c, rq, &res);
	if (!b)
		return res;
	const char *kn = json_string_value(json_object_get(b, "kind"));
	int kind = kn ? ctl_kind_parse(kn) : CTL_KIND_DEVICE;
	json_t *items = json_object_get(b, "items");
	json_t *create = json_object_get(b, "create");
	if (kind < 0) {
		json_decref(b);
		return invalid(srv, c, "kind", "unknown kind");
	}
	if (!json_is_array(items)) {
		json_decref(b);
		return invalid(srv, c, "items", "must be an array");
	}
	if (json_array_size(items) > CTL_STORE_BATCH_MAX) {
		json_decref(b);
		return fail(srv, c, 413, "at most %d items per batch", CTL_STORE_BATCH_MAX);
	}
	if (w->role == CTL_ROLE_GATEWAY && kind != CTL_KIND_DEVICE) {
		json_decref(b);
		return fail(srv, c, 403, "a gateway may batch only Device status");
	}
	size_t n = json_array_size(items);
	struct ctl_status_item *v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		json_decref(b);
		return MHD_NO;
	}
	/* Check every item first: a malformed batch writes nothing. */
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_array_get(items, i);
		json_t *st = json_object_get(it, "status");
		char path[300], why[256], p2[300];
		v[i].name = json_string_value(json_object_get(it, "name"));
		v[i].status = st;
		v[i].labels = json_object_get(it, "labels");
		snprintf(p2, sizeof(p2), "items[%zu].name", i);
		if (!v[i].name || !ctl_obj_name_valid(v[i].name)) {
			free(v);
			json_decref(b);
			return invalid(srv, c, p2, "must be an object name");
		}
		if (v[i].labels) {
			/* checked as the metadata of the object it may create */
			json_t *probe = json_pack("{s:s, s:s, s:{s:s, s:O}}", "apiVersion",
						  CTL_API_VERSION, "kind",
						  ctl_kind_name((enum ctl_kind)kind), "metadata", "name",
						  v[i].name, "labels", v[i].labels);
			int bad = ctl_obj_validate((enum ctl_kind)kind, probe, path, sizeof(path), why,
						   sizeof(why));
			json_decref(probe);
			if (bad) {
				snprintf(p2, sizeof(p2), "items[%zu].%s", i,
					 strncmp(path, "metadata.", 9) == 0 ? path + 9 : path);
				free(v);
				json_decref(b);
				return invalid(srv, c, p2, why);
			}
		}
		if (ctl_obj_validate_status((enum ctl_kind)kind, st, path, sizeof(path), why,
					    sizeof(why)) < 0) {
			snprintf(p2, sizeof(p2), "items[%zu].%s", i, path);
			free(v);
			json_decref(b);
			return invalid(srv, c, p2, why);
		}
		if (w->role == CTL_ROLE_GATEWAY) {
			const char *g = json_string_value(json_object_get(st, "gateway"));
			if (!g)
				json_object_set_new(st, "gateway", json_string(w->gateway));
			else if (strcmp(g, w->gateway) != 0) {
				enum MHD_Result res2 =
					fail(srv, c, 403, "%s: status.gateway names another gateway",
					     v[i].name);
				free(v);
				json_decref(b);
				return res2;
			}
		}
	}
	uint64_t rv = 0;
	int r = ctl_store_status_batch(srv->store, (enum ctl_kind)kind, v, n,
				       w->role == CTL_ROLE_GATEWAY ? w->gateway : NULL,
				       create ? json_is_true(create) : true, &rv);
	if (r < 0) {
		free(v);
		json_decref(b);
		return fail_errno(srv, c, r, "batch");
	}
	json_t *results = json_array();
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].result == 0) {
			srv->status_updates++;
			continue;
		}
		failed++;
		json_array_append_new(results, json_pack("{s:s, s:i}", "name", v[i].name, "code",
							 (int)errno_code(v[i].result)));
	}
	char rvs[24];
	snprintf(rvs, sizeof(rvs), "%" PRIu64, rv);
	free(v);
	json_decref(b);
	return send_json(srv, c, 200,
			 json_pack("{s:s, s:i, s:i, s:o}", "resourceVersion", rvs, "updated",
				   (int)(n - failed), "failed", (int)failed, "errors", results));
}

/* ---- artifacts ---- */

static bool is_sha256(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

int ctl__sha256_hex(const void *data, size_t len, char out[65]);

static enum MHD_Result do_artifact(struct ctl_server *srv, struct MHD_Connection *c,
				   const char *method, const char *id, const struct req *rq,
				   const struct who *w)
{
	if (!srv->artifacts_dir)
		return fail(srv, c, 404, "no artifact store configured");
	if (!is_sha256(id))
		return fail(srv, c, 404, "artifacts are named by their sha256");
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", srv->artifacts_dir, id);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fail(srv, c, 404, "artifact %s not found", id);
		struct stat st;
		fstat(fd, &st);
		uint64_t off = 0, size = (uint64_t)st.st_size;
		unsigned code = 200;
		const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
		unsigned long long from;
		if (range && sscanf(range, "bytes=%llu-", &from) == 1) {
			if (from >= size) {
				close(fd);
				return fail(srv, c, 416, "range starts past the end");
			}
			off = from;
			code = 206;
		}
		struct MHD_Response *resp =
			MHD_create_response_from_fd_at_offset64(size - off, fd, off);
		if (!resp) {
			close(fd);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
		MHD_add_response_header(resp, "Accept-Ranges", "bytes");
		if (code == 206) {
			char cr[96];
			snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, off,
				 size - 1, size);
			MHD_add_response_header(resp, "Content-Range", cr);
		}
		enum MHD_Result res = MHD_queue_response(c, code, resp);
		MHD_destroy_response(resp);
		srv->req_by_code[code]++;
		return res;
	}
	if (strcmp(method, "PUT") != 0)
		return fail(srv, c, 405, "artifacts: GET or PUT");
	if (w->role != CTL_ROLE_ADMIN)
		return fail(srv, c, 403, "only an admin uploads artifacts");
	char sum[65];
	if (ctl__sha256_hex(rq->buf ? rq->buf : "", rq->len, sum) < 0)
		return fail(srv, c, 500, "sha256 failed");
	if (strcmp(sum, id) != 0)
		return invalid(srv, c, "body", "sha256 of the body does not match the URL");
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)gettid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(srv, c, 500, "cannot store artifact: %s", strerror(errno));
	size_t done = 0;
	while (done < rq->len) {
		ssize_t k = write(fd, rq->buf + done, rq->len - done);
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	if (done != rq->len || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
		unlink(tmp);
		return fail(srv, c, 500, "cannot store artifact");
	}
	return send_json(srv, c, 201,
			 json_pack("{s:s, s:I}", "sha256", id, "size", (json_int_t)rq->len));
}

/* ---- metrics ---- */

static enum MHD_Result do_metrics(struct ctl_server *srv, struct MHD_Connection *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return MHD_NO;
	uint64_t rv = 0;
	(void)ctl_store_revision(srv->store, &rv);
	fprintf(f, "# HELP flotilla_controller_build_info Build of the running controller.\n"
		   "# TYPE flotilla_controller_build_info gauge\n"
		   "flotilla_controller_build_info{version=\"%s\",store=\"%s\"} 1\n",
		srv->version, ctl_store_backend(srv->store));
	fprintf(f, "# HELP flotilla_controller_uptime_seconds Seconds since the controller started.\n"
		   "# TYPE flotilla_controller_uptime_seconds gauge\n"
		   "flotilla_controller_uptime_seconds %ld\n",
		(long)(time(NULL) - srv->started));
	fprintf(f, "# HELP flotilla_controller_is_leader 1 while this controller leads.\n"
		   "# TYPE flotilla_controller_is_leader gauge\n"
		   "flotilla_controller_is_leader %d\n",
		ctl_store_is_leader(srv->store) ? 1 : 0);
	fprintf(f, "# HELP flotilla_controller_store_revision Latest resourceVersion seen.\n"
		   "# TYPE flotilla_controller_store_revision gauge\n"
		   "flotilla_controller_store_revision %" PRIu64 "\n",
		rv);
	fprintf(f, "# HELP flotilla_controller_watchers Open watch streams.\n"
		   "# TYPE flotilla_controller_watchers gauge\n"
		   "flotilla_controller_watchers %lu\n",
		(unsigned long)srv->watchers);
	fprintf(f, "# HELP flotilla_controller_watch_events_total Events sent to watchers.\n"
		   "# TYPE flotilla_controller_watch_events_total counter\n"
		   "flotilla_controller_watch_events_total %lu\n",
		(unsigned long)srv->events_sent);
	fprintf(f, "# HELP flotilla_controller_status_updates_total Status writes accepted.\n"
		   "# TYPE flotilla_controller_status_updates_total counter\n"
		   "flotilla_controller_status_updates_total %lu\n",
		(unsigned long)srv->status_updates);
	fprintf(f, "# HELP flotilla_controller_http_requests_total Requests answered, by code.\n"
		   "# TYPE flotilla_controller_http_requests_total counter\n");
	for (unsigned i = 100; i < 600; i++)
		if (srv->req_by_code[i])
			fprintf(f, "flotilla_controller_http_requests_total{code=\"%u\"} %lu\n", i,
				(unsigned long)srv->req_by_code[i]);
	if (srv->metrics_hook)
		srv->metrics_hook(srv->hook_ctx, f);
	fclose(f);
	return send_text(srv, c, 200, "text/plain; version=0.0.4", buf);
}

/* ---- GitOps webhook ---- */

static enum MHD_Result do_sync(struct ctl_server *srv, struct MHD_Connection *c,
			       const char *method, const struct who *w)
{
	if (!srv->sync_hook)
		return fail(srv, c, 404, "GitOps sync is not configured");
	bool run = strcmp(method, "POST") == 0;
	if (!run && !(strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0))
		return fail(srv, c, 405, "GET or POST /sync");
	if (w->role == CTL_ROLE_GATEWAY || (run && w->role != CTL_ROLE_ADMIN))
		return fail(srv, c, 403, "only an admin triggers a sync");
	json_t *body = NULL;
	int r = srv->sync_hook(srv->hook_ctx, run, &body);
	if (!body)
		body = json_object();
	unsigned code = r == 0 ? 200 : r == -EINVAL || r == -E2BIG ? 422 : r == -EIO ? 502 : 500;
	return send_json(srv, c, code, body);
}

/* ---- routing ---- */

static bool is_read(const char *m)
{
	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static enum MHD_Result route(struct ctl_server *srv, struct MHD_Connection *c, const char *url,
			     const char *method, struct req *rq)
{
	if (strcmp(url, "/healthz") == 0)
		return send_text(srv, c, 200, "text/plain", strdup("ok\n"));
	if (strcmp(url, "/metrics") == 0)
		return do_metrics(srv, c);

	struct who w;
	authenticate(srv, c, &w);
	if (w.role == CTL_ROLE_NONE)
		return fail(srv, c, 401, "a valid bearer token is required");
	if (w.role == CTL_ROLE_READONLY && !is_read(method))
		return fail(srv, c, 403, "read-only token");
	if (rq->too_big)
		return fail(srv, c, 413, "body larger than %zu bytes", rq->limit);

	if (strncmp(url, "/artifacts/", 11) == 0)
		return do_artifact(srv, c, method, url + 11, rq, &w);
	if (strcmp(url, "/version") == 0)
		return send_json(srv, c, 200,
				 json_pack("{s:s, s:s}", "version", srv->version, "store",
					   ctl_store_backend(srv->store)));
	if (strcmp(url, "/sync") == 0)
		return do_sync(srv, c, method, &w);
	if (strncmp(url, API_PREFIX, strlen(API_PREFIX)) != 0)
		return fail(srv, c, 404, "no such path");

	/* segments: kind [/name [/sub]] */
	char segs[3][CTL_NAME_MAX + 2] = {"", "", ""};
	int ns = 0;
	const char *p = url + strlen(API_PREFIX);
	while (*p && ns < 3) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == 0 || l > CTL_NAME_MAX)
			return fail(srv, c, 404, "no such path");
		memcpy(segs[ns], p, l);
		segs[ns][l] = 0;
		ns++;
		p += l;
		if (*p == '/')
			p++;
	}
	if (*p || ns == 0)
		return fail(srv, c, 404, "no such path");

	if (strcmp(segs[0], "batch") == 0 && ns == 2 && strcmp(segs[1], "status") == 0) {
		if (strcmp(method, "POST") != 0)
			return fail(srv, c, 405, "POST a batch");
		return do_batch(srv, c, rq, &w);
	}
	int kind = ctl_kind_parse(segs[0]);
	if (kind < 0 || strcmp(segs[0], ctl_kind_plural((enum ctl_kind)kind)) != 0)
		return fail(srv, c, 404, "no resource %s", segs[0]);
	const char *name = ns >= 2 ? segs[1] : NULL;
	const char *sub = ns == 3 ? segs[2] : NULL;
	if (sub && strcmp(sub, "status") != 0 &&
	    !(strcmp(sub, "assignments") == 0 && kind == CTL_KIND_GATEWAY))
		return fail(srv, c, 404, "no subresource %s", sub);
	bool gw = w.role == CTL_ROLE_GATEWAY;

	if (sub && strcmp(sub, "assignments") == 0) {
		if (!is_read(method))
			return fail(srv, c, 405, "assignments are read-only");
		if (gw && strcmp(name, w.gateway) != 0)
			return fail(srv, c, 403, "gateway %s may not read %s's assignments",
				    w.gateway, name);
		return do_list(srv, c, CTL_KIND_DEVICE, name, VIEW_ASSIGNMENT);
	}
	if (!name) {
		if (strcmp(method, "POST") == 0)
			return do_create(srv, c, (enum ctl_kind)kind, rq, &w);
		if (!is_read(method))
			return fail(srv, c, 405, "GET or POST a collection");
		if (gw)
			return fail(srv, c, 403, "a gateway may not list %s",
				    ctl_kind_plural((enum ctl_kind)kind));
		return do_list(srv, c, (enum ctl_kind)kind, NULL, VIEW_OBJECT);
	}
	if (is_read(method)) {
		json_t *o;
		int r = ctl_store_get(srv->store, (enum ctl_kind)kind, name, &o);
		if (r < 0)
			return fail_errno(srv, c, r, name);
		if (gw) {
			const char *own = ctl_obj_owner(o);
			bool ok = kind == CTL_KIND_GATEWAY ? strcmp(name, w.gateway) == 0
				  : kind == CTL_KIND_DEVICE
					  ? own && strcmp(own, w.gateway) == 0
					  : kind == CTL_KIND_RELEASE;
			if (!ok) {
				json_decref(o);
				return fail(srv, c, 403, "gateway %s may not read %s %s", w.gateway,
					    ctl_kind_name((enum ctl_kind)kind), name);
			}
		}
		return send_json(srv, c, 200, o);
	}
	if (strcmp(method, "PUT") == 0)
		return do_update(srv, c, (enum ctl_kind)kind, name, sub != NULL, rq, &w);
	if (strcmp(method, "DELETE") == 0 && !sub) {
		if (gw)
			return fail(srv, c, 403, "a gateway may not delete");
		const char *rvs =
			MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
		uint64_t want = rvs ? strtoull(rvs, NULL, 10) : 0;
		json_t *old = NULL;
		int r = ctl_store_delete(srv->store, (enum ctl_kind)kind, name, want, &old);
		if (r < 0)
			return fail_errno(srv, c, r, name);
		return send_json(srv, c, 200, old ? old : status_obj(200, "deleted", NULL, NULL));
	}
	return fail(srv, c, 405, "method %s not allowed here", method);
}

static size_t limit_for(struct ctl_server *srv, const char *url)
{
	if (strncmp(url, "/artifacts/", 11) == 0)
		return srv->artifact_max;
	if (strcmp(url, API_PREFIX "batch/status") == 0)
		return srv->batch_max;
	return srv->body_max;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct ctl_server *srv = cls;
	struct req *rq = *con_cls;
	(void)version;
	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->limit = limit_for(srv, url);
		*con_cls = rq;
		const char *cl =
			MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > rq->limit)
			rq->too_big = true;
		return MHD_YES;
	}
	if (*upload_size) {
		if (!rq->too_big) {
			if (rq->len + *upload_size > rq->limit) {
				rq->too_big = true;
				free(rq->buf);
				rq->buf = NULL;
				rq->len = rq->cap = 0;
			} else {
				if (rq->len + *upload_size + 1 > rq->cap) {
					size_t nc = rq->cap ? rq->cap : 4096;
					while (nc < rq->len + *upload_size + 1)
						nc *= 2;
					char *nb = realloc(rq->buf, nc);
					if (!nb)
						return MHD_NO;
					rq->buf = nb;
					rq->cap = nc;
				}
				memcpy(rq->buf + rq->len, upload, *upload_size);
				rq->len += *upload_size;
				rq->buf[rq->len] = 0;
			}
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (srv->stopping)
		return fail(srv, c, 503, "shutting down");
	return route(srv, c, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)c;
	(void)toe;
	if (rq) {
		free(rq->buf);
		free(rq);
		*con_cls = NULL;
	}
}

int ctl_server_start(const struct ctl_server_config *cfg, struct ctl_store *store,
		     struct ctl_server **ret_srv)
{
	if (!cfg || !store || !ret_srv || !cfg->listen || (!cfg->tokens_file && !cfg->no_auth) ||
	    (!cfg->tls_cert != !cfg->tls_key))
		return -EINVAL;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char host[64];
	unsigned port;
	const char *colon = strrchr(cfg->listen, ':');
	if (!colon || (size_t)(colon - cfg->listen) >= sizeof(host) ||
	    sscanf(colon + 1, "%u", &port) != 1 || port > 65535)
		return -EINVAL;
	memcpy(host, cfg->listen, (size_t)(colon - cfg->listen));
	host[colon - cfg->listen] = 0;
	if (inet_pton(AF_INET, host[0] ? host : "127.0.0.1", &sa.sin_addr) != 1)
		return -EINVAL;
	sa.sin_port = htons((uint16_t)port);

	struct ctl_server *srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	pthread_rwlock_init(&srv->tlock, NULL);
	srv->store = store;
	srv->no_auth = cfg->no_auth;
	srv->body_max = cfg->body_max ? cfg->body_max : CTL_BODY_MAX;
	srv->batch_max = cfg->batch_max ? cfg->batch_max : CTL_BATCH_BODY_MAX;
	srv->artifact_max = cfg->artifact_max ? cfg->artifact_max : CTL_ARTIFACT_MAX;
	srv->version = strdup(cfg->version ? cfg->version : "0.0.0");
	srv->tokens_file = cfg->tokens_file ? strdup(cfg->tokens_file) : NULL;
	srv->artifacts_dir = cfg->artifacts_dir ? strdup(cfg->artifacts_dir) : NULL;
	srv->started = time(NULL);
	srv->sync_hook = cfg->sync_hook;
	srv->metrics_hook = cfg->metrics_hook;
	srv->hook_ctx = cfg->hook_ctx;
	int r = ctl_server_reload(srv);
	if (r < 0)
		goto fail;
	/* No MHD_USE_ERROR_LOG: a watcher hanging up is normal, not worth a line. */
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	if (cfg->tls_cert) {
		if ((r = read_small_file(cfg->tls_cert, 1 << 20, &srv->cert_pem, NULL)) < 0 ||
		    (r = read_small_file(cfg->tls_key, 1 << 20, &srv->key_pem, NULL)) < 0)
			goto fail;
		flags |= MHD_USE_TLS;
		srv->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, srv,
					  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					  MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
					  MHD_OPTION_CONNECTION_LIMIT, 2000U,
					  MHD_OPTION_HTTPS_MEM_CERT, srv->cert_pem,
					  MHD_OPTION_HTTPS_MEM_KEY, srv->key_pem, MHD_OPTION_END);
	} else {
		srv->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, srv,
					  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
					  MHD_OPTION_NOTIFY_COMPLETED, completed, srv,
					  MHD_OPTION_CONNECTION_LIMIT, 2000U, MHD_OPTION_END);
	}
	if (!srv->d) {
		r = -EADDRINUSE;
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : (uint16_t)port;
	*ret_srv = srv;
	return 0;
fail:
	ctl_server_stop(srv);
	return r;
}

uint16_t ctl_server_port(const struct ctl_server *srv)
{
	return srv->port;
}

void ctl_server_stop(struct ctl_server *srv)
{
	if (!srv)
		return;
	srv->stopping = true;
	if (srv->d) {
		MHD_quiesce_daemon(srv->d);
		MHD_stop_daemon(srv->d);
	}
	tokens_done(&srv->tokens);
	pthread_rwlock_destroy(&srv->tlock);
	free(srv->tokens_file);
	free(srv->artifacts_dir);
	free(srv->version);
	free(srv->cert_pem);
	free(srv->key_pem);
	free(srv);
}
