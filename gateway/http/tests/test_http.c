/* HTTP: path and query errors, and the server over a real socket (routing,
 * methods, bodies, oversized requests). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/http.h"

static void test_query(void **state)
{
	(void)state;
	struct gw_query q;
	gw_query_init(&q);
	assert_int_equal(gw_query_parse(&q, "limit=10&offset=%32&state=online&", 33), 0);
	assert_int_equal(q.limit, 10);
	assert_int_equal(q.offset, 2);
	assert_int_equal(q.state, 1);
	const char *bad[] = {"limit=0", "limit=10001", "limit=-1", "limit=1x", "offset=",
			     "state=up", "nope=1", "limit=%zz", "limit=%3", "limit=%00",
			     "limit=99999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gw_query_init(&q);
		assert_int_equal(gw_query_parse(&q, bad[i], strlen(bad[i])), -EINVAL);
	}
	gw_query_init(&q);
	char many[256] = "";
	for (int i = 0; i < GW_HTTP_QUERY_MAX + 1; i++)
		strcat(many, "limit=1&");
	assert_int_equal(gw_query_parse(&q, many, strlen(many)), -E2BIG);
	char big[GW_HTTP_QUERY_TEXT_MAX + 2];
	memset(big, 'a', sizeof(big));
	gw_query_init(&q);
	assert_int_equal(gw_query_parse(&q, big, sizeof(big)), -E2BIG);
	char longv[100] = "state=";
	memset(longv + 6, 'x', 80);
	longv[86] = 0;
	gw_query_init(&q);
	assert_int_equal(gw_query_parse(&q, longv, strlen(longv)), -E2BIG);
}

static void test_path(void **state)
{
	(void)state;
	assert_int_equal(gw_http_check_path("/metrics", 8), 0);
	assert_int_equal(gw_http_check_path("/api/v1/devices/a.b", 19), 0);
	const char *bad[] = {"", "metrics", "/a//b", "/a/./b", "/a/../b", "/..", "/a b", "/a\x01",
			     "/\xff"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(gw_http_check_path(bad[i], strlen(bad[i])), -EINVAL);
	char longp[GW_HTTP_PATH_MAX + 2];
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	assert_int_equal(gw_http_check_path(longp, sizeof(longp)), -E2BIG);
}

static int hello(void *ctx, const char *rest, const struct gw_query *q, struct gw_http_reply *r)
{
	(void)ctx;
	if (strcmp(rest, "missing") == 0)
		return -ENOENT;
	r->content_type = "text/plain";
	r->len = (size_t)asprintf(&r->body, "rest=%s limit=%u\n", rest, (unsigned)q->limit);
	return 0;
}

static struct gw_loop *loop;
static struct gw_http *srv;

/* Sends a raw request and returns the reply (static buffer). */
static const char *ask(const char *req, size_t len)
{
	static char buf[8192];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(gw_http_port(srv))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	size_t off = 0, got = 0;
	buf[0] = 0;
	for (int i = 0; i < 300; i++) {
		(void)gw_loop_run_once(loop, 5);
		gw_http_tick(srv);
		if (off < len) {
			ssize_t n = write(fd, req + off, len - off);
			if (n > 0)
				off += (size_t)n;
		}
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n > 0) {
			got += (size_t)n;
			buf[got] = 0;
		} else if (n == 0) {
			break;
		}
	}
	close(fd);
	return buf;
}

static void test_server(void **state)
{
	(void)state;
	assert_int_equal(gw_loop_new(&loop), 0);
	assert_int_equal(gw_http_new(loop, "nope", &srv), -EINVAL);
	assert_int_equal(gw_http_new(loop, "127.0.0.1:0", &srv), 0);
	assert_int_equal(gw_http_handle(srv, "/hello", hello, NULL), 0);
	assert_int_equal(gw_http_handle(srv, "/things/", hello, NULL), 0);
	assert_int_equal(gw_http_handle(srv, "rel", hello, NULL), -EINVAL);
	const char *r;
#define ASK(s) ask(s, strlen(s))
	r = ASK("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "200 OK"));
	assert_non_null(strstr(r, "rest= limit=1000"));
	r = ASK("GET /things/abc?limit=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "rest=abc limit=5"));
	r = ASK("GET /things/missing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, " 404 "));
	r = ASK("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, " 404 "));
	r = ASK("GET /hello?limit=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, " 400 "));
	r = ASK("GET /a/../hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_null(strstr(r, " 200 "));
	r = ASK("POST /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nabcd");
	assert_non_null(strstr(r, " 413 "));
	r = ASK("DELETE /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, " 405 "));
	r = ASK("garbage\r\n\r\n");
	assert_null(strstr(r, " 200 "));
	/* headers beyond the connection memory limit */
	size_t big = GW_HTTP_MEM_MAX * 2;
	char *req = malloc(big + 200);
	int n = sprintf(req, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(req + n, 'a', big);
	strcpy(req + n + big, "\r\nConnection: close\r\n\r\n");
	r = ask(req, strlen(req));
	assert_null(strstr(r, " 200 "));
	/* a path over the limit */
	n = sprintf(req, "GET /");
	memset(req + n, 'a', GW_HTTP_PATH_MAX + 10);
	strcpy(req + n + GW_HTTP_PATH_MAX + 10, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	r = ask(req, strlen(req));
	assert_non_null(strstr(r, " 414 "));
	free(req);
	/* still serving */
	r = ASK("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_non_null(strstr(r, "200 OK"));
	uint64_t ok, refused;
	gw_http_stats(srv, &ok, &refused);
	assert_int_equal(ok, 3);
	assert_true(refused >= 7);
	gw_http_free(srv);
	gw_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
