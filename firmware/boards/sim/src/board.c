/* The sim board: configuration, signals as interrupts, the tick, idle,
 * watchdog, reset by re-exec, and the runtime hooks. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "agent/err.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "hal/uart.h"
#include "sim_internal.h"

static struct {
	struct timespec t0;
	rt_tick_t announced;
	volatile uint32_t wdt_timeout_ms, wdt_fed_ms;
	enum hal_reset_reason reason;
	struct hal_crash crash;
	int have_crash;
	int no_reexec;
	int ticking;
	char **argv;
} sb;

static char *saved_argv[64];

void sim_config_default(struct sim_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->slot_size = SIM_FLASH_SLOT_SIZE;
	cfg->uart = SIM_UART_NONE;
	cfg->uart_fd = -1;
}

static int parse_uart(struct sim_config *cfg, const char *v)
{
	if (strcmp(v, "none") == 0) {
		cfg->uart = SIM_UART_NONE;
	} else if (strcmp(v, "pty") == 0) {
		cfg->uart = SIM_UART_PTY;
	} else if (strncmp(v, "pty:", 4) == 0) {
		cfg->uart = SIM_UART_PTY;
		cfg->pty_link = v + 4;
	} else if (strncmp(v, "fd:", 3) == 0) {
		cfg->uart = SIM_UART_FD;
		cfg->uart_fd = atoi(v + 3);
	} else if (strncmp(v, "tcp:", 4) == 0) {
		/* tcp:PORT or tcp:HOST:PORT */
		static char host[64];
		const char *colon = strrchr(v + 4, ':');
		const char *port = colon ? colon + 1 : v + 4;
		char *end;
		unsigned long p = strtoul(port, &end, 10);
		if (*port == 0 || *end || p == 0 || p > 65535)
			return AG_EINVAL;
		cfg->uart = SIM_UART_TCP;
		cfg->tcp_port = (uint16_t)p;
		if (colon) {
			size_t n = (size_t)(colon - (v + 4));
			if (n == 0 || n >= sizeof(host))
				return AG_EINVAL;
			memcpy(host, v + 4, n);
			host[n] = 0;
			cfg->tcp_host = host;
		}
	} else {
		return AG_EINVAL;
	}
	return 0;
}

static int parse_u32(const char *v, uint32_t *ret)
{
	char *end;
	unsigned long long x = strtoull(v, &end, 0);
	if (*v == 0 || *end || x > 0xffffffffull)
		return AG_EINVAL;
	*ret = (uint32_t)x;
	return 0;
}

int sim_config_args(struct sim_config *cfg, int *argc, char **argv)
{
	/* Remember the full command line for reset (re-exec). */
	int n = *argc < 63 ? *argc : 63;
	for (int i = 0; i < n; i++)
		saved_argv[i] = argv[i];
	saved_argv[n] = NULL;
	sb.argv = saved_argv;

	int out = 1;
	for (int i = 1; i < *argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < *argc ? argv[i + 1] : NULL;
		int rc = 0, used = 1;
		if (strcmp(a, "--flash") == 0 && v) {
			cfg->flash_path = v;
		} else if (strcmp(a, "--slot-size") == 0 && v) {
			rc = parse_u32(v, &cfg->slot_size);
		} else if (strcmp(a, "--uart") == 0 && v) {
			rc = parse_uart(cfg, v);
		} else if (strcmp(a, "--cut-at") == 0 && v) {
			rc = parse_u32(v, &cfg->cut_at);
		} else if (strcmp(a, "--cut-mode") == 0 && v) {
			if (strcmp(v, "before") == 0)
				cfg->cut_mode = SIM_CUT_BEFORE;
			else if (strcmp(v, "tear") == 0)
				cfg->cut_mode = SIM_CUT_TEAR;
			else
				rc = AG_EINVAL;
		} else if (strcmp(a, "--no-tick") == 0) {
			cfg->no_tick = 1;
			used = 0;
		} else {
			argv[out++] = argv[i];
			continue;
		}
		if (rc) {
			fprintf(stderr, "sim: bad value for %s\n", a);
			return AG_EINVAL;
		}
		i += used;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

static uint32_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	int64_t ms = (int64_t)(ts.tv_sec - sb.t0.tv_sec) * 1000 +
		     (ts.tv_nsec - sb.t0.tv_nsec) / 1000000;
	return (uint32_t)ms;
}

uint32_t hal_clock_ms(void)
{
	return now_ms();
}

void sim__sigset(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGALRM);
	sigaddset(set, SIGIO);
}

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	uint32_t ms = now_ms();
	rt_tick_t ticks = (rt_tick_t)((uint64_t)ms * RT_CFG_TICK_HZ / 1000u);
	if (ticks != sb.announced) {
		rt_tick_t d = ticks - sb.announced;
		sb.announced = ticks;
		rt_tick_announce(d);
	}
	if (sb.wdt_timeout_ms && ms - sb.wdt_fed_ms > sb.wdt_timeout_ms) {
		static const char msg[] = "sim: watchdog reset\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		if (sb.no_reexec)
			_exit(SIM_WDT_EXIT);
		sim__reexec("watchdog");
	}
	errno = saved;
}

static void on_io(int sig)
{
	(void)sig;
	sim__uart_sigio();
}

static void sim_idle(void)
{
	sigset_t set, old;
	sim__sigset(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	/* A signal after this check stays pending until sigsuspend. */
	if (!rt_busy())
		sigsuspend(&old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void sim_fatal(const struct rt_fault *f)
{
	char msg[160];
	snprintf(msg, sizeof(msg),
		 "FATAL %s: coroutine '%s' stack %u bytes, went %u bytes deep\n",
		 f->code == AG_ESTACK ? "stack overflow" : ag_strerror(f->code), f->name,
		 (unsigned)f->stack_bytes, (unsigned)f->depth_bytes);
	hal_log(msg);
	char v[96];
	snprintf(v, sizeof(v), "%d,%u,%u,%u,%.15s", f->code, (unsigned)f->stack_bytes,
		 (unsigned)f->depth_bytes, sb.crash.count + 1u, f->name);
	setenv("FLOTILLA_SIM_CRASH", v, 1);
	if (sb.no_reexec)
		_exit(SIM_CUT_EXIT + 2);
	sim__reexec("fault");
}

static const struct rt_hooks hooks = {sim_idle, sim_fatal};

const struct rt_hooks *hal_rt_hooks(void)
{
	return &hooks;
}

void sim__reexec(const char *reason)
{
	setenv("FLOTILLA_SIM_RESET", reason, 1);
	if (sb.argv && sb.argv[0]) {
		sigset_t set;
		sim__sigset(&set);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		/* Started by the sim bootloader (firmware/boot), this process is a
		 * slot's payload run from a memfd: a reset goes back through the
		 * loader, which picks the slot again. */
		const char *loader = getenv("FLOTILLA_SIM_BOOTLOADER");
		execv(loader && *loader ? loader : "/proc/self/exe", sb.argv);
	}
	_exit(SIM_WDT_EXIT);
}

void hal_reset(void)
{
	if (sb.no_reexec)
		exit(0);
	sim__reexec("software");
}

enum hal_reset_reason hal_reset_reason(void)
{
	return sb.reason;
}

const struct hal_crash *hal_last_crash(void)
{
	return sb.have_crash ? &sb.crash : NULL;
}

void hal_crash_clear(void)
{
	sb.have_crash = 0;
	unsetenv("FLOTILLA_SIM_CRASH");
}

int hal_wdt_start(uint32_t timeout_ms)
{
	if (timeout_ms == 0)
		return AG_EINVAL;
	sb.wdt_fed_ms = now_ms();
	sb.wdt_timeout_ms = timeout_ms;
	return 0;
}

void hal_wdt_feed(void)
{
	sb.wdt_fed_ms = now_ms();
}

void hal_log(const char *msg)
{
	(void)hal_uart_write(HAL_UART_LOG, msg, strlen(msg));
}

int hal_tick_start(void)
{
	struct itimerval it = {{0, 1000}, {0, 1000}};
	if (setitimer(ITIMER_REAL, &it, NULL) < 0)
		return AG_EIO;
	sb.ticking = 1;
	return 0;
}

static void read_reset_env(void)
{
	const char *r = getenv("FLOTILLA_SIM_RESET");
	sb.reason = HAL_RESET_POWER_ON;
	if (r && strcmp(r, "software") == 0)
		sb.reason = HAL_RESET_SOFTWARE;
	else if (r && strcmp(r, "watchdog") == 0)
		sb.reason = HAL_RESET_WATCHDOG;
	else if (r && strcmp(r, "fault") == 0)
		sb.reason = HAL_RESET_FAULT;
	unsetenv("FLOTILLA_SIM_RESET");
	const char *c = getenv("FLOTILLA_SIM_CRASH");
	memset(&sb.crash, 0, sizeof(sb.crash));
	sb.have_crash = 0;
	int code;
	unsigned stack, depth, count, pos = 0;
	if (c && sscanf(c, "%d,%u,%u,%u,%n", &code, &stack, &depth, &count, (int *)&pos) == 4 &&
	    pos > 0) {
		sb.crash.magic = HAL_CRASH_MAGIC;
		sb.crash.code = code;
		sb.crash.stack_bytes = stack;
		sb.crash.depth_bytes = depth;
		sb.crash.count = count;
		snprintf(sb.crash.name, sizeof(sb.crash.name), "%s", c + pos);
		sb.have_crash = 1;
	}
}

int sim_board_init(const struct sim_config *cfg)
{
	clock_gettime(CLOCK_MONOTONIC, &sb.t0);
	sb.announced = 0;
	sb.wdt_timeout_ms = 0;
	sb.no_reexec = cfg->no_reexec;
	read_reset_env();
	int rc = sim__flash_init(cfg);
	if (rc)
		return rc;
	rc = sim__uart_init(cfg);
	if (rc) {
		sim__flash_done();
		return rc;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGALRM);
	sigaddset(&sa.sa_mask, SIGIO);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_io;
	sigaction(SIGIO, &sa, NULL);
	if (!cfg->no_tick && hal_tick_start() != 0)
		return AG_EIO;
	return 0;
}

void sim_board_done(void)
{
	struct itimerval it;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_DFL);
	signal(SIGIO, SIG_IGN);
	sim__uart_done();
	sim__flash_done();
	sb.wdt_timeout_ms = 0;
}
