/* Schema checks and label selectors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "controller/obj.h"

static void expect_invalid(enum ctl_kind k, const char *text, const char *path)
{
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	char p[256], why[256];
	int r = ctl_obj_validate(k, o, p, sizeof(p), why, sizeof(why));
	if (r != -EINVAL || strcmp(p, path) != 0)
		print_error("%s: got %d path '%s' (%s), want '%s'\n", text, r, p, why, path);
	assert_int_equal(r, -EINVAL);
	assert_string_equal(p, path);
	assert_true(strlen(why) > 0);
	json_decref(o);
}

static void expect_valid(enum ctl_kind k, const char *text)
{
	json_t *o = json_loads(text, 0, NULL);
	assert_non_null(o);
	char p[256], why[256];
	int r = ctl_obj_validate(k, o, p, sizeof(p), why, sizeof(why));
	if (r)
		print_error("%s: %s: %s\n", text, p, why);
	assert_int_equal(r, 0);
	json_decref(o);
}

#define HDR(kind) "{\"apiVersion\":\"flotilla.io/v1\",\"kind\":\"" kind "\","

static void test_valid(void **st)
{
	(void)st;
	expect_valid(CTL_KIND_DEVICE, HDR("Device") "\"metadata\":{\"name\":\"dev-1\",\"labels\":"
						    "{\"site\":\"a\",\"flotilla.io/hw\":\"m4\"}}}");
	expect_valid(CTL_KIND_RELEASE,
		     HDR("Release") "\"metadata\":{\"name\":\"r1\"},\"spec\":{\"version\":\"1.2.3+4\","
				    "\"hardwareId\":\"mps2\",\"artifacts\":{\"a\":{\"url\":\"http://x/a\","
				    "\"size\":10}},\"securityCounter\":1}}");
	expect_valid(CTL_KIND_ROLLOUT,
		     HDR("Rollout") "\"metadata\":{\"name\":\"ro\"},\"spec\":{\"release\":\"r1\","
				    "\"steps\":[{\"setWeight\":10},{\"pause\":{\"duration\":\"5m\"}},"
				    "{\"analysis\":{\"template\":\"t\"}}],\"onFailure\":\"rollback\","
				    "\"selector\":{\"matchLabels\":{\"site\":\"a\"},"
				    "\"matchExpressions\":\"env in (prod,qa)\"}}}");
	expect_valid(CTL_KIND_ANALYSIS_TEMPLATE,
		     HDR("AnalysisTemplate") "\"metadata\":{\"name\":\"t\"},\"spec\":{\"metrics\":[{"
					     "\"name\":\"err\",\"source\":\"builtin\",\"condition\":"
					     "\"result < 0.01\",\"interval\":\"30s\",\"count\":3}]}}");
	expect_valid(CTL_KIND_GATEWAY, HDR("Gateway") "\"metadata\":{\"name\":\"gw-1\"},"
						      "\"spec\":{\"address\":\"10.0.0.1\"},"
						      "\"status\":{\"connected\":true}}");
}

static void test_invalid(void **st)
{
	(void)st;
	expect_invalid(CTL_KIND_DEVICE, "[]", "");
	expect_invalid(CTL_KIND_DEVICE, "{\"kind\":\"Device\",\"metadata\":{\"name\":\"a\"}}",
		       "apiVersion");
	expect_invalid(CTL_KIND_DEVICE, HDR("Gateway") "\"metadata\":{\"name\":\"a\"}}", "kind");
	expect_invalid(CTL_KIND_DEVICE, HDR("Device") "\"metadata\":{\"name\":\"A_b\"}}",
		       "metadata.name");
	expect_invalid(CTL_KIND_DEVICE, HDR("Device") "\"metadata\":{}}", "metadata.name");
	expect_invalid(CTL_KIND_DEVICE, HDR("Device") "\"metadata\":{\"name\":\"a\",\"labels\":{\"k\":1}}}",
		       "metadata.labels.k");
	expect_invalid(CTL_KIND_DEVICE, HDR("Device") "\"metadata\":{\"name\":\"a\"},\"bogus\":1}",
		       "bogus");
	expect_invalid(CTL_KIND_RELEASE,
		       HDR("Release") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"version\":\"x\","
				      "\"hardwareId\":\"h\",\"artifacts\":{\"a\":{\"url\":\"u\"}}}}",
		       "spec.version");
	expect_invalid(CTL_KIND_RELEASE,
		       HDR("Release") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"version\":\"1.0.0\","
				      "\"hardwareId\":\"h\",\"artifacts\":{\"a\":{\"url\":\"u\","
				      "\"sha256\":\"zz\"}}}}",
		       "spec.artifacts.a.sha256");
	expect_invalid(CTL_KIND_RELEASE,
		       HDR("Release") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"version\":\"1.0.0\","
				      "\"artifacts\":{\"a\":{\"url\":\"u\"}}}}",
		       "spec.hardwareId");
	expect_invalid(CTL_KIND_ROLLOUT,
		       HDR("Rollout") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"release\":\"r1\","
				      "\"steps\":[{\"setWeight\":10},{\"setWeight\":101}]}}",
		       "spec.steps[1].setWeight");
	expect_invalid(CTL_KIND_ROLLOUT,
		       HDR("Rollout") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"release\":\"r1\","
				      "\"steps\":[{\"setWeight\":10,\"pause\":{}}]}}",
		       "spec.steps[0]");
	expect_invalid(CTL_KIND_ROLLOUT,
		       HDR("Rollout") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"release\":\"r1\","
				      "\"steps\":[{\"pause\":{\"duration\":\"5 years\"}}]}}",
		       "spec.steps[0].pause.duration");
	expect_invalid(CTL_KIND_ROLLOUT,
		       HDR("Rollout") "\"metadata\":{\"name\":\"r\"},\"spec\":{\"release\":\"r1\","
				      "\"onFailure\":\"explode\"}}",
		       "spec.onFailure");
	expect_invalid(CTL_KIND_ANALYSIS_TEMPLATE,
		       HDR("AnalysisTemplate") "\"metadata\":{\"name\":\"t\"},\"spec\":{\"metrics\":[{"
					       "\"name\":\"e\",\"source\":\"magic\",\"condition\":\"x\"}]}}",
		       "spec.metrics[0].source");
	expect_invalid(CTL_KIND_DEVICE,
		       HDR("Device") "\"metadata\":{\"name\":\"d\"},\"status\":{\"gateway\":\"X!\"}}",
		       "status.gateway");
}

static void test_kinds(void **st)
{
	(void)st;
	assert_int_equal(ctl_kind_parse("devices"), CTL_KIND_DEVICE);
	assert_int_equal(ctl_kind_parse("Device"), CTL_KIND_DEVICE);
	assert_int_equal(ctl_kind_parse("analysistemplates"), CTL_KIND_ANALYSIS_TEMPLATE);
	assert_int_equal(ctl_kind_parse("nope"), -ENOENT);
	assert_string_equal(ctl_kind_plural(CTL_KIND_ROLLOUT), "rollouts");
	assert_true(ctl_obj_name_valid("a.b-c"));
	assert_false(ctl_obj_name_valid("-a"));
	assert_false(ctl_obj_name_valid("a-"));
	assert_false(ctl_obj_name_valid(""));
}

static bool sel_match(const char *sel, const char *labels)
{
	struct ctl_selector *s;
	assert_int_equal(ctl_selector_parse(sel, &s), 0);
	json_t *l = json_loads(labels, 0, NULL);
	bool m = ctl_selector_match(s, l);
	json_decref(l);
	ctl_selector_free(s);
	return m;
}

static void test_selectors(void **st)
{
	(void)st;
	const char *l = "{\"site\":\"a\",\"env\":\"prod\",\"tier\":\"1\"}";
	assert_true(sel_match("", l));
	assert_true(sel_match("site=a", l));
	assert_true(sel_match("site==a", l));
	assert_false(sel_match("site=b", l));
	assert_true(sel_match("site!=b", l));
	assert_false(sel_match("site!=a", l));
	assert_true(sel_match("nope!=a", l));
	assert_true(sel_match("env in (qa, prod)", l));
	assert_false(sel_match("env in (qa)", l));
	assert_true(sel_match("env notin (qa)", l));
	assert_false(sel_match("env notin (qa,prod)", l));
	assert_true(sel_match("tier", l));
	assert_false(sel_match("nope", l));
	assert_true(sel_match("!nope", l));
	assert_false(sel_match("!tier", l));
	assert_true(sel_match("site=a, env in (prod), tier", l));
	assert_false(sel_match("site=a,env=qa", l));
	assert_false(sel_match("site=a", "{}"));

	static const char *bad[] = {"=a", "a in", "a in (", "a in (b", "a in ()", "a,", ",a",
				    "a=b c", "a notin b", "a >= 1", "a in (b,,c)", "!", NULL};
	for (const char **b = bad; *b; b++) {
		struct ctl_selector *s = NULL;
		int r = ctl_selector_parse(*b, &s);
		if (r != -EINVAL)
			print_error("'%s' parsed (%d)\n", *b, r);
		assert_int_equal(r, -EINVAL);
	}
	char big[CTL_SELECTOR_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	struct ctl_selector *s;
	assert_int_equal(ctl_selector_parse(big, &s), -E2BIG);
	char many[2048] = "";
	for (int i = 0; i < CTL_SELECTOR_REQ_MAX + 1; i++)
		strcat(many, i ? ",k" : "k");
	assert_int_equal(ctl_selector_parse(many, &s), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_selectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
