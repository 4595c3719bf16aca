#include "agent/frame.h"

#include <string.h>

#include "agent/bytes.h"
#include "agent/crc.h"
#include "agent/err.h"

enum { DEC_CODE, DEC_DATA, DEC_DISCARD };

void ag_frame_decoder_init(struct ag_frame_decoder *d, uint16_t max)
{
	if (max > AG_FRAME_MAX)
		max = AG_FRAME_MAX;
	if (max < AG_FRAME_MIN_MAX)
		max = AG_FRAME_MIN_MAX;
	d->max = max;
	d->len = 0;
	d->left = 0;
	d->zero = 0;
	d->state = DEC_CODE;
}

static void restart(struct ag_frame_decoder *d)
{
	d->len = 0;
	d->left = 0;
	d->zero = 0;
	d->state = DEC_CODE;
}

static uint16_t payload_len_for(uint8_t kind)
{
	switch (kind) {
	case AG_FRAME_ACK:
	case AG_FRAME_NAK: return 0;
	case AG_FRAME_RST: return 4;
	case AG_FRAME_RST_ACK: return 8;
	default: return 0xffffu; /* DATA: any length >= 1 */
	}
}

/* Checks a complete, COBS-decoded frame. */
static int finish(struct ag_frame_decoder *d, struct ag_frame *ret_frame)
{
	const uint8_t *b = d->buf;
	uint16_t plen;
	uint8_t kind;

	if (d->len < AG_FRAME_OVERHEAD)
		return AG_ETRUNC;
	if ((b[0] & 0xf0u) != AG_FRAME_MARKER || (b[0] & 0x0fu) > AG_FRAME_RST_ACK)
		return AG_EGARBAGE;
	plen = (uint16_t)(d->len - AG_FRAME_OVERHEAD);
	if (ag_crc32c(0, b, (size_t)d->len - AG_FRAME_CRC) !=
	    ag_get_le32(b + d->len - AG_FRAME_CRC))
		return AG_ECRC;
	kind = b[0] & 0x0fu;
	if (kind == AG_FRAME_DATA ? plen == 0 : plen != payload_len_for(kind))
		return AG_EGARBAGE;
	ret_frame->kind = kind;
	ret_frame->seq = b[1];
	ret_frame->ack = b[2];
	ret_frame->len = plen;
	ret_frame->payload = b + AG_FRAME_HDR;
	return 1;
}

int ag_frame_decode(struct ag_frame_decoder *d, const uint8_t *in, size_t n,
		    size_t *ret_used, struct ag_frame *ret_frame)
{
	size_t i = 0;
	int rc;

	while (i < n) {
		uint8_t c = in[i++];

		if (c == 0) {
			/* Delimiter: whatever was collected ends here. */
			uint8_t st = d->state;
			int cut = d->left != 0;
			int empty = d->len == 0 && st == DEC_CODE && !d->zero;

			if (st == DEC_DISCARD) {
				restart(d);
				continue; /* already reported */
			}
			if (empty)
				continue; /* idle or back-to-back delimiters */
			rc = cut ? AG_ETRUNC : finish(d, ret_frame);
			restart(d);
			*ret_used = i;
			return rc;
		}
		if (d->state == DEC_DISCARD)
			continue;
		if (d->state == DEC_CODE) {
			/* A block's code byte: owe the zero of the block before. */
			if (d->zero) {
				if (d->len >= d->max)
					goto toobig;
				d->buf[d->len++] = 0;
			}
			d->left = (uint8_t)(c - 1);
			d->zero = c != 0xff;
			if (d->left)
				d->state = DEC_DATA;
			continue;
		}
		if (d->len >= d->max)
			goto toobig;
		d->buf[d->len++] = c;
		if (--d->left == 0)
			d->state = DEC_CODE;
		continue;
toobig:
		d->state = DEC_DISCARD;
		d->len = 0;
		*ret_used = i;
		return AG_ETOOBIG;
	}
	*ret_used = i;
	return 0;
}

/* COBS-encodes src into dst (no delimiters). Returns bytes written. */
static size_t cobs_put(uint8_t *dst, const uint8_t *src, size_t n, size_t *code_at,
		       uint8_t *code, size_t out)
{
	for (size_t i = 0; i < n; i++) {
		if (src[i] == 0) {
			dst[*code_at] = *code;
			*code_at = out++;
			*code = 1;
			continue;
		}
		dst[out++] = src[i];
		if (++*code == 0xff) {
			dst[*code_at] = *code;
			*code_at = out++;
			*code = 1;
		}
	}
	return out;
}

int ag_frame_encode(const struct ag_frame *f, uint8_t *out, size_t cap)
{
	uint8_t hdr[AG_FRAME_HDR];
	uint8_t crc[AG_FRAME_CRC];
	size_t total, need, code_at, o;
	uint8_t code = 1;
	uint32_t c;

	if (f->kind > AG_FRAME_RST_ACK || (f->len && !f->payload))
		return AG_EINVAL;
	total = (size_t)AG_FRAME_OVERHEAD + f->len;
	need = AG_FRAME_WIRE(total);
	if (cap < need)
		return AG_ENOSPC;

	hdr[0] = (uint8_t)(AG_FRAME_MARKER | f->kind);
	hdr[1] = f->seq;
	hdr[2] = f->ack;
	c = ag_crc32c(0, hdr, sizeof(hdr));
	c = ag_crc32c(c, f->payload, f->len);
	ag_put_le32(crc, c);

	out[0] = 0;
	code_at = 1;
	o = 2;
	o = cobs_put(out, hdr, sizeof(hdr), &code_at, &code, o);
	o = cobs_put(out, f->payload, f->len, &code_at, &code, o);
	o = cobs_put(out, crc, sizeof(crc), &code_at, &code, o);
	out[code_at] = code;
	out[o++] = 0;
	return (int)o;
}
