/*
 * The adaptive model of the delta format, shared by the decoder (device) and
 * the encoder (host) so that both make exactly the same predictions.
 *
 * The including file defines, before including this header:
 *   struct coder;
 *   static unsigned rc_bit(struct coder *c, uint16_t *p, unsigned bit);
 *   static uint32_t rc_direct(struct coder *c, unsigned nbits, uint32_t v);
 * The encoder codes the `bit`/`v` given; the decoder ignores them and returns
 * what it decoded. Every function below returns the value coded.
 */
#ifndef AGENT_DELTA_MODEL_H
#define AGENT_DELTA_MODEL_H

#include <stdint.h>
#include <string.h>

#include "agent/delta.h"

#include "delta_format.h"

/* Number kinds. */
enum { DM_NUM_SEEK, DM_NUM_COPY, DM_NUM_LIT, DM_NUM_KINDS };
#define DM_NUM_SIZE (64u + 33u * 3u)

/* hist[] slots. */
enum { DM_H_PDIFF, DM_H_LASTNZ, DM_H_PREV, DM_H_RUN };

/* Layout of probs[]. */
enum {
	DM_P_ZERO = 0,                          /* [4][256]: diff == 0 ? by run, old byte */
	DM_P_REPF = DM_P_ZERO + 4 * 256,        /* [4]: nonzero diff == last nonzero? */
	DM_P_DIFF = DM_P_REPF + 4,              /* [256]: diff byte tree */
	DM_P_LIT = DM_P_DIFF + 256,             /* [256]: literal tree */
	DM_P_NUM = DM_P_LIT + 256,              /* [3][DM_NUM_SIZE] */
	DM_P_SIGN = DM_P_NUM + DM_NUM_KINDS * DM_NUM_SIZE,
	DM_P_END = DM_P_SIGN + 1,
};

_Static_assert(DM_P_END <= AG_DELTA_NPROBS, "model larger than its state");

static inline void dm_reset(struct ag_delta_model *m)
{
	for (unsigned i = 0; i < AG_DELTA_NPROBS; i++)
		m->probs[i] = (uint16_t)(DM_PONE / 2u);
	memset(m->rep, 0, sizeof(m->rep));
	memset(m->hist, 0, sizeof(m->hist));
}

static inline unsigned dm_tree(struct coder *c, uint16_t *p, unsigned nbits, unsigned v)
{
	unsigned x = 1;
	for (unsigned i = nbits; i-- > 0;)
		x = (x << 1) | rc_bit(c, &p[x], (v >> i) & 1u);
	return x - (1u << nbits);
}

static inline unsigned dm_bitlen(uint32_t v)
{
	unsigned n = 0;
	while (v) {
		n++;
		v >>= 1;
	}
	return n;
}

/*
 * A number: its bit length (6-bit tree), then up to two bits under the top
 * one modelled per length, the rest direct. Returns UINT32_MAX on a length
 * over 32 (only a corrupt stream decodes one).
 */
static inline uint32_t dm_num(struct coder *c, struct ag_delta_model *m, unsigned kind, uint32_t v)
{
	uint16_t *p = &m->probs[DM_P_NUM + kind * DM_NUM_SIZE];
	unsigned nb = dm_tree(c, p, 6, dm_bitlen(v));
	if (nb > 32)
		return UINT32_MAX;
	if (nb <= 1)
		return nb;
	unsigned rest = nb - 1;
	unsigned k = rest < 2 ? rest : 2;
	uint32_t hi = dm_tree(c, &p[64 + nb * 3 - 1], k, (v >> (rest - k)) & ((1u << k) - 1u));
	uint32_t r = (1u << k) | hi;
	if (rest > k)
		r = (r << (rest - k)) | rc_direct(c, rest - k, v & ((1u << (rest - k)) - 1u));
	return r;
}

/* A signed seek: sign, then magnitude. */
static inline int32_t dm_seek(struct coder *c, struct ag_delta_model *m, int32_t v, int *ret_bad)
{
	uint32_t mag = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
	uint32_t r = dm_num(c, m, DM_NUM_SEEK, mag);
	if (r == UINT32_MAX || r > 0x7fffffffu) {
		*ret_bad = 1;
		return 0;
	}
	if (r == 0)
		return 0;
	unsigned neg = rc_bit(c, &m->probs[DM_P_SIGN], v < 0);
	return neg ? -(int32_t)r : (int32_t)r;
}

/* One byte of a copy: new = old + diff. Returns the new byte. */
static inline uint8_t dm_copy_byte(struct coder *c, struct ag_delta_model *m, uint8_t oldb, uint8_t newb)
{
	uint8_t diff = (uint8_t)(newb - oldb);
	unsigned run = m->hist[DM_H_RUN];
	unsigned rctx = run == 0 ? 0 : run < 4 ? 1 : run < 16 ? 2 : 3;
	uint16_t *p = m->probs;
	if (!rc_bit(c, &p[DM_P_ZERO + rctx * 256 + oldb], diff != 0)) {
		m->hist[DM_H_RUN] = (uint8_t)(run < 255 ? run + 1 : 255);
		return oldb;
	}
	m->hist[DM_H_RUN] = 0;
	uint8_t last = m->hist[DM_H_LASTNZ];
	if (rc_bit(c, &p[DM_P_REPF + rctx], diff != last)) {
		diff = (uint8_t)dm_tree(c, &p[DM_P_DIFF], 8, diff);
		m->hist[DM_H_LASTNZ] = diff;
	} else {
		diff = last;
	}
	return (uint8_t)(oldb + diff);
}

/* One literal byte. */
static inline uint8_t dm_lit_byte(struct coder *c, struct ag_delta_model *m, uint8_t b)
{
	b = (uint8_t)dm_tree(c, &m->probs[DM_P_LIT], 8, b);
	m->hist[DM_H_PREV] = b;
	return b;
}

#endif /* AGENT_DELTA_MODEL_H */
