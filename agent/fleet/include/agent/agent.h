/**
 * @file agent.h
 * @brief The device-side fleet agent: the report and OTA state machine that
 * firmware runs, on top of @ref ag_link and the messages of agent/msg.h.
 *
 * The agent says hello when a link session comes up (and again after the
 * peer resets), sends heartbeats at the interval the gateway asks for, takes
 * OTA transfers chunk by chunk into storage the caller provides (resuming at
 * the offset storage reports), and carries out activate and reboot. What it
 * must send but cannot yet (the link window is full) is remembered as a flag
 * and regenerated from state later, so it needs no outgoing queue.
 *
 * Per instance; caller-owned struct; no allocation, no globals. Time comes in
 * as a millisecond counter; bytes in through @ref ag_agent_input; bytes out
 * through the write callback. Runs in firmware (as a coroutine's loop), in
 * the fleet simulator (thousands of instances) and in host tests.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/link.h"
#include "agent/msg.h"

/** What the device is: sent in hello. */
struct ag_agent_identity {
	char device_id[AG_ID_MAX + 1];
	char hw_id[AG_ID_MAX + 1];
	uint32_t caps;      /**< @ref ag_caps */
	uint32_t boot_count;
};

/**
 * Callbacks into the device. @c write and @c slots are required; a NULL OTA
 * callback refuses transfers (AG_ESTATE); NULL activate/reboot refuse those.
 * Every callback returns 0 or a negative @ref ag_err unless it says otherwise.
 */
struct ag_agent_ops {
	/** Writes encoded bytes to the transport (see ag_link_ops.write). */
	int (*write)(void *ctx, const uint8_t *buf, size_t len);
	/** Reports both slots and which one runs. */
	void (*slots)(void *ctx, struct ag_slot_info ret_slot[2], uint8_t *ret_active);
	/**
	 * Fills health counters and stack marks for a heartbeat. Optional; the
	 * agent sets uptime_s and boot_count itself.
	 */
	void (*health)(void *ctx, struct ag_msg_heartbeat *hb);
	/**
	 * A transfer is offered. Return 0 to accept and set *ret_offset to the
	 * bytes already stored for this same transfer (0 if new; more when
	 * resuming after a disconnect or power cut), or an error to refuse.
	 */
	int (*ota_begin)(void *ctx, const struct ag_msg_ota_offer *offer, uint32_t *ret_offset);
	/** Stores @p len bytes at @p offset; offsets arrive in order, without gaps. */
	int (*ota_write)(void *ctx, uint32_t offset, const uint8_t *data, size_t len);
	/** All bytes are in: verify (hash, signature, patch) and mark the slot pending. */
	int (*ota_finish)(void *ctx, uint32_t size);
	/** The transfer stopped: @p reason is the peer's or the agent's error. */
	void (*ota_abort)(void *ctx, int reason);
	/** Boot @p slot next; @p permanent skips the trial boot. */
	int (*activate)(void *ctx, uint8_t slot, bool permanent);
	/** Reboot after @p delay_ms. Usually does not return on a device. */
	void (*reboot)(void *ctx, uint32_t delay_ms);
	/** Optional: a message the agent does not handle itself (telemetry commands, ...). */
	void (*other)(void *ctx, const struct ag_msg *m);
};

/** Tunables. Fill with @ref ag_agent_config_default. */
struct ag_agent_config {
	struct ag_link_config link;
	uint16_t heartbeat_s; /**< until the gateway sets one in HELLO_ACK */
	uint8_t ota_credit;   /**< chunks granted beyond the acknowledged offset */
};

/** Counters; they only grow. */
struct ag_agent_stats {
	uint32_t hellos, heartbeats, errors_in, errors_out;
	uint32_t ota_started, ota_done, ota_failed, chunks;
};

/** OTA phases as the agent sees them. */
enum ag_agent_ota {
	AG_AGENT_OTA_IDLE = 0,
	AG_AGENT_OTA_RECEIVING = 1,
	AG_AGENT_OTA_VERIFIED = 2, /**< finished and verified; waiting for activate */
	AG_AGENT_OTA_FAILED = 3,
};

/** @brief An agent. Caller-allocated; fields are private except @c stats and @c link.stats. */
struct ag_agent {
	struct ag_link link; /* private, but link.stats is readable */
	struct ag_agent_identity id;          /* private */
	const struct ag_agent_ops *ops;       /* private */
	void *ctx;                            /* private */
	struct ag_agent_stats stats;          /* read-only */
	uint32_t start_ms;                    /* private */
	uint32_t now_ms;                      /* private: time of the current call */
	uint32_t next_hb_ms;                  /* private */
	uint32_t xfer, xfer_size, xfer_off;   /* private */
	int16_t xfer_status;                  /* private */
	int16_t err_code;                     /* private: pending ERROR */
	uint8_t err_type;                     /* private */
	uint8_t ota;                          /* private: enum ag_agent_ota */
	uint8_t pending;                      /* private: flags of what to send */
	uint8_t hello_acked;                  /* private */
	uint8_t credit;                       /* private */
	uint16_t heartbeat_s;                 /* private */
	uint16_t max_frame;                   /* private: ours, offered in hello */
	struct {
		uint8_t slot;
		int16_t result;
		struct ag_version version;
	} confirm;                            /* private: pending CONFIRM */
};

/** @brief Defaults: the link's defaults, heartbeat every 30 s, credit 4. */
void ag_agent_config_default(struct ag_agent_config *cfg);

/**
 * @brief Initializes an agent; nothing is sent until @ref ag_agent_start.
 * @return 0, or AG_EINVAL (missing callback, bad config, id too long).
 */
int ag_agent_init(struct ag_agent *a, const struct ag_agent_config *cfg,
		  const struct ag_agent_identity *id, const struct ag_agent_ops *ops, void *ctx);

/** @brief Opens a link session (at boot, or after the transport reconnects). */
int ag_agent_start(struct ag_agent *a, uint32_t now_ms);

/** @brief Feeds received bytes. */
void ag_agent_input(struct ag_agent *a, const uint8_t *buf, size_t len, uint32_t now_ms);

/**
 * @brief Runs timers: link retransmission, heartbeats, and anything that
 * waited for room in the window.
 * @return milliseconds until it needs to run again.
 */
uint32_t ag_agent_poll(struct ag_agent *a, uint32_t now_ms);

/**
 * @brief Sends telemetry now.
 * @return 0; AG_EAGAIN if the window is full or hello is not yet answered
 *         (try later); AG_EMALFORMED for a bad message.
 */
int ag_agent_send_telemetry(struct ag_agent *a, const struct ag_msg_telemetry *t, uint32_t now_ms);

/**
 * @brief Reports the result of a trial boot (confirmed, or reverted with a
 * reason); sent once the gateway has answered hello.
 */
void ag_agent_report_confirm(struct ag_agent *a, uint8_t slot, int16_t result,
			     const struct ag_version *version);

/** @brief True once the gateway has answered hello in this session. */
bool ag_agent_is_ready(const struct ag_agent *a);

/** @brief The current OTA phase (@ref ag_agent_ota) and bytes received. */
int ag_agent_ota_state(const struct ag_agent *a, uint32_t *ret_offset);

#endif /* AGENT_AGENT_H */
