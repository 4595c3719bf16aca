/* QEMU runner of the runtime suite on the MPS2-AN386: TAP lines and the
 * exit status through semihosting; CMSDK TIMER1 is the interrupt source. */
#include <stdio.h>

#include "mps2/board.h"
#include "suite.h"

static volatile int waiting;

void t_plat_irq_start(void (*fn)(void), unsigned period_us)
{
	mps2_timer1_start(fn, period_us);
}

void t_plat_irq_stop(void)
{
	mps2_timer1_start(NULL, 0);
}

void t_plat_irq_wait(void)
{
	__asm__ volatile("cpsid i" ::: "memory");
	if (!rt_busy())
		__asm__ volatile("wfi" ::: "memory");
	__asm__ volatile("cpsie i" ::: "memory");
}

int main(void)
{
	(void)mps2_board_init();
	mps2_semi_exit(t_run_tap(mps2_semi_puts));
}
