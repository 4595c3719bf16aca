/* logfmt quoting and levels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/log.h"

static void test_quote(void **state)
{
	(void)state;
	char b[64];
	assert_string_equal(gw_log_quote(b, sizeof(b), "plain-1"), "plain-1");
	assert_string_equal(gw_log_quote(b, sizeof(b), ""), "\"\"");
	assert_string_equal(gw_log_quote(b, sizeof(b), "a b"), "\"a b\"");
	assert_string_equal(gw_log_quote(b, sizeof(b), "k=v"), "\"k=v\"");
	assert_string_equal(gw_log_quote(b, sizeof(b), "q\"\\"), "\"q\\\"\\\\\"");
	assert_string_equal(gw_log_quote(b, sizeof(b), "\n\x01\xff"), "\"\\x0a\\x01\\xff\"");
	char small[6];
	assert_string_equal(gw_log_quote(small, sizeof(small), "a b c d"), "\"a b\"");
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(gw_log_parse_level("debug"), GW_LOG_DEBUG);
	assert_int_equal(gw_log_parse_level("warning"), GW_LOG_WARN);
	assert_true(gw_log_parse_level("x") < 0);
	gw_log_set_level(GW_LOG_WARN);
	assert_false(gw_log_enabled(GW_LOG_INFO));
	assert_true(gw_log_enabled(GW_LOG_ERROR));
	gw_log(GW_LOG_ERROR, "test line", "key=%d", 1);
	gw_log_set_level(GW_LOG_INFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote),
		cmocka_unit_test(test_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
