/*
 * etcd v3 backend through the JSON gateway (/v3/...) with libcurl.
 *
 * Key /flotilla/<plural>/<name> holds the object text without
 * resourceVersion; the key's mod_revision is the resourceVersion. Writes
 * are transactions that compare create_revision (create) or mod_revision
 * (update, delete, status) first. A watch is etcd's watch stream from a
 * start revision; when a member goes away the stream is reopened on the
 * next endpoint from the last revision delivered.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_impl.h"

#define EP_MAX 8
#define POOL_MAX 16
#define RESP_MAX (256 * 1024 * 1024)
#define TXN_OPS 64
#define LIST_PAGE 1000
#define LEADER_KEY "/flotilla-leader"
#define CALL_TIMEOUT_MS 5000

struct ep_pool {
	CURL *h[POOL_MAX];
	int n;
};

struct et {
	struct ctl_store base;
	char *eps[EP_MAX];
	int neps;
	int cur; /* endpoint in use */
	pthread_mutex_t lock;
	struct ep_pool pool;
	/* leader election */
	pthread_t lthread;
	bool lrunning;
	volatile bool lstop;
	char *id;
	int ttl;
	char lease[32];
};

struct et_watch {
	struct ctl_store *s;
	int kind;
	uint64_t last;  /* last revision delivered (or the start - 1) */
	CURLM *m;
	CURL *h;
	int ep;
	char *buf; /* these four line up with struct buf */
	size_t len, cap, max;
	bool ended;
	bool created; /* etcd accepted the watch */
	json_t *queue; /* events not yet handed out */
	size_t qi;
	int fails;
};

static struct et *ET(struct ctl_store *s)
{
	return (struct et *)s;
}

/* ---- base64 ---- */

static const char b64c[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_enc(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);
		*o++ = b64c[v >> 18 & 63];
		*o++ = b64c[v >> 12 & 63];
		*o++ = i + 1 < len ? b64c[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64c[v & 63] : '=';
	}
	*o = 0;
	return out;
}

static char *b64_dec(const char *s, size_t *ret_len)
{
	size_t n = strlen(s);
	char *out = malloc(n / 4 * 3 + 4);
	if (!out)
		return NULL;
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = strchr(b64c, s[i]);
		if (s[i] == '=' || !s[i])
			break;
		if (!c) {
			free(out);
			return NULL;
		}
		v = v << 6 | (unsigned)(c - b64c);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(v >> bits & 0xff);
		}
	}
	out[o] = 0;
	if (ret_len)
		*ret_len = o;
	return out;
}

static json_t *jb64(const char *s)
{
	char *e = b64_enc(s, strlen(s));
	json_t *j = e ? json_string(e) : NULL;
	free(e);
	return j;
}

static char *key_of(int kind, const char *name)
{
	char *k;
	if (asprintf(&k, "/flotilla/%s/%s", kind >= 0 ? ctl_kind_plural((enum ctl_kind)kind) : "",
		     name ? name : "") < 0)
		return NULL;
	if (kind < 0) /* "/flotilla//" -> "/flotilla/" */
		k[strlen("/flotilla/")] = 0;
	return k;
}

/* The key just past every key starting with @prefix. */
static char *prefix_end(const char *prefix)
{
	char *e = strdup(prefix);
	if (e)
		e[strlen(e) - 1]++;
	return e;
}

static uint64_t jnum(const json_t *j)
{
	if (json_is_string(j))
		return strtoull(json_string_value(j), NULL, 10);
	if (json_is_integer(j))
		return (uint64_t)json_integer_value(j);
	return 0;
}

/* ---- HTTP ---- */

struct buf {
	char *p;
	size_t len, cap, max;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct buf *b = ud;
	size_t n = size * nmemb;
	if (b->len + n + 1 > b->max)
		return 0;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16384;
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
	return n;
}

static CURL *pool_get(struct et *e)
{
	CURL *h = NULL;
	pthread_mutex_lock(&e->lock);
	if (e->pool.n)
		h = e->pool.h[--e->pool.n];
	pthread_mutex_unlock(&e->lock);
	return h ? h : curl_easy_init();
}

static void pool_put(struct et *e, CURL *h)
{
	pthread_mutex_lock(&e->lock);
	if (e->pool.n < POOL_MAX) {
		e->pool.h[e->pool.n++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&e->lock);
	if (h)
		curl_easy_cleanup(h);
}

/*
 * POST @req to @path on the current endpoint; on a connection failure or a
 * 5xx answer, the next endpoint, until each was tried twice.
 */
static int call(struct et *e, const char *path, json_t *req /* taken */, json_t **ret,
		long timeout_ms)
{
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!body)
		return -ENOMEM;
	CURL *h = pool_get(e);
	if (!h) {
		free(body);
		return -ENOMEM;
	}
	int r = -EIO;
	pthread_mutex_lock(&e->lock);
	int ep = e->cur;
	pthread_mutex_unlock(&e->lock);
	for (int attempt = 0; attempt < 2 * e->neps; attempt++) {
		char url[512];
		snprintf(url, sizeof(url), "%s%s", e->eps[ep], path);
		struct buf b = {.max = RESP_MAX};
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		CURLcode cc = curl_easy_perform(h);
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		if (cc == CURLE_OK && code == 200) {
			json_t *j = json_loadb(b.p ? b.p : "", b.len, 0, NULL);
			free(b.p);
			if (!j) {
				r = -EIO;
				break;
			}
			*ret = j;
			r = 0;
			pthread_mutex_lock(&e->lock);
			e->cur = ep;
			pthread_mutex_unlock(&e->lock);
			break;
		}
		free(b.p);
		if (cc == CURLE_OK && code >= 400 && code < 500) {
			r = code == 404 ? -ENOTSUP : -EINVAL;
			break;
		}
		r = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH;
		ep = (ep + 1) % e->neps;
		if (attempt + 1 == e->neps)
			usleep(200000); /* every member refused once: give an election time */
	}
	pool_put(e, h);
	free(body);
	return r;
}

/* Value of a kv as an object, with resourceVersion = mod_revision. */
static json_t *kv_obj(const json_t *kv, const char *field)
{
	const char *v = json_string_value(json_object_get(kv, field ? field : "value"));
	if (!v)
		return NULL;
	char *text = b64_dec(v, NULL);
	if (!text)
		return NULL;
	json_t *o = json_loads(text, 0, NULL);
	free(text);
	if (o && ctl__obj_set_rv(o, jnum(json_object_get(kv, "mod_revision"))) < 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static uint64_t header_rev(const json_t *resp)
{
	return jnum(json_object_get(json_object_get(resp, "header"), "revision"));
}

static int et_revision(struct ctl_store *s, uint64_t *ret)
{
	json_t *resp;
	int r = call(ET(s), "/v3/kv/range",
		     json_pack("{s:o, s:b}", "key", jb64(LEADER_KEY), "count_only", 1), &resp,
		     CALL_TIMEOUT_MS);
	if (r)
		return r;
	*ret = header_rev(resp);
	json_decref(resp);
	return 0;
}

static int et_get(struct ctl_store *s, enum ctl_kind kind, const char *name, json_t **ret)
{
	char *key = key_of((int)kind, name);
	if (!key)
		return -ENOMEM;
	json_t *resp;
	int r = call(ET(s), "/v3/kv/range", json_pack("{s:o}", "key", jb64(key)), &resp,
		     CALL_TIMEOUT_MS);
	free(key);
	if (r)
		return r;
	json_t *kv = json_array_get(json_object_get(resp, "kvs"), 0);
	if (!kv) {
		json_decref(resp);
		return -ENOENT;
	}
	*ret = kv_obj(kv, NULL);
	json_decref(resp);
	return *ret ? 0 : -EIO;
}

static json_t *cmp(const char *key, const char *target, const char *result, uint64_t v)
{
	char n[24];
	snprintf(n, sizeof(n), "%" PRIu64, v);
	const char *field = strcmp(target, "CREATE") == 0 ? "create_revision" : "mod_revision";
	return json_pack("{s:o, s:s, s:s, s:s}", "key", jb64(key), "target", target, "result",
			 result, field, n);
}

static json_t *put_op(const char *key, const char *value)
{
	char *v = b64_enc(value, strlen(value));
	json_t *j = json_pack("{s:{s:o, s:s}}", "request_put", "key", jb64(key), "value", v ? v : "");
	free(v);
	return j;
}

static int et_create(struct ctl_store *s, enum ctl_kind kind, json_t *obj)
{
	char *key = key_of((int)kind, ctl_obj_name(obj)), *val = ctl__obj_dump_stored(obj);
	int r = -ENOMEM;
	if (key && val) {
		json_t *resp;
		r = call(ET(s), "/v3/kv/txn",
			 json_pack("{s:[o], s:[o]}", "compare", cmp(key, "CREATE", "EQUAL", 0),
				   "success", put_op(key, val)),
			 &resp, CALL_TIMEOUT_MS);
		if (r == 0) {
			if (json_is_true(json_object_get(resp, "succeeded")))
				ctl__obj_set_rv(obj, header_rev(resp));
			else
				r = -EEXIST;
			json_decref(resp);
		}
	}
	free(key);
	free(val);
	return r;
}

/* After a failed compare: was the key missing (ENOENT) or newer (ESTALE)? */
static int why_failed(const json_t *resp)
{
	json_t *rr = json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
				     "response_range");
	return json_array_size(json_object_get(rr, "kvs")) ? -ESTALE : -ENOENT;
}

static int et_update(struct ctl_store *s, enum ctl_kind kind, json_t *obj, uint64_t expect_rv)
{
	char *key = key_of((int)kind, ctl_obj_name(obj)), *val = ctl__obj_dump_stored(obj);
	int r = -ENOMEM;
	if (key && val) {
		json_t *resp;
		json_t *c = expect_rv ? cmp(key, "MOD", "EQUAL", expect_rv)
				      : cmp(key, "CREATE", "GREATER", 0);
		r = call(ET(s), "/v3/kv/txn",
			 json_pack("{s:[o], s:[o], s:[{s:{s:o}}]}", "compare", c, "success",
				   put_op(key, val), "failure", "request_range", "key", jb64(key)),
			 &resp, CALL_TIMEOUT_MS);
		if (r == 0) {
			if (json_is_true(json_object_get(resp, "succeeded")))
				ctl__obj_set_rv(obj, header_rev(resp));
			else
				r = why_failed(resp);
			json_decref(resp);
		}
	}
	free(key);
	free(val);
	return r;
}

static int et_delete(struct ctl_store *s, enum ctl_kind kind, const char *name, uint64_t expect_rv,
		     json_t **ret_old)
{
	char *key = key_of((int)kind, name);
	if (!key)
		return -ENOMEM;
	json_t *resp;
	json_t *c = expect_rv ? cmp(key, "MOD", "EQUAL", expect_rv)
			      : cmp(key, "CREATE", "GREATER", 0);
	int r = call(ET(s), "/v3/kv/txn",
		     json_pack("{s:[o], s:[{s:{s:o, s:b}}], s:[{s:{s:o}}]}", "compare", c,
			       "success", "request_delete_range", "key", jb64(key), "prev_kv", 1,
			       "failure", "request_range", "key", jb64(key)),
		     &resp, CALL_TIMEOUT_MS);
	free(key);
	if (r)
		return r;
	if (!json_is_true(json_object_get(resp, "succeeded"))) {
		r = why_failed(resp);
	} else if (ret_old) {
		json_t *dr = json_object_get(json_array_get(json_object_get(resp, "responses"), 0),
					     "response_delete_range");
		json_t *kv = json_array_get(json_object_get(dr, "prev_kvs"), 0);
		*ret_old = kv ? kv_obj(kv, NULL) : NULL;
		if (*ret_old)
			ctl__obj_set_rv(*ret_old, header_rev(resp));
	}
	json_decref(resp);
	return r;
}

static int et_list(struct ctl_store *s, enum ctl_kind kind, const struct ctl_selector *sel,
		   const char *owner, size_t limit, const char *after, json_t **ret_items,
		   int *ret_more, uint64_t *ret_rv)
{
	char *prefix = key_of((int)kind, NULL);
	char *end = prefix ? prefix_end(prefix) : NULL;
	char *from = NULL;
	json_t *items = json_array();
	int r = -ENOMEM, more = 0;
	uint64_t rev = 0;
	if (!prefix || !end || !items)
		goto out;
	if (asprintf(&from, "%s%s%s", prefix, after ? after : "", after ? "\x01" : "") < 0) {
		from = NULL;
		goto out;
	}
	for (;;) {
		char revs[24];
		snprintf(revs, sizeof(revs), "%" PRIu64, rev);
		json_t *req = json_pack("{s:o, s:o, s:i}", "key", jb64(from), "range_end", jb64(end),
					"limit", LIST_PAGE);
		if (rev)
			json_object_set_new(req, "revision", json_string(revs));
		json_t *resp;
		r = call(ET(s), "/v3/kv/range", req, &resp, 30000);
		if (r)
			goto out;
		if (!rev)
			rev = header_rev(resp);
		json_t *kvs = json_object_get(resp, "kvs"), *kv;
		size_t i;
		const char *lastkey = NULL;
		json_array_foreach(kvs, i, kv) {
			lastkey = json_string_value(json_object_get(kv, "key"));
			json_t *o = kv_obj(kv, NULL);
			if (!o)
				continue;
			const char *own = ctl__obj_owner(o);
			if ((owner && (!own || strcmp(own, owner) != 0)) ||
			    !ctl_selector_match(sel, json_object_get(json_object_get(o, "metadata"),
								     "labels"))) {
				json_decref(o);
				continue;
			}
			if (limit && json_array_size(items) >= limit) {
				json_decref(o);
				more = 1;
				break;
			}
			json_array_append_new(items, o);
		}
		bool page_more = json_is_true(json_object_get(resp, "more"));
		char *lk = lastkey ? b64_dec(lastkey, NULL) : NULL;
		json_decref(resp);
		if (more || !page_more || !lk) {
			free(lk);
			break;
		}
		/* The key right after lk: names hold no byte below '-', so lk + "\x01". */
		free(from);
		r = asprintf(&from, "%s\x01", lk);
		free(lk);
		if (r < 0) {
			from = NULL;
			r = -ENOMEM;
			goto out;
		}
	}
	r = 0;
out:
	free(prefix);
	free(end);
	free(from);
	if (r) {
		json_decref(items);
		return r;
	}
	*ret_items = items;
	*ret_more = more;
	*ret_rv = rev;
	return 0;
}

static int et_status_batch(struct ctl_store *s, enum ctl_kind kind, struct ctl_status_item *items,
			   size_t n, const char *owner, bool create, uint64_t *ret_rv)
{
	struct et *e = ET(s);
	uint64_t last = 0;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	for (size_t base = 0; base < n; base += TXN_OPS) {
		size_t cnt = n - base < TXN_OPS ? n - base : TXN_OPS;
		for (int attempt = 0;; attempt++) {
			/* Read the chunk in one transaction. */
			json_t *ops = json_array();
			char *keys[TXN_OPS] = {0};
			for (size_t i = 0; i < cnt; i++) {
				struct ctl_status_item *it = &items[base + i];
				it->result = 0;
				if (!ctl_obj_name_valid(it->name) || !json_is_object(it->status)) {
					it->result = -EINVAL;
					continue;
				}
				keys[i] = key_of((int)kind, it->name);
				json_array_append_new(ops, json_pack("{s:{s:o}}", "request_range",
								     "key", jb64(keys[i])));
			}
			json_t *resp = NULL;
			int r = json_array_size(ops)
					? call(e, "/v3/kv/txn", json_pack("{s:o}", "success", ops),
					       &resp, CALL_TIMEOUT_MS)
					: (json_decref(ops), 0);
			if (r) {
				for (size_t i = 0; i < cnt; i++)
					free(keys[i]);
				return r;
			}
			json_t *resps = json_object_get(resp, "responses");
			json_t *cmps = json_array(), *puts = json_array();
			size_t k = 0;
			for (size_t i = 0; i < cnt; i++) {
				struct ctl_status_item *it = &items[base + i];
				if (!keys[i])
					continue;
				json_t *kv = json_array_get(
					json_object_get(json_object_get(json_array_get(resps, k++),
									"response_range"),
							"kvs"),
					0);
				json_t *o;
				if (kv) {
					o = kv_obj(kv, NULL);
					const char *own = o ? ctl__obj_owner(o) : NULL;
					if (!o || (owner && own && strcmp(own, owner) != 0)) {
						it->result = o ? -EPERM : -EIO;
						json_decref(o);
						continue;
					}
					json_array_append_new(
						cmps, cmp(keys[i], "MOD", "EQUAL",
							  jnum(json_object_get(kv, "mod_revision"))));
				} else if (!create) {
					it->result = -ENOENT;
					continue;
				} else {
					o = json_pack("{s:s, s:s, s:{s:s, s:i, s:s}, s:{}}",
						      "apiVersion", CTL_API_VERSION, "kind",
						      ctl_kind_name(kind), "metadata", "name", it->name,
						      "generation", 1, "creationTimestamp", ts, "spec");
					if (it->labels)
						json_object_set(json_object_get(o, "metadata"),
								"labels", (json_t *)it->labels);
					json_array_append_new(cmps,
							      cmp(keys[i], "CREATE", "EQUAL", 0));
				}
				json_t *st = json_deep_copy(it->status);
				if (owner && !json_object_get(st, "gateway"))
					json_object_set_new(st, "gateway", json_string(owner));
				json_object_set_new(o, "status", st);
				char *val = ctl__obj_dump_stored(o);
				json_decref(o);
				json_array_append_new(puts, put_op(keys[i], val ? val : "{}"));
				free(val);
			}
			json_decref(resp);
			resp = NULL;
			for (size_t i = 0; i < cnt; i++)
				free(keys[i]);
			if (!json_array_size(puts)) {
				json_decref(cmps);
				json_decref(puts);
				break;
			}
			r = call(e, "/v3/kv/txn",
				 json_pack("{s:o, s:o}", "compare", cmps, "success", puts), &resp,
				 CALL_TIMEOUT_MS);
			if (r)
				return r;
			bool ok = json_is_true(json_object_get(resp, "succeeded"));
			if (ok)
				last = header_rev(resp);
			json_decref(resp);
			if (ok)
				break;
			if (attempt >= 8)
				return -EAGAIN; /* raced by other writers every time */
		}
	}
	if (!last)
		(void)et_revision(s, &last);
	*ret_rv = last;
	return 0;
}

/* ---- watch ---- */

static int kind_of_key(const char *key)
{
	const char *p = key + strlen("/flotilla/");
	const char *sl = strchr(p, '/');
	if (strncmp(key, "/flotilla/", 10) != 0 || !sl)
		return -1;
	char w[64];
	size_t l = (size_t)(sl - p);
	if (l >= sizeof(w))
		return -1;
	memcpy(w, p, l);
	w[l] = 0;
	return ctl_kind_parse(w);
}

static int watch_connect(struct et_watch *w)
{
	struct et *e = ET(w->s);
	if (w->h) {
		curl_multi_remove_handle(w->m, w->h);
		curl_easy_cleanup(w->h);
		w->h = NULL;
	}
	w->len = 0;
	w->ended = false;
	char *prefix = key_of(w->kind, NULL), *end = prefix ? prefix_end(prefix) : NULL;
	char start[24];
	snprintf(start, sizeof(start), "%" PRIu64, w->last + 1);
	json_t *req = json_pack("{s:{s:o, s:o, s:s, s:b}}", "create_request", "key", jb64(prefix),
				"range_end", jb64(end), "start_revision", start, "prev_kv", 1);
	free(prefix);
	free(end);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	w->h = curl_easy_init();
	if (!w->h || !body) {
		free(body);
		return -ENOMEM;
	}
	char url[512];
	snprintf(url, sizeof(url), "%s/v3/watch", e->eps[w->ep]);
	curl_easy_setopt(w->h, CURLOPT_URL, url);
	curl_easy_setopt(w->h, CURLOPT_COPYPOSTFIELDS, body);
	free(body);
	curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(w->h, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
	curl_easy_setopt(w->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w->h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* the buffer fields of et_watch line up with struct buf */
	curl_easy_setopt(w->h, CURLOPT_WRITEDATA, &w->buf);
	curl_multi_add_handle(w->m, w->h);
	return 0;
}

static int et_watch_open(struct ctl_store *s, int kind, uint64_t from_rv, struct ctl_watch **ret)
{
	struct et_watch *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->s = s;
	w->kind = kind;
	int r = 0;
	if (from_rv == 0)
		r = et_revision(s, &from_rv);
	w->last = from_rv;
	pthread_mutex_lock(&ET(s)->lock);
	w->ep = ET(s)->cur;
	pthread_mutex_unlock(&ET(s)->lock);
	w->max = 64 * 1024 * 1024;
	w->m = curl_multi_init();
	if (r == 0 && !w->m)
		r = -ENOMEM;
	if (r == 0)
		r = watch_connect(w);
	/* Wait for etcd to accept (or refuse as compacted) the watch. */
	for (int i = 0; r == 0 && i < 50; i++) {
		struct ctl_event ev;
		r = ctl_store_watch_next((struct ctl_watch *)w, 100, &ev);
		if (r == 0) {
			/* an event already: leave it queued for the first next() */
			w->qi--;
			w->last = from_rv;
			ctl_event_done(&ev);
			break;
		}
		if (r == -EAGAIN) {
			r = 0;
			if (w->created)
				break;
		}
	}
	if (r < 0) {
		ctl_store_watch_close((struct ctl_watch *)w);
		return r;
	}
	*ret = (struct ctl_watch *)w;
	return 0;
}

/* Turn one watch response into queued events; -ERANGE if compacted. */
static int take_message(struct et_watch *w, json_t *msg)
{
	json_t *res = json_object_get(msg, "result");
	if (!res)
		return json_object_get(msg, "error") ? -EIO : 0;
	if (jnum(json_object_get(res, "compact_revision")) > w->last)
		return -ERANGE;
	if (json_is_true(json_object_get(res, "canceled")))
		return -EIO;
	if (json_is_true(json_object_get(res, "created")))
		w->created = true;
	json_t *evs = json_object_get(res, "events"), *ev;
	size_t i;
	if (!json_array_size(evs))
		return 0;
	if (!w->queue || w->qi >= json_array_size(w->queue)) {
		json_decref(w->queue);
		w->queue = json_array();
		w->qi = 0;
	}
	json_array_foreach(evs, i, ev) {
		json_t *kv = json_object_get(ev, "kv");
		const char *type = json_string_value(json_object_get(ev, "type"));
		bool del = type && strcmp(type, "DELETE") == 0;
		char *key = b64_dec(json_string_value(json_object_get(kv, "key")) ?: "", NULL);
		int kind = key ? kind_of_key(key) : -1;
		free(key);
		uint64_t mod = jnum(json_object_get(kv, "mod_revision"));
		if (kind < 0)
			continue;
		json_t *o = del ? kv_obj(json_object_get(ev, "prev_kv"), NULL) : kv_obj(kv, NULL);
		if (!o)
			continue;
		enum ctl_event_type t = del ? CTL_EV_DELETED
				       : jnum(json_object_get(kv, "create_revision")) == mod
					       ? CTL_EV_ADDED
					       : CTL_EV_MODIFIED;
		if (del)
			ctl__obj_set_rv(o, mod);
		json_array_append_new(w->queue, json_pack("{s:i, s:i, s:I, s:o}", "t", t, "k", kind,
							  "rv", (json_int_t)mod, "o", o));
	}
	return 0;
}

static int et_watch_next(struct ctl_watch *cw, int timeout_ms, struct ctl_event *ret)
{
	struct et_watch *w = (struct et_watch *)cw;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (w->queue && w->qi < json_array_size(w->queue)) {
			json_t *q = json_array_get(w->queue, w->qi++);
			ret->type = (enum ctl_event_type)json_integer_value(json_object_get(q, "t"));
			ret->kind = (enum ctl_kind)json_integer_value(json_object_get(q, "k"));
			ret->rv = (uint64_t)json_integer_value(json_object_get(q, "rv"));
			ret->obj = json_incref(json_object_get(q, "o"));
			if (ret->rv > w->last)
				w->last = ret->rv;
			return 0;
		}
		/* Complete messages in the buffer. */
		while (w->len) {
			json_error_t err;
			size_t skip = 0;
			while (skip < w->len && (w->buf[skip] == '\n' || w->buf[skip] == '\r' ||
						 w->buf[skip] == ' '))
				skip++;
			if (skip == w->len) {
				w->len = 0;
				break;
			}
			json_t *msg = json_loadb(w->buf + skip, w->len - skip, JSON_DISABLE_EOF_CHECK,
						 &err);
			if (!msg)
				break; /* incomplete */
			size_t used = skip + (size_t)err.position;
			memmove(w->buf, w->buf + used, w->len - used);
			w->len -= used;
			w->buf[w->len] = 0;
			int r = take_message(w, msg);
			json_decref(msg);
			if (r == -ERANGE)
				return r;
			if (r < 0)
				w->ended = true;
			if (w->queue && w->qi < json_array_size(w->queue))
				break;
		}
		if (w->queue && w->qi < json_array_size(w->queue))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t);
		long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (el >= timeout_ms)
			return -EAGAIN;
		int running = 0;
		curl_multi_perform(w->m, &running);
		CURLMsg *m;
		int left;
		while ((m = curl_multi_info_read(w->m, &left)))
			if (m->msg == CURLMSG_DONE)
				w->ended = true;
		if (!running || w->ended) {
			/* The member went away: resume on the next one from w->last. */
			if (++w->fails > 6 * ET(w->s)->neps)
				return -EIO;
			w->ep = (w->ep + 1) % ET(w->s)->neps;
			usleep(100000);
			if (watch_connect(w) < 0)
				return -EIO;
			continue;
		}
		if (w->len == 0)
			w->fails = 0;
		int nfds;
		long wait = timeout_ms - el;
		curl_multi_poll(w->m, NULL, 0, (int)(wait < 100 ? wait : 100), &nfds);
	}
}

static void et_watch_close(struct ctl_watch *cw)
{
	struct et_watch *w = (struct et_watch *)cw;
	if (w->h) {
		curl_multi_remove_handle(w->m, w->h);
		curl_easy_cleanup(w->h);
	}
	if (w->m)
		curl_multi_cleanup(w->m);
	json_decref(w->queue);
	free(w->buf);
	free(w);
}

/* ---- leader election ---- */

static double mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *leader_main(void *arg)
{
	struct et *e = arg;
	double last_ok = 0;
	while (!e->lstop) {
		json_t *resp = NULL;
		if (!e->lease[0]) {
			if (call(e, "/v3/lease/grant", json_pack("{s:i}", "TTL", e->ttl), &resp,
				 2000) == 0) {
				snprintf(e->lease, sizeof(e->lease), "%s",
					 json_string_value(json_object_get(resp, "ID")) ?: "");
				last_ok = mono();
				json_decref(resp);
				resp = NULL;
			}
		} else if (call(e, "/v3/lease/keepalive", json_pack("{s:s}", "ID", e->lease), &resp,
				2000) == 0) {
			json_t *res = json_object_get(resp, "result");
			if (jnum(json_object_get(res, "TTL")) > 0)
				last_ok = mono();
			else
				e->lease[0] = 0; /* expired: start over */
			json_decref(resp);
			resp = NULL;
		}
		bool leader = false;
		char who[128] = "";
		if (e->lease[0]) {
			char *val = b64_enc(e->id, strlen(e->id));
			json_t *req = json_pack(
				"{s:[o], s:[{s:{s:o, s:s, s:s}}], s:[{s:{s:o}}]}", "compare",
				cmp(LEADER_KEY, "CREATE", "EQUAL", 0), "success", "request_put",
				"key", jb64(LEADER_KEY), "value", val ? val : "", "lease", e->lease,
				"failure", "request_range", "key", jb64(LEADER_KEY));
			free(val);
			if (call(e, "/v3/kv/txn", req, &resp, 2000) == 0) {
				if (json_is_true(json_object_get(resp, "succeeded"))) {
					leader = true;
					snprintf(who, sizeof(who), "%s", e->id);
				} else {
					json_t *kv = json_array_get(
						json_object_get(
							json_object_get(
								json_array_get(json_object_get(
										       resp, "responses"),
									       0),
								"response_range"),
							"kvs"),
						0);
					char *v = b64_dec(
						json_string_value(json_object_get(kv, "value")) ?: "",
						NULL);
					const char *lease = json_string_value(json_object_get(kv, "lease"));
					if (v) {
						snprintf(who, sizeof(who), "%s", v);
						leader = strcmp(v, e->id) == 0 && lease &&
							 strcmp(lease, e->lease) == 0;
					}
					free(v);
				}
				json_decref(resp);
			}
		}
		/* Without a recent keepalive the lease may be gone: step down early. */
		if (mono() - last_ok > e->ttl * 0.66)
			leader = false;
		ctl__store_set_leader(&e->base, leader, who);
		int steps = e->ttl * 1000 / 3 / 100;
		for (int i = 0; i < steps && !e->lstop; i++)
			usleep(100000);
	}
	return NULL;
}

static int et_leader_start(struct ctl_store *s, const char *id, int ttl_s)
{
	struct et *e = ET(s);
	if (e->lrunning)
		return 0;
	e->id = strdup(id);
	e->ttl = ttl_s;
	e->lstop = false;
	if (!e->id)
		return -ENOMEM;
	if (pthread_create(&e->lthread, NULL, leader_main, e))
		return -EAGAIN;
	e->lrunning = true;
	return 0;
}

static void et_leader_stop(struct ctl_store *s)
{
	struct et *e = ET(s);
	if (!e->lrunning)
		return;
	e->lstop = true;
	pthread_join(e->lthread, NULL);
	e->lrunning = false;
	if (e->lease[0]) {
		json_t *resp;
		if (call(e, "/v3/lease/revoke", json_pack("{s:s}", "ID", e->lease), &resp, 2000) == 0)
			json_decref(resp);
		e->lease[0] = 0;
	}
	ctl__store_set_leader(s, false, "");
}

static void et_free(struct ctl_store *s)
{
	struct et *e = ET(s);
	for (int i = 0; i < e->neps; i++)
		free(e->eps[i]);
	for (int i = 0; i < e->pool.n; i++)
		curl_easy_cleanup(e->pool.h[i]);
	pthread_mutex_destroy(&e->lock);
	free(e->id);
	free(e);
}

static const struct ctl_store_ops et_ops = {
	.name = "etcd",
	.free = et_free,
	.revision = et_revision,
	.get = et_get,
	.create = et_create,
	.update = et_update,
	.del = et_delete,
	.list = et_list,
	.status_batch = et_status_batch,
	.watch_open = et_watch_open,
	.watch_next = et_watch_next,
	.watch_close = et_watch_close,
	.leader_start = et_leader_start,
	.leader_stop = et_leader_stop,
};

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int ctl__etcd_open(const char *endpoints, struct ctl_store **ret)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, curl_init_once);
	struct et *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->base.ops = &et_ops;
	pthread_mutex_init(&e->lock, NULL);
	char *list = strdup(endpoints), *save = NULL;
	for (char *t = list ? strtok_r(list, ",", &save) : NULL; t && e->neps < EP_MAX;
	     t = strtok_r(NULL, ",", &save)) {
		size_t l = strlen(t);
		while (l && t[l - 1] == '/')
			t[--l] = 0;
		if (strncmp(t, "http://", 7) && strncmp(t, "https://", 8))
			continue;
		e->eps[e->neps++] = strdup(t);
	}
	free(list);
	if (!e->neps) {
		et_free(&e->base);
		return -EINVAL;
	}
	uint64_t rv;
	int r = et_revision(&e->base, &rv);
	if (r < 0) {
		et_free(&e->base);
		return r;
	}
	*ret = &e->base;
	return 0;
}
