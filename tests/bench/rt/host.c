/* Host context switches per second: two coroutines ping-pong through
 * rt_yield. */
#include <stdio.h>
#include <time.h>

#include "rt/rt.h"

#define ROUNDS 5000000u

static void ping(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < ROUNDS; i++)
		rt_yield();
	rt_stop(0);
}

static void pong(void *arg)
{
	(void)arg;
	for (;;)
		rt_yield();
}

int main(void)
{
	struct timespec a, b;
	rt_init(NULL);
	if (rt_spawn("ping", ping, NULL, 2, NULL, 0, NULL) ||
	    rt_spawn("pong", pong, NULL, 2, NULL, 0, NULL))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	(void)rt_run();
	clock_gettime(CLOCK_MONOTONIC, &b);
	double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	printf("bench: rt_host_switches_per_s %.0f switches/s\n", 2.0 * ROUNDS / s);
	return 0;
}
