/* flash_area_* over a RAM device: bounds, alignment, NOR semantics, XIP,
 * and the hook's cut and tear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/err.h"
#include "hal/flash.h"

#define SECTOR 1024u
static uint8_t mem[16 * SECTOR];
static const struct flash_area areas[FLASH_AREA_COUNT] = {
	{FLASH_AREA_BOOTLOADER, 0, 0, 0, 4 * SECTOR},
	{FLASH_AREA_SLOT_A, 0, 0, 4 * SECTOR, 6 * SECTOR},
	{FLASH_AREA_SLOT_B, 0, 0, 10 * SECTOR, 6 * SECTOR},
};
static int hook_at, hook_mode, ops, cuts;

static int hook(void *ctx, int op, uint32_t off, uint32_t len)
{
	(void)ctx;
	(void)op;
	(void)off;
	(void)len;
	return ++ops == hook_at ? hook_mode : HAL_FLASH_DO;
}

static void cut(void *ctx)
{
	(void)ctx;
	cuts++;
}

static struct hal_flash_dev dev = {mem, sizeof(mem), SECTOR, 8, 0xff, areas, hook, cut, NULL};

static int setup(void **state)
{
	(void)state;
	memset(mem, 0xff, sizeof(mem));
	hook_at = hook_mode = ops = cuts = 0;
	return hal_flash_register(&dev);
}

static void test_open_bounds(void **state)
{
	(void)state;
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(FLASH_AREA_COUNT, &fa), AG_ENOENT);
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_B, &fa), 0);
	assert_int_equal(fa->fa_off, 10 * SECTOR);
	assert_int_equal(flash_area_align(fa), 8);
	assert_int_equal(flash_area_erased_val(fa), 0xff);
	assert_int_equal(flash_area_sector_size(fa), SECTOR);
	uint8_t b[16];
	assert_int_equal(flash_area_read(fa, 6 * SECTOR - 8, b, 8), 0);
	assert_int_equal(flash_area_read(fa, 6 * SECTOR - 8, b, 9), AG_EINVAL);
	assert_int_equal(flash_area_read(fa, 0xffffffffu, b, 2), AG_EINVAL);
	assert_int_equal(flash_area_write(fa, 4, b, 8), AG_EINVAL);   /* misaligned */
	assert_int_equal(flash_area_write(fa, 8, b, 12), AG_EINVAL);  /* partial unit */
	assert_int_equal(flash_area_erase(fa, 512, SECTOR), AG_EINVAL);
	assert_int_equal(flash_area_erase(fa, 0, 7 * SECTOR), AG_EINVAL);
	flash_area_close(fa);
}

static void test_nor_semantics(void **state)
{
	(void)state;
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_A, &fa), 0);
	uint8_t a[8] = {0x0f, 0xf0, 1, 2, 3, 4, 5, 6}, b[8], back[8];
	assert_int_equal(flash_area_write(fa, 16, a, 8), 0);
	const uint8_t *x = flash_area_xip(fa);
	assert_non_null(x);
	assert_memory_equal(x + 16, a, 8);
	/* clearing more bits is fine; setting one is not */
	memcpy(b, a, 8);
	b[0] = 0x0e;
	assert_int_equal(flash_area_write(fa, 16, b, 8), 0);
	b[1] = 0xff;
	assert_int_equal(flash_area_write(fa, 16, b, 8), AG_EFLASH);
	assert_int_equal(flash_area_read(fa, 16, back, 8), 0);
	assert_int_equal(back[1], 0xf0);
	assert_int_equal(flash_area_erase(fa, 0, SECTOR), 0);
	assert_int_equal(flash_area_read(fa, 16, back, 8), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(back[i], 0xff);
	/* areas do not overlap: slot B untouched */
	assert_int_equal(mem[10 * SECTOR], 0xff);
}

static void test_cut_and_tear(void **state)
{
	(void)state;
	const struct flash_area *fa;
	uint8_t z[64];
	memset(z, 0, sizeof(z));
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_A, &fa), 0);
	hook_at = 1;
	hook_mode = HAL_FLASH_CUT;
	assert_int_equal(flash_area_write(fa, 0, z, 64), AG_EIO);
	assert_int_equal(cuts, 1);
	assert_int_equal(mem[4 * SECTOR], 0xff); /* nothing written */
	hook_at = 2;
	hook_mode = HAL_FLASH_TEAR;
	assert_int_equal(flash_area_write(fa, 0, z, 64), AG_EIO);
	assert_int_equal(cuts, 2);
	assert_int_equal(mem[4 * SECTOR + 31], 0x00);
	assert_int_equal(mem[4 * SECTOR + 32], 0xff);
	hook_at = 3;
	assert_int_equal(flash_area_erase(fa, 0, 2 * SECTOR), AG_EIO);
	assert_int_equal(mem[4 * SECTOR + 0], 0xff);          /* first half erased */
	memset(mem + 5 * SECTOR, 0x11, SECTOR);
	hook_at = 4;
	assert_int_equal(flash_area_erase(fa, 0, 2 * SECTOR), AG_EIO);
	assert_int_equal(mem[5 * SECTOR], 0x11);              /* second half kept */
	assert_int_equal(ops, 4);
}

static void test_register_checks(void **state)
{
	(void)state;
	struct hal_flash_dev bad = dev;
	bad.align = 3;
	assert_int_equal(hal_flash_register(&bad), AG_EINVAL);
	bad = dev;
	bad.size = 8 * SECTOR; /* slot B beyond the end */
	assert_int_equal(hal_flash_register(&bad), AG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_bounds, setup),
		cmocka_unit_test_setup(test_nor_semantics, setup),
		cmocka_unit_test_setup(test_cut_and_tear, setup),
		cmocka_unit_test_setup(test_register_checks, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
