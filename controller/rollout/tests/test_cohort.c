#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/cohort.h"

static struct ctl_cohort_device *make(size_t n, uint32_t gateways, const char *rollout)
{
	struct ctl_cohort_device *d = calloc(n, sizeof(*d));
	char id[32];

	assert_non_null(d);
	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "dev-%06zu", i);
		d[i].rank = ctl_cohort_rank(rollout, id);
		d[i].gateway = (uint32_t)(i % gateways);
	}
	return d;
}

static void test_rank_is_a_fixed_contract(void **state)
{
	(void)state;
	/* Changing the hash would reshuffle every running rollout's canaries. */
	assert_true(ctl_cohort_rank("r1", "dev-1") == ctl_cohort_rank("r1", "dev-1"));
	assert_true(ctl_cohort_rank("r1", "dev-1") != ctl_cohort_rank("r2", "dev-1"));
	/* The separator: ("ab","c") and ("a","bc") are different pairs. */
	assert_true(ctl_cohort_rank("ab", "c") != ctl_cohort_rank("a", "bc"));
	/* Pinned; the value was computed by a separate implementation of the
	 * documented algorithm (FNV-1a 64, NUL separator, splitmix64 finalizer). */
	assert_true(ctl_cohort_rank("fleet-rollout", "dev-000042") == 0x88a714cba05c547full);
}

static void test_ranks_are_uniform(void **state)
{
	(void)state;
	unsigned buckets[16] = { 0 };
	const size_t n = 160000;
	char id[32];

	for (size_t i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "dev-%zu", i);
		buckets[ctl_cohort_rank("rollout-x", id) >> 60]++;
	}
	double chi = 0, e = (double)n / 16;
	for (int b = 0; b < 16; b++)
		chi += (buckets[b] - e) * (buckets[b] - e) / e;
	/* 15 degrees of freedom: p = 0.001 at 37.7 */
	assert_true(chi < 37.7);
}

static size_t count_selected(const struct ctl_cohort_device *d, size_t n, uint32_t g)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += d[i].selected && (g == UINT32_MAX || d[i].gateway == g);
	return c;
}

static void test_every_gateway_carries_its_share(void **state)
{
	(void)state;
	/* 1,000 + 10 + 1 devices on three gateways. */
	size_t n = 1011, sel;
	struct ctl_cohort_device *d = make(n, 1, "r");

	for (size_t i = 1000; i < 1010; i++)
		d[i].gateway = 1;
	d[1010].gateway = 2;
	assert_int_equal(ctl_cohort_select(d, n, 3, 1000, &sel), 0); /* 10 % */
	assert_int_equal(count_selected(d, n, 0), 100);
	assert_int_equal(count_selected(d, n, 1), 1);
	assert_int_equal(count_selected(d, n, 2), 1); /* a lone device is not skipped */
	assert_int_equal(sel, 102);
	assert_int_equal(ctl_cohort_select(d, n, 3, 0, &sel), 0);
	assert_int_equal(sel, 0);
	assert_int_equal(ctl_cohort_select(d, n, 3, CTL_COHORT_FULL, &sel), 0);
	assert_int_equal(sel, n);
	free(d);
}

/* The reference: per gateway, sort by rank and take the quota. */
static int by_rank(const void *a, const void *b)
{
	const struct ctl_cohort_device *x = *(const struct ctl_cohort_device *const *)a;
	const struct ctl_cohort_device *y = *(const struct ctl_cohort_device *const *)b;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static void test_matches_sorting(void **state)
{
	(void)state;
	for (unsigned trial = 0; trial < 50; trial++) {
		uint32_t gws = 1 + trial % 7;
		size_t n = 1 + (trial * 37) % 500;
		uint32_t w = (trial * 911) % (CTL_COHORT_FULL + 1);
		char name[16];
		snprintf(name, sizeof(name), "t%u", trial);
		struct ctl_cohort_device *d = make(n, gws, name);

		assert_int_equal(ctl_cohort_select(d, n, gws, w, NULL), 0);
		for (uint32_t g = 0; g < gws; g++) {
			struct ctl_cohort_device *v[500];
			size_t m = 0;
			for (size_t i = 0; i < n; i++)
				if (d[i].gateway == g)
					v[m++] = &d[i];
			qsort(v, m, sizeof(v[0]), by_rank);
			size_t quota = (m * w + CTL_COHORT_FULL - 1) / CTL_COHORT_FULL;
			for (size_t k = 0; k < m; k++)
				assert_int_equal(v[k]->selected, k < quota);
		}
		free(d);
	}
}

static void test_monotonic_and_sticky(void **state)
{
	(void)state;
	size_t n = 2000;
	struct ctl_cohort_device *d = make(n, 4, "mono");
	uint8_t at10[2000];

	assert_int_equal(ctl_cohort_select(d, n, 4, 1000, NULL), 0);
	for (size_t i = 0; i < n; i++)
		at10[i] = d[i].selected;
	/* Raising the weight only adds devices. */
	assert_int_equal(ctl_cohort_select(d, n, 4, 5000, NULL), 0);
	for (size_t i = 0; i < n; i++)
		if (at10[i])
			assert_true(d[i].selected);
	assert_int_equal(count_selected(d, n, UINT32_MAX), 1000);

	/* Devices that took the canary stay, even when a newcomer outranks them. */
	struct ctl_cohort_device *e = calloc(n + 1, sizeof(*e));
	assert_non_null(e);
	memcpy(e, d, n * sizeof(*d));
	for (size_t i = 0; i < n; i++)
		e[i].sticky = at10[i];
	e[n].rank = 0; /* the lowest rank there is */
	e[n].gateway = 0;
	size_t sel;
	assert_int_equal(ctl_cohort_select(e, n + 1, 4, 1000, &sel), 0);
	for (size_t i = 0; i < n; i++)
		if (at10[i])
			assert_true(e[i].selected);
	assert_true(e[n].selected); /* gateway 0's quota grew from 50 to 51 */
	assert_int_equal(sel, 201);
	free(e);
	free(d);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct ctl_cohort_device d[2] = { { .gateway = 0 }, { .gateway = 3 } };

	assert_int_equal(ctl_cohort_select(d, 2, 4, CTL_COHORT_FULL + 1, NULL), -EINVAL);
	assert_int_equal(ctl_cohort_select(d, 2, 3, 100, NULL), -EINVAL);
	assert_int_equal(ctl_cohort_select(NULL, 2, 3, 100, NULL), -EINVAL);
	assert_int_equal(ctl_cohort_select(NULL, 0, 3, 100, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rank_is_a_fixed_contract),
		cmocka_unit_test(test_ranks_are_uniform),
		cmocka_unit_test(test_every_gateway_carries_its_share),
		cmocka_unit_test(test_matches_sorting),
		cmocka_unit_test(test_monotonic_and_sticky),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
