/* Test helpers for firmware/boot: a sim-board flash, keys made at test
 * time, signed images for each slot, and transfers through boot_ota. Shared
 * with tests/powerfail. */
#ifndef BOOT_FIXTURE_H
#define BOOT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "agent/image.h"
#include "boot/boot.h"
#include "boot/ota.h"

#define BFX_HW "flotilla-sim"

struct bfx_image {
	uint8_t *img;
	size_t len;
};

/* Starts the sim board (anonymous flash, @p slot_size per slot), makes the
 * two keys once, and calls boot_init() trusting key 0. */
void bfx_setup(uint32_t slot_size);
void bfx_teardown(void);

/* boot_init() again, as after a reset (static state forgotten). */
void bfx_reboot_init(void);

/* The trusted key (0) or another (1). */
const struct ag_image_pubkey *bfx_pub(int which);

/* A signed image of firmware "version" @p ver for @p slot, @p payload bytes;
 * payloads of nearby versions share most bytes (so deltas are small). */
void bfx_sign(struct bfx_image *out, uint8_t slot, uint8_t ver, uint32_t seccnt, size_t payload,
	      const char *hw_id, int key);
void bfx_free(struct bfx_image *im);

/* Link address of a slot (its flash offset on the sim board). */
uint32_t bfx_slot_addr(uint8_t slot);

/* Writes raw bytes into a slot at 0 (erase + program), as a factory would. */
void bfx_flash_raw(uint8_t slot, const uint8_t *data, size_t len);

/* The whole flash device. */
uint8_t *bfx_flash(uint32_t *ret_size);
/* A slot's bytes. */
const uint8_t *bfx_slot(uint8_t slot);

/* An offer for @p len bytes of @p kind into @p slot. */
struct ag_msg_ota_offer bfx_offer(uint32_t xfer, uint8_t slot, uint8_t kind, uint32_t size,
				  uint32_t image_size);

/* begin (must accept), write from its offset in @p chunk-byte pieces, finish.
 * Returns the first error (begin, write or finish), or 0. */
int bfx_transfer(struct boot_ota *o, const struct ag_msg_ota_offer *of, const uint8_t *data,
		 size_t chunk, uint32_t *ret_resumed_at);

/* A delta patch from @p old to @p nw with 4 KiB blocks (host generator). */
void bfx_delta(const struct bfx_image *old, const struct bfx_image *nw, uint8_t **ret_patch,
	       size_t *ret_len);

#endif
