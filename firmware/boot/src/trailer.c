/* Slot trailers: an append-only log of CRC-protected records in the last
 * BOOT_TRAILER_SECTORS sectors of each slot (see BOOT.md for the write
 * orders and why every cut leaves a whole state). */
#include <string.h>

#include "agent/bytes.h"
#include "agent/crc.h"
#include "boot/boot.h"
#include "boot_priv.h"
#include "hal/flash.h"

#define REC_MAGIC 0x52544246u /* "FBTR" */

/* Record layout, little-endian. */
enum {
	R_MAGIC = 0,
	R_SEQ = 4,
	R_STATE = 8,
	R_ATTEMPTS = 9,
	R_FLAGS = 10,
	R_KIND = 11,
	R_PRIO = 12,
	R_FLOOR = 16,
	R_SECCNT = 20,
	R_XFER = 24,
	R_SIZE = 28,
	R_IMAGE_SIZE = 32,
	R_DURABLE = 36,
	R_SHA = 40,
	R_PROGRESS = 72,
	R_PATCH_HDR = 100,
	R_HAS_PROGRESS = 148,
	R_CRC = 156,
};
_Static_assert(R_PATCH_HDR + AG_DELTA_HEADER_LEN == R_HAS_PROGRESS, "layout");
_Static_assert(R_CRC + 4 == BOOT_REC_LEN, "layout");
_Static_assert(BOOT_REC_LEN % 8 == 0, "write unit");

static uint8_t rec[BOOT_REC_LEN];

static int open_slot(uint8_t slot, const struct flash_area **ret_fa)
{
	if (slot >= BOOT_SLOT_COUNT)
		return AG_EINVAL;
	return flash_area_open(slot == BOOT_SLOT_A ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, ret_fa);
}

uint32_t boot_image_area(uint8_t slot)
{
	const struct flash_area *fa;
	if (open_slot(slot, &fa))
		return 0;
	uint32_t tr = BOOT_TRAILER_SECTORS * flash_area_sector_size(fa);
	uint32_t n = fa->fa_size > tr ? fa->fa_size - tr : 0;
	flash_area_close(fa);
	return n;
}

static void encode(const struct boot_trailer *t, uint32_t seq)
{
	memset(rec, 0, sizeof(rec));
	ag_put_le32(rec + R_MAGIC, REC_MAGIC);
	ag_put_le32(rec + R_SEQ, seq);
	rec[R_STATE] = t->state;
	rec[R_ATTEMPTS] = t->attempts;
	rec[R_FLAGS] = t->flags;
	ag_put_le32(rec + R_PRIO, t->prio);
	ag_put_le32(rec + R_FLOOR, t->floor);
	ag_put_le32(rec + R_SECCNT, t->seccnt);
	if (t->flags & BOOT_F_OTA) {
		rec[R_KIND] = t->ota.kind;
		ag_put_le32(rec + R_XFER, t->ota.xfer);
		ag_put_le32(rec + R_SIZE, t->ota.size);
		ag_put_le32(rec + R_IMAGE_SIZE, t->ota.image_size);
		ag_put_le32(rec + R_DURABLE, t->ota.durable);
		memcpy(rec + R_SHA, t->ota.sha256, AG_IMAGE_HASH_LEN);
		memcpy(rec + R_PROGRESS, t->ota.progress, AG_DELTA_PROGRESS_LEN);
		memcpy(rec + R_PATCH_HDR, t->ota.patch_hdr, AG_DELTA_HEADER_LEN);
		rec[R_HAS_PROGRESS] = t->ota.has_progress;
	}
	ag_put_le32(rec + R_CRC, ag_crc32c(0, rec, R_CRC));
}

static int decode(struct boot_trailer *t)
{
	if (ag_get_le32(rec + R_MAGIC) != REC_MAGIC ||
	    ag_get_le32(rec + R_CRC) != ag_crc32c(0, rec, R_CRC))
		return 0;
	memset(t, 0, sizeof(*t));
	t->seq = ag_get_le32(rec + R_SEQ);
	t->state = rec[R_STATE];
	t->attempts = rec[R_ATTEMPTS];
	t->flags = rec[R_FLAGS];
	t->prio = ag_get_le32(rec + R_PRIO);
	t->floor = ag_get_le32(rec + R_FLOOR);
	t->seccnt = ag_get_le32(rec + R_SECCNT);
	if (t->state > BOOT_STATE_BAD)
		return 0;
	if (t->flags & BOOT_F_OTA) {
		t->ota.kind = rec[R_KIND];
		t->ota.xfer = ag_get_le32(rec + R_XFER);
		t->ota.size = ag_get_le32(rec + R_SIZE);
		t->ota.image_size = ag_get_le32(rec + R_IMAGE_SIZE);
		t->ota.durable = ag_get_le32(rec + R_DURABLE);
		memcpy(t->ota.sha256, rec + R_SHA, AG_IMAGE_HASH_LEN);
		memcpy(t->ota.progress, rec + R_PROGRESS, AG_DELTA_PROGRESS_LEN);
		memcpy(t->ota.patch_hdr, rec + R_PATCH_HDR, AG_DELTA_HEADER_LEN);
		t->ota.has_progress = rec[R_HAS_PROGRESS] ? 1 : 0;
	}
	return 1;
}

static int all_erased(uint8_t ev)
{
	for (uint32_t i = 0; i < BOOT_REC_LEN; i++)
		if (rec[i] != ev)
			return 0;
	return 1;
}

/* Where the log stands: the newest valid record and the next place to append. */
struct log_pos {
	uint32_t base;   /* offset of the trailer in the slot */
	uint32_t sector; /* sector size */
	uint32_t per;    /* records per sector */
	int cur;         /* sector of the newest record (0 if none) */
	int have;        /* a valid record exists */
	uint32_t next;   /* index in cur of the first erased position after it; per if none */
};

static int scan(const struct flash_area *fa, struct log_pos *lp, struct boot_trailer *ret_t)
{
	struct boot_trailer t, best;
	uint32_t best_idx = 0;
	lp->sector = flash_area_sector_size(fa);
	lp->base = fa->fa_size - BOOT_TRAILER_SECTORS * lp->sector;
	lp->per = lp->sector / BOOT_REC_LEN;
	lp->cur = 0;
	lp->have = 0;
	memset(&best, 0, sizeof(best));
	for (uint32_t s = 0; s < BOOT_TRAILER_SECTORS; s++) {
		for (uint32_t i = 0; i < lp->per; i++) {
			int rc = flash_area_read(fa, lp->base + s * lp->sector + i * BOOT_REC_LEN, rec,
						 BOOT_REC_LEN);
			if (rc)
				return rc;
			if (decode(&t) && (!lp->have || t.seq > best.seq)) {
				best = t;
				lp->have = 1;
				lp->cur = (int)s;
				best_idx = i;
			}
		}
	}
	uint8_t ev = flash_area_erased_val(fa);
	lp->next = lp->per;
	for (uint32_t i = lp->have ? best_idx + 1 : 0; i < lp->per; i++) {
		int rc = flash_area_read(fa, lp->base + (uint32_t)lp->cur * lp->sector +
						     i * BOOT_REC_LEN,
					 rec, BOOT_REC_LEN);
		if (rc)
			return rc;
		if (all_erased(ev)) {
			lp->next = i;
			break;
		}
	}
	if (ret_t)
		*ret_t = best;
	return 0;
}

int boot_read_trailer(uint8_t slot, struct boot_trailer *ret_t)
{
	const struct flash_area *fa;
	struct log_pos lp;
	struct boot_trailer t;
	int rc = open_slot(slot, &fa);
	if (rc)
		return rc;
	rc = scan(fa, &lp, &t);
	flash_area_close(fa);
	if (rc)
		return rc;
	if (!lp.have) {
		memset(&t, 0, sizeof(t));
		t.state = BOOT_STATE_EMPTY;
	}
	*ret_t = t;
	return 0;
}

int boot_write_trailer(uint8_t slot, const struct boot_trailer *t)
{
	const struct flash_area *fa;
	struct log_pos lp;
	struct boot_trailer cur;
	if (t == NULL || t->state > BOOT_STATE_BAD)
		return AG_EINVAL;
	int rc = open_slot(slot, &fa);
	if (rc)
		return rc;
	rc = scan(fa, &lp, &cur);
	if (rc)
		goto out;
	uint32_t seq = lp.have ? cur.seq + 1u : 1u;
	uint32_t at;
	if (lp.next < lp.per) {
		at = lp.base + (uint32_t)lp.cur * lp.sector + lp.next * BOOT_REC_LEN;
	} else {
		/* Full: start the other sector afresh. The newest record stays
		 * where it is until this one is whole. */
		at = lp.base + (uint32_t)(1 - lp.cur) * lp.sector;
		rc = flash_area_erase(fa, at, lp.sector);
		if (rc)
			goto out;
	}
	encode(t, seq);
	rc = flash_area_write(fa, at, rec, BOOT_REC_LEN);
out:
	flash_area_close(fa);
	return rc;
}
