/* The MPU stack guard. Boot 1: a coroutine recurses without ever yielding,
 * so the canary is never checked; the guard must stop it at the bottom of
 * its stack. The memory right below the stack holds a pattern. Boot 2: the
 * crash record names the coroutine and an address in its guard block, and
 * the pattern below the stack is intact: nothing was written past it.
 * Both live in no-init RAM, which survives QEMU's reset. */
#include <stdio.h>
#include <string.h>

#include "agent/err.h"
#include "hal/sys.h"
#include "mps2/board.h"
#include "rt/rt.h"

#define STACK_WORDS 256u
#define BELOW_WORDS 64u
#define PATTERN 0x0b57ac1eu

_Static_assert(RT_PORT_GUARD_BYTES >= 32, "this test needs the MPU guard");

static struct {
	uint32_t below[BELOW_WORDS];
	uint32_t stack[STACK_WORDS];
} mem __attribute__((section(".noinit"), aligned(RT_PORT_STACK_ALIGN)));
_Static_assert(sizeof(mem.below) % RT_PORT_STACK_ALIGN == 0, "stack must stay aligned");

static volatile uint32_t depth;

__attribute__((noinline)) static uint32_t dig(uint32_t n)
{
	volatile uint32_t frame[8];

	frame[0] = n;
	depth = n;
	if (n > 100000u)
		return frame[0];
	return dig(n + 1) + frame[0];
}

static void digger(void *arg)
{
	(void)arg;
	(void)dig(0);
	mps2_semi_puts("FAIL: recursion ended\n");
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
	char line[200];
	(void)mps2_board_init();
	const struct hal_crash *c = hal_last_crash();

	if (hal_reset_reason() == HAL_RESET_POWER_ON) {
		for (unsigned i = 0; i < BELOW_WORDS; i++)
			mem.below[i] = PATTERN;
		mps2_semi_puts("boot 1: recursing without a yield\n");
		rt_init(hal_rt_hooks());
		if (rt_spawn("digger", digger, NULL, 2, mem.stack, sizeof(mem.stack), NULL))
			return fail("spawn");
		(void)rt_run();
		return fail("rt_run returned");
	}
	uintptr_t lo = (uintptr_t)mem.stack;
	snprintf(line, sizeof(line), "boot 2: crash '%s' code %ld addr %08lx (stack %08lx)\n",
		 c ? c->name : "-", c ? (long)c->code : 0L, c ? (unsigned long)c->fault_addr : 0UL,
		 (unsigned long)lo);
	mps2_semi_puts(line);
	if (hal_reset_reason() != HAL_RESET_FAULT)
		return fail("reset reason");
	if (c == NULL || c->code != AG_ESTACK || strcmp(c->name, "digger") != 0 ||
	    c->stack_bytes != sizeof(mem.stack))
		return fail("crash record");
	if (c->fault_addr && (c->fault_addr < lo || c->fault_addr >= lo + RT_PORT_GUARD_BYTES))
		return fail("fault address outside the guard");
	for (unsigned i = 0; i < BELOW_WORDS; i++)
		if (mem.below[i] != PATTERN)
			return fail("memory below the stack was written");
	mps2_semi_puts("PASS\n");
	mps2_semi_exit(0);
}
