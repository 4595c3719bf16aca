/* The sim board: flash persistence, power cuts (before, torn, process
 * exit), the pty and TCP UARTs with SIGIO as the receive interrupt, real
 * ticks, and the watchdog. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/err.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "hal/uart.h"
#include "rt/event.h"
#include "rt/rt.h"
#include "sim/board.h"

static char path[64];

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/flotilla-sim-test-%d.flash", (int)getpid());
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sim_board_done();
	unlink(path);
	return 0;
}

static void init_flash(uint32_t cut_at, int mode)
{
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.flash_path = path;
	cfg.slot_size = 64 * 1024;
	cfg.cut_at = cut_at;
	cfg.cut_mode = (uint8_t)mode;
	cfg.no_tick = 1;
	cfg.no_reexec = 1;
	assert_int_equal(sim_board_init(&cfg), 0);
}

static void test_flash_persists(void **state)
{
	(void)state;
	init_flash(0, 0);
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_B, &fa), 0);
	assert_int_equal(fa->fa_size, 64 * 1024);
	const uint8_t *x = flash_area_xip(fa);
	assert_int_equal(x[0], 0xff); /* a new file reads erased */
	uint8_t msg[16] = "persist me.....";
	assert_int_equal(flash_area_write(fa, 4096, msg, 16), 0);
	assert_int_equal(sim_flash_ops(), 1);
	sim_board_done();
	init_flash(0, 0);
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_B, &fa), 0);
	assert_memory_equal(flash_area_xip(fa) + 4096, msg, 16);
	assert_int_equal(sim_flash_ops(), 0);
}

static jmp_buf cut_jmp;
static int cut_calls;

static void on_cut(void *arg)
{
	(void)arg;
	cut_calls++;
	longjmp(cut_jmp, 1);
}

static void test_cut_before_and_tear(void **state)
{
	(void)state;
	init_flash(0, 0);
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_A, &fa), 0);
	uint8_t z[32];
	memset(z, 0, sizeof(z));
	const uint8_t *x = flash_area_xip(fa);
	volatile int step = 0;
	sim_flash_cut(2, SIM_CUT_BEFORE, on_cut, NULL);
	if (setjmp(cut_jmp) == 0) {
		step = 1;
		assert_int_equal(flash_area_write(fa, 0, z, 32), 0);
		step = 2;
		(void)flash_area_write(fa, 32, z, 32);
		step = 3;
	}
	assert_int_equal(step, 2);
	assert_int_equal(cut_calls, 1);
	assert_int_equal(x[31], 0x00);
	assert_int_equal(x[32], 0xff); /* the cut write never happened */

	sim_flash_cut(1, SIM_CUT_TEAR, on_cut, NULL);
	if (setjmp(cut_jmp) == 0)
		(void)flash_area_write(fa, 64, z, 32);
	assert_int_equal(x[64 + 15], 0x00); /* first half programmed */
	assert_int_equal(x[64 + 16], 0xff);

	sim_flash_cut(1, SIM_CUT_TEAR, on_cut, NULL);
	if (setjmp(cut_jmp) == 0)
		(void)flash_area_erase(fa, 0, 2 * SIM_FLASH_SECTOR);
	assert_int_equal(x[0], 0xff); /* first sector erased ... */
	assert_int_equal(cut_calls, 3);
	assert_int_equal(sim_flash_ops(), 4);
}

static void test_cut_exits_process(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		init_flash(2, SIM_CUT_TEAR);
		const struct flash_area *fa;
		uint8_t z[64];
		memset(z, 0, sizeof(z));
		if (flash_area_open(FLASH_AREA_SLOT_A, &fa) != 0 ||
		    flash_area_write(fa, 0, z, 64) != 0)
			_exit(1);
		(void)flash_area_write(fa, 64, z, 64); /* torn: the process ends here */
		_exit(2);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), SIM_CUT_EXIT);
	init_flash(0, 0);
	const struct flash_area *fa;
	assert_int_equal(flash_area_open(FLASH_AREA_SLOT_A, &fa), 0);
	const uint8_t *x = flash_area_xip(fa);
	assert_int_equal(x[63], 0x00);
	assert_int_equal(x[64 + 31], 0x00);
	assert_int_equal(x[64 + 32], 0xff);
}

/* ---- UART: a peer on the other end, an echo coroutine on the board ---- */

static struct rt_event rx_ev;
static int peer_fd = -1;
static char echoed[64];
static size_t echoed_len;

static void echo_co(void *arg)
{
	(void)arg;
	assert_int_equal(hal_uart_start(HAL_UART_LINK, &rx_ev, 1), 0);
	char buf[64];
	size_t have = 0;
	while (have < 5) {
		int rc = rt_event_wait(&rx_ev, 1, RT_EVENT_ANY | RT_EVENT_CLEAR, RT_MS_TO_TICKS(3000),
				       NULL);
		if (rc == AG_ETIMEDOUT)
			break;
		int n = hal_uart_read(HAL_UART_LINK, buf + have, sizeof(buf) - have);
		assert_true(n >= 0);
		have += (size_t)n;
	}
	assert_int_equal(have, 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(hal_uart_write(HAL_UART_LINK, "world", 5), 0);
}

static void peer_co(void *arg)
{
	(void)arg;
	rt_sleep_ms(5);
	assert_int_equal(write(peer_fd, "hel", 3), 3);
	rt_sleep_ms(5);
	assert_int_equal(write(peer_fd, "lo", 2), 2);
	/* read the echo, polling the non-blocking fd between sleeps */
	for (int i = 0; i < 300 && echoed_len < 5; i++) {
		ssize_t n = read(peer_fd, echoed + echoed_len, sizeof(echoed) - echoed_len);
		if (n > 0)
			echoed_len += (size_t)n;
		else
			rt_sleep_ms(10);
	}
}

static void run_echo(void)
{
	echoed_len = 0;
	rt_event_init(&rx_ev);
	rt_init(hal_rt_hooks());
	assert_int_equal(rt_spawn("echo", echo_co, NULL, 3, NULL, 0, NULL), 0);
	assert_int_equal(rt_spawn("peer", peer_co, NULL, 2, NULL, 0, NULL), 0);
	assert_int_equal(rt_run(), 0);
	assert_int_equal(echoed_len, 5);
	assert_memory_equal(echoed, "world", 5);
}

static void test_uart_pty(void **state)
{
	(void)state;
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.uart = SIM_UART_PTY;
	cfg.no_reexec = 1;
	assert_int_equal(sim_board_init(&cfg), 0);
	const char *name = sim_uart_pty_name();
	assert_non_null(name);
	assert_true(strncmp(name, "/dev/pts/", 9) == 0);
	peer_fd = open(name, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(peer_fd >= 0);
	run_echo();
	close(peer_fd);
}

static void test_uart_tcp(void **state)
{
	(void)state;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	socklen_t sl = sizeof(sa);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	char arg[32];
	snprintf(arg, sizeof(arg), "tcp:127.0.0.1:%u", ntohs(sa.sin_port));
	char *argv[] = {"prog", "--uart", arg, "keep", NULL};
	int argc = 4;
	struct sim_config cfg;
	sim_config_default(&cfg);
	assert_int_equal(sim_config_args(&cfg, &argc, argv), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[1], "keep");
	cfg.no_reexec = 1;
	assert_int_equal(sim_board_init(&cfg), 0);
	peer_fd = accept(ls, NULL, NULL);
	assert_true(peer_fd >= 0);
	fcntl(peer_fd, F_SETFL, O_NONBLOCK);
	run_echo();
	close(peer_fd);
	close(ls);
}

static void test_args_errors(void **state)
{
	(void)state;
	struct sim_config cfg;
	sim_config_default(&cfg);
	char *a1[] = {"p", "--uart", "tcp:host:99999", NULL};
	int n = 3;
	assert_int_equal(sim_config_args(&cfg, &n, a1), AG_EINVAL);
	char *a2[] = {"p", "--cut-mode", "sideways", NULL};
	n = 3;
	assert_int_equal(sim_config_args(&cfg, &n, a2), AG_EINVAL);
	char *a3[] = {"p", "--uart", "serial", NULL};
	n = 3;
	assert_int_equal(sim_config_args(&cfg, &n, a3), AG_EINVAL);
	char *a4[] = {"p", "--flash", "/tmp/x", "--cut-at", "7", "--cut-mode", "tear", NULL};
	n = 7;
	assert_int_equal(sim_config_args(&cfg, &n, a4), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cfg.cut_at, 7);
	assert_int_equal(cfg.cut_mode, SIM_CUT_TEAR);
	assert_string_equal(cfg.flash_path, "/tmp/x");
}

/* ---- real time ---- */

static uint32_t slept_ms;

static void sleeper(void *arg)
{
	(void)arg;
	uint32_t t0 = hal_clock_ms();
	rt_sleep_ms(30);
	slept_ms = hal_clock_ms() - t0;
}

static void test_ticks_real_time(void **state)
{
	(void)state;
	struct sim_config cfg;
	sim_config_default(&cfg);
	cfg.no_reexec = 1;
	assert_int_equal(sim_board_init(&cfg), 0);
	rt_init(hal_rt_hooks());
	assert_int_equal(rt_spawn("sleep", sleeper, NULL, 2, NULL, 0, NULL), 0);
	assert_int_equal(rt_run(), 0);
	assert_true(slept_ms >= 29);
	assert_true(slept_ms < 1000);
	assert_int_equal(hal_reset_reason(), HAL_RESET_POWER_ON);
	assert_null(hal_last_crash());
}

static void test_watchdog(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sim_config cfg;
		sim_config_default(&cfg);
		cfg.no_reexec = 1;
		if (sim_board_init(&cfg) != 0 || hal_wdt_start(50) != 0)
			_exit(1);
		for (int i = 0; i < 100; i++) {
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
			if (i < 10)
				hal_wdt_feed(); /* fed for 100 ms, then starved */
		}
		_exit(2);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), SIM_WDT_EXIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flash_persists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_before_and_tear, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_exits_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_pty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_tcp, setup, teardown),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test_setup_teardown(test_ticks_real_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
