/**
 * @file cohort.h
 * @brief Which devices are canaries: a stable rank per (rollout, device) and
 * the selection of a step's devices, in proportion on every gateway.
 *
 * A device's rank is a 64-bit hash of the rollout's name and the device's
 * id. It never changes, so the same devices are canaries across restarts
 * and on every controller; raising the weight only adds devices; and a
 * device that joins later takes the place its rank gives it. The hash is
 * part of the contract: changing it would reshuffle every running rollout.
 *
 * Linux side: returns 0 or a negative errno.
 */
#ifndef CTL_COHORT_H
#define CTL_COHORT_H

#include <stddef.h>
#include <stdint.h>

/** Weights are in basis points: 10000 is 100 %. */
#define CTL_COHORT_FULL 10000u

/** One device as the selection sees it. */
struct ctl_cohort_device {
	uint64_t rank;    /**< in: ctl_cohort_rank() of (rollout, device) */
	uint32_t gateway; /**< in: the gateway's index, 0 .. n_gateways-1 */
	uint8_t sticky;   /**< in: already took the canary; stays selected */
	uint8_t selected; /**< out: a canary at this weight */
};

/**
 * @brief The rank of @p device in @p rollout: FNV-1a over the rollout name,
 * a NUL and the device id, then the splitmix64 finalizer.
 */
uint64_t ctl_cohort_rank(const char *rollout, const char *device);

/**
 * @brief Selects the canaries for a weight.
 *
 * On each gateway with n devices, exactly ceil(n × weight / 10000) are
 * selected (at least one when the weight is above 0): the sticky ones first,
 * then the lowest ranks. So every gateway carries its share of the risk, and
 * a small gateway is not skipped. Runs in O(n) expected time.
 *
 * @param weight_bp 0 .. CTL_COHORT_FULL
 * @param[out] ret_selected how many are selected; may be NULL
 * @return 0; -EINVAL for a weight over 100 % or a gateway index out of
 *         range; -ENOMEM. On error @c selected is unspecified.
 */
int ctl_cohort_select(struct ctl_cohort_device *devs, size_t n, uint32_t n_gateways,
		      uint32_t weight_bp, size_t *ret_selected);

#endif /* CTL_COHORT_H */
