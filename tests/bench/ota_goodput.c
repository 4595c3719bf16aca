/*
 * OTA goodput: a 300 KiB transfer from the gateway's sender to a device's
 * agent over a simulated 115200-baud line (11,520 bytes/s raw) with 20 ms
 * one-way latency, as a percentage of the raw rate: offer, credit-based
 * chunks, acknowledgements, finish. Virtual time: it measures the protocol.
 * Also at 1 % frame loss. Prints `bench:` lines.
 */
#include <stdio.h>

#include "otasim.h"

#define SIZE (300u * 1024u)

static void run(const char *name, double loss)
{
	const struct sim_params p = {
		.bytes_per_s = 11520, .latency_us = 20000, .drop = loss, .seed = 11,
	};
	uint32_t first = 1;

	setup_line(&p, SIZE);
	/* From the first byte the device stored: hello and the handshake are
	 * not part of the transfer. */
	sim_run(&S, 60ull * 1000000u, acked_past, pump, &first);
	uint64_t t0 = S.now_us;
	uint32_t start_off = ag_ota_tx_acked(&G.tx);
	if (!sim_run(&S, t0 + 3600ull * 1000000u, tx_over, pump, NULL) ||
	    ag_ota_tx_state(&G.tx) != AG_OTA_TX_DONE) {
		fprintf(stderr, "ota %s: the transfer did not complete\n", name);
		return;
	}
	double secs = (double)(S.now_us - t0) / 1e6;
	double pct = 100.0 * (double)(SIZE - start_off) / (secs * 11520.0);
	printf("bench: ota_goodput_pct%s %.1f %%\n", name, pct);
	fprintf(stderr, "  ota%s: %u bytes in %.1f s virtual, %u chunks, %u bytes sent\n", name,
		SIZE - start_off, secs, G.tx.stats.chunks_sent, G.tx.stats.bytes_sent);
}

int main(void)
{
	run("", 0.0);
	run("_loss1", 0.01);
	return 0;
}
