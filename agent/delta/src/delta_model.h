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

_Static_assert(DM_P_END == AG_DELTA_NPROBS, "model and state disagree");

static inline void dm_reset(struct ag_delta_model *m)
{
	for (unsigned i = 0; i < AG_DELTA_NPROBS; i++)
		m->probs[i] = (uint16_t)(DM_PONE / 2u);
	memset(m->cnt, 0, sizeof(m->cnt));
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
	unsigned k = rest < DM_SUB ? rest : DM_SUB;
	uint32_t hi = dm_tree(c, &p[64 + (nb - 1) * ((1u << DM_SUB) - 1u) - 1], k, (v >> (rest - k)) & ((1u << k) - 1u));
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

/*
 * Address units. Word units: an aligned old word in [lo, hi) is taken for an
 * address. Branch units (Thumb-2 BL and B.W): the branch's target in image
 * offsets. Either way the unit's change is predicted as the last change seen
 * for a target in the same eighth of its range, else the last change of any.
 */
#define DM_WB 8u
enum { DM_U_WORD, DM_U_BRANCH };
#define DM_H_UHIST 4 /* hist[4], hist[5]: per unit kind, last two outcomes */

static inline unsigned dm_unit_shift(uint32_t span)
{
	unsigned s = 0;
	while (((span - 1u) >> s) >= DM_WB)
		s++;
	return s;
}

/* Whether a word unit starts at old[pos] with @left bytes left in the copy. */
static inline int dm_word_at(const uint8_t *old, uint32_t pos, uint32_t left, uint32_t lo,
			     uint32_t hi, uint32_t *ret_w)
{
	if (left < 4 || (pos & 3u))
		return 0;
	uint32_t w = (uint32_t)old[pos] | ((uint32_t)old[pos + 1] << 8) |
		     ((uint32_t)old[pos + 2] << 16) | ((uint32_t)old[pos + 3] << 24);
	*ret_w = w;
	return w - lo < hi - lo;
}

/* Thumb-2 BL (hw2 11x1) and B.W (hw2 10x1), 32-bit encoding T4/T1. */
static inline int dm_is_branch(uint32_t hw1, uint32_t hw2)
{
	return (hw1 & 0xf800u) == 0xf000u && (hw2 & 0x9000u) == 0x9000u;
}

/* The branch's offset from its PC (address + 4), sign-extended 25 bits. */
static inline uint32_t dm_branch_off(uint32_t hw1, uint32_t hw2)
{
	uint32_t s = (hw1 >> 10) & 1u;
	uint32_t i1 = ~((hw2 >> 13) ^ s) & 1u, i2 = ~((hw2 >> 11) ^ s) & 1u;
	uint32_t off = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3ffu) << 12) | ((hw2 & 0x7ffu) << 1);
	return s ? off | 0xfe000000u : off;
}

/* The branch with @hw2's opcode bits and offset @off (low 25 bits). */
static inline uint32_t dm_branch_enc(uint32_t hw2, uint32_t off)
{
	uint32_t s = (off >> 24) & 1u, i1 = (off >> 23) & 1u, i2 = (off >> 22) & 1u;
	uint32_t j1 = ~(i1 ^ s) & 1u, j2 = ~(i2 ^ s) & 1u;
	uint32_t h1 = 0xf000u | (s << 10) | ((off >> 12) & 0x3ffu);
	uint32_t h2 = (hw2 & 0xd000u) | (j1 << 13) | (j2 << 11) | ((off >> 1) & 0x7ffu);
	return h1 | (h2 << 16);
}

/* Codes a unit's change; returns the new value (old + change). */
static inline uint32_t dm_unit(struct coder *c, struct ag_delta_model *m, unsigned kind,
			       unsigned bucket, uint32_t oldv, uint32_t newv)
{
	uint32_t delta = newv - oldv;
	uint32_t *rep = &m->rep[kind * (DM_WB + 1u)];
	uint32_t pred = rep[bucket], rec = rep[DM_WB];
	unsigned h = m->hist[DM_H_UHIST + kind] & 3u;
	uint16_t *p = &m->probs[DM_P_WORD + kind * 16 + h * 4];
	unsigned miss = rc_bit(c, &p[0], delta != pred);
	if (!miss) {
		delta = pred;
	} else {
		unsigned done = 0;
		if (rec != pred && !rc_bit(c, &p[1], delta != rec)) {
			delta = rec;
			done = 1;
		}
		if (!done && pred != 0 && rec != 0 && !rc_bit(c, &p[2], delta != 0)) {
			delta = 0;
			done = 1;
		}
		if (!done) {
			uint32_t mag = (delta >> 31) ? (uint32_t)0 - delta : delta;
			mag = dm_num(c, m, DM_NUM_WORD, mag);
			if (rc_bit(c, &p[3], delta >> 31))
				mag = (uint32_t)0 - mag;
			delta = mag;
		}
	}
	m->hist[DM_H_UHIST + kind] = (uint8_t)(((h << 1) | miss) & 3u);
	rep[DM_WB] = delta;
	rep[bucket] = delta;
	return oldv + delta;
}


static inline uint8_t dm_copy_byte(struct coder *c, struct ag_delta_model *m, uint8_t oldb, uint8_t newb);

static inline void dm_cfg_init(struct ag_delta_cfg *g, const struct ag_delta_header *h)
{
	g->lo = h->word_lo;
	g->hi = h->word_hi;
	g->flags = h->flags;
	g->wshift = (uint8_t)(h->word_hi > h->word_lo ? dm_unit_shift(h->word_hi - h->word_lo) : 0);
	g->bshift = (uint8_t)(h->old_size ? dm_unit_shift(h->old_size) : 0);
}

/*
 * One unit of a copy at old[opos], new offset npos, @left bytes left in the
 * copy: a branch (4 bytes), an address word (4) or a byte. The encoder
 * passes the new bytes in @nb; the decoder passes NULL. The unit's bytes go
 * to @out; returns their count.
 */
static inline unsigned dm_copy_unit(struct coder *c, struct ag_delta_model *m, const struct ag_delta_cfg *g,
				    const uint8_t *old, uint32_t opos, uint32_t left, uint32_t npos,
				    const uint8_t *nb, uint8_t out[4])
{
	uint32_t v = 0, w;
	if ((g->flags & AG_DELTA_F_THUMB2) && left >= 4 && !(opos & 1u)) {
		uint32_t h1 = old[opos] | (uint32_t)old[opos + 1] << 8;
		uint32_t h2 = old[opos + 2] | (uint32_t)old[opos + 3] << 8;
		if (dm_is_branch(h1, h2)) {
			uint32_t told = opos + 4u + dm_branch_off(h1, h2), tnew = 0;
			unsigned is = 1;
			if (nb) {
				uint32_t n1 = nb[0] | (uint32_t)nb[1] << 8, n2 = nb[2] | (uint32_t)nb[3] << 8;
				is = (n1 & 0xf800u) == 0xf000u && (n2 & 0xd000u) == (h2 & 0xd000u);
				if (is)
					tnew = npos + 4u + dm_branch_off(n1, n2);
			}
			unsigned h = m->hist[DM_H_UHIST + DM_U_BRANCH] & 1u;
			if (!rc_bit(c, &m->probs[DM_P_BRANCH + h], !is)) {
				unsigned b = (told >> g->bshift) & (DM_WB - 1u);
				tnew = dm_unit(c, m, DM_U_BRANCH, b, told, tnew);
				v = dm_branch_enc(h2, tnew - (npos + 4u));
				for (unsigned i = 0; i < 4; i++)
					out[i] = (uint8_t)(v >> (8 * i));
				return 4;
			}
		}
	}
	if ((g->flags & AG_DELTA_F_WORDS) && dm_word_at(old, opos, left, g->lo, g->hi, &w)) {
		if (nb)
			v = nb[0] | (uint32_t)nb[1] << 8 | (uint32_t)nb[2] << 16 | (uint32_t)nb[3] << 24;
		v = dm_unit(c, m, DM_U_WORD, (w - g->lo) >> g->wshift, w, v);
		for (unsigned i = 0; i < 4; i++)
			out[i] = (uint8_t)(v >> (8 * i));
		return 4;
	}
	out[0] = dm_copy_byte(c, m, old[opos], nb ? nb[0] : 0);
	return 1;
}

/* One byte of a copy: new = old + diff. Returns the new byte. */
static inline uint8_t dm_copy_byte(struct coder *c, struct ag_delta_model *m, uint8_t oldb, uint8_t newb)
{
	uint8_t diff = (uint8_t)(newb - oldb);
	unsigned run = m->hist[DM_H_RUN];
	unsigned rctx = run == 0 ? 0 : run < 4 ? 1 : run < 16 ? 2 : 3;
	uint16_t *p = m->probs;
	if (!rc_bit(c, &p[DM_P_ZERO + ZCTX(rctx, oldb)], diff != 0)) {
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
static inline uint8_t dm_lit_byte(struct coder *c, struct ag_delta_model *m, uint32_t pos, uint8_t b)
{
	uint16_t *p = &m->probs[DM_P_LIT];
	unsigned hi = dm_tree(c, &p[(pos % LITH) * 16], 4, b >> 4);
	unsigned lo = dm_tree(c, &p[LITH * 16 + ((pos % LITL) * 16 + hi) * 16], 4, b & 15u);
	b = (uint8_t)(hi << 4 | lo);
	m->hist[DM_H_PREV] = b;
	return b;
}

#endif /* AGENT_DELTA_MODEL_H */
