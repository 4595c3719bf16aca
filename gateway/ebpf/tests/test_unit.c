/* gw_ebpf without the kernel: bucket arithmetic, quantiles, the userspace
 * fallback with the probes turned off, labels and the exposition text. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

static void test_bucket_of(void **state)
{
	(void)state;
	assert_int_equal(gw_ebpf_bucket_of(0), 0);
	assert_int_equal(gw_ebpf_bucket_of(1), 0);
	assert_int_equal(gw_ebpf_bucket_of(2), 1);
	assert_int_equal(gw_ebpf_bucket_of(3), 2);
	assert_int_equal(gw_ebpf_bucket_of(4), 2);
	assert_int_equal(gw_ebpf_bucket_of(5), 3);
	assert_int_equal(gw_ebpf_bucket_of(1024), 10);
	assert_int_equal(gw_ebpf_bucket_of(1025), 11);
	assert_int_equal(gw_ebpf_bucket_of(1000000), 20); /* 1 ms <= 2^20 ns */
	assert_int_equal(gw_ebpf_bucket_of(UINT64_MAX), 63);
	/* Rounded up: every value is at most its bucket's bound and above the
	 * bound of the bucket below. */
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 100000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t v = x >> (x & 63);
		unsigned b = gw_ebpf_bucket_of(v);
		if (b < 63)
			assert_true(v <= (1ull << b));
		if (b > 0)
			assert_true(v > (1ull << (b - 1)));
	}
	assert_true(fabs(gw_ebpf_bucket_le_seconds(20) - 1048576e-9) < 1e-15);
}

static void test_quantile(void **state)
{
	struct gw_ebpf_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_true(gw_ebpf_hist_quantile(&h, 0.5) == 0);
	h.bucket[10] = 98;
	h.bucket[20] = 2;
	h.count = 100;
	assert_true(gw_ebpf_hist_quantile(&h, 0.5) == gw_ebpf_bucket_le_seconds(10));
	assert_true(gw_ebpf_hist_quantile(&h, 0.98) == gw_ebpf_bucket_le_seconds(10));
	assert_true(gw_ebpf_hist_quantile(&h, 0.99) == gw_ebpf_bucket_le_seconds(20));
	assert_true(gw_ebpf_hist_quantile(&h, 1.0) == gw_ebpf_bucket_le_seconds(20));
}

static int log_calls;
static char log_line[1024];

static void log_cb(void *arg, const char *line)
{
	(void)arg;
	log_calls++;
	snprintf(log_line, sizeof(log_line), "%s", line);
}

static void test_disabled_fallback(void **state)
{
	struct gw_ebpf_config cfg = { .disable = true, .log = log_cb };
	struct gw_ebpf *h;
	struct gw_ebpf_hist hist;
	struct gw_ebpf_summary sum;
	int p[2];
	char *text;

	(void)state;
	log_calls = 0;
	assert_int_equal(gw_ebpf_new(&cfg, &h), 0);
	assert_false(gw_ebpf_enabled(h));
	assert_int_equal(gw_ebpf_probes(h), 0);
	assert_non_null(strstr(gw_ebpf_reason(h), "turned off"));
	assert_int_equal(log_calls, 1);
	assert_non_null(strstr(log_line, "disabled"));
	assert_non_null(strstr(log_line, "userspace"));

	assert_int_equal(pipe(p), 0);
	assert_int_equal(gw_ebpf_watch_fd(h, p[1], GW_EBPF_TRANSPORT_PTY, "r1", "canary"), 0);
	/* A read without a write, and an empty read, measure nothing. */
	gw_ebpf_note_read(h, p[1], 1);
	gw_ebpf_note_write(h, p[1]);
	tu_sleep_ms(3);
	gw_ebpf_note_write(h, p[1]); /* the exchange starts at the first write */
	gw_ebpf_note_read(h, p[1], 0);
	gw_ebpf_note_read(h, p[1], -1);
	gw_ebpf_note_read(h, p[1], 5);
	gw_ebpf_note_read(h, p[1], 5);

	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "r1", "canary",
					   GW_EBPF_SOURCE_AUTO, &hist), 0);
	assert_int_equal(hist.count, 1);
	assert_true(hist.sum_ns >= 3000000);
	for (unsigned b = 0; b < gw_ebpf_bucket_of(3000000); b++)
		assert_int_equal(hist.bucket[b], 0);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "r1", "canary",
					   GW_EBPF_SOURCE_KERNEL, &hist), -EOPNOTSUPP);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "r2", "canary",
					   GW_EBPF_SOURCE_AUTO, &hist), -ENOENT);
	assert_int_equal(gw_ebpf_read_sched(h, &hist), -EOPNOTSUPP);
	assert_int_equal(gw_ebpf_read_rtt(h, GW_EBPF_PEER_CONTROLLER, NULL, NULL, &hist),
			 -EOPNOTSUPP);
	assert_int_equal(gw_ebpf_watch_controller(h, p[0]), -EOPNOTSUPP);

	assert_int_equal(gw_ebpf_device_summary(h, p[1], &sum), 0);
	assert_int_equal(sum.count, 1);
	assert_false(sum.from_kernel);
	assert_true(sum.p50_seconds >= 0.003);
	assert_true(sum.p99_seconds >= sum.p50_seconds);
	assert_true(sum.mean_seconds >= 0.003);
	assert_int_equal(gw_ebpf_device_summary(h, p[0], &sum), -ENOENT);

	text = tu_metrics(h);
	assert_non_null(text);
	assert_non_null(strstr(text, "\nflotilla_gateway_ebpf_enabled 0\n"));
	assert_non_null(strstr(text, "flotilla_gateway_ebpf_program_attached{program=\"sys_exit\"} 0\n"));
	assert_non_null(strstr(text, "flotilla_gateway_link_latency_seconds_count{transport=\"pty\","
				     "release=\"r1\",cohort=\"canary\"} 1\n"));
	assert_non_null(strstr(text, "flotilla_gateway_link_latency_seconds_bucket{transport=\"pty\","
				     "release=\"r1\",cohort=\"canary\",le=\"+Inf\"} 1\n"));
	assert_null(strstr(text, "flotilla_gateway_sched_latency_seconds"));
	assert_int_equal(tu_check_histograms(text), 1);
	int rc = tu_promtool_check(text);
	assert_true(rc == 0 || rc == 77);
	free(text);

	/* Unwatching keeps the histogram, drops the summary. */
	assert_int_equal(gw_ebpf_unwatch_fd(h, p[1]), 0);
	assert_int_equal(gw_ebpf_unwatch_fd(h, p[1]), -ENOENT);
	assert_int_equal(gw_ebpf_device_summary(h, p[1], &sum), -ENOENT);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "r1", "canary",
					   GW_EBPF_SOURCE_USER, &hist), 0);
	assert_int_equal(hist.count, 1);
	close(p[0]);
	close(p[1]);
	gw_ebpf_free(h);
}

static void test_labels(void **state)
{
	struct gw_ebpf_config cfg = { .disable = true };
	struct gw_ebpf *h;
	struct gw_ebpf_hist hist;
	char long_label[200], name[32];
	char *text;

	(void)state;
	assert_int_equal(gw_ebpf_new(&cfg, &h), 0);
	/* Escaping of \, " and newline. */
	assert_int_equal(gw_ebpf_watch_fd(h, 5, GW_EBPF_TRANSPORT_SERIAL, "v1\"x\\y\nz", NULL), 0);
	memset(long_label, 'a', sizeof(long_label) - 1);
	long_label[sizeof(long_label) - 1] = '\0';
	assert_int_equal(gw_ebpf_watch_fd(h, 6, GW_EBPF_TRANSPORT_TCP, long_label, "stable"), 0);
	text = tu_metrics(h);
	assert_non_null(text);
	assert_non_null(strstr(text, "release=\"v1\\\"x\\\\y\\nz\",cohort=\"unknown\""));
	/* Cut to GW_EBPF_LABEL_MAX bytes. */
	char cut[GW_EBPF_LABEL_MAX + 20];
	snprintf(cut, sizeof(cut), "release=\"%.*s\"", GW_EBPF_LABEL_MAX, long_label);
	assert_non_null(strstr(text, cut));
	int rc = tu_promtool_check(text);
	assert_true(rc == 0 || rc == 77);
	free(text);

	/* Beyond GW_EBPF_GROUPS_MAX pairs, new ones share the unknown group. */
	for (int i = 0; i < GW_EBPF_GROUPS_MAX + 10; i++) {
		snprintf(name, sizeof(name), "rel%d", i);
		assert_int_equal(gw_ebpf_watch_fd(h, 100 + i, GW_EBPF_TRANSPORT_PTY, name, "c"), 0);
		gw_ebpf_note_write(h, 100 + i);
		gw_ebpf_note_read(h, 100 + i, 1);
	}
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "rel0", "c",
					   GW_EBPF_SOURCE_USER, &hist), 0);
	assert_int_equal(hist.count, 1);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, NULL, NULL,
					   GW_EBPF_SOURCE_USER, &hist), 0);
	assert_true(hist.count >= 10);

	/* A pair no fd uses any more gives its group to a new pair, whose
	 * series start from 0. */
	assert_int_equal(gw_ebpf_watch_fd(h, 500, GW_EBPF_TRANSPORT_PTY, "fresh", "c"), 0);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "fresh", "c",
					   GW_EBPF_SOURCE_USER, &hist), -ENOENT); /* all in use */
	assert_int_equal(gw_ebpf_unwatch_fd(h, 100), 0); /* rel0's only fd */
	assert_int_equal(gw_ebpf_watch_fd(h, 500, GW_EBPF_TRANSPORT_PTY, "fresh", "c"), 0);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "rel0", "c",
					   GW_EBPF_SOURCE_USER, &hist), -ENOENT);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "fresh", "c",
					   GW_EBPF_SOURCE_USER, &hist), 0);
	assert_int_equal(hist.count, 0);
	gw_ebpf_note_write(h, 500);
	gw_ebpf_note_read(h, 500, 1);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_PTY, "fresh", "c",
					   GW_EBPF_SOURCE_USER, &hist), 0);
	assert_int_equal(hist.count, 1);
	text = tu_metrics(h);
	assert_non_null(text);
	assert_null(strstr(text, "release=\"rel0\""));
	assert_non_null(strstr(text, "flotilla_gateway_link_latency_seconds_count{transport=\"pty\","
				     "release=\"fresh\",cohort=\"c\"} 1\n"));
	free(text);
	gw_ebpf_free(h);
}

static void test_bad_args(void **state)
{
	struct gw_ebpf_config cfg = { .disable = true };
	struct gw_ebpf_config bad = { .probes = 0x100 };
	struct gw_ebpf *h;
	struct gw_ebpf_hist hist;

	(void)state;
	assert_int_equal(gw_ebpf_new(&bad, &h), -EINVAL);
	assert_int_equal(gw_ebpf_new(&cfg, NULL), -EINVAL);
	assert_int_equal(gw_ebpf_new(&cfg, &h), 0);
	assert_int_equal(gw_ebpf_watch_fd(h, -1, GW_EBPF_TRANSPORT_PTY, NULL, NULL), -EINVAL);
	assert_int_equal(gw_ebpf_watch_fd(h, GW_EBPF_FD_MAX, GW_EBPF_TRANSPORT_PTY, NULL, NULL),
			 -EINVAL);
	assert_int_equal(gw_ebpf_watch_fd(h, 3, (enum gw_ebpf_transport)9, NULL, NULL), -EINVAL);
	assert_int_equal(gw_ebpf_unwatch_fd(h, 3), -ENOENT);
	assert_int_equal(gw_ebpf_read_link(h, GW_EBPF_TRANSPORT_COUNT, NULL, NULL,
					   GW_EBPF_SOURCE_AUTO, &hist), -EINVAL);
	assert_int_equal(gw_ebpf_write_metrics(h, NULL), -EINVAL);
	gw_ebpf_note_write(h, 12345); /* not watched: ignored */
	gw_ebpf_note_read(h, -3, 1);
	gw_ebpf_free(h);
	gw_ebpf_free(NULL);
	assert_false(gw_ebpf_enabled(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_of),
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_disabled_fallback),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
