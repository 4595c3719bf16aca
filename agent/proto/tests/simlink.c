#include "simlink.h"

#include <string.h>

uint64_t sim_rand(struct sim *s)
{
	/* xorshift64* */
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dull;
}

static bool chance(struct sim *s, double p)
{
	return p > 0 && (double)(sim_rand(s) >> 11) / (double)(1ull << 53) < p;
}

uint32_t sim_now_ms(const struct sim *s)
{
	return (uint32_t)(s->now_us / 1000u);
}

static void enqueue(struct sim *s, struct sim_dir *d, const uint8_t *buf, size_t len,
		    uint64_t at)
{
	struct sim_pkt *p;

	if (d->n == SIM_QUEUE) {
		d->overflow++;
		return;
	}
	p = &d->q[d->n++];
	p->at_us = at;
	p->len = (uint16_t)len;
	memcpy(p->data, buf, len);
	if (chance(s, s->p.flip)) {
		int bits = 1 + (int)(sim_rand(s) % 3);

		for (int i = 0; i < bits; i++) {
			size_t bit = (size_t)(sim_rand(s) % (len * 8));

			p->data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		d->flipped++;
	}
}

static int end_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct sim_end *e = ctx;

	return sim_write(e->sim, e->idx, buf, len);
}

int sim_write(struct sim *s, int from, const uint8_t *buf, size_t len)
{
	struct sim_dir *d = &s->dir[from];
	uint64_t start = s->now_us > d->line_free_us ? s->now_us : d->line_free_us;
	uint64_t done = start;
	uint64_t at;

	if (s->p.bytes_per_s)
		done += (uint64_t)len * 1000000u / s->p.bytes_per_s;
	d->line_free_us = done;
	at = done + s->p.latency_us;
	if (chance(s, s->p.drop)) {
		d->dropped++;
		return 0;
	}
	if (chance(s, s->p.reorder) && s->p.reorder_us) {
		at += 1 + sim_rand(s) % s->p.reorder_us;
		d->reordered++;
	}
	enqueue(s, d, buf, len, at);
	if (chance(s, s->p.dup)) {
		enqueue(s, d, buf, len, at + 1 + sim_rand(s) % 1000u);
		d->duplicated++;
	}
	return 0;
}

static void end_recv(void *ctx, const uint8_t *msg, size_t len)
{
	struct sim_end *e = ctx;

	if (e->recv)
		e->recv(e, msg, len);
}

static void end_event(void *ctx, int ev)
{
	struct sim_end *e = ctx;

	if (ev == AG_LINK_EV_UP)
		e->ups++;
	else if (ev == AG_LINK_EV_RESET)
		e->resets++;
}

static const struct ag_link_ops sim_ops = {
	.write = end_write,
	.recv = end_recv,
	.event = end_event,
};

void sim_init(struct sim *s, const struct sim_params *p, const struct ag_link_config *cfg)
{
	struct ag_link_config c = *cfg;

	memset(s, 0, sizeof(*s));
	s->p = *p;
	s->rng = p->seed ? p->seed : 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 2; i++) {
		s->end[i].sim = s;
		s->end[i].idx = i;
		c.nonce = cfg->nonce + (uint32_t)i * 7919u;
		ag_link_init(&s->end[i].link, &c, &sim_ops, &s->end[i]);
	}
}

/* Index of the earliest packet in d, or -1. */
static int earliest(const struct sim_dir *d)
{
	int best = -1;

	for (unsigned i = 0; i < d->n; i++)
		if (best < 0 || d->q[i].at_us < d->q[best].at_us)
			best = (int)i;
	return best;
}

bool sim_run(struct sim *s, uint64_t limit_us, bool (*done)(struct sim *, void *),
	     void (*pump)(struct sim *, void *), void *arg)
{
	for (;;) {
		uint64_t next = UINT64_MAX;

		if (pump)
			pump(s, arg);
		if (done && done(s, arg))
			return true;
		for (int i = 0; i < 2; i++) {
			/* Poll first: a retransmission enqueues a packet. */
			struct sim_end *e = &s->end[i];
			uint32_t t = e->poll ? e->poll(e, sim_now_ms(s))
					     : ag_link_poll(&e->link, sim_now_ms(s));
			int k = earliest(&s->dir[i]);

			if (k >= 0 && s->dir[i].q[k].at_us < next)
				next = s->dir[i].q[k].at_us;
			if (t != UINT32_MAX && s->now_us + (uint64_t)t * 1000u < next)
				next = s->now_us + (uint64_t)t * 1000u;
		}
		if (s->wake_us > s->now_us && s->wake_us < next)
			next = s->wake_us;
		if (next == UINT64_MAX || next > limit_us) {
			if (limit_us > s->now_us)
				s->now_us = limit_us; /* nothing happens until then */
			return false;
		}
		if (next > s->now_us)
			s->now_us = next;
		for (int i = 0; i < 2; i++) {
			struct sim_dir *d = &s->dir[i];
			int k;

			while ((k = earliest(d)) >= 0 && d->q[k].at_us <= s->now_us) {
				struct sim_pkt pkt = d->q[k];

				d->q[k] = d->q[--d->n];
				struct sim_end *to = &s->end[1 - i];

				if (to->input)
					to->input(to, pkt.data, pkt.len, sim_now_ms(s));
				else
					ag_link_input(&to->link, pkt.data, pkt.len, sim_now_ms(s));
			}
		}
	}
}
