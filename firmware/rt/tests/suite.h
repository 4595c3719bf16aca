/* The runtime's test suite, shared by the host runner (cmocka) and the
 * QEMU runner (semihosting). Tests record failures instead of aborting, so
 * a check may fail inside a coroutine. */
#ifndef RT_TEST_SUITE_H
#define RT_TEST_SUITE_H

#include <stdbool.h>

#include "rt/rt.h"

struct t_case {
	const char *name;
	void (*fn)(void);
};

extern const struct t_case t_cases[];
extern const unsigned t_ncases;

/* First failure of the current case. */
extern const char *t_fail_expr;
extern const char *t_fail_file;
extern int t_fail_line;

void t_fail(const char *file, int line, const char *expr);
void t_reset(void);

#define T_CHECK(c)                                                                   \
	do {                                                                         \
		if (!(c))                                                            \
			t_fail(__FILE__, __LINE__, #c);                              \
	} while (0)
#define T_EQ(a, b) T_CHECK((long long)(a) == (long long)(b))

/* The runtime hooks every case gets: virtual time (idle jumps the tick to
 * the next deadline), deadlock stops the run, faults are recorded. */
void t_rt_init(void);
extern struct rt_fault t_last_fault;
extern int t_faults;

/* Provided by each runner: an asynchronous interrupt source (a POSIX timer
 * signal on the host, CMSDK TIMER1 on the MPS2) calling @fn every
 * @period_us; and a real wait for it, used by the idle hook while it runs. */
void t_plat_irq_start(void (*fn)(void), unsigned period_us);
void t_plat_irq_stop(void);
void t_plat_irq_wait(void);
/* Runs every case, printing TAP lines through @p out; returns the number of
 * failed cases. For runners without cmocka (QEMU, qemu-user). */
int t_run_tap(void (*out)(const char *line));

/* Largest stack the platform needs for a coroutine of the suite. */
#define T_STACK_BYTES (RT_CFG_STACK_BYTES)

#endif
