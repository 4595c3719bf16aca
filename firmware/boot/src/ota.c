/* OTA storage on flash_area: full images and delta patches into the
 * inactive slot, resumable from the slot trailer. The write order is in
 * boot/ota.h and BOOT.md. */
#include <string.h>

#include "agent/bytes.h"
#include "boot/ota.h"
#include "boot_priv.h"
#include "hal/flash.h"

static int open_slot(uint8_t slot, const struct flash_area **ret_fa)
{
	return flash_area_open(slot == BOOT_SLOT_A ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, ret_fa);
}

int boot_ota_init(struct boot_ota *o, uint8_t running_slot)
{
	const struct flash_area *fa;
	if (o == NULL || running_slot >= BOOT_SLOT_COUNT)
		return AG_EINVAL;
	memset(o, 0, sizeof(*o));
	o->running = running_slot;
	int rc = open_slot(running_slot, &fa);
	if (rc)
		return rc;
	o->page_size = flash_area_sector_size(fa);
	flash_area_close(fa);
	if (o->page_size == 0 || o->page_size > BOOT_OTA_PAGE_MAX)
		return AG_ENOSPC;
	return 0;
}

/* Programs @p len bytes at @p off of the target slot, erasing the sector
 * first; a short tail is padded with the erased value to the write unit. */
static int program_page(struct boot_ota *o, uint32_t off, const uint8_t *buf, size_t len)
{
	const struct flash_area *fa;
	uint8_t tail[32];
	if (len > o->page_size || off % o->page_size ||
	    off + o->page_size > boot_image_area(o->slot))
		return AG_EPATCHOVER;
	int rc = open_slot(o->slot, &fa);
	if (rc)
		return rc;
	uint32_t align = flash_area_align(fa);
	uint32_t whole = (uint32_t)len - (uint32_t)len % align;
	rc = flash_area_erase(fa, off, o->page_size);
	if (rc == 0 && whole)
		rc = flash_area_write(fa, off, buf, whole);
	if (rc == 0 && whole < len) {
		if (align > sizeof(tail)) {
			rc = AG_EINVAL;
		} else {
			memset(tail, flash_area_erased_val(fa), align);
			memcpy(tail, buf + whole, len - whole);
			rc = flash_area_write(fa, off + whole, tail, align);
		}
	}
	flash_area_close(fa);
	return rc;
}

static int delta_write(void *ctx, uint32_t off, const uint8_t *buf, size_t len)
{
	struct boot_ota *o = ctx;
	int rc = program_page(o, off, buf, len);
	if (rc && !o->err)
		o->err = rc;
	return rc;
}

static void delta_progress(void *ctx, const uint8_t rec[AG_DELTA_PROGRESS_LEN])
{
	struct boot_ota *o = ctx;
	if (o->err)
		return;
	memcpy(o->tr.ota.progress, rec, AG_DELTA_PROGRESS_LEN);
	o->tr.ota.has_progress = 1;
	int rc = boot_write_trailer(o->slot, &o->tr);
	if (rc)
		o->err = rc;
}

/* The running slot's image: the base a patch applies to. */
static int old_image(struct boot_ota *o, const uint8_t **ret_old, uint32_t *ret_len)
{
	const struct flash_area *fa;
	struct ag_image_info info;
	int rc = open_slot(o->running, &fa);
	if (rc)
		return rc;
	const uint8_t *xip = flash_area_xip(fa);
	flash_area_close(fa);
	if (xip == NULL || ag_image_parse(xip, boot_image_area(o->running), &info) != 0)
		return AG_EPATCHBASE;
	*ret_old = xip;
	*ret_len = info.total_size;
	return 0;
}

static int delta_start(struct boot_ota *o)
{
	const uint8_t *old;
	uint32_t old_len;
	int rc = old_image(o, &old, &old_len);
	if (rc)
		return rc;
	return ag_delta_init(&o->delta, old, old_len, o->page, o->page_size,
			     boot_image_area(o->slot), delta_write, delta_progress, o);
}

static int same_xfer(const struct boot_trailer *t, const struct ag_msg_ota_offer *of)
{
	return (t->flags & BOOT_F_OTA) && t->state == BOOT_STATE_EMPTY && t->ota.xfer == of->xfer &&
	       t->ota.kind == of->kind && t->ota.size == of->size &&
	       t->ota.image_size == of->image_size &&
	       memcmp(t->ota.sha256, of->sha256, AG_IMAGE_HASH_LEN) == 0;
}

/* Resume the transfer recorded in o->tr; 0 and the offset, or an error
 * meaning "start afresh". */
static int resume(struct boot_ota *o, uint32_t *ret_off)
{
	if (o->tr.ota.kind == AG_OTA_FULL) {
		if (o->tr.ota.durable % o->page_size || o->tr.ota.durable > o->tr.ota.size)
			return AG_EINVAL;
		*ret_off = o->tr.ota.durable;
		return 0;
	}
	struct ag_delta_header h;
	if (ag_delta_read_header(o->tr.ota.patch_hdr, AG_DELTA_HEADER_LEN, &h) != 0) {
		*ret_off = 0; /* the header never made it to flash */
		return delta_start(o);
	}
	int rc = delta_start(o);
	if (rc == 0)
		rc = ag_delta_feed(&o->delta, o->tr.ota.patch_hdr, AG_DELTA_HEADER_LEN);
	if (rc)
		return rc;
	if (!o->tr.ota.has_progress) {
		*ret_off = AG_DELTA_HEADER_LEN;
		return 0;
	}
	return ag_delta_resume(&o->delta, o->tr.ota.progress, ret_off);
}

int boot_ota_begin(struct boot_ota *o, const struct ag_msg_ota_offer *of, uint32_t *ret_offset)
{
	uint32_t off = 0;
	if (o == NULL || of == NULL || ret_offset == NULL || of->slot >= BOOT_SLOT_COUNT ||
	    (of->kind != AG_OTA_FULL && of->kind != AG_OTA_DELTA))
		return AG_EINVAL;
	if (boot__cfg.key == NULL || of->slot == o->running || o->page_size == 0)
		return AG_ESTATE;
	uint32_t area = boot_image_area(of->slot);
	if (of->image_size > area || (of->kind == AG_OTA_FULL && of->size > area))
		return AG_ETOOBIG;
	if (of->image_size < AG_IMAGE_HDR_LEN || (of->kind == AG_OTA_FULL && of->size != of->image_size))
		return AG_ETRUNC;
	if (of->kind == AG_OTA_DELTA && of->size < AG_DELTA_HEADER_LEN)
		return AG_ETRUNC;

	o->busy = 0;
	o->err = 0;
	o->fill = 0;
	o->slot = of->slot;
	int rc = boot_read_trailer(of->slot, &o->tr);
	if (rc)
		return rc;
	if (same_xfer(&o->tr, of) && resume(o, &off) == 0) {
		o->received = off;
		o->busy = 1;
		*ret_offset = off;
		return 0;
	}
	if (of->kind == AG_OTA_DELTA) {
		rc = delta_start(o);
		if (rc)
			return rc;
	}
	/* The slot stops being bootable before a byte of it changes. */
	struct boot_trailer t;
	memset(&t, 0, sizeof(t));
	t.state = BOOT_STATE_EMPTY;
	t.flags = BOOT_F_OTA;
	t.prio = o->tr.prio;
	t.floor = boot_security_floor();
	t.ota.xfer = of->xfer;
	t.ota.kind = of->kind;
	t.ota.size = of->size;
	t.ota.image_size = of->image_size;
	memcpy(t.ota.sha256, of->sha256, AG_IMAGE_HASH_LEN);
	rc = boot_write_trailer(of->slot, &t);
	if (rc)
		return rc;
	o->tr = t;
	o->received = 0;
	o->busy = 1;
	*ret_offset = 0;
	return 0;
}

/* Early refusal of a full image from its header, before anything is written. */
static int check_header(struct boot_ota *o, const uint8_t *buf)
{
	struct ag_image_header h;
	int rc = ag_image_parse_header(buf, AG_IMAGE_HDR_LEN, &h);
	if (rc)
		return rc;
	if (strcmp(h.hw_id, boot__cfg.hw_id) != 0)
		return AG_EHWID;
	if (h.security_counter < o->tr.floor)
		return AG_ESECCNT;
	if (h.load_addr != boot__cfg.slot_addr[o->slot])
		return AG_ESLOT;
	if ((uint64_t)h.hdr_size + h.payload_size + h.ptlv_size > o->tr.ota.image_size)
		return AG_ETOOBIG;
	return 0;
}

static int full_flush(struct boot_ota *o)
{
	uint32_t at = o->received - o->fill;
	int rc = program_page(o, at, o->page, o->fill);
	if (rc)
		return rc;
	o->tr.ota.durable = at + o->fill;
	o->fill = 0;
	if (o->tr.ota.durable % o->page_size)
		return 0; /* the last, partial page: finish records the result */
	return boot_write_trailer(o->slot, &o->tr);
}

int boot_ota_write(struct boot_ota *o, uint32_t offset, const uint8_t *data, size_t len)
{
	int rc;
	if (o == NULL || (data == NULL && len))
		return AG_EINVAL;
	if (!o->busy)
		return AG_ESTATE;
	if (o->err)
		return o->err;
	if (offset != o->received)
		return AG_EINVAL;
	if (len > o->tr.ota.size - o->received)
		return o->err = AG_ETOOBIG;

	if (o->tr.ota.kind == AG_OTA_FULL) {
		while (len) {
			size_t n = o->page_size - o->fill;
			if (n > len)
				n = len;
			memcpy(o->page + o->fill, data, n);
			uint32_t before = o->received;
			o->fill += (uint32_t)n;
			o->received += (uint32_t)n;
			data += n;
			len -= n;
			if (before < AG_IMAGE_HDR_LEN && o->received >= AG_IMAGE_HDR_LEN &&
			    o->received - o->fill == 0) {
				rc = check_header(o, o->page);
				if (rc)
					return o->err = rc;
			}
			if (o->fill == o->page_size) {
				rc = full_flush(o);
				if (rc)
					return o->err = rc;
			}
		}
		return 0;
	}

	/* Delta: the header first, persisted before any page is written. */
	if (o->received < AG_DELTA_HEADER_LEN) {
		size_t n = AG_DELTA_HEADER_LEN - o->received;
		if (n > len)
			n = len;
		memcpy(o->tr.ota.patch_hdr + o->received, data, n);
		rc = ag_delta_feed(&o->delta, data, n);
		if (rc)
			return o->err = rc;
		o->received += (uint32_t)n;
		data += n;
		len -= n;
		if (o->received == AG_DELTA_HEADER_LEN) {
			rc = boot_write_trailer(o->slot, &o->tr);
			if (rc)
				return o->err = rc;
		}
	}
	if (len) {
		rc = ag_delta_feed(&o->delta, data, len);
		if (rc == 0 && o->err)
			rc = o->err;
		if (rc)
			return o->err = rc;
		o->received += (uint32_t)len;
	}
	return 0;
}

static void abandon(struct boot_ota *o)
{
	struct boot_trailer t;
	memset(&t, 0, sizeof(t));
	t.state = BOOT_STATE_EMPTY;
	t.prio = o->tr.prio;
	t.floor = o->tr.floor;
	/* If this append fails the transfer record stays; the next offer of
	 * another transfer replaces it, and the slot is never bootable. */
	if (boot_write_trailer(o->slot, &t) != 0)
		o->err = AG_EFLASH;
	o->busy = 0;
}

/* An image that ends past the bytes received is truncated, whatever the
 * erased flash after it happens to look like. */
static int check_length(struct boot_ota *o)
{
	const struct flash_area *fa;
	struct ag_image_header h;
	int rc = open_slot(o->slot, &fa);
	if (rc)
		return rc;
	const uint8_t *xip = flash_area_xip(fa);
	flash_area_close(fa);
	if (xip == NULL)
		return AG_EFLASH;
	rc = ag_image_parse_header(xip, AG_IMAGE_HDR_LEN, &h);
	if (rc)
		return rc;
	uint64_t utlv = (uint64_t)h.hdr_size + h.payload_size + h.ptlv_size;
	uint32_t have = o->tr.ota.image_size;
	if (utlv + AG_IMAGE_TLV_INFO_LEN > have ||
	    utlv + ag_get_le16(xip + utlv + 2) > have)
		return AG_ETRUNC;
	return 0;
}

int boot_ota_finish(struct boot_ota *o, uint32_t size)
{
	struct ag_image_info info;
	int rc;
	if (o == NULL)
		return AG_EINVAL;
	if (!o->busy)
		return AG_ESTATE;
	if (o->err)
		return o->err;
	if (size != o->tr.ota.size || o->received != size)
		return AG_ETRUNC;
	if (o->tr.ota.kind == AG_OTA_FULL) {
		rc = o->fill ? full_flush(o) : 0;
	} else {
		size_t n = 0;
		rc = ag_delta_finish(&o->delta, &n);
		if (rc == 0 && o->err)
			rc = o->err;
		if (rc == 0 && n != o->tr.ota.image_size)
			rc = AG_EPATCHCRC;
	}
	if (rc) {
		o->err = rc;
		return rc;
	}
	rc = check_length(o);
	if (rc == 0)
		rc = boot_verify_slot(o->slot, &info);
	if (rc == 0 && info.total_size != o->tr.ota.image_size)
		rc = info.total_size > o->tr.ota.image_size ? AG_ETRUNC : AG_ETOOBIG;
	if (rc) {
		/* Never bootable: give the slot up rather than resume into it. */
		abandon(o);
		return rc;
	}
	struct boot_trailer t;
	memset(&t, 0, sizeof(t));
	t.state = BOOT_STATE_PENDING;
	t.prio = o->tr.prio;
	t.floor = o->tr.floor;
	t.seccnt = info.hdr.security_counter;
	rc = boot_write_trailer(o->slot, &t);
	if (rc)
		return rc;
	o->busy = 0;
	return 0;
}

void boot_ota_abort(struct boot_ota *o, int reason)
{
	(void)reason;
	if (o == NULL || !o->busy)
		return;
	abandon(o);
}

int boot_ota_agent_begin(void *ctx, const struct ag_msg_ota_offer *offer, uint32_t *ret_offset)
{
	return boot_ota_begin(ctx, offer, ret_offset);
}

int boot_ota_agent_write(void *ctx, uint32_t offset, const uint8_t *data, size_t len)
{
	return boot_ota_write(ctx, offset, data, len);
}

int boot_ota_agent_finish(void *ctx, uint32_t size)
{
	return boot_ota_finish(ctx, size);
}

void boot_ota_agent_abort(void *ctx, int reason)
{
	boot_ota_abort(ctx, reason);
}

int boot_ota_agent_activate(void *ctx, uint8_t slot, bool permanent)
{
	(void)ctx;
	return boot_activate(slot, permanent);
}

void boot_ota_agent_slots(void *ctx, struct ag_slot_info ret_slot[2], uint8_t *ret_active)
{
	const struct boot_ota *o = ctx;
	uint8_t st[BOOT_SLOT_COUNT];
	struct ag_image_version v[BOOT_SLOT_COUNT];
	boot_slots_report(st, v);
	for (unsigned s = 0; s < BOOT_SLOT_COUNT; s++) {
		ret_slot[s].state = st[s];
		ret_slot[s].version.major = v[s].major;
		ret_slot[s].version.minor = v[s].minor;
		ret_slot[s].version.patch = v[s].patch;
		ret_slot[s].version.build = v[s].build;
	}
	*ret_active = o ? o->running : 0;
}
