/*
 * Two endpoints over a seeded channel that drops, duplicates, reorders and
 * flips bits, both ways. 10,000 messages must arrive exactly once, in order,
 * intact.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/bytes.h"
#include "agent/link.h"
#include "simlink.h"

#define COUNT 10000u

struct run {
	uint32_t sent, got;
	int bad;
};

/* Message i: its index, then bytes derived from it; length 5..AG_LINK_MSG_MAX. */
static size_t make_msg(uint32_t i, uint8_t *buf)
{
	uint32_t x = i * 2654435761u + 1;
	size_t len = 5 + (x % (AG_FRAME_PAYLOAD(AG_FRAME_DEFAULT) - 4));

	ag_put_le32(buf, i);
	for (size_t k = 4; k < len; k++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[k] = (uint8_t)x;
	}
	return len;
}

static void check_recv(struct sim_end *e, const uint8_t *msg, size_t len)
{
	struct run *r = e->user;
	uint8_t want[AG_LINK_MSG_MAX];
	size_t wl;

	if (len < 4 || ag_get_le32(msg) != r->got) {
		r->bad++;
		return;
	}
	wl = make_msg(r->got, want);
	if (wl != len || memcmp(want, msg, len) != 0) {
		r->bad++;
		return;
	}
	r->got++;
}

static void pump(struct sim *s, void *arg)
{
	struct run *r = arg;
	uint8_t buf[AG_LINK_MSG_MAX];

	while (r->sent < COUNT && ag_link_send_space(&s->end[0].link)) {
		size_t len = make_msg(r->sent, buf);

		assert_int_equal(ag_link_send(&s->end[0].link, buf, len, sim_now_ms(s)), 0);
		r->sent++;
	}
}

static bool all_in(struct sim *s, void *arg)
{
	(void)s;
	return ((struct run *)arg)->got == COUNT;
}

static void run_lossy(const struct sim_params *p)
{
	static struct sim s;
	struct ag_link_config cfg;
	struct run r = { 0 };

	ag_link_config_default(&cfg);
	sim_init(&s, p, &cfg);
	s.end[1].recv = check_recv;
	s.end[1].user = &r;
	ag_link_open(&s.end[0].link, 0);
	ag_link_open(&s.end[1].link, 0);

	bool done = sim_run(&s, 3600ull * 1000000u, all_in, pump, &r);
	const struct ag_link_stats *rx = &s.end[1].link.stats;
	printf("seed %llu: %u msgs in %.1f s virtual; line 0->1 dropped %u dup %u reord %u flip %u;"
	       " rx crc %u trunc %u garbage %u dups %u ooo %u; tx retransmits %u\n",
	       (unsigned long long)p->seed, r.got, (double)s.now_us / 1e6, s.dir[0].dropped,
	       s.dir[0].duplicated, s.dir[0].reordered, s.dir[0].flipped, rx->err_crc,
	       rx->err_trunc, rx->err_garbage, rx->duplicates, rx->out_of_order,
	       s.end[0].link.stats.retransmits);
	assert_true(done);
	assert_int_equal(r.bad, 0);
	assert_int_equal(r.got, COUNT);
	assert_int_equal(s.end[0].resets + s.end[1].resets, 0);
	/* The impairments really happened. */
	if (p->drop > 0)
		assert_true(s.dir[0].dropped > 50 && s.dir[1].dropped > 10);
	if (p->dup > 0)
		assert_true(rx->duplicates > 10);
	if (p->flip > 0)
		assert_true(rx->err_crc + rx->err_trunc + rx->err_garbage > 50);
	if (p->reorder > 0)
		assert_true(rx->out_of_order > 50);
}

static void test_lossy_mixed(void **state)
{
	(void)state;
	const struct sim_params p = {
		.bytes_per_s = 11520, .latency_us = 20000, .drop = 0.03, .dup = 0.02,
		.reorder = 0.03, .reorder_us = 30000, .flip = 0.03, .seed = 1,
	};
	run_lossy(&p);
}

static void test_lossy_heavy_loss(void **state)
{
	(void)state;
	const struct sim_params p = {
		.bytes_per_s = 11520, .latency_us = 20000, .drop = 0.15, .flip = 0.05, .seed = 2,
	};
	run_lossy(&p);
}

static void test_lossy_reorder_and_dup(void **state)
{
	(void)state;
	const struct sim_params p = {
		.bytes_per_s = 100000, .latency_us = 2000, .dup = 0.10, .reorder = 0.10,
		.reorder_us = 5000, .seed = 3,
	};
	run_lossy(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lossy_mixed),
		cmocka_unit_test(test_lossy_heavy_loss),
		cmocka_unit_test(test_lossy_reorder_and_dup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
