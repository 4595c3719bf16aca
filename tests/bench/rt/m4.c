/* Runtime bench on qemu-system-arm -M mps2-an386 -icount shift=0: each
 * instruction is 1 ns of virtual time and CMSDK TIMER0 counts down at
 * 25 MHz, so one timer tick is 40 instructions. Prints `bench:` lines
 * through semihosting. */
#include <stdio.h>

#include "agent/err.h"
#include "mps2/board.h"
#include "rt/rt.h"

#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008u)
/* Which runtime this image links: set by CMake (the board's headers see the
 * device default either way). */
#ifndef RT_BENCH_GUARDED
#define RT_BENCH_GUARDED 0
#endif
#define ROUNDS 100000u
#define INSNS_PER_TICK 40u
#define MANY 1024u
#define MANY_STACK 256u

static char line[128];

static void timer_start(void)
{
	TIMER0_CTRL = 0;
	TIMER0_RELOAD = 0xffffffffu;
	TIMER0_VALUE = 0xffffffffu;
	TIMER0_CTRL = 1u;
}

static uint32_t timer_read(void)
{
	return TIMER0_VALUE;
}

__attribute__((noinline)) static uint32_t empty_loop(void)
{
	uint32_t t0 = timer_read();
	for (uint32_t i = 0; i < ROUNDS; i++)
		__asm__ volatile("" ::: "memory");
	return t0 - timer_read();
}

static uint32_t pp_ticks;

static void ping(void *arg)
{
	(void)arg;
	uint32_t t0 = timer_read();
	for (uint32_t i = 0; i < ROUNDS; i++) {
		__asm__ volatile("" ::: "memory");
		rt_yield();
	}
	pp_ticks = t0 - timer_read();
	rt_stop(0);
}

static void pong(void *arg)
{
	(void)arg;
	for (;;)
		rt_yield();
}

static volatile uint32_t many_count;
static uint32_t many_max_stack;

static void many_body(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		many_count = many_count + 1u;
		rt_yield();
	}
	uint32_t used = rt_stack_used(rt_self());
	if (used > many_max_stack)
		many_max_stack = used;
}

int main(void)
{
	(void)mps2_board_init();
	timer_start();

	/* instructions per switch */
	uint32_t empty = empty_loop();
	rt_init(NULL);
	if (rt_spawn("ping", ping, NULL, 2, NULL, 0, NULL) ||
	    rt_spawn("pong", pong, NULL, 2, NULL, 0, NULL)) {
		mps2_semi_puts("bench: spawn failed\n");
		mps2_semi_exit(1);
	}
	(void)rt_run();
	/* x100 fixed point: (ticks * 40 insns) / (2 switches per round trip) */
	uint64_t x100 = ((uint64_t)(pp_ticks - empty) * INSNS_PER_TICK * 100u) / (2u * ROUNDS);
	snprintf(line, sizeof(line), "bench: %s %lu.%02lu insns\n",
		 RT_BENCH_GUARDED ? "rt_switch_insns_mpu_guard" : "rt_switch_insns",
		 (unsigned long)(x100 / 100u), (unsigned long)(x100 % 100u));
	mps2_semi_puts(line);

	snprintf(line, sizeof(line), "bench: rt_tcb_bytes %u bytes\n", (unsigned)sizeof(struct rt_co));
	mps2_semi_puts(line);

	/* 1024 coroutines on 256-byte stacks */
	rt_init(NULL);
	unsigned spawned = 0;
	while (spawned < MANY && rt_spawn("m", many_body, NULL, 1 + (int)(spawned % 3u), NULL, 0,
					  NULL) == 0)
		spawned++;
	int rc = rt_run();
	int ok = spawned == MANY && rc == 0 && many_count == 10u * MANY &&
		 RT_CFG_STACK_BYTES == MANY_STACK;
	snprintf(line, sizeof(line), "info: %u spawned, rc %d, %lu yields, max stack %lu of %u\n",
		 spawned, rc, (unsigned long)many_count, (unsigned long)many_max_stack,
		 (unsigned)RT_CFG_STACK_BYTES);
	mps2_semi_puts(line);
	snprintf(line, sizeof(line), "bench: rt_1024_coroutines_ok %d bool\n", ok);
	mps2_semi_puts(line);
	mps2_semi_exit(0);
}
