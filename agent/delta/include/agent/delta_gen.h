/**
 * @file delta_gen.h
 * @brief Delta patch generator: host only (heap, libdivsufsort).
 *
 * Produces the patches that agent/delta.h applies; the format is described
 * in agent/DELTA.md. Returns 0 or a negative errno.
 */
#ifndef AGENT_DELTA_GEN_H
#define AGENT_DELTA_GEN_H

#include <stddef.h>
#include <stdint.h>

/** Generator options. A NULL pointer means all defaults. */
struct ag_delta_gen_opts {
	/** Thumb-2 branch prediction: -1 auto (kept if it makes the patch
	 *  smaller), 0 off, 1 on. */
	int thumb2;
};

/**
 * @brief Makes a patch that turns @p old_img into @p new_img.
 * @param opts NULL for defaults.
 * @param ret_patch on success, a malloc'd patch owned by the caller (free()).
 * @param ret_patch_len on success, its length.
 * @return 0, -EINVAL on bad arguments, -EFBIG if an image exceeds
 *         AG_DELTA_MAX_IMAGE, -ENOMEM. Outputs are written only on success.
 */
int ag_delta_generate(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
		      size_t new_len, const struct ag_delta_gen_opts *opts, uint8_t **ret_patch,
		      size_t *ret_patch_len);

#endif /* AGENT_DELTA_GEN_H */
