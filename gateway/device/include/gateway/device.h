/**
 * @file device.h
 * @brief Device sessions: the gateway side of the agent protocol on every
 * link, and what they report into the registry, metrics and the JSON API.
 *
 * Each link the transport opens gets a session with its own @ref ag_link
 * (opened by the gateway on every new connection, as agent/PROTOCOL.md
 * says). The session answers HELLO with HELLO_ACK (the smaller of both
 * max_frame values, the configured heartbeat), records heartbeats, telemetry
 * and trial-boot confirmations, and answers a message it cannot take with an
 * ERROR naming the cause. A device that says hello on a new link while an old
 * one lingers keeps the new one. Modules that speak more of the protocol (the
 * OTA engine) plug in through @ref gw_devices_hooks.
 */
#ifndef GATEWAY_DEVICE_H
#define GATEWAY_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/msg.h"
#include "gateway/http.h"
#include "gateway/metrics.h"
#include "gateway/registry.h"
#include "gateway/transport.h"

#define GW_HELLO_TIMEOUT_MS 30000u /**< a TCP link that says no hello this long is closed */
#define GW_RELEASES_MAX 64         /**< releases told apart in metrics; the rest are "other" */

struct gw_devices;
struct gw_session;

/** Settings; may change on reload. */
struct gw_devices_config {
	uint16_t heartbeat_s;     /**< asked of devices in HELLO_ACK */
	uint16_t max_frame;       /**< offered in HELLO_ACK */
	uint32_t offline_after_s; /**< silence before offline; 0: 3 heartbeats + 5 s */
};

/** Hooks for modules that extend the protocol. Every member may be NULL. */
struct gw_devices_hooks {
	/**
	 * A message from a device that said hello, other than HELLO, HEARTBEAT
	 * and TELEMETRY. Return 0 when handled, -ENOTSUP to let the device layer
	 * handle it (or refuse it with an ERROR).
	 */
	int (*message)(void *ctx, struct gw_session *s, struct gw_device *d, const struct ag_msg *m);
	/** A device said hello on @p s. */
	void (*online)(void *ctx, struct gw_session *s, struct gw_device *d);
	/** A device's session ended. */
	void (*offline)(void *ctx, struct gw_device *d);
};

/**
 * @brief Creates the device layer over @p reg.
 * @return 0 or -ENOMEM.
 */
int gw_devices_new(struct gw_registry *reg, const struct gw_devices_config *cfg,
		   struct gw_devices **ret_d) __attribute__((warn_unused_result));

/** @brief Frees; close the transport (which ends every session) first. NULL is fine. */
void gw_devices_free(struct gw_devices *d);

/** @brief Applies new settings to sessions from now on. */
void gw_devices_set_config(struct gw_devices *d, const struct gw_devices_config *cfg);

/**
 * Who measures a device link's latency (the eBPF probes): told the labels
 * of a link once its device has said hello, and asked to describe the
 * link's latency in the device's JSON. Every member may be NULL.
 */
struct gw_devices_linkwatch {
	/** @p fd carries a device running @p release, in @p cohort. */
	void (*labels)(void *ctx, int fd, int kind, const char *release, const char *cohort);
	/** Adds what it knows of @p fd's latency to @p link (a JSON object). */
	void (*describe)(void *ctx, int fd, json_t *link);
};

/** @brief Installs the link watcher (one; NULL removes it). */
void gw_devices_set_linkwatch(struct gw_devices *d, const struct gw_devices_linkwatch *w,
			      void *ctx);

/** @brief Installs hooks (one set). */
void gw_devices_set_hooks(struct gw_devices *d, const struct gw_devices_hooks *hooks, void *ctx);

/** @brief The callbacks to give @ref gw_transport_new, with the gw_devices as context. */
const struct gw_transport_ops *gw_devices_transport_ops(void);

/** @brief Timers: retransmissions, pending replies, offline detection. Call at
 * @ref gw_devices_next_wake and at least every ~100 ms. */
void gw_devices_tick(struct gw_devices *d, uint64_t now_ms);

/**
 * @brief When @ref gw_devices_tick next has work (a link's retransmission or
 * delayed ACK, an offline deadline), monotonic ms; UINT64_MAX if never. The
 * daemon wakes for it so link timers run spread out, not in 100 ms bunches.
 */
uint64_t gw_devices_next_wake(const struct gw_devices *d);

/** @brief Devices online now. */
unsigned gw_devices_online(const struct gw_devices *d);

/** @brief The live session of a device, or NULL. */
struct gw_session *gw_devices_session(struct gw_devices *d, const char *id);

/**
 * @brief Sends a message on a session.
 * @return 0; -EAGAIN when the link's window is full; -ENOTCONN without a
 *         session; -EINVAL for a message that does not encode.
 */
int gw_session_send(struct gw_session *s, const struct ag_msg *m);

/**
 * @brief True if @p s (@p len bytes) is a device id the gateway accepts:
 * 1..AG_ID_MAX bytes of [A-Za-z0-9._:-].
 */
int gw_device_id_valid(const char *s, size_t len);

/** @brief Metrics collector (context: the gw_devices). */
void gw_devices_collect(void *ctx, struct gw_mbuf *b);

/** @brief HTTP handler of /api/v1/devices (context: the gw_devices). */
int gw_devices_api_list(void *ctx, const char *rest, const struct gw_query *q,
			struct gw_http_reply *rep);

/** @brief HTTP handler of /api/v1/devices/{id} (context: the gw_devices). */
int gw_devices_api_one(void *ctx, const char *rest, const struct gw_query *q,
		       struct gw_http_reply *rep);

#endif /* GATEWAY_DEVICE_H */
