#include "ctl/cohort.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint64_t ctl_cohort_rank(const char *rollout, const char *device)
{
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p;

	for (p = (const unsigned char *)rollout; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h = (h ^ 0) * 0x100000001b3ull; /* the separator */
	for (p = (const unsigned char *)device; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	/* splitmix64's finalizer: FNV's low bits are weak on short keys. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static void swap(uint32_t *a, uint32_t *b)
{
	uint32_t t = *a;
	*a = *b;
	*b = t;
}

/* Moves the k lowest-ranked of idx[0..n) to the front: quickselect with
 * Hoare's partition around the lower middle element, which always splits
 * off at least one element. Ranks are hashes, so pivots are as good as random. */
static void select_lowest(const struct ctl_cohort_device *d, uint32_t *idx, size_t n, size_t k)
{
	size_t lo = 0, hi = n; /* the k-th boundary lies in [lo, hi) */

	while (hi - lo > 1 && k > lo && k < hi) {
		uint64_t pivot = d[idx[lo + (hi - lo - 1) / 2]].rank;
		size_t i = lo - 1, j = hi;

		for (;;) {
			do
				i++;
			while (d[idx[i]].rank < pivot);
			do
				j--;
			while (d[idx[j]].rank > pivot);
			if (i >= j)
				break;
			swap(&idx[i], &idx[j]);
		}
		/* [lo, j] <= pivot <= [j+1, hi) */
		if (k <= j)
			hi = j + 1;
		else
			lo = j + 1;
	}
}

static void free_all(size_t *a, size_t *b, uint32_t *c)
{
	free(a);
	free(b);
	free(c);
}

int ctl_cohort_select(struct ctl_cohort_device *devs, size_t n, uint32_t n_gateways,
		      uint32_t weight_bp, size_t *ret_selected)
{
	size_t *start, *sticky, total = 0;
	uint32_t *idx;

	if (weight_bp > CTL_COHORT_FULL || (n && !devs) || n > UINT32_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (devs[i].gateway >= n_gateways)
			return -EINVAL;
	start = calloc((size_t)n_gateways + 1, sizeof(*start));
	sticky = calloc((size_t)n_gateways + 1, sizeof(*sticky));
	idx = malloc((n ? n : 1) * sizeof(*idx));
	if (!start || !sticky || !idx) {
		free_all(start, sticky, idx);
		return -ENOMEM;
	}
	/* Bucket the non-sticky devices by gateway (a counting sort). */
	for (size_t i = 0; i < n; i++) {
		devs[i].selected = devs[i].sticky ? 1 : 0;
		if (devs[i].sticky)
			sticky[devs[i].gateway]++;
		else
			start[devs[i].gateway + 1]++;
	}
	for (uint32_t g = 0; g < n_gateways; g++)
		start[g + 1] += start[g];
	for (size_t i = 0; i < n; i++)
		if (!devs[i].sticky)
			idx[start[devs[i].gateway]++] = (uint32_t)i;
	/* start[g] is now the end of gateway g's bucket: shift back. */
	memmove(start + 1, start, (size_t)n_gateways * sizeof(*start));
	start[0] = 0;

	for (uint32_t g = 0; g < n_gateways; g++) {
		size_t free_n = start[g + 1] - start[g];
		size_t all = free_n + sticky[g];
		size_t quota = (size_t)(((uint64_t)all * weight_bp + CTL_COHORT_FULL - 1) /
					CTL_COHORT_FULL);
		size_t want = quota > sticky[g] ? quota - sticky[g] : 0;

		if (want > free_n)
			want = free_n;
		if (want < free_n)
			select_lowest(devs, idx + start[g], free_n, want);
		for (size_t k = 0; k < want; k++)
			devs[idx[start[g] + k]].selected = 1;
		total += sticky[g] + want;
	}
	free_all(start, sticky, idx);
	if (ret_selected)
		*ret_selected = total;
	return 0;
}
