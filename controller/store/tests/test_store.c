/*
 * The store suite: the same tests against SQLite and, built with
 * STORE_ETCD, against a real etcd started on loopback ports.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/store.h"
#include "testlib.h"

static char url[1024];
static char dir[256] __attribute__((unused));
#ifdef STORE_ETCD
static struct ctl_test_etcd etcd;
#endif

static json_t *device(const char *name, const char *site)
{
	return json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{}}", "apiVersion", CTL_API_VERSION,
			 "kind", "Device", "metadata", "name", name, "labels", "site", site, "spec");
}

static struct ctl_store *open_store(void)
{
	struct ctl_store *s = NULL;
	int r = ctl_store_open(url, &s);
	if (r)
		print_error("open %s: %s\n", url, strerror(-r));
	assert_int_equal(r, 0);
	return s;
}

static int setup(void **state)
{
	(void)state;
#ifdef STORE_ETCD
	/* A fresh key space per test: a prefix is not configurable, so wipe. */
	struct ctl_store *s = open_store();
	for (int k = 0; k < CTL_KIND__COUNT; k++) {
		json_t *items;
		int more;
		uint64_t rv;
		assert_int_equal(ctl_store_list(s, (enum ctl_kind)k, NULL, NULL, 0, NULL, &items,
						&more, &rv),
				 0);
		size_t i;
		json_t *x;
		json_array_foreach(items, i, x)
			assert_int_equal(ctl_store_delete(s, (enum ctl_kind)k, ctl_obj_name(x), 0, NULL), 0);
		json_decref(items);
	}
	ctl_store_free(s);
#else
	static int n;
	snprintf(url, sizeof(url), "sqlite:%s/t%d.db", dir, n++);
#endif
	return 0;
}

static void test_crud(void **st)
{
	(void)st;
	struct ctl_store *s = open_store();
	json_t *d = device("dev-a", "x");
	assert_int_equal(ctl_store_create(s, CTL_KIND_DEVICE, d), 0);
	uint64_t rv1 = ctl_obj_rv(d);
	assert_true(rv1 > 0);
	json_t *again = device("dev-a", "y");
	assert_int_equal(ctl_store_create(s, CTL_KIND_DEVICE, again), -EEXIST);
	json_decref(again);

	json_t *got;
	assert_int_equal(ctl_store_get(s, CTL_KIND_DEVICE, "dev-a", &got), 0);
	assert_int_equal(ctl_obj_rv(got), rv1);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_object_get(got, "metadata"), "labels"), "site")),
			    "x");
	json_decref(got);
	assert_int_equal(ctl_store_get(s, CTL_KIND_DEVICE, "nope", &got), -ENOENT);
	assert_int_equal(ctl_store_get(s, CTL_KIND_GATEWAY, "dev-a", &got), -ENOENT);

	/* update with the right version, then a stale one */
	json_object_set_new(json_object_get(json_object_get(d, "metadata"), "labels"), "site",
			    json_string("z"));
	assert_int_equal(ctl_store_update(s, CTL_KIND_DEVICE, d, rv1), 0);
	uint64_t rv2 = ctl_obj_rv(d);
	assert_true(rv2 > rv1);
	assert_int_equal(ctl_store_update(s, CTL_KIND_DEVICE, d, rv1), -ESTALE);
	assert_int_equal(ctl_store_get(s, CTL_KIND_DEVICE, "dev-a", &got), 0);
	assert_int_equal(ctl_obj_rv(got), rv2);
	json_decref(got);
	json_t *ghost = device("ghost", "x");
	assert_int_equal(ctl_store_update(s, CTL_KIND_DEVICE, ghost, 0), -ENOENT);
	json_decref(ghost);

	uint64_t rev;
	assert_int_equal(ctl_store_revision(s, &rev), 0);
	assert_true(rev >= rv2);

	assert_int_equal(ctl_store_delete(s, CTL_KIND_DEVICE, "dev-a", rv1, NULL), -ESTALE);
	json_t *old = NULL;
	assert_int_equal(ctl_store_delete(s, CTL_KIND_DEVICE, "dev-a", rv2, &old), 0);
	assert_non_null(old);
	assert_string_equal(ctl_obj_name(old), "dev-a");
	json_decref(old);
	assert_int_equal(ctl_store_delete(s, CTL_KIND_DEVICE, "dev-a", 0, NULL), -ENOENT);
	json_decref(d);
	ctl_store_free(s);
}

static void test_list(void **st)
{
	(void)st;
	struct ctl_store *s = open_store();
	for (int i = 0; i < 25; i++) {
		char n[32];
		snprintf(n, sizeof(n), "d%02d", i);
		json_t *d = device(n, i % 3 == 0 ? "a" : "b");
		assert_int_equal(ctl_store_create(s, CTL_KIND_DEVICE, d), 0);
		json_decref(d);
	}
	/* one of another kind must not show up */
	json_t *g = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", CTL_API_VERSION, "kind",
			      "Gateway", "metadata", "name", "d99");
	assert_int_equal(ctl_store_create(s, CTL_KIND_GATEWAY, g), 0);
	json_decref(g);

	struct ctl_selector *sel;
	assert_int_equal(ctl_selector_parse("site=a", &sel), 0);
	json_t *items;
	int more;
	uint64_t rv;
	assert_int_equal(ctl_store_list(s, CTL_KIND_DEVICE, sel, NULL, 0, NULL, &items, &more, &rv), 0);
	assert_int_equal(json_array_size(items), 9);
	assert_false(more);
	assert_true(rv > 0);
	json_decref(items);
	ctl_selector_free(sel);

	/* pages of 10: every name once, in order */
	char after[64] = "";
	int total = 0, pages = 0;
	do {
		assert_int_equal(ctl_store_list(s, CTL_KIND_DEVICE, NULL, NULL, 10,
						after[0] ? after : NULL, &items, &more, &rv),
				 0);
		size_t i;
		json_t *x;
		json_array_foreach(items, i, x) {
			char want[32];
			snprintf(want, sizeof(want), "d%02d", total++);
			assert_string_equal(ctl_obj_name(x), want);
			snprintf(after, sizeof(after), "%s", ctl_obj_name(x));
		}
		pages++;
		assert_true(json_array_size(items) == 10 || !more);
		json_decref(items);
	} while (more);
	assert_int_equal(total, 25);
	assert_int_equal(pages, 3);

	/* selector with pagination */
	assert_int_equal(ctl_selector_parse("site in (b)", &sel), 0);
	assert_int_equal(ctl_store_list(s, CTL_KIND_DEVICE, sel, NULL, 5, "d10", &items, &more, &rv),
			 0);
	assert_int_equal(json_array_size(items), 5);
	assert_string_equal(ctl_obj_name(json_array_get(items, 0)), "d11");
	assert_true(more);
	json_decref(items);
	ctl_selector_free(sel);
	ctl_store_free(s);
}

static void test_status_batch(void **st)
{
	(void)st;
	struct ctl_store *s = open_store();
	json_t *mine = json_pack("{s:s, s:s}", "gateway", "gw-1", "phase", "idle");
	json_t *theirs = json_pack("{s:s}", "gateway", "gw-2");
	json_t *lab = json_pack("{s:s}", "site", "far");
	struct ctl_status_item a[] = {{"d1", mine, NULL, 0}, {"d2", mine, lab, 0}, {"e1", theirs, NULL, 0}};
	uint64_t rv;
	assert_int_equal(ctl_store_status_batch(s, CTL_KIND_DEVICE, a, 2, "gw-1", true, &rv), 0);
	assert_int_equal(a[0].result, 0);
	assert_int_equal(a[1].result, 0);
	assert_int_equal(ctl_store_status_batch(s, CTL_KIND_DEVICE, a + 2, 1, "gw-2", true, &rv), 0);
	assert_int_equal(a[2].result, 0);

	/* gw-1 may not write e1 (gw-2's); a missing device without create is ENOENT */
	json_t *upd = json_pack("{s:s, s:s}", "gateway", "gw-1", "phase", "downloading");
	struct ctl_status_item b[] = {{"d1", upd, NULL, 0}, {"e1", upd, NULL, 0}, {"d9", upd, NULL, 0}};
	assert_int_equal(ctl_store_status_batch(s, CTL_KIND_DEVICE, b, 3, "gw-1", false, &rv), 0);
	assert_int_equal(b[0].result, 0);
	assert_int_equal(b[1].result, -EPERM);
	assert_int_equal(b[2].result, -ENOENT);
	json_t *got;
	assert_int_equal(ctl_store_get(s, CTL_KIND_DEVICE, "e1", &got), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "status"), "gateway")),
			    "gw-2");
	json_decref(got);
	assert_int_equal(ctl_store_get(s, CTL_KIND_DEVICE, "d1", &got), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(got, "status"), "phase")),
			    "downloading");
	assert_string_equal(json_string_value(json_object_get(got, "kind")), "Device");
	json_decref(got);

	/* the owner filter of list */
	json_t *items;
	int more;
	assert_int_equal(ctl_store_list(s, CTL_KIND_DEVICE, NULL, "gw-1", 0, NULL, &items, &more, &rv), 0);
	assert_int_equal(json_array_size(items), 2);
	json_decref(items);
	/* labels given for a device the batch created */
	struct ctl_selector *sel;
	assert_int_equal(ctl_selector_parse("site=far", &sel), 0);
	assert_int_equal(ctl_store_list(s, CTL_KIND_DEVICE, sel, NULL, 0, NULL, &items, &more, &rv), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_string_equal(ctl_obj_name(json_array_get(items, 0)), "d2");
	json_decref(items);
	ctl_selector_free(sel);
	json_decref(lab);
	json_decref(mine);
	json_decref(theirs);
	json_decref(upd);
	ctl_store_free(s);
}

static int next(struct ctl_watch *w, struct ctl_event *ev)
{
	for (int i = 0; i < 50; i++) {
		int r = ctl_store_watch_next(w, 100, ev);
		if (r != -EAGAIN)
			return r;
	}
	return -EAGAIN;
}

static void test_watch(void **st)
{
	(void)st;
	struct ctl_store *s = open_store();
	uint64_t start;
	assert_int_equal(ctl_store_revision(s, &start), 0);
	struct ctl_watch *w;
	assert_int_equal(ctl_store_watch_open(s, CTL_KIND_DEVICE, start, &w), 0);

	json_t *d = device("w1", "a");
	assert_int_equal(ctl_store_create(s, CTL_KIND_DEVICE, d), 0);
	uint64_t rv_add = ctl_obj_rv(d);
	json_t *g = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", CTL_API_VERSION, "kind",
			      "Gateway", "metadata", "name", "gw");
	assert_int_equal(ctl_store_create(s, CTL_KIND_GATEWAY, g), 0); /* filtered out */
	json_decref(g);
	assert_int_equal(ctl_store_update(s, CTL_KIND_DEVICE, d, rv_add), 0);
	uint64_t rv_mod = ctl_obj_rv(d);
	json_t *stt = json_pack("{s:s}", "phase", "x");
	struct ctl_status_item it = {"w1", stt, NULL, 0};
	uint64_t rv_st;
	assert_int_equal(ctl_store_status_batch(s, CTL_KIND_DEVICE, &it, 1, NULL, false, &rv_st), 0);
	assert_int_equal(ctl_store_delete(s, CTL_KIND_DEVICE, "w1", 0, NULL), 0);

	struct ctl_event ev;
	assert_int_equal(next(w, &ev), 0);
	assert_int_equal(ev.type, CTL_EV_ADDED);
	assert_int_equal(ev.rv, rv_add);
	assert_string_equal(ctl_obj_name(ev.obj), "w1");
	ctl_event_done(&ev);
	assert_int_equal(next(w, &ev), 0);
	assert_int_equal(ev.type, CTL_EV_MODIFIED);
	assert_int_equal(ev.rv, rv_mod);
	ctl_event_done(&ev);
	assert_int_equal(next(w, &ev), 0);
	assert_int_equal(ev.type, CTL_EV_MODIFIED);
	assert_int_equal(ev.rv, rv_st);
	assert_string_equal(json_string_value(json_object_get(json_object_get(ev.obj, "status"), "phase")),
			    "x");
	ctl_event_done(&ev);
	assert_int_equal(next(w, &ev), 0);
	assert_int_equal(ev.type, CTL_EV_DELETED);
	assert_string_equal(ctl_obj_name(ev.obj), "w1");
	ctl_event_done(&ev);
	assert_int_equal(ctl_store_watch_next(w, 200, &ev), -EAGAIN);
	ctl_store_watch_close(w);

	/* resume from the middle: the status change and the delete only */
	assert_int_equal(ctl_store_watch_open(s, CTL_KIND_DEVICE, rv_mod, &w), 0);
	assert_int_equal(next(w, &ev), 0);
	assert_int_equal(ev.rv, rv_st);
	ctl_event_done(&ev);
	assert_int_equal(next(w, &ev), 0);
	assert_int_equal(ev.type, CTL_EV_DELETED);
	ctl_event_done(&ev);
	ctl_store_watch_close(w);
	json_decref(d);
	json_decref(stt);
	ctl_store_free(s);
}

#ifdef STORE_ETCD
static size_t sink(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}
#endif

static void test_watch_too_old(void **st)
{
	(void)st;
	setenv("FLOTILLA_STORE_WINDOW", "16", 1);
	struct ctl_store *s = open_store();
	unsetenv("FLOTILLA_STORE_WINDOW");
	uint64_t first = 0;
	for (int i = 0; i < 40; i++) {
		char n[16];
		snprintf(n, sizeof(n), "o%d", i);
		json_t *d = device(n, "a");
		assert_int_equal(ctl_store_create(s, CTL_KIND_DEVICE, d), 0);
		if (!first)
			first = ctl_obj_rv(d);
		json_decref(d);
	}
#ifdef STORE_ETCD
	/* etcd keeps history until compacted: compact up to now */
	uint64_t now;
	assert_int_equal(ctl_store_revision(s, &now), 0);
	CURL *h = curl_easy_init();
	char u[128], body[96];
	snprintf(u, sizeof(u), "%.*s/v3/kv/compaction", (int)strcspn(etcd.endpoints, ","),
		 etcd.endpoints);
	snprintf(body, sizeof(body), "{\"revision\":\"%llu\",\"physical\":true}",
		 (unsigned long long)now);
	curl_easy_setopt(h, CURLOPT_URL, u);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_cleanup(h);
#endif
	struct ctl_watch *w = NULL;
	assert_int_equal(ctl_store_watch_open(s, CTL_KIND_DEVICE, first, &w), -ERANGE);
	/* recent enough is fine */
	uint64_t rev;
	assert_int_equal(ctl_store_revision(s, &rev), 0);
	assert_int_equal(ctl_store_watch_open(s, CTL_KIND_DEVICE, rev - 1, &w), 0);
	ctl_store_watch_close(w);
	ctl_store_free(s);
}

static void test_leader(void **st)
{
	(void)st;
	struct ctl_store *a = open_store(), *b = open_store();
#ifdef STORE_ETCD
	assert_int_equal(ctl_store_leader_start(a, "ctl-a", 2), 0);
	assert_int_equal(ctl_store_leader_start(b, "ctl-b", 2), 0);
	int waited = 0;
	while (!ctl_store_is_leader(a) && !ctl_store_is_leader(b) && waited < 5000) {
		usleep(50000);
		waited += 50;
	}
	assert_true(ctl_store_is_leader(a) != ctl_store_is_leader(b));
	struct ctl_store *l = ctl_store_is_leader(a) ? a : b, *o = l == a ? b : a;
	char name[128];
	ctl_store_leader_name(o, name, sizeof(name));
	usleep(800000);
	ctl_store_leader_name(o, name, sizeof(name));
	assert_string_equal(name, l == a ? "ctl-a" : "ctl-b");
	/* a clean stop revokes the lease: the other takes over within the TTL */
	ctl_store_leader_stop(l);
	waited = 0;
	while (!ctl_store_is_leader(o) && waited < 4000) {
		usleep(50000);
		waited += 50;
	}
	assert_true(ctl_store_is_leader(o));
#else
	assert_int_equal(ctl_store_leader_start(a, "ctl-a", 10), 0);
	assert_true(ctl_store_is_leader(a));
	assert_int_equal(ctl_store_leader_start(b, "ctl-b", 10), -EBUSY);
	assert_false(ctl_store_is_leader(b));
	ctl_store_leader_stop(a);
	assert_int_equal(ctl_store_leader_start(b, "ctl-b", 10), 0);
	assert_true(ctl_store_is_leader(b));
#endif
	ctl_store_free(a);
	ctl_store_free(b);
}

static void test_persist(void **st)
{
	(void)st;
	struct ctl_store *s = open_store();
	json_t *d = device("p1", "a");
	assert_int_equal(ctl_store_create(s, CTL_KIND_DEVICE, d), 0);
	uint64_t rv = ctl_obj_rv(d);
	ctl_store_free(s);
	s = open_store();
	json_t *got;
	assert_int_equal(ctl_store_get(s, CTL_KIND_DEVICE, "p1", &got), 0);
	assert_int_equal(ctl_obj_rv(got), rv);
	json_decref(got);
	/* versions keep growing across a reopen */
	assert_int_equal(ctl_store_update(s, CTL_KIND_DEVICE, d, rv), 0);
	assert_true(ctl_obj_rv(d) > rv);
	json_decref(d);
	ctl_store_free(s);
}

int main(void)
{
#ifdef STORE_ETCD
	if (!ctl_test_have_etcd()) {
		fprintf(stderr, "etcd is not installed (deploy/install-deps.sh)\n");
		return 1;
	}
	int r = ctl_test_etcd_start(&etcd, 1);
	if (r) {
		fprintf(stderr, "cannot start etcd: %s\n", strerror(-r));
		return 1;
	}
	snprintf(url, sizeof(url), "etcd:%s", etcd.endpoints);
#else
	snprintf(dir, sizeof(dir), "/tmp/ctl-store-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
#endif
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_crud, setup),
		cmocka_unit_test_setup(test_list, setup),
		cmocka_unit_test_setup(test_status_batch, setup),
		cmocka_unit_test_setup(test_watch, setup),
		cmocka_unit_test_setup(test_watch_too_old, setup),
		cmocka_unit_test_setup(test_leader, setup),
		cmocka_unit_test_setup(test_persist, setup),
	};
	int fails = cmocka_run_group_tests(tests, NULL, NULL);
#ifdef STORE_ETCD
	ctl_test_etcd_stop(&etcd);
#else
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
#endif
	return fails;
}
