/*
 * One rollout step for 1,000,000 devices on 1,000 gateways: rank every
 * device for the rollout (its stable hash) and select the canaries at 10 %
 * with per-gateway quotas, 10 % of them already sticky from the step
 * before. Wall time of the whole computation, best of 5.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ctl/cohort.h"

#define N 1000000u
#define GATEWAYS 1000u

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct ctl_cohort_device *d = calloc(N, sizeof(*d));
	char (*ids)[24] = malloc((size_t)N * sizeof(*ids));
	double best = 1e9;
	size_t sel = 0;

	if (!d || !ids)
		return 1;
	for (unsigned i = 0; i < N; i++)
		snprintf(ids[i], sizeof(ids[i]), "gw%03u-dev-%06u", i % GATEWAYS, i);
	for (int run = 0; run < 5; run++) {
		double t0 = now_s();

		for (unsigned i = 0; i < N; i++) {
			d[i].rank = ctl_cohort_rank("fleet-canary", ids[i]);
			d[i].gateway = i % GATEWAYS;
			d[i].sticky = (d[i].rank >> 60) == 0; /* 1/16 took the step before */
		}
		if (ctl_cohort_select(d, N, GATEWAYS, 1000, &sel) != 0)
			return 1;
		double t = now_s() - t0;
		if (t < best)
			best = t;
	}
	printf("bench: rollout_step_1m_s %.3f s\n", best);
	fprintf(stderr, "  %u devices, %u gateways, %zu selected at 10 %%\n", N, GATEWAYS, sel);
	free(ids);
	free(d);
	return 0;
}
