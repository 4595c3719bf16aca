#include "agent/agent.h"

#include <string.h>

#include "agent/err.h"

/* What is owed to the gateway; each is regenerated from state when sent. */
enum {
	P_HELLO = 1u << 0,
	P_HEARTBEAT = 1u << 1,
	P_OTA_ACK = 1u << 2,
	P_ERROR = 1u << 3,
	P_CONFIRM = 1u << 4,
};

#define CONFIRM_NONE 0xffu

void ag_agent_config_default(struct ag_agent_config *cfg)
{
	ag_link_config_default(&cfg->link);
	cfg->heartbeat_s = 30;
	cfg->ota_credit = 4;
}

static void on_link_recv(void *ctx, const uint8_t *msg, size_t len);
static void on_link_event(void *ctx, int ev);

static int on_link_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct ag_agent *a = ctx;

	return a->ops->write(a->ctx, buf, len);
}

static const struct ag_link_ops agent_link_ops = {
	.write = on_link_write,
	.recv = on_link_recv,
	.event = on_link_event,
};

static bool id_ok(const char *s)
{
	return memchr(s, 0, AG_ID_MAX + 1) != NULL;
}

int ag_agent_init(struct ag_agent *a, const struct ag_agent_config *cfg,
		  const struct ag_agent_identity *id, const struct ag_agent_ops *ops, void *ctx)
{
	int rc;

	if (!a || !cfg || !id || !ops || !ops->write || !ops->slots || !id_ok(id->device_id) ||
	    !id_ok(id->hw_id) || cfg->ota_credit == 0 || cfg->heartbeat_s == 0)
		return AG_EINVAL;
	memset(a, 0, sizeof(*a));
	rc = ag_link_init(&a->link, &cfg->link, &agent_link_ops, a);
	if (rc < 0)
		return rc;
	a->id = *id;
	a->ops = ops;
	a->ctx = ctx;
	a->heartbeat_s = cfg->heartbeat_s;
	a->credit = cfg->ota_credit;
	a->max_frame = AG_FRAME_MAX;
	a->confirm.slot = CONFIRM_NONE;
	return 0;
}

int ag_agent_start(struct ag_agent *a, uint32_t now_ms)
{
	a->now_ms = now_ms;
	a->start_ms = now_ms;
	a->hello_acked = 0;
	a->pending &= (uint8_t)~(P_HELLO | P_HEARTBEAT);
	return ag_link_open(&a->link, now_ms);
}

/* Encodes and sends; false if the window is full (the caller keeps the flag). */
static bool send(struct ag_agent *a, const struct ag_msg *m, uint32_t now)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));

	if (n < 0)
		return true; /* cannot ever be sent: drop it */
	return ag_link_send(&a->link, buf, (size_t)n, now) != AG_EAGAIN;
}

static void build_hello(struct ag_agent *a, struct ag_msg *m)
{
	struct ag_msg_hello *h = &m->u.hello;

	m->type = AG_MSG_HELLO;
	h->proto_minor = 0;
	h->max_frame = a->max_frame;
	h->caps = a->id.caps;
	h->boot_count = a->id.boot_count;
	a->ops->slots(a->ctx, h->slot, &h->active_slot);
	memcpy(h->device_id, a->id.device_id, sizeof(h->device_id));
	memcpy(h->hw_id, a->id.hw_id, sizeof(h->hw_id));
}

static void build_heartbeat(struct ag_agent *a, struct ag_msg *m, uint32_t now)
{
	m->type = AG_MSG_HEARTBEAT;
	if (a->ops->health)
		a->ops->health(a->ctx, &m->u.heartbeat);
	if (m->u.heartbeat.n_stacks > AG_STACKS_MAX)
		m->u.heartbeat.n_stacks = AG_STACKS_MAX;
	m->u.heartbeat.uptime_s = (now - a->start_ms) / 1000u;
	m->u.heartbeat.boot_count = a->id.boot_count;
}

/* Sends what is owed, in order of importance, while the window has room. */
static void flush(struct ag_agent *a, uint32_t now)
{
	struct ag_msg m;

	if (!ag_link_is_up(&a->link))
		return;
	while (a->pending && ag_link_send_space(&a->link)) {
		uint8_t bit;

		memset(&m, 0, sizeof(m));
		if (a->pending & P_HELLO) {
			bit = P_HELLO;
			build_hello(a, &m);
		} else if (a->pending & P_ERROR) {
			bit = P_ERROR;
			m.type = AG_MSG_ERROR;
			m.u.error.code = a->err_code;
			m.u.error.ref_type = a->err_type;
		} else if (!a->hello_acked) {
			return; /* the rest waits for the gateway's answer */
		} else if (a->pending & P_OTA_ACK) {
			bit = P_OTA_ACK;
			m.type = AG_MSG_OTA_ACK;
			m.u.ota_ack.xfer = a->xfer;
			m.u.ota_ack.offset = a->xfer_off;
			m.u.ota_ack.status = a->xfer_status;
			m.u.ota_ack.credit = a->ota == AG_AGENT_OTA_RECEIVING ? a->credit : 0;
		} else if (a->pending & P_CONFIRM) {
			bit = P_CONFIRM;
			m.type = AG_MSG_CONFIRM;
			m.u.confirm.slot = a->confirm.slot;
			m.u.confirm.result = a->confirm.result;
			m.u.confirm.version = a->confirm.version;
		} else {
			bit = P_HEARTBEAT;
			build_heartbeat(a, &m, now);
		}
		if (!send(a, &m, now))
			return;
		a->pending &= (uint8_t)~bit;
		if (bit == P_HELLO)
			a->stats.hellos++;
		else if (bit == P_HEARTBEAT)
			a->stats.heartbeats++;
		else if (bit == P_ERROR)
			a->stats.errors_out++;
	}
}

static void refuse(struct ag_agent *a, int err, uint8_t type)
{
	a->err_code = (int16_t)err;
	a->err_type = type;
	a->pending |= P_ERROR;
}

static void ota_fail(struct ag_agent *a, int err)
{
	if (a->ops->ota_abort)
		a->ops->ota_abort(a->ctx, err);
	a->ota = AG_AGENT_OTA_FAILED;
	a->xfer_status = (int16_t)err;
	a->stats.ota_failed++;
}

static void on_offer(struct ag_agent *a, const struct ag_msg_ota_offer *o)
{
	uint32_t off = 0;
	int rc;

	a->pending |= P_OTA_ACK;
	if (a->ota == AG_AGENT_OTA_RECEIVING && o->xfer == a->xfer && o->size == a->xfer_size)
		return; /* the gateway lost our answer: say where we are */
	if (!a->ops->ota_begin || !a->ops->ota_write || !a->ops->ota_finish)
		rc = AG_ESTATE;
	else
		rc = a->ops->ota_begin(a->ctx, o, &off);
	a->xfer = o->xfer;
	a->xfer_size = o->size;
	if (rc == 0 && off > o->size)
		rc = AG_EINVAL;
	if (rc < 0) {
		a->ota = AG_AGENT_OTA_FAILED;
		a->xfer_status = (int16_t)rc;
		a->xfer_off = 0;
		return;
	}
	a->ota = AG_AGENT_OTA_RECEIVING;
	a->xfer_status = 0;
	a->xfer_off = off;
	a->stats.ota_started++;
}

static void on_chunk(struct ag_agent *a, const struct ag_msg_ota_chunk *c)
{
	int rc;

	if (a->ota != AG_AGENT_OTA_RECEIVING || c->xfer != a->xfer) {
		refuse(a, AG_ESTATE, AG_MSG_OTA_CHUNK);
		return;
	}
	a->pending |= P_OTA_ACK;
	if (c->offset != a->xfer_off)
		return; /* a gap or a repeat: the ack says where to go on */
	if (c->len > a->xfer_size - a->xfer_off) {
		ota_fail(a, AG_ETOOBIG);
		return;
	}
	if (c->len == 0)
		return;
	rc = a->ops->ota_write(a->ctx, c->offset, c->data, c->len);
	if (rc < 0) {
		ota_fail(a, rc);
		return;
	}
	a->xfer_off += c->len;
	a->stats.chunks++;
}

static void on_finish(struct ag_agent *a, const struct ag_msg_ota_finish *f)
{
	int rc;

	if (a->ota == AG_AGENT_OTA_VERIFIED && f->xfer == a->xfer) {
		a->pending |= P_OTA_ACK; /* repeated: answer again */
		return;
	}
	if (a->ota != AG_AGENT_OTA_RECEIVING || f->xfer != a->xfer) {
		refuse(a, AG_ESTATE, AG_MSG_OTA_FINISH);
		return;
	}
	a->pending |= P_OTA_ACK;
	if (f->size != a->xfer_size || a->xfer_off != a->xfer_size) {
		ota_fail(a, AG_ETRUNC);
		return;
	}
	rc = a->ops->ota_finish(a->ctx, f->size);
	if (rc < 0) {
		ota_fail(a, rc);
		return;
	}
	a->ota = AG_AGENT_OTA_VERIFIED;
	a->xfer_status = 0;
	a->stats.ota_done++;
}

static void on_msg(struct ag_agent *a, const struct ag_msg *m, uint32_t now)
{
	int rc;

	switch (m->type) {
	case AG_MSG_HELLO_ACK:
		if (m->u.hello_ack.max_frame >= AG_FRAME_MIN_MAX &&
		    m->u.hello_ack.max_frame <= a->max_frame)
			ag_link_set_max_frame(&a->link, m->u.hello_ack.max_frame);
		if (m->u.hello_ack.heartbeat_s)
			a->heartbeat_s = m->u.hello_ack.heartbeat_s;
		a->hello_acked = 1;
		a->pending |= P_HEARTBEAT;
		a->next_hb_ms = now + a->heartbeat_s * 1000u;
		if (a->confirm.slot != CONFIRM_NONE)
			a->pending |= P_CONFIRM;
		break;
	case AG_MSG_OTA_OFFER:
		on_offer(a, &m->u.ota_offer);
		break;
	case AG_MSG_OTA_CHUNK:
		on_chunk(a, &m->u.ota_chunk);
		break;
	case AG_MSG_OTA_FINISH:
		on_finish(a, &m->u.ota_finish);
		break;
	case AG_MSG_OTA_ABORT:
		if (a->ota == AG_AGENT_OTA_RECEIVING && m->u.ota_abort.xfer == a->xfer) {
			if (a->ops->ota_abort)
				a->ops->ota_abort(a->ctx, m->u.ota_abort.reason);
			a->ota = AG_AGENT_OTA_IDLE;
		}
		break;
	case AG_MSG_ACTIVATE:
		rc = a->ops->activate ? a->ops->activate(a->ctx, m->u.activate.slot,
							 m->u.activate.permanent != 0)
				      : AG_ESTATE;
		if (rc < 0)
			refuse(a, rc, AG_MSG_ACTIVATE);
		break;
	case AG_MSG_REBOOT:
		if (a->ops->reboot)
			a->ops->reboot(a->ctx, m->u.reboot.delay_ms);
		else
			refuse(a, AG_ESTATE, AG_MSG_REBOOT);
		break;
	case AG_MSG_ERROR:
		a->stats.errors_in++;
		if (a->ops->other)
			a->ops->other(a->ctx, m);
		break;
	default:
		if (a->ops->other)
			a->ops->other(a->ctx, m);
		else
			refuse(a, AG_ETYPE, m->type);
		break;
	}
}

static void on_link_recv(void *ctx, const uint8_t *msg, size_t len)
{
	struct ag_agent *a = ctx;
	struct ag_msg m;
	int rc = ag_msg_decode(msg, len, &m);

	if (rc < 0) {
		if (len < 2 || msg[1] != AG_MSG_ERROR) /* never answer an error with one */
			refuse(a, rc, len >= 2 ? msg[1] : 0);
		return;
	}
	on_msg(a, &m, a->now_ms); /* the link's callbacks carry no time */
}

static void on_link_event(void *ctx, int ev)
{
	struct ag_agent *a = ctx;

	if (ev == AG_LINK_EV_UP) {
		/* A new session (ours or the peer's): the gateway knows nothing yet. */
		a->hello_acked = 0;
		a->pending = (uint8_t)((a->pending & (P_CONFIRM | P_OTA_ACK)) | P_HELLO);
	}
}

void ag_agent_input(struct ag_agent *a, const uint8_t *buf, size_t len, uint32_t now_ms)
{
	a->now_ms = now_ms;
	ag_link_input(&a->link, buf, len, now_ms);
	flush(a, now_ms);
}

uint32_t ag_agent_poll(struct ag_agent *a, uint32_t now_ms)
{
	uint32_t t, hb;

	a->now_ms = now_ms;
	t = ag_link_poll(&a->link, now_ms);

	if (a->hello_acked) {
		if ((int32_t)(now_ms - a->next_hb_ms) >= 0) {
			a->pending |= P_HEARTBEAT;
			a->next_hb_ms = now_ms + a->heartbeat_s * 1000u;
		}
		hb = a->next_hb_ms - now_ms;
		if (hb < t)
			t = hb;
	}
	flush(a, now_ms);
	if (a->pending && ag_link_is_up(&a->link) && t > 10)
		t = 10; /* waiting for room in the window */
	return t;
}

int ag_agent_send_telemetry(struct ag_agent *a, const struct ag_msg_telemetry *t, uint32_t now_ms)
{
	struct ag_msg m;
	uint8_t buf[AG_LINK_MSG_MAX];
	int n;

	if (!a->hello_acked)
		return AG_EAGAIN;
	m.type = AG_MSG_TELEMETRY;
	m.u.telemetry = *t;
	n = ag_msg_encode(&m, buf, sizeof(buf));
	if (n < 0)
		return n;
	n = ag_link_send(&a->link, buf, (size_t)n, now_ms);
	return n == AG_ESTATE ? AG_EAGAIN : n;
}

void ag_agent_report_confirm(struct ag_agent *a, uint8_t slot, int16_t result,
			     const struct ag_version *version)
{
	a->confirm.slot = slot;
	a->confirm.result = result;
	a->confirm.version = *version;
	if (a->hello_acked)
		a->pending |= P_CONFIRM;
}

bool ag_agent_is_ready(const struct ag_agent *a)
{
	return a->hello_acked && ag_link_is_up(&a->link);
}

int ag_agent_ota_state(const struct ag_agent *a, uint32_t *ret_offset)
{
	if (ret_offset)
		*ret_offset = a->xfer_off;
	return a->ota;
}
