/* End to end through the protocol: the gateway's sender (ag_ota_tx) on one
 * end of a simulated serial line, the device's agent (ag_agent) with
 * boot_ota as its storage on the other, the sim board's flash underneath.
 * A delta goes into slot B, the device loses power half-way and reboots,
 * the transfer resumes where the trailer says, the result is verified and
 * pending, boots on trial and is confirmed. A refused image fails the
 * transfer with the device's error code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/ota_tx.h"
#include "boot_fixture.h"
#include "simlink.h"

#define SLOT_SIZE (128u * 1024u)

static struct sim S;
static struct ag_agent agent;
static struct boot_ota ota;
static struct ag_ota_tx tx;
static struct bfx_image a1, b2;
static const uint8_t *payload;
static uint32_t payload_len;
static struct ag_msg_ota_offer offer;
static int hellos, started, resets_seen;
static struct ag_msg_hello last_hello;

static int dev_write(void *ctx, const uint8_t *b, size_t n)
{
	(void)ctx;
	return sim_write(&S, 1, b, n);
}

static const struct ag_agent_ops dev_ops = {
	.write = dev_write,
	.slots = boot_ota_agent_slots,
	.ota_begin = boot_ota_agent_begin,
	.ota_write = boot_ota_agent_write,
	.ota_finish = boot_ota_agent_finish,
	.ota_abort = boot_ota_agent_abort,
	.activate = boot_ota_agent_activate,
};

static void dev_input(struct sim_end *e, const uint8_t *b, size_t n, uint32_t now)
{
	(void)e;
	ag_agent_input(&agent, b, n, now);
}

static uint32_t dev_poll(struct sim_end *e, uint32_t now)
{
	(void)e;
	return ag_agent_poll(&agent, now);
}

/* The device (re)boots: the loader picks A, the firmware starts its agent
 * with OTA storage; RAM state is new, flash is what it was. */
static void dev_boot(void)
{
	struct boot_decision d;
	bfx_reboot_init();
	assert_int_equal(boot_select(BOOT_RESET_NORMAL, &d), 0);
	assert_int_equal(d.slot, 0);
	assert_int_equal(boot_ota_init(&ota, 0), 0);
	struct ag_agent_config cfg;
	struct ag_agent_identity id = {.device_id = "dev-1", .hw_id = BFX_HW};
	ag_agent_config_default(&cfg);
	cfg.link.nonce = (uint32_t)sim_rand(&S);
	assert_int_equal(ag_agent_init(&agent, &cfg, &id, &dev_ops, &ota), 0);
	ag_agent_start(&agent, sim_now_ms(&S));
}

static int read_payload(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
	(void)ctx;
	if (off > payload_len || len > payload_len - off)
		return AG_EINVAL;
	memcpy(buf, payload + off, len);
	return 0;
}

static void gw_recv(struct sim_end *e, const uint8_t *b, size_t n)
{
	struct ag_msg m;
	uint32_t now = sim_now_ms(e->sim);
	assert_int_equal(ag_msg_decode(b, n, &m), 0);
	if (m.type == AG_MSG_HELLO) {
		struct ag_msg r = {.type = AG_MSG_HELLO_ACK};
		uint8_t buf[AG_LINK_MSG_MAX];
		hellos++;
		last_hello = m.u.hello;
		r.u.hello_ack.max_frame = AG_FRAME_DEFAULT;
		r.u.hello_ack.heartbeat_s = 30;
		int len = ag_msg_encode(&r, buf, sizeof(buf));
		assert_int_equal(ag_link_send(&e->link, buf, (size_t)len, now), 0);
		return;
	}
	ag_ota_tx_on_msg(&tx, &m, now);
}

static void pump(struct sim *s, void *arg)
{
	(void)arg;
	if (s->end[0].resets != resets_seen) {
		resets_seen = s->end[0].resets;
		ag_ota_tx_link_reset(&tx, sim_now_ms(s));
	}
	if (!started && hellos) {
		assert_int_equal(ag_ota_tx_start(&tx, &offer, read_payload, NULL, 1000, 5,
						 sim_now_ms(s)),
				 0);
		started = 1;
	}
	if (started) {
		uint32_t t = ag_ota_tx_pump(&tx, &s->end[0].link, sim_now_ms(s));
		if (t != UINT32_MAX)
			s->wake_us = s->now_us + (uint64_t)(t ? t : 1) * 1000u;
	}
}

static bool over(struct sim *s, void *arg)
{
	(void)s;
	(void)arg;
	return started && ag_ota_tx_over(&tx);
}

static bool acked_past(struct sim *s, void *arg)
{
	(void)s;
	return started && ag_ota_tx_acked(&tx) >= *(uint32_t *)arg;
}

static void line_up(const uint8_t *data, uint32_t len, uint8_t kind, uint32_t image_size)
{
	struct ag_link_config cfg;
	struct sim_params p = {.bytes_per_s = 11520, .latency_us = 2000, .seed = 7};
	payload = data;
	payload_len = len;
	memset(&offer, 0, sizeof(offer));
	offer.xfer = 77;
	offer.slot = 1;
	offer.kind = kind;
	offer.size = len;
	offer.image_size = image_size;
	offer.chunk_max = 200;
	hellos = started = resets_seen = 0;
	memset(&tx, 0, sizeof(tx));
	ag_link_config_default(&cfg);
	sim_init(&S, &p, &cfg);
	S.end[0].recv = gw_recv;
	S.end[1].input = dev_input;
	S.end[1].poll = dev_poll;
	dev_boot();
	ag_link_open(&S.end[0].link, 0);
}

static int setup(void **state)
{
	(void)state;
	bfx_setup(SLOT_SIZE);
	bfx_sign(&a1, 0, 1, 5, 48 * 1024, BFX_HW, 0);
	bfx_sign(&b2, 1, 2, 6, 48 * 1024, BFX_HW, 0);
	bfx_flash_raw(0, a1.img, a1.len);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bfx_free(&a1);
	bfx_free(&b2);
	bfx_teardown();
	return 0;
}

static void test_delta_over_the_link_with_reboot(void **state)
{
	(void)state;
	uint8_t *patch;
	size_t plen;
	bfx_delta(&a1, &b2, &patch, &plen);
	line_up(patch, (uint32_t)plen, AG_OTA_DELTA, (uint32_t)b2.len);
	uint32_t half = (uint32_t)plen / 2;
	assert_true(sim_run(&S, 120000000ull, acked_past, pump, &half));
	assert_int_equal(last_hello.slot[0].state, AG_SLOT_CONFIRMED);

	/* Power cut: the device comes back with nothing but its flash. */
	dev_boot();
	assert_true(sim_run(&S, 600000000ull, over, pump, NULL));
	assert_int_equal(ag_ota_tx_state(&tx), AG_OTA_TX_DONE);
	assert_true(tx.stats.resumes >= 1);
	assert_true(tx.stats.resumed_from > 0);
	assert_true(hellos >= 2);
	assert_memory_equal(bfx_slot(1), b2.img, b2.len);

	struct boot_trailer t;
	assert_int_equal(boot_read_trailer(1, &t), 0);
	assert_int_equal(t.state, BOOT_STATE_PENDING);
	struct boot_decision d;
	bfx_reboot_init();
	assert_int_equal(boot_select(BOOT_RESET_NORMAL, &d), 0);
	assert_int_equal(d.slot, 1);
	assert_int_equal(d.state, BOOT_STATE_TESTING);
	assert_int_equal(boot_confirm(1), 0);
	free(patch);
}

static void test_refused_image_fails_the_transfer(void **state)
{
	(void)state;
	struct bfx_image other;
	bfx_sign(&other, 1, 2, 6, 8 * 1024, "other-board", 0);
	line_up(other.img, (uint32_t)other.len, AG_OTA_FULL, (uint32_t)other.len);
	assert_true(sim_run(&S, 120000000ull, over, pump, NULL));
	assert_int_equal(ag_ota_tx_state(&tx), AG_OTA_TX_FAILED);
	assert_int_equal(ag_ota_tx_result(&tx), AG_EHWID);
	struct boot_trailer t;
	assert_int_equal(boot_read_trailer(1, &t), 0);
	assert_int_not_equal(t.state, BOOT_STATE_PENDING);
	bfx_free(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_delta_over_the_link_with_reboot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_image_fails_the_transfer, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
