/* libmicrohttpd without its own thread: its epoll fd sits in the gateway's
 * loop, so handlers run on the loop's thread and need no locks. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <microhttpd.h>

#include "gateway/config.h"
#include "gateway/http.h"
#include "gateway/log.h"

#define ROUTES_MAX 32

struct route {
	char path[64];
	size_t len;
	int prefix;
	gw_http_fn fn;
	void *ctx;
};

struct gw_http {
	struct MHD_Daemon *d;
	struct gw_loop *loop;
	struct gw_watch w;
	uint16_t port;
	struct route routes[ROUTES_MAX];
	unsigned n_routes;
	uint64_t ok, refused;
};

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt,
							  va_list ap)
{
	(void)cls;
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = 0;
	char q[600];
	gw_warn("http server", "detail=%s", gw_log_quote(q, sizeof(q), msg));
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
				 const char *ctype, char *body, size_t len)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	enum MHD_Result ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result refuse(struct gw_http *h, struct MHD_Connection *c, unsigned status,
			      const char *method, const char *url, const char *why)
{
	h->refused++;
	char qm[64], qu[GW_LOG_QMAX + 64], qw[GW_LOG_QMAX];
	char u[GW_LOG_QMAX];
	snprintf(u, sizeof(u), "%.120s", url ? url : "");
	gw_warn("http request refused", "status=%u method=%s path=%s reason=%s", status,
		gw_log_quote(qm, sizeof(qm), method ? method : ""), gw_log_quote(qu, sizeof(qu), u),
		gw_log_quote(qw, sizeof(qw), why));
	char *body = NULL;
	if (asprintf(&body, "{\"error\":\"%s\",\"status\":%u}\n", why, status) < 0)
		return MHD_NO;
	return send_text(c, status, "application/json", body, strlen(body));
}

struct qctx {
	struct gw_query *q;
	int rc;
};

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key,
			      const char *value)
{
	(void)kind;
	struct qctx *qc = cls;
	if (qc->rc == 0)
		qc->rc = gw_query_set(qc->q, key, value);
	return qc->rc == 0 ? MHD_YES : MHD_NO;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	struct gw_http *h = cls;
	static int first;
	if (*con_cls == NULL) {
		/* first call: headers only; refuse bodies before they are read */
		*con_cls = &first;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if ((cl && strcmp(cl, "0") != 0) ||
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						MHD_HTTP_HEADER_TRANSFER_ENCODING))
			return refuse(h, c, MHD_HTTP_CONTENT_TOO_LARGE, method, url,
				      "request bodies are not accepted");
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return refuse(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, method, url,
			      "only GET and HEAD are served");
	size_t ulen = strlen(url);
	int prc = gw_http_check_path(url, ulen);
	if (prc == -E2BIG)
		return refuse(h, c, MHD_HTTP_URI_TOO_LONG, method, url, "path too long");
	if (prc)
		return refuse(h, c, MHD_HTTP_BAD_REQUEST, method, url, "malformed path");
	struct gw_query q;
	gw_query_init(&q);
	struct qctx qc = {&q, 0};
	(void)MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, on_arg, &qc);
	if (qc.rc)
		return refuse(h, c, MHD_HTTP_BAD_REQUEST, method, url,
			      qc.rc == -E2BIG ? "too many or too long query arguments"
					      : "unknown or out-of-range query argument");
	const struct route *best = NULL;
	for (unsigned i = 0; i < h->n_routes; i++) {
		const struct route *r = &h->routes[i];
		int match = r->prefix ? strncmp(url, r->path, r->len) == 0
				      : strcmp(url, r->path) == 0;
		if (match && (!best || r->len > best->len))
			best = r;
	}
	if (!best)
		return refuse(h, c, MHD_HTTP_NOT_FOUND, method, url, "no such path");
	struct gw_http_reply rep = {200, "application/json", NULL, 0};
	int rc = best->fn(best->ctx, best->prefix ? url + best->len : "", &q, &rep);
	if (rc) {
		free(rep.body);
		if (rc == -ENOENT)
			return refuse(h, c, MHD_HTTP_NOT_FOUND, method, url, "not found");
		if (rc == -EINVAL)
			return refuse(h, c, MHD_HTTP_BAD_REQUEST, method, url, "bad request");
		return refuse(h, c, MHD_HTTP_SERVICE_UNAVAILABLE, method, url,
			      "cannot render the reply");
	}
	h->ok++;
	if (!rep.body) {
		rep.body = strdup("");
		rep.len = 0;
		if (!rep.body)
			return MHD_NO;
	}
	return send_text(c, rep.status, rep.content_type, rep.body, rep.len);
}

static void on_ready(struct gw_watch *w, uint32_t events)
{
	(void)events;
	struct gw_http *h = w->ctx;
	(void)MHD_run(h->d);
}

void gw_http_tick(struct gw_http *h)
{
	if (h)
		(void)MHD_run(h->d);
}

int gw_http_new(struct gw_loop *loop, const char *addr, struct gw_http **ret_h)
{
	uint32_t ip;
	uint16_t port;
	if (gw_config_parse_addr(addr, &ip, &port))
		return -EINVAL;
	struct gw_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = ip;
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO, port, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)GW_HTTP_CONN_MAX,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)GW_HTTP_MEM_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return -EADDRINUSE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	const union MHD_DaemonInfo *pi = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = pi ? pi->port : port;
	if (!info) {
		MHD_stop_daemon(h->d);
		free(h);
		return -EIO;
	}
	h->loop = loop;
	h->w.fd = info->epoll_fd;
	h->w.fn = on_ready;
	h->w.ctx = h;
	int rc = gw_loop_add(loop, &h->w, EPOLLIN);
	if (rc) {
		MHD_stop_daemon(h->d);
		free(h);
		return rc;
	}
	/* scrapes are served between device events, not after a whole burst */
	gw_loop_set_priority(loop, &h->w);
	*ret_h = h;
	return 0;
}

void gw_http_free(struct gw_http *h)
{
	if (!h)
		return;
	gw_loop_del(h->loop, &h->w);
	MHD_stop_daemon(h->d);
	free(h);
}

uint16_t gw_http_port(const struct gw_http *h)
{
	return h->port;
}

int gw_http_handle(struct gw_http *h, const char *path, gw_http_fn fn, void *ctx)
{
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(h->routes[0].path) || path[0] != '/')
		return -EINVAL;
	if (h->n_routes >= ROUTES_MAX)
		return -ENOSPC;
	struct route *r = &h->routes[h->n_routes++];
	memcpy(r->path, path, len + 1);
	r->len = len;
	r->prefix = path[len - 1] == '/' && len > 1;
	r->fn = fn;
	r->ctx = ctx;
	return 0;
}

void gw_http_stats(const struct gw_http *h, uint64_t *ret_ok, uint64_t *ret_refused)
{
	*ret_ok = h->ok;
	*ret_refused = h->refused;
}
