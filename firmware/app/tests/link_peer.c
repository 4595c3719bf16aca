#include "link_peer.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/link.h"

static uint32_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

struct peer {
	int fd;
	struct ag_link link;
	struct peer_result *res;
};

static int peer_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct peer *p = ctx;
	while (len) {
		ssize_t n = write(p->fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = {p->fd, POLLOUT, 0};
			poll(&pfd, 1, 100);
			continue;
		}
		if (n <= 0)
			return -5; /* AG_EIO */
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void peer_recv(void *ctx, const uint8_t *msg, size_t len)
{
	struct peer *p = ctx;
	struct ag_msg m;
	if (ag_msg_decode(msg, len, &m) != 0) {
		p->res->errors++;
		return;
	}
	switch (m.type) {
	case AG_MSG_HELLO: {
		if (p->res->hello++ == 0)
			p->res->first = m.u.hello;
		struct ag_msg ack;
		memset(&ack, 0, sizeof(ack));
		ack.type = AG_MSG_HELLO_ACK;
		ack.u.hello_ack.max_frame = AG_FRAME_DEFAULT;
		ack.u.hello_ack.heartbeat_s = 1;
		uint8_t buf[AG_LINK_MSG_MAX];
		int n = ag_msg_encode(&ack, buf, sizeof(buf));
		if (n > 0)
			(void)ag_link_send(&p->link, buf, (size_t)n, now_ms());
		break;
	}
	case AG_MSG_HEARTBEAT:
		if (p->res->heartbeats++ == 0)
			p->res->first_uptime = m.u.heartbeat.uptime_s;
		p->res->last_uptime = m.u.heartbeat.uptime_s;
		p->res->n_stacks = m.u.heartbeat.n_stacks;
		break;
	case AG_MSG_TELEMETRY:
		p->res->telemetry++;
		break;
	default:
		break;
	}
}

int peer_run(int fd, int want_heartbeats, int timeout_ms, struct peer_result *res)
{
	static const struct ag_link_ops ops = {peer_write, peer_recv, NULL};
	struct peer p;
	struct ag_link_config cfg;
	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	p.fd = fd;
	p.res = res;
	ag_link_config_default(&cfg);
	cfg.nonce = now_ms() ^ 0xa5a5u;
	if (ag_link_init(&p.link, &cfg, &ops, &p) != 0)
		return -EINVAL;
	uint32_t end = now_ms() + (uint32_t)timeout_ms;
	while ((int32_t)(end - now_ms()) > 0) {
		if (res->hello && res->heartbeats >= want_heartbeats)
			return 0;
		struct pollfd pfd = {fd, POLLIN, 0};
		int rc = poll(&pfd, 1, 20);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && (pfd.revents & POLLIN)) {
			uint8_t buf[512];
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n < 0 && errno != EAGAIN && errno != EINTR && errno != EIO)
				return -errno;
			if (n > 0)
				(void)ag_link_input(&p.link, buf, (size_t)n, now_ms());
		} else if (rc > 0 && (pfd.revents & (POLLHUP | POLLERR))) {
			usleep(20000); /* a pty before the other side opened it */
		}
		(void)ag_link_poll(&p.link, now_ms());
	}
	return -ETIMEDOUT;
}
