/*
 * Test support for OTA transfers end to end: the gateway's sender
 * (ag_ota_tx) on end 0 of a simulated line, the device's agent (ag_agent)
 * storing into memory on end 1. Globals, one transfer at a time: for tests
 * and benches only.
 */
#ifndef AGENT_TESTS_OTASIM_H
#define AGENT_TESTS_OTASIM_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/ota_tx.h"
#include "simlink.h"

#define OTASIM_MAX (512u * 1024u)

struct otasim_dev {
	struct ag_agent agent;
	uint8_t store[OTASIM_MAX];
	uint32_t stored;   /* survives a "reboot" */
	uint32_t xfer;
	int begin_rc, aborted, finished;
	bool dead;         /* stops answering */
};

struct otasim_gw {
	struct ag_ota_tx tx;
	bool started;
	int hellos;
	int resets_seen;
};

extern struct otasim_dev D;
extern struct otasim_gw G;
extern struct sim S;
extern uint8_t image[OTASIM_MAX];
extern uint32_t image_size;

/* A fresh line, device and gateway; the image is @p size bytes of a pattern.
 * The transfer starts once the device has said hello. */
void setup_line(const struct sim_params *p, uint32_t size);
/* The device boots again: a new agent; what it stored is kept. */
void dev_boot(struct sim *s);
/* sim_run() helpers. */
void pump(struct sim *s, void *arg);
bool tx_over(struct sim *s, void *arg);
bool acked_past(struct sim *s, void *arg); /* arg: uint32_t offset */

#endif
