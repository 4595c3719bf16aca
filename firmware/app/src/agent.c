/* The agent coroutine: runs the fleet agent (ag_agent: hello, heartbeats,
 * OTA, activate, reboot) on the link UART, with OTA storage in the inactive
 * slot (boot_ota), sends the pipeline's reports as telemetry, and confirms a
 * trial image once it has proved itself: the pipeline produced a report and
 * the gateway answered hello. */
#include <string.h>

#include "agent/agent.h"
#include "agent/err.h"
#include "agent/image_key.h"
#include "agent/msg.h"
#include "app/app.h"
#include "app_internal.h"
#include "boot/boot.h"
#include "boot/ota.h"
#include "hal/flash.h"
#include "hal/sys.h"
#include "hal/uart.h"
#include "rt/event.h"
#include "rt/rt.h"

#define EV_RX 1u
#define EV_REPORT 2u

/* The agent verifies images (ECDSA) and applies patches on this stack. */
#ifdef __x86_64__
#define AGENT_STACK_BYTES (APP_STACK_BYTES * 2)
#else
#define AGENT_STACK_BYTES 6144
#endif

RT_STACK_DEFINE(agent_stack, AGENT_STACK_BYTES);

static struct {
	const struct app_config *cfg;
	struct ag_agent agent;
	struct boot_ota ota;
	struct rt_event ev;
	uint32_t reboot_at;
	uint8_t storage; /* boot_ota is usable */
	uint8_t reboot;  /* a reboot is scheduled at reboot_at */
	uint8_t trial;   /* running an image on trial: confirm when healthy */
	uint8_t reported; /* a report went out since boot */
} ag;

void app__agent_kick(void)
{
	rt_event_set(&ag.ev, EV_REPORT);
}

uint32_t app_heartbeats(void)
{
	return ag.agent.stats.heartbeats;
}

int app_link_ready(void)
{
	return ag_agent_is_ready(&ag.agent);
}

static int op_write(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	return hal_uart_write(HAL_UART_LINK, buf, len);
}

static void op_slots(void *ctx, struct ag_slot_info ret_slot[2], uint8_t *ret_active)
{
	(void)ctx;
	if (ag.storage) {
		boot_ota_agent_slots(&ag.ota, ret_slot, ret_active);
		return;
	}
	memset(ret_slot, 0, 2 * sizeof(*ret_slot));
	*ret_active = ag.cfg->active_slot & 1u;
	ret_slot[*ret_active].state = AG_SLOT_CONFIRMED;
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

static void op_health(void *ctx, struct ag_msg_heartbeat *hb)
{
	(void)ctx;
	const struct hal_crash *c = hal_last_crash();
	hb->crash_count = c ? c->count : 0u;
	hb->error_count = ag.agent.stats.errors_in + ag.agent.stats.errors_out;
	hb->reset_reason = (uint8_t)hal_reset_reason();
	struct marks mk = {hb, 0};
	rt_foreach(add_mark, &mk);
}

static int op_ota_begin(void *ctx, const struct ag_msg_ota_offer *offer, uint32_t *ret_offset)
{
	(void)ctx;
	return ag.storage ? boot_ota_begin(&ag.ota, offer, ret_offset) : AG_ESTATE;
}

static int op_ota_write(void *ctx, uint32_t offset, const uint8_t *data, size_t len)
{
	(void)ctx;
	return boot_ota_write(&ag.ota, offset, data, len);
}

static int op_ota_finish(void *ctx, uint32_t size)
{
	(void)ctx;
	return boot_ota_finish(&ag.ota, size);
}

static void op_ota_abort(void *ctx, int reason)
{
	(void)ctx;
	boot_ota_abort(&ag.ota, reason);
}

static int op_activate(void *ctx, uint8_t slot, bool permanent)
{
	(void)ctx;
	return ag.storage ? boot_activate(slot, permanent) : AG_ESTATE;
}

static void op_reboot(void *ctx, uint32_t delay_ms)
{
	(void)ctx;
	ag.reboot = 1;
	ag.reboot_at = hal_clock_ms() + delay_ms;
}

/* Trailers and OTA storage, when the board has slots and a trusted key. */
static void storage_start(void)
{
	static struct boot_config bc;
	const struct flash_area *fa;
	struct boot_trailer t;
	bc.key = &ag_image_builtin_key;
	bc.hw_id = ag.cfg->hw_id;
	for (uint8_t s = 0; s < BOOT_SLOT_COUNT; s++) {
		if (flash_area_open(s == 0 ? FLASH_AREA_SLOT_A : FLASH_AREA_SLOT_B, &fa) != 0)
			return;
		bc.slot_addr[s] = fa->fa_off; /* slots are linked at their flash address */
		flash_area_close(fa);
	}
	uint8_t running = ag.cfg->active_slot & 1u;
	if (boot_init(&bc) != 0 || boot_ota_init(&ag.ota, running) != 0)
		return;
	ag.storage = 1;
	ag.trial = boot_read_trailer(running, &t) == 0 && t.state == BOOT_STATE_TESTING;
}

static void maybe_confirm(void)
{
	if (!ag.trial || !ag.reported || !ag_agent_is_ready(&ag.agent))
		return;
	ag.trial = 0;
	uint8_t slot = ag.cfg->active_slot & 1u;
	int rc = boot_confirm(slot);
	uint8_t st[BOOT_SLOT_COUNT];
	struct ag_image_version v[BOOT_SLOT_COUNT];
	boot_slots_report(st, v);
	struct ag_version ver = {v[slot].major, v[slot].minor, v[slot].patch, v[slot].build};
	ag_agent_report_confirm(&ag.agent, slot, (int16_t)rc, &ver);
}

static void send_report(const struct app_report *r, uint32_t now)
{
	static const char *const names[4] = {"mean", "min", "max", "count"};
	int32_t v[4] = {r->mean, r->min, r->max, (int32_t)r->count};
	struct ag_msg_telemetry t;
	memset(&t, 0, sizeof(t));
	t.seq = r->seq;
	t.n = 4;
	for (unsigned i = 0; i < 4; i++) {
		strncpy(t.m[i].name, names[i], AG_METRIC_NAME_MAX);
		t.m[i].value = v[i];
	}
	if (ag_agent_send_telemetry(&ag.agent, &t, now) == 0)
		ag.reported = 1;
}

static void agent_main(void *arg)
{
	(void)arg;
	static const struct ag_agent_ops ops = {
		.write = op_write,
		.slots = op_slots,
		.health = op_health,
		.ota_begin = op_ota_begin,
		.ota_write = op_ota_write,
		.ota_finish = op_ota_finish,
		.ota_abort = op_ota_abort,
		.activate = op_activate,
		.reboot = op_reboot,
	};
	struct ag_agent_config ac;
	struct ag_agent_identity id;
	ag_agent_config_default(&ac);
	ac.link.nonce = hal_clock_ms() ^ 0x5eed1234u;
	ac.heartbeat_s = (uint16_t)((ag.cfg->heartbeat_ms + 999u) / 1000u);
	memset(&id, 0, sizeof(id));
	strncpy(id.device_id, ag.cfg->device_id, AG_ID_MAX);
	strncpy(id.hw_id, ag.cfg->hw_id, AG_ID_MAX);
	id.caps = AG_CAP_TELEMETRY;
	const struct hal_crash *c = hal_last_crash();
	id.boot_count = c ? c->count + 1u : 1u;
	storage_start();
	if (ag.storage)
		id.caps |= AG_CAP_DELTA | AG_CAP_RESUME;
	if (ag_agent_init(&ag.agent, &ac, &id, &ops, NULL) != 0 ||
	    hal_uart_start(HAL_UART_LINK, &ag.ev, EV_RX) != 0) {
		hal_log("agent: cannot start the link\n");
		return;
	}
	(void)ag_agent_start(&ag.agent, hal_clock_ms());
	for (;;) {
		uint32_t now = hal_clock_ms();
		uint32_t wait_ms = ag_agent_poll(&ag.agent, now);
		if (wait_ms > 1000u)
			wait_ms = 1000u;
		if (ag.reboot) {
			if ((int32_t)(now - ag.reboot_at) >= 0)
				hal_reset();
			uint32_t left = ag.reboot_at - now;
			wait_ms = left < wait_ms ? left : wait_ms;
		}
		(void)rt_event_wait(&ag.ev, EV_RX | EV_REPORT, RT_EVENT_ANY | RT_EVENT_CLEAR,
				    RT_MS_TO_TICKS(wait_ms), NULL);
		uint8_t buf[128];
		int n;
		while ((n = hal_uart_read(HAL_UART_LINK, buf, sizeof(buf))) > 0)
			ag_agent_input(&ag.agent, buf, (size_t)n, hal_clock_ms());
		now = hal_clock_ms();
		struct app_report r;
		/* Reports wait in their channel while the link window is full. */
		while (ag_agent_is_ready(&ag.agent) && ag_link_send_space(&ag.agent.link) > 1 &&
		       rt_chan_try_recv(&app__report_ch, &r) == 0)
			send_report(&r, now);
		maybe_confirm();
	}
}

int app_start(const struct app_config *cfg)
{
	memset(&ag, 0, sizeof(ag));
	ag.cfg = cfg;
	rt_event_init(&ag.ev);
	int rc = app__pipeline_start(cfg->sample_ms);
	if (rc)
		return rc;
	return rt_spawn("agent", agent_main, NULL, 4, agent_stack, sizeof(agent_stack), NULL);
}
