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
	char line[200];
	int failed = 0;
	(void)mps2_board_init();
	snprintf(line, sizeof(line), "1..%u\n", t_ncases);
	mps2_semi_puts(line);
	for (unsigned i = 0; i < t_ncases; i++) {
		t_reset();
		t_rt_init();
		t_cases[i].fn();
		if (t_fail_expr || t_faults) {
			failed++;
			snprintf(line, sizeof(line), "not ok %u - %s # %s:%d: %s\n", i + 1,
				 t_cases[i].name, t_fail_file ? t_fail_file : "?", t_fail_line,
				 t_fail_expr ? t_fail_expr : "unexpected fault");
		} else {
			snprintf(line, sizeof(line), "ok %u - %s\n", i + 1, t_cases[i].name);
		}
		mps2_semi_puts(line);
	}
	mps2_semi_exit(failed);
}
