/* libFuzzer: a link instance fed hostile bytes as a peer; it must not crash,
 * must stay consistent, and must keep answering. */
#include <stddef.h>
#include <stdint.h>

#include "agent/link.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t written;

static int sink(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	written += len;
	return 0;
}

static void reply(void *ctx, const uint8_t *msg, size_t len)
{
	struct ag_link *l = ctx;

	if (len == 0 || len > AG_LINK_MSG_MAX)
		__builtin_trap();
	(void)ag_link_send(l, msg, len, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ag_link l;
	struct ag_link_config cfg;
	struct ag_link_ops ops = { .write = sink, .recv = reply };
	uint32_t now = 0;

	ag_link_config_default(&cfg);
	if (ag_link_init(&l, &cfg, &ops, &l) != 0)
		__builtin_trap();
	if (size && (data[0] & 1))
		ag_link_open(&l, 0);
	while (size) {
		size_t n = size < 37 ? size : 37;

		ag_link_input(&l, data, n, now);
		now += 17;
		(void)ag_link_poll(&l, now);
		if (ag_link_in_flight(&l) > cfg.window)
			__builtin_trap();
		data += n;
		size -= n;
	}
	return 0;
}
