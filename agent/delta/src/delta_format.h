/* Constants of the delta patch format (agent/DELTA.md), shared by apply and gen. */
#ifndef AGENT_DELTA_FORMAT_H
#define AGENT_DELTA_FORMAT_H

#include <stdint.h>

#include "agent/delta.h"

/* Probability scale of the model: 16 bits, P(bit == 0); adaptation shift. */
#define DM_PBITS 16u
#define DM_PONE (1u << DM_PBITS)
/* Number kinds. */
enum { DM_NUM_SEEK, DM_NUM_COPY, DM_NUM_LIT, DM_NUM_WORD, DM_NUM_KINDS };
#ifndef DM_SUB
#define DM_SUB 1u
#endif
#define DM_NUM_SIZE (64u + 33u * ((1u << DM_SUB) - 1u))

/* hist[] slots. */
enum { DM_H_PDIFF, DM_H_LASTNZ, DM_H_PREV, DM_H_RUN };

#ifndef LITH
#define LITH 4
#define LITL 1
#endif
#define LITSIZE (LITH * 16 + LITL * 16 * 16)
#ifndef ZN
#define ZN 512
#define ZCTX(r, o) ((r) * 128 + ((o) >> 1))
#endif
/* Layout of probs[]. */
enum {
	DM_P_ZERO = 0,                          /* diff == 0 ? by run, old byte */
	DM_P_REPF = DM_P_ZERO + ZN,             /* [4]: nonzero diff == last nonzero? */
	DM_P_DIFF = DM_P_REPF + 4,              /* [256]: diff byte tree */
	DM_P_LIT = DM_P_DIFF + 256,             /* literal trees */
	DM_P_NUM = DM_P_LIT + LITSIZE,              /* [3][DM_NUM_SIZE] */
	DM_P_SIGN = DM_P_NUM + DM_NUM_KINDS * DM_NUM_SIZE, /* seek sign */
	DM_P_WORD = DM_P_SIGN + 1,             /* [2][4][4]: unit flags by kind, history */
	DM_P_BRANCH = DM_P_WORD + 32,          /* [2]: is the branch still one? by history */
	DM_P_END = DM_P_BRANCH + 2,
};

/*
 * Adapts one probability toward the bit seen. Each has a 2-bit count of the
 * updates it has seen: the first ones move it fast, later ones by 1/16
 * (1/8 for the diff-byte tree, whose statistics drift fastest).
 */
static inline void dm_update(uint16_t *p, uint8_t *cnt, unsigned idx, unsigned bit)
{
	unsigned sh = (idx & 3u) * 2u;
	unsigned s = ((cnt[idx >> 2] >> sh) & 3u) + 1u;
	unsigned lim = idx - DM_P_DIFF < 256u ? 3u : 4u;
	if (s >= lim)
		s = lim;
	else
		cnt[idx >> 2] = (uint8_t)(cnt[idx >> 2] + (1u << sh));
	if (bit)
		*p = (uint16_t)(*p - ((*p - 32u) >> s));
	else
		*p = (uint16_t)(*p + ((DM_PONE - 32u - *p) >> s));
}

#define DF_MAGIC 0x544c4446u /* "FDLT" little-endian */
#define DF_VERSION 1u
#define DF_HEADER_LEN 48u
#define DF_FLAGS_KNOWN (AG_DELTA_F_THUMB2 | AG_DELTA_F_WORDS)
/* Bytes the range decoder reads to start a block. */
#define DF_RC_INIT 4u
/* Most input bytes one decoding step can consume. A modelled decision takes
 * at most 2 bytes (no probability is below 32/65536), 8 direct bits at most 1
 * more. A command is three numbers of at most 7 decisions and 30 direct bits
 * plus a sign: 23 * 2 + 12 + 3 = 61; an output unit is fewer (branch: 30). */
#define DF_STEP_MAX 72u
#define DF_PROGRESS_LEN 28u
#define DF_PROGRESS_TAG 0x31525044u /* "DPR1" */
/* Default output bytes per block (log2): the model restarts at each block,
 * which is what a resume can restart from. */
#define DF_BLOCK_SHIFT_DEFAULT 18u

/* Largest patch accepted for a new image of @new_size: incompressible data
 * costs a little over 8 bits a byte, plus a few bytes per block. */
static inline uint32_t df_patch_limit(uint32_t new_size, unsigned shift)
{
	return DF_HEADER_LEN + new_size + new_size / 8u + ((new_size >> shift) + 1u) * 16u + 256u;
}

#endif /* AGENT_DELTA_FORMAT_H */
