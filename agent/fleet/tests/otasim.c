/* Test support: an OTA sender (gateway side) and an agent (device side) on
 * the two ends of a simulated serial line. See otasim.h. */
#include "otasim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/err.h"

/* The harness's own invariants; a test's assertions stay in the test. */
#define CHECK(c)                                                                     \
	do {                                                                          \
		if (!(c)) {                                                           \
			fprintf(stderr, "otasim: %s:%d: %s\n", __FILE__, __LINE__, #c);  \
			abort();                                                      \
		}                                                                     \
	} while (0)

uint8_t image[OTASIM_MAX];
uint32_t image_size;

/* ---- the device: an agent storing into RAM ---- */

struct otasim_dev D;

static int dev_write(void *ctx, const uint8_t *b, size_t n)
{
	struct sim *s = ctx;
	if (D.dead)
		return 0;
	return sim_write(s, 1, b, n);
}

static void dev_slots(void *ctx, struct ag_slot_info sl[2], uint8_t *active)
{
	(void)ctx;
	memset(sl, 0, 2 * sizeof(*sl));
	*active = 0;
}

static int dev_begin(void *ctx, const struct ag_msg_ota_offer *o, uint32_t *ret_off)
{
	(void)ctx;
	if (D.begin_rc)
		return D.begin_rc;
	if (o->size > sizeof(D.store))
		return AG_ENOSPC;
	if (o->xfer != D.xfer) { /* a new transfer: start over */
		D.xfer = o->xfer;
		D.stored = 0;
	}
	*ret_off = D.stored;
	return 0;
}

static int dev_store(void *ctx, uint32_t off, const uint8_t *d, size_t n)
{
	(void)ctx;
	CHECK(off == D.stored);
	memcpy(D.store + off, d, n);
	D.stored += (uint32_t)n;
	return 0;
}

static int dev_finish(void *ctx, uint32_t size)
{
	(void)ctx;
	D.finished++;
	return size == image_size && memcmp(D.store, image, image_size) == 0 ? 0 : AG_EHASH;
}

static void dev_abort(void *ctx, int reason)
{
	(void)ctx;
	D.aborted = reason;
}

static const struct ag_agent_ops dev_ops = {
	.write = dev_write, .slots = dev_slots, .ota_begin = dev_begin,
	.ota_write = dev_store, .ota_finish = dev_finish, .ota_abort = dev_abort,
};

static void dev_input(struct sim_end *e, const uint8_t *b, size_t n, uint32_t now)
{
	(void)e;
	if (!D.dead)
		ag_agent_input(&D.agent, b, n, now);
}

static uint32_t dev_poll(struct sim_end *e, uint32_t now)
{
	(void)e;
	return D.dead ? UINT32_MAX : ag_agent_poll(&D.agent, now);
}

void dev_boot(struct sim *s)
{
	struct ag_agent_config cfg;
	struct ag_agent_identity id = { .device_id = "dev", .hw_id = "sim" };

	ag_agent_config_default(&cfg);
	cfg.link.nonce = (uint32_t)sim_rand(s);
	CHECK(ag_agent_init(&D.agent, &cfg, &id, &dev_ops, s) == 0);
	ag_agent_start(&D.agent, sim_now_ms(s));
}

/* ---- the gateway: a link, hello handling, the sender ---- */

struct otasim_gw G;

static int read_image(void *ctx, uint32_t off, uint8_t *buf, size_t len)
{
	(void)ctx;
	if (off + len > image_size)
		return AG_EINVAL;
	memcpy(buf, image + off, len);
	return 0;
}

static void gw_recv(struct sim_end *e, const uint8_t *b, size_t n)
{
	struct ag_msg m;
	uint32_t now = sim_now_ms(e->sim);

	CHECK(ag_msg_decode(b, n, &m) == 0);
	if (m.type == AG_MSG_HELLO) {
		struct ag_msg r = { .type = AG_MSG_HELLO_ACK };
		uint8_t buf[AG_LINK_MSG_MAX];

		G.hellos++;
		r.u.hello_ack.max_frame = AG_FRAME_DEFAULT;
		r.u.hello_ack.heartbeat_s = 30;
		int len = ag_msg_encode(&r, buf, sizeof(buf));
		CHECK(ag_link_send(&e->link, buf, (size_t)len, now) == 0);
		return;
	}
	ag_ota_tx_on_msg(&G.tx, &m, now);
}

static void start_tx(struct sim *s)
{
	struct ag_msg_ota_offer o;

	memset(&o, 0, sizeof(o));
	o.xfer = 42;
	o.slot = 1;
	o.size = image_size;
	o.image_size = image_size;
	o.chunk_max = 239;
	CHECK(ag_ota_tx_start(&G.tx, &o, read_image, NULL, 1000, 5, sim_now_ms(s)) == 0);
	G.started = true;
}

/* Pumps the sender and follows link resets; starts the transfer after hello. */
void pump(struct sim *s, void *arg)
{
	(void)arg;
	if (s->end[0].resets != G.resets_seen) {
		G.resets_seen = s->end[0].resets;
		ag_ota_tx_link_reset(&G.tx, sim_now_ms(s));
	}
	if (!G.started && G.hellos)
		start_tx(s);
	if (G.started) {
		uint32_t t = ag_ota_tx_pump(&G.tx, &s->end[0].link, sim_now_ms(s));

		if (t != UINT32_MAX)
			s->wake_us = s->now_us + (uint64_t)(t ? t : 1) * 1000u;
	}
}

bool tx_over(struct sim *s, void *arg)
{
	(void)s;
	(void)arg;
	return G.started && ag_ota_tx_over(&G.tx);
}

bool acked_past(struct sim *s, void *arg)
{
	(void)s;
	return G.started && ag_ota_tx_acked(&G.tx) >= *(uint32_t *)arg;
}

struct sim S;

void setup_line(const struct sim_params *p, uint32_t size)
{
	struct ag_link_config cfg;

	memset(&D, 0, sizeof(D));
	memset(&G, 0, sizeof(G));
	image_size = size;
	ag_link_config_default(&cfg);
	sim_init(&S, p, &cfg);
	S.end[0].recv = gw_recv;
	S.end[1].input = dev_input;
	S.end[1].poll = dev_poll;
	for (uint32_t i = 0; i < image_size; i++)
		image[i] = (uint8_t)((i * 2654435761u) >> 13);
	dev_boot(&S);
	ag_link_open(&S.end[0].link, 0);
}

