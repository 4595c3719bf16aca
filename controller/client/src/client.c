/* Client of the controller's API over libcurl. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/client.h"

#define API "/apis/flotilla.io/v1/"
#define WATCH_LINE_MAX (4 * 1024 * 1024)

struct ctl_client {
	CURL *h;
	char *server, *token, *ca;
	bool insecure;
	long timeout_ms;
	long code;
	char msg[512];
};

static void init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ctl_client_new(const struct ctl_client_config *cfg, struct ctl_client **ret)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (!cfg || !cfg->server || !ret)
		return -EINVAL;
	pthread_once(&once, init_once);
	struct ctl_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->h = curl_easy_init();
	c->server = strdup(cfg->server);
	c->token = cfg->token ? strdup(cfg->token) : NULL;
	c->ca = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	c->insecure = cfg->insecure;
	c->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	if (!c->h || !c->server || (cfg->token && !c->token)) {
		ctl_client_free(c);
		return -ENOMEM;
	}
	size_t l = strlen(c->server);
	while (l && c->server[l - 1] == '/')
		c->server[--l] = 0;
	*ret = c;
	return 0;
}

void ctl_client_free(struct ctl_client *c)
{
	if (!c)
		return;
	if (c->h)
		curl_easy_cleanup(c->h);
	free(c->server);
	free(c->token);
	free(c->ca);
	free(c);
}

const char *ctl_client_message(const struct ctl_client *c)
{
	return c->msg;
}

long ctl_client_last_code(const struct ctl_client *c)
{
	return c->code;
}

static int code_errno(long code, const char *reason)
{
	if (code >= 200 && code < 300)
		return 0;
	switch (code) {
	case 401: return -EACCES;
	case 403: return -EPERM;
	case 404: return -ENOENT;
	case 409: return reason && strcmp(reason, "AlreadyExists") == 0 ? -EEXIST : -ESTALE;
	case 410: return -ERANGE;
	case 413: return -E2BIG;
	case 400:
	case 422: return -EINVAL;
	default: return -EIO;
	}
}

static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
	default: return -EHOSTUNREACH;
	}
}

struct buf {
	char *p;
	size_t len, cap, max;
	/* watch mode */
	ctl_client_event_fn fn;
	void *user;
	int stop;
	int err;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	if (b->len + n + 1 > b->max) {
		b->err = -E2BIG;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 8192;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np)
			return 0;
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, ptr, n);
	b->len += n;
	b->p[b->len] = 0;
	if (!b->fn)
		return n;
	/* Watch: hand out each complete line. */
	char *nl;
	while (!b->stop && (nl = memchr(b->p, '\n', b->len))) {
		*nl = 0;
		json_t *ev = json_loads(b->p, 0, NULL);
		size_t used = (size_t)(nl - b->p) + 1;
		memmove(b->p, nl + 1, b->len - used);
		b->len -= used;
		b->p[b->len] = 0;
		if (!ev)
			continue;
		const char *type = json_string_value(json_object_get(ev, "type"));
		json_t *obj = json_object_get(ev, "object");
		if (type && strcmp(type, "ERROR") == 0) {
			long code = (long)json_integer_value(json_object_get(obj, "code"));
			b->err = code ? code_errno(code, NULL) : -EIO;
			b->stop = 1;
		} else if (type && b->fn(b->user, type, obj)) {
			b->stop = 1;
		}
		json_decref(ev);
	}
	return b->stop ? 0 : n;
}

static struct curl_slist *prepare(struct ctl_client *c, const char *method, const char *url,
				  struct buf *b)
{
	struct curl_slist *hdr = NULL;
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	if (c->ca)
		curl_easy_setopt(c->h, CURLOPT_CAINFO, c->ca);
	if (c->insecure) {
		curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->token) {
		char *a;
		if (asprintf(&a, "Authorization: Bearer %s", c->token) >= 0) {
			hdr = curl_slist_append(hdr, a);
			free(a);
		}
	}
	hdr = curl_slist_append(hdr, "Expect:");
	return hdr;
}

static int raw(struct ctl_client *c, const char *method, const char *path, const char *ctype,
	       const void *body, size_t blen, json_t **ret_resp)
{
	char *url;
	if (asprintf(&url, "%s%s", c->server, path) < 0)
		return -ENOMEM;
	struct buf b = {.max = CTL_CLIENT_RESP_MAX};
	struct curl_slist *hdr = prepare(c, method, url, &b);
	if (body) {
		char ct[96];
		snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, ct);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
	}
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	c->code = 0;
	c->msg[0] = 0;
	CURLcode cc = curl_easy_perform(c->h);
	curl_slist_free_all(hdr);
	free(url);
	if (cc != CURLE_OK) {
		free(b.p);
		snprintf(c->msg, sizeof(c->msg), "%s", curl_easy_strerror(cc));
		return b.err ? b.err : curl_errno(cc);
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->code);
	json_t *j = b.p ? json_loadb(b.p, b.len, 0, NULL) : NULL;
	free(b.p);
	const char *reason = NULL;
	if (c->code >= 300) {
		const char *m = json_string_value(json_object_get(j, "message"));
		reason = json_string_value(json_object_get(j, "reason"));
		snprintf(c->msg, sizeof(c->msg), "%s", m ? m : "request refused");
		/* 409 from create is "exists", not a stale version */
		if (c->code == 409 && m && strstr(m, "already exists"))
			reason = "AlreadyExists";
	}
	int r = code_errno(c->code, reason);
	if (ret_resp)
		*ret_resp = j;
	else
		json_decref(j);
	return r;
}

int ctl_client_request(struct ctl_client *c, const char *method, const char *path,
		       const json_t *body, json_t **ret_resp)
{
	if (!c || !method || !path)
		return -EINVAL;
	char *text = NULL;
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return -ENOMEM;
	json_t *resp = NULL;
	int r = raw(c, method, path, "application/json", text, text ? strlen(text) : 0, &resp);
	free(text);
	if (ret_resp && r == 0)
		*ret_resp = resp;
	else
		json_decref(resp);
	return r;
}

static int path_of(char *buf, size_t len, const char *plural, const char *name, const char *sub)
{
	int n = snprintf(buf, len, API "%s%s%s%s%s", plural, name ? "/" : "", name ? name : "",
			 sub ? "/" : "", sub ? sub : "");
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int ctl_client_get(struct ctl_client *c, const char *plural, const char *name, json_t **ret)
{
	char p[512];
	int r = path_of(p, sizeof(p), plural, name, NULL);
	return r ? r : ctl_client_request(c, "GET", p, NULL, ret);
}

static char *escape(struct ctl_client *c, const char *s)
{
	char *e = curl_easy_escape(c->h, s, 0);
	char *d = e ? strdup(e) : NULL;
	curl_free(e);
	return d;
}

int ctl_client_list(struct ctl_client *c, const char *plural, const char *selector, size_t limit,
		    const char *cont, json_t **ret_list)
{
	char *sel = selector ? escape(c, selector) : NULL, *co = cont ? escape(c, cont) : NULL;
	char *p;
	int r = asprintf(&p, API "%s?limit=%zu%s%s%s%s", plural, limit, sel ? "&labelSelector=" : "",
			 sel ? sel : "", co ? "&continue=" : "", co ? co : "");
	free(sel);
	free(co);
	if (r < 0)
		return -ENOMEM;
	r = ctl_client_request(c, "GET", p, NULL, ret_list);
	free(p);
	return r;
}

int ctl_client_create(struct ctl_client *c, const char *plural, const json_t *obj, json_t **ret)
{
	char p[512];
	int r = path_of(p, sizeof(p), plural, NULL, NULL);
	return r ? r : ctl_client_request(c, "POST", p, obj, ret);
}

int ctl_client_update(struct ctl_client *c, const char *plural, const json_t *obj, json_t **ret)
{
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	if (!name)
		return -EINVAL;
	char p[512];
	int r = path_of(p, sizeof(p), plural, name, NULL);
	return r ? r : ctl_client_request(c, "PUT", p, obj, ret);
}

int ctl_client_apply(struct ctl_client *c, const char *plural, const json_t *obj, json_t **ret,
		     int *ret_created)
{
	const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
	if (!name)
		return -EINVAL;
	for (int attempt = 0; attempt < 5; attempt++) {
		json_t *cur = NULL;
		int r = ctl_client_get(c, plural, name, &cur);
		if (r == -ENOENT) {
			r = ctl_client_create(c, plural, obj, ret);
			if (r == -EEXIST)
				continue;
			if (r == 0 && ret_created)
				*ret_created = 1;
			return r;
		}
		if (r)
			return r;
		json_t *o = json_deep_copy(obj);
		json_object_set(json_object_get(o, "metadata"), "resourceVersion",
				json_object_get(json_object_get(cur, "metadata"), "resourceVersion"));
		json_decref(cur);
		r = ctl_client_update(c, plural, o, ret);
		json_decref(o);
		if (r == -ESTALE)
			continue;
		if (r == 0 && ret_created)
			*ret_created = 0;
		return r;
	}
	return -ESTALE;
}

int ctl_client_update_status(struct ctl_client *c, const char *plural, const char *name,
			     const json_t *status, uint64_t rv, json_t **ret)
{
	json_t *cur = NULL;
	int r = ctl_client_get(c, plural, name, &cur);
	if (r)
		return r;
	json_object_set(cur, "status", (json_t *)status);
	if (rv) {
		char s[24];
		snprintf(s, sizeof(s), "%" PRIu64, rv);
		json_object_set_new(json_object_get(cur, "metadata"), "resourceVersion",
				    json_string(s));
	}
	char p[512];
	r = path_of(p, sizeof(p), plural, name, "status");
	if (r == 0)
		r = ctl_client_request(c, "PUT", p, cur, ret);
	json_decref(cur);
	return r;
}

int ctl_client_delete(struct ctl_client *c, const char *plural, const char *name, uint64_t rv)
{
	char p[600];
	int r = path_of(p, sizeof(p) - 64, plural, name, NULL);
	if (r)
		return r;
	if (rv)
		snprintf(p + strlen(p), 64, "?resourceVersion=%" PRIu64, rv);
	return ctl_client_request(c, "DELETE", p, NULL, NULL);
}

int ctl_client_watch(struct ctl_client *c, const char *path, uint64_t from_rv, int timeout_s,
		     ctl_client_event_fn fn, void *user)
{
	if (!c || !path || !fn)
		return -EINVAL;
	char *url;
	if (asprintf(&url, "%s%s%swatch=true&resourceVersion=%" PRIu64 "&timeoutSeconds=%d",
		     c->server, path, strchr(path, '?') ? "&" : "?", from_rv, timeout_s) < 0)
		return -ENOMEM;
	struct buf b = {.max = WATCH_LINE_MAX, .fn = fn, .user = user};
	struct curl_slist *hdr = prepare(c, "GET", url, &b);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdr);
	if (timeout_s > 0)
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT, (long)timeout_s + 5);
	c->code = 0;
	c->msg[0] = 0;
	CURLcode cc = curl_easy_perform(c->h);
	curl_slist_free_all(hdr);
	free(url);
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->code);
	int r;
	if (c->code && c->code != 200) {
		json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
		const char *m = json_string_value(json_object_get(j, "message"));
		snprintf(c->msg, sizeof(c->msg), "%s", m ? m : "watch refused");
		json_decref(j);
		r = code_errno(c->code, NULL);
	} else if (b.err) {
		r = b.err;
	} else if (b.stop || cc == CURLE_OK) {
		r = 0;
	} else {
		r = curl_errno(cc);
	}
	free(b.p);
	return r;
}

static void now_rfc3339(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

static int put_gateway_status(struct ctl_client *c, const char *name, const json_t *status,
			      bool replace)
{
	char ts[32];
	now_rfc3339(ts, sizeof(ts));
	for (int attempt = 0; attempt < 5; attempt++) {
		json_t *cur = NULL;
		int r = ctl_client_get(c, "gateways", name, &cur);
		if (r)
			return r;
		json_t *st = replace ? json_object() : json_deep_copy(json_object_get(cur, "status"));
		if (!st)
			st = json_object();
		if (status)
			json_object_update(st, (json_t *)status);
		json_object_set_new(st, "connected", json_true());
		json_object_set_new(st, "lastHeartbeat", json_string(ts));
		json_object_set_new(cur, "status", st);
		char p[512];
		path_of(p, sizeof(p), "gateways", name, "status");
		r = ctl_client_request(c, "PUT", p, cur, NULL);
		json_decref(cur);
		if (r != -ESTALE)
			return r;
	}
	return -ESTALE;
}

int ctl_client_gateway_register(struct ctl_client *c, const char *name, const json_t *spec,
				const json_t *status)
{
	json_t *obj = json_pack("{s:s, s:s, s:{s:s}, s:O}", "apiVersion", "flotilla.io/v1", "kind",
				"Gateway", "metadata", "name", name, "spec",
				spec ? spec : json_object());
	if (!spec)
		json_decref(json_object_get(obj, "spec")); /* the fresh {} had an extra ref */
	if (!obj)
		return -ENOMEM;
	int r = ctl_client_apply(c, "gateways", obj, NULL, NULL);
	json_decref(obj);
	return r ? r : put_gateway_status(c, name, status, true);
}

int ctl_client_gateway_heartbeat(struct ctl_client *c, const char *name, const json_t *status)
{
	return put_gateway_status(c, name, status, false);
}

int ctl_client_status_batch(struct ctl_client *c, const struct ctl_client_status *items, size_t n,
			    size_t *ret_failed)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *it = json_pack("{s:s, s:O}", "name", items[i].device, "status", items[i].status);
		if (items[i].labels)
			json_object_set(it, "labels", (json_t *)items[i].labels);
		json_array_append_new(arr, it);
	}
	json_t *body = json_pack("{s:s, s:b, s:o}", "kind", "Device", "create", 1, "items", arr);
	json_t *resp = NULL;
	int r = ctl_client_request(c, "POST", API "batch/status", body, &resp);
	json_decref(body);
	if (r == 0 && ret_failed)
		*ret_failed = (size_t)json_integer_value(json_object_get(resp, "failed"));
	json_decref(resp);
	return r;
}

int ctl_client_assignments(struct ctl_client *c, const char *gateway, json_t **ret_items,
			   uint64_t *ret_rv)
{
	char p[512];
	int r = path_of(p, sizeof(p), "gateways", gateway, "assignments");
	json_t *resp = NULL;
	if (r == 0)
		r = ctl_client_request(c, "GET", p, NULL, &resp);
	if (r)
		return r;
	if (ret_rv)
		*ret_rv = strtoull(json_string_value(json_object_get(json_object_get(resp, "metadata"),
								     "resourceVersion"))
					   ?: "0",
				   NULL, 10);
	*ret_items = json_incref(json_object_get(resp, "items"));
	json_decref(resp);
	return *ret_items ? 0 : -EIO;
}

int ctl_client_watch_assignments(struct ctl_client *c, const char *gateway, uint64_t from_rv,
				 int timeout_s, ctl_client_event_fn fn, void *user)
{
	char p[512];
	int r = path_of(p, sizeof(p), "gateways", gateway, "assignments");
	return r ? r : ctl_client_watch(c, p, from_rv, timeout_s, fn, user);
}

int ctl_client_upload_artifact(struct ctl_client *c, const void *data, size_t len,
			       char ret_sha256[65])
{
	unsigned char md[32];
	unsigned int n = 0;
	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
		return -EIO;
	char hex[65];
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	char p[128];
	snprintf(p, sizeof(p), "/artifacts/%s", hex);
	int r = raw(c, "PUT", p, "application/octet-stream", data, len, NULL);
	if (r == 0)
		memcpy(ret_sha256, hex, 65);
	return r;
}
