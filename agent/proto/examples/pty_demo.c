/*
 * flotilla-ptydemo: a gateway endpoint and a device endpoint talking the
 * Flotilla wire protocol over a real pty pair, each in its own process.
 *
 * The device says hello, sends heartbeats and telemetry, takes an OTA
 * transfer with credit-based flow control and checks its SHA-256, answers an
 * unknown message with an error, and on reboot opens a new link session.
 * The gateway injects line noise half-way to show the decoder
 * resynchronizing. Every message exchanged is printed.
 *
 * Exit status: 0 when every step completed and the image arrived intact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <mbedtls/version.h>

#include "agent/err.h"
#include "agent/link.h"
#include "agent/msg.h"

#define IMAGE_SIZE (48u * 1024u)
#define CREDIT 4u

static void sha256(const uint8_t *b, size_t n, uint8_t out[32])
{
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
	mbedtls_sha256(b, n, out, 0);
#else
	mbedtls_sha256_ret(b, n, out, 0);
#endif
}

static uint32_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

struct ep {
	const char *name;
	int fd;
	struct ag_link link;
	bool done, failed;
	/* device */
	uint32_t boot_count, last_hb, hb_sent, tm_sent;
	uint8_t image[IMAGE_SIZE];
	uint32_t got, xfer_size;
	uint8_t want_sha[32];
	/* gateway */
	uint32_t hellos, heartbeats, sent, acked, credit_end;
	bool offered, finished, noise_sent, rebooted;
};

static void say(struct ep *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct ep *e, const char *fmt, ...)
{
	va_list ap;

	printf("%-8s ", e->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static int fd_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct ep *e = ctx;

	while (len) {
		ssize_t n = write(e->fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = e->fd, .events = POLLOUT };
			if (poll(&p, 1, 200) <= 0)
				return AG_EIO;
			continue;
		}
		if (n < 0)
			return AG_EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void send_msg(struct ep *e, const struct ag_msg *m, bool quiet)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));

	if (n < 0) {
		say(e, "cannot encode %s: %s", ag_msg_type_name(m->type), ag_strerror(n));
		e->failed = true;
		return;
	}
	/* The window is 4 frames; wait for room as a real sender would. */
	uint32_t start = now_ms();
	int rc;
	while ((rc = ag_link_send(&e->link, buf, (size_t)n, now_ms())) == AG_EAGAIN &&
	       now_ms() - start < 5000) {
		struct pollfd p = { .fd = e->fd, .events = POLLIN };
		uint8_t in[512];
		ssize_t r;

		poll(&p, 1, (int)ag_link_poll(&e->link, now_ms()) > 50 ? 50 : 1);
		while ((r = read(e->fd, in, sizeof(in))) > 0)
			ag_link_input(&e->link, in, (size_t)r, now_ms());
		if (r == 0 || (r < 0 && errno != EAGAIN)) {
			e->done = true; /* the other side hung up */
			return;
		}
	}
	if (rc < 0) {
		say(e, "cannot send %s: %s", ag_msg_type_name(m->type), ag_strerror(rc));
		e->failed = true;
		return;
	}
	if (!quiet)
		say(e, "-> %s (%d bytes)", ag_msg_type_name(m->type), n);
}

/* ---- device ---- */

static void device_hello(struct ep *e)
{
	struct ag_msg m = { .type = AG_MSG_HELLO };
	struct ag_msg_hello *h = &m.u.hello;

	h->max_frame = AG_FRAME_MAX;
	h->caps = AG_CAP_DELTA | AG_CAP_TELEMETRY | AG_CAP_RESUME;
	h->boot_count = e->boot_count;
	h->active_slot = 0;
	h->slot[0].version = (struct ag_version){ 1, 0, 0, 1 };
	h->slot[0].state = AG_SLOT_CONFIRMED;
	h->slot[1].state = AG_SLOT_EMPTY;
	strcpy(h->device_id, "demo-0001");
	strcpy(h->hw_id, "sim");
	send_msg(e, &m, false);
}

static void device_recv(struct ep *e, const struct ag_msg *m)
{
	struct ag_msg r;

	memset(&r, 0, sizeof(r));
	switch (m->type) {
	case AG_MSG_HELLO_ACK:
		say(e, "<- hello_ack: max_frame %u, heartbeat every %u s", m->u.hello_ack.max_frame,
		    m->u.hello_ack.heartbeat_s);
		ag_link_set_max_frame(&e->link, m->u.hello_ack.max_frame);
		break;
	case AG_MSG_OTA_OFFER:
		say(e, "<- ota_offer: xfer %u, slot %c, %u bytes, version %u.%u.%u+%u",
		    m->u.ota_offer.xfer, 'A' + m->u.ota_offer.slot, m->u.ota_offer.size,
		    m->u.ota_offer.version.major, m->u.ota_offer.version.minor,
		    m->u.ota_offer.version.patch, m->u.ota_offer.version.build);
		e->got = 0;
		e->xfer_size = m->u.ota_offer.size;
		memcpy(e->want_sha, m->u.ota_offer.sha256, 32);
		r.type = AG_MSG_OTA_ACK;
		r.u.ota_ack = (struct ag_msg_ota_ack){ m->u.ota_offer.xfer, 0, 0, CREDIT };
		r.u.ota_ack.status = e->xfer_size > IMAGE_SIZE ? AG_ENOSPC : 0;
		send_msg(e, &r, false);
		break;
	case AG_MSG_OTA_CHUNK: {
		const struct ag_msg_ota_chunk *c = &m->u.ota_chunk;

		r.type = AG_MSG_OTA_ACK;
		if (c->offset != e->got || c->offset + c->len > e->xfer_size) {
			r.u.ota_ack = (struct ag_msg_ota_ack){ c->xfer, e->got, 0, CREDIT };
		} else {
			memcpy(e->image + e->got, c->data, c->len);
			e->got += c->len;
			r.u.ota_ack = (struct ag_msg_ota_ack){ c->xfer, e->got, 0, CREDIT };
		}
		send_msg(e, &r, true);
		break;
	}
	case AG_MSG_OTA_FINISH: {
		uint8_t sha[32];

		sha256(e->image, e->got, sha);
		r.type = AG_MSG_OTA_ACK;
		r.u.ota_ack.xfer = m->u.ota_finish.xfer;
		r.u.ota_ack.offset = e->got;
		r.u.ota_ack.status = (int16_t)(e->got == m->u.ota_finish.size &&
							   memcmp(sha, e->want_sha, 32) == 0
						       ? 0
						       : AG_EHASH);
		say(e, "<- ota_finish: %u bytes received, sha256 %s", e->got,
		    r.u.ota_ack.status ? "MISMATCH" : "matches the offer");
		send_msg(e, &r, false);
		break;
	}
	case AG_MSG_REBOOT:
		say(e, "<- reboot: restarting; a new link session follows");
		e->boot_count++;
		e->hb_sent = e->tm_sent = 0;
		ag_link_open(&e->link, now_ms());
		break;
	default:
		say(e, "<- %s", ag_msg_type_name(m->type));
		break;
	}
}

static void device_tick(struct ep *e)
{
	if (e->done || !ag_link_is_up(&e->link) || now_ms() - e->last_hb < 100 || e->hb_sent >= 3)
		return;
	struct ag_msg m = { .type = AG_MSG_HEARTBEAT };

	e->last_hb = now_ms();
	m.u.heartbeat.uptime_s = e->hb_sent;
	m.u.heartbeat.boot_count = e->boot_count;
	m.u.heartbeat.n_stacks = 2;
	m.u.heartbeat.stacks[0] = (struct ag_stack_mark){ 0, 412, 1024 };
	m.u.heartbeat.stacks[1] = (struct ag_stack_mark){ 1, 188, 512 };
	send_msg(e, &m, false);
	e->hb_sent++;
	if (e->tm_sent < 1) {
		struct ag_msg t = { .type = AG_MSG_TELEMETRY };

		t.u.telemetry.seq = e->tm_sent++;
		t.u.telemetry.n = 2;
		strcpy(t.u.telemetry.m[0].name, "temp_mc");
		t.u.telemetry.m[0].value = 23400;
		strcpy(t.u.telemetry.m[1].name, "vbat_mv");
		t.u.telemetry.m[1].value = 3290;
		send_msg(e, &t, false);
	}
}

/* ---- gateway ---- */

static uint8_t image_byte(uint32_t i)
{
	return (uint8_t)((i * 2654435761u) >> 24);
}

static void gateway_stream(struct ep *e)
{
	/* Send chunks up to the device's credit. */
	while (e->offered && !e->finished && e->sent < IMAGE_SIZE && e->sent < e->credit_end) {
		struct ag_msg m = { .type = AG_MSG_OTA_CHUNK };
		uint8_t data[AG_LINK_MSG_MAX];
		uint32_t n = (uint32_t)ag_link_msg_max(&e->link) - 10;

		if (n > IMAGE_SIZE - e->sent)
			n = IMAGE_SIZE - e->sent;
		for (uint32_t i = 0; i < n; i++)
			data[i] = image_byte(e->sent + i);
		m.u.ota_chunk = (struct ag_msg_ota_chunk){ 7, e->sent, (uint16_t)n, data };
		send_msg(e, &m, true);
		e->sent += n;
		if (!e->noise_sent && e->sent >= IMAGE_SIZE / 2) {
			static const uint8_t noise[] = "\x13\x37 line noise \xa0\xa1\xff\x42";
			say(e, "   (injecting %zu bytes of line noise)", sizeof(noise));
			fd_write(e, noise, sizeof(noise));
			e->noise_sent = true;
		}
	}
	if (e->offered && !e->finished && e->acked == IMAGE_SIZE) {
		struct ag_msg m = { .type = AG_MSG_OTA_FINISH };

		m.u.ota_finish = (struct ag_msg_ota_finish){ 7, IMAGE_SIZE };
		say(e, "   all %u bytes acknowledged", IMAGE_SIZE);
		send_msg(e, &m, false);
		e->finished = true;
	}
}

static void gateway_recv(struct ep *e, const struct ag_msg *m)
{
	struct ag_msg r;

	memset(&r, 0, sizeof(r));
	switch (m->type) {
	case AG_MSG_HELLO: {
		const struct ag_msg_hello *h = &m->u.hello;

		e->hellos++;
		say(e, "<- hello: device %s, hw %s, boot %u, active slot %c (%u.%u.%u+%u, state %u), "
		       "max_frame %u",
		    h->device_id, h->hw_id, h->boot_count, 'A' + h->active_slot,
		    h->slot[h->active_slot].version.major, h->slot[h->active_slot].version.minor,
		    h->slot[h->active_slot].version.patch, h->slot[h->active_slot].version.build,
		    h->slot[h->active_slot].state, h->max_frame);
		r.type = AG_MSG_HELLO_ACK;
		r.u.hello_ack.proto_minor = 0;
		r.u.hello_ack.max_frame = h->max_frame < AG_FRAME_MAX ? h->max_frame : AG_FRAME_MAX;
		r.u.hello_ack.heartbeat_s = 30;
		send_msg(e, &r, false);
		ag_link_set_max_frame(&e->link, r.u.hello_ack.max_frame);
		if (e->rebooted)
			e->done = true;
		break;
	}
	case AG_MSG_HEARTBEAT:
		e->heartbeats++;
		say(e, "<- heartbeat: uptime %u s, boot %u, stack 0 high-water %u/%u bytes",
		    m->u.heartbeat.uptime_s, m->u.heartbeat.boot_count,
		    m->u.heartbeat.stacks[0].used, m->u.heartbeat.stacks[0].size);
		if (e->heartbeats == 2) {
			/* A type this protocol version does not know. */
			uint8_t bogus[] = { AG_PROTO_VERSION, 0x66, 1, 2, 3 };
			say(e, "-> message of unknown type 0x66");
			ag_link_send(&e->link, bogus, sizeof(bogus), now_ms());
		}
		if (e->heartbeats == 3 && !e->offered) {
			r.type = AG_MSG_OTA_OFFER;
			r.u.ota_offer.xfer = 7;
			r.u.ota_offer.slot = 1;
			r.u.ota_offer.kind = AG_OTA_FULL;
			r.u.ota_offer.version = (struct ag_version){ 1, 1, 0, 2 };
			r.u.ota_offer.size = IMAGE_SIZE;
			r.u.ota_offer.image_size = IMAGE_SIZE;
			r.u.ota_offer.chunk_max = (uint16_t)(ag_link_msg_max(&e->link) - 10);
			uint8_t *img = malloc(IMAGE_SIZE);
			if (!img) {
				e->failed = true;
				return;
			}
			for (uint32_t i = 0; i < IMAGE_SIZE; i++)
				img[i] = image_byte(i);
			sha256(img, IMAGE_SIZE, r.u.ota_offer.sha256);
			free(img);
			send_msg(e, &r, false);
		}
		break;
	case AG_MSG_TELEMETRY:
		say(e, "<- telemetry: %s=%d %s=%d", m->u.telemetry.m[0].name, m->u.telemetry.m[0].value,
		    m->u.telemetry.m[1].name, m->u.telemetry.m[1].value);
		break;
	case AG_MSG_ERROR:
		say(e, "<- error: %s (code %d) for message type 0x%02x", ag_strerror(m->u.error.code),
		    m->u.error.code, m->u.error.ref_type);
		break;
	case AG_MSG_OTA_ACK: {
		const struct ag_msg_ota_ack *a = &m->u.ota_ack;

		if (a->status) {
			say(e, "<- ota_ack: device refused: %s", ag_strerror(a->status));
			e->failed = true;
			break;
		}
		if (!e->offered) {
			say(e, "<- ota_ack: accepted from offset %u, credit %u", a->offset, a->credit);
			e->offered = true;
			e->sent = a->offset;
		} else if (e->finished) {
			say(e, "<- ota_ack: image verified by the device");
			r.type = AG_MSG_REBOOT;
			r.u.reboot.delay_ms = 0;
			send_msg(e, &r, false);
			e->rebooted = true;
			break;
		}
		uint32_t before = e->acked;
		e->acked = a->offset;
		e->credit_end = a->offset + a->credit * (uint32_t)(ag_link_msg_max(&e->link) - 10);
		if (before / 8192 != e->acked / 8192)
			say(e, "<- ota_ack: %u / %u bytes", e->acked, IMAGE_SIZE);
		break;
	}
	default:
		say(e, "<- %s", ag_msg_type_name(m->type));
		break;
	}
}

/* ---- shared ---- */

static void on_recv(void *ctx, const uint8_t *buf, size_t len)
{
	struct ep *e = ctx;
	struct ag_msg m;
	int rc = ag_msg_decode(buf, len, &m);

	if (rc < 0) {
		struct ag_msg err;

		say(e, "<- undecodable message (type 0x%02x): %s; answering with an error",
		    len > 1 ? buf[1] : 0, ag_strerror(rc));
		ag_msg_make_error(rc, buf, len, &err);
		send_msg(e, &err, false);
		return;
	}
	if (e->fd && strcmp(e->name, "device") == 0)
		device_recv(e, &m);
	else
		gateway_recv(e, &m);
}

static void on_event(void *ctx, int ev)
{
	struct ep *e = ctx;

	if (ev == AG_LINK_EV_RESET)
		say(e, "   link: peer started a new session");
	if (ev == AG_LINK_EV_UP) {
		say(e, "   link: up");
		if (strcmp(e->name, "device") == 0)
			device_hello(e);
	}
}

static const struct ag_link_ops ops = { .write = fd_write, .recv = on_recv, .event = on_event };

static int run(struct ep *e, bool device)
{
	struct ag_link_config cfg;
	uint32_t start = now_ms();

	ag_link_config_default(&cfg);
	cfg.nonce = (uint32_t)getpid() * 2654435761u;
	ag_link_init(&e->link, &cfg, &ops, e);
	ag_link_open(&e->link, now_ms());
	while (!e->done && !e->failed) {
		struct pollfd p = { .fd = e->fd, .events = POLLIN };
		uint32_t wait = ag_link_poll(&e->link, now_ms());
		uint8_t buf[1024];
		ssize_t n;

		if (now_ms() - start > 30000) {
			say(e, "timed out");
			return 1;
		}
		if (device)
			device_tick(e);
		else
			gateway_stream(e);
		poll(&p, 1, wait > 20 ? 20 : (int)wait);
		while ((n = read(e->fd, buf, sizeof(buf))) > 0)
			ag_link_input(&e->link, buf, (size_t)n, now_ms());
		if (n == 0 || (n < 0 && errno != EAGAIN))
			e->done = true; /* the other side hung up */
	}
	if (!device && !e->rebooted) {
		say(e, "the device hung up early");
		e->failed = true;
	}
	{
		const struct ag_link_stats *s = &e->link.stats;

		printf("\nlink statistics, %s side: %u frames in, %u out, %u bytes in, %u out,\n"
		       "  %u retransmits, %u duplicates, dropped frames: %u bad crc, %u truncated,"
		       " %u garbage, %u oversized\n",
		       e->name, s->frames_in, s->frames_out, s->bytes_in, s->bytes_out, s->retransmits,
		       s->duplicates, s->err_crc, s->err_trunc, s->err_garbage, s->err_toobig);
	}
	return e->failed;
}

int main(int argc, char **argv)
{
	static struct ep dev = { .name = "device" }, gw = { .name = "gateway" };
	struct termios tio;
	int master, slave, status = 0;
	pid_t pid;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		printf("usage: %s\n\nRuns a gateway and a device endpoint over a pty pair and prints\n"
		       "every message they exchange. Exit status 0 when all steps succeed.\n",
		       argv[0]);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
		perror("openpty");
		return 1;
	}
	tcgetattr(slave, &tio);
	cfmakeraw(&tio);
	tcsetattr(slave, TCSANOW, &tio);
	printf("pty pair: gateway on the master side, device on %s (raw mode)\n\n",
	       ttyname(slave));

	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(master);
		dev.fd = slave;
		fcntl(slave, F_SETFL, O_NONBLOCK);
		_exit(run(&dev, true));
	}
	close(slave);
	gw.fd = master;
	fcntl(master, F_SETFL, O_NONBLOCK);
	int rc = run(&gw, false);
	close(master);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	bool ok = rc == 0 && gw.done && gw.hellos == 2 && gw.noise_sent;
	printf("\n%s\n", ok ? "demo: OK: hello, heartbeats, telemetry, an error reply, a 48 KiB "
			      "transfer through line noise with its SHA-256 verified, and a new "
			      "session after reboot"
			    : "demo: FAILED");
	return ok ? 0 : 1;
}
