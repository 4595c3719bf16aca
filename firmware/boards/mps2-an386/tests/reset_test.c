/* Boot 1: write a pattern to slot B through flash_area, overflow a
 * coroutine's stack on purpose; the board's fatal hook records it and
 * resets. Boot 2: the crash record, the reason and slot B must all have
 * survived QEMU's reset. Exit status through semihosting. */
#include <stdio.h>
#include <string.h>

#include "agent/err.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "mps2/board.h"
#include "rt/rt.h"

static const uint8_t pattern[16] = "slot B survives";

RT_STACK_DEFINE(victim_stack, 1024);

__attribute__((noinline)) static void smash_bottom(void)
{
	volatile uint32_t *lo = rt_self()->stack;
	volatile uint32_t here = 0;
	uintptr_t end = (uintptr_t)&here - 32u; /* leave this frame alone */
	for (volatile uint32_t *p = lo; (uintptr_t)p < end; p++)
		*p = 0x5eedf00du;
}

static void victim(void *arg)
{
	(void)arg;
	smash_bottom();
	rt_yield(); /* the canary check at this switch stops the board */
	mps2_semi_puts("FAIL: overflow not detected\n");
	mps2_semi_exit(1);
}

static int fail(const char *why)
{
	mps2_semi_puts("FAIL: ");
	mps2_semi_puts(why);
	mps2_semi_puts("\n");
	mps2_semi_exit(1);
}

int main(void)
{
	char line[160];
	(void)mps2_board_init();
	const struct flash_area *fa;
	if (flash_area_open(FLASH_AREA_SLOT_B, &fa) != 0)
		return fail("open slot B");
	const struct hal_crash *c = hal_last_crash();
	if (hal_reset_reason() == HAL_RESET_POWER_ON) {
		if (c != NULL)
			return fail("crash record at power-on");
		if (flash_area_erase(fa, 0, flash_area_sector_size(fa)) != 0 ||
		    flash_area_write(fa, 0, pattern, sizeof(pattern)) != 0)
			return fail("write slot B");
		mps2_semi_puts("boot 1: overflowing a stack\n");
		rt_init(hal_rt_hooks());
		if (rt_spawn("victim", victim, NULL, 2, victim_stack, sizeof(victim_stack), NULL))
			return fail("spawn");
		(void)hal_tick_start();
		(void)rt_run();
		return fail("rt_run returned");
	}
	snprintf(line, sizeof(line), "boot 2: reason %d, crash '%s' code %ld depth %lu\n",
		 (int)hal_reset_reason(), c ? c->name : "-", c ? (long)c->code : 0L,
		 c ? (unsigned long)c->depth_bytes : 0UL);
	mps2_semi_puts(line);
	if (hal_reset_reason() != HAL_RESET_FAULT)
		return fail("reset reason");
	if (c == NULL || c->code != AG_ESTACK || strcmp(c->name, "victim") != 0 ||
	    c->stack_bytes != sizeof(victim_stack) || c->depth_bytes < sizeof(victim_stack) ||
	    c->count != 1)
		return fail("crash record");
	if (memcmp(flash_area_xip(fa), pattern, sizeof(pattern)) != 0)
		return fail("slot B lost across reset");
	mps2_semi_puts("PASS\n");
	mps2_semi_exit(0);
}
