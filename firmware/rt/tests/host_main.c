/* Host runner of the runtime suite: each case is a cmocka test. The
 * interrupt source is a POSIX interval timer's signal. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "suite.h"

static void (*irq_fn)(void);

static void on_alarm(int sig)
{
	(void)sig;
	if (irq_fn)
		irq_fn();
}

void t_plat_irq_start(void (*fn)(void), unsigned period_us)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	irq_fn = fn;
	struct itimerval it = {{0, (suseconds_t)period_us}, {0, (suseconds_t)period_us}};
	setitimer(ITIMER_REAL, &it, NULL);
}

void t_plat_irq_stop(void)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	irq_fn = NULL;
}

void t_plat_irq_wait(void)
{
	/* Block the signal, re-check, then wait with it unblocked atomically:
	 * a signal between the check and the wait is not lost. */
	sigset_t block, old;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (!rt_busy())
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void run_case(void **state)
{
	const struct t_case *c = *state;
	t_reset();
	t_rt_init();
	c->fn();
	if (t_faults)
		print_error("unexpected fault: %s in '%s'\n", "stack", t_last_fault.name);
	if (t_fail_expr)
		print_error("%s:%d: check failed: %s\n", t_fail_file, t_fail_line, t_fail_expr);
	assert_null(t_fail_expr);
	assert_int_equal(t_faults, 0);
}

int main(void)
{
	struct CMUnitTest *tests = calloc(t_ncases, sizeof(*tests));
	if (tests == NULL)
		return 1;
	for (unsigned i = 0; i < t_ncases; i++) {
		tests[i].name = t_cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)(uintptr_t)&t_cases[i];
	}
	int rc = _cmocka_run_group_tests("rt", tests, t_ncases, NULL, NULL);
	free(tests);
	return rc;
}
