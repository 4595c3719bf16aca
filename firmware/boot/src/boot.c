/* Slot selection, trial boot, confirm and activate. Every state change is
 * one trailer append (trailer.c), so a power cut between any two flash
 * operations leaves each slot in its old or its new state. */
#include <string.h>

#include "boot/boot.h"
#include "boot_priv.h"
#include "hal/flash.h"

struct boot_config boot__cfg;

int boot_init(const struct boot_config *cfg)
{
	if (cfg == NULL || cfg->key == NULL || cfg->hw_id == NULL ||
	    ag_image_check_hw_id(cfg->hw_id) != 0)
		return AG_EINVAL;
	boot__cfg = *cfg;
	if (boot__cfg.max_attempts == 0)
		boot__cfg.max_attempts = BOOT_MAX_ATTEMPTS;
	return 0;
}

void boot__policy(uint8_t slot, uint32_t floor, struct ag_image_policy *ret_pol)
{
	memset(ret_pol, 0, sizeof(*ret_pol));
	ret_pol->key = boot__cfg.key;
	ret_pol->hw_id = boot__cfg.hw_id;
	ret_pol->min_security_counter = floor;
	ret_pol->max_size = boot_image_area(slot);
	ret_pol->load_addr = boot__cfg.slot_addr[slot < BOOT_SLOT_COUNT ? slot : 0];
	ret_pol->check_load_addr = 1;
}

static uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

uint32_t boot_security_floor(void)
{
	struct boot_trailer t;
	uint32_t f = 0;
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++)
		if (boot_read_trailer(s, &t) == 0 && t.seq)
			f = max_u32(f, t.floor);
	return f;
}

static int verify(uint8_t slot, uint32_t floor, struct ag_image_info *ret_info)
{
	const struct flash_area *fa;
	struct ag_image_policy pol;
	if (boot__cfg.key == NULL || slot >= BOOT_SLOT_COUNT)
		return AG_EINVAL;
	int rc = flash_area_open(slot == BOOT_SLOT_A ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa);
	if (rc)
		return rc;
	const uint8_t *xip = flash_area_xip(fa);
	flash_area_close(fa);
	if (xip == NULL)
		return AG_EFLASH;
	boot__policy(slot, floor, &pol);
	return ag_image_verify_mem(xip, boot_image_area(slot), &pol, ret_info);
}

int boot_verify_slot(uint8_t slot, struct ag_image_info *ret_info)
{
	return verify(slot, boot_security_floor(), ret_info);
}

/* A new record for @p slot in @p state, carrying the floor. */
static int set_state(uint8_t slot, const struct boot_trailer *old, uint8_t state, uint8_t attempts,
		     uint32_t prio, uint32_t floor, uint32_t seccnt)
{
	struct boot_trailer t;
	memset(&t, 0, sizeof(t));
	t.state = state;
	t.attempts = attempts;
	t.prio = prio;
	t.floor = max_u32(floor, old->floor);
	t.seccnt = seccnt;
	return boot_write_trailer(slot, &t);
}

static void decide(struct boot_decision *d, uint8_t slot, uint8_t state,
		   const struct ag_image_info *info)
{
	memset(d, 0, sizeof(*d));
	d->slot = slot;
	d->state = state;
	d->payload_off = info->hdr.hdr_size;
	d->payload_size = info->hdr.payload_size;
	d->version = info->hdr.version;
}

int boot_select(int reset, struct boot_decision *ret)
{
	struct boot_trailer t[BOOT_SLOT_COUNT];
	struct ag_image_info info;
	uint32_t floor = 0;
	uint8_t reverted = 0;
	int rc;

	if (ret == NULL || boot__cfg.key == NULL)
		return AG_EINVAL;
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
		rc = boot_read_trailer(s, &t[s]);
		if (rc)
			return rc;
		if (t[s].seq)
			floor = max_u32(floor, t[s].floor);
	}
	uint32_t top_prio = max_u32(t[0].prio, t[1].prio);

	/* 1. A pending image starts its trial. */
	for (int pass = 0; pass < 2; pass++) {
		uint8_t s = t[0].state == BOOT_STATE_PENDING &&
					    (t[1].state != BOOT_STATE_PENDING || t[0].seq >= t[1].seq)
				    ? 0
				    : 1;
		if (t[s].state != BOOT_STATE_PENDING || (t[s].flags & BOOT_F_OTA))
			break;
		rc = verify(s, floor, &info);
		if (rc == 0) {
			rc = set_state(s, &t[s], BOOT_STATE_TESTING, 1, top_prio + 1u, floor,
				       info.hdr.security_counter);
			if (rc)
				return rc;
			decide(ret, s, BOOT_STATE_TESTING, &info);
			return 0;
		}
		if (set_state(s, &t[s], BOOT_STATE_BAD, 0, t[s].prio, floor, t[s].seccnt) == 0)
			t[s].state = BOOT_STATE_BAD;
		else
			return AG_EFLASH;
	}

	/* 2. An image on trial gets another boot, or fails its trial. */
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
		if (t[s].state != BOOT_STATE_TESTING)
			continue;
		uint8_t o = (uint8_t)(1 - s);
		int over = reset == BOOT_RESET_WATCHDOG || t[s].attempts >= boot__cfg.max_attempts;
		if (over && t[o].state == BOOT_STATE_CONFIRMED && verify(o, floor, NULL) == 0) {
			rc = set_state(s, &t[s], BOOT_STATE_BAD, t[s].attempts, t[s].prio, floor,
				       t[s].seccnt);
			if (rc)
				return rc;
			t[s].state = BOOT_STATE_BAD;
			reverted = 1;
			continue;
		}
		rc = verify(s, floor, &info);
		if (rc == 0) {
			uint8_t n = t[s].attempts < 255 ? (uint8_t)(t[s].attempts + 1) : 255;
			if (!over) {
				rc = set_state(s, &t[s], BOOT_STATE_TESTING, n, t[s].prio, floor,
					       t[s].seccnt);
				if (rc)
					return rc;
			}
			decide(ret, s, BOOT_STATE_TESTING, &info);
			return 0;
		}
		rc = set_state(s, &t[s], BOOT_STATE_BAD, t[s].attempts, t[s].prio, floor, t[s].seccnt);
		if (rc)
			return rc;
		t[s].state = BOOT_STATE_BAD;
	}

	/* 3. The confirmed image with the highest priority. */
	for (int pass = 0; pass < 2; pass++) {
		int s = -1;
		for (uint8_t i = 0; i < BOOT_SLOT_COUNT; i++)
			if (t[i].state == BOOT_STATE_CONFIRMED &&
			    (s < 0 || t[i].prio > t[s].prio))
				s = i;
		if (s < 0)
			break;
		rc = verify((uint8_t)s, floor, &info);
		if (rc == 0) {
			decide(ret, (uint8_t)s, BOOT_STATE_CONFIRMED, &info);
			ret->reverted = reverted;
			return 0;
		}
		rc = set_state((uint8_t)s, &t[s], BOOT_STATE_BAD, 0, t[s].prio, floor, t[s].seccnt);
		if (rc)
			return rc;
		t[s].state = BOOT_STATE_BAD;
	}

	/* 4. Factory provisioning: an image in a slot that never had a record. */
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
		if (t[s].seq != 0 || verify(s, floor, &info) != 0)
			continue;
		rc = set_state(s, &t[s], BOOT_STATE_CONFIRMED, 0, top_prio + 1u,
			       max_u32(floor, info.hdr.security_counter), info.hdr.security_counter);
		if (rc)
			return rc;
		decide(ret, s, BOOT_STATE_CONFIRMED, &info);
		ret->reverted = reverted;
		return 0;
	}
	return AG_ENOIMAGE;
}

int boot_confirm(uint8_t slot)
{
	struct boot_trailer t, o;
	if (slot >= BOOT_SLOT_COUNT)
		return AG_EINVAL;
	int rc = boot_read_trailer(slot, &t);
	if (rc == 0)
		rc = boot_read_trailer((uint8_t)(1 - slot), &o);
	if (rc)
		return rc;
	if (t.state == BOOT_STATE_CONFIRMED)
		return 0;
	if (t.state != BOOT_STATE_TESTING)
		return AG_ESTATE;
	uint32_t floor = max_u32(t.floor, o.seq ? o.floor : 0);
	return set_state(slot, &t, BOOT_STATE_CONFIRMED, 0, max_u32(t.prio, o.prio + 1u),
			 max_u32(floor, t.seccnt), t.seccnt);
}

int boot_activate(uint8_t slot, bool permanent)
{
	struct boot_trailer t, o;
	struct ag_image_info info;
	if (slot >= BOOT_SLOT_COUNT)
		return AG_EINVAL;
	int rc = boot_read_trailer(slot, &t);
	if (rc == 0)
		rc = boot_read_trailer((uint8_t)(1 - slot), &o);
	if (rc)
		return rc;
	if (t.flags & BOOT_F_OTA)
		return AG_ESTATE;
	uint32_t floor = max_u32(t.seq ? t.floor : 0, o.seq ? o.floor : 0);
	rc = verify(slot, floor, &info);
	if (rc)
		return rc;
	uint32_t sc = info.hdr.security_counter;
	if (permanent)
		return set_state(slot, &t, BOOT_STATE_CONFIRMED, 0, max_u32(t.prio, o.prio) + 1u,
				 max_u32(floor, sc), sc);
	return set_state(slot, &t, BOOT_STATE_PENDING, 0, t.prio, floor, sc);
}

void boot_slots_report(uint8_t ret_state[BOOT_SLOT_COUNT],
		       struct ag_image_version ret_version[BOOT_SLOT_COUNT])
{
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
		struct boot_trailer t;
		const struct flash_area *fa;
		struct ag_image_header h;
		ret_state[s] = BOOT_STATE_EMPTY;
		memset(&ret_version[s], 0, sizeof(ret_version[s]));
		if (boot_read_trailer(s, &t) == 0)
			ret_state[s] = t.state;
		if (ret_state[s] == BOOT_STATE_EMPTY)
			continue;
		if (flash_area_open(s == BOOT_SLOT_A ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa))
			continue;
		const uint8_t *xip = flash_area_xip(fa);
		flash_area_close(fa);
		if (xip && ag_image_parse_header(xip, AG_IMAGE_HDR_LEN, &h) == 0)
			ret_version[s] = h.version;
	}
}
