/* Internal entry points of the generator, for tests: small blocks and
 * hand-made (even hostile) command lists. Not part of the public API. */
#ifndef AGENT_DELTA_GEN_INTERNAL_H
#define AGENT_DELTA_GEN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/delta_gen.h"

/** A run of output: `copy` bytes from old[opos..] plus diffs, then `lit` literals. */
struct ag__delta_seg {
	uint32_t npos, opos, copy, lit;
};

/** ag_delta_generate() with a chosen block size (log2). */
int ag__delta_generate_ex(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
			  size_t new_len, const struct ag_delta_gen_opts *opts, unsigned block_shift,
			  uint8_t **ret_patch, size_t *ret_patch_len);

/**
 * Codes the given segments as they are. The header declares @old_decl and
 * @new_decl, which may be smaller than the buffers (@old_len, @new_len) the
 * segments read: that is how tests make patches reaching outside the old
 * image or writing past the new one. @flags: AG_DELTA_F_* (no word units).
 */
int ag__delta_encode_segs(const uint8_t *old_img, size_t old_len, size_t old_decl,
			  const uint8_t *new_img, size_t new_len, size_t new_decl,
			  const struct ag__delta_seg *segs, size_t nsegs, uint8_t flags,
			  unsigned block_shift, uint8_t **ret_patch, size_t *ret_patch_len);

#endif /* AGENT_DELTA_GEN_INTERNAL_H */
