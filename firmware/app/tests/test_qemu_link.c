/* The QEMU link test: the Cortex-M4 firmware (a chain stub at 0x0 and the
 * app linked for slot A) runs under qemu-system-arm -M mps2-an386 with its
 * UART0 on a pty; this endpoint opens the pty and expects hello, then
 * heartbeats, over the agent protocol.
 *   test_app_qemu_link QEMU CHAIN_ELF APP_ELF
 * Fails (does not skip) when an image is missing: tests/run.sh builds the
 * cortex-m4 preset first. QEMU dies with this process (PDEATHSIG) and is
 * killed on every exit path. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "link_peer.h"

static pid_t qemu = -1;

static void stop_qemu(void)
{
	if (qemu > 0) {
		kill(qemu, SIGKILL);
		waitpid(qemu, NULL, 0);
		qemu = -1;
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL: overall timeout\n";
	(void)!write(2, msg, sizeof(msg) - 1);
	if (qemu > 0)
		kill(qemu, SIGKILL);
	_exit(1);
}

__attribute__((format(printf, 1, 2))) static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	stop_qemu();
	return 1;
}

/* QEMU says "char device redirected to /dev/pts/N (label serial0)". */
static int find_pty(int out, char *pty, size_t cap)
{
	char buf[4096];
	size_t len = 0;
	time_t end = time(NULL) + 15;
	while (time(NULL) < end && len < sizeof(buf) - 1) {
		struct pollfd pfd = {out, POLLIN, 0};
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		ssize_t n = read(out, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		char *p = strstr(buf, "/dev/pts/");
		if (p) {
			size_t k = strspn(p + 9, "0123456789");
			if (k > 0 && p[9 + k] != 0) {
				if (9 + k >= cap)
					return -1;
				memcpy(pty, p, 9 + k);
				pty[9 + k] = 0;
				return 0;
			}
		}
	}
	fprintf(stderr, "qemu said: %.*s\n", (int)len, buf);
	return -1;
}

int main(int argc, char **argv)
{
	/* With "signed", APP is a signed image (app_a.img) that the board copies
	 * into slot A at power-on and LOADER is firmware/boot's bootloader,
	 * which verifies it and starts it. */
	int signed_img = argc == 5 && strcmp(argv[4], "signed") == 0;
	if (argc != 4 && !signed_img) {
		fprintf(stderr, "usage: %s QEMU CHAIN_ELF APP_ELF | QEMU BOOT_ELF APP_IMG signed\n",
			argv[0]);
		return 2;
	}
	struct stat st;
	for (int i = 2; i < 4; i++) {
		if (stat(argv[i], &st) != 0)
			return fail("firmware image %s is missing: build the cortex-m4 preset "
				    "first (tests/run.sh does), or set FLOTILLA_M4_BUILD_DIR",
				    argv[i]);
	}
	signal(SIGALRM, on_alarm);
	alarm(45);

	int pipefd[2];
	if (pipe(pipefd) != 0)
		return fail("pipe: %s", strerror(errno));
	char loader[4200];
	if (signed_img)
		snprintf(loader, sizeof(loader), "loader,file=%s,addr=0x21000000,force-raw=on",
			 argv[3]);
	else
		snprintf(loader, sizeof(loader), "loader,file=%s", argv[3]);
	qemu = fork();
	if (qemu < 0)
		return fail("fork: %s", strerror(errno));
	if (qemu == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(pipefd[1]);
		execl(argv[1], argv[1], "-M", "mps2-an386", "-nographic", "-monitor", "none",
		      "-serial", "pty", "-serial", "null", "-kernel", argv[2], "-device", loader,
		      (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	char pty[64];
	if (find_pty(pipefd[0], pty, sizeof(pty)) != 0)
		return fail("%s", "no pty from qemu");
	fprintf(stderr, "firmware UART on %s\n", pty);
	int fd = open(pty, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail("open pty: %s", strerror(errno));
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	struct peer_result r;
	int rc = peer_run(fd, 2, 30000, &r);
	close(fd);
	stop_qemu();
	close(pipefd[0]);
	fprintf(stderr, "hello %d (device '%s', hw '%s', slot %u), heartbeats %d (uptime %u..%u s), "
			"stacks %u, telemetry %d, errors %d\n",
		r.hello, r.first.device_id, r.first.hw_id, r.first.active_slot, r.heartbeats,
		r.first_uptime, r.last_uptime, r.n_stacks, r.telemetry, r.errors);
	if (rc != 0)
		return fail("%s", rc == -ETIMEDOUT ? "timed out waiting for hello and heartbeats"
						   : "link I/O failed");
	if (r.hello < 1 || strcmp(r.first.device_id, "mps2-0001") != 0 ||
	    strcmp(r.first.hw_id, "mps2-an386") != 0 || r.first.active_slot != 0)
		return fail("%s", "bad hello");
	if (r.heartbeats < 2 || r.last_uptime <= r.first_uptime || r.n_stacks < 4 || r.errors)
		return fail("%s", "bad heartbeats");
	fprintf(stderr, "PASS\n");
	return 0;
}
