#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "agent/err.h"
#include "agent/link.h"
#include "simlink.h"

/* What an endpoint received, in order. */
struct inbox {
	unsigned n;
	uint8_t first[4096]; /* first byte of each message */
	size_t len[4096];
};

static void to_inbox(struct sim_end *e, const uint8_t *msg, size_t len)
{
	struct inbox *in = e->user;

	assert_true(in->n < 4096);
	in->first[in->n] = msg[0];
	in->len[in->n] = len;
	in->n++;
}

static struct sim S;
static struct inbox IN[2];

static void setup_sim(const struct sim_params *p, uint8_t window)
{
	struct ag_link_config cfg;

	ag_link_config_default(&cfg);
	cfg.window = window;
	sim_init(&S, p, &cfg);
	memset(IN, 0, sizeof(IN));
	for (int i = 0; i < 2; i++) {
		S.end[i].recv = to_inbox;
		S.end[i].user = &IN[i];
	}
}

static bool both_up(struct sim *s, void *arg)
{
	(void)arg;
	return ag_link_is_up(&s->end[0].link) && ag_link_is_up(&s->end[1].link);
}

static bool a_idle(struct sim *s, void *arg)
{
	(void)arg;
	return ag_link_in_flight(&s->end[0].link) == 0;
}

static const struct sim_params fast = { .bytes_per_s = 11520, .latency_us = 20000 };

static void test_handshake_one_side(void **state)
{
	(void)state;
	setup_sim(&fast, 4);
	assert_false(ag_link_is_up(&S.end[0].link));
	/* Sending before a session is refused. */
	assert_int_equal(ag_link_send(&S.end[0].link, (const uint8_t *)"x", 1, 0), AG_ESTATE);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	assert_int_equal(S.end[0].ups, 1);
	assert_int_equal(S.end[1].ups, 1);
	assert_int_equal(S.end[0].resets + S.end[1].resets, 0);
}

static void test_handshake_crossing(void **state)
{
	(void)state;
	setup_sim(&fast, 4);
	ag_link_open(&S.end[0].link, 0);
	ag_link_open(&S.end[1].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	/* Let stray resets arrive; nobody resets twice. */
	sim_run(&S, S.now_us + 2000000, NULL, NULL, NULL);
	assert_true(both_up(&S, NULL));
	assert_int_equal(S.end[0].resets, 0);
	assert_int_equal(S.end[1].resets, 0);
	/* Data flows both ways. */
	assert_int_equal(ag_link_send(&S.end[0].link, (const uint8_t *)"a", 1, sim_now_ms(&S)), 0);
	assert_int_equal(ag_link_send(&S.end[1].link, (const uint8_t *)"b", 1, sim_now_ms(&S)), 0);
	sim_run(&S, S.now_us + 1000000, NULL, NULL, NULL);
	assert_int_equal(IN[1].n, 1);
	assert_int_equal(IN[1].first[0], 'a');
	assert_int_equal(IN[0].n, 1);
	assert_int_equal(IN[0].first[0], 'b');
}

static void test_handshake_survives_lost_reset(void **state)
{
	(void)state;
	struct sim_params p = fast;

	p.drop = 1.0; /* everything lost for a while */
	setup_sim(&p, 4);
	ag_link_open(&S.end[0].link, 0);
	sim_run(&S, 1500000, NULL, NULL, NULL);
	assert_false(ag_link_is_up(&S.end[1].link));
	S.p.drop = 0;
	/* The reset is retried with back-off until it gets through. */
	assert_true(sim_run(&S, 20000000, both_up, NULL, NULL));
}

static void test_window_flow(void **state)
{
	(void)state;
	uint8_t msg[100];

	setup_sim(&fast, 4);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	for (int i = 0; i < 4; i++) {
		memset(msg, i, sizeof(msg));
		assert_int_equal(ag_link_send_space(&S.end[0].link), 4 - i);
		assert_int_equal(ag_link_send(&S.end[0].link, msg, sizeof(msg), sim_now_ms(&S)), 0);
	}
	/* Window full: the fifth waits, nothing is queued. */
	assert_int_equal(ag_link_send(&S.end[0].link, msg, sizeof(msg), sim_now_ms(&S)), AG_EAGAIN);
	assert_int_equal(ag_link_in_flight(&S.end[0].link), 4);
	assert_true(sim_run(&S, S.now_us + 1000000, a_idle, NULL, NULL));
	assert_int_equal(ag_link_send_space(&S.end[0].link), 4);
	assert_int_equal(IN[1].n, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(IN[1].first[i], i);
	assert_int_equal(S.end[0].link.stats.retransmits, 0);
}

static void test_message_limits(void **state)
{
	(void)state;
	uint8_t big[AG_LINK_MSG_MAX + 1] = { 0 };

	setup_sim(&fast, 4);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	assert_int_equal(ag_link_msg_max(&S.end[0].link), AG_FRAME_PAYLOAD(AG_FRAME_DEFAULT));
	assert_int_equal(ag_link_send(&S.end[0].link, big, AG_LINK_MSG_MAX + 1, 0), AG_ETOOBIG);
	assert_int_equal(ag_link_send(&S.end[0].link, big, 0, 0), AG_EINVAL);
	assert_int_equal(ag_link_set_max_frame(&S.end[0].link, 100), AG_EINVAL);
	assert_int_equal(ag_link_set_max_frame(&S.end[0].link, AG_FRAME_MIN_MAX), 0);
	assert_int_equal(ag_link_send(&S.end[0].link, big, AG_FRAME_PAYLOAD(AG_FRAME_MIN_MAX) + 1, 0),
			 AG_ETOOBIG);
	assert_int_equal(ag_link_send(&S.end[0].link, big, AG_FRAME_PAYLOAD(AG_FRAME_MIN_MAX), 0), 0);
}

/* Drops the n-th frame end 0 writes (counting from the first call). */
static int drop_at = -1, writes_seen;
static int (*real_write)(void *, const uint8_t *, size_t);

static int dropping_write(void *ctx, const uint8_t *buf, size_t len)
{
	if (writes_seen++ == drop_at)
		return 0; /* vanished on the line */
	return real_write(ctx, buf, len);
}

static struct ag_link_ops drop_ops;

static void send_n(int n, uint8_t first)
{
	for (int i = 0; i < n; i++) {
		uint8_t m = (uint8_t)(first + i);
		assert_int_equal(ag_link_send(&S.end[0].link, &m, 1, sim_now_ms(&S)), 0);
	}
}

/* Both ends up; end 0's frames then go through dropping_write. */
static void up_with_dropper(void)
{
	setup_sim(&fast, 4);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	drop_ops = *S.end[0].link.ops;
	real_write = drop_ops.write;
	drop_ops.write = dropping_write;
	S.end[0].link.ops = &drop_ops;
	writes_seen = 0;
}

static void test_retransmit_on_timeout(void **state)
{
	(void)state;
	up_with_dropper();
	drop_at = 0; /* the only frame: no later frame reveals the gap, so only the timer helps */
	send_n(1, 10);
	assert_true(sim_run(&S, S.now_us + 5000000, a_idle, NULL, NULL));
	assert_int_equal(IN[1].n, 1);
	assert_int_equal(IN[1].first[0], 10);
	assert_int_equal(S.end[0].link.stats.retransmits, 1);
	assert_int_equal(S.end[1].link.stats.out_of_order, 0);
}

static void test_nak_fast_retransmit(void **state)
{
	(void)state;
	up_with_dropper();
	drop_at = 1; /* the second of four */
	uint64_t t0 = S.now_us;
	send_n(4, 20);
	assert_true(sim_run(&S, S.now_us + 5000000, a_idle, NULL, NULL));
	assert_int_equal(IN[1].n, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(IN[1].first[i], 20 + i);
	assert_true(S.end[1].link.stats.out_of_order >= 1);
	/* Recovered by the NAK, well before the 500 ms initial timeout. */
	assert_true(S.now_us - t0 < 300000);
	assert_int_equal(S.end[0].link.stats.retransmits, 3);
}

static void test_duplicates_suppressed(void **state)
{
	(void)state;
	struct sim_params p = fast;

	p.dup = 1.0; /* every frame arrives twice */
	setup_sim(&p, 4);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	send_n(4, 30);
	assert_true(sim_run(&S, S.now_us + 5000000, a_idle, NULL, NULL));
	sim_run(&S, S.now_us + 100000, NULL, NULL, NULL);
	assert_int_equal(IN[1].n, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(IN[1].first[i], 30 + i);
	assert_int_equal(S.end[1].link.stats.duplicates, 4);
}

static void test_reconnect_resets_peer(void **state)
{
	(void)state;
	setup_sim(&fast, 4);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	send_n(2, 40);
	assert_true(sim_run(&S, S.now_us + 1000000, a_idle, NULL, NULL));
	/* Device 1 "reboots": it opens a new session. Its peer hears of it. */
	ag_link_open(&S.end[1].link, sim_now_ms(&S));
	assert_false(ag_link_is_up(&S.end[1].link));
	assert_true(sim_run(&S, S.now_us + 1000000, both_up, NULL, NULL));
	assert_int_equal(S.end[0].resets, 1);
	/* Sequence numbers start over and data flows. */
	send_n(2, 50);
	assert_true(sim_run(&S, S.now_us + 1000000, a_idle, NULL, NULL));
	assert_int_equal(IN[1].n, 4);
	assert_int_equal(IN[1].first[2], 50);
	assert_int_equal(IN[1].first[3], 51);
}

static void test_sequence_wraps(void **state)
{
	(void)state;
	setup_sim(&fast, 4);
	ag_link_open(&S.end[0].link, 0);
	assert_true(sim_run(&S, 1000000, both_up, NULL, NULL));
	for (int round = 0; round < 200; round++) {
		send_n(4, (uint8_t)(round * 4));
		assert_true(sim_run(&S, S.now_us + 1000000, a_idle, NULL, NULL));
	}
	assert_int_equal(IN[1].n, 800);
	for (unsigned i = 0; i < 800; i++)
		assert_int_equal(IN[1].first[i], (uint8_t)i);
}

static void test_config_checked(void **state)
{
	(void)state;
	struct ag_link l;
	struct ag_link_config cfg;
	struct ag_link_ops ops = { 0 };

	ag_link_config_default(&cfg);
	assert_int_equal(ag_link_init(&l, &cfg, &ops, NULL), AG_EINVAL); /* no write */
	ops.write = dropping_write;
	cfg.window = AG_LINK_WINDOW + 1;
	assert_int_equal(ag_link_init(&l, &cfg, &ops, NULL), AG_EINVAL);
	ag_link_config_default(&cfg);
	cfg.max_frame = AG_FRAME_MAX + 1;
	assert_int_equal(ag_link_init(&l, &cfg, &ops, NULL), AG_EINVAL);
	ag_link_config_default(&cfg);
	cfg.rto_min_ms = 0;
	assert_int_equal(ag_link_init(&l, &cfg, &ops, NULL), AG_EINVAL);
	ag_link_config_default(&cfg);
	assert_int_equal(ag_link_init(&l, &cfg, &ops, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_one_side),
		cmocka_unit_test(test_handshake_crossing),
		cmocka_unit_test(test_handshake_survives_lost_reset),
		cmocka_unit_test(test_window_flow),
		cmocka_unit_test(test_message_limits),
		cmocka_unit_test(test_retransmit_on_timeout),
		cmocka_unit_test(test_nak_fast_retransmit),
		cmocka_unit_test(test_duplicates_suppressed),
		cmocka_unit_test(test_reconnect_resets_peer),
		cmocka_unit_test(test_sequence_wraps),
		cmocka_unit_test(test_config_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
