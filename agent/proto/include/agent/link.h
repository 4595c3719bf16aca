/**
 * @file link.h
 * @brief A reliable, ordered message link over a byte stream (UART, pty, TCP).
 *
 * Go-back-N with cumulative acknowledgements, a NAK for fast retransmission,
 * an adaptive retransmission timeout, duplicate suppression, and a reset
 * handshake that starts a fresh session on (re)connect. Messages are at most
 * one frame's payload; messages are delivered exactly once and in order
 * within a session.
 *
 * Per instance: the caller owns the struct (about 1.3 KiB at the default
 * frame size and window); there are no globals and no allocation. Time comes
 * in as a millisecond counter on every call; I/O goes out through callbacks.
 * The same code runs in firmware, in the gateway's epoll loop and in a
 * simulator with thousands of instances.
 */
#ifndef AGENT_LINK_H
#define AGENT_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/frame.h"

/** Send window in frames: buffers this many unacknowledged messages. */
#ifndef AG_LINK_WINDOW
#define AG_LINK_WINDOW 4
#endif

#define AG_LINK_MSG_MAX AG_FRAME_PAYLOAD(AG_FRAME_MAX) /**< largest message */

/** Link events passed to @ref ag_link_ops.event. */
enum ag_link_event {
	AG_LINK_EV_UP = 1,    /**< a session is established; sending is allowed */
	AG_LINK_EV_RESET = 2, /**< the peer started a new session: unacknowledged
			       *   messages were dropped, peer state is gone */
};

/** Callbacks. @c write is required; the others may be NULL. */
struct ag_link_ops {
	/**
	 * Writes one encoded frame. Must take all @p len bytes (the transport
	 * buffers them) or fail; a frame that fails is treated as lost and
	 * retransmitted. Returns 0 or a negative @ref ag_err.
	 */
	int (*write)(void *ctx, const uint8_t *buf, size_t len);
	/** A message arrived, in order. May call @ref ag_link_send. */
	void (*recv)(void *ctx, const uint8_t *msg, size_t len);
	/** An @ref ag_link_event. */
	void (*event)(void *ctx, int event);
};

/** Tunables. Fill with @ref ag_link_config_default, then adjust. */
struct ag_link_config {
	uint16_t max_frame;   /**< frames sent are at most this (<= AG_FRAME_MAX) */
	uint8_t window;       /**< 1..AG_LINK_WINDOW */
	uint16_t rto_init_ms; /**< retransmission timeout before any RTT sample */
	uint16_t rto_min_ms;  /**< lower bound of the adaptive timeout */
	uint16_t rto_max_ms;  /**< upper bound, also of the back-off */
	uint8_t ack_delay_ms; /**< hold an acknowledgement this long for a
			       *   message to carry it; 0 sends it at once */
	uint32_t nonce;       /**< seeds session nonces; differ across reboots */
};

/** Counters; they only grow. */
struct ag_link_stats {
	uint32_t frames_in, frames_out;
	uint32_t bytes_in, bytes_out;
	uint32_t msgs_in, msgs_out;
	uint32_t err_trunc, err_toobig, err_crc, err_garbage;
	uint32_t retransmits, duplicates, out_of_order, resets;
};

/**
 * @brief A link instance. Caller-allocated; fields are private except
 * @c stats (read-only).
 */
struct ag_link {
	const struct ag_link_ops *ops; /* private */
	void *ctx;                     /* private */
	struct ag_link_stats stats;    /* read-only */
	uint32_t my_nonce;             /* private */
	uint32_t peer_nonce;           /* private */
	uint32_t deadline;             /* private: retransmission timer */
	uint32_t ack_deadline;         /* private: delayed acknowledgement */
	uint32_t rtt_start;            /* private: send time of rtt_seq */
	uint16_t srtt8;                /* private: smoothed RTT * 8 */
	uint16_t rttvar4;              /* private: RTT variance * 4 */
	uint16_t rto;                  /* private */
	uint16_t rto_min, rto_max;     /* private */
	uint16_t max_frame;            /* private */
	uint8_t ack_delay;             /* private */
	uint8_t window;                /* private */
	uint8_t state;                 /* private */
	uint8_t flags;                 /* private */
	uint8_t tx_base;               /* private: oldest unacknowledged seq */
	uint8_t tx_count;              /* private: unacknowledged frames */
	uint8_t rx_next;               /* private: next seq expected */
	uint8_t rtt_seq;               /* private */
	uint16_t tx_len[AG_LINK_WINDOW];                    /* private */
	uint8_t tx_buf[AG_LINK_WINDOW][AG_LINK_MSG_MAX];    /* private */
	struct ag_frame_decoder dec;                        /* private */
};

/**
 * @brief Fills @p cfg with defaults: AG_FRAME_DEFAULT, full window, RTO
 * 500 ms (50..4000), acknowledgements held up to 10 ms for a reply to carry.
 */
void ag_link_config_default(struct ag_link_config *cfg);

/**
 * @brief Initializes a closed link. A closed link answers a peer's reset
 * (and so comes up when the peer opens), but sends nothing of its own.
 * @return 0, or AG_EINVAL for a bad config or a missing write callback.
 */
int ag_link_init(struct ag_link *l, const struct ag_link_config *cfg,
		 const struct ag_link_ops *ops, void *ctx);

/**
 * @brief Starts a new session: drops unacknowledged messages and sends a
 * reset until the peer answers. Call on connect and after a reboot.
 * @return 0 or the write callback's error (the reset is retried anyway).
 */
int ag_link_open(struct ag_link *l, uint32_t now_ms);

/**
 * @brief Feeds received bytes. Calls @c recv for each message and @c event
 * for session changes, then acknowledges.
 * @return the number of bad frames dropped in this input (0 if none); never
 *         fails: bad input is counted in @c stats and skipped.
 */
int ag_link_input(struct ag_link *l, const uint8_t *buf, size_t len, uint32_t now_ms);

/**
 * @brief Queues and transmits one message.
 * @return 0; AG_EAGAIN when the window is full (retry after input or poll);
 *         AG_ESTATE when no session is up; AG_ETOOBIG when @p len exceeds
 *         @ref ag_link_msg_max; AG_EINVAL for an empty message.
 *         On error nothing was queued.
 */
int ag_link_send(struct ag_link *l, const uint8_t *msg, size_t len, uint32_t now_ms);

/**
 * @brief Runs timers: retransmits on timeout, sends a held acknowledgement.
 * @return milliseconds until the next deadline, or UINT32_MAX if none.
 */
uint32_t ag_link_poll(struct ag_link *l, uint32_t now_ms);

/** @brief True once a session is up. */
bool ag_link_is_up(const struct ag_link *l);

/** @brief Messages that can be sent now without AG_EAGAIN. */
unsigned ag_link_send_space(const struct ag_link *l);

/** @brief Unacknowledged messages in flight. */
unsigned ag_link_in_flight(const struct ag_link *l);

/** @brief Largest message @ref ag_link_send accepts now. */
size_t ag_link_msg_max(const struct ag_link *l);

/**
 * @brief Applies the frame size negotiated in hello: the smaller of both
 * sides' maxima. Affects frames sent from now on.
 * @return 0, or AG_EINVAL if @p max_frame is out of range.
 */
int ag_link_set_max_frame(struct ag_link *l, uint16_t max_frame);

#endif /* AGENT_LINK_H */
