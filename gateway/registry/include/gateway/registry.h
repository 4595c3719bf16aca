/**
 * @file registry.h
 * @brief The device registry: every device the gateway has known, in memory
 * and persisted in SQLite (WAL), so a restart (even kill -9) loses none.
 *
 * Records live in memory for the hot path (a heartbeat updates a record and
 * marks it dirty); @ref gw_registry_flush writes dirty records in one
 * transaction. A device seen for the first time is flushed at the next
 * flush call the daemon makes (every tick), heartbeats every flush_ms.
 */
#ifndef GATEWAY_REGISTRY_H
#define GATEWAY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "agent/msg.h"

#define GW_REGISTRY_MAX 1000000 /**< devices a registry holds */
#define GW_VERSION_STR_MAX 32   /**< "255.255.65535+4294967295" and NUL */
#define GW_OTA_STATE_MAX 16

/** Connection state of a device. */
enum gw_device_state {
	GW_DEVICE_OFFLINE = 0, /**< known, no live session */
	GW_DEVICE_ONLINE = 1,  /**< session up, hello answered */
	GW_DEVICE_STATE_COUNT = 2,
};

/** A device record. Fields are public; change them only through the device layer. */
struct gw_device {
	char id[AG_ID_MAX + 1];
	char hw_id[AG_ID_MAX + 1];
	int64_t first_seen_ms, last_seen_ms; /**< Unix time, ms */
	uint8_t state;                       /**< @ref gw_device_state */
	uint8_t transport;                   /**< enum gw_transport_kind of the last link */
	uint8_t active_slot;
	uint8_t reset_reason;
	struct ag_slot_info slot[2];
	uint32_t caps;
	uint32_t boot_count, crash_count, error_count, uptime_s;
	uint64_t heartbeats, hellos, telemetry, sessions;
	char ota_state[GW_OTA_STATE_MAX]; /**< "idle" until an OTA engine sets more */
	uint32_t ota_xfer, ota_offset;
	char ota_target[GW_VERSION_STR_MAX];
	void *live;      /* private: the device layer's session, NULL when none */
	uint32_t dirty;  /* private */
	uint32_t index;  /* private: position in the registry */
};

struct gw_registry;

/**
 * @brief Opens (creating if needed) the database at @p path, in WAL mode, and
 * loads every device. Loaded devices are offline.
 * @return 0 or a negative errno (-EIO for a database error, logged).
 */
int gw_registry_open(const char *path, struct gw_registry **ret_r)
	__attribute__((warn_unused_result));

/** @brief Flushes and closes; NULL is fine. */
void gw_registry_close(struct gw_registry *r);

/** @brief The device with @p id, or NULL. */
struct gw_device *gw_registry_get(struct gw_registry *r, const char *id);

/**
 * @brief The device with @p id, created (offline, zeroed) if unknown.
 * @param[out] ret_created 1 when it was created.
 * @return the record, or NULL when the registry is full or out of memory.
 */
struct gw_device *gw_registry_upsert(struct gw_registry *r, const char *id, int *ret_created);

/** @brief Marks a device to be written at the next flush. */
void gw_registry_touch(struct gw_registry *r, struct gw_device *d);

/** @brief True when a device created since the last flush waits to be written. */
int gw_registry_has_new(const struct gw_registry *r);

/**
 * @brief Writes every dirty device in one transaction.
 * @return devices written, or -EIO (they stay dirty).
 */
int gw_registry_flush(struct gw_registry *r);

/**
 * @brief Writes at most @p max dirty devices (oldest first) in one
 * transaction, so a large fleet is persisted in slices that do not stall
 * the event loop. @return devices written, or -EIO (they stay dirty).
 */
int gw_registry_flush_max(struct gw_registry *r, size_t max);

/** @brief Devices waiting to be written. */
size_t gw_registry_dirty(const struct gw_registry *r);

/** @brief Devices in the registry. */
size_t gw_registry_count(const struct gw_registry *r);

/** @brief The @p i-th device (0 <= i < count), in creation order. */
struct gw_device *gw_registry_at(struct gw_registry *r, size_t i);

/** @brief Flushes so far and failures so far. */
void gw_registry_stats(const struct gw_registry *r, uint64_t *ret_flushes, uint64_t *ret_errors);

/** @brief Renders a version "1.2.3+45" ("0.0.0+0" for an empty slot). */
void gw_version_str(const struct ag_version *v, char out[GW_VERSION_STR_MAX]);

/** @brief "empty", "pending", "testing", "confirmed", "bad" or "unknown". */
const char *gw_slot_state_name(uint8_t state);

/** @brief "online" or "offline". */
const char *gw_device_state_name(uint8_t state);

#endif /* GATEWAY_REGISTRY_H */
