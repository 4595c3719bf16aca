/*
 * An OTA transfer end to end: the gateway's sender (ag_ota_tx) on one side
 * of a simulated 115200-baud line with 20 ms latency, the device's agent
 * (ag_agent) storing into memory on the other. Loss, disconnects, a device
 * reboot, pause and cancel, refusals and a dead device.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/err.h"
#include "agent/ota_tx.h"

#define IMG_SIZE (48u * 1024u)
#include "otasim.h"

static const struct sim_params serial = { .bytes_per_s = 11520, .latency_us = 20000, .seed = 5 };

static void run_to_end(void)
{
	assert_true(sim_run(&S, S.now_us + 600ull * 1000000u, tx_over, pump, NULL));
}

static void test_clean_transfer(void **state)
{
	(void)state;
	setup_line(&serial, IMG_SIZE);
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_DONE);
	assert_memory_equal(D.store, image, IMG_SIZE);
	assert_int_equal(G.tx.stats.bytes_sent, IMG_SIZE);
	assert_int_equal(G.tx.stats.offers_sent, 1);
	assert_int_equal(D.finished, 1);
	double secs = (double)S.now_us / 1e6;
	printf("clean: %u bytes in %.2f s virtual: %.1f %% of the line\n", IMG_SIZE, secs,
	       100.0 * IMG_SIZE / (secs * 11520.0));
}

static void test_lossy_transfer(void **state)
{
	(void)state;
	struct sim_params p = serial;

	p.drop = 0.03;
	p.flip = 0.02;
	p.dup = 0.01;
	setup_line(&p, IMG_SIZE);
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_DONE);
	assert_memory_equal(D.store, image, IMG_SIZE);
}

static void test_disconnect_resumes(void **state)
{
	(void)state;
	uint32_t half = IMG_SIZE / 2;

	setup_line(&serial, IMG_SIZE);
	assert_true(sim_run(&S, 600ull * 1000000u, acked_past, pump, &half));
	/* The gateway's connection drops and comes back: a new session. */
	ag_link_open(&S.end[0].link, sim_now_ms(&S));
	uint32_t before = G.tx.stats.bytes_sent;
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_DONE);
	assert_memory_equal(D.store, image, IMG_SIZE);
	assert_true(G.tx.stats.resumes >= 1);
	assert_true(G.tx.stats.resumed_from >= half - 4 * 239);
	/* Only what was in flight went twice. */
	assert_true(G.tx.stats.bytes_sent - before <= IMG_SIZE - half + 8 * 239);
	assert_int_equal(G.hellos, 2);
}

static void test_device_reboot_resumes_from_storage(void **state)
{
	(void)state;
	uint32_t third = IMG_SIZE / 3;

	setup_line(&serial, IMG_SIZE);
	assert_true(sim_run(&S, 600ull * 1000000u, acked_past, pump, &third));
	uint32_t kept = D.stored;
	/* The device reboots: a fresh agent; storage kept what it had. */
	dev_boot(&S);
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_DONE);
	assert_memory_equal(D.store, image, IMG_SIZE);
	assert_true(G.tx.stats.resumed_from >= kept - 4 * 239);
	assert_true(G.tx.stats.resumed_from > 0);
}

static void test_pause_resume_cancel(void **state)
{
	(void)state;
	uint32_t quarter = IMG_SIZE / 4;

	setup_line(&serial, IMG_SIZE);
	assert_true(sim_run(&S, 600ull * 1000000u, acked_past, pump, &quarter));
	assert_int_equal(ag_ota_tx_pause(&G.tx), 0);
	assert_int_equal(ag_ota_tx_pause(&G.tx), AG_ESTATE);
	sim_run(&S, S.now_us + 1000000, NULL, pump, NULL); /* let in-flight chunks land */
	uint32_t held = ag_ota_tx_acked(&G.tx);
	sim_run(&S, S.now_us + 10000000, NULL, pump, NULL);
	assert_int_equal(ag_ota_tx_acked(&G.tx), held); /* nothing moved while paused */
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_PAUSED);
	assert_int_equal(ag_ota_tx_resume(&G.tx, sim_now_ms(&S)), 0);
	uint32_t more = held + IMG_SIZE / 4;
	assert_true(sim_run(&S, S.now_us + 600ull * 1000000u, acked_past, pump, &more));
	assert_int_equal(ag_ota_tx_cancel(&G.tx), 0);
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_CANCELED);
	assert_int_equal(ag_ota_tx_result(&G.tx), AG_ECANCELED);
	sim_run(&S, S.now_us + 1000000, NULL, pump, NULL);
	assert_int_equal(D.aborted, AG_ECANCELED);
	uint32_t off;
	assert_int_equal(ag_agent_ota_state(&D.agent, &off), AG_AGENT_OTA_IDLE);
	assert_int_equal(ag_ota_tx_cancel(&G.tx), AG_ESTATE);
}

static void test_refused_and_failed(void **state)
{
	(void)state;
	setup_line(&serial, IMG_SIZE);
	D.begin_rc = AG_EHWID;
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_FAILED);
	assert_int_equal(ag_ota_tx_result(&G.tx), AG_EHWID);
	assert_int_equal(G.tx.stats.bytes_sent, 0);

	/* A bit of what the device stored flips: verification fails. */
	setup_line(&serial, IMG_SIZE);
	uint32_t half = IMG_SIZE / 2;
	assert_true(sim_run(&S, 600ull * 1000000u, acked_past, pump, &half));
	D.store[100] ^= 0x10;
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_FAILED);
	assert_int_equal(ag_ota_tx_result(&G.tx), AG_EHASH);
	assert_int_equal(D.aborted, AG_EHASH);
}

static void test_dead_device_times_out(void **state)
{
	(void)state;
	uint32_t some = 4096;

	setup_line(&serial, IMG_SIZE);
	assert_true(sim_run(&S, 600ull * 1000000u, acked_past, pump, &some));
	D.dead = true;
	uint64_t t0 = S.now_us;
	run_to_end();
	assert_int_equal(ag_ota_tx_state(&G.tx), AG_OTA_TX_FAILED);
	assert_int_equal(ag_ota_tx_result(&G.tx), AG_ETIMEDOUT);
	printf("dead device given up after %.1f s\n", (double)(S.now_us - t0) / 1e6);
	/* 1 s without progress, 5 offers more: about 6 s. */
	assert_true(S.now_us - t0 >= 5000000 && S.now_us - t0 <= 8000000);
}

static int read_nothing(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)off;
	memset(buf, 0, len);
	return 0;
}

static void test_start_checks(void **state)
{
	(void)state;
	struct ag_ota_tx tx;
	struct ag_msg_ota_offer o = { .size = 10, .chunk_max = 0 };

	assert_int_equal(ag_ota_tx_start(&tx, &o, read_nothing, NULL, 100, 1, 0), AG_EINVAL);
	o.chunk_max = 100;
	assert_int_equal(ag_ota_tx_start(&tx, &o, NULL, NULL, 100, 1, 0), AG_EINVAL);
	assert_int_equal(ag_ota_tx_start(&tx, &o, read_nothing, NULL, 0, 1, 0), AG_EINVAL);
	assert_int_equal(ag_ota_tx_start(&tx, &o, read_nothing, NULL, 100, 1, 0), 0);
	assert_int_equal(ag_ota_tx_resume(&tx, 0), AG_ESTATE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_transfer),
		cmocka_unit_test(test_lossy_transfer),
		cmocka_unit_test(test_disconnect_resumes),
		cmocka_unit_test(test_device_reboot_resumes_from_storage),
		cmocka_unit_test(test_pause_resume_cancel),
		cmocka_unit_test(test_refused_and_failed),
		cmocka_unit_test(test_dead_device_times_out),
		cmocka_unit_test(test_start_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
