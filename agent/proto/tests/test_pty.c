/*
 * Two endpoints over a real pty pair (openpty, raw mode) move 1 MiB each way
 * through the kernel's tty layer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/link.h"

#define TOTAL (1024u * 1024u)

struct end {
	int fd;
	struct ag_link link;
	uint32_t sent_bytes, got_bytes, next_in, next_out;
	int bad;
};

static uint32_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static int fd_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct end *e = ctx;

	while (len) {
		ssize_t n = write(e->fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = e->fd, .events = POLLOUT };
			if (poll(&p, 1, 100) <= 0)
				return -1; /* lost frame: the link retransmits */
			continue;
		}
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint8_t byte_at(uint32_t off)
{
	return (uint8_t)((off * 31u) ^ (off >> 9));
}

static void on_recv(void *ctx, const uint8_t *msg, size_t len)
{
	struct end *e = ctx;

	if (len < 4 || ag_get_le32(msg) != e->next_in) {
		e->bad++;
		return;
	}
	e->next_in++;
	for (size_t i = 4; i < len; i++)
		if (msg[i] != byte_at(e->got_bytes + (uint32_t)(i - 4)))
			e->bad++;
	e->got_bytes += (uint32_t)(len - 4);
}

static const struct ag_link_ops ops = { .write = fd_write, .recv = on_recv };

static void pump(struct end *e)
{
	uint8_t buf[AG_LINK_MSG_MAX];

	while (e->sent_bytes < TOTAL && ag_link_send_space(&e->link)) {
		size_t room = ag_link_msg_max(&e->link) - 4;
		size_t n = TOTAL - e->sent_bytes < room ? TOTAL - e->sent_bytes : room;

		ag_put_le32(buf, e->next_out);
		for (size_t i = 0; i < n; i++)
			buf[4 + i] = byte_at(e->sent_bytes + (uint32_t)i);
		assert_int_equal(ag_link_send(&e->link, buf, n + 4, now_ms()), 0);
		e->next_out++;
		e->sent_bytes += (uint32_t)n;
	}
}

static void test_pty_one_mib_each_way(void **state)
{
	(void)state;
	static struct end e[2];
	struct ag_link_config cfg;
	struct termios tio;
	int master, slave;

	assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
	assert_int_equal(tcgetattr(slave, &tio), 0);
	cfmakeraw(&tio);
	assert_int_equal(tcsetattr(slave, TCSANOW, &tio), 0);
	memset(e, 0, sizeof(e));
	e[0].fd = master;
	e[1].fd = slave;
	ag_link_config_default(&cfg);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fcntl(e[i].fd, F_SETFL, O_NONBLOCK), 0);
		cfg.nonce = 100u + (uint32_t)i;
		assert_int_equal(ag_link_init(&e[i].link, &cfg, &ops, &e[i]), 0);
		ag_link_open(&e[i].link, now_ms());
	}

	uint32_t start = now_ms();
	while (e[0].got_bytes < TOTAL || e[1].got_bytes < TOTAL) {
		struct pollfd p[2] = { { .fd = master, .events = POLLIN }, { .fd = slave, .events = POLLIN } };
		uint32_t wait = 100;

		assert_true(now_ms() - start < 60000);
		for (int i = 0; i < 2; i++) {
			uint32_t t = ag_link_poll(&e[i].link, now_ms());
			if (t < wait)
				wait = t;
			if (ag_link_is_up(&e[i].link))
				pump(&e[i]);
		}
		if (poll(p, 2, (int)wait) < 0)
			assert_int_equal(errno, EINTR);
		for (int i = 0; i < 2; i++) {
			uint8_t buf[4096];
			ssize_t n;

			if (!(p[i].revents & POLLIN))
				continue;
			while ((n = read(e[i].fd, buf, sizeof(buf))) > 0)
				ag_link_input(&e[i].link, buf, (size_t)n, now_ms());
		}
	}
	printf("pty: 2 x %u bytes in %u ms; retransmits %u/%u, crc errors %u/%u\n", TOTAL,
	       now_ms() - start, e[0].link.stats.retransmits, e[1].link.stats.retransmits,
	       e[0].link.stats.err_crc, e[1].link.stats.err_crc);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(e[i].bad, 0);
		assert_int_equal(e[i].got_bytes, TOTAL);
	}
	close(master);
	close(slave);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pty_one_mib_each_way),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
