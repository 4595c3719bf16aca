#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/delta.h"
#include "agent/image_sign.h"
#include "boot_fixture.h"
#include "delta_gen_internal.h"
#include "hal/flash.h"
#include "sim/board.h"

static struct ag_image_key *keys[2];
static struct ag_image_pubkey pubs[2];

const struct ag_image_pubkey *bfx_pub(int which)
{
	return &pubs[which];
}

uint32_t bfx_slot_addr(uint8_t slot)
{
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(slot == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa), 0);
	return fa->fa_off;
}

void bfx_reboot_init(void)
{
	struct boot_config c;
	memset(&c, 0, sizeof(c));
	c.key = &pubs[0];
	c.hw_id = BFX_HW;
	c.slot_addr[0] = bfx_slot_addr(0);
	c.slot_addr[1] = bfx_slot_addr(1);
	assert_int_equal(boot_init(&c), 0);
}

void bfx_setup(uint32_t slot_size)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.slot_size = slot_size;
	cfg.uart = SIM_UART_NONE;
	cfg.no_tick = 1;
	cfg.no_reexec = 1;
	assert_int_equal(sim_board_init(&cfg), 0);
	for (int i = 0; i < 2; i++) {
		if (!keys[i]) {
			assert_int_equal(ag_image_key_generate(&keys[i]), 0);
			assert_int_equal(ag_image_key_public(keys[i], &pubs[i]), 0);
		}
	}
	bfx_reboot_init();
}

void bfx_teardown(void)
{
	sim_board_done();
}

void bfx_sign(struct bfx_image *out, uint8_t slot, uint8_t ver, uint32_t seccnt, size_t payload,
	      const char *hw_id, int key)
{
	uint8_t *p = malloc(payload);
	assert_non_null(p);
	/* Code-like bytes; a version changes a few scattered runs. */
	uint32_t x = 12345;
	for (size_t i = 0; i < payload; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 24);
		if (i % 64 == 0)
			x = (uint32_t)(i / 64) * 2654435761u;
	}
	for (size_t i = 0; i < payload; i += 997)
		for (size_t k = 0; k < 8 && i + k < payload; k++)
			p[i + k] = (uint8_t)(p[i + k] + ver * 7u + (uint8_t)k);
	struct ag_image_params prm;
	memset(&prm, 0, sizeof(prm));
	prm.version.major = 1;
	prm.version.minor = ver;
	prm.version.build = ver;
	prm.hw_id = hw_id;
	prm.load_addr = bfx_slot_addr(slot);
	prm.security_counter = seccnt;
	assert_int_equal(ag_image_sign(p, payload, &prm, keys[key], &out->img, &out->len), 0);
	free(p);
}

void bfx_free(struct bfx_image *im)
{
	free(im->img);
	im->img = NULL;
}

uint8_t *bfx_flash(uint32_t *ret_size)
{
	return sim_flash_mem(ret_size);
}

const uint8_t *bfx_slot(uint8_t slot)
{
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(slot == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa), 0);
	return flash_area_xip(fa);
}

void bfx_flash_raw(uint8_t slot, const uint8_t *data, size_t len)
{
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(slot == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa), 0);
	uint32_t sec = flash_area_sector_size(fa);
	uint32_t n = (uint32_t)((len + sec - 1) / sec * sec);
	assert_int_equal(flash_area_erase(fa, 0, n), 0);
	uint8_t *buf = malloc(n);
	memset(buf, 0xff, n);
	memcpy(buf, data, len);
	assert_int_equal(flash_area_write(fa, 0, buf, n), 0);
	free(buf);
}

struct ag_msg_ota_offer bfx_offer(uint32_t xfer, uint8_t slot, uint8_t kind, uint32_t size,
				  uint32_t image_size)
{
	struct ag_msg_ota_offer of;
	memset(&of, 0, sizeof(of));
	of.xfer = xfer;
	of.slot = slot;
	of.kind = kind;
	of.size = size;
	of.image_size = image_size;
	of.chunk_max = 200;
	return of;
}

int bfx_transfer(struct boot_ota *o, const struct ag_msg_ota_offer *of, const uint8_t *data,
		 size_t chunk, uint32_t *ret_resumed_at)
{
	uint32_t off = 0;
	int rc = boot_ota_begin(o, of, &off);
	if (rc)
		return rc;
	if (ret_resumed_at)
		*ret_resumed_at = off;
	while (off < of->size) {
		size_t n = of->size - off < chunk ? of->size - off : chunk;
		rc = boot_ota_write(o, off, data + off, n);
		if (rc)
			return rc;
		off += (uint32_t)n;
	}
	return boot_ota_finish(o, of->size);
}

void bfx_delta(const struct bfx_image *old, const struct bfx_image *nw, uint8_t **ret_patch,
	       size_t *ret_len)
{
	assert_int_equal(ag__delta_generate_ex(old->img, old->len, nw->img, nw->len, NULL, 12,
					       ret_patch, ret_len),
			 0);
}
