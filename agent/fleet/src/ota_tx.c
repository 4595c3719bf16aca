#include "agent/ota_tx.h"

#include <string.h>

#include "agent/err.h"

enum { P_OFFER = 1u << 0, P_FINISH = 1u << 1, P_ABORT = 1u << 2 };

#define CHUNK_HDR 10u /* version, type, xfer, offset */

int ag_ota_tx_start(struct ag_ota_tx *tx, const struct ag_msg_ota_offer *offer,
		    ag_ota_read_fn read, void *ctx, uint16_t timeout_ms, uint8_t max_retries,
		    uint32_t now_ms)
{
	if (!tx || !offer || !read || offer->chunk_max == 0 || timeout_ms == 0)
		return AG_EINVAL;
	memset(tx, 0, sizeof(*tx));
	tx->offer = *offer;
	tx->read = read;
	tx->ctx = ctx;
	tx->timeout_ms = timeout_ms;
	tx->max_retries = max_retries;
	tx->state = AG_OTA_TX_OFFERED;
	tx->pending = P_OFFER;
	tx->deadline = now_ms + timeout_ms;
	return 0;
}

static void fail(struct ag_ota_tx *tx, int err)
{
	tx->state = AG_OTA_TX_FAILED;
	tx->result = (int16_t)err;
	tx->pending = 0;
}

/* Ask the device where it is: it answers with the offset it holds. */
static void reoffer(struct ag_ota_tx *tx, uint32_t now)
{
	tx->state = AG_OTA_TX_OFFERED;
	tx->pending = (uint8_t)((tx->pending & ~P_FINISH) | P_OFFER);
	tx->deadline = now + tx->timeout_ms;
}

/* The same after a reset, a stall or a lost transfer: a recovery. */
static void recover(struct ag_ota_tx *tx, uint32_t now)
{
	reoffer(tx, now);
	tx->stats.resumes++;
}

bool ag_ota_tx_on_msg(struct ag_ota_tx *tx, const struct ag_msg *m, uint32_t now_ms)
{
	if (ag_ota_tx_over(tx) || tx->state == AG_OTA_TX_IDLE)
		return false;
	switch (m->type) {
	case AG_MSG_OTA_ACK: {
		const struct ag_msg_ota_ack *a = &m->u.ota_ack;

		if (a->xfer != tx->offer.xfer)
			return false;
		if (a->status) {
			fail(tx, a->status);
			return true;
		}
		if (a->offset > tx->offer.size) {
			fail(tx, AG_EMALFORMED);
			return true;
		}
		if (tx->state == AG_OTA_TX_OFFERED) {
			/* The device's answer to an offer: start (or resume) there. */
			tx->acked = tx->sent = a->offset;
			tx->stats.resumed_from = a->offset;
			tx->state = AG_OTA_TX_SENDING;
		} else if (tx->state == AG_OTA_TX_FINISHING) {
			if (a->offset == tx->offer.size) {
				tx->state = AG_OTA_TX_DONE;
				tx->pending = 0;
			}
			return true;
		} else if (a->offset < tx->acked) {
			return true; /* older than what we know */
		}
		if (a->offset > tx->acked)
			tx->retries = 0;
		tx->acked = a->offset;
		if (tx->sent < tx->acked)
			tx->sent = tx->acked;
		tx->deadline = now_ms + tx->timeout_ms;
		tx->limit = tx->acked + (uint32_t)a->credit * tx->offer.chunk_max;
		return true;
	}
	case AG_MSG_OTA_ABORT:
		if (m->u.ota_abort.xfer != tx->offer.xfer)
			return false;
		fail(tx, m->u.ota_abort.reason ? m->u.ota_abort.reason : AG_ECANCELED);
		return true;
	case AG_MSG_ERROR:
		if (m->u.error.ref_type != AG_MSG_OTA_CHUNK && m->u.error.ref_type != AG_MSG_OTA_FINISH &&
		    m->u.error.ref_type != AG_MSG_OTA_OFFER)
			return false;
		/* The device lost the transfer (rebooted, say): ask again. */
		if (tx->state != AG_OTA_TX_PAUSED)
			recover(tx, now_ms);
		return true;
	default:
		return false;
	}
}

static bool send_msg(struct ag_link *link, const struct ag_msg *m, uint32_t now)
{
	uint8_t buf[AG_LINK_MSG_MAX];
	int n = ag_msg_encode(m, buf, sizeof(buf));

	return n > 0 && ag_link_send(link, buf, (size_t)n, now) == 0;
}

/* One chunk at tx->sent; false if the window is full or the read failed. */
static bool send_chunk(struct ag_ota_tx *tx, struct ag_link *link, uint32_t now)
{
	uint8_t data[AG_LINK_MSG_MAX];
	struct ag_msg m;
	uint32_t room = (uint32_t)ag_link_msg_max(link) - CHUNK_HDR;
	uint32_t n = tx->offer.chunk_max < room ? tx->offer.chunk_max : room;
	int rc;

	if (n > tx->offer.size - tx->sent)
		n = tx->offer.size - tx->sent;
	if (n > tx->limit - tx->sent)
		n = tx->limit - tx->sent;
	rc = tx->read(tx->ctx, tx->sent, data, n);
	if (rc < 0) {
		fail(tx, rc);
		tx->pending = P_ABORT;
		return false;
	}
	memset(&m, 0, sizeof(m));
	m.type = AG_MSG_OTA_CHUNK;
	m.u.ota_chunk.xfer = tx->offer.xfer;
	m.u.ota_chunk.offset = tx->sent;
	m.u.ota_chunk.len = (uint16_t)n;
	m.u.ota_chunk.data = data;
	if (!send_msg(link, &m, now))
		return false;
	tx->sent += n;
	tx->stats.bytes_sent += n;
	tx->stats.chunks_sent++;
	return true;
}

uint32_t ag_ota_tx_pump(struct ag_ota_tx *tx, struct ag_link *link, uint32_t now_ms)
{
	struct ag_msg m;

	if (tx->pending & P_ABORT) {
		memset(&m, 0, sizeof(m));
		m.type = AG_MSG_OTA_ABORT;
		m.u.ota_abort.xfer = tx->offer.xfer;
		m.u.ota_abort.reason = (int16_t)(tx->result ? tx->result : AG_ECANCELED);
		if (ag_link_is_up(link) && send_msg(link, &m, now_ms))
			tx->pending = 0;
		return tx->pending ? 10u : UINT32_MAX;
	}
	if (ag_ota_tx_over(tx) || tx->state == AG_OTA_TX_IDLE)
		return UINT32_MAX;
	if (tx->state == AG_OTA_TX_PAUSED)
		return UINT32_MAX;

	if ((int32_t)(now_ms - tx->deadline) >= 0) {
		/* No progress: ask the device where it is, a limited number of times. */
		if (++tx->retries > tx->max_retries) {
			fail(tx, AG_ETIMEDOUT);
			tx->pending = P_ABORT;
			return 0;
		}
		recover(tx, now_ms);
	}
	if (!ag_link_is_up(link))
		return (uint32_t)(tx->deadline - now_ms);

	if (tx->pending & P_OFFER) {
		memset(&m, 0, sizeof(m));
		m.type = AG_MSG_OTA_OFFER;
		m.u.ota_offer = tx->offer;
		if (send_msg(link, &m, now_ms)) {
			tx->pending &= (uint8_t)~P_OFFER;
			tx->stats.offers_sent++;
		}
	}
	if (tx->state == AG_OTA_TX_SENDING) {
		while (tx->sent < tx->offer.size && tx->sent < tx->limit &&
		       ag_link_send_space(link) && send_chunk(tx, link, now_ms))
			;
		if (tx->acked == tx->offer.size) {
			tx->state = AG_OTA_TX_FINISHING;
			tx->pending |= P_FINISH;
			tx->deadline = now_ms + tx->timeout_ms;
		}
	}
	if (tx->pending & P_FINISH) {
		memset(&m, 0, sizeof(m));
		m.type = AG_MSG_OTA_FINISH;
		m.u.ota_finish.xfer = tx->offer.xfer;
		m.u.ota_finish.size = tx->offer.size;
		if (send_msg(link, &m, now_ms))
			tx->pending &= (uint8_t)~P_FINISH;
	}
	if (ag_ota_tx_over(tx))
		return tx->pending ? 0u : UINT32_MAX;
	return (uint32_t)(tx->deadline - now_ms);
}

void ag_ota_tx_link_reset(struct ag_ota_tx *tx, uint32_t now_ms)
{
	if (ag_ota_tx_over(tx) || tx->state == AG_OTA_TX_IDLE)
		return;
	if (tx->state == AG_OTA_TX_PAUSED)
		return; /* resuming offers again anyway */
	tx->retries = 0;
	recover(tx, now_ms);
}

int ag_ota_tx_pause(struct ag_ota_tx *tx)
{
	if (ag_ota_tx_over(tx) || tx->state == AG_OTA_TX_IDLE || tx->state == AG_OTA_TX_PAUSED)
		return AG_ESTATE;
	tx->state = AG_OTA_TX_PAUSED;
	return 0;
}

int ag_ota_tx_resume(struct ag_ota_tx *tx, uint32_t now_ms)
{
	if (tx->state != AG_OTA_TX_PAUSED)
		return AG_ESTATE;
	tx->retries = 0;
	reoffer(tx, now_ms);
	return 0;
}

int ag_ota_tx_cancel(struct ag_ota_tx *tx)
{
	if (ag_ota_tx_over(tx) || tx->state == AG_OTA_TX_IDLE)
		return AG_ESTATE;
	tx->state = AG_OTA_TX_CANCELED;
	tx->result = AG_ECANCELED;
	tx->pending = P_ABORT;
	return 0;
}

int ag_ota_tx_state(const struct ag_ota_tx *tx)
{
	return tx->state;
}

int ag_ota_tx_result(const struct ag_ota_tx *tx)
{
	return tx->result;
}

uint32_t ag_ota_tx_acked(const struct ag_ota_tx *tx)
{
	return tx->acked;
}

bool ag_ota_tx_over(const struct ag_ota_tx *tx)
{
	return tx->state == AG_OTA_TX_DONE || tx->state == AG_OTA_TX_FAILED ||
	       tx->state == AG_OTA_TX_CANCELED;
}
