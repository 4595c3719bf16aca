/* libFuzzer: what a device may send a gateway session. The input is a list
 * of messages ([length byte][bytes]...), sent through a device-side ag_link
 * into a real session (transport, device layer, registry in memory), then
 * the rest of the input as raw bytes on the stream. The session must answer
 * without crashing or leaking, and the device layer's counts stay sane. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/link.h"
#include "gateway/device.h"
#include "gateway/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gw_loop *loop;
static struct gw_registry *reg;
static struct gw_devices *devs;
static struct gw_transport *tr;
static int dev_fd = -1;

static int d_write(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	return write(dev_fd, buf, len) == (ssize_t)len ? 0 : -5;
}

static const struct ag_link_ops d_ops = {d_write, NULL, NULL};

static void pump(struct ag_link *l, int rounds)
{
	for (int i = 0; i < rounds; i++) {
		(void)gw_loop_run_once(loop, 0);
		uint8_t buf[4096];
		ssize_t n;
		while ((n = read(dev_fd, buf, sizeof(buf))) > 0)
			(void)ag_link_input(l, buf, (size_t)n, (uint32_t)gw_now_ms());
	}
}

static void setup(void)
{
	gw_log_set_level(GW_LOG_ERROR);
	struct gw_devices_config dc = {1, 256, 0};
	struct gw_transport_limits lim = {1000, 1u << 30, 100};
	if (gw_loop_new(&loop) || gw_registry_open(":memory:", &reg) ||
	    gw_devices_new(reg, &dc, &devs) ||
	    gw_transport_new(loop, gw_devices_transport_ops(), devs, &lim, &tr))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loop)
		setup();
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
		abort();
	dev_fd = sv[1];
	if (gw_transport_adopt(tr, sv[0], GW_TRANSPORT_TCP, "fuzz") != 0)
		abort();
	static struct ag_link l;
	struct ag_link_config lc;
	ag_link_config_default(&lc);
	lc.nonce = 1234;
	if (ag_link_init(&l, &lc, &d_ops, NULL) != 0)
		abort();
	(void)ag_link_open(&l, (uint32_t)gw_now_ms());
	pump(&l, 4);
	size_t pos = 0;
	while (pos < size && ag_link_is_up(&l)) {
		size_t n = data[pos++];
		if (n == 0 || n > size - pos || n > ag_link_msg_max(&l))
			break;
		for (int tries = 0; tries < 8 && ag_link_send_space(&l) == 0; tries++)
			pump(&l, 1);
		(void)ag_link_send(&l, data + pos, n, (uint32_t)gw_now_ms());
		pos += n;
		pump(&l, 2);
	}
	if (pos < size)
		(void)!write(dev_fd, data + pos, size - pos);
	pump(&l, 2);
	close(dev_fd);
	pump(&l, 2);
	gw_transport_tick(tr, gw_now_ms());
	gw_devices_tick(devs, gw_now_ms());
	if (gw_devices_online(devs) != 0 || gw_transport_links(tr, GW_TRANSPORT_TCP) != 0)
		abort(); /* the link is closed: nothing may stay online */
	if (gw_registry_count(reg) > 100000)
		(void)gw_registry_flush(reg);
	return 0;
}
