/* The agent coroutine: opens the link on the UART, says hello when the
 * session is up, then sends heartbeats and the pipeline's reports. */
#include <string.h>

#include "agent/err.h"
#include "agent/link.h"
#include "agent/msg.h"
#include "app/app.h"
#include "app_internal.h"
#include "hal/sys.h"
#include "hal/uart.h"
#include "rt/event.h"
#include "rt/rt.h"

#define EV_RX 1u
#define EV_REPORT 2u

RT_STACK_DEFINE(agent_stack, APP_STACK_BYTES * 2);

static struct {
	const struct app_config *cfg;
	struct ag_link link;
	struct rt_event ev;
	uint32_t heartbeat_ms;
	uint32_t next_hb;
	uint32_t heartbeats;
	uint32_t errors;
	int ready; /* hello acknowledged */
	int say_hello;
} ag;

void app__agent_kick(void)
{
	rt_event_set(&ag.ev, EV_REPORT);
}

uint32_t app_heartbeats(void)
{
	return ag.heartbeats;
}

int app_link_ready(void)
{
	return ag.ready;
}

static int link_write(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	return hal_uart_write(HAL_UART_LINK, buf, len);
}

static int send_msg(const struct ag_msg *m)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return n;
	int rc = ag_link_send(&ag.link, buf, (size_t)n, hal_clock_ms());
	if (rc)
		ag.errors++;
	return rc;
}

static void link_recv(void *ctx, const uint8_t *msg, size_t len)
{
	(void)ctx;
	struct ag_msg m;
	int rc = ag_msg_decode(msg, len, &m);
	if (rc) {
		struct ag_msg e;
		ag.errors++;
		ag_msg_make_error(rc, msg, len, &e);
		(void)send_msg(&e);
		return;
	}
	if (m.type == AG_MSG_HELLO_ACK) {
		ag.ready = 1;
		if (m.u.hello_ack.heartbeat_s)
			ag.heartbeat_ms = m.u.hello_ack.heartbeat_s * 1000u;
		(void)ag_link_set_max_frame(&ag.link, m.u.hello_ack.max_frame);
		ag.next_hb = hal_clock_ms(); /* first heartbeat at once */
	}
}

static void link_event(void *ctx, int event)
{
	(void)ctx;
	/* A new session (ours or the gateway's): introduce ourselves. */
	if (event == AG_LINK_EV_UP || event == AG_LINK_EV_RESET) {
		ag.ready = 0;
		ag.say_hello = 1;
	}
}

static void copy_id(char *dst, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n > AG_ID_MAX)
		n = AG_ID_MAX;
	memcpy(dst, src ? src : "", n);
	dst[n] = 0;
}

static void send_hello(void)
{
	struct ag_msg m;
	memset(&m, 0, sizeof(m));
	m.type = AG_MSG_HELLO;
	m.u.hello.proto_minor = 0;
	m.u.hello.max_frame = AG_FRAME_MAX;
	m.u.hello.caps = AG_CAP_TELEMETRY;
	const struct hal_crash *c = hal_last_crash();
	m.u.hello.boot_count = c ? c->count + 1u : 1u;
	m.u.hello.active_slot = ag.cfg->active_slot;
	m.u.hello.slot[ag.cfg->active_slot & 1u].state = AG_SLOT_CONFIRMED;
	m.u.hello.slot[ag.cfg->active_slot & 1u].version.major = 0;
	m.u.hello.slot[ag.cfg->active_slot & 1u].version.minor = 1;
	copy_id(m.u.hello.device_id, ag.cfg->device_id);
	copy_id(m.u.hello.hw_id, ag.cfg->hw_id);
	if (send_msg(&m) == 0)
		ag.say_hello = 0;
}

struct marks {
	struct ag_msg_heartbeat *hb;
	uint8_t id;
};

static void add_mark(const struct rt_co *co, void *arg)
{
	struct marks *mk = arg;
	uint8_t id = mk->id++;
	if (mk->hb->n_stacks >= AG_STACKS_MAX)
		return;
	struct ag_stack_mark *s = &mk->hb->stacks[mk->hb->n_stacks++];
	uint32_t used = rt_stack_used(co), size = (uint32_t)co->stack_words * 4u;
	s->id = id;
	s->used = (uint16_t)(used > 0xffffu ? 0xffffu : used);
	s->size = (uint16_t)(size > 0xffffu ? 0xffffu : size);
}

static void send_heartbeat(void)
{
	struct ag_msg m;
	memset(&m, 0, sizeof(m));
	m.type = AG_MSG_HEARTBEAT;
	const struct hal_crash *c = hal_last_crash();
	m.u.heartbeat.uptime_s = hal_clock_ms() / 1000u;
	m.u.heartbeat.boot_count = c ? c->count + 1u : 1u;
	m.u.heartbeat.crash_count = c ? c->count : 0u;
	m.u.heartbeat.error_count = ag.errors;
	m.u.heartbeat.reset_reason = (uint8_t)hal_reset_reason();
	struct marks mk = {&m.u.heartbeat, 0};
	rt_foreach(add_mark, &mk);
	if (send_msg(&m) == 0)
		ag.heartbeats++;
}

static void send_report(const struct app_report *r)
{
	static const char *const names[4] = {"mean", "min", "max", "count"};
	int32_t v[4] = {r->mean, r->min, r->max, (int32_t)r->count};
	struct ag_msg m;
	memset(&m, 0, sizeof(m));
	m.type = AG_MSG_TELEMETRY;
	m.u.telemetry.seq = r->seq;
	m.u.telemetry.n = 4;
	for (unsigned i = 0; i < 4; i++) {
		copy_id(m.u.telemetry.m[i].name, names[i]);
		m.u.telemetry.m[i].value = v[i];
	}
	(void)send_msg(&m);
}

static void agent_main(void *arg)
{
	(void)arg;
	static const struct ag_link_ops ops = {link_write, link_recv, link_event};
	struct ag_link_config lc;
	ag_link_config_default(&lc);
	lc.nonce = hal_clock_ms() ^ 0x5eed1234u;
	if (ag_link_init(&ag.link, &lc, &ops, NULL) != 0 ||
	    hal_uart_start(HAL_UART_LINK, &ag.ev, EV_RX) != 0) {
		hal_log("agent: cannot start the link\n");
		return;
	}
	(void)ag_link_open(&ag.link, hal_clock_ms());
	for (;;) {
		uint32_t now = hal_clock_ms();
		uint32_t wait_ms = ag_link_poll(&ag.link, now);
		if (ag.ready) {
			uint32_t to_hb = (int32_t)(ag.next_hb - now) > 0 ? ag.next_hb - now : 0;
			wait_ms = to_hb < wait_ms ? to_hb : wait_ms;
		}
		if (wait_ms > 1000u)
			wait_ms = 1000u;
		(void)rt_event_wait(&ag.ev, EV_RX | EV_REPORT, RT_EVENT_ANY | RT_EVENT_CLEAR,
				    RT_MS_TO_TICKS(wait_ms), NULL);
		uint8_t buf[128];
		int n;
		while ((n = hal_uart_read(HAL_UART_LINK, buf, sizeof(buf))) > 0)
			(void)ag_link_input(&ag.link, buf, (size_t)n, hal_clock_ms());
		now = hal_clock_ms();
		if (ag.say_hello && ag_link_is_up(&ag.link))
			send_hello();
		if (ag.ready && (int32_t)(now - ag.next_hb) >= 0 &&
		    ag_link_send_space(&ag.link) > 0) {
			send_heartbeat();
			ag.next_hb = now + ag.heartbeat_ms;
		}
		struct app_report r;
		while (ag.ready && ag_link_send_space(&ag.link) > 1 &&
		       rt_chan_try_recv(&app__report_ch, &r) == 0)
			send_report(&r);
	}
}

int app_start(const struct app_config *cfg)
{
	memset(&ag, 0, sizeof(ag));
	ag.cfg = cfg;
	ag.heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : 5000u;
	rt_event_init(&ag.ev);
	int rc = app__pipeline_start(cfg->sample_ms);
	if (rc)
		return rc;
	return rt_spawn("agent", agent_main, NULL, 4, agent_stack, sizeof(agent_stack), NULL);
}
