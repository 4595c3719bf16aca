/* The sim board's UARTs: the link (pty, TCP client or an inherited fd) with
 * SIGIO as its receive interrupt, and the log on stderr. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "agent/err.h"
#include "hal/uart.h"
#include "sim_internal.h"

static struct {
	int fd;            /* -1 when down */
	int slave_fd;      /* pty: held open so the master never sees a hangup */
	uint8_t kind;
	char pty[64];
	char host[64];
	uint16_t port;
	struct rt_event *ev;
	uint32_t mask;
	uint8_t rx[HAL_UART_RX_BUF];
	volatile uint32_t head, tail; /* written by the handler, the reader */
	volatile uint32_t dropped;
	volatile int stalled;         /* the buffer filled; data left in the fd */
	volatile int hangup;
	time_t last_try;
} ln = {.fd = -1, .slave_fd = -1};

static int set_async(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK | O_ASYNC) < 0 ||
	    fcntl(fd, F_SETOWN, getpid()) < 0)
		return -1;
	return 0;
}

/* Called with SIGIO blocked or from its handler: moves what the fd has
 * into the ring, as much as fits. */
static void drain(void)
{
	if (ln.fd < 0)
		return;
	int got_any = 0;
	for (;;) {
		uint32_t head = ln.head, tail = __atomic_load_n(&ln.tail, __ATOMIC_ACQUIRE);
		uint32_t space = HAL_UART_RX_BUF - (head - tail);
		if (space == 0) {
			ln.stalled = 1;
			break;
		}
		uint32_t at = head % HAL_UART_RX_BUF;
		uint32_t run = HAL_UART_RX_BUF - at < space ? HAL_UART_RX_BUF - at : space;
		ssize_t n = read(ln.fd, ln.rx + at, run);
		if (n > 0) {
			__atomic_store_n(&ln.head, head + (uint32_t)n, __ATOMIC_RELEASE);
			got_any = 1;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK))
			ln.hangup = 1;
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if ((got_any || ln.hangup) && ln.ev)
		rt_event_set(ln.ev, ln.mask);
}

void sim__uart_sigio(void)
{
	int saved = errno;
	drain();
	errno = saved;
}

static int open_pty(const struct sim_config *cfg)
{
	const char *inherit = getenv("FLOTILLA_SIM_PTY_FD");
	int fd = inherit ? atoi(inherit) : -1;
	if (fd < 0 || fcntl(fd, F_GETFD) < 0) {
		fd = posix_openpt(O_RDWR | O_NOCTTY);
		if (fd < 0 || grantpt(fd) < 0 || unlockpt(fd) < 0) {
			fprintf(stderr, "sim: cannot open a pty: %s\n", strerror(errno));
			return AG_EIO;
		}
	}
	const char *name = ptsname(fd);
	if (name == NULL)
		return AG_EIO;
	snprintf(ln.pty, sizeof(ln.pty), "%s", name);
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	ln.slave_fd = open(ln.pty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (ln.slave_fd >= 0 && tcgetattr(ln.slave_fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(ln.slave_fd, TCSANOW, &t);
	}
	if (cfg->pty_link) {
		unlink(cfg->pty_link);
		if (symlink(ln.pty, cfg->pty_link) < 0)
			fprintf(stderr, "sim: cannot link %s: %s\n", cfg->pty_link,
				strerror(errno));
	}
	fprintf(stderr, "sim: uart on %s\n", ln.pty);
	/* Kept across a reset (re-exec) so the peer's pty stays valid. */
	char v[16];
	snprintf(v, sizeof(v), "%d", fd);
	setenv("FLOTILLA_SIM_PTY_FD", v, 1);
	ln.fd = fd;
	return 0;
}

static int tcp_connect(void)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(ln.port);
	if (inet_pton(AF_INET, ln.host, &sa.sin_addr) != 1)
		return AG_EINVAL;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return AG_EIO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return AG_EIO;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ln.hangup = 0;
	ln.fd = fd;
	if (set_async(fd) < 0)
		return AG_EIO;
	return 0;
}

int sim__uart_init(const struct sim_config *cfg)
{
	ln.kind = cfg->uart;
	ln.head = ln.tail = 0;
	ln.hangup = 0;
	switch (cfg->uart) {
	case SIM_UART_NONE:
		return 0;
	case SIM_UART_PTY:
		return open_pty(cfg);
	case SIM_UART_FD:
		ln.fd = cfg->uart_fd;
		return fcntl(ln.fd, F_GETFD) < 0 ? AG_EINVAL : 0;
	case SIM_UART_TCP:
		snprintf(ln.host, sizeof(ln.host), "%s",
			 cfg->tcp_host ? cfg->tcp_host : "127.0.0.1");
		ln.port = cfg->tcp_port;
		/* The gateway may come up after us: keep trying for a while. */
		for (int i = 0; i < 50; i++) {
			if (tcp_connect() == 0)
				return 0;
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		fprintf(stderr, "sim: cannot connect to %s:%u\n", ln.host, ln.port);
		ln.last_try = time(NULL);
		return 0; /* down; hal_uart_write retries */
	default:
		return AG_EINVAL;
	}
}

void sim__uart_done(void)
{
	if (ln.fd >= 0 && ln.kind != SIM_UART_FD)
		close(ln.fd);
	if (ln.slave_fd >= 0)
		close(ln.slave_fd);
	ln.fd = ln.slave_fd = -1;
	ln.ev = NULL;
	ln.pty[0] = 0;
	unsetenv("FLOTILLA_SIM_PTY_FD");
}

const char *sim_uart_pty_name(void)
{
	return ln.pty[0] ? ln.pty : NULL;
}

int hal_uart_start(unsigned id, struct rt_event *ev, uint32_t mask)
{
	if (id == HAL_UART_LOG)
		return 0;
	if (id != HAL_UART_LINK)
		return AG_ENOENT;
	ln.ev = ev;
	ln.mask = mask;
	if (ln.fd >= 0 && set_async(ln.fd) < 0)
		return AG_EIO;
	sim__uart_sigio(); /* bytes that came before the handler was armed */
	return 0;
}

int hal_uart_read(unsigned id, void *buf, size_t cap)
{
	if (id == HAL_UART_LOG)
		return 0;
	if (id != HAL_UART_LINK)
		return AG_ENOENT;
	uint32_t head = __atomic_load_n(&ln.head, __ATOMIC_ACQUIRE), tail = ln.tail;
	size_t n = 0;
	uint8_t *out = buf;
	while (n < cap && tail != head) {
		out[n++] = ln.rx[tail % HAL_UART_RX_BUF];
		tail++;
	}
	__atomic_store_n(&ln.tail, tail, __ATOMIC_RELEASE);
	if (ln.stalled) {
		/* The handler left bytes in the fd for want of room; no new
		 * SIGIO may come for them, so fetch them now. */
		sigset_t set, old;
		sim__sigset(&set);
		sigprocmask(SIG_BLOCK, &set, &old);
		ln.stalled = 0;
		drain();
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	return (int)n;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = {fd, POLLOUT, 0};
			if (poll(&pfd, 1, 1000) <= 0 && errno != EINTR)
				return AG_EIO;
			continue;
		}
		return AG_EIO;
	}
	return 0;
}

int hal_uart_write(unsigned id, const void *buf, size_t len)
{
	if (id == HAL_UART_LOG)
		return write_all(2, buf, len);
	if (id != HAL_UART_LINK)
		return AG_ENOENT;
	if (ln.kind == SIM_UART_NONE)
		return 0;
	if (ln.kind == SIM_UART_TCP && (ln.fd < 0 || ln.hangup)) {
		if (ln.fd >= 0) {
			close(ln.fd);
			ln.fd = -1;
		}
		time_t now = time(NULL);
		if (now == ln.last_try || tcp_connect() != 0) {
			ln.last_try = now;
			return AG_EIO;
		}
	}
	if (ln.fd < 0)
		return AG_EIO;
	return write_all(ln.fd, buf, len);
}

uint32_t hal_uart_rx_dropped(unsigned id)
{
	return id == HAL_UART_LINK ? ln.dropped : 0;
}
