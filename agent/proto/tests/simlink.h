/*
 * A discrete-event simulation of a serial line between two ag_link
 * endpoints: a byte rate, a one-way latency, and seeded impairments (loss,
 * duplication, reordering, bit flips). Virtual time, so tests are exact and
 * fast and the goodput bench measures the protocol, not the machine.
 * Host-only test support.
 */
#ifndef AGENT_TESTS_SIMLINK_H
#define AGENT_TESTS_SIMLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/link.h"

#define SIM_QUEUE 512

struct sim_params {
	uint32_t bytes_per_s; /* 0: infinitely fast */
	uint32_t latency_us;  /* one way */
	double drop;          /* per frame, each direction */
	double dup;
	double reorder;       /* frame delayed by up to reorder_us extra */
	uint32_t reorder_us;
	double flip;          /* 1..3 bits of the frame flipped */
	uint64_t seed;
};

struct sim_pkt {
	uint64_t at_us;
	uint16_t len;
	uint8_t data[AG_FRAME_WIRE(AG_FRAME_MAX)];
};

struct sim;

struct sim_end {
	struct ag_link link;
	struct sim *sim;
	int idx;
	int ups, resets;
	void (*recv)(struct sim_end *e, const uint8_t *msg, size_t len);
	void *user;
	/* An endpoint other than the built-in link (an agent, say): bytes that
	 * arrive go to input() and timers run through poll(), which returns ms
	 * until it next needs to; it writes with sim_write(). */
	void (*input)(struct sim_end *e, const uint8_t *buf, size_t len, uint32_t now_ms);
	uint32_t (*poll)(struct sim_end *e, uint32_t now_ms);
};

struct sim_dir {
	uint64_t line_free_us;
	unsigned n;
	struct sim_pkt q[SIM_QUEUE];
	/* what the impairments did */
	unsigned dropped, duplicated, reordered, flipped, overflow;
};

struct sim {
	uint64_t now_us;
	struct sim_params p;
	uint64_t rng;
	struct sim_end end[2];
	struct sim_dir dir[2]; /* dir[i]: frames written by end[i] */
	uint64_t wake_us;      /* the pump's own next deadline, if it sets one */
};

/* Sets up both endpoints (closed links with the default config, window and
 * nonces distinct) and the line. */
void sim_init(struct sim *s, const struct sim_params *p, const struct ag_link_config *cfg);

/* Runs until done(s, arg) is true or the virtual clock reaches limit_us.
 * pump(s, arg), if given, is called after every event so the caller can send;
 * it may set s->wake_us to be called again at that time.
 * Returns true if done() became true. */
bool sim_run(struct sim *s, uint64_t limit_us, bool (*done)(struct sim *, void *),
	     void (*pump)(struct sim *, void *), void *arg);

uint32_t sim_now_ms(const struct sim *s);
/* Puts bytes on the line from end @p from, with the line's impairments. */
int sim_write(struct sim *s, int from, const uint8_t *buf, size_t len);
uint64_t sim_rand(struct sim *s);

#endif
