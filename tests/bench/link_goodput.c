/*
 * Goodput of the reliable link over a simulated serial line: 115200 baud 8N1
 * (11,520 bytes/s raw), 20 ms one-way latency, frame loss 0 % and 1 % in
 * both directions. The simulation runs in virtual time, so the figure
 * measures the protocol (framing overhead, window, acknowledgements,
 * retransmission), not the machine.
 *
 * Prints `bench: <name> <value> <unit>` lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/link.h"
#include "simlink.h"

#define BAUD_BYTES 11520u
#define SECONDS 600u
#define OTA_CHUNK_HDR 10u /* version, type, xfer, offset */

struct run {
	uint64_t delivered;
	uint64_t msgs;
};

static void on_recv(struct sim_end *e, const uint8_t *msg, size_t len)
{
	struct run *r = e->user;

	(void)msg;
	r->delivered += len;
	r->msgs++;
}

static void pump(struct sim *s, void *arg)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	size_t len = ag_link_msg_max(&s->end[0].link);

	(void)arg;
	memset(buf, 0x5a, len);
	while (ag_link_is_up(&s->end[0].link) && ag_link_send_space(&s->end[0].link))
		ag_link_send(&s->end[0].link, buf, len, sim_now_ms(s));
}

static void run(const char *name, double loss, uint64_t seed)
{
	static struct sim s;
	struct ag_link_config cfg;
	struct sim_params p = {
		.bytes_per_s = BAUD_BYTES, .latency_us = 20000, .drop = loss, .seed = seed,
	};
	struct run r = { 0 };
	uint64_t start_us;
	double secs, pct, data_pct;

	ag_link_config_default(&cfg);
	sim_init(&s, &p, &cfg);
	s.end[1].recv = on_recv;
	s.end[1].user = &r;
	ag_link_open(&s.end[0].link, 0);
	/* Count from the first message on: the handshake is not goodput. */
	while (!ag_link_is_up(&s.end[0].link))
		sim_run(&s, s.now_us + 1000, NULL, NULL, NULL);
	start_us = s.now_us;
	sim_run(&s, start_us + (uint64_t)SECONDS * 1000000u, NULL, pump, NULL);
	secs = (double)(s.now_us - start_us) / 1e6;
	pct = 100.0 * (double)r.delivered / ((double)BAUD_BYTES * secs);
	data_pct = 100.0 * (double)(r.delivered - r.msgs * OTA_CHUNK_HDR) /
		   ((double)BAUD_BYTES * secs);
	printf("bench: link_goodput_pct_%s %.1f %%\n", name, pct);
	printf("bench: link_ota_data_goodput_pct_%s %.1f %%\n", name, data_pct);
	fprintf(stderr,
		"  %s: %.0f s virtual, %llu msgs of %zu bytes, retransmits %u, frames lost %u+%u\n",
		name, secs, (unsigned long long)r.msgs, ag_link_msg_max(&s.end[0].link),
		s.end[0].link.stats.retransmits, s.dir[0].dropped, s.dir[1].dropped);
}

int main(void)
{
	run("loss0", 0.0, 1);
	run("loss1", 0.01, 1);
	return 0;
}
