/* The suite's interrupt source on Linux (the host and the aarch64 port under
 * qemu-user): a POSIX interval timer's signal. */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/time.h>

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
