#include "agent/link.h"

#include <string.h>

#include "agent/bytes.h"
#include "agent/err.h"

_Static_assert(AG_LINK_WINDOW >= 1 && AG_LINK_WINDOW <= 64 &&
		       (AG_LINK_WINDOW & (AG_LINK_WINDOW - 1)) == 0,
	       "AG_LINK_WINDOW must be a power of two <= 64: slots are seq % window");

enum { ST_CLOSED, ST_OPENING, ST_UP };

enum {
	F_TIMER = 1u << 0,       /* deadline is armed */
	F_NAK_SENT = 1u << 1,    /* one NAK per gap */
	F_RTT = 1u << 2,         /* timing rtt_seq */
	F_ACK_PENDING = 1u << 3, /* received data not yet acknowledged */
	F_ACK_TIMER = 1u << 4,   /* ack_deadline is armed */
};

#define NONCE_STEP 0x9e3779b9u

void ag_link_config_default(struct ag_link_config *cfg)
{
	cfg->max_frame = AG_FRAME_DEFAULT;
	cfg->window = AG_LINK_WINDOW;
	cfg->rto_init_ms = 500;
	cfg->rto_min_ms = 50;
	cfg->rto_max_ms = 4000;
	cfg->ack_delay_ms = 10;
	cfg->nonce = 1;
}

int ag_link_init(struct ag_link *l, const struct ag_link_config *cfg,
		 const struct ag_link_ops *ops, void *ctx)
{
	if (!l || !cfg || !ops || !ops->write)
		return AG_EINVAL;
	if (cfg->window < 1 || cfg->window > AG_LINK_WINDOW ||
	    cfg->max_frame < AG_FRAME_MIN_MAX || cfg->max_frame > AG_FRAME_MAX ||
	    cfg->rto_min_ms == 0 || cfg->rto_min_ms > cfg->rto_max_ms ||
	    cfg->rto_init_ms < cfg->rto_min_ms || cfg->rto_init_ms > cfg->rto_max_ms)
		return AG_EINVAL;
	memset(l, 0, sizeof(*l));
	l->ops = ops;
	l->ctx = ctx;
	l->window = cfg->window;
	l->max_frame = cfg->max_frame;
	l->rto = cfg->rto_init_ms;
	l->rto_min = cfg->rto_min_ms;
	l->rto_max = cfg->rto_max_ms;
	l->ack_delay = cfg->ack_delay_ms;
	l->my_nonce = cfg->nonce;
	l->state = ST_CLOSED;
	ag_frame_decoder_init(&l->dec, AG_FRAME_MAX);
	return 0;
}

static void emit(struct ag_link *l, int ev)
{
	if (l->ops->event)
		l->ops->event(l->ctx, ev);
}

static int xmit(struct ag_link *l, uint8_t kind, uint8_t seq, const uint8_t *p, uint16_t len)
{
	uint8_t wire[AG_FRAME_WIRE(AG_FRAME_MAX)];
	struct ag_frame f = { .kind = kind, .seq = seq, .ack = l->rx_next, .len = len, .payload = p };
	int n = ag_frame_encode(&f, wire, sizeof(wire));

	if (n < 0)
		return n;
	if (kind <= AG_FRAME_NAK)
		l->flags &= (uint8_t)~(F_ACK_PENDING | F_ACK_TIMER);
	l->stats.frames_out++;
	l->stats.bytes_out += (uint32_t)n;
	return l->ops->write(l->ctx, wire, (size_t)n);
}

static void arm(struct ag_link *l, uint32_t now)
{
	l->deadline = now + l->rto;
	l->flags |= F_TIMER;
}

static void session_clear(struct ag_link *l)
{
	l->tx_base = 0;
	l->tx_count = 0;
	l->rx_next = 0;
	l->flags = 0;
}

static int send_rst(struct ag_link *l)
{
	uint8_t p[4];

	ag_put_le32(p, l->my_nonce);
	return xmit(l, AG_FRAME_RST, 0, p, sizeof(p));
}

int ag_link_open(struct ag_link *l, uint32_t now_ms)
{
	l->my_nonce += NONCE_STEP;
	session_clear(l);
	l->state = ST_OPENING;
	arm(l, now_ms);
	return send_rst(l);
}

static void rtt_sample(struct ag_link *l, uint32_t r)
{
	uint32_t srtt8 = l->srtt8, var4 = l->rttvar4, rto;

	if (r > l->rto_max)
		r = l->rto_max;
	if (srtt8 == 0) {
		srtt8 = r * 8u;
		var4 = r * 2u;
	} else {
		int32_t err = (int32_t)r - (int32_t)(srtt8 / 8u);
		uint32_t aerr = (uint32_t)(err < 0 ? -err : err);

		srtt8 = (uint32_t)((int32_t)srtt8 + err);
		var4 = var4 + aerr - var4 / 4u;
	}
	if (srtt8 < 8u)
		srtt8 = 8u;
	l->srtt8 = (uint16_t)(srtt8 > 0xffffu ? 0xffffu : srtt8);
	l->rttvar4 = (uint16_t)(var4 > 0xffffu ? 0xffffu : var4);
	rto = srtt8 / 8u + var4;
	if (rto < l->rto_min)
		rto = l->rto_min;
	if (rto > l->rto_max)
		rto = l->rto_max;
	l->rto = (uint16_t)rto;
}

/* Cumulative ack: the peer expects @p a next. */
static void take_ack(struct ag_link *l, uint8_t a, uint32_t now)
{
	uint8_t n = (uint8_t)(a - l->tx_base);

	if (n == 0 || n > l->tx_count)
		return; /* nothing new, or not a sequence number we sent */
	if ((l->flags & F_RTT) && (uint8_t)(l->rtt_seq - l->tx_base) < n) {
		rtt_sample(l, now - l->rtt_start);
		l->flags &= (uint8_t)~F_RTT;
	}
	l->tx_base = a;
	l->tx_count = (uint8_t)(l->tx_count - n);
	if (l->tx_count)
		arm(l, now);
	else
		l->flags &= (uint8_t)~F_TIMER;
}

/* Go-back-N: resend every unacknowledged frame. */
static void resend_all(struct ag_link *l, uint32_t now)
{
	for (uint8_t i = 0; i < l->tx_count; i++) {
		uint8_t seq = (uint8_t)(l->tx_base + i);
		uint8_t slot = seq & (AG_LINK_WINDOW - 1);

		(void)xmit(l, AG_FRAME_DATA, seq, l->tx_buf[slot], l->tx_len[slot]);
		l->stats.retransmits++;
	}
	l->flags &= (uint8_t)~F_RTT; /* Karn: no samples from retransmissions */
	arm(l, now);
}

/* The peer resets: a new session, or a duplicate of the current one's reset. */
static void on_rst(struct ag_link *l, uint32_t nonce)
{
	uint8_t p[8];
	bool was_up = l->state == ST_UP;
	bool fresh = !(was_up && nonce == l->peer_nonce);

	if (fresh) {
		session_clear(l);
		l->peer_nonce = nonce;
		l->state = ST_UP;
		l->stats.resets++;
	}
	ag_put_le32(p, nonce);
	ag_put_le32(p + 4, l->my_nonce);
	(void)xmit(l, AG_FRAME_RST_ACK, 0, p, sizeof(p));
	if (fresh) {
		if (was_up)
			emit(l, AG_LINK_EV_RESET);
		emit(l, AG_LINK_EV_UP);
	}
}

static void on_frame(struct ag_link *l, const struct ag_frame *f, uint32_t now)
{
	if (f->kind == AG_FRAME_RST) {
		on_rst(l, ag_get_le32(f->payload));
		return;
	}
	if (f->kind == AG_FRAME_RST_ACK) {
		if (l->state == ST_OPENING && ag_get_le32(f->payload) == l->my_nonce) {
			l->peer_nonce = ag_get_le32(f->payload + 4);
			l->state = ST_UP;
			l->flags &= (uint8_t)~F_TIMER;
			emit(l, AG_LINK_EV_UP);
		}
		return;
	}
	if (l->state != ST_UP)
		return; /* no session: data from an old one */

	take_ack(l, f->ack, now);
	if (f->kind == AG_FRAME_NAK) {
		if (l->tx_count && f->ack == l->tx_base)
			resend_all(l, now);
		return;
	}
	if (f->kind != AG_FRAME_DATA)
		return;

	uint8_t d = (uint8_t)(f->seq - l->rx_next);

	if (d == 0) {
		l->rx_next++;
		l->flags = (uint8_t)((l->flags & ~F_NAK_SENT) | F_ACK_PENDING);
		l->stats.msgs_in++;
		if (l->ops->recv)
			l->ops->recv(l->ctx, f->payload, f->len);
	} else if (d >= 128) {
		l->stats.duplicates++;
		l->flags |= F_ACK_PENDING; /* our ack may have been lost */
	} else {
		l->stats.out_of_order++;
		if (!(l->flags & F_NAK_SENT)) {
			l->flags |= F_NAK_SENT;
			(void)xmit(l, AG_FRAME_NAK, 0, NULL, 0);
		}
	}
}

int ag_link_input(struct ag_link *l, const uint8_t *buf, size_t len, uint32_t now_ms)
{
	int bad = 0;

	l->stats.bytes_in += (uint32_t)len;
	while (len) {
		struct ag_frame f;
		size_t used = 0;
		int rc = ag_frame_decode(&l->dec, buf, len, &used, &f);

		buf += used;
		len -= used;
		if (rc == 1) {
			l->stats.frames_in++;
			on_frame(l, &f, now_ms);
			continue;
		}
		if (rc == 0)
			break;
		bad++;
		switch (rc) {
		case AG_ETRUNC: l->stats.err_trunc++; break;
		case AG_ETOOBIG: l->stats.err_toobig++; break;
		case AG_ECRC: l->stats.err_crc++; break;
		default: l->stats.err_garbage++; break;
		}
	}
	if ((l->flags & F_ACK_PENDING) && l->state == ST_UP) {
		/* Give a reply the chance to carry the ack (piggybacking saves a
		 * frame per message on the line), but not for long. */
		if (l->ack_delay == 0)
			(void)xmit(l, AG_FRAME_ACK, 0, NULL, 0);
		else if (!(l->flags & F_ACK_TIMER)) {
			l->ack_deadline = now_ms + l->ack_delay;
			l->flags |= F_ACK_TIMER;
		}
	}
	return bad;
}

int ag_link_send(struct ag_link *l, const uint8_t *msg, size_t len, uint32_t now_ms)
{
	uint8_t seq, slot;

	if (!msg || len == 0)
		return AG_EINVAL;
	if (len > ag_link_msg_max(l))
		return AG_ETOOBIG;
	if (l->state != ST_UP)
		return AG_ESTATE;
	if (l->tx_count >= l->window)
		return AG_EAGAIN;
	seq = (uint8_t)(l->tx_base + l->tx_count);
	slot = seq & (AG_LINK_WINDOW - 1);
	memcpy(l->tx_buf[slot], msg, len);
	l->tx_len[slot] = (uint16_t)len;
	l->tx_count++;
	l->stats.msgs_out++;
	if (!(l->flags & F_TIMER))
		arm(l, now_ms);
	if (!(l->flags & F_RTT)) {
		l->flags |= F_RTT;
		l->rtt_seq = seq;
		l->rtt_start = now_ms;
	}
	(void)xmit(l, AG_FRAME_DATA, seq, msg, (uint16_t)len); /* a failed write is a lost frame */
	return 0;
}

/* The retransmission timer; ag_link_poll adds the delayed ack. */
static uint32_t poll_rto(struct ag_link *l, uint32_t now_ms)
{
	int32_t left;

	if (!(l->flags & F_TIMER))
		return UINT32_MAX;
	left = (int32_t)(l->deadline - now_ms);
	if (left > 0)
		return (uint32_t)left;

	/* Timeout: back off, then resend. */
	l->rto = (uint16_t)(l->rto * 2u > l->rto_max ? l->rto_max : l->rto * 2u);
	if (l->state == ST_OPENING) {
		(void)send_rst(l);
		arm(l, now_ms);
	} else if (l->state == ST_UP && l->tx_count) {
		resend_all(l, now_ms);
	} else {
		l->flags &= (uint8_t)~F_TIMER;
		return UINT32_MAX;
	}
	return l->rto;
}

uint32_t ag_link_poll(struct ag_link *l, uint32_t now_ms)
{
	uint32_t t = poll_rto(l, now_ms);

	if (l->flags & F_ACK_TIMER) {
		int32_t left = (int32_t)(l->ack_deadline - now_ms);

		if (left <= 0) {
			if (l->state == ST_UP)
				(void)xmit(l, AG_FRAME_ACK, 0, NULL, 0);
			l->flags &= (uint8_t)~(F_ACK_PENDING | F_ACK_TIMER);
		} else if ((uint32_t)left < t) {
			t = (uint32_t)left;
		}
	}
	return t;
}

bool ag_link_is_up(const struct ag_link *l)
{
	return l->state == ST_UP;
}

unsigned ag_link_send_space(const struct ag_link *l)
{
	return l->state == ST_UP ? (unsigned)(l->window - l->tx_count) : 0u;
}

unsigned ag_link_in_flight(const struct ag_link *l)
{
	return l->tx_count;
}

size_t ag_link_msg_max(const struct ag_link *l)
{
	return (size_t)AG_FRAME_PAYLOAD(l->max_frame);
}

int ag_link_set_max_frame(struct ag_link *l, uint16_t max_frame)
{
	if (max_frame < AG_FRAME_MIN_MAX || max_frame > AG_FRAME_MAX)
		return AG_EINVAL;
	l->max_frame = max_frame;
	return 0;
}
