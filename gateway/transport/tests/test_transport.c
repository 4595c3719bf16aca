/* Transport: TCP accept, input, output, the per-link rate limit, a pty the
 * gateway creates, and a serial port that comes back after going away. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/transport.h"

struct rec {
	int opened, closed;
	size_t in;
	struct gw_conn *last;
};

static void *on_open(void *ctx, struct gw_conn *c)
{
	struct rec *r = ctx;
	r->opened++;
	r->last = c;
	return r;
}

static void on_input(void *lctx, const uint8_t *buf, size_t len)
{
	(void)buf;
	((struct rec *)lctx)->in += len;
}

static void on_closed(void *lctx, int reason)
{
	(void)reason;
	((struct rec *)lctx)->closed++;
}

static const struct gw_transport_ops ops = {on_open, on_input, on_closed};

static void spin(struct gw_loop *l, struct gw_transport *t, int ms)
{
	uint64_t end = gw_now_ms() + (uint64_t)ms;
	while (gw_now_ms() < end) {
		(void)gw_loop_run_once(l, 10);
		gw_transport_tick(t, gw_now_ms());
	}
}

static int connect_to(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void test_tcp(void **state)
{
	(void)state;
	struct gw_loop *l;
	struct gw_transport *t;
	struct rec r = {0};
	struct gw_transport_limits lim = {2, 1000, 50};
	assert_int_equal(gw_loop_new(&l), 0);
	assert_int_equal(gw_transport_new(l, &ops, &r, &lim, &t), 0);
	assert_int_equal(gw_transport_listen_tcp(t, "bogus"), -EINVAL);
	assert_int_equal(gw_transport_listen_tcp(t, "127.0.0.1:0"), 0);
	uint16_t port = gw_transport_tcp_port(t);
	assert_true(port > 0);
	int a = connect_to(port);
	spin(l, t, 50);
	assert_int_equal(r.opened, 1);
	assert_int_equal(gw_transport_links(t, GW_TRANSPORT_TCP), 1);
	assert_int_equal(gw_conn_write(r.last, (const uint8_t *)"hi", 2), 0);
	char b[8];
	assert_int_equal(read(a, b, sizeof(b)), 2);
	/* flood: 5000 bytes against a 1000 B/s limit */
	char big[5000];
	memset(big, 'x', sizeof(big));
	assert_int_equal(write(a, big, sizeof(big)), (ssize_t)sizeof(big));
	spin(l, t, 100);
	assert_true(r.in >= 1000 && r.in < 1300);
	const struct gw_transport_stats *st = gw_transport_get_stats(t, GW_TRANSPORT_TCP);
	assert_int_equal(st->bytes_in, 5000);
	assert_true(st->bytes_dropped_in >= 3700);
	/* over max_links: the third is refused */
	int b2 = connect_to(port);
	int c3 = connect_to(port);
	spin(l, t, 50);
	assert_int_equal(r.opened, 2);
	assert_int_equal(st->refused, 1);
	/* output over the buffer limit is refused whole */
	uint8_t *huge = calloc(1, GW_CONN_OUT_MAX + 1);
	assert_int_equal(gw_conn_write(r.last, huge, GW_CONN_OUT_MAX + 1), -ENOBUFS);
	free(huge);
	close(a);
	spin(l, t, 50);
	assert_int_equal(r.closed, 1);
	close(b2);
	close(c3);
	gw_transport_free(t);
	assert_int_equal(r.closed, 2);
	gw_loop_free(l);
}

static void test_pty_and_serial(void **state)
{
	(void)state;
	struct gw_loop *l;
	struct gw_transport *t;
	struct rec r = {0};
	struct gw_transport_limits lim = {8, 100000, 50};
	char link[] = "/tmp/test_gw_pty_XXXXXX";
	int tmpfd = mkstemp(link);
	close(tmpfd);
	unlink(link);
	assert_int_equal(gw_loop_new(&l), 0);
	assert_int_equal(gw_transport_new(l, &ops, &r, &lim, &t), 0);
	assert_int_equal(gw_transport_add_pty(t, link), 0);
	assert_int_equal(gw_transport_add_pty(t, link), -EEXIST);
	assert_int_equal(r.opened, 1);
	int dev = open(link, O_RDWR | O_NOCTTY);
	assert_true(dev >= 0);
	assert_int_equal(write(dev, "abc", 3), 3);
	spin(l, t, 50);
	assert_int_equal(r.in, 3);
	/* the device hangs up and comes back: the link stays */
	close(dev);
	spin(l, t, 50);
	assert_int_equal(r.closed, 0);

	/* a serial port on the pty's slave path; then it disappears */
	struct rec r2 = {0};
	struct gw_transport *t2;
	assert_int_equal(gw_transport_new(l, &ops, &r2, &lim, &t2), 0);
	assert_int_equal(gw_transport_add_serial(t2, "/nonexistent/tty", 115200), 0);
	assert_int_equal(r2.opened, 0);
	assert_int_equal(gw_transport_add_serial(t2, link, 9600), 0);
	assert_int_equal(r2.opened, 1);
	assert_int_equal(gw_conn_write(r2.last, (const uint8_t *)"zz", 2), 0);
	spin(l, t, 50);
	assert_int_equal(r.in, 5);
	assert_int_equal(gw_transport_remove_port(t, link), 0); /* the pty goes away */
	spin(l, t2, 100);
	assert_int_equal(r2.closed, 1);
	assert_int_equal(gw_transport_remove_port(t2, "/x"), -ENOENT);
	gw_transport_free(t2);
	gw_transport_free(t);
	gw_loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_pty_and_serial),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
