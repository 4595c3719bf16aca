/* The sample application: the pipeline's arithmetic, and the whole app on
 * the sim board talking to a gateway-side endpoint over a socketpair. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/app.h"
#include "link_peer.h"

static void test_filter(void **state)
{
	(void)state;
	int32_t st = INT32_MIN;
	assert_int_equal(app_filter_step(&st, 800), 800); /* first sample primes it */
	int32_t v = 0;
	for (int i = 0; i < 100; i++)
		v = app_filter_step(&st, 0);
	assert_true(v >= 0 && v < 8); /* decays toward the input */
	v = app_filter_step(&st, 8000);
	assert_true(v > 900 && v < 1100); /* one eighth of the step */
}

static void test_sensor(void **state)
{
	(void)state;
	uint32_t a = 1, b = 1;
	for (uint32_t t = 0; t < 5000; t += 37) {
		int32_t x = app_sensor_read(&a, t), y = app_sensor_read(&b, t);
		assert_int_equal(x, y); /* deterministic */
		assert_true(x >= -128 && x <= 10000 + 127);
	}
}

/* The app as a process (flotilla-sim-device) with its UART on one end of a
 * socketpair and the endpoint on the other: hello, then heartbeats and
 * telemetry from the pipeline. */
static void test_sim_device_link(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		char fdarg[16];
		snprintf(fdarg, sizeof(fdarg), "fd:%d", sv[1]);
		execl(SIM_DEVICE, SIM_DEVICE, "--uart", fdarg, "--device-id", "unit-7",
		      (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	struct peer_result r;
	int rc = peer_run(sv[0], 3, 20000, &r);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(sv[0]);
	assert_int_equal(rc, 0);
	assert_int_equal(r.hello, 1);
	assert_string_equal(r.first.device_id, "unit-7");
	assert_string_equal(r.first.hw_id, "flotilla-sim");
	assert_true(r.heartbeats >= 3);
	assert_true(r.last_uptime >= r.first_uptime + 1); /* 1 s apart, as asked */
	assert_true(r.n_stacks >= 4);                    /* the app's coroutines */
	assert_int_equal(r.errors, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_sensor),
		cmocka_unit_test(test_sim_device_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
