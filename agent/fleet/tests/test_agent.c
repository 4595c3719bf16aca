#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/err.h"

/* A lossless in-memory line between the agent and a test gateway built from
 * ag_link and the message codec. */
struct pipe {
	uint8_t buf[1 << 16];
	size_t len;
};

static struct pipe to_gw, to_dev;
static struct ag_agent A;
static struct ag_link G;
static uint32_t now;

/* What the gateway received, decoded. */
static struct ag_msg got[256];
static unsigned ngot;

/* What the device's callbacks saw. */
static uint8_t store[8192];
static uint32_t stored, resume_at;
static int begin_rc, finish_rc, activate_rc, aborted, activated_slot = -1, rebooted;
static uint32_t finished_size;

static int pipe_write(struct pipe *p, const uint8_t *b, size_t n)
{
	assert_true(p->len + n <= sizeof(p->buf));
	memcpy(p->buf + p->len, b, n);
	p->len += n;
	return 0;
}

static int dev_write(void *ctx, const uint8_t *b, size_t n)
{
	(void)ctx;
	return pipe_write(&to_gw, b, n);
}

static int gw_write(void *ctx, const uint8_t *b, size_t n)
{
	(void)ctx;
	return pipe_write(&to_dev, b, n);
}

static void gw_recv(void *ctx, const uint8_t *b, size_t n)
{
	(void)ctx;
	assert_true(ngot < 256);
	assert_int_equal(ag_msg_decode(b, n, &got[ngot]), 0);
	ngot++;
}

static void dev_slots(void *ctx, struct ag_slot_info s[2], uint8_t *active)
{
	(void)ctx;
	memset(s, 0, 2 * sizeof(*s));
	s[0].version.major = 1;
	s[0].version.build = 7;
	s[0].state = AG_SLOT_CONFIRMED;
	*active = 0;
}

static void dev_health(void *ctx, struct ag_msg_heartbeat *hb)
{
	(void)ctx;
	hb->crash_count = 2;
	hb->n_stacks = 1;
	hb->stacks[0].used = 300;
	hb->stacks[0].size = 1024;
}

static int dev_begin(void *ctx, const struct ag_msg_ota_offer *o, uint32_t *ret_off)
{
	(void)ctx;
	(void)o;
	if (begin_rc)
		return begin_rc;
	stored = resume_at;
	*ret_off = resume_at;
	return 0;
}

static int dev_write_ota(void *ctx, uint32_t off, const uint8_t *d, size_t n)
{
	(void)ctx;
	assert_int_equal(off, stored); /* in order, no gaps */
	assert_true(off + n <= sizeof(store));
	memcpy(store + off, d, n);
	stored += (uint32_t)n;
	return 0;
}

static int dev_finish(void *ctx, uint32_t size)
{
	(void)ctx;
	finished_size = size;
	return finish_rc;
}

static void dev_abort(void *ctx, int reason)
{
	(void)ctx;
	aborted = reason ? reason : 1;
}

static int dev_activate(void *ctx, uint8_t slot, bool permanent)
{
	(void)ctx;
	(void)permanent;
	if (activate_rc)
		return activate_rc;
	activated_slot = slot;
	return 0;
}

static void dev_reboot(void *ctx, uint32_t delay)
{
	(void)ctx;
	(void)delay;
	rebooted++;
}

static const struct ag_agent_ops dev_ops = {
	.write = dev_write, .slots = dev_slots, .health = dev_health,
	.ota_begin = dev_begin, .ota_write = dev_write_ota, .ota_finish = dev_finish,
	.ota_abort = dev_abort, .activate = dev_activate, .reboot = dev_reboot,
};
static const struct ag_link_ops gw_ops = { .write = gw_write, .recv = gw_recv };

/* Moves bytes both ways and runs timers until the line is quiet. */
static void settle(void)
{
	for (int i = 0; i < 100; i++) {
		struct pipe a = to_gw, b = to_dev;

		if (!to_gw.len && !to_dev.len)
			break;
		to_gw.len = to_dev.len = 0;
		if (a.len)
			ag_link_input(&G, a.buf, a.len, now);
		if (b.len)
			ag_agent_input(&A, b.buf, b.len, now);
		ag_agent_poll(&A, now);
		ag_link_poll(&G, now);
	}
}

static void gw_send(const struct ag_msg *m)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));

	assert_true(n > 0);
	assert_int_equal(ag_link_send(&G, buf, (size_t)n, now), 0);
	settle();
}

static const struct ag_msg *last_of(uint8_t type)
{
	for (unsigned i = ngot; i-- > 0;)
		if (got[i].type == type)
			return &got[i];
	return NULL;
}

static unsigned count_of(uint8_t type)
{
	unsigned n = 0;
	for (unsigned i = 0; i < ngot; i++)
		n += got[i].type == type;
	return n;
}

static int setup(void **state)
{
	(void)state;
	struct ag_agent_config cfg;
	struct ag_agent_identity id = { .device_id = "dev-7", .hw_id = "sim", .caps = AG_CAP_DELTA,
					.boot_count = 3 };
	struct ag_link_config lc;

	memset(&to_gw, 0, sizeof(to_gw));
	memset(&to_dev, 0, sizeof(to_dev));
	ngot = 0;
	stored = resume_at = 0;
	begin_rc = finish_rc = activate_rc = aborted = rebooted = 0;
	activated_slot = -1;
	now = 1000;
	ag_agent_config_default(&cfg);
	assert_int_equal(ag_agent_init(&A, &cfg, &id, &dev_ops, NULL), 0);
	ag_link_config_default(&lc);
	lc.nonce = 77;
	assert_int_equal(ag_link_init(&G, &lc, &gw_ops, NULL), 0);
	ag_agent_start(&A, now);
	settle();
	return 0;
}

static void hello_ack(uint16_t max_frame, uint16_t hb_s)
{
	struct ag_msg m = { .type = AG_MSG_HELLO_ACK };

	m.u.hello_ack.max_frame = max_frame;
	m.u.hello_ack.heartbeat_s = hb_s;
	gw_send(&m);
}

static void test_hello_then_heartbeats(void **state)
{
	(void)state;
	const struct ag_msg *h = last_of(AG_MSG_HELLO);

	assert_non_null(h);
	assert_string_equal(h->u.hello.device_id, "dev-7");
	assert_string_equal(h->u.hello.hw_id, "sim");
	assert_int_equal(h->u.hello.boot_count, 3);
	assert_int_equal(h->u.hello.slot[0].state, AG_SLOT_CONFIRMED);
	assert_int_equal(h->u.hello.slot[0].version.build, 7);
	/* Nothing else before the gateway answers. */
	assert_int_equal(ngot, 1);
	assert_false(ag_agent_is_ready(&A));
	struct ag_msg_telemetry t = { .n = 0 };
	assert_int_equal(ag_agent_send_telemetry(&A, &t, now), AG_EAGAIN);

	hello_ack(AG_FRAME_MIN_MAX, 2);
	assert_true(ag_agent_is_ready(&A));
	assert_int_equal(count_of(AG_MSG_HEARTBEAT), 1);
	assert_int_equal(ag_link_msg_max(&A.link), AG_FRAME_PAYLOAD(AG_FRAME_MIN_MAX));
	const struct ag_msg *hb = last_of(AG_MSG_HEARTBEAT);
	assert_int_equal(hb->u.heartbeat.crash_count, 2);
	assert_int_equal(hb->u.heartbeat.boot_count, 3);
	assert_int_equal(hb->u.heartbeat.stacks[0].used, 300);

	/* The interval the gateway asked for. */
	now += 1999;
	ag_agent_poll(&A, now);
	settle();
	assert_int_equal(count_of(AG_MSG_HEARTBEAT), 1);
	now += 1;
	uint32_t next = ag_agent_poll(&A, now);
	settle();
	assert_int_equal(count_of(AG_MSG_HEARTBEAT), 2);
	assert_true(next <= 2000);
	assert_int_equal(last_of(AG_MSG_HEARTBEAT)->u.heartbeat.uptime_s, 2);

	assert_int_equal(ag_agent_send_telemetry(&A, &t, now), 0);
	settle();
	assert_int_equal(count_of(AG_MSG_TELEMETRY), 1);
}

static void offer(uint32_t xfer, uint32_t size)
{
	struct ag_msg m = { .type = AG_MSG_OTA_OFFER };

	m.u.ota_offer.xfer = xfer;
	m.u.ota_offer.slot = 1;
	m.u.ota_offer.size = size;
	m.u.ota_offer.image_size = size;
	gw_send(&m);
}

static void chunk(uint32_t xfer, uint32_t off, const uint8_t *d, uint16_t n)
{
	struct ag_msg m = { .type = AG_MSG_OTA_CHUNK };

	m.u.ota_chunk.xfer = xfer;
	m.u.ota_chunk.offset = off;
	m.u.ota_chunk.len = n;
	m.u.ota_chunk.data = d;
	gw_send(&m);
}

static void finish(uint32_t xfer, uint32_t size)
{
	struct ag_msg m = { .type = AG_MSG_OTA_FINISH };

	m.u.ota_finish.xfer = xfer;
	m.u.ota_finish.size = size;
	gw_send(&m);
}

static void test_ota_full_transfer(void **state)
{
	(void)state;
	uint8_t img[1000];

	for (int i = 0; i < 1000; i++)
		img[i] = (uint8_t)(i * 7);
	hello_ack(256, 30);
	offer(9, sizeof(img));
	const struct ag_msg *ack = last_of(AG_MSG_OTA_ACK);
	assert_non_null(ack);
	assert_int_equal(ack->u.ota_ack.xfer, 9);
	assert_int_equal(ack->u.ota_ack.offset, 0);
	assert_int_equal(ack->u.ota_ack.status, 0);
	assert_int_equal(ack->u.ota_ack.credit, 4);

	for (uint32_t off = 0; off < sizeof(img); off += 200) {
		chunk(9, off, img + off, 200);
		assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.offset, off + 200);
	}
	/* A repeated chunk is not written twice; the ack says where we are. */
	chunk(9, 400, img + 400, 200);
	assert_int_equal(stored, 1000);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.offset, 1000);
	assert_memory_equal(store, img, sizeof(img));

	finish(9, sizeof(img));
	assert_int_equal(finished_size, 1000);
	ack = last_of(AG_MSG_OTA_ACK);
	assert_int_equal(ack->u.ota_ack.status, 0);
	uint32_t off;
	assert_int_equal(ag_agent_ota_state(&A, &off), AG_AGENT_OTA_VERIFIED);
	assert_int_equal(A.stats.ota_done, 1);

	struct ag_msg m = { .type = AG_MSG_ACTIVATE };
	m.u.activate.slot = 1;
	gw_send(&m);
	assert_int_equal(activated_slot, 1);
	m.type = AG_MSG_REBOOT;
	gw_send(&m);
	assert_int_equal(rebooted, 1);
}

static void test_ota_gap_is_not_written(void **state)
{
	(void)state;
	uint8_t d[100] = { 1 };

	hello_ack(256, 30);
	offer(3, 300);
	chunk(3, 100, d, 100); /* ahead of what we hold */
	assert_int_equal(stored, 0);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.offset, 0);
	/* More than was offered: the transfer fails. */
	chunk(3, 0, d, 100);
	uint8_t big[250] = { 0 };
	chunk(3, 100, big, 230);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.status, AG_ETOOBIG);
	assert_int_equal(aborted, AG_ETOOBIG);
}

static void test_ota_resume_and_refusals(void **state)
{
	(void)state;
	hello_ack(256, 30);
	resume_at = 400;
	offer(5, 1000);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.offset, 400);
	/* The same offer again (the gateway lost our answer): same answer. */
	offer(5, 1000);
	assert_int_equal(count_of(AG_MSG_OTA_ACK), 2);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.offset, 400);

	/* Finishing early is a failure, reported with its cause. */
	finish(5, 1000);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.status, AG_ETRUNC);

	begin_rc = AG_ENOSPC;
	offer(6, 100000);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.status, AG_ENOSPC);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.credit, 0);

	/* Verification failure reaches the gateway as the ack's status. */
	begin_rc = 0;
	resume_at = 0;
	uint8_t d[10] = { 0 };
	offer(7, 10);
	chunk(7, 0, d, 10);
	finish_rc = AG_EHASH;
	finish(7, 10);
	assert_int_equal(last_of(AG_MSG_OTA_ACK)->u.ota_ack.status, AG_EHASH);
	assert_int_equal(aborted, AG_EHASH);
	/* A chunk for a transfer that is not running is refused. */
	chunk(8, 0, d, 10);
	assert_int_equal(last_of(AG_MSG_ERROR)->u.error.code, AG_ESTATE);
}

static void test_bad_messages_answered(void **state)
{
	(void)state;
	uint8_t bogus[] = { AG_PROTO_VERSION, 0x66, 1 };
	uint8_t future[] = { AG_PROTO_VERSION + 1, AG_MSG_REBOOT, 0, 0, 0, 0 };

	hello_ack(256, 30);
	assert_int_equal(ag_link_send(&G, bogus, sizeof(bogus), now), 0);
	settle();
	assert_int_equal(last_of(AG_MSG_ERROR)->u.error.code, AG_ETYPE);
	assert_int_equal(last_of(AG_MSG_ERROR)->u.error.ref_type, 0x66);
	assert_int_equal(ag_link_send(&G, future, sizeof(future), now), 0);
	settle();
	assert_int_equal(last_of(AG_MSG_ERROR)->u.error.code, AG_EVERSION);
	assert_int_equal(rebooted, 0);
	/* An error is never answered with an error. */
	unsigned errs = count_of(AG_MSG_ERROR);
	struct ag_msg e = { .type = AG_MSG_ERROR };
	e.u.error.code = AG_EIO;
	gw_send(&e);
	assert_int_equal(count_of(AG_MSG_ERROR), errs);
	assert_int_equal(A.stats.errors_in, 1);
	/* A refused activate says why. */
	activate_rc = AG_ENOIMAGE;
	struct ag_msg m = { .type = AG_MSG_ACTIVATE };
	gw_send(&m);
	assert_int_equal(last_of(AG_MSG_ERROR)->u.error.code, AG_ENOIMAGE);
	assert_int_equal(last_of(AG_MSG_ERROR)->u.error.ref_type, AG_MSG_ACTIVATE);
}

static void test_confirm_waits_for_hello_ack(void **state)
{
	(void)state;
	struct ag_version v = { 2, 0, 0, 9 };

	ag_agent_report_confirm(&A, 1, 0, &v);
	ag_agent_poll(&A, now);
	settle();
	assert_null(last_of(AG_MSG_CONFIRM));
	hello_ack(256, 30);
	const struct ag_msg *c = last_of(AG_MSG_CONFIRM);
	assert_non_null(c);
	assert_int_equal(c->u.confirm.slot, 1);
	assert_int_equal(c->u.confirm.version.build, 9);
}

static void test_gateway_restart_gets_a_new_hello(void **state)
{
	(void)state;
	hello_ack(256, 30);
	assert_int_equal(count_of(AG_MSG_HELLO), 1);
	/* The gateway restarts: a new link session from its side. */
	ag_link_open(&G, now);
	settle();
	assert_int_equal(count_of(AG_MSG_HELLO), 2);
	assert_false(ag_agent_is_ready(&A));
	hello_ack(256, 30);
	assert_true(ag_agent_is_ready(&A));
}

static void test_init_checks(void **state)
{
	(void)state;
	struct ag_agent a;
	struct ag_agent_config cfg;
	struct ag_agent_identity id = { .device_id = "x", .hw_id = "y" };
	struct ag_agent_ops ops = dev_ops;

	ag_agent_config_default(&cfg);
	ops.slots = NULL;
	assert_int_equal(ag_agent_init(&a, &cfg, &id, &ops, NULL), AG_EINVAL);
	memset(id.device_id, 'x', sizeof(id.device_id)); /* no terminator */
	assert_int_equal(ag_agent_init(&a, &cfg, &id, &dev_ops, NULL), AG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_hello_then_heartbeats, setup),
		cmocka_unit_test_setup(test_ota_full_transfer, setup),
		cmocka_unit_test_setup(test_ota_gap_is_not_written, setup),
		cmocka_unit_test_setup(test_ota_resume_and_refusals, setup),
		cmocka_unit_test_setup(test_bad_messages_answered, setup),
		cmocka_unit_test_setup(test_confirm_waits_for_hello_ack, setup),
		cmocka_unit_test_setup(test_gateway_restart_gets_a_new_hello, setup),
		cmocka_unit_test(test_init_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
