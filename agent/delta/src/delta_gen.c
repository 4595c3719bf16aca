/*
 * Delta patch generator (host). Matches come from a suffix array of the old
 * image (libdivsufsort), extended over small differences as bsdiff does; the
 * commands and bytes are then range-coded with the model the device decodes
 * with (delta_model.h). Format: agent/DELTA.md.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <divsufsort.h>

#include "agent/bytes.h"
#include "agent/delta.h"
#include "agent/crc.h"
#include "agent/delta_gen.h"

#include "delta_format.h"
#include "delta_gen_internal.h"

/* ---- growable output ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void buf_put(struct buf *b, uint8_t v)
{
	if (b->len == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		uint8_t *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	b->p[b->len++] = v;
}

/* ---- range encoder (carry-propagating, the dual of the decoder) ---- */

struct coder {
	uint64_t low;
	uint32_t range;
	uint8_t cache;
	uint64_t pending;
	bool first;
	struct buf *out;
	struct ag_delta_model *m;
};
#define MODEL(c) ((c)->m)

static void rc_shift_low(struct coder *c)
{
	if ((uint32_t)c->low < 0xff000000u || (c->low >> 32) != 0) {
		uint8_t carry = (uint8_t)(c->low >> 32);
		uint8_t t = c->cache;
		do {
			/* The very first byte is always 0 and is not stored. */
			if (!c->first)
				buf_put(c->out, (uint8_t)(t + carry));
			c->first = false;
			t = 0xff;
		} while (--c->pending != 0);
		c->cache = (uint8_t)(c->low >> 24);
	}
	c->pending++;
	c->low = (c->low & 0x00ffffffu) << 8;
}

static void rc_init(struct coder *c, struct buf *out)
{
	c->low = 0;
	c->range = 0xffffffffu;
	c->cache = 0;
	c->pending = 1;
	c->first = true;
	c->out = out;
}

static void rc_flush(struct coder *c)
{
	for (int i = 0; i < 5; i++)
		rc_shift_low(c);
}


static unsigned rc_bit(struct coder *c, uint16_t *p, unsigned bit)
{
	uint32_t bound = (c->range >> DM_PBITS) * *p;
	if (!bit) {
		c->range = bound;
		dm_update(p, MODEL(c)->cnt, (unsigned)(p - MODEL(c)->probs), 0);
	} else {
		c->low += bound;
		c->range -= bound;
		dm_update(p, MODEL(c)->cnt, (unsigned)(p - MODEL(c)->probs), 1);
	}
	while (c->range < (1u << 24)) {
		c->range <<= 8;
		rc_shift_low(c);
	}
	return bit;
}

static uint32_t rc_direct(struct coder *c, unsigned nbits, uint32_t v)
{
	for (unsigned i = nbits; i-- > 0;) {
		c->range >>= 1;
		if ((v >> i) & 1u)
			c->low += c->range;
		while (c->range < (1u << 24)) {
			c->range <<= 8;
			rc_shift_low(c);
		}
	}
	return v;
}

#include "delta_model.h"

/* ---- matching ---- */

#define seg ag__delta_seg

struct segs {
	struct seg *v;
	size_t n, cap;
};

static int segs_add(struct segs *s, uint32_t npos, uint32_t opos, uint32_t copy, uint32_t lit)
{
	if (copy == 0 && lit == 0)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct seg *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct seg){ npos, opos, copy, lit };
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int32_t match_len(const uint8_t *a, int32_t an, const uint8_t *b, int32_t bn)
{
	int32_t i = 0;
	while (i < an && i < bn && a[i] == b[i])
		i++;
	return i;
}

/* Longest match of nw[0..nn) in old, by binary search over the suffix array. */
static int32_t sa_longest(const int32_t *sa, const uint8_t *old, int32_t on, const uint8_t *nw,
			 int32_t nn, int32_t *ret_pos)
{
	int32_t lo = 0, hi = on - 1;
	if (on == 0) {
		*ret_pos = 0;
		return 0;
	}
	while (hi - lo > 1) {
		int32_t mid = lo + (hi - lo) / 2;
		int32_t k = on - sa[mid] < nn ? on - sa[mid] : nn;
		if (memcmp(old + sa[mid], nw, (size_t)k) < 0)
			lo = mid;
		else
			hi = mid;
	}
	int32_t x = match_len(old + sa[lo], on - sa[lo], nw, nn);
	int32_t y = match_len(old + sa[hi], on - sa[hi], nw, nn);
	if (x > y) {
		*ret_pos = sa[lo];
		return x;
	}
	*ret_pos = sa[hi];
	return y;
}

/*
 * The bsdiff parse: find exact matches that beat the current alignment by a
 * margin, then extend each alignment forward and the next one backward while
 * at least half the bytes agree.
 */
static int parse(const uint8_t *old, int32_t on, const uint8_t *nw, int32_t nn, const int32_t *sa,
		 struct segs *out)
{
	int32_t scan = 0, len = 0, pos = 0, lastscan = 0, lastpos = 0, lastoff = 0;
	while (scan < nn) {
		int32_t oldscore = 0, scsc;
		for (scsc = scan += len; scan < nn; scan++) {
			len = sa_longest(sa, old, on, nw + scan, nn - scan, &pos);
			for (; scsc < scan + len; scsc++)
				if (scsc + lastoff >= 0 && scsc + lastoff < on && old[scsc + lastoff] == nw[scsc])
					oldscore++;
			if ((len == oldscore && len != 0) || len > oldscore + 8)
				break;
			if (scan + lastoff >= 0 && scan + lastoff < on && old[scan + lastoff] == nw[scan])
				oldscore--;
		}
		if (len == oldscore && scan != nn)
			continue;
		int32_t s = 0, sf = 0, lenf = 0;
		for (int32_t i = 0; lastscan + i < scan && lastpos + i < on;) {
			if (old[lastpos + i] == nw[lastscan + i])
				s++;
			i++;
			if (s * 2 - i > sf * 2 - lenf) {
				sf = s;
				lenf = i;
			}
		}
		int32_t lenb = 0;
		if (scan < nn) {
			int32_t sb = 0;
			s = 0;
			for (int32_t i = 1; scan >= lastscan + i && pos >= i; i++) {
				if (old[pos - i] == nw[scan - i])
					s++;
				if (s * 2 - i > sb * 2 - lenb) {
					sb = s;
					lenb = i;
				}
			}
		}
		if (lastscan + lenf > scan - lenb) {
			int32_t overlap = (lastscan + lenf) - (scan - lenb), ss = 0, lens = 0;
			s = 0;
			for (int32_t i = 0; i < overlap; i++) {
				if (nw[lastscan + lenf - overlap + i] == old[lastpos + lenf - overlap + i])
					s++;
				if (nw[scan - lenb + i] == old[pos - lenb + i])
					s--;
				if (s > ss) {
					ss = s;
					lens = i + 1;
				}
			}
			lenf += lens - overlap;
			lenb -= lens;
		}
		int rc = segs_add(out, (uint32_t)lastscan, (uint32_t)lastpos, (uint32_t)lenf,
				  (uint32_t)((scan - lenb) - (lastscan + lenf)));
		if (rc)
			return rc;
		lastscan = scan - lenb;
		lastpos = pos - lenb;
		lastoff = pos - scan;
	}
	return 0;
}

/* ---- address range for word units ---- */

/*
 * The densest window of 4 KiB pages, as wide as the image, among the values
 * of the old image's aligned words: where its pointers into itself point.
 * Page 0 and the top page (small integers) are left out.
 */
static int word_range(const uint8_t *old, uint32_t on, uint32_t nn, uint32_t *ret_lo, uint32_t *ret_hi)
{
	size_t nw = on / 4;
	uint32_t *pages = malloc((nw ? nw : 1) * sizeof(*pages));
	if (!pages)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < nw; i++) {
		uint32_t pg = ag_get_le32(old + 4 * i) >> 12;
		if (pg != 0 && pg != 0xfffffu)
			pages[k++] = pg;
	}
	/* Sort pages (radix-free: qsort is fine at this size). */
	qsort(pages, k, sizeof(*pages), u32_cmp);
	uint32_t span = ((on > nn ? on : nn) >> 12) + 1;
	size_t best = 0, bi = 0;
	for (size_t i = 0, j = 0; i < k; i++) {
		while (j < k && pages[j] - pages[i] < span)
			j++;
		if (j - i > best) {
			best = j - i;
			bi = i;
		}
	}
	*ret_lo = *ret_hi = 0;
	if (best >= 16) {
		*ret_lo = pages[bi] << 12;
		*ret_hi = *ret_lo + (span << 12);
		if (*ret_hi < *ret_lo)
			*ret_hi = 0xfffff000u;
	}
	free(pages);
	return 0;
}

/* ---- coding ---- */

struct job {
	const uint8_t *old, *nw;
	uint32_t on, nn;           /* what the segments may read and write */
	uint32_t on_decl, nn_decl; /* what the header declares */
	unsigned shift;
	uint8_t flags; /* candidate flags; cfg.flags is what is coded */
	uint32_t word_lo, word_hi;
	struct ag_delta_cfg cfg;
	const struct segs *segs;
};

static void code_block(const struct job *j, size_t *si, uint32_t bstart, uint32_t bend, struct buf *out)
{
	struct coder c;
	struct ag_delta_model m;
	rc_init(&c, out);
	dm_reset(&m);
	c.m = &m;
	uint32_t oldpos = 0;
	while (*si < j->segs->n) {
		const struct seg *s = &j->segs->v[*si];
		uint32_t end = s->npos + s->copy + s->lit;
		if (end <= bstart) {
			(*si)++;
			continue;
		}
		if (s->npos >= bend)
			break;
		/* Clip the segment to the block. */
		uint32_t npos = s->npos, opos = s->opos, copy = s->copy, lit = s->lit;
		if (npos < bstart) {
			uint32_t cut = bstart - npos;
			if (cut < copy) {
				copy -= cut;
				opos += cut;
			} else {
				lit -= cut - copy;
				copy = 0;
			}
			npos = bstart;
		}
		if (npos + copy > bend) {
			copy = bend - npos;
			lit = 0;
		} else if (npos + copy + lit > bend) {
			lit = bend - npos - copy;
		}
		int bad = 0;
		int32_t seek = copy ? (int32_t)(opos - oldpos) : 0;
		dm_seek(&c, &m, seek, &bad);
		dm_num(&c, &m, DM_NUM_COPY, copy);
		dm_num(&c, &m, DM_NUM_LIT, lit);
		for (uint32_t i = 0; i < copy;) {
			uint8_t u[4];
			i += dm_copy_unit(&c, &m, &j->cfg, j->old, opos + i, copy - i, npos + i, j->nw + npos + i, u);
		}
		for (uint32_t i = 0; i < lit; i++)
			dm_lit_byte(&c, &m, npos + copy + i, j->nw[npos + copy + i]);
		if (copy)
			oldpos = opos + copy;
		if (end > bend)
			break;
		(*si)++;
	}
	rc_flush(&c);
}

static int encode(const struct job *j, uint8_t flags, struct buf *out)
{
	uint8_t h[DF_HEADER_LEN];
	memset(h, 0, sizeof(h));
	for (size_t i = 0; i < sizeof(h); i++)
		buf_put(out, 0);
	size_t si = 0;
	uint32_t bsize = 1u << j->shift;
	for (uint32_t b = 0; b < j->nn; b += bsize) {
		uint32_t e = j->nn - b < bsize ? j->nn : b + bsize;
		code_block(j, &si, b, e, out);
	}
	if (out->oom)
		return -ENOMEM;
	if (out->len > df_patch_limit(j->nn_decl, j->shift))
		return -EFBIG;
	ag_put_le32(h, DF_MAGIC);
	h[4] = DF_VERSION;
	h[5] = flags;
	h[6] = (uint8_t)j->shift;
	ag_put_le32(h + 8, j->on_decl);
	ag_put_le32(h + 12, ag_crc32c(0, j->old, j->on_decl));
	ag_put_le32(h + 16, j->nn_decl);
	ag_put_le32(h + 20, ag_crc32c(0, j->nw, j->nn_decl));
	ag_put_le32(h + 24, (uint32_t)out->len);
	ag_put_le32(h + 28, j->word_lo);
	ag_put_le32(h + 32, j->word_hi);
	ag_put_le32(h + DF_HEADER_LEN - 4, ag_crc32c(0, h, DF_HEADER_LEN - 4));
	memcpy(out->p, h, sizeof(h));
	return 0;
}

int ag_delta_generate(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
		      size_t new_len, const struct ag_delta_gen_opts *opts, uint8_t **ret_patch,
		      size_t *ret_patch_len)
{
	return ag__delta_generate_ex(old_img, old_len, new_img, new_len, opts,
				     DF_BLOCK_SHIFT_DEFAULT, ret_patch, ret_patch_len);
}

int ag__delta_encode_segs(const uint8_t *old_img, size_t old_len, size_t old_decl,
			  const uint8_t *new_img, size_t new_len, size_t new_decl,
			  const struct ag__delta_seg *v, size_t n, uint8_t flags,
			  unsigned block_shift, uint8_t **ret_patch, size_t *ret_patch_len)
{
	struct segs segs = { (struct seg *)(uintptr_t)v, n, n };
	struct buf out = { 0 };
	struct job j = {
		.old = old_img, .nw = new_img, .on = (uint32_t)old_len, .nn = (uint32_t)new_len,
		.on_decl = (uint32_t)old_decl, .nn_decl = (uint32_t)new_decl,
		.shift = block_shift, .segs = &segs,
	};
	struct ag_delta_header h = { .old_size = (uint32_t)old_decl, .flags = flags };
	dm_cfg_init(&j.cfg, &h);
	int rc = encode(&j, flags, &out);
	if (rc) {
		free(out.p);
		return rc;
	}
	*ret_patch = out.p;
	*ret_patch_len = out.len;
	return 0;
}

int ag__delta_generate_ex(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
			  size_t new_len, const struct ag_delta_gen_opts *opts, unsigned block_shift,
			  uint8_t **ret_patch, size_t *ret_patch_len)
{
	struct ag_delta_gen_opts defaults = { .thumb2 = -1 };
	if ((!old_img && old_len) || (!new_img && new_len) || !ret_patch || !ret_patch_len)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	if (old_len > AG_DELTA_MAX_IMAGE || new_len > AG_DELTA_MAX_IMAGE)
		return -EFBIG;
	if (block_shift < AG_DELTA_BLOCK_SHIFT_MIN || block_shift > AG_DELTA_BLOCK_SHIFT_MAX)
		return -EINVAL;
	int32_t *sa = malloc((old_len ? old_len : 1) * sizeof(*sa));
	struct segs segs = { 0 };
	struct buf out = { 0 };
	int rc = -ENOMEM;
	if (!sa)
		goto fail;
	if (old_len && divsufsort(old_img, sa, (saidx_t)old_len) != 0)
		goto fail;
	rc = parse(old_img, (int32_t)old_len, new_img, (int32_t)new_len, sa, &segs);
	if (rc)
		goto fail;
	struct job j = {
		.old = old_img, .nw = new_img, .on = (uint32_t)old_len, .nn = (uint32_t)new_len,
		.on_decl = (uint32_t)old_len, .nn_decl = (uint32_t)new_len,
		.shift = block_shift, .flags = 0, .segs = &segs,
	};
	rc = word_range(old_img, (uint32_t)old_len, (uint32_t)new_len, &j.word_lo, &j.word_hi);
	if (rc)
		goto fail;
	if (j.word_hi > j.word_lo)
		j.flags |= AG_DELTA_F_WORDS;
	/* Thumb-2 branch units: on request, or both ways when auto. */
	for (int t = opts->thumb2 == 1 ? 1 : 0; t <= (opts->thumb2 == 0 ? 0 : 1); t++) {
		struct buf b = { 0 };
		uint8_t flags = (uint8_t)(t ? j.flags | AG_DELTA_F_THUMB2 : j.flags);
		struct ag_delta_header h = {
			.old_size = j.on, .word_lo = j.word_lo, .word_hi = j.word_hi, .flags = flags,
		};
		dm_cfg_init(&j.cfg, &h);
		rc = encode(&j, flags, &b);
		if (rc) {
			free(b.p);
			goto fail;
		}
		if (!out.p || b.len < out.len) {
			free(out.p);
			out = b;
		} else {
			free(b.p);
		}
	}
	free(sa);
	free(segs.v);
	*ret_patch = out.p;
	*ret_patch_len = out.len;
	return 0;
fail:
	free(sa);
	free(segs.v);
	free(out.p);
	return rc;
}
