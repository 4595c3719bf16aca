/* A gateway-side endpoint for link tests: runs ag_link over a file
 * descriptor, answers hello with hello_ack, counts heartbeats. Test code,
 * Linux side. */
#ifndef APP_LINK_PEER_H
#define APP_LINK_PEER_H

#include <stdint.h>

#include "agent/msg.h"

struct peer_result {
	int hello;                 /* hellos received */
	struct ag_msg_hello first; /* the first hello */
	int heartbeats;
	uint32_t first_uptime, last_uptime;
	uint8_t n_stacks;
	int telemetry;
	int errors; /* messages that failed to decode */
};

/**
 * Talks to the device on @fd until @want_heartbeats heartbeats arrived
 * after a hello, or @timeout_ms passed. Returns 0 when done, -ETIMEDOUT,
 * or -errno of a read failure.
 */
int peer_run(int fd, int want_heartbeats, int timeout_ms, struct peer_result *res);

#endif
