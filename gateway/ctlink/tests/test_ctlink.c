/* gw_ctlink without a controller: labels parsing and its errors, bad
 * settings, and an unreachable controller never blocking the loop's tick. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/ctlink.h"
#include "gateway/loop.h"

static void test_labels(void **state)
{
	(void)state;
	json_t *o;
	assert_int_equal(gw_ctlink_parse_labels("site=lab,rack=r-1.a/b_c", &o), 0);
	assert_int_equal(json_object_size(o), 2);
	assert_string_equal(json_string_value(json_object_get(o, "rack")), "r-1.a/b_c");
	json_decref(o);
	assert_int_equal(gw_ctlink_parse_labels("", &o), 0);
	assert_int_equal(json_object_size(o), 0);
	json_decref(o);
	static const char *const bad[] = {
		"a",      "=b",        "a=",      "a=b,",    "a=b,,c=d", "a=b,a=c", "a b=c",
		"a=b c",  "a=\"b\"",   ",",       "a=b=c",   "a=b;c=d",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = (json_t *)1;
		assert_int_equal(gw_ctlink_parse_labels(bad[i], &o), -EINVAL);
		assert_null(o);
	}
	char big[512];
	memset(big, 'k', 64);
	strcpy(big + 64, "=v");
	assert_int_equal(gw_ctlink_parse_labels(big, &o), -EINVAL); /* key of 64 */
	big[63] = 0;
	strcat(big, "=v");
	assert_int_equal(gw_ctlink_parse_labels(big, &o), 0); /* key of 63 */
	json_decref(o);
	big[0] = 0;
	for (int i = 0; i < 17; i++)
		sprintf(big + strlen(big), "%sk%d=v", i ? "," : "", i);
	assert_int_equal(gw_ctlink_parse_labels(big, &o), -EINVAL); /* 17 labels */
	*strrchr(big, ',') = 0;
	assert_int_equal(gw_ctlink_parse_labels(big, &o), 0);
	assert_int_equal(json_object_size(o), 16);
	json_decref(o);
}

static void test_assignment_json(void **state)
{
	(void)state;
	struct gw_assignment a;
	int none;
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:s}}", "device", "a-1",
			      "resourceVersion", "42", "assignment", "release", "rel-2", "action",
			      "install", "rollout", "ro-1", "cohort", "canary", "slot", "b");
	assert_int_equal(gw_assignment_from_json(o, &a, &none), 0);
	assert_int_equal(none, 0);
	assert_string_equal(a.device, "a-1");
	assert_string_equal(a.release, "rel-2");
	assert_string_equal(a.action, "install");
	assert_string_equal(a.cohort, "canary");
	assert_string_equal(a.slot, "b");
	assert_true(a.rv == 42);
	json_decref(o);
	o = json_pack("{s:s,s:I}", "device", "a-2", "resourceVersion", (json_int_t)9);
	assert_int_equal(gw_assignment_from_json(o, &a, &none), 0);
	assert_int_equal(none, 1);
	assert_true(a.rv == 9);
	json_decref(o);
	char longs[300];
	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = 0;
	static const char *const bad[] = {
		"[]", "\"a\"", "{}", "{\"device\":\"\"}", "{\"device\":7}",
		"{\"device\":\"d\",\"resourceVersion\":\"x1\"}",
		"{\"device\":\"d\",\"resourceVersion\":\"-1\"}",
		"{\"device\":\"d\",\"resourceVersion\":-1}",
		"{\"device\":\"d\",\"resourceVersion\":\"99999999999999999999999\"}",
		"{\"device\":\"d\",\"resourceVersion\":[]}",
		"{\"device\":\"d\",\"assignment\":{\"release\":5}}",
		"{\"device\":\"d\",\"assignment\":{\"action\":\"install-everything-now\"}}",
		"{\"device\":\"d\\u0000e\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		assert_non_null(o);
		assert_int_equal(gw_assignment_from_json(o, &a, &none), -EINVAL);
		json_decref(o);
	}
	o = json_pack("{s:s,s:{s:s}}", "device", "d", "assignment", "release", longs);
	assert_int_equal(gw_assignment_from_json(o, &a, &none), -EINVAL);
	json_decref(o);
	longs[AG_ID_MAX + 1] = 0;
	o = json_pack("{s:s}", "device", longs);
	assert_int_equal(gw_assignment_from_json(o, &a, &none), -EINVAL);
	json_decref(o);
	longs[AG_ID_MAX] = 0;
	o = json_pack("{s:s}", "device", longs);
	assert_int_equal(gw_assignment_from_json(o, &a, &none), 0);
	json_decref(o);
}

static int free_port(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s);
	return ntohs(a.sin_port);
}

static void test_bad_config(void **state)
{
	(void)state;
	char dbp[] = "/tmp/test_gw_ctlink_XXXXXX";
	assert_non_null(mkdtemp(dbp));
	char db[128];
	snprintf(db, sizeof(db), "%s/r.db", dbp);
	struct gw_registry *reg;
	assert_int_equal(gw_registry_open(db, &reg), 0);
	struct gw_ctlink *l = (struct gw_ctlink *)1;
	struct gw_ctlink_config c = {.server = "http://127.0.0.1:1", .name = ""};
	assert_int_equal(gw_ctlink_new(&c, reg, &l), -EINVAL);
	assert_null(l);
	c.name = "gw";
	c.server = NULL;
	assert_int_equal(gw_ctlink_new(&c, reg, &l), -EINVAL);
	c.server = "http://127.0.0.1:1";
	c.batch_max = GW_CTLINK_BATCH_MAX + 1;
	assert_int_equal(gw_ctlink_new(&c, reg, &l), -EINVAL);
	c.batch_max = 0;
	c.labels = "x";
	assert_int_equal(gw_ctlink_new(&c, reg, &l), -EINVAL);
	gw_registry_close(reg);
	unlink(db);
	rmdir(dbp);
}

static char metrics_text[65536];

static void render(struct gw_ctlink *l)
{
	struct gw_metrics *m;
	assert_int_equal(gw_metrics_new(&m), 0);
	assert_int_equal(gw_metrics_add(m, "ctlink", gw_ctlink_collect, l), 0);
	char *t;
	size_t n;
	assert_int_equal(gw_metrics_render(m, &t, &n), 0);
	snprintf(metrics_text, sizeof(metrics_text), "%s", t);
	free(t);
	gw_metrics_free(m);
}

/* Nobody listens: the tick stays fast, the link is down, errors are counted,
 * and nothing is marked reported. */
static void test_unreachable(void **state)
{
	(void)state;
	char dbp[] = "/tmp/test_gw_ctlink_XXXXXX";
	assert_non_null(mkdtemp(dbp));
	char db[128], url[64];
	snprintf(db, sizeof(db), "%s/r.db", dbp);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", free_port());
	struct gw_registry *reg;
	assert_int_equal(gw_registry_open(db, &reg), 0);
	for (int i = 0; i < 2000; i++) {
		char id[32];
		snprintf(id, sizeof(id), "dev-%04d", i);
		int created;
		assert_non_null(gw_registry_upsert(reg, id, &created));
	}
	struct gw_ctlink *l;
	struct gw_ctlink_config c = {.server = url, .name = "gw-t", .report_ms = 100,
				     .labels = "site=lab", .timeout_ms = 500};
	assert_int_equal(gw_ctlink_new(&c, reg, &l), 0);
	uint64_t worst = 0, start = gw_now_ms();
	while (gw_now_ms() - start < 1500) {
		uint64_t t0 = gw_now_ms();
		gw_ctlink_tick(l, t0);
		uint64_t dt = gw_now_ms() - t0;
		if (dt > worst)
			worst = dt;
		usleep(10000);
	}
	assert_true(worst < 50);
	assert_int_equal(gw_ctlink_up(l), 0);
	render(l);
	assert_non_null(strstr(metrics_text, "flotilla_gateway_controller_up 0\n"));
	assert_null(strstr(metrics_text,
			   "flotilla_gateway_controller_requests_total{kind=\"register\",result=\"error\"} 0\n"));
	assert_non_null(strstr(metrics_text,
			       "flotilla_gateway_controller_requests_total{kind=\"batch\",result=\"ok\"} 0\n"));
	assert_non_null(strstr(metrics_text,
			       "flotilla_gateway_controller_last_report_timestamp_seconds 0.000\n"));
	struct gw_assignment a;
	assert_int_equal(gw_ctlink_assignment(l, "dev-0001", &a), -ENOENT);
	struct gw_query q;
	gw_query_init(&q);
	struct gw_http_reply rep = {0};
	assert_int_equal(gw_ctlink_api_assignments(l, "", &q, &rep), 0);
	json_t *o = json_loads(rep.body, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_array_size(json_object_get(o, "items")), 0);
	assert_true(json_is_false(json_object_get(json_object_get(o, "controller"), "up")));
	json_decref(o);
	free(rep.body);
	uint64_t t0 = gw_now_ms();
	gw_ctlink_free(l);
	assert_true(gw_now_ms() - t0 < 3000);
	gw_registry_close(reg);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dbp);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_assignment_json),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
