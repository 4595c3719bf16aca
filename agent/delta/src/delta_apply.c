/*
 * Streaming, resumable delta apply. Freestanding: no heap, no globals.
 * Format: agent/DELTA.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/bytes.h"
#include "agent/delta.h"
#include "agent/err.h"

#include "agent/crc.h"
#include "delta_format.h"

/* The range decoder works straight on the state. */
struct coder {
	struct ag_delta d;
};

static uint8_t next_byte(struct ag_delta *d)
{
	if (d->in_pos >= d->in_len) {
		/* The feeding rules keep a whole step buffered; only a stream that
		 * runs past the patch's end gets here. */
		if (!d->err)
			d->err = AG_EPATCH;
		return 0;
	}
	d->in_off++;
	return d->in[d->in_pos++];
}

static void rc_norm(struct ag_delta *d)
{
	while (d->range < (1u << 24)) {
		d->range <<= 8;
		d->code = (d->code << 8) | next_byte(d);
	}
}

#define MODEL(c) (&(c)->d.m)

static unsigned rc_bit(struct coder *c, uint16_t *p, unsigned bit)
{
	struct ag_delta *d = &c->d;
	uint32_t bound = (d->range >> DM_PBITS) * *p;
	(void)bit;
	if (d->code < bound) {
		d->range = bound;
		dm_update(p, MODEL(c)->cnt, (unsigned)(p - MODEL(c)->probs), 0);
		bit = 0;
	} else {
		d->code -= bound;
		d->range -= bound;
		dm_update(p, MODEL(c)->cnt, (unsigned)(p - MODEL(c)->probs), 1);
		bit = 1;
	}
	rc_norm(d);
	return bit;
}

static uint32_t rc_direct(struct coder *c, unsigned nbits, uint32_t v)
{
	struct ag_delta *d = &c->d;
	(void)v;
	v = 0;
	while (nbits--) {
		d->range >>= 1;
		unsigned b = d->code >= d->range;
		if (b)
			d->code -= d->range;
		v = (v << 1) | b;
		rc_norm(d);
	}
	return v;
}

#include "delta_model.h"

_Static_assert(AG_DELTA_INBUF >= 2 * DF_STEP_MAX, "input buffer smaller than two steps");
_Static_assert(AG_DELTA_PROGRESS_LEN == DF_PROGRESS_LEN, "progress record size");
_Static_assert(AG_DELTA_HEADER_LEN == DF_HEADER_LEN, "header size");

enum { PH_HEADER, PH_BLOCK, PH_CODED, PH_DONE };

static inline struct coder *as_coder(struct ag_delta *d)
{
	return (struct coder *)(void *)d;
}

int ag_delta_read_header(const uint8_t *p, size_t len, struct ag_delta_header *ret_hdr)
{
	struct ag_delta_header h;
	if (!p || !ret_hdr)
		return AG_EINVAL;
	if (len < DF_HEADER_LEN)
		return AG_ETRUNC;
	if (ag_get_le32(p) != DF_MAGIC)
		return AG_EPATCH;
	h.version = p[4];
	h.flags = p[5];
	if (h.version != DF_VERSION)
		return AG_EVERSION;
	unsigned shift = p[6];
	h.old_size = ag_get_le32(p + 8);
	h.old_crc = ag_get_le32(p + 12);
	h.new_size = ag_get_le32(p + 16);
	h.new_crc = ag_get_le32(p + 20);
	h.patch_size = ag_get_le32(p + 24);
	h.word_lo = ag_get_le32(p + 28);
	h.word_hi = ag_get_le32(p + 32);
	h.crc = ag_get_le32(p + DF_HEADER_LEN - 4);
	if (ag_crc32c(0, p, DF_HEADER_LEN - 4) != h.crc)
		return AG_EPATCH;
	if ((h.flags & ~DF_FLAGS_KNOWN) || p[7] != 0 || ag_get_le32(p + 36) != 0 ||
	    ag_get_le32(p + 40) != 0 || shift < AG_DELTA_BLOCK_SHIFT_MIN ||
	    shift > AG_DELTA_BLOCK_SHIFT_MAX || h.word_lo > h.word_hi)
		return AG_EPATCH;
	h.block_size = 1u << shift;
	if (h.old_size > AG_DELTA_MAX_IMAGE || h.new_size > AG_DELTA_MAX_IMAGE ||
	    h.patch_size > df_patch_limit(h.new_size, shift))
		return AG_ETOOBIG;
	if (h.patch_size < DF_HEADER_LEN + (h.new_size ? DF_RC_INIT : 0u))
		return AG_EPATCH;
	*ret_hdr = h;
	return 0;
}

int ag_delta_init(struct ag_delta *d, const uint8_t *old, size_t old_len, uint8_t *page,
		  size_t page_size, size_t slot_size, ag_delta_write_fn write,
		  ag_delta_progress_fn progress, void *ctx)
{
	if (!d || (!old && old_len) || !page || !write || page_size < 16 ||
	    page_size > (1u << AG_DELTA_BLOCK_SHIFT_MAX) || (page_size & (page_size - 1)) ||
	    old_len > AG_DELTA_MAX_IMAGE)
		return AG_EINVAL;
	memset(d, 0, sizeof(*d));
	d->old = old;
	d->old_len = (uint32_t)old_len;
	d->page = page;
	d->page_size = (uint32_t)page_size;
	d->slot_size = slot_size > UINT32_MAX ? UINT32_MAX : (uint32_t)slot_size;
	d->write = write;
	d->progress = progress;
	d->ctx = ctx;
	d->phase = PH_HEADER;
	return 0;
}

static void make_record(const struct ag_delta *d, uint8_t rec[AG_DELTA_PROGRESS_LEN])
{
	ag_put_le32(rec, d->hdr.crc);
	ag_put_le32(rec + 4, DF_PROGRESS_TAG);
	ag_put_le32(rec + 8, d->blk_patch_off);
	ag_put_le32(rec + 12, d->blk_out_off);
	ag_put_le32(rec + 16, d->blk_crc);
	ag_put_le32(rec + 20, d->out_done);
	ag_put_le32(rec + 24, ag_crc32c(0, rec, 24));
}

void ag_delta_progress(const struct ag_delta *d, uint8_t rec[AG_DELTA_PROGRESS_LEN])
{
	make_record(d, rec);
}

static void offer_progress(struct ag_delta *d)
{
	uint8_t rec[AG_DELTA_PROGRESS_LEN];
	if (!d->progress)
		return;
	make_record(d, rec);
	d->progress(d->ctx, rec);
}

uint32_t ag_delta_out_pos(const struct ag_delta *d)
{
	return d->out_pos;
}

/* Writes the page that ends at out_pos (full, or the last partial one). */
static int flush_page(struct ag_delta *d)
{
	uint32_t n = d->out_pos & (d->page_size - 1);
	if (n == 0)
		n = d->page_size;
	uint32_t start = d->out_pos - n;
	d->out_crc = ag_crc32c(d->out_crc, d->page, n);
	if (start >= d->skip_until) {
		int rc = d->write(d->ctx, start, d->page, n);
		if (rc)
			return rc < 0 ? rc : AG_EFLASH;
		d->out_done = d->out_pos;
		offer_progress(d);
	}
	return 0;
}

static int put_byte(struct ag_delta *d, uint8_t b)
{
	d->page[d->out_pos & (d->page_size - 1)] = b;
	d->out_pos++;
	if ((d->out_pos & (d->page_size - 1)) == 0)
		return flush_page(d);
	return 0;
}

static uint32_t block_end(const struct ag_delta *d)
{
	uint32_t end = d->blk_out_off + d->hdr.block_size;
	return end > d->hdr.new_size || end < d->blk_out_off ? d->hdr.new_size : end;
}

static int check_header(struct ag_delta *d)
{
	int rc = ag_delta_read_header(d->in, DF_HEADER_LEN, &d->hdr);
	if (rc)
		return rc;
	if (d->hdr.new_size > d->slot_size)
		return AG_ENOSPC;
	if (d->hdr.old_size != d->old_len || ag_crc32c(0, d->old, d->old_len) != d->hdr.old_crc)
		return AG_EPATCHBASE;
	if (d->page_size > d->hdr.block_size)
		return AG_EINVAL;
	if ((d->hdr.flags & AG_DELTA_F_WORDS) && d->hdr.word_hi == d->hdr.word_lo)
		return AG_EPATCH;
	dm_cfg_init(&d->cfg, &d->hdr);
	return 0;
}

/* Starts the block at the current output position (model reset). */
static void start_block(struct ag_delta *d)
{
	d->blk_patch_off = d->in_off;
	d->blk_out_off = d->out_pos;
	d->blk_crc = d->out_crc;
	d->range = 0xffffffffu;
	d->code = 0;
	for (unsigned i = 0; i < DF_RC_INIT; i++)
		d->code = (d->code << 8) | next_byte(d);
	d->copy_left = d->lit_left = 0;
	d->old_pos = 0;
	dm_reset(&d->m);
	d->phase = PH_CODED;
	if (d->out_pos == d->out_done)
		offer_progress(d);
}

/* One coded step: a command, or one output unit. */
static int step(struct ag_delta *d)
{
	struct coder *c = as_coder(d);
	if (d->copy_left) {
		uint8_t u[4];
		unsigned n = dm_copy_unit(c, &d->m, &d->cfg, d->old, d->old_pos, d->copy_left, d->out_pos, NULL, u);
		d->old_pos += n;
		d->copy_left -= n;
		int rc = 0;
		for (unsigned i = 0; i < n && !rc; i++)
			rc = put_byte(d, u[i]);
		return rc;
	}
	if (d->lit_left) {
		d->lit_left--;
		return put_byte(d, dm_lit_byte(c, &d->m, d->out_pos, 0));
	}
	uint32_t end = block_end(d);
	if (d->out_pos == end) {
		d->phase = d->out_pos == d->hdr.new_size ? PH_DONE : PH_BLOCK;
		return 0;
	}
	int bad = 0;
	int32_t seek = dm_seek(c, &d->m, 0, &bad);
	uint32_t copy = dm_num(c, &d->m, DM_NUM_COPY, 0);
	uint32_t lit = dm_num(c, &d->m, DM_NUM_LIT, 0);
	if (d->err)
		return d->err;
	if (bad || copy == UINT32_MAX || lit == UINT32_MAX || (copy | lit) == 0)
		return AG_EPATCH;
	if (copy > end - d->out_pos || lit > end - d->out_pos - copy)
		return AG_EPATCHOVER;
	uint32_t pos = d->old_pos + (uint32_t)seek;
	if (copy && (pos > d->old_len || copy > d->old_len - pos))
		return AG_EPATCHRANGE;
	d->old_pos = pos;
	d->copy_left = copy;
	d->lit_left = lit;
	return 0;
}

/* Runs steps while the input holds a whole step (or the rest of the patch). */
static int run(struct ag_delta *d)
{
	for (;;) {
		uint32_t avail = (uint32_t)(d->in_len - d->in_pos);
		bool at_end = d->in_off + avail >= d->hdr.patch_size;
		int rc = 0;
		switch (d->phase) {
		case PH_BLOCK:
			if (avail < DF_RC_INIT && !at_end)
				return 0;
			start_block(d);
			break;
		case PH_CODED:
			if (avail < DF_STEP_MAX && !at_end)
				return 0;
			rc = step(d);
			break;
		default:
			return 0;
		}
		if (!rc)
			rc = d->err;
		if (rc)
			return rc;
	}
}

int ag_delta_feed(struct ag_delta *d, const uint8_t *chunk, size_t len)
{
	if (!d || (!chunk && len))
		return AG_EINVAL;
	if (d->err)
		return d->err;
	int rc = 0;
	while (len > 0) {
		if (d->phase == PH_DONE) {
			rc = AG_EPATCH; /* bytes after the last block */
			break;
		}
		if (d->in_pos > 0 && d->in_pos == d->in_len)
			d->in_pos = d->in_len = 0;
		if (d->in_pos > AG_DELTA_INBUF / 2) {
			memmove(d->in, d->in + d->in_pos, (size_t)(d->in_len - d->in_pos));
			d->in_len = (uint16_t)(d->in_len - d->in_pos);
			d->in_pos = 0;
		}
		size_t room = AG_DELTA_INBUF - d->in_len;
		if (d->phase == PH_HEADER)
			room = DF_HEADER_LEN - d->in_len;
		else if (d->in_off + (uint32_t)(d->in_len - d->in_pos) + len > d->hdr.patch_size)
			rc = AG_ETOOBIG;
		if (rc)
			break;
		size_t n = len < room ? len : room;
		memcpy(d->in + d->in_len, chunk, n);
		d->in_len = (uint16_t)(d->in_len + n);
		chunk += n;
		len -= n;
		if (d->phase == PH_HEADER) {
			if (d->in_len < DF_HEADER_LEN)
				continue;
			rc = check_header(d);
			if (rc)
				break;
			d->in_off = DF_HEADER_LEN;
			d->in_pos = d->in_len = 0;
			d->phase = d->hdr.new_size ? PH_BLOCK : PH_DONE;
			continue;
		}
		rc = run(d);
		if (rc)
			break;
	}
	if (rc)
		d->err = rc;
	return rc;
}

int ag_delta_resume(struct ag_delta *d, const uint8_t rec[AG_DELTA_PROGRESS_LEN],
		    uint32_t *ret_patch_off)
{
	if (!d || !rec || !ret_patch_off)
		return AG_EINVAL;
	if (d->err)
		return d->err;
	if (d->phase != PH_BLOCK || d->out_pos != 0 || d->in_off != DF_HEADER_LEN ||
	    d->in_len != d->in_pos)
		return AG_ESTATE;
	if (ag_crc32c(0, rec, 24) != ag_get_le32(rec + 24) || ag_get_le32(rec + 4) != DF_PROGRESS_TAG)
		return AG_ECRC;
	if (ag_get_le32(rec) != d->hdr.crc)
		return AG_EPATCHBASE;
	uint32_t poff = ag_get_le32(rec + 8), boff = ag_get_le32(rec + 12);
	uint32_t bcrc = ag_get_le32(rec + 16), done = ag_get_le32(rec + 20);
	if (poff < DF_HEADER_LEN || poff >= d->hdr.patch_size || boff >= d->hdr.new_size ||
	    (boff & (d->hdr.block_size - 1)) || done < boff || done > d->hdr.new_size ||
	    done - boff > d->hdr.block_size ||
	    ((done & (d->page_size - 1)) && done != d->hdr.new_size))
		return AG_EPATCH;
	d->in_off = poff;
	d->out_pos = boff;
	d->out_crc = bcrc;
	d->out_done = done;
	d->skip_until = done;
	*ret_patch_off = poff;
	return 0;
}

int ag_delta_finish(struct ag_delta *d, size_t *ret_new_len)
{
	if (!d)
		return AG_EINVAL;
	if (d->err)
		return d->err;
	int rc = 0;
	if (d->phase != PH_DONE)
		rc = AG_ETRUNC;
	else if (d->in_off != d->hdr.patch_size || d->in_pos != d->in_len)
		rc = AG_EPATCH;
	else if ((d->out_pos & (d->page_size - 1)) != 0)
		rc = flush_page(d);
	if (!rc && d->out_crc != d->hdr.new_crc)
		rc = AG_EPATCHCRC;
	if (rc) {
		d->err = rc;
		return rc;
	}
	if (ret_new_len)
		*ret_new_len = d->out_pos;
	return 0;
}

struct mem_out {
	uint8_t *out;
	size_t cap;
};

static int mem_write(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
	struct mem_out *m = ctx;
	if (off > m->cap || len > m->cap - off)
		return AG_EPATCHOVER;
	memcpy(m->out + off, buf, len);
	return 0;
}

int ag_delta_apply_mem(const uint8_t *old_img, size_t old_len, const uint8_t *patch,
		       size_t patch_len, uint8_t *out, size_t out_cap, size_t *ret_out_len)
{
	struct ag_delta d;
	uint8_t page[256];
	struct mem_out m = { out, out_cap };
	if (!patch || (!out && out_cap))
		return AG_EINVAL;
	int rc = ag_delta_init(&d, old_img, old_len, page, sizeof(page), out_cap, mem_write, NULL, &m);
	if (!rc)
		rc = ag_delta_feed(&d, patch, patch_len);
	if (!rc)
		rc = ag_delta_finish(&d, ret_out_len);
	return rc;
}
