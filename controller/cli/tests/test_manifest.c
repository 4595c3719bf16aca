/* The manifest parser: documents, scalar types, errors and limits; the YAML printer round trip. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

static json_t *parse_ok(const char *text)
{
	json_t *docs = NULL;
	char err[256] = "";
	int r = ctl_manifest_parse(text, strlen(text), &docs, err, sizeof(err));
	if (r)
		print_error("%s\n", err);
	assert_int_equal(r, 0);
	return docs;
}

static void test_documents(void **st)
{
	(void)st;
	json_t *d = parse_ok("apiVersion: flotilla.io/v1\nkind: Rollout\nmetadata:\n  name: r1\n"
			     "spec:\n  release: rel-2\n  steps:\n  - setWeight: 10\n"
			     "  - pause: {duration: 5m}\n---\n---\nkind: Device\nmetadata: {name: d1}\n"
			     "spec:\n  n: [1, -2, 2.5, true, false, null, ~, '7', \"x\", 0x10, 1e3, yes]\n");
	assert_int_equal(json_array_size(d), 2); /* the empty document is skipped */
	json_t *r = json_array_get(d, 0);
	assert_string_equal(json_string_value(json_object_get(r, "kind")), "Rollout");
	json_t *steps = json_object_get(json_object_get(r, "spec"), "steps");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(steps, 0), "setWeight")), 10);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(json_array_get(steps, 1), "pause"), "duration")),
			    "5m");
	json_t *n = json_object_get(json_object_get(json_array_get(d, 1), "spec"), "n");
	assert_int_equal(json_integer_value(json_array_get(n, 0)), 1);
	assert_int_equal(json_integer_value(json_array_get(n, 1)), -2);
	assert_true(json_is_real(json_array_get(n, 2)));
	assert_true(json_is_true(json_array_get(n, 3)));
	assert_true(json_is_false(json_array_get(n, 4)));
	assert_true(json_is_null(json_array_get(n, 5)));
	assert_true(json_is_null(json_array_get(n, 6)));
	assert_string_equal(json_string_value(json_array_get(n, 7)), "7");
	assert_string_equal(json_string_value(json_array_get(n, 8)), "x");
	assert_int_equal(json_integer_value(json_array_get(n, 9)), 16);
	assert_true(json_is_real(json_array_get(n, 10)));
	assert_string_equal(json_string_value(json_array_get(n, 11)), "yes"); /* YAML 1.2 */
	json_decref(d);

	/* JSON is YAML */
	d = parse_ok("{\"kind\":\"Device\",\"metadata\":{\"name\":\"d\"},\"x\":[1,{\"a\":\"b\"}]}");
	assert_int_equal(json_array_size(d), 1);
	json_decref(d);
	d = parse_ok("");
	assert_int_equal(json_array_size(d), 0);
	json_decref(d);
}

static void expect_err(const char *text, int want, const char *needle)
{
	json_t *d = NULL;
	char err[256] = "";
	int r = ctl_manifest_parse(text, strlen(text), &d, err, sizeof(err));
	if (r != want || !strstr(err, needle))
		print_error("'%.40s': %d '%s'\n", text, r, err);
	assert_int_equal(r, want);
	assert_non_null(strstr(err, needle));
	assert_null(d);
}

static void test_errors(void **st)
{
	(void)st;
	expect_err("a: b: c\n", -EINVAL, "line 1");
	expect_err("a: [1, 2\n", -EINVAL, "line");
	expect_err("- 1\n- 2\n", -EINVAL, "not a mapping");
	expect_err("just a string\n", -EINVAL, "not a mapping");
	expect_err("a: &x 1\nb: *x\n", -EINVAL, "aliases");
	expect_err("a: 1\na: 2\n", -EINVAL, "duplicate key");
	expect_err("? [1]\n: 2\n", -EINVAL, "keys must be scalars");
	expect_err("a: \xff\n", -EINVAL, "line"); /* raw invalid UTF-8 */
	/* depth */
	char deep[1024] = "";
	for (int i = 0; i < CTL_MANIFEST_DEPTH_MAX + 2; i++)
		strcat(deep, "[");
	expect_err(deep, -E2BIG, "deeper");
	/* size */
	size_t big = CTL_MANIFEST_MAX + 1;
	char *b = malloc(big);
	memset(b, ' ', big);
	json_t *d = NULL;
	char err[128];
	assert_int_equal(ctl_manifest_parse(b, big, &d, err, sizeof(err)), -E2BIG);
	free(b);
}

static void test_yaml_round_trip(void **st)
{
	(void)st;
	json_t *o = json_loads("{\"kind\":\"Rollout\",\"metadata\":{\"name\":\"r\",\"labels\":{}},"
			       "\"spec\":{\"steps\":[{\"setWeight\":10},{\"pause\":{\"duration\":\"5m\"}},"
			       "[1,2]],\"s\":[],\"t\":\"true\",\"n\":\"12\",\"e\":\"\",\"c\":\"a: b\","
			       "\"h\":\"#x\",\"f\":1.5,\"b\":false,\"z\":null,\"q\":\"- x\"}}",
			       0, NULL);
	assert_non_null(o);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ctl_manifest_print_yaml(f, o);
	fclose(f);
	json_t *back = parse_ok(buf);
	if (!json_equal(json_array_get(back, 0), o))
		print_error("round trip differs:\n%s\n", buf);
	assert_true(json_equal(json_array_get(back, 0), o));
	free(buf);
	json_decref(back);
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_yaml_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
