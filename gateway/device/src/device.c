/* Device sessions: the gateway side of the agent protocol. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "agent/err.h"
#include "agent/link.h"
#include "gateway/device.h"
#include "gateway/log.h"

#define WARN_EVERY_MS 10000u
#define NO_HEAP UINT32_MAX
#define PENDING_RETRY_MS 20u

enum { ERR_TRUNC, ERR_TOOBIG, ERR_CRC, ERR_GARBAGE, ERR_KINDS };
static const char *const err_names[ERR_KINDS] = {"truncated", "too_big", "crc", "garbage"};

enum { PEND_HELLO_ACK = 1u };

struct gw_session {
	struct ag_link link;
	struct gw_devices *d;
	struct gw_conn *conn;
	struct gw_device *dev;
	struct ag_link_stats seen; /* link counters already accounted */
	uint64_t opened_ms, last_rx_ms, warn_ms;
	uint64_t wake_ms;  /* next timer; valid while heap_i != NO_HEAP */
	uint32_t heap_i;   /* position in the devices' timer heap */
	uint8_t in_input;  /* inside ag_link_input: timers are rearmed after it */
	struct gw_session *close_next; /* on the devices' closing list */
	uint32_t suppressed; /* warnings not logged since warn_ms */
	uint16_t max_frame;  /* negotiated */
	uint8_t kind;
	uint8_t pending;
	uint8_t close_me;
	uint8_t n_tel;
	struct ag_metric tel[AG_TELEMETRY_MAX];
	struct gw_session *prev, *next;
};

struct tstats {
	uint64_t frames_in, frames_out, retransmits;
	uint64_t err[ERR_KINDS];
};

struct gw_devices {
	struct gw_registry *reg;
	struct gw_devices_config cfg;
	const struct gw_devices_hooks *hooks;
	void *hooks_ctx;
	const struct gw_devices_linkwatch *lw;
	void *lw_ctx;
	struct gw_session *sessions;
	struct gw_session **heap; /* sessions by wake_ms: no scan of every link per tick */
	size_t heap_n, heap_cap;
	struct gw_session *closing;
	unsigned online;
	struct tstats ts[GW_TRANSPORT_COUNT];
	uint64_t msgs_in[256];
	uint64_t heartbeats, telemetry, hellos, confirms, errors_in, errors_out, replaced;
	uint64_t refused_hellos;
};

static uint32_t now32(void)
{
	return (uint32_t)gw_now_ms();
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int gw_device_id_valid(const char *s, size_t len)
{
	if (len == 0 || len > AG_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == ':' || c == '-'))
			return 0;
	}
	return 1;
}

static void account(struct gw_session *s)
{
	struct tstats *t = &s->d->ts[s->kind];
	const struct ag_link_stats *n = &s->link.stats;
	t->frames_in += n->frames_in - s->seen.frames_in;
	t->frames_out += n->frames_out - s->seen.frames_out;
	t->retransmits += n->retransmits - s->seen.retransmits;
	t->err[ERR_TRUNC] += n->err_trunc - s->seen.err_trunc;
	t->err[ERR_TOOBIG] += n->err_toobig - s->seen.err_toobig;
	t->err[ERR_CRC] += n->err_crc - s->seen.err_crc;
	t->err[ERR_GARBAGE] += n->err_garbage - s->seen.err_garbage;
	s->seen = *n;
}

/* ---- session timers: an indexed min-heap ---- */

static void heap_swap(struct gw_devices *d, size_t i, size_t j)
{
	struct gw_session *a = d->heap[i], *b = d->heap[j];
	d->heap[i] = b;
	d->heap[j] = a;
	b->heap_i = (uint32_t)i;
	a->heap_i = (uint32_t)j;
}

static void heap_up(struct gw_devices *d, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (d->heap[p]->wake_ms <= d->heap[i]->wake_ms)
			break;
		heap_swap(d, i, p);
		i = p;
	}
}

static void heap_down(struct gw_devices *d, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= d->heap_n)
			break;
		if (c + 1 < d->heap_n && d->heap[c + 1]->wake_ms < d->heap[c]->wake_ms)
			c++;
		if (d->heap[i]->wake_ms <= d->heap[c]->wake_ms)
			break;
		heap_swap(d, i, c);
		i = c;
	}
}

static void heap_remove(struct gw_devices *d, struct gw_session *s)
{
	if (s->heap_i == NO_HEAP)
		return;
	size_t i = s->heap_i, last = d->heap_n - 1;
	if (i != last)
		heap_swap(d, i, last);
	d->heap_n--;
	s->heap_i = NO_HEAP;
	if (i < d->heap_n) {
		heap_down(d, i);
		heap_up(d, i);
	}
}

static void heap_set(struct gw_devices *d, struct gw_session *s, uint64_t wake)
{
	if (s->heap_i == NO_HEAP) {
		if (d->heap_n == d->heap_cap) {
			size_t cap = d->heap_cap ? d->heap_cap * 2 : 1024;
			struct gw_session **h = realloc(d->heap, cap * sizeof(*h));
			if (!h)
				return; /* stays unarmed until the next input rearms it */
			d->heap = h;
			d->heap_cap = cap;
		}
		s->heap_i = (uint32_t)d->heap_n;
		d->heap[d->heap_n++] = s;
		s->wake_ms = wake;
		heap_up(d, s->heap_i);
		return;
	}
	uint64_t old = s->wake_ms;
	s->wake_ms = wake;
	if (wake < old)
		heap_up(d, s->heap_i);
	else
		heap_down(d, s->heap_i);
}

static uint64_t offline_ms(const struct gw_devices *d)
{
	return d->cfg.offline_after_s ? (uint64_t)d->cfg.offline_after_s * 1000u
				      : (uint64_t)d->cfg.heartbeat_s * 3000u + 5000u;
}

/* Runs the link's timers and sets the session's next wake-up: the link's
 * retransmission deadline, a pending reply, the offline or hello deadline. */
static void rearm(struct gw_session *s, uint64_t now)
{
	struct gw_devices *d = s->d;
	uint32_t w = ag_link_poll(&s->link, (uint32_t)now);
	account(s);
	uint64_t wake = w == UINT32_MAX ? UINT64_MAX : now + w;
	if (s->pending && now + PENDING_RETRY_MS < wake)
		wake = now + PENDING_RETRY_MS;
	uint64_t limit = UINT64_MAX;
	if (s->dev)
		limit = s->last_rx_ms + offline_ms(d) + 1;
	else if (s->kind == GW_TRANSPORT_TCP)
		limit = s->last_rx_ms + GW_HELLO_TIMEOUT_MS + 1;
	if (limit < wake)
		wake = limit;
	if (wake == UINT64_MAX)
		heap_remove(d, s);
	else
		heap_set(d, s, wake);
}

static void close_later(struct gw_session *s)
{
	if (s->close_me)
		return;
	s->close_me = 1;
	s->close_next = s->d->closing;
	s->d->closing = s;
}

/* A rate-limited warning about one session. */
__attribute__((format(printf, 3, 4))) static void session_warn(struct gw_session *s,
							       const char *msg, const char *kv,
							       ...)
{
	uint64_t now = gw_now_ms();
	if (s->warn_ms && now - s->warn_ms < WARN_EVERY_MS) {
		s->suppressed++;
		return;
	}
	char detail[512];
	va_list ap;
	va_start(ap, kv);
	vsnprintf(detail, sizeof(detail), kv, ap);
	va_end(ap);
	char qp[GW_LOG_QMAX], qd[GW_LOG_QMAX];
	gw_warn(msg, "transport=%s peer=%s device=%s %s suppressed=%u",
		gw_transport_kind_name(s->kind), gw_log_quote(qp, sizeof(qp), gw_conn_peer(s->conn)),
		gw_log_quote(qd, sizeof(qd), s->dev ? s->dev->id : ""), detail,
		(unsigned)s->suppressed);
	s->warn_ms = now;
	s->suppressed = 0;
}

int gw_session_send(struct gw_session *s, const struct ag_msg *m)
{
	if (!s || !s->conn)
		return -ENOTCONN;
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));
	if (n < 0)
		return -EINVAL;
	int rc = ag_link_send(&s->link, buf, (size_t)n, now32());
	account(s);
	if (!s->in_input)
		rearm(s, gw_now_ms()); /* inside input, tr_input rearms after */
	if (rc == AG_EAGAIN)
		return -EAGAIN;
	if (rc == AG_ESTATE)
		return -ENOTCONN;
	return rc ? -EINVAL : 0;
}

static void send_error(struct gw_session *s, int16_t code, uint8_t ref_type, const char *detail)
{
	struct ag_msg e;
	memset(&e, 0, sizeof(e));
	e.type = AG_MSG_ERROR;
	e.u.error.code = code;
	e.u.error.ref_type = ref_type;
	snprintf(e.u.error.detail, sizeof(e.u.error.detail), "%s", detail);
	if (gw_session_send(s, &e) == 0)
		s->d->errors_out++;
}

static int send_hello_ack(struct gw_session *s)
{
	struct ag_msg m;
	memset(&m, 0, sizeof(m));
	m.type = AG_MSG_HELLO_ACK;
	m.u.hello_ack.proto_minor = 0;
	m.u.hello_ack.max_frame = s->max_frame;
	m.u.hello_ack.heartbeat_s = s->d->cfg.heartbeat_s;
	int rc = gw_session_send(s, &m);
	if (rc == 0) {
		s->pending &= (uint8_t)~PEND_HELLO_ACK;
		(void)ag_link_set_max_frame(&s->link, s->max_frame);
	} else {
		s->pending |= PEND_HELLO_ACK;
	}
	return rc;
}

static void go_offline(struct gw_devices *d, struct gw_session *s)
{
	struct gw_device *dev = s->dev;
	if (!dev)
		return;
	s->dev = NULL;
	if (dev->live != s)
		return;
	dev->live = NULL;
	if (dev->state == GW_DEVICE_ONLINE && d->online)
		d->online--;
	dev->state = GW_DEVICE_OFFLINE;
	gw_registry_touch(d->reg, dev);
	if (d->hooks && d->hooks->offline)
		d->hooks->offline(d->hooks_ctx, dev);
	char q[GW_LOG_QMAX];
	gw_debug("device offline", "device=%s", gw_log_quote(q, sizeof(q), dev->id));
}

static void on_hello(struct gw_session *s, const struct ag_msg_hello *h)
{
	struct gw_devices *d = s->d;
	size_t idlen = strlen(h->device_id);
	if (!gw_device_id_valid(h->device_id, idlen)) {
		char q[GW_LOG_QMAX];
		d->refused_hellos++;
		session_warn(s, "hello refused: bad device id", "id=%s",
			     gw_log_quote(q, sizeof(q), h->device_id));
		send_error(s, AG_EMALFORMED, AG_MSG_HELLO, "device id: 1-32 of A-Za-z0-9._:-");
		return;
	}
	if (h->max_frame < AG_FRAME_MIN_MAX) {
		d->refused_hellos++;
		session_warn(s, "hello refused: max_frame too small", "max_frame=%u",
			     (unsigned)h->max_frame);
		send_error(s, AG_EMALFORMED, AG_MSG_HELLO, "max_frame below 128");
		return;
	}
	if (s->dev && strcmp(s->dev->id, h->device_id) != 0)
		go_offline(d, s); /* another device on this link now (a serial port swap) */
	int created;
	struct gw_device *dev = s->dev ? s->dev : gw_registry_upsert(d->reg, h->device_id, &created);
	if (!dev) {
		d->refused_hellos++;
		session_warn(s, "hello refused: registry full", "max=%d", GW_REGISTRY_MAX);
		send_error(s, AG_ENOSPC, AG_MSG_HELLO, "registry full");
		return;
	}
	if (dev->live && dev->live != s) {
		/* the device came back on a new link before the old one noticed */
		struct gw_session *old = dev->live;
		char q[GW_LOG_QMAX];
		gw_info("device on a new link; closing the old one", "device=%s old_peer=%s",
			gw_log_quote(q, sizeof(q), dev->id), gw_conn_peer(old->conn));
		d->replaced++;
		go_offline(d, old);
		if (old->kind == GW_TRANSPORT_TCP)
			close_later(old);
	}
	int64_t now = wall_ms();
	if (!dev->first_seen_ms)
		dev->first_seen_ms = now;
	dev->last_seen_ms = now;
	snprintf(dev->hw_id, sizeof(dev->hw_id), "%s", h->hw_id);
	dev->caps = h->caps;
	dev->boot_count = h->boot_count;
	dev->active_slot = h->active_slot & 1u;
	dev->slot[0] = h->slot[0];
	dev->slot[1] = h->slot[1];
	dev->transport = s->kind;
	dev->hellos++;
	if (dev->live != s) {
		dev->sessions++;
		dev->live = s;
		s->dev = dev;
	}
	if (dev->state != GW_DEVICE_ONLINE) {
		dev->state = GW_DEVICE_ONLINE;
		d->online++;
	}
	gw_registry_touch(d->reg, dev);
	d->hellos++;
	uint16_t mf = h->max_frame < d->cfg.max_frame ? h->max_frame : d->cfg.max_frame;
	s->max_frame = mf > AG_FRAME_MAX ? AG_FRAME_MAX : mf;
	(void)send_hello_ack(s);
	char q[GW_LOG_QMAX], qh[GW_LOG_QMAX], v[GW_VERSION_STR_MAX];
	gw_version_str(&dev->slot[dev->active_slot].version, v);
	gw_debug("device hello", "device=%s hw=%s transport=%s slot=%u version=%s max_frame=%u",
		 gw_log_quote(q, sizeof(q), dev->id), gw_log_quote(qh, sizeof(qh), dev->hw_id),
		 gw_transport_kind_name(s->kind), (unsigned)dev->active_slot, v,
		 (unsigned)s->max_frame);
	if (d->lw && d->lw->labels && s->conn)
		d->lw->labels(d->lw_ctx, gw_conn_fd(s->conn), s->kind, v, "none");
	if (d->hooks && d->hooks->online)
		d->hooks->online(d->hooks_ctx, s, dev);
}

static void on_heartbeat(struct gw_session *s, const struct ag_msg_heartbeat *hb)
{
	struct gw_device *dev = s->dev;
	dev->uptime_s = hb->uptime_s;
	dev->boot_count = hb->boot_count;
	dev->crash_count = hb->crash_count;
	dev->error_count = hb->error_count;
	dev->reset_reason = hb->reset_reason;
	dev->heartbeats++;
	s->d->heartbeats++;
	gw_registry_touch(s->d->reg, dev);
}

static void on_confirm(struct gw_session *s, const struct ag_msg_confirm *c)
{
	struct gw_device *dev = s->dev;
	uint8_t slot = c->slot & 1u;
	dev->slot[slot].version = c->version;
	dev->slot[slot].state = c->result == 0 ? AG_SLOT_CONFIRMED : AG_SLOT_BAD;
	if (c->result == 0)
		dev->active_slot = slot;
	s->d->confirms++;
	gw_registry_touch(s->d->reg, dev);
	char q[GW_LOG_QMAX], v[GW_VERSION_STR_MAX];
	gw_version_str(&c->version, v);
	gw_info("device trial boot result", "device=%s slot=%u version=%s result=%d",
		gw_log_quote(q, sizeof(q), dev->id), (unsigned)slot, v, (int)c->result);
}

static void link_recv(void *ctx, const uint8_t *buf, size_t len)
{
	struct gw_session *s = ctx;
	struct gw_devices *d = s->d;
	struct ag_msg m;
	s->last_rx_ms = gw_now_ms();
	int rc = ag_msg_decode(buf, len, &m);
	if (rc) {
		struct ag_msg e;
		ag_msg_make_error(rc, buf, len, &e);
		session_warn(s, "refused a malformed message", "code=%d type=%u len=%zu", rc,
			     len >= 2 ? (unsigned)buf[1] : 0u, len);
		if (gw_session_send(s, &e) == 0)
			d->errors_out++;
		return;
	}
	d->msgs_in[m.type]++;
	if (s->dev)
		s->dev->last_seen_ms = wall_ms();
	switch (m.type) {
	case AG_MSG_HELLO:
		on_hello(s, &m.u.hello);
		return;
	case AG_MSG_ERROR:
		d->errors_in++;
		session_warn(s, "device refused a message", "code=%d ref_type=%s detail=%.40s",
			     (int)m.u.error.code, ag_msg_type_name(m.u.error.ref_type),
			     m.u.error.detail);
		return;
	case AG_MSG_HELLO_ACK:
	case AG_MSG_OTA_OFFER:
	case AG_MSG_OTA_CHUNK:
	case AG_MSG_OTA_FINISH:
	case AG_MSG_ACTIVATE:
	case AG_MSG_REBOOT:
		session_warn(s, "refused a gateway-only message from a device", "type=%s",
			     ag_msg_type_name(m.type));
		send_error(s, AG_ETYPE, m.type, "not sent by devices");
		return;
	default:
		break;
	}
	if (!s->dev || (s->pending & PEND_HELLO_ACK)) {
		session_warn(s, "refused a message before hello", "type=%s", ag_msg_type_name(m.type));
		send_error(s, AG_ESTATE, m.type, "hello first");
		return;
	}
	if (d->hooks && d->hooks->message &&
	    d->hooks->message(d->hooks_ctx, s, s->dev, &m) != -ENOTSUP)
		return;
	switch (m.type) {
	case AG_MSG_HEARTBEAT:
		on_heartbeat(s, &m.u.heartbeat);
		break;
	case AG_MSG_TELEMETRY:
		s->dev->telemetry++;
		d->telemetry++;
		s->n_tel = m.u.telemetry.n;
		memcpy(s->tel, m.u.telemetry.m, sizeof(s->tel));
		break;
	case AG_MSG_CONFIRM:
		on_confirm(s, &m.u.confirm);
		break;
	default: /* OTA_ACK, OTA_ABORT with no transfer running */
		session_warn(s, "refused a message: no transfer running", "type=%s",
			     ag_msg_type_name(m.type));
		send_error(s, AG_ESTATE, m.type, "no transfer running");
		break;
	}
}

static void link_event(void *ctx, int event)
{
	struct gw_session *s = ctx;
	/* A new session on the link: the device says hello again. */
	if (event == AG_LINK_EV_RESET)
		s->pending &= (uint8_t)~PEND_HELLO_ACK;
	(void)ag_link_set_max_frame(&s->link, AG_FRAME_DEFAULT);
}

static int link_write(void *ctx, const uint8_t *buf, size_t len)
{
	struct gw_session *s = ctx;
	if (!s->conn)
		return AG_EIO;
	return gw_conn_write(s->conn, buf, len) == 0 ? 0 : AG_EIO;
}

static const struct ag_link_ops link_ops = {link_write, link_recv, link_event};

static void *tr_opened(void *ctx, struct gw_conn *c)
{
	struct gw_devices *d = ctx;
	struct gw_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->d = d;
	s->conn = c;
	s->kind = (uint8_t)gw_conn_kind(c);
	struct ag_link_config lc;
	ag_link_config_default(&lc);
	if (getrandom(&lc.nonce, sizeof(lc.nonce), GRND_NONBLOCK) != sizeof(lc.nonce))
		lc.nonce = (uint32_t)gw_now_ms() ^ (uint32_t)(uintptr_t)s;
	if (ag_link_init(&s->link, &lc, &link_ops, s) != 0) {
		free(s);
		return NULL;
	}
	s->opened_ms = s->last_rx_ms = gw_now_ms();
	s->heap_i = NO_HEAP;
	s->next = d->sessions;
	if (d->sessions)
		d->sessions->prev = s;
	d->sessions = s;
	(void)ag_link_open(&s->link, now32());
	account(s);
	rearm(s, gw_now_ms());
	return s;
}

static void tr_input(void *lctx, const uint8_t *buf, size_t len)
{
	struct gw_session *s = lctx;
	s->in_input = 1;
	int bad = ag_link_input(&s->link, buf, len, now32());
	s->in_input = 0;
	account(s);
	if (bad > 0)
		session_warn(s, "dropped bad frames", "frames=%d", bad);
	rearm(s, gw_now_ms());
}

static void tr_closed(void *lctx, int reason)
{
	struct gw_session *s = lctx;
	struct gw_devices *d = s->d;
	if (s->dev) {
		char q[GW_LOG_QMAX];
		gw_debug("device link closed", "device=%s reason=%d",
			 gw_log_quote(q, sizeof(q), s->dev->id), reason);
	}
	go_offline(d, s);
	heap_remove(d, s);
	if (s->close_me) {
		for (struct gw_session **pp = &d->closing; *pp; pp = &(*pp)->close_next)
			if (*pp == s) {
				*pp = s->close_next;
				break;
			}
	}
	s->conn = NULL;
	if (s->prev)
		s->prev->next = s->next;
	else
		d->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
}

static const struct gw_transport_ops tr_ops = {tr_opened, tr_input, tr_closed};

const struct gw_transport_ops *gw_devices_transport_ops(void)
{
	return &tr_ops;
}

/* A session's timer fired. Returns 1 when the session is gone. */
static int on_timer(struct gw_session *s, uint64_t now)
{
	struct gw_devices *d = s->d;
	if (s->pending & PEND_HELLO_ACK)
		(void)send_hello_ack(s);
	if (s->dev && now - s->last_rx_ms > offline_ms(d)) {
		char q[GW_LOG_QMAX];
		gw_info("device silent; offline", "device=%s silent_ms=%llu",
			gw_log_quote(q, sizeof(q), s->dev->id),
			(unsigned long long)(now - s->last_rx_ms));
		go_offline(d, s);
		if (s->kind == GW_TRANSPORT_TCP) {
			gw_conn_close(s->conn, -ETIMEDOUT); /* frees s */
			return 1;
		}
		/* a serial line stays: a fresh session makes a device that comes
		 * back say hello again */
		(void)ag_link_open(&s->link, (uint32_t)now);
		account(s);
		s->last_rx_ms = now;
	} else if (!s->dev && s->kind == GW_TRANSPORT_TCP &&
		   now - s->last_rx_ms > GW_HELLO_TIMEOUT_MS) {
		session_warn(s, "closing a link that said no hello", "idle_ms=%llu",
			     (unsigned long long)(now - s->last_rx_ms));
		gw_conn_close(s->conn, -ETIMEDOUT);
		return 1;
	}
	return 0;
}

void gw_devices_tick(struct gw_devices *d, uint64_t now)
{
	while (d->closing) {
		struct gw_session *s = d->closing;
		d->closing = s->close_next;
		s->close_me = 0;
		gw_conn_close(s->conn, -ECONNRESET); /* frees s */
	}
	while (d->heap_n && d->heap[0]->wake_ms <= now) {
		struct gw_session *s = d->heap[0];
		heap_remove(d, s);
		if (on_timer(s, now) == 0)
			rearm(s, now);
	}
}

uint64_t gw_devices_next_wake(const struct gw_devices *d)
{
	if (d->closing)
		return 0;
	return d->heap_n ? d->heap[0]->wake_ms : UINT64_MAX;
}

unsigned gw_devices_online(const struct gw_devices *d)
{
	return d->online;
}

struct gw_session *gw_devices_session(struct gw_devices *d, const char *id)
{
	struct gw_device *dev = gw_registry_get(d->reg, id);
	return dev ? dev->live : NULL;
}

int gw_devices_new(struct gw_registry *reg, const struct gw_devices_config *cfg,
		   struct gw_devices **ret_d)
{
	struct gw_devices *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->reg = reg;
	d->cfg = *cfg;
	*ret_d = d;
	return 0;
}

void gw_devices_free(struct gw_devices *d)
{
	if (d)
		free(d->heap);
	free(d);
}

void gw_devices_set_config(struct gw_devices *d, const struct gw_devices_config *cfg)
{
	d->cfg = *cfg;
}

void gw_devices_set_linkwatch(struct gw_devices *d, const struct gw_devices_linkwatch *w,
			      void *ctx)
{
	d->lw = w;
	d->lw_ctx = ctx;
}

void gw_devices_set_hooks(struct gw_devices *d, const struct gw_devices_hooks *hooks, void *ctx)
{
	d->hooks = hooks;
	d->hooks_ctx = ctx;
}

/* ---- metrics ---- */

struct release {
	struct ag_version v;
	char name[GW_VERSION_STR_MAX];
	uint64_t n[GW_DEVICE_STATE_COUNT];
	uint64_t crashes, errors, boots;
};

static void counter_by_transport(struct gw_mbuf *b, const struct gw_devices *d, const char *name,
				 const char *help, size_t off)
{
	gw_mbuf_family(b, name, "counter", help);
	for (int k = 0; k < GW_TRANSPORT_COUNT; k++) {
		const char *l[] = {"transport", gw_transport_kind_name(k), NULL};
		uint64_t v = *(const uint64_t *)(const void *)((const char *)&d->ts[k] + off);
		gw_mbuf_sample(b, name, l, (double)v);
	}
}

void gw_devices_collect(void *ctx, struct gw_mbuf *b)
{
	struct gw_devices *d = ctx;
	size_t n = gw_registry_count(d->reg);
	uint64_t by_state[GW_DEVICE_STATE_COUNT] = {0};
	struct release *rel = calloc(GW_RELEASES_MAX + 1, sizeof(*rel));
	unsigned n_rel = 0;
	for (size_t i = 0; i < n; i++) {
		const struct gw_device *dev = gw_registry_at(d->reg, i);
		uint8_t st = dev->state < GW_DEVICE_STATE_COUNT ? dev->state : 0;
		by_state[st]++;
		if (!rel)
			continue;
		const struct ag_version *v = &dev->slot[dev->active_slot & 1].version;
		unsigned k;
		for (k = 0; k < n_rel; k++)
			if (rel[k].v.build == v->build && rel[k].v.patch == v->patch &&
			    rel[k].v.minor == v->minor && rel[k].v.major == v->major)
				break;
		if (k == n_rel) {
			if (n_rel < GW_RELEASES_MAX) {
				rel[n_rel].v = *v;
				gw_version_str(v, rel[n_rel].name);
				n_rel++;
			} else {
				k = GW_RELEASES_MAX;
				snprintf(rel[k].name, sizeof(rel[k].name), "other");
			}
		}
		rel[k].n[st]++;
		rel[k].crashes += dev->crash_count;
		rel[k].errors += dev->error_count;
		rel[k].boots += dev->boot_count;
	}
	gw_mbuf_family(b, "flotilla_gateway_devices", "gauge",
		       "Devices in the registry by connection state.");
	for (int st = 0; st < GW_DEVICE_STATE_COUNT; st++) {
		const char *l[] = {"state", gw_device_state_name((uint8_t)st), NULL};
		gw_mbuf_sample(b, "flotilla_gateway_devices", l, (double)by_state[st]);
	}
	counter_by_transport(b, d, "flotilla_gateway_frames_in_total",
			     "Good frames received from devices.", offsetof(struct tstats, frames_in));
	counter_by_transport(b, d, "flotilla_gateway_frames_out_total", "Frames sent to devices.",
			     offsetof(struct tstats, frames_out));
	counter_by_transport(b, d, "flotilla_gateway_frame_retransmits_total",
			     "Frames the gateway sent again after a timeout or a NAK.",
			     offsetof(struct tstats, retransmits));
	gw_mbuf_family(b, "flotilla_gateway_frame_errors_total", "counter",
		       "Frames received from devices and dropped, by cause.");
	for (int k = 0; k < GW_TRANSPORT_COUNT; k++)
		for (int e = 0; e < ERR_KINDS; e++) {
			const char *l[] = {"transport", gw_transport_kind_name(k), "reason",
					   err_names[e], NULL};
			gw_mbuf_sample(b, "flotilla_gateway_frame_errors_total", l,
				       (double)d->ts[k].err[e]);
		}
	gw_mbuf_family(b, "flotilla_gateway_messages_in_total", "counter",
		       "Well-formed messages received from devices, by type.");
	static const uint8_t types[] = {AG_MSG_HELLO, AG_MSG_HEARTBEAT, AG_MSG_TELEMETRY,
					AG_MSG_OTA_ACK, AG_MSG_OTA_ABORT, AG_MSG_CONFIRM,
					AG_MSG_ERROR};
	uint64_t other = 0;
	for (int t = 0; t < 256; t++)
		other += d->msgs_in[t];
	for (size_t i = 0; i < sizeof(types); i++) {
		const char *l[] = {"type", ag_msg_type_name(types[i]), NULL};
		other -= d->msgs_in[types[i]];
		gw_mbuf_sample(b, "flotilla_gateway_messages_in_total", l,
			       (double)d->msgs_in[types[i]]);
	}
	const char *lo[] = {"type", "other", NULL};
	gw_mbuf_sample(b, "flotilla_gateway_messages_in_total", lo, (double)other);
	gw_mbuf_family(b, "flotilla_gateway_heartbeats_total", "counter",
		       "Heartbeats received from devices.");
	gw_mbuf_sample(b, "flotilla_gateway_heartbeats_total", NULL, (double)d->heartbeats);
	gw_mbuf_family(b, "flotilla_gateway_telemetry_total", "counter",
		       "Telemetry messages received from devices.");
	gw_mbuf_sample(b, "flotilla_gateway_telemetry_total", NULL, (double)d->telemetry);
	gw_mbuf_family(b, "flotilla_gateway_hellos_total", "counter",
		       "Hellos answered (device sessions started).");
	gw_mbuf_sample(b, "flotilla_gateway_hellos_total", NULL, (double)d->hellos);
	gw_mbuf_family(b, "flotilla_gateway_hellos_refused_total", "counter",
		       "Hellos refused (bad id, frame size, registry full).");
	gw_mbuf_sample(b, "flotilla_gateway_hellos_refused_total", NULL, (double)d->refused_hellos);
	gw_mbuf_family(b, "flotilla_gateway_protocol_errors_total", "counter",
		       "ERROR messages, by direction.");
	const char *ls[] = {"direction", "sent", NULL};
	const char *lr[] = {"direction", "received", NULL};
	gw_mbuf_sample(b, "flotilla_gateway_protocol_errors_total", ls, (double)d->errors_out);
	gw_mbuf_sample(b, "flotilla_gateway_protocol_errors_total", lr, (double)d->errors_in);
	gw_mbuf_family(b, "flotilla_gateway_links_replaced_total", "counter",
		       "Old links closed because their device said hello on a new one.");
	gw_mbuf_sample(b, "flotilla_gateway_links_replaced_total", NULL, (double)d->replaced);
	gw_mbuf_family(b, "flotilla_gateway_trial_boot_results_total", "counter",
		       "Trial boot results (CONFIRM) reported by devices.");
	gw_mbuf_sample(b, "flotilla_gateway_trial_boot_results_total", NULL, (double)d->confirms);
	if (!rel)
		return;
	unsigned last = n_rel + (rel[GW_RELEASES_MAX].name[0] ? 1 : 0);
	gw_mbuf_family(b, "flotilla_gateway_release_devices", "gauge",
		       "Devices by the release in their active slot and by connection state.");
	for (unsigned k = 0; k < GW_RELEASES_MAX + 1; k++) {
		if (k >= n_rel && (k != GW_RELEASES_MAX || !rel[k].name[0]))
			continue;
		for (int st = 0; st < GW_DEVICE_STATE_COUNT; st++) {
			const char *l[] = {"release", rel[k].name, "state",
					   gw_device_state_name((uint8_t)st), NULL};
			gw_mbuf_sample(b, "flotilla_gateway_release_devices", l, (double)rel[k].n[st]);
		}
	}
	static const struct {
		const char *name, *help;
		size_t off;
	} sums[] = {
		{"flotilla_gateway_release_device_crashes", "Crashes devices report, summed by release.",
		 offsetof(struct release, crashes)},
		{"flotilla_gateway_release_device_errors", "Errors devices report, summed by release.",
		 offsetof(struct release, errors)},
		{"flotilla_gateway_release_device_boots", "Boots devices report, summed by release.",
		 offsetof(struct release, boots)},
	};
	for (size_t j = 0; j < sizeof(sums) / sizeof(sums[0]); j++) {
		gw_mbuf_family(b, sums[j].name, "gauge", sums[j].help);
		for (unsigned k = 0; k < GW_RELEASES_MAX + 1; k++) {
			if (k >= n_rel && (k != GW_RELEASES_MAX || !rel[k].name[0]))
				continue;
			const char *l[] = {"release", rel[k].name, NULL};
			uint64_t v = *(const uint64_t *)(const void *)((const char *)&rel[k] + sums[j].off);
			gw_mbuf_sample(b, sums[j].name, l, (double)v);
		}
	}
	(void)last;
	free(rel);
}

/* ---- JSON API ---- */

static json_t *device_json(const struct gw_devices *d, const struct gw_device *dev)
{
	json_t *slots = json_array();
	for (int k = 0; k < 2; k++) {
		char v[GW_VERSION_STR_MAX];
		gw_version_str(&dev->slot[k].version, v);
		json_array_append_new(slots, json_pack("{s:i,s:s,s:s}", "slot", k, "version", v,
						       "state", gw_slot_state_name(dev->slot[k].state)));
	}
	char v[GW_VERSION_STR_MAX];
	gw_version_str(&dev->slot[dev->active_slot & 1].version, v);
	json_t *o = json_pack(
		"{s:s,s:s,s:s,s:s,s:i,s:s,s:o,s:I,s:{s:I,s:I,s:I,s:I,s:i},s:I,s:I,s:I,s:I,s:I,s:I,"
		"s:{s:s,s:I,s:I,s:s}}",
		"id", dev->id, "hw_id", dev->hw_id, "state", gw_device_state_name(dev->state),
		"transport", gw_transport_kind_name(dev->transport), "active_slot",
		(int)dev->active_slot, "release", v, "slots", slots, "caps", (json_int_t)dev->caps,
		"health", "boot_count", (json_int_t)dev->boot_count, "crash_count",
		(json_int_t)dev->crash_count, "error_count", (json_int_t)dev->error_count,
		"uptime_s", (json_int_t)dev->uptime_s, "reset_reason", (int)dev->reset_reason,
		"heartbeats", (json_int_t)dev->heartbeats, "hellos", (json_int_t)dev->hellos,
		"telemetry", (json_int_t)dev->telemetry, "sessions", (json_int_t)dev->sessions,
		"first_seen_ms", (json_int_t)dev->first_seen_ms, "last_seen_ms",
		(json_int_t)dev->last_seen_ms, "ota", "state", dev->ota_state, "xfer",
		(json_int_t)dev->ota_xfer, "offset", (json_int_t)dev->ota_offset, "target",
		dev->ota_target);
	const struct gw_session *s = dev->live;
	if (o && s) {
		const struct ag_link_stats *ls = &s->link.stats;
		json_object_set_new(
			o, "link",
			json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:I}", "peer",
				  s->conn ? gw_conn_peer(s->conn) : "", "max_frame", (int)s->max_frame,
				  "frames_in", (json_int_t)ls->frames_in, "frames_out",
				  (json_int_t)ls->frames_out, "frame_errors",
				  (json_int_t)(ls->err_crc + ls->err_garbage + ls->err_toobig +
					       ls->err_trunc),
				  "retransmits", (json_int_t)ls->retransmits, "resets",
				  (json_int_t)ls->resets));
		if (d->lw && d->lw->describe && s->conn)
			d->lw->describe(d->lw_ctx, gw_conn_fd(s->conn), json_object_get(o, "link"));
		json_t *tel = json_object();
		for (unsigned i = 0; i < s->n_tel && i < AG_TELEMETRY_MAX; i++)
			json_object_set_new(tel, s->tel[i].name, json_integer(s->tel[i].value));
		json_object_set_new(o, "last_telemetry", tel);
	}
	return o;
}

static int reply_json(json_t *o, struct gw_http_reply *rep)
{
	if (!o)
		return -ENOMEM;
	rep->body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!rep->body)
		return -ENOMEM;
	rep->len = strlen(rep->body);
	rep->content_type = "application/json";
	return 0;
}

int gw_devices_api_list(void *ctx, const char *rest, const struct gw_query *q,
			struct gw_http_reply *rep)
{
	struct gw_devices *d = ctx;
	(void)rest;
	json_t *arr = json_array();
	size_t n = gw_registry_count(d->reg), matched = 0;
	for (size_t i = 0; i < n && arr; i++) {
		const struct gw_device *dev = gw_registry_at(d->reg, i);
		if (q->state >= 0 && dev->state != q->state)
			continue;
		if (matched++ < q->offset || json_array_size(arr) >= q->limit)
			continue;
		json_array_append_new(arr, device_json(d, dev));
	}
	if (!arr)
		return -ENOMEM;
	return reply_json(json_pack("{s:I,s:I,s:I,s:o}", "total", (json_int_t)matched, "offset",
				    (json_int_t)q->offset, "limit", (json_int_t)q->limit, "devices",
				    arr),
			  rep);
}

int gw_devices_api_one(void *ctx, const char *rest, const struct gw_query *q,
		       struct gw_http_reply *rep)
{
	struct gw_devices *d = ctx;
	if (q->n)
		return -EINVAL;
	if (!gw_device_id_valid(rest, strlen(rest)))
		return -EINVAL;
	const struct gw_device *dev = gw_registry_get(d->reg, rest);
	if (!dev)
		return -ENOENT;
	return reply_json(device_json(d, dev), rep);
}
