/* Device sessions end to end over a TCP link: a device-side ag_link in the
 * test speaks to the gateway side; hello, heartbeats, refusals. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/err.h"
#include "agent/link.h"
#include "gateway/device.h"
#include "gateway/log.h"

struct peer {
	int fd;
	struct ag_link link;
	struct ag_msg last;
	int n_msgs, n_errors, n_acks;
	int16_t last_err;
};

static int p_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct peer *p = ctx;
	return write(p->fd, buf, len) == (ssize_t)len ? 0 : AG_EIO;
}

static void p_recv(void *ctx, const uint8_t *buf, size_t len)
{
	struct peer *p = ctx;
	if (ag_msg_decode(buf, len, &p->last) != 0)
		return;
	p->n_msgs++;
	if (p->last.type == AG_MSG_ERROR) {
		p->n_errors++;
		p->last_err = p->last.u.error.code;
	}
	if (p->last.type == AG_MSG_HELLO_ACK)
		p->n_acks++;
}

static const struct ag_link_ops p_ops = {p_write, p_recv, NULL};

static struct gw_loop *loop;
static struct gw_transport *tr;
static struct gw_devices *devs;
static struct gw_registry *reg;

static void spin(struct peer *p, int ms)
{
	uint64_t end = gw_now_ms() + (uint64_t)ms;
	while (gw_now_ms() < end) {
		(void)gw_loop_run_once(loop, 5);
		gw_transport_tick(tr, gw_now_ms());
		gw_devices_tick(devs, gw_now_ms());
		uint8_t buf[512];
		ssize_t n;
		while (p && (n = read(p->fd, buf, sizeof(buf))) > 0)
			ag_link_input(&p->link, buf, (size_t)n, (uint32_t)gw_now_ms());
		if (p)
			ag_link_poll(&p->link, (uint32_t)gw_now_ms());
	}
}

static void peer_open(struct peer *p)
{
	memset(p, 0, sizeof(*p));
	p->fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(gw_transport_tcp_port(tr))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	int one = 1;
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	struct ag_link_config lc;
	ag_link_config_default(&lc);
	lc.nonce = 77;
	assert_int_equal(ag_link_init(&p->link, &lc, &p_ops, p), 0);
	assert_int_equal(ag_link_open(&p->link, (uint32_t)gw_now_ms()), 0);
	spin(p, 50);
	assert_true(ag_link_is_up(&p->link));
}

static void send_msg(struct peer *p, const struct ag_msg *m)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(ag_link_send(&p->link, buf, (size_t)n, (uint32_t)gw_now_ms()), 0);
	spin(p, 30);
}

static void send_hello(struct peer *p, const char *id, uint16_t max_frame)
{
	struct ag_msg m;
	memset(&m, 0, sizeof(m));
	m.type = AG_MSG_HELLO;
	m.u.hello.max_frame = max_frame;
	m.u.hello.boot_count = 3;
	m.u.hello.active_slot = 1;
	m.u.hello.slot[1].version = (struct ag_version){2, 0, 1, 9};
	m.u.hello.slot[1].state = AG_SLOT_CONFIRMED;
	snprintf(m.u.hello.device_id, sizeof(m.u.hello.device_id), "%s", id);
	snprintf(m.u.hello.hw_id, sizeof(m.u.hello.hw_id), "hw-test");
	send_msg(p, &m);
}

static void test_sessions(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_gw_device_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char db[128];
	snprintf(db, sizeof(db), "%s/r.db", dir);
	assert_int_equal(gw_loop_new(&loop), 0);
	assert_int_equal(gw_registry_open(db, &reg), 0);
	struct gw_devices_config dc = {7, 200, 0};
	assert_int_equal(gw_devices_new(reg, &dc, &devs), 0);
	struct gw_transport_limits lim = {100, 100000, 100};
	assert_int_equal(gw_transport_new(loop, gw_devices_transport_ops(), devs, &lim, &tr), 0);
	assert_int_equal(gw_transport_listen_tcp(tr, "127.0.0.1:0"), 0);

	struct peer a;
	peer_open(&a);
	/* a heartbeat before hello is refused */
	struct ag_msg hb;
	memset(&hb, 0, sizeof(hb));
	hb.type = AG_MSG_HEARTBEAT;
	hb.u.heartbeat.uptime_s = 5;
	hb.u.heartbeat.crash_count = 2;
	send_msg(&a, &hb);
	assert_int_equal(a.n_errors, 1);
	assert_int_equal(a.last_err, AG_ESTATE);
	/* a bad id and a tiny max_frame are refused */
	send_hello(&a, "bad id!", 256);
	assert_int_equal(a.last_err, AG_EMALFORMED);
	send_hello(&a, "dev-a", 64);
	assert_int_equal(a.n_errors, 3);
	assert_int_equal(gw_registry_count(reg), 0);
	/* hello: negotiated frame size and heartbeat */
	send_hello(&a, "dev-a", 256);
	assert_int_equal(a.n_acks, 1);
	assert_int_equal(a.last.u.hello_ack.max_frame, 200);
	assert_int_equal(a.last.u.hello_ack.heartbeat_s, 7);
	assert_int_equal(gw_devices_online(devs), 1);
	send_msg(&a, &hb);
	struct gw_device *d = gw_registry_get(reg, "dev-a");
	assert_non_null(d);
	assert_int_equal(d->state, GW_DEVICE_ONLINE);
	assert_int_equal(d->heartbeats, 1);
	assert_int_equal(d->crash_count, 2);
	assert_int_equal(d->active_slot, 1);
	assert_string_equal(d->hw_id, "hw-test");
	/* a malformed message and a gateway-only one get an ERROR */
	int errs = a.n_errors;
	uint8_t junk[] = {AG_PROTO_VERSION, AG_MSG_HEARTBEAT, 1};
	assert_int_equal(ag_link_send(&a.link, junk, sizeof(junk), (uint32_t)gw_now_ms()), 0);
	spin(&a, 30);
	assert_int_equal(a.n_errors, errs + 1);
	assert_int_equal(a.last_err, AG_ETRUNC);
	struct ag_msg act;
	memset(&act, 0, sizeof(act));
	act.type = AG_MSG_ACTIVATE;
	send_msg(&a, &act);
	assert_int_equal(a.last_err, AG_ETYPE);
	struct ag_msg ack;
	memset(&ack, 0, sizeof(ack));
	ack.type = AG_MSG_OTA_ACK;
	send_msg(&a, &ack);
	assert_int_equal(a.last_err, AG_ESTATE);
	/* raw garbage on the stream: dropped, counted, the link lives */
	assert_int_equal(write(a.fd, "\x00garbage\x00\x01\x02\x00", 12), 12);
	spin(&a, 30);
	send_msg(&a, &hb);
	assert_int_equal(d->heartbeats, 2);

	/* the same device on a new link replaces the old one */
	struct peer b;
	peer_open(&b);
	send_hello(&b, "dev-a", 256);
	assert_int_equal(b.n_acks, 1);
	spin(&b, 150);
	assert_int_equal(gw_devices_online(devs), 1);
	assert_int_equal(gw_transport_links(tr, GW_TRANSPORT_TCP), 1);
	assert_ptr_equal(gw_devices_session(devs, "dev-a"), d->live);

	/* metrics and the API */
	struct gw_metrics *m;
	assert_int_equal(gw_metrics_new(&m), 0);
	assert_int_equal(gw_metrics_add(m, "devices", gw_devices_collect, devs), 0);
	char *text;
	size_t len;
	assert_int_equal(gw_metrics_render(m, &text, &len), 0);
	assert_non_null(strstr(text, "flotilla_gateway_devices{state=\"online\"} 1\n"));
	assert_non_null(strstr(text, "flotilla_gateway_heartbeats_total 2\n"));
	assert_non_null(strstr(text, "flotilla_gateway_release_devices{release=\"2.0.1+9\",state=\"online\"} 1\n"));
	assert_non_null(strstr(text, "flotilla_gateway_frame_errors_total{transport=\"tcp\",reason=\"garbage\"}"));
	assert_null(strstr(text, "dev-a"));
	free(text);
	gw_metrics_free(m);
	struct gw_query q;
	gw_query_init(&q);
	struct gw_http_reply rep = {0};
	assert_int_equal(gw_devices_api_one(devs, "dev-a", &q, &rep), 0);
	assert_non_null(strstr(rep.body, "\"id\":\"dev-a\""));
	assert_non_null(strstr(rep.body, "\"state\":\"online\""));
	free(rep.body);
	assert_int_equal(gw_devices_api_one(devs, "nope", &q, &rep), -ENOENT);
	assert_int_equal(gw_devices_api_one(devs, "bad/id", &q, &rep), -EINVAL);
	rep.body = NULL;
	q.state = 0;
	assert_int_equal(gw_devices_api_list(devs, "", &q, &rep), 0);
	assert_non_null(strstr(rep.body, "\"total\":0"));
	free(rep.body);

	close(a.fd);
	close(b.fd);
	spin(NULL, 50);
	assert_int_equal(gw_devices_online(devs), 0);
	assert_int_equal(d->state, GW_DEVICE_OFFLINE);
	gw_transport_free(tr);
	gw_devices_free(devs);
	gw_registry_close(reg);
	gw_loop_free(loop);
	assert_true(gw_device_id_valid("a.b_c:d-E9", 10));
	assert_false(gw_device_id_valid("", 0));
	assert_false(gw_device_id_valid("123456789012345678901234567890123", 33));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_sessions)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
