/*
 * The API end to end: a server on a loopback port over a SQLite store,
 * driven through ctl_client and plain libcurl.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/client.h"
#include "controller/server.h"

#define T_ADMIN "admin-token-0123456789"
#define T_RO "readonly-token-0123456789"
#define T_GW1 "gw1-token-0123456789abc"
#define T_GW2 "gw2-token-0123456789abc"

static char dir[64] = "/tmp/ctl-api-XXXXXX";
static char base[64];
static struct ctl_store *store;
static struct ctl_server *srv;

static struct ctl_client *client(const char *token)
{
	struct ctl_client_config cfg = {.server = base, .token = token};
	struct ctl_client *c;
	assert_int_equal(ctl_client_new(&cfg, &c), 0);
	return c;
}

static json_t *device(const char *name, const char *site, const char *env)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s, s:s}}, s:{}}", "apiVersion", CTL_API_VERSION,
			 "kind", "Device", "metadata", "name", name, "labels", "site", site, "env",
			 env, "spec");
}

static uint64_t revision(void)
{
	uint64_t rv;
	assert_int_equal(ctl_store_revision(store, &rv), 0);
	return rv;
}

static int setup(void **st)
{
	(void)st;
	if (!mkdtemp(dir))
		return -1;
	char path[128], url[160];
	snprintf(path, sizeof(path), "%s/tokens", dir);
	FILE *f = fopen(path, "w");
	fprintf(f, "# test tokens\n" T_ADMIN " admin\n" T_RO " read-only\n" T_GW1 " gateway gw-1\n"
		   T_GW2 " gateway gw-2\n");
	fclose(f);
	snprintf(url, sizeof(url), "sqlite:%s/api.db", dir);
	setenv("FLOTILLA_STORE_WINDOW", "64", 1);
	if (ctl_store_open(url, &store))
		return -1;
	char art[128];
	snprintf(art, sizeof(art), "%s", dir);
	struct ctl_server_config cfg = {.listen = "127.0.0.1:0", .tokens_file = path,
					.artifacts_dir = art, .body_max = 8192, .version = "test"};
	if (ctl_server_start(&cfg, store, &srv))
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", ctl_server_port(srv));
	return 0;
}

static int teardown(void **st)
{
	(void)st;
	ctl_server_stop(srv);
	ctl_store_free(store);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_crud_conflict_invalid(void **st)
{
	(void)st;
	struct ctl_client *c = client(T_ADMIN);
	json_t *d = device("crud-1", "a", "prod"), *got = NULL;
	assert_int_equal(ctl_client_create(c, "devices", d, &got), 0);
	const char *rv1 = json_string_value(json_object_get(json_object_get(got, "metadata"),
							    "resourceVersion"));
	assert_non_null(rv1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(got, "metadata"),
							    "generation")),
			 1);
	assert_int_equal(ctl_client_create(c, "devices", d, NULL), -EEXIST);

	/* update with the version read: ok; again with the same (now stale): 409 */
	json_t *upd = json_deep_copy(got);
	json_object_set_new(json_object_get(upd, "spec"), "hardwareId", json_string("m4"));
	json_t *after = NULL;
	assert_int_equal(ctl_client_update(c, "devices", upd, &after), 0);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(after, "metadata"),
							    "generation")),
			 2);
	json_decref(after);
	uint64_t before = revision();
	assert_int_equal(ctl_client_update(c, "devices", upd, NULL), -ESTALE);
	assert_int_equal(ctl_client_last_code(c), 409);
	assert_int_equal(revision(), before);

	/* 422 names the field */
	json_t *bad = device("crud-2", "a", "prod");
	json_object_set_new(json_object_get(bad, "spec"), "assignment",
			    json_pack("{s:s}", "action", "explode"));
	json_t *resp = NULL;
	assert_int_equal(ctl_client_request(c, "POST", "/apis/flotilla.io/v1/devices", bad, &resp),
			 -EINVAL);
	assert_int_equal(ctl_client_last_code(c), 422);
	assert_int_equal(revision(), before);
	json_decref(bad);
	assert_int_equal(ctl_client_get(c, "devices", "crud-2", &resp), -ENOENT);

	/* status is not written through the main resource */
	json_t *cur = NULL;
	assert_int_equal(ctl_client_get(c, "devices", "crud-1", &cur), 0);
	json_object_set_new(cur, "status", json_pack("{s:s}", "phase", "sneaky"));
	assert_int_equal(ctl_client_update(c, "devices", cur, &after), 0);
	assert_null(json_object_get(json_object_get(after, "status"), "phase"));
	json_decref(after);
	json_t *stt = json_pack("{s:s}", "phase", "idle");
	assert_int_equal(ctl_client_update_status(c, "devices", "crud-1", stt, 0, &after), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(after, "status"),
							      "phase")),
			    "idle");
	json_decref(after);
	json_decref(stt);

	assert_int_equal(ctl_client_delete(c, "devices", "crud-1", 1), -ESTALE);
	assert_int_equal(ctl_client_delete(c, "devices", "crud-1", 0), 0);
	assert_int_equal(ctl_client_delete(c, "devices", "crud-1", 0), -ENOENT);
	json_decref(cur);
	json_decref(upd);
	json_decref(got);
	json_decref(d);
	ctl_client_free(c);
}

static size_t names_of(json_t *list, char out[][32], size_t max)
{
	size_t i, n = 0;
	json_t *x;
	json_array_foreach(json_object_get(list, "items"), i, x) {
		if (n < max)
			snprintf(out[n++], 32, "%s", ctl_obj_name(x));
	}
	return n;
}

static void test_list_selectors_pages(void **st)
{
	(void)st;
	struct ctl_client *c = client(T_ADMIN);
	static const char *sites[] = {"a", "b", "c"};
	static const char *envs[] = {"prod", "qa"};
	for (int i = 0; i < 30; i++) {
		char n[32];
		snprintf(n, sizeof(n), "sel-%02d", i);
		json_t *d = device(n, sites[i % 3], envs[i % 2]);
		if (i == 29)
			json_object_del(json_object_get(json_object_get(d, "metadata"), "labels"), "env");
		assert_int_equal(ctl_client_create(c, "devices", d, NULL), 0);
		json_decref(d);
	}
	struct {
		const char *sel;
		size_t want;
	} cases[] = {
		{"site=a", 10},         {"site!=a", 20},          {"site in (a,b)", 20},
		{"site notin (a,b)", 10}, {"env", 29},              {"!env", 1},
		{"site=a,env=prod", 5}, {"site=a,env in (qa)", 5}, {"site=zz", 0},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		json_t *l = NULL;
		assert_int_equal(ctl_client_list(c, "devices", cases[k].sel, 0, NULL, &l), 0);
		size_t n = json_array_size(json_object_get(l, "items"));
		if (n != cases[k].want)
			print_error("%s: %zu items, want %zu\n", cases[k].sel, n, cases[k].want);
		assert_int_equal(n, cases[k].want);
		json_decref(l);
	}
	json_t *l = NULL;
	assert_int_equal(ctl_client_list(c, "devices", "site in (a", 0, NULL, &l), -EINVAL);

	/* pages of 7 with a selector: all 20, in order, each once */
	char seen[64][32];
	size_t total = 0;
	char *cont = NULL;
	int pages = 0;
	do {
		assert_int_equal(ctl_client_list(c, "devices", "site!=c", 7, cont, &l), 0);
		free(cont);
		const char *t = json_string_value(json_object_get(json_object_get(l, "metadata"),
								  "continue"));
		cont = t ? strdup(t) : NULL;
		total += names_of(l, seen + total, 64 - total);
		json_decref(l);
		pages++;
	} while (cont);
	assert_int_equal(total, 20);
	assert_int_equal(pages, 3);
	for (size_t i = 1; i < total; i++)
		assert_true(strcmp(seen[i - 1], seen[i]) < 0);
	assert_int_equal(ctl_client_request(c, "GET", "/apis/flotilla.io/v1/devices?continue=zz1",
					    NULL, NULL),
			 -EINVAL);
	ctl_client_free(c);
}

struct collected {
	int n, stop_at;
	char types[16][12];
	char names[16][32];
	char rvs[16][24];
};

static int collect(void *user, const char *type, const json_t *obj)
{
	struct collected *col = user;
	if (col->n < 16) {
		snprintf(col->types[col->n], 12, "%s", type);
		snprintf(col->names[col->n], 32, "%s", ctl_obj_name(obj) ? ctl_obj_name(obj) : "");
		snprintf(col->rvs[col->n], 24, "%s",
			 json_string_value(json_object_get(json_object_get(obj, "metadata"),
							   "resourceVersion")));
	}
	col->n++;
	return col->n >= col->stop_at;
}

static void test_watch_resume_and_410(void **st)
{
	(void)st;
	struct ctl_client *c = client(T_ADMIN);
	uint64_t start = revision();
	json_t *d = device("w-1", "a", "prod"), *got = NULL;
	assert_int_equal(ctl_client_create(c, "devices", d, &got), 0);
	json_t *stt = json_pack("{s:s}", "phase", "x");
	assert_int_equal(ctl_client_update_status(c, "devices", "w-1", stt, 0, NULL), 0);
	assert_int_equal(ctl_client_delete(c, "devices", "w-1", 0), 0);

	struct collected col = {.stop_at = 3};
	assert_int_equal(ctl_client_watch(c, "/apis/flotilla.io/v1/devices", start, 5,
					  collect, &col),
			 0);
	assert_int_equal(col.n, 3);
	assert_string_equal(col.types[0], "ADDED");
	assert_string_equal(col.types[1], "MODIFIED");
	assert_string_equal(col.types[2], "DELETED");
	assert_string_equal(col.names[2], "w-1");

	/* resume after the first event: the other two only */
	struct collected col2 = {.stop_at = 2};
	assert_int_equal(ctl_client_watch(c, "/apis/flotilla.io/v1/devices",
					  strtoull(col.rvs[0], NULL, 10), 5, collect, &col2),
			 0);
	assert_int_equal(col2.n, 2);
	assert_string_equal(col2.types[0], "MODIFIED");
	assert_string_equal(col2.rvs[0], col.rvs[1]);

	/* a label selector filters the stream */
	uint64_t mark = revision();
	json_t *e = device("w-2", "b", "prod");
	assert_int_equal(ctl_client_create(c, "devices", e, NULL), 0);
	json_decref(e);
	e = device("w-3", "a", "prod");
	assert_int_equal(ctl_client_create(c, "devices", e, NULL), 0);
	json_decref(e);
	struct collected col3 = {.stop_at = 1};
	assert_int_equal(ctl_client_watch(c, "/apis/flotilla.io/v1/devices?labelSelector=site%3Da",
					  mark, 5, collect, &col3),
			 0);
	assert_string_equal(col3.names[0], "w-3");

	/* push the window (64 events) past the start: 410 */
	for (int i = 0; i < 70; i++)
		assert_int_equal(ctl_client_update_status(c, "devices", "w-3", stt, 0, NULL), 0);
	struct collected col4 = {.stop_at = 1};
	assert_int_equal(ctl_client_watch(c, "/apis/flotilla.io/v1/devices", start, 5, collect,
					  &col4),
			 -ERANGE);
	assert_int_equal(ctl_client_last_code(c), 410);
	assert_int_equal(col4.n, 0);
	json_decref(stt);
	json_decref(d);
	json_decref(got);
	ctl_client_free(c);
}

static void test_auth(void **st)
{
	(void)st;
	struct ctl_client *admin = client(T_ADMIN), *none = client(NULL),
			  *wrong = client("not-a-token-at-all-000"), *ro = client(T_RO),
			  *gw1 = client(T_GW1), *gw2 = client(T_GW2);
	json_t *d = device("auth-1", "a", "prod");
	assert_int_equal(ctl_client_create(admin, "devices", d, NULL), 0);
	/* gw-2 owns auth-2 */
	json_t *s2 = json_pack("{s:s}", "phase", "idle");
	struct ctl_client_status it = {"auth-2", s2, NULL};
	size_t failed = 9;
	assert_int_equal(ctl_client_status_batch(gw2, &it, 1, &failed), 0);
	assert_int_equal(failed, 0);
	json_t *gw = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", CTL_API_VERSION, "kind",
			       "Gateway", "metadata", "name", "gw-2");
	assert_int_equal(ctl_client_create(admin, "gateways", gw, NULL), 0);
	json_t *snap_before = NULL;
	assert_int_equal(ctl_client_get(admin, "devices", "auth-2", &snap_before), 0);
	uint64_t before = revision();

	json_t *x = device("auth-3", "a", "prod");
	assert_int_equal(ctl_client_create(none, "devices", x, NULL), -EACCES);
	assert_int_equal(ctl_client_last_code(none), 401);
	assert_int_equal(ctl_client_get(none, "devices", "auth-1", NULL), -EACCES);
	assert_int_equal(ctl_client_create(wrong, "devices", x, NULL), -EACCES);
	assert_int_equal(ctl_client_create(ro, "devices", x, NULL), -EPERM);
	assert_int_equal(ctl_client_last_code(ro), 403);
	assert_int_equal(ctl_client_delete(ro, "devices", "auth-1", 0), -EPERM);
	json_t *l = NULL;
	assert_int_equal(ctl_client_list(ro, "devices", NULL, 0, NULL, &l), 0);
	json_decref(l);
	/* gateways: no lists, no other gateway's objects or devices */
	assert_int_equal(ctl_client_list(gw1, "devices", NULL, 0, NULL, &l), -EPERM);
	assert_int_equal(ctl_client_create(gw1, "devices", x, NULL), -EPERM);
	assert_int_equal(ctl_client_get(gw1, "devices", "auth-2", NULL), -EPERM);
	json_t *s1 = json_pack("{s:s}", "phase", "hijacked");
	assert_int_equal(ctl_client_update_status(gw1, "devices", "auth-2", s1, 0, NULL), -EPERM);
	assert_int_equal(ctl_client_update_status(gw1, "gateways", "gw-2", s1, 0, NULL), -EPERM);
	assert_int_equal(ctl_client_gateway_heartbeat(gw1, "gw-2", s1), -EPERM);
	assert_int_equal(ctl_client_delete(gw1, "devices", "auth-2", 0), -EPERM);
	json_t *a = NULL;
	assert_int_equal(ctl_client_assignments(gw1, "gw-2", &a, NULL), -EPERM);
	/* batch: an item of another gateway's device is refused, and a body
	 * naming another gateway refuses the whole batch */
	struct ctl_client_status hij = {"auth-2", s1, NULL};
	assert_int_equal(ctl_client_status_batch(gw1, &hij, 1, &failed), 0);
	assert_int_equal(failed, 1);
	json_t *s_other = json_pack("{s:s}", "gateway", "gw-2");
	struct ctl_client_status fake = {"auth-9", s_other, NULL};
	assert_int_equal(ctl_client_status_batch(gw1, &fake, 1, &failed), -EPERM);
	/* oversized body: 413 (body_max is 8 KiB in this test) */
	json_t *big = device("auth-big", "a", "prod");
	char *pad = malloc(20000);
	memset(pad, 'x', 19999);
	pad[19999] = 0;
	json_object_set_new(json_object_get(big, "metadata"), "annotations",
			    json_pack("{s:s}", "pad", pad));
	assert_int_equal(ctl_client_create(admin, "devices", big, NULL), -E2BIG);
	assert_int_equal(ctl_client_last_code(admin), 413);
	free(pad);

	/* nothing changed */
	assert_int_equal(revision(), before);
	json_t *snap_after = NULL;
	assert_int_equal(ctl_client_get(admin, "devices", "auth-2", &snap_after), 0);
	assert_true(json_equal(snap_before, snap_after));
	assert_int_equal(ctl_client_get(admin, "devices", "auth-3", NULL), -ENOENT);
	assert_int_equal(ctl_client_get(admin, "devices", "auth-big", NULL), -ENOENT);

	json_decref(snap_before);
	json_decref(snap_after);
	json_decref(big);
	json_decref(s_other);
	json_decref(s1);
	json_decref(s2);
	json_decref(x);
	json_decref(gw);
	json_decref(d);
	ctl_client_free(admin);
	ctl_client_free(none);
	ctl_client_free(wrong);
	ctl_client_free(ro);
	ctl_client_free(gw1);
	ctl_client_free(gw2);
}

struct aw {
	const char *gw;
	int n;
	char device[32], release[32];
};

static void *watch_assign(void *arg);
static int on_assign(void *user, const char *type, const json_t *obj)
{
	struct aw *w = user;
	const json_t *a = json_object_get(obj, "assignment");
	if (!json_is_object(a))
		return 0;
	snprintf(w->device, sizeof(w->device), "%s",
		 json_string_value(json_object_get(obj, "device")));
	snprintf(w->release, sizeof(w->release), "%s",
		 json_string_value(json_object_get(a, "release")));
	w->n++;
	(void)type;
	return 1;
}

static void test_gateway_link(void **st)
{
	(void)st;
	struct ctl_client *admin = client(T_ADMIN), *gw1 = client(T_GW1);
	json_t *spec = json_pack("{s:s}", "address", "10.0.0.1:7000");
	json_t *stat = json_pack("{s:s, s:i}", "version", "0.1.0", "devices", 2);
	assert_int_equal(ctl_client_gateway_register(gw1, "gw-1", spec, stat), 0);
	assert_int_equal(ctl_client_gateway_register(gw1, "gw-1", spec, stat), 0); /* again */
	assert_int_equal(ctl_client_gateway_heartbeat(gw1, "gw-1", NULL), 0);
	json_t *g = NULL;
	assert_int_equal(ctl_client_get(gw1, "gateways", "gw-1", &g), 0);
	json_t *gs = json_object_get(g, "status");
	assert_true(json_is_true(json_object_get(gs, "connected")));
	assert_string_equal(json_string_value(json_object_get(gs, "version")), "0.1.0");
	assert_non_null(json_object_get(gs, "lastHeartbeat"));
	json_decref(g);

	json_t *ds[3];
	struct ctl_client_status items[3] = {{0}};
	for (int i = 0; i < 3; i++) {
		ds[i] = json_pack("{s:s, s:i, s:s}", "phase", "idle", "progress", 0, "activeSlot", "a");
		items[i].status = ds[i];
	}
	items[0].device = "link-0";
	items[1].device = "link-1";
	items[2].device = "link-2";
	size_t failed = 9;
	assert_int_equal(ctl_client_status_batch(gw1, items, 3, &failed), 0);
	assert_int_equal(failed, 0);
	json_t *d = NULL;
	assert_int_equal(ctl_client_get(gw1, "devices", "link-1", &d), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(d, "status"), "gateway")),
			    "gw-1");

	json_t *list = NULL;
	uint64_t rv = 0;
	assert_int_equal(ctl_client_assignments(gw1, "gw-1", &list, &rv), 0);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);

	/* the rollout engine's part, done by hand: an assignment for link-1 */
	pthread_t t;
	struct aw w = {.gw = "gw-1"};
	pthread_create(&t, NULL, watch_assign, &w);
	usleep(200000);
	json_object_set_new(json_object_get(d, "spec"), "assignment",
			    json_pack("{s:s, s:s, s:s, s:s}", "release", "r-2", "action", "install",
				      "rollout", "ro-1", "cohort", "canary"));
	assert_int_equal(ctl_client_update(admin, "devices", d, NULL), 0);
	pthread_join(t, NULL);
	assert_int_equal(w.n, 1);
	assert_string_equal(w.device, "link-1");
	assert_string_equal(w.release, "r-2");
	assert_int_equal(ctl_client_assignments(gw1, "gw-1", &list, &rv), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	(void)rv;
	for (int i = 0; i < 3; i++)
		json_decref(ds[i]);
	json_decref(d);
	json_decref(spec);
	json_decref(stat);
	ctl_client_free(admin);
	ctl_client_free(gw1);
}

static void *watch_assign(void *arg)
{
	struct aw *w = arg;
	struct ctl_client *c;
	struct ctl_client_config cfg = {.server = base, .token = T_GW1};
	if (ctl_client_new(&cfg, &c))
		return NULL;
	uint64_t rv = revision();
	if (ctl_client_watch_assignments(c, w->gw, rv, 5, on_assign, w) < 0)
		w->n = -1;
	ctl_client_free(c);
	return NULL;
}

static size_t grab(char *p, size_t s, size_t n, void *u)
{
	char *b = u;
	size_t l = strlen(b), k = s * n;
	if (l + k < 8192) {
		memcpy(b + l, p, k);
		b[l + k] = 0;
	}
	return k;
}

static long http_get(const char *path, const char *range, char *out)
{
	CURL *h = curl_easy_init();
	char url[256];
	snprintf(url, sizeof(url), "%s%s", base, path);
	out[0] = 0;
	struct curl_slist *hdr = curl_slist_append(NULL, "Authorization: Bearer " T_GW1);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grab);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
	if (range)
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	long code = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return code;
}

static void test_metrics_health_artifacts(void **st)
{
	(void)st;
	static char out[8192];
	assert_int_equal(http_get("/healthz", NULL, out), 200);
	assert_int_equal(http_get("/metrics", NULL, out), 200);
	assert_non_null(strstr(out, "# TYPE flotilla_controller_build_info gauge"));
	assert_non_null(strstr(out, "flotilla_controller_build_info{version=\"test\""));
	assert_non_null(strstr(out, "# HELP flotilla_controller_uptime_seconds"));
	assert_non_null(strstr(out, "flotilla_controller_http_requests_total{code=\"200\"}"));

	struct ctl_client *admin = client(T_ADMIN), *gw1 = client(T_GW1);
	const char data[] = "firmware image bytes 0123456789";
	char sha[65];
	assert_int_equal(ctl_client_upload_artifact(gw1, data, sizeof(data) - 1, sha), -EPERM);
	assert_int_equal(ctl_client_upload_artifact(admin, data, sizeof(data) - 1, sha), 0);
	char path[128];
	snprintf(path, sizeof(path), "/artifacts/%s", sha);
	assert_int_equal(http_get(path, NULL, out), 200);
	assert_string_equal(out, data);
	assert_int_equal(http_get(path, "9-", out), 206); /* resume */
	assert_string_equal(out, data + 9);
	/* a body that does not hash to its name is refused */
	json_t *r = NULL;
	assert_int_equal(ctl_client_request(admin, "PUT",
					    "/artifacts/0000000000000000000000000000000000000000000000000000000000000000",
					    NULL, &r),
			 -EINVAL);
	ctl_client_free(admin);
	ctl_client_free(gw1);
}

static void test_tls(void **st)
{
	(void)st;
	char cmd[600], crt[128], key[128];
	snprintf(crt, sizeof(crt), "%s/tls.crt", dir);
	snprintf(key, sizeof(key), "%s/tls.key", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=127.0.0.1 -keyout '%s' -out '%s' >/dev/null 2>&1",
		 key, crt);
	if (system(cmd) != 0) {
		print_message("openssl is not installed: TLS not tested\n");
		skip();
	}
	struct ctl_server_config cfg = {.listen = "127.0.0.1:0", .no_auth = true, .tls_cert = crt,
					.tls_key = key, .version = "tls"};
	struct ctl_server *tls;
	assert_int_equal(ctl_server_start(&cfg, store, &tls), 0);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u", ctl_server_port(tls));
	struct ctl_client_config cc = {.server = url, .ca_file = crt};
	struct ctl_client *c;
	assert_int_equal(ctl_client_new(&cc, &c), 0);
	json_t *l = NULL;
	assert_int_equal(ctl_client_list(c, "devices", NULL, 1, NULL, &l), 0);
	json_decref(l);
	ctl_client_free(c);
	/* plain HTTP to the TLS port gets nowhere */
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", ctl_server_port(tls));
	struct ctl_client_config pc = {.server = url, .timeout_ms = 2000};
	assert_int_equal(ctl_client_new(&pc, &c), 0);
	assert_true(ctl_client_list(c, "devices", NULL, 1, NULL, &l) < 0);
	ctl_client_free(c);
	ctl_server_stop(tls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crud_conflict_invalid),
		cmocka_unit_test(test_list_selectors_pages),
		cmocka_unit_test(test_watch_resume_and_410),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_gateway_link),
		cmocka_unit_test(test_metrics_health_artifacts),
		cmocka_unit_test(test_tls),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
