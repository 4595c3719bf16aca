/* Metrics: families, label escaping, collectors, the process collector. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/metrics.h"

static void one(void *ctx, struct gw_mbuf *b)
{
	(void)ctx;
	gw_mbuf_family(b, "flotilla_test_total", "counter", "A test\\counter\nwith newline.");
	const char *l[] = {"transport", "tcp", "release", "1.0\"x\\y\nz", NULL};
	gw_mbuf_sample(b, "flotilla_test_total", l, 42);
	gw_mbuf_sample(b, "flotilla_test_total", NULL, 0.25);
}

static void huge(void *ctx, struct gw_mbuf *b)
{
	(void)ctx;
	for (int i = 0; i < 2000000; i++)
		gw_mbuf_printf(b, "flotilla_x %d\n", i);
}

static void test_render(void **state)
{
	(void)state;
	struct gw_metrics *m;
	assert_int_equal(gw_metrics_new(&m), 0);
	assert_int_equal(gw_metrics_add(m, "one", one, NULL), 0);
	assert_int_equal(gw_metrics_add(m, "one", one, NULL), -EEXIST);
	assert_int_equal(gw_metrics_add(m, "process", gw_metrics_collect_process, NULL), 0);
	char *t;
	size_t n;
	assert_int_equal(gw_metrics_render(m, &t, &n), 0);
	assert_int_equal(strlen(t), n);
	assert_non_null(strstr(t, "# HELP flotilla_test_total A test\\\\counter\\nwith newline.\n"
				  "# TYPE flotilla_test_total counter\n"));
	assert_non_null(strstr(t, "flotilla_test_total{transport=\"tcp\",release=\"1.0\\\"x\\\\y\\nz\"} 42\n"));
	assert_non_null(strstr(t, "flotilla_test_total 0.25\n"));
	assert_non_null(strstr(t, "process_resident_memory_bytes "));
	assert_non_null(strstr(t, "flotilla_gateway_scrape_collector_duration_seconds{collector=\"one\"}"));
	assert_non_null(strstr(t, "flotilla_gateway_scrapes_total 1\n"));
	free(t);
	assert_int_equal(gw_metrics_add(m, "huge", huge, NULL), 0);
	assert_int_equal(gw_metrics_render(m, &t, &n), -E2BIG);
	gw_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_render)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
