/**
 * @file ota_tx.h
 * @brief The sending side of one OTA transfer: the gateway's counterpart of
 * the agent's receiver (agent/agent.h), over an @ref ag_link.
 *
 * It offers the transfer, sends chunks as far as the device's credit allows
 * (the device acknowledges what it has stored and grants credit beyond
 * it), asks the device to verify with OTA_FINISH, and follows the device
 * through disconnects: after a link reset, or when nothing moves for a
 * while, it offers again and the device answers with the offset it already
 * holds, so the transfer resumes there instead of starting over. It can be
 * paused, resumed and cancelled.
 *
 * Per instance; caller-owned struct; no allocation. Portable, so a device
 * could send too, but the gateway is where it runs: one per updating device.
 */
#ifndef AGENT_OTA_TX_H
#define AGENT_OTA_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/link.h"
#include "agent/msg.h"

/** Reads @p len bytes of the payload at @p off into @p buf: 0 or a negative error. */
typedef int (*ag_ota_read_fn)(void *ctx, uint32_t off, uint8_t *buf, size_t len);

/** Transfer states. */
enum ag_ota_tx_state {
	AG_OTA_TX_IDLE = 0,
	AG_OTA_TX_OFFERED = 1,   /**< offer sent; waiting for the device's offset */
	AG_OTA_TX_SENDING = 2,   /**< chunks flowing */
	AG_OTA_TX_FINISHING = 3, /**< all acknowledged; the device verifies */
	AG_OTA_TX_DONE = 4,      /**< verified by the device */
	AG_OTA_TX_FAILED = 5,    /**< see ag_ota_tx_result() */
	AG_OTA_TX_PAUSED = 6,
	AG_OTA_TX_CANCELED = 7,
};

/** Counters of one transfer. */
struct ag_ota_tx_stats {
	uint32_t bytes_sent;   /**< payload bytes sent, resends included */
	uint32_t chunks_sent;
	uint32_t offers_sent;  /**< 1, plus one per resume */
	uint32_t resumes;      /**< offers after a reset or a stall */
	uint32_t resumed_from; /**< offset of the last resume */
};

/** @brief One transfer. Caller-allocated; fields are private except @c stats. */
struct ag_ota_tx {
	struct ag_msg_ota_offer offer; /* private */
	ag_ota_read_fn read;           /* private */
	void *ctx;                     /* private */
	struct ag_ota_tx_stats stats;  /* read-only */
	uint32_t acked;                /* private: stored by the device */
	uint32_t sent;                 /* private: next offset to send */
	uint32_t limit;                /* private: credit ends here */
	uint32_t deadline;             /* private: progress timer */
	uint16_t timeout_ms;           /* private */
	int16_t result;                /* private */
	uint8_t state;                 /* private */
	uint8_t retries, max_retries;  /* private */
	uint8_t pending;               /* private: offer/finish/abort to send */
};

/**
 * @brief Starts a transfer of @p offer->size bytes in chunks of at most
 * @p offer->chunk_max (bounded by the link's message size).
 * @param timeout_ms no progress for this long means the device is asked
 *        where it is (offered again); after @p max_retries such offers in a
 *        row the transfer fails with AG_ETIMEDOUT.
 * @return 0 or AG_EINVAL.
 */
int ag_ota_tx_start(struct ag_ota_tx *tx, const struct ag_msg_ota_offer *offer,
		    ag_ota_read_fn read, void *ctx, uint16_t timeout_ms, uint8_t max_retries,
		    uint32_t now_ms);

/**
 * @brief Takes a message from the device (OTA_ACK, OTA_ABORT, ERROR);
 * others are ignored.
 * @return true if it concerned this transfer.
 */
bool ag_ota_tx_on_msg(struct ag_ota_tx *tx, const struct ag_msg *m, uint32_t now_ms);

/**
 * @brief Sends what it can now: the offer, chunks within credit and the
 * link's window, the finish; runs the progress timer.
 * @return milliseconds until it needs to run again (UINT32_MAX when the
 *         transfer has ended).
 */
uint32_t ag_ota_tx_pump(struct ag_ota_tx *tx, struct ag_link *link, uint32_t now_ms);

/** @brief The link to the device was reset: offer again; the device says where it is. */
void ag_ota_tx_link_reset(struct ag_ota_tx *tx, uint32_t now_ms);

/** @brief Stops sending chunks; the device keeps what it has. AG_ESTATE if not running. */
int ag_ota_tx_pause(struct ag_ota_tx *tx);

/** @brief Goes on after a pause, from where the device is. AG_ESTATE if not paused. */
int ag_ota_tx_resume(struct ag_ota_tx *tx, uint32_t now_ms);

/** @brief Ends the transfer and tells the device (OTA_ABORT). AG_ESTATE if already over. */
int ag_ota_tx_cancel(struct ag_ota_tx *tx);

/** @brief The state (@ref ag_ota_tx_state). */
int ag_ota_tx_state(const struct ag_ota_tx *tx);

/** @brief Why it failed: the device's status or AG_ETIMEDOUT; 0 otherwise. */
int ag_ota_tx_result(const struct ag_ota_tx *tx);

/** @brief Bytes the device has stored. */
uint32_t ag_ota_tx_acked(const struct ag_ota_tx *tx);

/** @brief True when it has ended: done, failed or canceled. */
bool ag_ota_tx_over(const struct ag_ota_tx *tx);

#endif /* AGENT_OTA_TX_H */
