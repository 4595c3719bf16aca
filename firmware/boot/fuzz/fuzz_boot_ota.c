/* libFuzzer: hostile transfers into OTA storage. Each input is a full image
 * or a delta patch (raw, or a valid one with bytes flipped), fed in chunks
 * of an input-chosen size into slot B of a device running a confirmed slot
 * A. Whatever happens: nothing outside slot B changes, the device still
 * boots A unless B was accepted, and B is accepted only if it verifies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot_fixture.h"
#include "hal/flash.h"

#define SLOT_SIZE (64u * 1024u)

static struct bfx_image a1, b2;
static uint8_t *patch, *base, *buf;
static size_t patch_len;
static uint32_t flash_size;
static struct boot_ota ota;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bfx_setup(SLOT_SIZE);
	bfx_sign(&a1, 0, 1, 5, 8192, BFX_HW, 0);
	bfx_sign(&b2, 1, 2, 6, 8192, BFX_HW, 0);
	bfx_delta(&a1, &b2, &patch, &patch_len);
	bfx_flash_raw(0, a1.img, a1.len);
	struct boot_decision d;
	if (boot_select(BOOT_RESET_NORMAL, &d) != 0 || d.slot != 0)
		abort();
	uint8_t *f = bfx_flash(&flash_size);
	base = malloc(flash_size);
	buf = malloc(SLOT_SIZE * 2);
	memcpy(base, f, flash_size);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	uint8_t *f = bfx_flash(NULL);
	memcpy(f, base, flash_size);
	bfx_reboot_init();

	int mode = data[0] & 3;
	size_t chunk = 1u + data[1];
	data += 2;
	size -= 2;
	const uint8_t *src = data;
	size_t len = size;
	uint32_t image_size;
	if (mode == 2 || mode == 3) {
		/* a valid transfer with input bytes xor'ed in at input-chosen places */
		const uint8_t *good = mode == 2 ? b2.img : patch;
		len = mode == 2 ? b2.len : patch_len;
		memcpy(buf, good, len);
		for (size_t i = 0; i + 3 <= size; i += 3) {
			size_t at = ((size_t)data[i] << 8 | data[i + 1]) % len;
			buf[at] ^= data[i + 2];
		}
		src = buf;
	}
	int full = mode == 0 || mode == 2;
	image_size = full ? (uint32_t)len : (uint32_t)b2.len;
	if (len > SLOT_SIZE * 2 || len == 0)
		return 0;

	struct ag_msg_ota_offer of =
		bfx_offer(1, 1, full ? AG_OTA_FULL : AG_OTA_DELTA, (uint32_t)len, image_size);
	if (boot_ota_init(&ota, 0) != 0)
		abort();
	int rc = bfx_transfer(&ota, &of, src, chunk, NULL);

	uint32_t b_off = bfx_slot_addr(1);
	if (memcmp(f, base, b_off) != 0 ||
	    memcmp(f + b_off + SLOT_SIZE, base + b_off + SLOT_SIZE, flash_size - b_off - SLOT_SIZE))
		abort(); /* wrote outside the target slot */
	struct boot_trailer t;
	if (boot_read_trailer(1, &t) != 0)
		abort();
	if (rc == 0) {
		if (t.state != BOOT_STATE_PENDING || boot_verify_slot(1, NULL) != 0)
			abort();
	} else if (t.state == BOOT_STATE_PENDING) {
		abort(); /* refused, yet bootable */
	}
	struct boot_decision d;
	if (boot_select(BOOT_RESET_NORMAL, &d) != 0)
		abort();
	if (rc != 0 && d.slot != 0)
		abort();
	return 0;
}
