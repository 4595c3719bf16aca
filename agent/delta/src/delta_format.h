/* Constants of the delta patch format (agent/DELTA.md), shared by apply and gen. */
#ifndef AGENT_DELTA_FORMAT_H
#define AGENT_DELTA_FORMAT_H

#include <stdint.h>

#include "agent/delta.h"

/* Probability scale of the model: 16 bits, P(bit == 0); adaptation shift. */
#define DM_PBITS 16u
#define DM_PONE (1u << DM_PBITS)
#define DM_SHIFT 5u

#define DF_MAGIC 0x544c4446u /* "FDLT" little-endian */
#define DF_VERSION 1u
#define DF_HEADER_LEN 48u
#define DF_FLAGS_KNOWN (AG_DELTA_F_THUMB2 | AG_DELTA_F_WORDS)
/* Bytes the range decoder reads to start a block. */
#define DF_RC_INIT 4u
/* Most input bytes one decoding step can consume: a command is three numbers
 * of at most 6 + 2 modelled decisions (2 bytes each at worst), 30 direct bits
 * and a sign; an output unit is fewer. */
#define DF_STEP_MAX 96u
#define DF_PROGRESS_LEN 28u
#define DF_PROGRESS_TAG 0x31525044u /* "DPR1" */
/* Default output bytes per block (log2): the model restarts at each block,
 * which is what a resume can restart from. */
#define DF_BLOCK_SHIFT_DEFAULT 16u

/* Largest patch accepted for a new image of @new_size: incompressible data
 * costs a little over 8 bits a byte, plus a few bytes per block. */
static inline uint32_t df_patch_limit(uint32_t new_size, unsigned shift)
{
	return DF_HEADER_LEN + new_size + new_size / 8u + ((new_size >> shift) + 1u) * 16u + 256u;
}

#endif /* AGENT_DELTA_FORMAT_H */
